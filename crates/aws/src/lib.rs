//! loglake-aws: the effects of `loglake_handlers::effects` on AWS. Raw
//! objects are read from S3 as a stream ([`S3Objects`]); outputs are written
//! through core's [`OutputStore`](loglake_core::OutputStore) with multipart
//! uploads ([`S3Store`]); records are forwarded to Firehose or Kinesis
//! ([`put`]), collected events to Kinesis ([`collect`]); alert windows and state live in DynamoDB ([`dynamo`]),
//! notifications go to SNS ([`sns`]), the hourly summary files to S3
//! ([`summary`]), and documents to OpenSearch ([`opensearch`]).
//!
//! Clients are configured once from the environment: the standard
//! `AWS_ENDPOINT_URL` (and per-service `AWS_ENDPOINT_URL_S3`) point the same
//! binaries at a local emulator, where S3 switches to path-style addressing.
//!
//! May import: `loglake-core`, `loglake-handlers` (the traits it
//! implements) and the AWS SDK. No decisions: those are the handlers'.

pub mod canary;
pub mod collect;
pub mod config_object;
mod denied;
pub mod dynamo;
pub mod opensearch;
pub mod put;
mod read;
pub mod sns;
pub mod sqs;
mod store;
pub mod summary;
pub mod xray;

pub use denied::{call_error, is_denied};
pub use read::{BodyReader, S3Objects, open_object};
pub use store::S3Store;

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use loglake_handlers::alerts::{AlertConfig, AlertSink, LiveRules, RulesSpec, rules_object};
use loglake_handlers::config::ConfigError;
use loglake_handlers::search::{SearchConfig, SearchSink};
use loglake_handlers::sinks::{SinkConfig, Sinks};

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

/// The functions' logs, as Lambda's logging settings ask (the convention of
/// `lambda_runtime`'s own subscriber): JSON when `AWS_LAMBDA_LOG_FORMAT` is
/// `JSON` (Terraform's `log_format`), text otherwise; the level from
/// `AWS_LAMBDA_LOG_LEVEL` (Terraform's `application_log_level`), else
/// `RUST_LOG`, else `info`. Spans of sampled invocations also go to X-Ray
/// when Lambda names its daemon ([`xray`]). What every function installs
/// first.
pub fn init_tracing() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .filter(|l| !l.is_empty())
        // Lambda's FATAL is tracing's error.
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_string(),
            other => other.to_string(),
        });
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let logs = if json {
        fmt.json().with_current_span(true).boxed()
    } else {
        fmt.with_ansi(false).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(xray::XrayLayer::from_env())
        .try_init();
}

/// The search sink for `cfg`: an OpenSearch client signed with `aws`'s
/// credentials when SigV4 is asked for.
pub fn search_sink(
    aws: &aws_config::SdkConfig,
    cfg: SearchConfig,
) -> Result<SearchSink, ConfigError> {
    let client = opensearch::search_client(&cfg, aws)
        .map_err(|e| ConfigError::invalid("SEARCH_ENDPOINT", &cfg.endpoint, e.to_string()))?;
    Ok(SearchSink {
        sender: Arc::new(client),
        config: cfg,
    })
}

/// Settings objects (rules, formats) read with `aws`'s S3 client.
pub fn config_objects(aws: &aws_config::SdkConfig) -> Arc<config_object::S3ConfigObjects> {
    Arc::new(config_object::S3ConfigObjects {
        client: s3_client(aws),
    })
}

/// The alert sink for `cfg`: its rules (read from S3 on the first
/// refresh when they are kept there), DynamoDB tables and SNS topic.
pub fn alert_sink(aws: &aws_config::SdkConfig, cfg: AlertConfig) -> AlertSink {
    let rules = match cfg.rules {
        RulesSpec::Loaded(rules) => LiveRules::fixed("alert rules", Arc::unwrap_or_clone(rules)),
        RulesSpec::Object(object) => rules_object(object, config_objects(aws), cfg.athena_database),
    };
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    AlertSink {
        windows: cfg.windows_table.map(|table| {
            Arc::new(dynamo::DynamoWindows {
                client: ddb.clone(),
                table,
                rules: rules.clone(),
            }) as _
        }),
        state: Arc::new(dynamo::DynamoState {
            client: ddb,
            table: cfg.state_table,
        }),
        publisher: Arc::new(sns::SnsPublisher {
            client: aws_sdk_sns::Client::new(aws),
            topic_arn: cfg.topic_arn,
        }),
        rules,
    }
}

/// Every sink `cfg` turns on.
pub fn sinks(aws: &aws_config::SdkConfig, cfg: SinkConfig) -> Result<Sinks, ConfigError> {
    Ok(Sinks {
        search: cfg.search.map(|c| search_sink(aws, c)).transpose()?,
        alerts: cfg.alerts.map(|a| alert_sink(aws, a)),
    })
}
