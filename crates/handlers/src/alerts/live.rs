//! The alert rules a running function holds, and re-reading them when they
//! change.
//!
//! Rules given inline or as a file (`ALERT_RULES`, `ALERT_RULES_FILE`) are
//! fixed for the life of the process. Rules kept in an S3 object
//! (`ALERT_RULES_URI`, which Terraform uploads) are read on the first
//! invocation and checked again at most every `ALERT_RULES_REFRESH_S`
//! seconds, with a conditional read: an unchanged object costs one
//! not-modified answer. A changed object that does not parse is refused
//! with an error in the log and the rules before it stay in force; only a
//! function that never had rules fails its invocation.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use loglake_core::sinks::alerts::Rules;
use tracing::{error, info};

use crate::effects::{BoxFuture, RulesFetched, RulesReader};

/// An S3 object holding a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesObject {
    pub bucket: String,
    pub key: String,
    /// How long rules are used before the object is checked again.
    pub refresh: Duration,
}

impl RulesObject {
    /// `s3://bucket/key`.
    pub fn parse(uri: &str, refresh: Duration) -> Result<RulesObject, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or("is not an s3://bucket/key address")?;
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(RulesObject {
                bucket: bucket.into(),
                key: key.into(),
                refresh,
            }),
            _ => Err("is not an s3://bucket/key address".into()),
        }
    }

    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The rules in force, shared by every clone.
#[derive(Clone)]
pub struct LiveRules {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Option<Arc<Rules>>>,
    source: Option<(RulesObject, Arc<dyn RulesReader>)>,
    /// Applied to every version read (`ALERT_ATHENA_DATABASE`).
    athena_database: Option<String>,
    checked: tokio::sync::Mutex<Checked>,
}

#[derive(Default)]
struct Checked {
    etag: Option<String>,
    at: Option<Instant>,
}

impl std::fmt::Debug for LiveRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRules")
            .field("rules", &self.get().rules.len())
            .field("object", &self.inner.source.as_ref().map(|(o, _)| o.uri()))
            .finish()
    }
}

impl LiveRules {
    /// Rules that never change.
    pub fn fixed(rules: Rules) -> LiveRules {
        Self::build(Some(Arc::new(rules)), None, None)
    }

    /// Rules read from `object` by `reader` on the first [`refresh`](Self::refresh).
    pub fn object(
        object: RulesObject,
        reader: Arc<dyn RulesReader>,
        athena_database: Option<String>,
    ) -> LiveRules {
        Self::build(None, Some((object, reader)), athena_database)
    }

    fn build(
        current: Option<Arc<Rules>>,
        source: Option<(RulesObject, Arc<dyn RulesReader>)>,
        athena_database: Option<String>,
    ) -> LiveRules {
        LiveRules {
            inner: Arc::new(Inner {
                current: RwLock::new(current),
                source,
                athena_database,
                checked: tokio::sync::Mutex::new(Checked::default()),
            }),
        }
    }

    /// The rules in force: none (an empty set) before the first read of an
    /// object, which [`refresh`](Self::refresh) does before any use.
    pub fn get(&self) -> Arc<Rules> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.clone().unwrap_or_default()
    }

    /// Read the object when it is due: `Ok(true)` when new rules are in
    /// force. Fails only while no rules were ever read.
    pub fn refresh(&self) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move {
            let Some((object, reader)) = &self.inner.source else {
                return Ok(false);
            };
            let mut checked = self.inner.checked.lock().await;
            let loaded = checked.etag.is_some();
            if loaded && checked.at.is_some_and(|at| at.elapsed() < object.refresh) {
                return Ok(false);
            }
            let uri = object.uri();
            let fetched = reader.read(object, checked.etag.as_deref()).await;
            let parsed = match fetched {
                Ok(RulesFetched::Unchanged) => {
                    checked.at = Some(Instant::now());
                    return Ok(false);
                }
                Ok(RulesFetched::Changed { etag, text }) => Rules::parse(&text)
                    .map(|r| (etag, r))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match parsed {
                Ok((etag, mut rules)) => {
                    if let Some(db) = &self.inner.athena_database {
                        rules.settings.athena_database = db.clone();
                    }
                    info!(rules = rules.rules.len(), %uri, %etag, "alert rules read");
                    *self
                        .inner
                        .current
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(rules));
                    checked.etag = Some(etag);
                    checked.at = Some(Instant::now());
                    Ok(true)
                }
                Err(reason) if loaded => {
                    // Keep what is in force; try again after the interval.
                    error!(%uri, %reason, "alert rules not re-read; the rules before stay in force");
                    checked.at = Some(Instant::now());
                    Ok(false)
                }
                Err(reason) => Err(format!("alert rules {uri}: {reason}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An object in memory: its text and a version counter as the ETag.
    #[derive(Default)]
    struct Object {
        text: Mutex<(u32, String)>,
        fail: Mutex<Option<String>>,
        reads: Mutex<u32>,
    }

    impl RulesReader for Object {
        fn read<'a>(
            &'a self,
            _: &'a RulesObject,
            etag: Option<&'a str>,
        ) -> BoxFuture<'a, Result<RulesFetched, String>> {
            Box::pin(async move {
                *self.reads.lock().unwrap() += 1;
                if let Some(e) = self.fail.lock().unwrap().clone() {
                    return Err(e);
                }
                let (version, text) = self.text.lock().unwrap().clone();
                let tag = format!("\"v{version}\"");
                Ok(if etag == Some(tag.as_str()) {
                    RulesFetched::Unchanged
                } else {
                    RulesFetched::Changed { etag: tag, text }
                })
            })
        }
    }

    const ONE: &str = "[[rule]]\nname = \"any-fatal\"\nkind = \"instant\"\nlevel = \"FATAL\"\n";
    const TWO: &str = "[[rule]]\nname = \"any-fatal\"\nkind = \"instant\"\nlevel = \"FATAL\"\n\n[[rule]]\nname = \"any-error\"\nkind = \"instant\"\nlevel = \"ERROR\"\n";

    fn live(object: &Arc<Object>, refresh_ms: u64) -> LiveRules {
        let uri = RulesObject::parse(
            "s3://config/_config/alerts.toml",
            Duration::from_millis(refresh_ms),
        )
        .unwrap();
        LiveRules::object(uri, object.clone(), Some("shop_logs".into()))
    }

    #[tokio::test]
    async fn reads_once_then_only_when_due_and_changed() {
        let object = Arc::new(Object::default());
        *object.text.lock().unwrap() = (1, ONE.into());
        let rules = live(&object, 0);
        assert!(
            rules.get().rules.is_empty(),
            "nothing before the first read"
        );
        assert!(rules.refresh().await.unwrap());
        assert_eq!(rules.get().rules.len(), 1);
        assert_eq!(rules.get().settings.athena_database, "shop_logs");
        assert!(!rules.refresh().await.unwrap(), "unchanged: not modified");
        *object.text.lock().unwrap() = (2, TWO.into());
        assert!(rules.refresh().await.unwrap());
        assert_eq!(rules.get().rules.len(), 2);

        // Not due: the object is not read at all.
        let slow = live(&object, 60_000);
        slow.refresh().await.unwrap();
        let reads = *object.reads.lock().unwrap();
        assert!(!slow.refresh().await.unwrap());
        assert_eq!(*object.reads.lock().unwrap(), reads);
    }

    #[tokio::test]
    async fn a_bad_change_keeps_the_rules_in_force_and_a_first_failure_fails() {
        let object = Arc::new(Object::default());
        *object.fail.lock().unwrap() = Some("AccessDenied: s3:GetObject".into());
        let rules = live(&object, 0);
        let err = rules.refresh().await.unwrap_err();
        assert!(
            err.contains("s3://config/_config/alerts.toml") && err.contains("AccessDenied"),
            "{err}"
        );

        *object.fail.lock().unwrap() = None;
        *object.text.lock().unwrap() = (1, ONE.into());
        assert!(rules.refresh().await.unwrap());
        *object.text.lock().unwrap() = (2, "[[rule]]\nname = 3\n".into());
        assert!(!rules.refresh().await.unwrap(), "refused, not failed");
        assert_eq!(rules.get().rules.len(), 1, "the rules before stay");
        *object.fail.lock().unwrap() = Some("throttled".into());
        assert!(!rules.refresh().await.unwrap());
        assert_eq!(rules.get().rules.len(), 1);
    }

    #[test]
    fn addresses() {
        let o = RulesObject::parse("s3://b/k/alerts.toml", Duration::ZERO).unwrap();
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("b", "k/alerts.toml"));
        assert_eq!(o.uri(), "s3://b/k/alerts.toml");
        for bad in ["b/k", "s3://b", "s3://b/", "s3:///k"] {
            assert!(RulesObject::parse(bad, Duration::ZERO).is_err(), "{bad}");
        }
    }
}
