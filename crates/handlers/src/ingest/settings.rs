//! fn-ingest's settings, and the pipeline options they give one object:
//! its format (by key prefix, or by bucket and prefix), service, limits
//! and redaction.

use loglake_core::ingest::format::custom::Formats;
use loglake_core::ingest::format::stamp::Zone;
use loglake_core::ingest::lake::LakeOptions;
use loglake_core::ingest::multiline::MultilineLimits;
use loglake_core::redact::RedactOptions;
use loglake_core::{Format, IngestOptions};

use super::FORWARDED_PREFIX;
use crate::live::Live;

/// How objects become rows: the pipeline settings of fn-ingest.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The format of objects under a key prefix (`alb/`, any bucket) or
    /// under a prefix of one bucket (`s3://trail-bucket/AWSLogs/`),
    /// instead of sniffing; the first that matches.
    pub format_by_prefix: Vec<(String, Format)>,
    /// Records without a service get the first segment of the object key
    /// (`checkout/2024/...` -> `checkout`).
    pub service_from_key: bool,
    /// Buffered rows across partitions, MiB.
    pub memory_budget_mb: usize,
    pub max_line_bytes: usize,
    /// PII masked before the lake and the index.
    pub redact: RedactOptions,
    /// The zone of text times written without one.
    pub timezone: Zone,
    /// How large a multiline event (a stack trace) may grow.
    pub multiline: MultilineLimits,
    /// Where Firehose delivers fn-stream's normalized NDJSON in the raw
    /// bucket: objects under it are forwarded records (already indexed and
    /// counted), known by their key, never by their content.
    pub forwarded_prefix: Option<String>,
    /// Where the pre-traffic hook (fn-canary) puts its canary objects in
    /// the raw bucket (`CANARY_PREFIX`, default `_canary/`): their rows,
    /// quarantine and manifest go under the same prefix of the curated
    /// bucket, never into the lake's tables, the index or the alerts.
    pub canary_prefix: Option<String>,
    /// User-defined formats (`FORMATS`, `FORMATS_FILE`, `FORMATS_URI`),
    /// chosen by key or by the first lines; refreshed with each invocation.
    pub formats: Live<Formats>,
    /// SQS messages of one batch handled at once (`MESSAGE_CONCURRENCY`);
    /// each holds up to the memory budget.
    pub message_concurrency: usize,
    /// Decoded bytes per segment (`SEGMENT_MB`): an object too large for one
    /// invocation pauses at a segment boundary and continues in the next.
    pub segment_bytes: u64,
    /// The function's name in its metrics (the `function` dimension of the
    /// EMF lines, which the alarms select on).
    pub function_name: String,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            format_by_prefix: Vec::new(),
            service_from_key: true,
            memory_budget_mb: 64,
            max_line_bytes: 1 << 20,
            redact: RedactOptions::default(),
            timezone: Zone::Utc,
            multiline: MultilineLimits::default(),
            forwarded_prefix: Some(FORWARDED_PREFIX.to_string()),
            canary_prefix: Some(crate::canary::DEFAULT_PREFIX.to_string()),
            function_name: "fn-ingest".into(),
            formats: Live::fixed("formats", Formats::default()),
            message_concurrency: 2,
            segment_bytes: loglake_core::ingest::options::DEFAULT_SEGMENT_BYTES,
        }
    }
}

impl IngestSettings {
    /// The format `format_by_prefix` gives an object.
    pub fn format_for(&self, bucket: &str, key: &str) -> Option<Format> {
        self.format_by_prefix
            .iter()
            .find(|(p, _)| match p.strip_prefix("s3://") {
                Some(at) => at
                    .split_once('/')
                    .is_some_and(|(b, prefix)| b == bucket && key.starts_with(prefix)),
                None => key.starts_with(p.as_str()),
            })
            .map(|(_, f)| *f)
    }

    /// Whether `key` is a canary object (see [`IngestSettings::canary_prefix`]).
    pub fn is_canary(&self, key: &str) -> bool {
        self.canary_prefix
            .as_deref()
            .is_some_and(|p| key.starts_with(p))
    }

    /// The pipeline options for one object.
    pub fn options_for(&self, bucket: &str, key: &str) -> IngestOptions {
        let budget = self.memory_budget_mb.max(4) << 20;
        let opts = IngestOptions {
            format: self.format_for(bucket, key),
            default_service: self
                .service_from_key
                .then(|| key.split_once('/').map(|(first, _)| first.to_string()))
                .flatten()
                .filter(|s| !s.is_empty()),
            memory_budget: budget,
            segment_bytes: self.segment_bytes,
            row_group_bytes: IngestOptions::row_group_for(budget),
            max_line_bytes: self.max_line_bytes,
            redact: self.redact,
            timezone: self.timezone.clone(),
            multiline: self.multiline,
            formats: Formats::clone(&self.formats.get()),
            forwarded: self
                .forwarded_prefix
                .as_deref()
                .is_some_and(|p| key.starts_with(p)),
            lake: LakeOptions {
                // Each open file holds up to one 5 MiB upload part.
                max_open_files: 8,
                ..Default::default()
            },
            ..IngestOptions::default()
        };
        match self.canary_prefix.as_deref().filter(|p| key.starts_with(p)) {
            // Kept apart from the lake's tables: `<prefix>logs/`,
            // `<prefix>quarantine/`, `<prefix>_manifests/`.
            Some(p) => IngestOptions {
                quarantine_prefix: format!("{p}{}", opts.quarantine_prefix),
                manifest_prefix: format!("{p}{}", opts.manifest_prefix),
                lake: LakeOptions {
                    prefix: format!("{p}{}", opts.lake.prefix),
                    ..opts.lake.clone()
                },
                ..opts
            },
            None => opts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_prefix_and_by_bucket() {
        let s = IngestSettings {
            format_by_prefix: vec![
                ("s3://trails/AWSLogs/".into(), "cloudtrail".parse().unwrap()),
                ("alb/".into(), Format::Alb),
                ("s3://flows/".into(), Format::VpcFlow),
            ],
            ..IngestSettings::default()
        };
        let trail = "AWSLogs/1/CloudTrail/x.json.gz";
        assert_eq!(s.format_for("trails", trail), "cloudtrail".parse().ok());
        assert_eq!(s.format_for("raw", trail), None, "another bucket");
        assert_eq!(s.format_for("raw", "alb/x.log"), Some(Format::Alb));
        assert_eq!(s.format_for("trails", "alb/x.log"), Some(Format::Alb));
        assert_eq!(s.format_for("flows", "any/key"), Some(Format::VpcFlow));
        assert_eq!(s.options_for("flows", "k").format, Some(Format::VpcFlow));
        // Canary objects are kept apart from the lake's tables.
        let o = s.options_for("raw", "_canary/d-1.ndjson");
        assert_eq!(
            (
                o.lake.prefix.as_str(),
                o.quarantine_prefix.as_str(),
                o.manifest_prefix.as_str()
            ),
            ("_canary/logs", "_canary/quarantine", "_canary/_manifests")
        );
        assert!(s.is_canary("_canary/d-1.ndjson") && !s.is_canary("shop/x.log"));
        assert_eq!(s.options_for("raw", "shop/x.log").lake.prefix, "logs");
    }
}
