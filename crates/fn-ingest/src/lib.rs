//! fn-ingest: S3 objects into the lake. This crate reads the settings and
//! builds the AWS clients once; what happens to each event is
//! [`loglake_handlers::ingest`].

use std::sync::Arc;

use loglake_aws::{S3Objects, S3Store};
use loglake_core::Format;
use loglake_core::ingest::format::custom::Formats;
use loglake_core::ingest::format::stamp::Zone;
use loglake_core::ingest::options::{MAX_LINE_BYTES_RANGE, MEMORY_BUDGET_MB_RANGE};
use loglake_core::redact::RedactOptions;
use loglake_handlers::config::{ConfigError, Vars, formats, formats_object, multiline_limits};
use loglake_handlers::ingest::{FORWARDED_PREFIX, Ingest, IngestSettings};
use loglake_handlers::live::{ConfigObject, Live, Spec};
use loglake_handlers::sinks::SinkConfig;
use tokio::runtime::Handle;

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CURATED_BUCKET`: where the lake is written.
    pub curated_bucket: String,
    /// `CURATED_PREFIX`: a prefix inside it (default none): `logs/`,
    /// `quarantine/` and `_manifests/` go below it.
    pub curated_prefix: String,
    /// `FORMAT_BY_PREFIX` (`alb/=alb,s3://trails/AWSLogs/=cloudtrail`: the
    /// format of objects under a key prefix, or under a prefix of one
    /// bucket, instead of sniffing), `SERVICE_FROM_KEY`
    /// (default true), `MEMORY_BUDGET_MB` (default 64), `MAX_LINE_BYTES`
    /// (default 1048576), `REDACT` (default `cards,emails,secrets`), `TIMEZONE` (of text
    /// times written without one; default UTC), `MULTILINE_MAX_LINES`
    /// (default 500; 1 turns multiline events off) and
    /// `MULTILINE_MAX_BYTES` (default 262144), `FORWARDED_PREFIX` (where
    /// Firehose delivers fn-stream's records; default `firehose/`),
    /// `FORMATS`, `FORMATS_FILE` or `FORMATS_URI` (user-defined formats, a
    /// formats.toml inline, in a file, or in S3 and re-read when it changes),
    /// `MESSAGE_CONCURRENCY` (SQS messages handled at once; default 2),
    /// `SEGMENT_MB` (decoded MiB after which an object may pause and
    /// continue in another invocation; default 512).
    pub ingest: IngestSettings,
    /// `INGEST_QUEUE_URL`: the queue this function reads, where an object
    /// that paused continues (unset: its message is redelivered after the
    /// visibility timeout instead).
    pub ingest_queue_url: Option<String>,
    /// `FORMATS_URI`: the formats' S3 object, read by the function (the
    /// formats in `ingest` are then none until the first invocation).
    pub formats: Option<ConfigObject>,
    /// The search index and the alerts (`SEARCH_*`, `ALERT_*`).
    pub sinks: SinkConfig,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(Vars::new(&loglake_handlers::config::env))
    }

    pub fn from_vars(vars: Vars<'_>) -> Result<Config, ConfigError> {
        let curated_bucket = vars.require("CURATED_BUCKET")?;
        let format_by_prefix = vars
            .parse_with("FORMAT_BY_PREFIX", parse_format_by_prefix)?
            .unwrap_or_default();
        let (loaded_formats, formats) = match formats(vars)? {
            Spec::Loaded(f) => (f, None),
            Spec::Object(object) => (Formats::default(), Some(object)),
        };
        let ingest = IngestSettings {
            format_by_prefix,
            service_from_key: vars.flag("SERVICE_FROM_KEY", true)?,
            memory_budget_mb: vars.number("MEMORY_BUDGET_MB", 64, MEMORY_BUDGET_MB_RANGE)?,
            max_line_bytes: vars.number("MAX_LINE_BYTES", 1 << 20, MAX_LINE_BYTES_RANGE)?,
            redact: vars
                .parse_with("REDACT", RedactOptions::parse)?
                .unwrap_or_default(),
            timezone: vars
                .parse_with("TIMEZONE", |z| z.parse::<Zone>())?
                .unwrap_or_default(),
            multiline: multiline_limits(vars)?,
            forwarded_prefix: Some(
                vars.get("FORWARDED_PREFIX")
                    .unwrap_or_else(|| FORWARDED_PREFIX.to_string()),
            ),
            canary_prefix: Some(
                vars.parse_with("CANARY_PREFIX", loglake_handlers::config::canary_prefix)?
                    .unwrap_or_else(|| loglake_handlers::canary::DEFAULT_PREFIX.to_string()),
            ),
            // Kept in S3 (FORMATS_URI): none until `app`'s client reads them.
            formats: Live::fixed("formats", loaded_formats),
            message_concurrency: vars.number("MESSAGE_CONCURRENCY", 2, 1..=10)?,
            segment_bytes: vars.number::<u64>("SEGMENT_MB", 512, 1..=1 << 20)? << 20,
            // Set by Lambda: the metrics carry the deployed name, which the
            // alarms know.
            function_name: vars
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "fn-ingest".into()),
        };
        let sinks = SinkConfig::from_vars(vars)?;
        if sinks
            .alerts
            .as_ref()
            .is_some_and(|a| a.windows_table.is_none())
        {
            return Err(ConfigError::missing(
                "ALERT_WINDOWS_TABLE",
                "alert rules are set, so it must be too",
            ));
        }
        Ok(Config {
            curated_bucket,
            curated_prefix: vars.get("CURATED_PREFIX").unwrap_or_default(),
            ingest_queue_url: vars.get("INGEST_QUEUE_URL").filter(|u| !u.is_empty()),
            ingest,
            formats,
            sinks,
        })
    }
}

/// `alb/=alb,s3://trails/AWSLogs/=cloudtrail`: a key prefix in any bucket,
/// or `s3://` with a bucket and a prefix in it. The format is after the
/// last `=` (a prefix may hold one: `logs/dt=`).
fn parse_format_by_prefix(v: &str) -> Result<Vec<(String, Format)>, String> {
    let mut out = Vec::new();
    for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
        let (prefix, fmt) = pair
            .rsplit_once('=')
            .ok_or_else(|| format!("{pair:?} is not prefix=format"))?;
        let prefix = prefix.trim();
        if let Some(at) = prefix.strip_prefix("s3://")
            && at
                .split_once('/')
                .is_none_or(|(bucket, _)| bucket.is_empty())
        {
            return Err(format!(
                "{prefix:?} names no bucket: s3://<bucket>/<prefix> (the prefix may be empty)"
            ));
        }
        out.push((prefix.to_string(), fmt.trim().parse::<Format>()?));
    }
    Ok(out)
}

/// The function: clients built once from the shared AWS configuration.
/// Call within the runtime (the S3 store blocks on it from parsing threads).
pub fn app(aws: &aws_config::SdkConfig, config: Config) -> Result<Ingest, ConfigError> {
    let s3 = loglake_aws::s3_client(aws);
    let mut settings = config.ingest;
    if let Some(object) = config.formats {
        settings.formats = formats_object(object, loglake_aws::config_objects(aws));
    }
    let sinks = loglake_aws::sinks(aws, config.sinks)?;
    Ok(Ingest {
        objects: Arc::new(S3Objects { client: s3.clone() }),
        lake: Arc::new(S3Store::new(
            s3,
            config.curated_bucket,
            config.curated_prefix,
            Handle::current(),
        )),
        settings,
        search: sinks.search,
        alerts: sinks.alerts,
        requeue: config.ingest_queue_url.map(|url| {
            Arc::new(loglake_aws::sqs::SqsRequeue::new(aws, url))
                as Arc<dyn loglake_handlers::effects::Requeue>
        }),
    })
}

#[cfg(test)]
mod tests;
