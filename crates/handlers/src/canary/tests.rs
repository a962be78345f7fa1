//! The hook over in-memory effects: what it reports for a version that
//! keeps the canary apart and counts it exactly, and for every way a
//! version can fail it.

use std::sync::Mutex;

use loglake_core::MemoryStore;

use super::*;
use crate::effects::BoxFuture;

#[derive(Default)]
struct Deploy {
    fail_target: bool,
    fail_report: bool,
    reports: Mutex<Vec<(String, String, bool)>>,
}

impl Deployments for Deploy {
    fn target<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<HookTarget, String>> {
        Box::pin(async move {
            if self.fail_target {
                return Err(format!("access denied: codedeploy:GetDeployment on {id}"));
            }
            Ok(HookTarget {
                function: "shop-fn-ingest".into(),
                version: "7".into(),
            })
        })
    }

    fn report<'a>(
        &'a self,
        id: &'a str,
        execution: &'a str,
        ok: bool,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if self.fail_report {
                return Err("throttled".into());
            }
            self.reports
                .lock()
                .unwrap()
                .push((id.to_string(), execution.to_string(), ok));
            Ok(())
        })
    }
}

/// A version that answers `answer`, writing `manifest` (if any) where it says.
struct Version {
    lake: Arc<MemoryStore>,
    manifest: Option<Value>,
    error: Option<String>,
    key: &'static str,
}

impl Invoker for Version {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        qualifier: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            assert_eq!((function, qualifier), ("shop-fn-ingest", "7"));
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            if let Some(m) = &self.manifest {
                let mut m = m.clone();
                m["source"]["uri"] = payload["source_uri"].clone();
                let mut w = self.lake.create(self.key).unwrap();
                w.write_all(m.to_string().as_bytes()).unwrap();
                w.commit().unwrap();
            }
            Ok(json!({"objects": [{"rows_out": 5, "manifest": self.key}]}))
        })
    }
}

fn good_manifest() -> Value {
    json!({
        "lines_in": 6, "rows_out": 5, "quarantined": 1, "format": "json",
        "outcome": "complete", "redacted": {"cards": 1, "emails": 0},
        "outputs": [{"key": "_canary/logs/dt=2026-12-03/hr=10/x.parquet"},
                    {"key": "_canary/quarantine/dt=2026-12-03/x.ndjson.gz"}],
    })
}

fn canary(deploy: Arc<Deploy>, version: Version) -> (Canary, Arc<MemoryStore>) {
    let objects = Arc::new(MemoryStore::default());
    let c = Canary {
        deployments: deploy,
        invoker: Arc::new(Version { ..version }),
        bucket: "shop-raw".into(),
        objects: objects.clone(),
        lake: Arc::new(MemoryStore::default()),
        prefix: "_canary/".into(),
    };
    (c, objects)
}

const EVENT: &str = r#"{"DeploymentId":"d-ABCDEF123","LifecycleEventHookExecutionId":"exec-1"}"#;

async fn run(
    deploy: Arc<Deploy>,
    manifest: Option<Value>,
    key: &'static str,
    error: Option<&str>,
) -> (Result<Value, String>, Vec<(String, String, bool)>) {
    let lake = Arc::new(MemoryStore::default());
    let version = Version {
        lake: lake.clone(),
        manifest,
        error: error.map(String::from),
        key,
    };
    let (mut c, objects) = canary(deploy.clone(), version);
    c.lake = lake;
    let out = c
        .handle(serde_json::from_str(EVENT).unwrap(), 1_764_756_000_000)
        .await;
    if out.as_ref().is_ok_and(|v| v["status"] == "Succeeded") {
        let put = objects.get("d-ABCDEF123.ndjson").unwrap().unwrap();
        assert_eq!(put, canary_object("d-ABCDEF123", 1_764_756_000_000));
    }
    let reports = deploy.reports.lock().unwrap().clone();
    (out, reports)
}

#[tokio::test]
async fn a_version_that_counts_the_canary_exactly_passes() {
    let d = Arc::new(Deploy::default());
    let (out, reports) = run(d, Some(good_manifest()), "_canary/_manifests/d.json", None).await;
    let v = out.unwrap();
    assert_eq!(v["status"], "Succeeded", "{v}");
    assert_eq!(v["version"], "7");
    assert_eq!(reports, [("d-ABCDEF123".into(), "exec-1".into(), true)]);
}

#[tokio::test]
async fn every_way_a_version_can_fail_is_reported_failed() {
    let mut bad_count = good_manifest();
    bad_count["rows_out"] = json!(4);
    let mut leaked = good_manifest();
    leaked["redacted"]["cards"] = json!(0);
    let mut in_lake = good_manifest();
    in_lake["outputs"] = json!([{"key": "logs/dt=2026-12-03/hr=10/x.parquet"}]);
    let cases: [(Option<Value>, &'static str, Option<&str>, &str); 6] = [
        (
            Some(bad_count),
            "_canary/_manifests/d.json",
            None,
            "rows_out 4 (expected 5)",
        ),
        (
            Some(leaked),
            "_canary/_manifests/d.json",
            None,
            "redacted cards 0 (expected 1)",
        ),
        (
            Some(in_lake),
            "_canary/_manifests/d.json",
            None,
            "outputs outside _canary/",
        ),
        (
            Some(good_manifest()),
            "_manifests/d.json",
            None,
            "does not keep canary objects out of the lake",
        ),
        (None, "_canary/_manifests/d.json", None, "was not written"),
        (
            None,
            "_canary/_manifests/d.json",
            Some("Unhandled: panicked"),
            "failed on the canary: Unhandled",
        ),
    ];
    for (manifest, key, error, why) in cases {
        let d = Arc::new(Deploy::default());
        let (out, reports) = run(d, manifest, key, error).await;
        let v = out.unwrap();
        assert_eq!(v["status"], "Failed", "{why}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(why), "{why}: {v}");
        assert_eq!(
            reports,
            [("d-ABCDEF123".into(), "exec-1".into(), false)],
            "{why}"
        );
    }
}

#[tokio::test]
async fn what_cannot_be_read_or_reported() {
    // The deployment cannot be read: reported failed, never passed.
    let d = Arc::new(Deploy {
        fail_target: true,
        ..Deploy::default()
    });
    let (out, reports) = run(d, None, "k", None).await;
    assert!(
        out.unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("codedeploy:GetDeployment")
    );
    assert!(!reports[0].2);
    // A verdict that cannot be reported fails the invocation.
    let d = Arc::new(Deploy {
        fail_report: true,
        ..Deploy::default()
    });
    let (out, _) = run(d, Some(good_manifest()), "_canary/_manifests/d.json", None).await;
    assert!(out.unwrap_err().contains("could not be reported"));
    // Not a hook event at all.
    let (c, _) = canary(
        Arc::new(Deploy::default()),
        Version {
            lake: Arc::new(MemoryStore::default()),
            manifest: None,
            error: None,
            key: "k",
        },
    );
    assert!(
        c.handle(json!({"Records": []}), 0)
            .await
            .unwrap_err()
            .contains("not a CodeDeploy lifecycle hook event")
    );
}

#[test]
fn appspec_targets() {
    let spec = r#"{"version":0.0,"Resources":[{"shop-fn-ingest":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop-fn-ingest","Alias":"live","CurrentVersion":"6","TargetVersion":"7"}}}],"Hooks":[{"BeforeAllowTraffic":"shop-fn-canary"}]}"#;
    assert_eq!(
        appspec_target(spec).unwrap(),
        HookTarget {
            function: "shop-fn-ingest".into(),
            version: "7".into()
        }
    );
    assert!(
        appspec_target("version: 0.0\nResources: []")
            .unwrap_err()
            .contains("not JSON")
    );
    assert!(
        appspec_target(r#"{"Resources":[]}"#)
            .unwrap_err()
            .contains("names no resource")
    );
}

#[test]
fn the_canary_object() {
    let text = String::from_utf8(canary_object("d-1", 1_764_756_000_000)).unwrap();
    assert_eq!(text.lines().count(), 6);
    assert!(text.contains("4111 1111 1111 1111"));
    assert!(text.lines().all(|l| l.contains("d-1") || l == r#"{"ts":"#));
}
