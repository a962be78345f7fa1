//! The per-source manifest: what went in, what came out, and why anything
//! did not. `lines_in == rows_out + quarantined + merged` always holds.

use std::collections::BTreeMap;

use crate::ingest::input::Compression;
use crate::ingest::lake::Output;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub source: SourceInfo,
    /// The format the object was parsed as.
    pub format: String,
    pub compression: Compression,
    /// Physical lines in the decoded source.
    pub lines_total: u64,
    /// Lines that carry a log record: every line but blank and header lines.
    pub lines_in: u64,
    pub rows_out: u64,
    pub quarantined: u64,
    /// Lines joined to the line before them into one multiline event (a
    /// stack trace's frames): in `lines_in`, but not rows of their own.
    #[serde(default)]
    pub merged: u64,
    pub quarantined_by_reason: BTreeMap<String, u64>,
    pub skipped_blank: u64,
    /// Header and comment lines of formats that have them (CloudFront).
    pub skipped_header: u64,
    /// Rows whose time was taken from the line before (continuation lines)
    /// or from the object, because the line had none.
    pub ts_inferred: u64,
    /// Values masked by PII redaction, by kind.
    #[serde(default)]
    pub redacted: crate::redact::RedactCounts,
    /// Rows per partition path (`dt=.../hr=...`).
    pub partitions: BTreeMap<String, u64>,
    /// ERROR and FATAL rows per service.
    pub errors_by_service: BTreeMap<String, u64>,
    pub ts_min: Option<String>,
    pub ts_max: Option<String>,
    /// Bytes read from the store (compressed).
    pub bytes_in: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    pub duration_ms: u64,
    pub outputs: Vec<Output>,
    /// Damaged gzip members skipped: their undecodable bytes are no lines,
    /// the line each broke off is quarantined as `truncated_input`, and the
    /// members after them were read.
    #[serde(default)]
    pub corrupt_members: u64,
    /// `complete`; `truncated` when the compressed input broke off;
    /// `corrupt` when damaged members were skipped and the rest was read.
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Complete,
    Truncated,
    Corrupt,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceInfo {
    pub uri: String,
    /// Short hash of the identity; part of every output name.
    pub id: String,
    /// What makes two deliveries of this source the same.
    pub identity: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub modified: Option<String>,
}

impl Manifest {
    /// The accounting every test and every caller may rely on.
    pub fn balanced(&self) -> bool {
        self.lines_in == self.rows_out + self.quarantined + self.merged
            && self.lines_total == self.lines_in + self.skipped_blank + self.skipped_header
            && self.rows_out == self.partitions.values().sum::<u64>()
    }
}
