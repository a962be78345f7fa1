//! fn-canary's decisions: CodeDeploy's pre-traffic hook for fn-ingest.
//! Before any traffic moves to a new version, that version ingests a small
//! known object under the canary prefix (kept apart from the lake, the
//! index and the alerts), and its manifest must say exactly what the
//! object holds: every line counted, the good ones rows, the bad one
//! quarantined, the card number masked. The outcome goes back to CodeDeploy
//! (`PutLifecycleEventHookExecutionStatus`), which rolls the deployment
//! back on `Failed`; a hook that cannot report fails its invocation, and
//! CodeDeploy then fails the deployment on its timeout.

use std::io::Write;
use std::sync::Arc;

use loglake_core::OutputStore;
use serde_json::{Value, json};
use tracing::{error, info};

use crate::effects::{Deployments, HookTarget, Invoker};

/// The hook's event: `{"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct HookEvent {
    #[serde(rename = "DeploymentId")]
    pub deployment_id: String,
    #[serde(rename = "LifecycleEventHookExecutionId")]
    pub execution_id: String,
}

/// The hook, over its effects.
pub struct Canary {
    pub deployments: Arc<dyn Deployments>,
    pub invoker: Arc<dyn Invoker>,
    /// The raw bucket, as the canary object's `s3://` URI names it.
    pub bucket: String,
    /// Where the canary object goes in the raw bucket (`_canary/`): the
    /// store writes there.
    pub objects: Arc<dyn OutputStore>,
    /// The curated bucket (under `CURATED_PREFIX`), where fn-ingest writes
    /// the canary's manifest.
    pub lake: Arc<dyn OutputStore>,
    /// The canary prefix, as fn-ingest's `CANARY_PREFIX`.
    pub prefix: String,
}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canary")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Where canary objects go in the raw bucket unless `CANARY_PREFIX` says
/// otherwise; fn-ingest writes their outputs under the same prefix of the
/// curated bucket.
pub const DEFAULT_PREFIX: &str = "_canary/";

/// What the canary object holds, and so what its manifest must say.
const GOOD_LINES: u64 = 5;
const BAD_LINES: u64 = 1;
/// A test card number (Luhn-valid): it must not reach the lake.
const CARD: &str = "4111 1111 1111 1111";

/// The canary object: JSON lines a shop writes, one of them with a card
/// number in its message, and one line cut short.
pub fn canary_object(deployment_id: &str, now_ms: i64) -> Vec<u8> {
    let ts = loglake_core::time::format_rfc3339_ms(now_ms);
    let mut out = String::new();
    for i in 0..GOOD_LINES {
        let message = if i == 2 {
            format!("paid with {CARD}")
        } else {
            format!("canary line {i}")
        };
        out.push_str(
            &json!({
                "ts": ts, "level": "info", "service": "loglake-canary",
                "message": message, "deployment_id": deployment_id,
            })
            .to_string(),
        );
        out.push('\n');
    }
    out.push_str(r#"{"ts":"#);
    out.push('\n');
    out.into_bytes()
}

/// What the hook found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub deployment: String,
    pub function: String,
    pub version: String,
    /// `Succeeded` or `Failed`, as reported to CodeDeploy.
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Canary {
    /// Run the check for one hook event and report it. Errors only when
    /// the outcome could not be reported.
    pub async fn handle(&self, event: Value, now_ms: i64) -> Result<Value, String> {
        let e: HookEvent = serde_json::from_value(event.clone())
            .map_err(|err| format!("not a CodeDeploy lifecycle hook event ({err}): {event}"))?;
        let (target, outcome) = match self.deployments.target(&e.deployment_id).await {
            Ok(t) => {
                let outcome = self.check(&e, &t, now_ms).await;
                (t, outcome)
            }
            Err(err) => (
                HookTarget::default(),
                Err(format!("reading deployment {}: {err}", e.deployment_id)),
            ),
        };
        let ok = outcome.is_ok();
        let verdict = Verdict {
            deployment: e.deployment_id.clone(),
            function: target.function,
            version: target.version,
            status: if ok { "Succeeded" } else { "Failed" },
            reason: outcome.err(),
        };
        match &verdict.reason {
            None => info!(?verdict, "canary passed"),
            Some(reason) => error!(?verdict, reason, "canary failed"),
        }
        self.deployments
            .report(&e.deployment_id, &e.execution_id, ok)
            .await
            .map_err(|err| {
                format!(
                    "the canary {} but could not be reported to deployment {}: {err}",
                    verdict.status, e.deployment_id
                )
            })?;
        serde_json::to_value(&verdict).map_err(|e| e.to_string())
    }

    /// Put the canary object, have the new version ingest it, read its
    /// manifest and compare.
    async fn check(&self, e: &HookEvent, t: &HookTarget, now_ms: i64) -> Result<(), String> {
        let name = format!("{}.ndjson", sanitize(&e.deployment_id));
        let key = format!("{}{name}", self.prefix);
        let body = canary_object(&e.deployment_id, now_ms);
        let objects = self.objects.clone();
        let put = name.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = objects.create(&put)?;
            w.write_all(&body)?;
            w.commit()
        })
        .await
        .map_err(|_| "writing the canary object panicked".to_string())?
        .map_err(|err| format!("writing s3://{}/{key}: {err}", self.bucket))?;

        let uri = format!("s3://{}/{key}", self.bucket);
        let answer = self
            .invoker
            .invoke(&t.function, &t.version, json!({ "source_uri": uri }))
            .await
            .map_err(|err| format!("{}:{} failed on the canary: {err}", t.function, t.version))?;
        let object = &answer["objects"][0];
        let manifest_key = object["manifest"].as_str().ok_or_else(|| {
            format!(
                "{}:{} answered without the canary's manifest: {answer}",
                t.function, t.version
            )
        })?;
        let canary_lake = format!("{}_manifests/", self.prefix);
        if !manifest_key.starts_with(&canary_lake) {
            return Err(format!(
                "the canary's manifest is {manifest_key}, not under {canary_lake}: the version does not keep canary objects out of the lake"
            ));
        }
        let lake = self.lake.clone();
        let mk = manifest_key.to_string();
        let bytes = tokio::task::spawn_blocking(move || lake.get(&mk))
            .await
            .map_err(|_| "reading the manifest panicked".to_string())?
            .map_err(|err| format!("reading the canary's manifest {manifest_key}: {err}"))?
            .ok_or_else(|| format!("the canary's manifest {manifest_key} was not written"))?;
        let m: Value = serde_json::from_slice(&bytes)
            .map_err(|err| format!("the canary's manifest {manifest_key} is not JSON: {err}"))?;
        verify(&m, &uri, &self.prefix)
    }
}

/// The manifest of the canary object must account for it exactly.
pub fn verify(m: &Value, uri: &str, prefix: &str) -> Result<(), String> {
    let mut wrong = Vec::new();
    let mut want = |what: &str, got: &Value, expected: Value| {
        if *got != expected {
            wrong.push(format!("{what} {got} (expected {expected})"));
        }
    };
    want("source", &m["source"]["uri"], json!(uri));
    want("lines_in", &m["lines_in"], json!(GOOD_LINES + BAD_LINES));
    want("rows_out", &m["rows_out"], json!(GOOD_LINES));
    want("quarantined", &m["quarantined"], json!(BAD_LINES));
    want("format", &m["format"], json!("json"));
    want("outcome", &m["outcome"], json!("complete"));
    want("redacted cards", &m["redacted"]["cards"], json!(1));
    let outside: Vec<&str> = m["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["key"].as_str())
        .filter(|k| !k.starts_with(prefix))
        .collect();
    if !outside.is_empty() {
        wrong.push(format!("outputs outside {prefix}: {outside:?}"));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the canary's manifest is wrong: {}",
            wrong.join("; ")
        ))
    }
}

/// A deployment id as a key name (they are `d-XXXXXXXXX`; anything else is
/// made safe).
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The function and version an AppSpec moves traffic to: its first
/// resource's `Name` and `TargetVersion`. The deploy script writes JSON;
/// an AppSpec in YAML is refused with the reason.
pub fn appspec_target(content: &str) -> Result<HookTarget, String> {
    let v: Value = serde_json::from_str(content).map_err(|e| {
        format!("the deployment's AppSpec is not JSON ({e}); scripts/deploy-functions writes JSON")
    })?;
    let props = v["Resources"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(Value::as_object)
        .and_then(|o| o.values().next())
        .map(|r| &r["Properties"])
        .ok_or_else(|| format!("the AppSpec names no resource: {content}"))?;
    let text = |k: &str| match &props[k] {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("the AppSpec's resource has no {k}: {content}")),
    };
    Ok(HookTarget {
        function: text("Name")?,
        version: text("TargetVersion")?,
    })
}

#[cfg(test)]
mod tests;
