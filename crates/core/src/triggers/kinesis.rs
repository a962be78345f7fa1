//! Kinesis records as loglake receives them: one record's data decoded into
//! lines (a JSON line, several lines, or a gzip CloudWatch Logs
//! subscription payload), each with the time and attributes its envelope
//! gives it.

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;

use crate::ingest::multiline::{self, Joiner, MultilineLimits};
use crate::record::Reject;

/// A CloudWatch Logs payload is at most 1 MB compressed; its JSON is
/// bounded well above that.
const MAX_CWLOGS_JSON: u64 = 32 << 20;

/// One line of a stream record: borrowed from the record's data when it is
/// plain lines, owned when it came out of an envelope or was joined.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLine<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// 0-based index of the line within its record.
    pub index: u64,
    /// The time CloudWatch Logs recorded for the event, if it came from there.
    pub event_ms: Option<i64>,
    /// Attributes the envelope adds (log group, log stream, event id).
    pub attributes: Vec<(&'static str, String)>,
    /// Lines of the record joined to this one as one multiline event
    /// (see [`join_lines`]).
    pub merged: u64,
}

/// What a stream record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordData<'a> {
    Lines(Vec<StreamLine<'a>>),
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
pub fn decode_record(data: &[u8]) -> Result<RecordData<'_>, Reject> {
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
                        bytes: Cow::Owned(
                            e.message.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
                        ),
                        index: i as u64,
                        merged: 0,
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
        lines(data)
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .enumerate()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .map(|(i, l)| StreamLine {
                bytes: Cow::Borrowed(l),
                index: i as u64,
                event_ms: None,
                attributes: Vec::new(),
                merged: 0,
            })
            .collect(),
    ))
}

/// `data` split at each LF, as `data.split(|b| *b == b'\n')` does, found
/// with memchr rather than a byte at a time.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', data)
        .map(Some)
        .chain([None])
        .map(move |nl| {
            let end = nl.unwrap_or(data.len());
            let line = &data[start..end];
            start = end + 1;
            line
        })
}

/// One plain record's lines with each multiline event (a stack trace put
/// on the stream whole) joined into its first line, as in a text file:
/// only text lines join, never a JSON line, and never across records.
/// CloudWatch Logs events are events already and stay as they are.
pub fn join_lines(lines: Vec<StreamLine<'_>>, limits: MultilineLimits) -> Vec<StreamLine<'_>> {
    if lines.len() < 2 || limits.max_lines < 2 || lines.iter().any(|l| l.event_ms.is_some()) {
        return lines;
    }
    let texts: Vec<Option<&str>> = lines
        .iter()
        .map(|l| std::str::from_utf8(&l.bytes).ok())
        .collect();
    let mut joiner = Joiner::new(
        limits,
        multiline::timestamped(texts.iter().flatten().copied()),
    );
    let json = |t: &str| t.trim_start().starts_with('{');
    // Whether each line goes on the event of the line before it.
    let mut joins = Vec::with_capacity(lines.len());
    let mut head_is_text = false;
    for text in &texts {
        let joined = match text {
            Some(t) if !json(t) => joiner.joins(t) && head_is_text,
            // Bad bytes or JSON: a line of its own, and no event goes on
            // past it.
            _ => {
                joiner = Joiner::new(limits, false);
                false
            }
        };
        if !joined {
            head_is_text = text.is_some_and(|t| !json(t));
        }
        joins.push(joined);
    }
    drop(texts);
    if !joins.contains(&true) {
        return lines;
    }
    let mut out: Vec<StreamLine<'_>> = Vec::with_capacity(lines.len());
    for (l, joined) in lines.into_iter().zip(joins) {
        match out.last_mut() {
            Some(head) if joined => {
                let bytes = head.bytes.to_mut();
                bytes.push(b'\n');
                bytes.extend_from_slice(&l.bytes);
                head.merged += 1;
            }
            _ => out.push(l),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn lines_split_as_slice_split_does() {
        for data in [
            &b""[..],
            b"\n",
            b"\n\n",
            b"one",
            b"one\n",
            b"one\ntwo",
            b"\none\n\ntwo\n",
        ] {
            let want: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            assert_eq!(lines(data).collect::<Vec<_>>(), want, "{data:?}");
        }
    }

    #[test]
    fn plain_records_split_into_lines() {
        let RecordData::Lines(l) = decode_record(b"{\"a\":1}\r\n\n  \nsecond line").unwrap() else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        // Borrowed from the record, not copied.
        assert!(l.iter().all(|l| matches!(l.bytes, Cow::Borrowed(_))));
        assert_eq!((&*l[0].bytes, l[0].index), (&b"{\"a\":1}"[..], 0));
        assert_eq!((&*l[1].bytes, l[1].index), (&b"second line"[..], 3));
    }

    #[test]
    fn a_stack_trace_in_one_record_is_one_line() {
        let data = b"2024-03-14 21:00:01,123 ERROR [main] a.B - failed\n\
java.lang.IllegalStateException: x\n\tat a.B.run(B.java:1)\n\t... 3 more\n\
{\"msg\":\"json stays\"}\n\tat not.joined.to(Json.java:1)\n\
2024-03-14 21:00:02,000 INFO [main] a.B - next\n";
        let RecordData::Lines(l) = decode_record(data).unwrap() else {
            panic!()
        };
        let l = join_lines(l, MultilineLimits::default());
        let got: Vec<(u64, u64, usize)> = l
            .iter()
            .map(|l| {
                (
                    l.index,
                    l.merged,
                    l.bytes.iter().filter(|b| **b == b'\n').count(),
                )
            })
            .collect();
        assert_eq!(got, [(0, 3, 3), (4, 0, 0), (5, 0, 0), (6, 0, 0)]);
        // Only the joined event was copied.
        assert!(l[1..].iter().all(|l| matches!(l.bytes, Cow::Borrowed(_))));
        // Off: as decoded.
        let RecordData::Lines(l) = decode_record(data).unwrap() else {
            panic!()
        };
        let off = MultilineLimits {
            max_lines: 1,
            ..MultilineLimits::default()
        };
        assert_eq!(join_lines(l.clone(), off), l);
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
        let data = gz(payload.to_string().as_bytes());
        let RecordData::Lines(l) = decode_record(&data).unwrap() else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!(&*l[0].bytes, b"{\"level\":\"error\",\"msg\":\"boom\"}");
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
}
