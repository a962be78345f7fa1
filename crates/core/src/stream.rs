//! Log records that arrive on a stream (Kinesis) rather than in an object:
//! decoding one record's data into lines (a JSON line, several lines, or a
//! gzip CloudWatch Logs subscription payload), normalizing each line with the
//! same parsers and rules as files, and the normalized NDJSON that is
//! forwarded to Firehose and read back by fn-ingest without re-guessing.

use std::io::{Read, Write};

use serde::Deserialize;

use crate::format::{self, Format};
use crate::record::{Level, Record, Reject, SourceFormat, TextField};
use crate::time;

/// A CloudWatch Logs payload is at most 1 MB compressed; its JSON is
/// bounded well above that.
const MAX_CWLOGS_JSON: u64 = 32 << 20;

/// One line of a stream record.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLine {
    pub bytes: Vec<u8>,
    /// 0-based index of the line within its record.
    pub index: u64,
    /// The time CloudWatch Logs recorded for the event, if it came from there.
    pub event_ms: Option<i64>,
    /// Attributes the envelope adds (log group, log stream, event id).
    pub attributes: Vec<(&'static str, String)>,
}

/// What a stream record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordData {
    Lines(Vec<StreamLine>),
    /// A CloudWatch Logs `CONTROL_MESSAGE`: acknowledged, no data.
    Control,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CwLogs {
    message_type: String,
    #[serde(default)]
    log_group: String,
    #[serde(default)]
    log_stream: String,
    #[serde(default)]
    log_events: Vec<CwEvent>,
}

#[derive(Deserialize)]
struct CwEvent {
    #[serde(default)]
    id: String,
    timestamp: i64,
    message: String,
}

/// Decode one record's (already base64-decoded) data.
pub fn decode_record(data: &[u8]) -> Result<RecordData, Reject> {
    if data.starts_with(&[0x1f, 0x8b]) {
        let mut json = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .take(MAX_CWLOGS_JSON)
            .read_to_end(&mut json)
            .map_err(|e| Reject::Malformed(format!("gzip record does not decompress: {e}")))?;
        let cw: CwLogs = serde_json::from_slice(&json).map_err(|e| {
            Reject::Malformed(format!("gzip record is not a cloudwatch logs payload: {e}"))
        })?;
        return match cw.message_type.as_str() {
            "CONTROL_MESSAGE" => Ok(RecordData::Control),
            "DATA_MESSAGE" => Ok(RecordData::Lines(
                cw.log_events
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| StreamLine {
                        bytes: e.message.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
                        index: i as u64,
                        event_ms: Some(e.timestamp),
                        attributes: vec![
                            ("log_group", cw.log_group.clone()),
                            ("log_stream", cw.log_stream.clone()),
                            ("cw_event_id", e.id),
                        ],
                    })
                    .collect(),
            )),
            other => Err(Reject::Malformed(format!(
                "unknown cloudwatch logs messageType {other:?}"
            ))),
        };
    }
    Ok(RecordData::Lines(
        data.split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .enumerate()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .map(|(i, l)| StreamLine {
                bytes: l.to_vec(),
                index: i as u64,
                event_ms: None,
                attributes: Vec::new(),
            })
            .collect(),
    ))
}

/// Parse one line whose format is not known in advance: JSON if it is an
/// object, else whichever access-log format it looks like, else text.
pub fn parse_line<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<SourceFormat, Reject> {
    // Called per line: dispatch straight to the parser, without the
    // per-object state a `Parser` keeps.
    Ok(match format::detect([line]) {
        Format::Json => {
            format::json::parse(line, rec)?;
            SourceFormat::Json
        }
        Format::Combined => {
            format::clf::parse(line, rec)?;
            SourceFormat::Combined
        }
        Format::Alb => {
            format::alb::parse(line, rec)?;
            SourceFormat::Alb
        }
        // A CloudFront line needs its file's header; alone it is text.
        Format::Cloudfront | Format::Text => {
            format::text::parse(line, rec)?;
            SourceFormat::Text
        }
    })
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping, without a Value in between.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Append `rec` as one line of loglake's normalized NDJSON: the lake's
/// column names, `attributes` as an object, `ts` in RFC 3339 UTC.
/// fn-ingest's JSON parser maps every key straight back to its column.
pub fn write_ndjson(rec: &Record<'_>, ts: i64, fmt: SourceFormat, out: &mut Vec<u8>) {
    write_fields(rec, ts, fmt, out);
    out.extend_from_slice(b"}\n");
}

/// The record as a JSON object without its closing brace, so a caller can
/// append fields of its own (the search document adds its source).
pub fn write_fields(rec: &Record<'_>, ts: i64, fmt: SourceFormat, out: &mut Vec<u8>) {
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
    out.push(b'"');
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_records_split_into_lines() {
        let RecordData::Lines(l) = decode_record(b"{\"a\":1}\r\n\n  \nsecond line").unwrap() else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].bytes.as_slice(), l[0].index), (&b"{\"a\":1}"[..], 0));
        assert_eq!(
            (l[1].bytes.as_slice(), l[1].index),
            (&b"second line"[..], 3)
        );
    }

    #[test]
    fn cloudwatch_logs_payloads() {
        let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/checkout",
        "logStream": "2024/03/15/[$LATEST]abc", "subscriptionFilters": ["to-kinesis"],
        "logEvents": [
            {"id": "1", "timestamp": 1_710_450_000_000i64, "message": "{\"level\":\"error\",\"msg\":\"boom\"}\n"},
            {"id": "2", "timestamp": 1_710_450_000_500i64, "message": "START RequestId: 42 Version: $LATEST"}
        ]});
        let RecordData::Lines(l) = decode_record(&gz(payload.to_string().as_bytes())).unwrap()
        else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].bytes, b"{\"level\":\"error\",\"msg\":\"boom\"}");
        assert_eq!(l[1].event_ms, Some(1_710_450_000_500));
        assert!(
            l[1].attributes
                .contains(&("log_group", "/aws/lambda/checkout".to_string()))
        );
        let control = serde_json::json!({"messageType": "CONTROL_MESSAGE", "logGroup": "", "logStream": "", "logEvents": []});
        assert_eq!(
            decode_record(&gz(control.to_string().as_bytes())).unwrap(),
            RecordData::Control
        );
        assert!(matches!(
            decode_record(&gz(b"not json")),
            Err(Reject::Malformed(_))
        ));
        assert!(matches!(
            decode_record(&[0x1f, 0x8b, 1, 2, 3]),
            Err(Reject::Malformed(_))
        ));
    }

    #[test]
    fn normalized_ndjson_round_trips_through_the_json_parser() {
        let line = r#"{"@timestamp":"2024-03-14T21:00:00.123Z","severity":"warning","app":"cart","msg":"tab\t \"q\" é","status":"404","duration_ms":12.5,"bytes":5,"ip":"::1","quantity":2,"tags":["a"]}"#;
        let mut rec = Record::default();
        let fmt = parse_line(line, &mut rec).unwrap();
        assert_eq!(fmt, SourceFormat::Json);
        rec.attr("log_group", "/g");
        let mut out = Vec::new();
        write_ndjson(&rec, rec.ts.unwrap(), SourceFormat::Cwlogs, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&out).unwrap().trim_end();
        let mut back = Record::default();
        crate::format::json::parse(text, &mut back).unwrap();
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
            assert!(crate::format::json::column_for(name).is_some(), "{name}");
        }
    }

    #[test]
    fn access_log_and_text_lines_alone() {
        let mut rec = Record::default();
        let clf =
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl/8""#;
        assert_eq!(parse_line(clf, &mut rec).unwrap(), SourceFormat::Combined);
        let mut rec = Record::default();
        assert_eq!(
            parse_line("ERROR something broke", &mut rec).unwrap(),
            SourceFormat::Text
        );
        assert_eq!(rec.level, Some(Level::Error));
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
