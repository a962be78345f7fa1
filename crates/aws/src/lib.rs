//! loglake-aws: the AWS side of the effects core defines. S3 objects are
//! read as a stream into core's decoder and written through core's
//! [`OutputStore`](loglake_core::OutputStore) trait with multipart uploads.
//!
//! Clients are configured once from the environment: the standard
//! `AWS_ENDPOINT_URL` (and per-service `AWS_ENDPOINT_URL_S3`) point the same
//! binaries at a local emulator, where S3 switches to path-style addressing.

pub mod alerts;
pub mod put;
mod read;
pub mod search;
mod store;

pub use read::{BodyReader, OpenedObject, ReadError, open_object};
pub use store::S3Store;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

/// Whether an endpoint override is set for S3: then buckets are addressed by
/// path, as local emulators expect, not by virtual host.
fn s3_endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
}

/// The shared AWS configuration, loaded once at start-up: region and
/// credentials from the environment, retries with backoff for throttling
/// (SlowDown, 503) and transient errors.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

/// An S3 client for `config`, path-style when an endpoint override is set.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(s3_endpoint_overridden())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`): what
/// every function installs first.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The Lambda deadline as an `Instant`, keeping a margin to answer in.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = u64::try_from(now_ms()).unwrap_or(0);
    let left = deadline_ms.saturating_sub(now_ms).saturating_sub(2_000);
    Instant::now() + std::time::Duration::from_millis(left)
}
