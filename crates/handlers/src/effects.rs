//! The effects the functions have on the world, one small trait each: read
//! an object, forward records, send a bulk body, store alert windows, move
//! alert state, publish a notification, send a continuation, write a
//! summary file, keep collected events, read a settings object. (Writing
//! outputs is core's
//! [`OutputStore`](loglake_core::OutputStore).) `loglake-aws` implements
//! them over the AWS SDK; tests implement them in memory and inject any
//! error, delay or partial answer.
//!
//! The traits are object-safe (`Arc<dyn ...>`), so a handler is built from
//! whichever implementations the caller has: their futures are boxed, which
//! costs nothing that matters at one call per object, batch or request.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::time::Duration;

use loglake_core::sinks::alerts::{
    Contribution, GroupKey, Notification, Rule, Transition, WindowSums,
};
use loglake_core::triggers::objects::ObjectRef;

use bytes::Bytes;

/// A boxed, sendable future: what every effect returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An object being read: the metadata its identity needs, and its body as a
/// blocking stream (read it from a blocking thread).
pub struct Opened {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub last_modified_ms: Option<i64>,
    pub size: Option<u64>,
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("etag", &self.etag)
            .field("version_id", &self.version_id)
            .field("size", &self.size)
            .finish()
    }
}

/// Why an object could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The object is gone (deleted before we got to it): skip, do not retry.
    #[error("s3://{bucket}/{key} does not exist")]
    NotFound { bucket: String, key: String },
    /// The key holds another object than the event describes (overwritten
    /// since, in a bucket without versions): that upload can no longer be
    /// read, and the newer one has an event of its own. Skip, do not retry.
    #[error("s3://{bucket}/{key} was overwritten since the event (etag {etag} is gone)")]
    Superseded {
        bucket: String,
        key: String,
        etag: String,
    },
    /// Anything else (access denied, throttling, network): retry later.
    #[error("cannot get s3://{bucket}/{key}: {message}")]
    Failed {
        bucket: String,
        key: String,
        message: String,
    },
}

/// Reading raw objects (S3 `GetObject`), streamed.
pub trait ObjectReader: Send + Sync {
    /// Returns as soon as the headers are in; the body streams. Reads the
    /// object the event describes: its version when it names one, else
    /// only while its ETag still matches (`If-Match`), or
    /// [`ReadError::Superseded`].
    fn open<'a>(&'a self, obj: &'a ObjectRef) -> BoxFuture<'a, Result<Opened, ReadError>>;
}

/// One batch put of records (Firehose `PutRecordBatch`, Kinesis
/// `PutRecords`): per record, `None` if delivered or the error. An `Err` is
/// the whole call failing (throttled, 5xx, network).
pub trait Forwarder: Send + Sync {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>>;
}

/// One collected event, ready for an [`EventSink`]: its id, its time and
/// its line of normalized NDJSON (made by the collector, `crate::collect`).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub event_id: String,
    pub ts_ms: i64,
    /// One line of normalized NDJSON, newline included.
    pub line: Vec<u8>,
}

/// Where the HTTP collector hands its events: a
/// Kinesis stream in AWS, the local lake for `loglake serve --lake`
/// (the collector, `crate::collect`, is what calls it).
pub trait EventSink: Send + Sync {
    /// Keep every event durably, or fail as a whole: `Ok` only when all of
    /// them are kept (the collector then answers 202). Retries are the
    /// sink's, within its own deadline.
    fn put<'a>(&'a self, events: &'a [Accepted]) -> BoxFuture<'a, Result<(), String>>;

    /// Whether the sink can take events now (the health check).
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// What it is, for `/healthz`: `kinesis:NAME`, `lake:DIR`.
    fn name(&self) -> String;

    /// Figures of its own for `/healthz` (the local lake's batches).
    fn stats(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Sending one `_bulk` body to the search cluster.
pub trait BulkSend: Send + Sync {
    fn send_bulk(&self, body: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>>;
}

/// The queue a function reads: a message sent to it is a continuation of
/// work that did not fit one invocation (an object resumed from its
/// checkpoint).
pub trait Requeue: Send + Sync {
    fn send<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// An S3 object holding a settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    pub bucket: String,
    pub key: String,
    /// How long a value is used before the object is checked again.
    pub refresh: Duration,
}

impl ConfigObject {
    /// `s3://bucket/key`.
    pub fn parse(uri: &str, refresh: Duration) -> Result<ConfigObject, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or("is not an s3://bucket/key address")?;
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(ConfigObject {
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

/// What reading a settings object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFetched {
    /// The object still has the ETag the caller holds.
    Unchanged,
    Changed {
        etag: String,
        text: String,
    },
}

/// The objects settings are kept in (`crate::live`): the alert rules, the
/// user-defined formats.
pub trait ConfigReader: Send + Sync {
    /// The object, unless its ETag is still `etag` (a conditional read).
    /// The error names what failed (access denied, no such key).
    fn read<'a>(
        &'a self,
        object: &'a ConfigObject,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ConfigFetched, String>>;
}

/// The alert windows table: one item per (minute, source).
pub trait WindowStore: Send + Sync {
    /// Write one source's contributions under its id, replacing what an
    /// earlier delivery of it wrote; returns the items written.
    fn put<'a>(
        &'a self,
        source_id: &'a str,
        contributions: &'a [Contribution],
    ) -> BoxFuture<'a, Result<u64, AlertError>>;

    /// The summed contributions of `minutes`, from every source.
    fn load<'a>(&'a self, minutes: &'a [i64]) -> BoxFuture<'a, Result<WindowSums, AlertError>>;

    /// The last hour (UTC ms, aligned) whose summary was written, if any
    /// (fn-alerts' materialiser, [`crate::alerts::summary`]). The writers
    /// never call this nor the three below: their defaults refuse.
    fn summary_progress(&self) -> BoxFuture<'_, Result<Option<i64>, AlertError>> {
        Box::pin(async { Err(AlertError::NotConfigured("the summary's progress")) })
    }

    /// Record that every hour up to `hour_ms` has its summary.
    fn set_summary_progress(&self, hour_ms: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        let _ = hour_ms;
        Box::pin(async { Err(AlertError::NotConfigured("the summary's progress")) })
    }

    /// The late markers: (hour, `at`) for each hour a writer added to after
    /// it closed (see `loglake_aws::dynamo`), the hour's summary to rebuild.
    fn late_hours(&self) -> BoxFuture<'_, Result<Vec<(i64, i64)>, AlertError>> {
        Box::pin(async { Err(AlertError::NotConfigured("the summary's late markers")) })
    }

    /// Remove the late marker of `hour_ms` if it still says `at`: a marker
    /// a writer refreshed since (a newer `at`) stays, and is not an error.
    fn clear_late(&self, hour_ms: i64, at: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        let _ = (hour_ms, at);
        Box::pin(async { Err(AlertError::NotConfigured("the summary's late markers")) })
    }
}

/// Where the hourly summary files go (S3 `PutObject` into the curated
/// bucket): `key` relative to the bucket, the whole body at once (a file of
/// an hour is a few KB).
pub trait SummaryStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>>;
}

/// A state change whose notification is not confirmed sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub rule: String,
    pub group: GroupKey,
    pub to: Transition,
    pub at_ms: i64,
}

/// The alert state table: one state per (rule, group), and the claims that
/// send an instant alert once per (rule, group, minute).
///
/// A transition is conditional on the state and on time: it is refused when
/// the (rule, group) was changed by an evaluation of a later moment, so a
/// late run can never undo what a newer one decided. It stays pending until
/// its notification is confirmed sent ([`StateStore::confirm`]).
pub trait StateStore: Send + Sync {
    /// Move (rule, group) to `to` as of `now_ms`. True when this call made
    /// the transition (and so must notify); false when it was already
    /// there, a firing falls within the rule's cooldown after the last
    /// resolution, or a later evaluation changed it.
    fn transition<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>>;

    /// Undo a transition made at `at_ms` whose notification was not sent.
    fn undo<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>>;

    /// The notification of a transition made at `at_ms` was sent: it is no
    /// longer pending.
    fn confirm<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>>;

    /// Transitions made before `before_ms` whose notification was never
    /// confirmed (the run that made them stopped in between): each with
    /// the rule, group, direction and when it was made. The outbox.
    fn unannounced(&self, before_ms: i64) -> BoxFuture<'_, Result<Vec<Pending>, AlertError>>;

    /// Every (rule, group) currently firing.
    fn firing(&self) -> BoxFuture<'_, Result<Vec<(String, GroupKey)>, AlertError>>;

    /// Claim the one notification of an instant rule for (group, minute);
    /// true when this call claimed it.
    fn claim_instant<'a>(
        &'a self,
        rule: &'a str,
        group: &'a str,
        minute_ms: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>>;

    /// Give back a claim whose notification could not be sent.
    fn release_instant<'a>(
        &'a self,
        rule: &'a str,
        group: &'a str,
        minute_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>>;
}

/// Sending a notification (SNS).
pub trait Publisher: Send + Sync {
    fn publish<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), AlertError>>;
}

/// Why an alert store or publisher call failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("dynamodb:{op} on table {table}: {message}")]
    Dynamo {
        op: &'static str,
        table: String,
        message: String,
    },
    #[error("SNS publish to {topic}: {message}")]
    Publish { topic: String, message: String },
    #[error("a window item in {table} is unreadable: {message}")]
    Corrupt { table: String, message: String },
    #[error("alerts need {0}, which is not configured")]
    NotConfigured(&'static str),
    /// Writing or building an hour's summary file.
    #[error("summary {key}: {message}")]
    Summary { key: String, message: String },
}

/// Why a bulk request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid search endpoint {0:?}: {1}")]
    Endpoint(String, String),
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: no answer within {timeout:?}")]
    Timeout {
        method: String,
        url: String,
        timeout: Duration,
    },
    #[error("signing the request: {0}")]
    Signing(String),
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body, shortened for an error message.
    pub fn excerpt(&self) -> String {
        let s = String::from_utf8_lossy(&self.body);
        let s = s.trim();
        match s.char_indices().nth(300) {
            Some((i, _)) => format!("{}...", &s[..i]),
            None => s.to_string(),
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The new version a CodeDeploy deployment moves traffic to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookTarget {
    pub function: String,
    pub version: String,
}

/// A CodeDeploy deployment, as its pre-traffic hook sees it.
pub trait Deployments: Send + Sync {
    /// The function and version the deployment moves traffic to.
    fn target<'a>(&'a self, deployment_id: &'a str) -> BoxFuture<'a, Result<HookTarget, String>>;
    /// The hook's outcome: `Succeeded`, or `Failed` (CodeDeploy rolls back).
    fn report<'a>(
        &'a self,
        deployment_id: &'a str,
        execution_id: &'a str,
        succeeded: bool,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// One version of a function, invoked with a payload; its answer, or why
/// it failed (a function error included).
pub trait Invoker: Send + Sync {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        qualifier: &'a str,
        payload: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, String>>;
}
