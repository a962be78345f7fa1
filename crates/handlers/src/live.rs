//! Settings a running function holds that may change under it: the alert
//! rules (`ALERT_RULES_URI`) and the user-defined formats (`FORMATS_URI`),
//! kept in S3 objects that Terraform uploads.
//!
//! A [`Live`] value given inline or as a file is fixed for the life of the
//! process. One kept in an S3 object is read on the first invocation and
//! checked again at most every refresh interval, with a conditional read:
//! an unchanged object costs one not-modified answer. A changed object that
//! does not parse is refused with an error in the log and the value before
//! it stays in force; only a function that never had a value fails its
//! invocation.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tracing::{error, info};

pub use crate::effects::ConfigObject;
use crate::effects::{BoxFuture, ConfigFetched, ConfigReader};

/// Where a setting comes from: given at start (inline or a file), or an
/// S3 object read by a [`Live`].
#[derive(Debug, Clone)]
pub enum Spec<T> {
    Loaded(T),
    Object(ConfigObject),
}

type Parse<T> = dyn Fn(&str) -> Result<T, String> + Send + Sync;

/// The value in force, shared by every clone.
pub struct Live<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T> {
    /// What the value is, in messages ("alert rules").
    what: &'static str,
    current: RwLock<Option<Arc<T>>>,
    source: Option<Source<T>>,
    checked: tokio::sync::Mutex<Checked>,
}

struct Source<T> {
    object: ConfigObject,
    reader: Arc<dyn ConfigReader>,
    parse: Box<Parse<T>>,
}

#[derive(Default)]
struct Checked {
    etag: Option<String>,
    at: Option<Instant>,
}

impl<T> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self
            .inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        f.debug_struct("Live")
            .field("what", &self.inner.what)
            .field("loaded", &loaded)
            .field(
                "object",
                &self.inner.source.as_ref().map(|s| s.object.uri()),
            )
            .finish()
    }
}

impl<T: Default> Live<T> {
    /// A value that never changes.
    pub fn fixed(what: &'static str, value: T) -> Live<T> {
        Self::build(what, Some(Arc::new(value)), None)
    }

    /// A value read from `object` by `reader`, through `parse`, on the first
    /// [`refresh`](Self::refresh).
    pub fn object(
        what: &'static str,
        object: ConfigObject,
        reader: Arc<dyn ConfigReader>,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Live<T> {
        let source = Source {
            object,
            reader,
            parse: Box::new(parse),
        };
        Self::build(what, None, Some(source))
    }

    fn build(what: &'static str, current: Option<Arc<T>>, source: Option<Source<T>>) -> Live<T> {
        Live {
            inner: Arc::new(Inner {
                what,
                current: RwLock::new(current),
                source,
                checked: tokio::sync::Mutex::new(Checked::default()),
            }),
        }
    }

    /// The value in force: the default (no rules, no formats) before the
    /// first read of an object, which [`refresh`](Self::refresh) does
    /// before any use.
    pub fn get(&self) -> Arc<T> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.clone().unwrap_or_default()
    }

    /// Read the object when it is due: `Ok(true)` when a new value is in
    /// force. Fails only while no value was ever read.
    pub fn refresh(&self) -> BoxFuture<'_, Result<bool, String>>
    where
        T: Send + Sync,
    {
        Box::pin(async move {
            let Some(source) = &self.inner.source else {
                return Ok(false);
            };
            let what = self.inner.what;
            let mut checked = self.inner.checked.lock().await;
            let loaded = checked.etag.is_some();
            if loaded
                && checked
                    .at
                    .is_some_and(|at| at.elapsed() < source.object.refresh)
            {
                return Ok(false);
            }
            let uri = source.object.uri();
            let parsed = match source
                .reader
                .read(&source.object, checked.etag.as_deref())
                .await
            {
                Ok(ConfigFetched::Unchanged) => {
                    checked.at = Some(Instant::now());
                    return Ok(false);
                }
                Ok(ConfigFetched::Changed { etag, text }) => {
                    (source.parse)(&text).map(|v| (etag, v))
                }
                Err(e) => Err(e),
            };
            match parsed {
                Ok((etag, value)) => {
                    info!(what, %uri, %etag, "read");
                    *self
                        .inner
                        .current
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(value));
                    checked.etag = Some(etag);
                    checked.at = Some(Instant::now());
                    Ok(true)
                }
                Err(reason) if loaded => {
                    // Keep what is in force; try again after the interval.
                    error!(what, %uri, %reason, "not read again; the one before stays in force");
                    checked.at = Some(Instant::now());
                    Ok(false)
                }
                Err(reason) => Err(format!("{what} {uri}: {reason}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglake_core::sinks::alerts::Rules;
    use std::sync::Mutex;
    use std::time::Duration;

    /// An object in memory: its text and a version counter as the ETag.
    #[derive(Default)]
    struct Object {
        text: Mutex<(u32, String)>,
        fail: Mutex<Option<String>>,
        reads: Mutex<u32>,
    }

    impl ConfigReader for Object {
        fn read<'a>(
            &'a self,
            _: &'a ConfigObject,
            etag: Option<&'a str>,
        ) -> BoxFuture<'a, Result<ConfigFetched, String>> {
            Box::pin(async move {
                *self.reads.lock().unwrap() += 1;
                if let Some(e) = self.fail.lock().unwrap().clone() {
                    return Err(e);
                }
                let (version, text) = self.text.lock().unwrap().clone();
                let tag = format!("\"v{version}\"");
                Ok(if etag == Some(tag.as_str()) {
                    ConfigFetched::Unchanged
                } else {
                    ConfigFetched::Changed { etag: tag, text }
                })
            })
        }
    }

    const ONE: &str = "[[rule]]\nname = \"any-fatal\"\nkind = \"instant\"\nlevel = \"FATAL\"\n";
    const TWO: &str = "[[rule]]\nname = \"any-fatal\"\nkind = \"instant\"\nlevel = \"FATAL\"\n\n[[rule]]\nname = \"any-error\"\nkind = \"instant\"\nlevel = \"ERROR\"\n";

    fn live(object: &Arc<Object>, refresh_ms: u64) -> Live<Rules> {
        let uri = ConfigObject::parse(
            "s3://config/_config/alerts.toml",
            Duration::from_millis(refresh_ms),
        )
        .unwrap();
        Live::object("alert rules", uri, object.clone(), |text| {
            Rules::parse(text).map_err(|e| e.to_string())
        })
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
    async fn a_bad_change_keeps_the_value_in_force_and_a_first_failure_fails() {
        let object = Arc::new(Object::default());
        *object.fail.lock().unwrap() = Some("AccessDenied: s3:GetObject".into());
        let rules = live(&object, 0);
        let err = rules.refresh().await.unwrap_err();
        assert!(
            err.contains("alert rules s3://config/_config/alerts.toml")
                && err.contains("AccessDenied"),
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

        let fixed = Live::fixed("alert rules", Rules::parse(TWO).unwrap());
        assert!(!fixed.refresh().await.unwrap());
        assert_eq!(fixed.get().rules.len(), 2);
    }

    #[test]
    fn addresses() {
        let o = ConfigObject::parse("s3://b/k/alerts.toml", Duration::ZERO).unwrap();
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("b", "k/alerts.toml"));
        assert_eq!(o.uri(), "s3://b/k/alerts.toml");
        for bad in ["b/k", "s3://b", "s3://b/", "s3:///k"] {
            assert!(ConfigObject::parse(bad, Duration::ZERO).is_err(), "{bad}");
        }
    }
}
