//! Pausing one source's ingest and resuming it in a later run.
//!
//! A source is cut into segments at deterministic places: the first line
//! starting at or after every [`IngestOptions::segment_bytes`] of decoded
//! input. At each boundary, in every run, the multiline event in progress
//! ends, every partition is flushed and every file closed, the quarantine
//! starts a file of its own and the inherited time resets. So the outputs
//! of the segments before a boundary are committed and nothing of them is
//! carried past it but counts: an ingest may stop there, record a
//! [`Checkpoint`], and a later run that starts from it writes exactly the
//! bytes a single pass writes.
//!
//! A run pauses at a boundary only when [`IngestOptions::stop_by`] is set
//! and the next segment would not finish by then (judged by the slowest
//! segment so far); it always finishes its first segment, so every run
//! makes progress.

use std::collections::BTreeMap;
use std::io::{self, Read};

use super::format::ParserState;
use super::lake::{Output, Partition};
use super::manifest::Manifest;
use super::options::IngestOptions;
use super::quarantine::Quarantine;
use super::source::source_id;
use crate::error::Error;
use crate::redact::RedactCounts;
use crate::store::OutputStore;
use crate::time;

pub const CHECKPOINT_VERSION: u32 = 1;

/// Where a paused ingest continues.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// The source identity it belongs to: another upload starts over.
    pub identity: String,
    /// The settings it was made with ([`settings_fingerprint`]): a change
    /// of settings starts over.
    pub settings: String,
    /// Segments done; the next one has this index.
    pub segment: u64,
    /// The next segment's first line: its offset in the decoded stream and
    /// its 1-based number.
    pub offset: u64,
    pub line: u64,
    pub parser: ParserState,
    /// The multiline joiner, when the source has one: whether its events
    /// start with a timestamp.
    pub joiner: Option<bool>,
    /// The next chunk number of each partition's files.
    pub chunks: BTreeMap<String, u32>,
    /// Counts and outputs of the segments done, as a manifest.
    pub manifest: Manifest,
    /// The first damaged gzip member those segments skipped.
    #[serde(default)]
    pub first_damage: Option<String>,
}

/// What an ingest run ended with.
#[derive(Debug)]
pub enum Progress {
    /// The whole source; its manifest was written.
    Done(Manifest),
    /// Segments up to the checkpoint are committed; nothing was written
    /// about them but their outputs. The caller keeps the checkpoint
    /// ([`write_checkpoint`]) once its sinks have what those segments fed.
    Paused(Checkpoint),
}

/// The settings that decide what a run writes, as a short hash.
pub fn settings_fingerprint(opts: &IngestOptions) -> String {
    let o = opts;
    source_id(&format!(
        "{:?}|{:?}|{:?}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{}|{}|{}|{}",
        o.format,
        o.custom.as_ref().map(|c| c.name()),
        o.formats.iter().map(|c| c.name()).collect::<Vec<_>>(),
        o.max_line_bytes,
        o.memory_budget,
        o.row_group_bytes,
        o.lake,
        o.default_service,
        o.redact,
        o.timezone,
        o.multiline,
        o.min_ts_ms,
        o.max_future_ms,
        o.forwarded,
        o.max_partitions,
        o.segment_bytes,
        o.quarantine_prefix,
    ))
}

pub use super::source::CHECKPOINT_PREFIX;

/// The checkpoint a run of this source with these settings may resume
/// from: `None` when there is none, or it belongs to another upload or
/// other settings, or cannot be read as one.
pub fn read_checkpoint(
    store: &dyn OutputStore,
    key: &str,
    identity: &str,
    opts: &IngestOptions,
) -> io::Result<Option<Checkpoint>> {
    let Some(bytes) = store.get(key)? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Checkpoint>(&bytes)
        .ok()
        .filter(|c| {
            c.version == CHECKPOINT_VERSION
                && c.identity == identity
                && c.settings == settings_fingerprint(opts)
        }))
}

/// Keep a checkpoint at `key` ([`super::source::Keys::checkpoint`]).
pub fn write_checkpoint(store: &dyn OutputStore, key: &str, c: &Checkpoint) -> Result<(), Error> {
    let mut f = store.create(key).map_err(|e| Error::write(key, e))?;
    serde_json::to_writer(&mut f, c).map_err(|e| Error::write(key, e.into()))?;
    f.commit().map(drop).map_err(|e| Error::write(key, e))
}

/// The quarantine file of segment `segment`: the source's own for the
/// first, `-sNNNN` before the extension for the others.
pub fn segment_quarantine_key(key: &str, segment: u64) -> String {
    if segment == 0 {
        return key.to_string();
    }
    match key.strip_suffix(".ndjson.gz") {
        Some(stem) => format!("{stem}-s{segment:04}.ndjson.gz"),
        None => format!("{key}-s{segment:04}"),
    }
}

/// Read `n` decoded bytes and drop them: a resumed run's way to its first
/// line. A damaged gzip member on the way was counted by the run that
/// read it; here it is passed over the same way.
pub fn skip_decoded(r: &mut dyn Read, mut n: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while n > 0 {
        let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        match r.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the source ended {n} bytes before its checkpoint"),
                ));
            }
            Ok(k) => n -= k as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if super::gzip::is_member_damage(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Quarantine totals over a run's segment files, on top of a checkpoint's.
#[derive(Debug, Default)]
pub(super) struct QuarantineTotals {
    pub count: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub redacted: RedactCounts,
    pub outputs: Vec<Output>,
}

impl QuarantineTotals {
    /// Finish one segment's quarantine file and add up what it holds.
    pub fn close(&mut self, q: Quarantine<'_>) -> Result<(), Error> {
        self.count += q.count();
        for (reason, n) in q.by_reason() {
            *self.by_reason.entry(reason.clone()).or_insert(0) += n;
        }
        self.redacted.add(&q.redacted());
        if let Some(o) = q.finish()? {
            self.outputs.push(o);
        }
        Ok(())
    }
}

/// A partition from its path segment (`dt=YYYY-MM-DD/hr=HH`).
pub fn parse_partition(s: &str) -> Option<Partition> {
    let (dt, hr) = s.strip_prefix("dt=")?.split_once("/hr=")?;
    let mut ymd = dt.splitn(3, '-');
    let y: i64 = ymd.next()?.parse().ok()?;
    let m: u32 = ymd.next()?.parse().ok()?;
    let d: u32 = ymd.next()?.parse().ok()?;
    let hour: u32 = hr.parse().ok().filter(|h| *h < 24)?;
    Some(Partition {
        day: time::days_from_civil(y, m, d),
        hour,
    })
}

/// Chunk numbers keyed by partition, for the checkpoint and back.
pub(super) fn chunks_to_strings(
    chunks: &std::collections::HashMap<Partition, u32>,
) -> BTreeMap<String, u32> {
    chunks.iter().map(|(p, n)| (p.to_string(), *n)).collect()
}

pub(super) fn chunks_from_strings(
    chunks: &BTreeMap<String, u32>,
) -> Result<std::collections::HashMap<Partition, u32>, Error> {
    chunks
        .iter()
        .map(|(p, n)| {
            parse_partition(p)
                .map(|p| (p, *n))
                .ok_or_else(|| Error::Config(format!("checkpoint names no partition: {p}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_round_trip() {
        for ms in [0i64, 946_684_800_000, 1_710_450_000_123, 4_102_444_799_999] {
            let p = Partition::of(ms);
            assert_eq!(parse_partition(&p.to_string()), Some(p));
        }
        assert_eq!(parse_partition("dt=2024-01-01/hr=24"), None);
        assert_eq!(parse_partition("dt=2024-01/hr=01"), None);
    }

    #[test]
    fn keys() {
        let q = "quarantine/dt=2024-01-01/app-0123.ndjson.gz";
        assert_eq!(segment_quarantine_key(q, 0), q);
        assert_eq!(
            segment_quarantine_key(q, 3),
            "quarantine/dt=2024-01-01/app-0123-s0003.ndjson.gz"
        );
    }
}
