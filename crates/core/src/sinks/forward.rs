//! loglake's normalized NDJSON: what fn-stream forwards to Firehose and
//! fn-ingest reads back without re-guessing (the lake's column names,
//! `attributes` as an object, `ts` in RFC 3339 UTC), packed into records and
//! `PutRecordBatch` calls within Firehose's limits.

use std::io::Write;

use crate::record::{Level, Record, SourceFormat, TextField};
use crate::time;

/// `s` as a JSON string: serde_json's escaping, after a check (written to
/// vectorize) that most values pass: nothing to escape, so copied whole.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether JSON escapes any byte of `b` (a quote, a backslash, a control
/// character: what serde_json escapes).
fn needs_escape(b: &[u8]) -> bool {
    b.chunks(64).any(|block| {
        block.iter().fold(false, |any, &c| {
            any | (c < 0x20) | (c == b'"') | (c == b'\\')
        })
    })
}

/// Append `rec` as one line of loglake's normalized NDJSON: the lake's
/// column names, `attributes` as an object, `ts` in RFC 3339 UTC.
/// fn-ingest's JSON parser maps every key straight back to its column, and
/// `event_id` carries the event's id (see [`crate::record::event_id`]) to
/// the lake.
pub fn write_ndjson(
    rec: &Record<'_>,
    ts: i64,
    fmt: SourceFormat,
    event_id: &str,
    out: &mut Vec<u8>,
) {
    write_fields(rec, ts, fmt, event_id, out);
    out.extend_from_slice(b"}\n");
}

/// The record as a JSON object without its closing brace, so a caller can
/// append fields of its own (the search document adds its source).
pub fn write_fields(
    rec: &Record<'_>,
    ts: i64,
    fmt: SourceFormat,
    event_id: &str,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"ts\":\"");
    time::write_rfc3339_ms(ts, out);
    out.push(b'"');
    if let Some(l) = rec.level {
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(Level::as_str(l).as_bytes());
        out.push(b'"');
    }
    for f in TextField::ALL {
        if let Some(v) = rec.get(f) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(f.column().as_bytes());
            out.extend_from_slice(b"\":");
            json_str(out, v);
        }
    }
    if let Some(v) = rec.http_status {
        out.extend_from_slice(b",\"http_status\":");
        push_int(out, v.into());
    }
    // Writing to a Vec cannot fail. Floats keep `Display`'s text.
    if let Some(v) = rec.latency_ms.filter(|v| v.is_finite()) {
        let _ = write!(out, ",\"latency_ms\":{v}");
    }
    if let Some(v) = rec.bytes_sent {
        out.extend_from_slice(b",\"bytes_sent\":");
        push_int(out, v);
    }
    if let Some(v) = rec.amount.filter(|v| v.is_finite()) {
        let _ = write!(out, ",\"amount\":{v}");
    }
    if !rec.attributes.is_empty() {
        out.extend_from_slice(b",\"attributes\":{");
        for (i, (k, v)) in rec.attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, k);
            out.push(b':');
            json_str(out, v);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"source_format\":\"");
    out.extend_from_slice(fmt.as_str().as_bytes());
    out.extend_from_slice(b"\",\"event_id\":");
    json_str(out, event_id);
}

/// `v` in decimal, as `write!(out, "{v}")` writes it.
fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 20];
    out.extend_from_slice(crate::record::decimal(v.unsigned_abs(), &mut buf));
}

/// Firehose limits: a record is at most 1,000 KiB; a `PutRecordBatch` call
/// at most 500 records and 4 MiB.
pub const FIREHOSE_MAX_RECORD: usize = 1000 * 1024;
pub const FIREHOSE_MAX_BATCH_RECORDS: usize = 500;
pub const FIREHOSE_MAX_BATCH_BYTES: usize = 4 << 20;

/// Packs NDJSON lines into Firehose records of at most `max` bytes as they
/// are written (whole lines only, so the delivered objects stay valid
/// NDJSON): one allocation per record, none per line.
#[derive(Debug)]
pub struct Packer {
    max: usize,
    cur: Vec<u8>,
    records: Vec<Vec<u8>>,
}

impl Packer {
    pub fn new(max: usize) -> Packer {
        Packer {
            max,
            cur: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Add one line; `false` (and nothing added) when it is longer than a
    /// record may be and cannot be sent.
    pub fn push(&mut self, line: &[u8]) -> bool {
        if line.len() > self.max {
            return false;
        }
        if self.cur.len() + line.len() > self.max {
            self.records.push(std::mem::take(&mut self.cur));
        }
        self.cur.extend_from_slice(line);
        true
    }

    /// The records, in order.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.cur.is_empty() {
            self.records.push(self.cur);
        }
        self.records
    }
}

/// Split records (by their sizes) into `PutRecordBatch` calls within the
/// limits, in order: index ranges into the records.
pub fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &n) in sizes.iter().enumerate() {
        if i > start
            && (i - start >= FIREHOSE_MAX_BATCH_RECORDS || bytes + n > FIREHOSE_MAX_BATCH_BYTES)
        {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::format::parse_line;

    #[test]
    fn integers_are_written_as_display_writes_them() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            404,
            i64::from(i16::MIN),
            i64::from(i16::MAX),
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = b"x".to_vec();
            push_int(&mut out, v);
            assert_eq!(out, format!("x{v}").into_bytes());
        }
    }

    #[test]
    fn normalized_ndjson_round_trips_through_the_json_parser() {
        let line = r#"{"@timestamp":"2024-03-14T21:00:00.123Z","severity":"warning","app":"cart","msg":"tab\t \"q\" é","status":"404","duration_ms":12.5,"bytes":5,"ip":"::1","quantity":2,"tags":["a"]}"#;
        let mut rec = Record::default();
        let fmt = parse_line(line, &mut rec, &Default::default()).unwrap();
        assert_eq!(fmt, SourceFormat::Json);
        rec.attr("log_group", "/g");
        let mut out = Vec::new();
        write_ndjson(
            &rec,
            rec.ts.unwrap(),
            SourceFormat::Cwlogs,
            "abc-7",
            &mut out,
        );
        assert_eq!(out.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&out).unwrap().trim_end();
        let mut back = Record::default();
        crate::ingest::format::json::parse(text, &mut back).unwrap();
        assert_eq!(back.ts, rec.ts);
        assert_eq!(back.level, Some(Level::Warn));
        assert_eq!(back.text, rec.text);
        assert_eq!(back.http_status, Some(404));
        assert_eq!(back.latency_ms, Some(12.5));
        assert_eq!(back.source_format, Some(SourceFormat::Cwlogs));
        let attrs: Vec<(String, String)> = back
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            attrs,
            [
                ("bytes", "5"),
                ("quantity", "2"),
                ("tags", "[\"a\"]"),
                ("log_group", "/g")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn every_column_name_maps_to_its_own_column() {
        for (name, _) in crate::schema::COLUMNS {
            if ["attributes", "source_uri", "source_line"].contains(name) {
                continue;
            }
            assert!(
                crate::ingest::format::json::column_for(name).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let long = "x".repeat(100);
        for s in [
            "",
            "plain text, no escapes: é ✓",
            "a \"quote\"",
            "back\\slash",
            "tab\there",
            "nul\u{0}",
            "\u{1f}\u{7f}",
            &format!("{long}\n{long}"),
            &format!("{long}{long}\""),
        ] {
            let mut out = Vec::new();
            json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn packing_and_batching_respect_the_limits() {
        let lines: Vec<Vec<u8>> = [10, 20, 30, 5, 100, 1]
            .iter()
            .map(|n| vec![b'x'; *n])
            .collect();
        let mut p = Packer::new(35);
        let sent: Vec<bool> = lines.iter().map(|l| p.push(l)).collect();
        assert_eq!(sent, [true, true, true, true, false, true]);
        let records = p.finish();
        assert_eq!(
            records.iter().map(Vec::len).collect::<Vec<_>>(),
            [30, 35, 1]
        );

        let sizes = vec![1; 1201];
        assert_eq!(batches(&sizes), [0..500, 500..1000, 1000..1201]);
        let big = vec![FIREHOSE_MAX_RECORD; 9];
        let b = batches(&big);
        assert!(
            b.iter()
                .all(|r| r.len() * FIREHOSE_MAX_RECORD <= FIREHOSE_MAX_BATCH_BYTES)
        );
        assert_eq!(b.iter().map(|r| r.len()).sum::<usize>(), 9);
        assert!(batches(&[]).is_empty());
    }
}
