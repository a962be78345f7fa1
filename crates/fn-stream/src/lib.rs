//! fn-stream: Kinesis records normalized and forwarded to Firehose. This
//! crate reads the settings and builds the AWS clients once; what happens to
//! each batch is [`loglake_handlers::stream`].

use std::sync::Arc;

use loglake_aws::S3Store;
use loglake_aws::put::Firehose;
use loglake_core::ingest::format::stamp::Zone;
use loglake_core::ingest::options::MAX_LINE_BYTES_RANGE;
use loglake_core::redact::RedactOptions;
use loglake_handlers::config::{ConfigError, Vars, multiline_limits};
use loglake_handlers::retry::Backoff;
use loglake_handlers::sinks::SinkConfig;
use loglake_handlers::stream::{Stream, StreamSettings};
use tokio::runtime::Handle;

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DELIVERY_STREAM`: the Firehose delivery stream to forward to.
    pub delivery_stream: String,
    /// `CURATED_BUCKET` / `CURATED_PREFIX`: where the quarantine goes.
    pub curated_bucket: String,
    pub curated_prefix: String,
    /// `MAX_LINE_BYTES` (default 1048576), `REDACT` (default `cards,emails,secrets`): PII
    /// masked before anything is forwarded, `TIMEZONE` (of text times
    /// written without one; default UTC), `MULTILINE_MAX_LINES` and
    /// `MULTILINE_MAX_BYTES` (the bounds of a stack trace within one record).
    pub stream: StreamSettings,
    /// The search index and the alerts (`SEARCH_*`, `ALERT_*`): each
    /// record is indexed and counted within seconds of its arrival (fn-ingest
    /// does not do it again when Firehose lands it). Without a windows
    /// table, instant alerts only.
    pub sinks: SinkConfig,
    /// `LAKE_REGION`: when fn-stream collects in another region than the
    /// lake's (a collection region), the region of the curated bucket, the
    /// alert tables and topic, and the search domain. The stream and the
    /// delivery stream are this function's own region's.
    pub lake_region: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(Vars::new(&loglake_handlers::config::env))
    }

    pub fn from_vars(vars: Vars<'_>) -> Result<Config, ConfigError> {
        Ok(Config {
            delivery_stream: vars.require("DELIVERY_STREAM")?,
            curated_bucket: vars.require("CURATED_BUCKET")?,
            curated_prefix: vars.get("CURATED_PREFIX").unwrap_or_default(),
            stream: StreamSettings {
                max_line_bytes: vars.number("MAX_LINE_BYTES", 1 << 20, MAX_LINE_BYTES_RANGE)?,
                redact: vars
                    .parse_with("REDACT", RedactOptions::parse)?
                    .unwrap_or_default(),
                timezone: vars
                    .parse_with("TIMEZONE", |z| z.parse::<Zone>())?
                    .unwrap_or_default(),
                multiline: multiline_limits(vars)?,
                // Set by Lambda: the metrics carry the deployed name.
                function_name: vars
                    .get("AWS_LAMBDA_FUNCTION_NAME")
                    .unwrap_or_else(|| "fn-stream".into()),
            },
            sinks: SinkConfig::from_vars(vars)?,
            lake_region: vars.get("LAKE_REGION"),
        })
    }
}

/// The function: clients built once from the shared AWS configuration.
/// Call within the runtime (the S3 store blocks on it from worker threads).
pub fn app(aws: &aws_config::SdkConfig, config: Config) -> Result<Stream, ConfigError> {
    // The lake's resources, in the home region when this is another one.
    let lake = match &config.lake_region {
        Some(r) => aws
            .to_builder()
            .region(aws_config::Region::new(r.clone()))
            .build(),
        None => aws.clone(),
    };
    let sinks = loglake_aws::sinks(&lake, config.sinks)?;
    Ok(Stream {
        forwarder: Arc::new(Firehose {
            client: aws_sdk_firehose::Client::new(aws),
            stream: config.delivery_stream,
        }),
        curated: Arc::new(S3Store::new(
            loglake_aws::s3_client(&lake),
            config.curated_bucket,
            config.curated_prefix,
            Handle::current(),
        )),
        settings: config.stream,
        search: sinks.search,
        alerts: sinks.alerts,
        backoff: Backoff::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(Vars::new(&loglake_testkit::vars(pairs)))
    }

    const REQUIRED: [(&str, &str); 2] = [("DELIVERY_STREAM", "d"), ("CURATED_BUCKET", "c")];

    #[test]
    fn the_stream_and_bucket_are_required() {
        assert!(config(&REQUIRED).is_ok());
        for missing in 0..REQUIRED.len() {
            let mut pairs = REQUIRED.to_vec();
            let (name, _) = pairs.remove(missing);
            let e = config(&pairs).unwrap_err();
            assert_eq!((e.variable.as_str(), e.value.as_deref()), (name, None));
        }
    }

    #[test]
    fn every_bad_setting_names_its_variable_and_value() {
        for (var, value) in [
            ("MAX_LINE_BYTES", "1MiB"),
            ("REDACT", "everything"),
            ("SEARCH_SERVICE", "solr"),
            ("SEARCH_TIMEOUT_SECS", "soon"),
            ("TIMEZONE", "+25:00"),
            ("MULTILINE_MAX_LINES", "100001"),
        ] {
            let pairs = [
                REQUIRED[0],
                REQUIRED[1],
                ("SEARCH_ENDPOINT", "http://127.0.0.1:9200"),
                (var, value),
            ];
            let e = config(&pairs).unwrap_err();
            assert_eq!(e.variable, var, "{e}");
            assert_eq!(e.value.as_deref(), Some(value), "{e}");
        }
        let basic = [
            REQUIRED[0],
            REQUIRED[1],
            ("SEARCH_ENDPOINT", "http://127.0.0.1:9200"),
            ("SEARCH_AUTH", "basic"),
            ("SEARCH_USERNAME", "u"),
        ];
        assert_eq!(config(&basic).unwrap_err().variable, "SEARCH_PASSWORD");
    }
}
