//! CloudWatch Logs exported to S3 (`CreateExportTask`): each line is the
//! event's timestamp, ISO 8601 in UTC with milliseconds, a space, and the
//! message as the application wrote it:
//!
//! ```text
//! 2024-03-14T21:00:00.123Z {"level":"error","msg":"payment declined","service":"checkout"}
//! 2024-03-14T21:00:01.456Z START RequestId: 8f5e... Version: $LATEST
//! ```
//!
//! A JSON message is read as a JSON log, anything else as a text log; the
//! exported time is the row's time unless the message carries its own.

use super::stamp::Context;
use super::{json, text};
use crate::record::{Record, Reject};
use crate::time::parse_timestamp;

/// The line's export time and message, when it has the export's shape.
fn split(line: &str) -> Option<(i64, &str)> {
    let (stamp, message) = line.split_once(' ')?;
    let b = stamp.as_bytes();
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly as CloudWatch Logs writes it.
    if b.len() != 24 || b[10] != b'T' || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    Some((parse_timestamp(stamp)?, message))
}

/// Whether `line` is an exported line whose message is a JSON object: the
/// one shape the generic formats would read wrongly (as text). Exported
/// text lines read the same as a text log either way.
pub fn looks_like(line: &str) -> bool {
    split(line).is_some_and(|(_, m)| json::looks_like(m))
}

/// Parse one exported line into `rec` (cleared).
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>, ctx: &Context) -> Result<(), Reject> {
    let (ts, message) = split(line).ok_or_else(|| {
        Reject::Malformed("not a CloudWatch Logs export line (<ISO 8601 time> <message>)".into())
    })?;
    if message.trim_start().starts_with('{') {
        json::parse(message, rec)?;
    } else {
        text::parse(message, rec, ctx)?;
    }
    if rec.ts.is_none() {
        rec.ts = Some(ts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Level, TextField as T};

    #[test]
    fn json_and_text_messages() {
        let ctx = Context::default();
        let l = r#"2024-03-14T21:00:00.123Z {"level":"error","msg":"payment declined","service":"checkout"}"#;
        assert!(looks_like(l));
        let mut r = Record::default();
        parse(l, &mut r, &ctx).unwrap();
        assert_eq!(r.ts, parse_timestamp("2024-03-14T21:00:00.123Z"));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.get(T::Service), Some("checkout"));
        assert_eq!(r.get(T::Message), Some("payment declined"));

        let l = "2024-03-14T21:00:01.456Z START RequestId: 8f5e2a1c Version: $LATEST";
        assert!(!looks_like(l), "a text line reads the same as text");
        let mut r = Record::default();
        parse(l, &mut r, &ctx).unwrap();
        assert_eq!(r.ts, parse_timestamp("2024-03-14T21:00:01.456Z"));
        assert!(r.get(T::Message).unwrap().contains("START RequestId"));

        // The message's own time wins over the export's.
        let l = r#"2024-03-14T21:00:05.000Z {"time":"2024-03-14T20:59:59Z","msg":"late"}"#;
        let mut r = Record::default();
        parse(l, &mut r, &ctx).unwrap();
        assert_eq!(r.ts, parse_timestamp("2024-03-14T20:59:59Z"));

        assert!(parse("2024-03-14 21:00:00 x", &mut Record::default(), &ctx).is_err());
        assert!(!looks_like(r#"{"a":1}"#));
    }
}
