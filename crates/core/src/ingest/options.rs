//! How a source is ingested: every setting of the ingest path, with the
//! defaults the CLI and the functions use.

use super::format::Format;
use super::format::custom::{CustomFormat, Formats};
use super::format::stamp::Zone;
use super::lake::LakeOptions;
use super::multiline::MultilineLimits;
use crate::redact::RedactOptions;

/// 2000-01-01T00:00:00Z: older event times are taken to be wrong clocks.
pub const DEFAULT_MIN_TS_MS: i64 = 946_684_800_000;
/// 2100-01-01T00:00:00Z: the upper bound when the source's time is unknown.
pub const DEFAULT_MAX_TS_MS: i64 = 4_102_444_800_000;
const DAY_MS: i64 = 86_400_000;
/// 90 days of hours: far beyond any real log file or delivery batch, and
/// still a bounded number of files per source.
/// 512 MiB of decoded input: a few seconds of one core, so a paused run
/// loses little, and files large enough for Athena.
pub const DEFAULT_SEGMENT_BYTES: u64 = 512 << 20;

/// The line lengths a deployment may set (`MAX_LINE_BYTES`,
/// `--max-line-bytes`): from a short syslog line to 64 MiB (a line is held
/// whole in memory, and lengths are kept in 32-bit fields of the lake's
/// offsets; past this a "line" is a binary file, not a log).
pub const MAX_LINE_BYTES_RANGE: std::ops::RangeInclusive<usize> = 256..=64 << 20;
/// The row memory a deployment may set, in MiB (`MEMORY_BUDGET_MB`,
/// `--memory-mib`): from the 4 MiB the encoder needs to Lambda's largest
/// function (10,240 MB).
pub const MEMORY_BUDGET_MB_RANGE: std::ops::RangeInclusive<usize> = 4..=10_240;

pub const DEFAULT_MAX_PARTITIONS: usize = 90 * 24;

/// How to ingest a source. `Default` is what the CLI and functions use.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Parse every line as this format instead of sniffing the first lines.
    pub format: Option<Format>,
    /// Parse every line as this user-defined format (`--format NAME` of a
    /// `formats.toml` format).
    pub custom: Option<CustomFormat>,
    /// The user-defined formats (`formats.toml`): one whose `sources` match
    /// the source's name is used, else one that most first lines parse as,
    /// else the built-in detection.
    pub formats: Formats,
    /// Lines longer than this are quarantined (their first bytes kept).
    pub max_line_bytes: usize,
    /// Rows held across all open partitions, and the row group being
    /// encoded: see [`IngestOptions::rows_budget`].
    pub memory_budget: usize,
    /// A partition's buffer is flushed as one row group at this size.
    pub row_group_bytes: usize,
    /// Run decode, parse and encode on three threads.
    pub pipelined: bool,
    pub lake: LakeOptions,
    pub quarantine_prefix: String,
    pub manifest_prefix: String,
    /// The service of records that name none (e.g. from the S3 key prefix).
    pub default_service: Option<String>,
    /// Event times before this are quarantined as out of range.
    pub min_ts_ms: i64,
    /// Event times more than this after the source was last modified are
    /// quarantined as out of range (clock skew allowance).
    pub max_future_ms: i64,
    /// PII masked in every row before any sink sees it (cards by default).
    pub redact: RedactOptions,
    /// The zone of text times written without one (UTC by default).
    pub timezone: Zone,
    /// How large a multiline event of a text source may grow.
    pub multiline: MultilineLimits,
    /// The source is loglake's own forwarded NDJSON (fn-stream's, through
    /// Firehose, known by where it was written): only then does a record's
    /// `source_format` mark it as already indexed and counted for alerts.
    pub forwarded: bool,
    /// Distinct hours (partitions) one source may write: rows of further
    /// hours are quarantined as `partition_limit`, so a source whose times
    /// are spread over years writes a bounded number of files.
    pub max_partitions: usize,
    /// Decoded bytes per segment: at the first line past each multiple,
    /// every file is committed, so an ingest can pause there and resume in
    /// another run ([`super::resume`]).
    pub segment_bytes: u64,
    /// Pause at a segment boundary when the next segment would not finish
    /// by then (a function's deadline, less what its sinks need).
    pub stop_by: Option<std::time::Instant>,
}

impl IngestOptions {
    /// The row group size that goes with a memory budget: a quarter of it.
    /// Pipelined, one row group is being encoded while the parser fills the
    /// next and other partitions wait; a quarter keeps a two-thread ingest
    /// under 128 MB with the default 64 MiB budget (docs/performance.md),
    /// and each row group still holds some 30,000 rows of JSON logs.
    pub fn row_group_for(memory_budget: usize) -> usize {
        memory_budget / 4
    }

    /// Rows buffered across all open partitions before the largest is
    /// flushed: the memory budget less one row group, the one being encoded
    /// (pipelined, the encoder holds it while the parser fills the next).
    /// One thread keeps the same bound, so every thread count makes the
    /// same flush decisions and writes the same files.
    pub fn rows_budget(&self) -> usize {
        self.memory_budget - self.row_group_bytes.min(self.memory_budget / 2)
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            custom: None,
            formats: Formats::default(),
            max_line_bytes: 1 << 20,
            memory_budget: 64 << 20,
            row_group_bytes: IngestOptions::row_group_for(64 << 20),
            pipelined: true,
            lake: LakeOptions::default(),
            quarantine_prefix: "quarantine".into(),
            manifest_prefix: "_manifests".into(),
            default_service: None,
            min_ts_ms: DEFAULT_MIN_TS_MS,
            max_future_ms: DAY_MS,
            redact: RedactOptions::default(),
            timezone: Zone::Utc,
            multiline: MultilineLimits::default(),
            forwarded: false,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            stop_by: None,
        }
    }
}
