//! loglake's normalized NDJSON: what fn-stream forwards to Firehose and
//! fn-ingest reads back without re-guessing (the lake's column names,
//! `attributes` as an object, `ts` in RFC 3339 UTC), packed into records and
//! `PutRecordBatch` calls within Firehose's limits.

use std::io::Write;

use crate::record::{Level, Record, SourceFormat, TextField};
use crate::time;

fn json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping, without a Value in between.
    let _ = serde_json::to_writer(&mut *out, s);
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
    out.extend_from_slice(b"{\"ts\":");
    json_str(out, &time::format_rfc3339_ms(ts));
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
    // Writing to a Vec cannot fail.
    if let Some(v) = rec.http_status {
        let _ = write!(out, ",\"http_status\":{v}");
    }
    if let Some(v) = rec.latency_ms.filter(|v| v.is_finite()) {
        let _ = write!(out, ",\"latency_ms\":{v}");
    }
    if let Some(v) = rec.bytes_sent {
        let _ = write!(out, ",\"bytes_sent\":{v}");
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

/// Firehose limits: a record is at most 1,000 KiB; a `PutRecordBatch` call
/// at most 500 records and 4 MiB.
pub const FIREHOSE_MAX_RECORD: usize = 1000 * 1024;
pub const FIREHOSE_MAX_BATCH_RECORDS: usize = 500;
pub const FIREHOSE_MAX_BATCH_BYTES: usize = 4 << 20;

/// Pack NDJSON lines into Firehose records of at most `max` bytes (whole
/// lines only, so the delivered objects stay valid NDJSON). A line longer
/// than `max` cannot be sent and is returned by index instead.
pub fn pack_lines(lines: &[Vec<u8>], max: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut records = Vec::new();
    let mut too_big = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.len() > max {
            too_big.push(i);
            continue;
        }
        if cur.len() + l.len() > max {
            records.push(std::mem::take(&mut cur));
        }
        cur.extend_from_slice(l);
    }
    if !cur.is_empty() {
        records.push(cur);
    }
    (records, too_big)
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
    fn packing_and_batching_respect_the_limits() {
        let lines: Vec<Vec<u8>> = [10, 20, 30, 5, 100, 1]
            .iter()
            .map(|n| vec![b'x'; *n])
            .collect();
        let (records, too_big) = pack_lines(&lines, 35);
        assert_eq!(too_big, [4]);
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
