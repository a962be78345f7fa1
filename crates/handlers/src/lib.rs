//! loglake-handlers: what the functions decide, over effect traits.
//!
//! Every decision of fn-ingest ([`ingest`]), fn-stream ([`stream`]),
//! fn-collect ([`collect`], also `loglake serve`),
//! fn-alerts ([`alerts::evaluate`]) and fn-canary ([`canary`]) lives here, written against the small
//! traits in [`effects`] rather than SDK clients, so each failure mode can
//! be tested with an in-memory fake that injects it. The function crates
//! only read their settings, build the AWS implementations (`loglake-aws`)
//! and call in; the CLI runs the same search session and alert logic.
//!
//! May import: `loglake-core`, and runtime crates (tokio). Never the AWS
//! SDK: that is `loglake-aws`, which implements [`effects`].

pub mod alerts;
pub mod canary;
pub mod collect;
pub mod config;
pub mod effects;
pub mod forward;
pub mod freshness;
pub mod ingest;
pub mod live;
pub mod retry;
pub mod search;
pub mod sinks;
pub mod stream;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The Lambda deadline (epoch milliseconds) as an `Instant`, keeping a
/// margin to answer in.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = u64::try_from(now_ms()).unwrap_or(0);
    let left = deadline_ms.saturating_sub(now_ms).saturating_sub(2_000);
    Instant::now() + Duration::from_millis(left)
}
