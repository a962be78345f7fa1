//! The search sink's decisions, with no network: which records are indexed,
//! into which index, under which `_id`; `_bulk` bodies built and split by
//! size; bulk responses read item by item; dead letters; and the index
//! template and ISM policy the cluster is set up with.
//!
//! Every document is created with the `create` action and an `_id` derived
//! from the source's identity and the line's position in it (byte offset in
//! a file, sequence number and line in a stream record). A retried object or
//! batch therefore sends the same `_id`s, and OpenSearch answers `409` for
//! the ones it already has: counted as already indexed, never duplicated.
//!
//! This file holds the options (which records go to which index), the
//! document `_id` and the document writer. `bulk.rs` builds `_bulk` bodies,
//! reads their responses and writes dead letters; `feed.rs` turns finished
//! records into bulks ([`Feed`]); `template.rs` fills in the index template
//! and the ISM policy. Their public items are re-exported here, so every
//! `sinks::search::X` path holds.

mod bulk;
mod feed;
mod template;

use std::io::Write;

use crate::record::{Level, Record, SourceFormat};
use crate::sinks::forward;
use crate::time;

pub use bulk::{
    Bulk, BulkBuilder, Item, ItemOutcome, dead_letter, dead_letter_key, parse_bulk_response,
    write_dead_letters,
};
pub use feed::{Feed, SearchCounts};
pub use template::{INDEX_TEMPLATE, ISM_POLICY_TEMPLATE, index_template, ism_policy, render};

/// Where and what to index.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Daily indices are named `{prefix}YYYY.MM.DD` from the record's UTC time.
    pub index_prefix: String,
    /// Write every record to this data stream instead of daily indices.
    pub data_stream: Option<String>,
    /// Index only records at or above this level (see [`effective_level`]).
    pub min_level: Option<Level>,
    /// A `_bulk` request's body is at most this many bytes (one document
    /// larger than this is sent alone).
    pub max_request_bytes: usize,
    /// And at most this many documents.
    pub max_request_docs: usize,
    /// Leave out records that arrived already normalized (loglake NDJSON
    /// from fn-stream through Firehose): fn-stream indexed them when they
    /// arrived, under ids of their own.
    pub skip_normalized: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            index_prefix: "logs-".into(),
            data_stream: None,
            min_level: None,
            max_request_bytes: 5 << 20,
            max_request_docs: 10_000,
            skip_normalized: false,
        }
    }
}

impl SearchOptions {
    /// Check names before anything is sent: OpenSearch index names are
    /// lower case and must not start with `_`, `-` or `+`.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.data_stream.as_deref().unwrap_or(&self.index_prefix);
        let what = if self.data_stream.is_some() {
            "data stream"
        } else {
            "index prefix"
        };
        if name.is_empty() && self.data_stream.is_some() {
            return Err("the data stream name is empty".into());
        }
        if name.starts_with(['_', '-', '+'])
            || name
                .chars()
                .any(|c| c.is_ascii_uppercase() || " \\/*?\"<>|,#:".contains(c) || c.is_control())
        {
            return Err(format!(
                "{what} {name:?} is not a valid OpenSearch index name (lower case, no \\ / * ? \" < > | , # : or spaces, not starting with _ - +)"
            ));
        }
        if self.max_request_bytes < 1024 || self.max_request_docs == 0 {
            return Err("max request size must be at least 1 KiB and 1 document".into());
        }
        Ok(())
    }

    /// The pattern that matches every index these options write to.
    pub fn index_pattern(&self) -> String {
        match &self.data_stream {
            Some(ds) => ds.clone(),
            None => format!("{}*", self.index_prefix),
        }
    }

    /// The index (or data stream) a record with time `ts` goes to.
    pub fn index_for(&self, ts: i64) -> String {
        match &self.data_stream {
            Some(ds) => ds.clone(),
            None => {
                let (y, m, d, _) = time::date_hour(ts);
                format!("{}{y:04}.{m:02}.{d:02}", self.index_prefix)
            }
        }
    }

    /// Whether a record is to be indexed: the level filter, and records
    /// indexed on the stream path.
    pub fn wants(&self, rec: &Record<'_>) -> bool {
        !(self.skip_normalized && rec.is_forwarded())
            && self.min_level.is_none_or(|min| effective_level(rec) >= min)
    }
}

/// A record's level for the search filter: its own, or for records that
/// carry none (access logs), ERROR for a 5xx status, WARN for a 4xx, INFO
/// otherwise.
pub fn effective_level(rec: &Record<'_>) -> Level {
    rec.level.unwrap_or(match rec.http_status {
        Some(s) if s >= 500 => Level::Error,
        Some(s) if s >= 400 => Level::Warn,
        _ => Level::Info,
    })
}

/// Append one document: loglake's normalized record (the lake's columns,
/// `attributes` as an object), with where it came from.
pub fn write_doc(
    rec: &Record<'_>,
    ts: i64,
    fmt: SourceFormat,
    source_uri: &str,
    source_line: u64,
    event_id: &str,
    out: &mut Vec<u8>,
) {
    forward::write_fields(rec, ts, fmt, event_id, out);
    out.extend_from_slice(b",\"source_uri\":");
    let _ = serde_json::to_writer(&mut *out, source_uri);
    // Writing to a Vec cannot fail.
    let _ = write!(out, ",\"source_line\":{source_line}}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TextField;
    use std::borrow::Cow;

    pub(super) fn rec(level: Option<Level>, status: Option<i16>) -> Record<'static> {
        let mut r = Record {
            level,
            http_status: status,
            ..Record::default()
        };
        r.set(TextField::Service, Cow::Borrowed("checkout"));
        r.set(TextField::Message, Cow::Borrowed("payment \"declined\""));
        r.attr("k8s.pod", "checkout-7d9");
        r
    }

    pub(super) const TS: i64 = 1_763_785_000_123; // 2025-11-22T04:16:40.123Z

    #[test]
    fn index_names_follow_the_utc_day() {
        let o = SearchOptions::default();
        assert_eq!(o.index_for(TS), "logs-2025.11.22");
        assert_eq!(o.index_for(0), "logs-1970.01.01");
        let ds = SearchOptions {
            data_stream: Some("logs-shop".into()),
            ..o.clone()
        };
        assert_eq!(ds.index_for(TS), "logs-shop");
        assert!(o.validate().is_ok());
        for bad in ["Logs-", "_logs", "lo gs", "logs*", "a,b"] {
            let o = SearchOptions {
                index_prefix: bad.into(),
                ..SearchOptions::default()
            };
            assert!(o.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        use crate::ingest::source::source_id;
        let mut a = String::new();
        crate::record::event_id(&source_id("s3://b/k#etag=1"), 0, &mut a);
        let mut b = String::new();
        crate::record::event_id(&source_id("s3://b/k#etag=1"), 0, &mut b);
        assert_eq!(a, b);
        for (identity, position) in [("s3://b/k#etag=1", 1), ("s3://b/k#etag=2", 0)] {
            crate::record::event_id(&source_id(identity), position, &mut b);
            assert_ne!(a, b);
        }
        // A search `_id` must be URL-safe and at most 512 bytes.
        assert!(a.len() < 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }

    #[test]
    fn level_filter_uses_status_for_access_logs() {
        let o = SearchOptions {
            min_level: Some(Level::Warn),
            ..SearchOptions::default()
        };
        assert!(!o.wants(&rec(Some(Level::Info), None)));
        assert!(o.wants(&rec(Some(Level::Error), None)));
        assert!(o.wants(&rec(None, Some(503))));
        assert!(o.wants(&rec(None, Some(404))));
        assert!(!o.wants(&rec(None, Some(200))));
        assert!(!o.wants(&rec(None, None)));
        assert!(SearchOptions::default().wants(&rec(Some(Level::Debug), None)));
        let mut forwarded = rec(Some(Level::Error), None);
        forwarded.source_format = Some(SourceFormat::Json);
        assert!(SearchOptions::default().wants(&forwarded));
        let ingest = SearchOptions {
            skip_normalized: true,
            ..SearchOptions::default()
        };
        assert!(!ingest.wants(&forwarded));
        assert!(ingest.wants(&rec(Some(Level::Error), None)));
    }
}
