//! A request body into events: its content type and encoding checked, gzip
//! inflated within the size limit, and split into one JSON value per event
//! (one object, an array of them, or NDJSON).

use std::io::Read;

use serde_json::Value;

/// Why a body was refused as a whole, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// 415: a content type or encoding the collector does not read.
    Unsupported(String),
    /// 413: larger than the limit, compressed or decoded.
    TooLarge(usize),
    /// 400: not JSON, or no events in it.
    Invalid(String),
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Unsupported(_) => 415,
            BodyError::TooLarge(_) => 413,
            BodyError::Invalid(_) => 400,
        }
    }

    pub fn message(&self) -> String {
        match self {
            BodyError::Unsupported(m) | BodyError::Invalid(m) => m.clone(),
            BodyError::TooLarge(limit) => format!("the body is larger than {limit} bytes"),
        }
    }
}

/// How the events are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `application/json` (or `text/plain`, what `navigator.sendBeacon`
    /// sends): one object, an array, or objects one per line.
    Json,
    /// `application/x-ndjson` and its aliases: one object per line, each
    /// line judged alone.
    Ndjson,
}

/// The layout a `Content-Type` names; a missing one is read as JSON.
pub fn layout(content_type: Option<&str>) -> Result<Layout, BodyError> {
    let Some(ct) = content_type else {
        return Ok(Layout::Json);
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" | "text/plain" | "" => Ok(Layout::Json),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "application/jsonlines" => Ok(Layout::Ndjson),
        _ => Err(BodyError::Unsupported(format!(
            "content type {mime:?} is not read: send application/json or application/x-ndjson"
        ))),
    }
}

/// The body as sent, inflated when `Content-Encoding` says gzip; at most
/// `limit` bytes either way.
pub fn decode(
    body: &[u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if body.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    let encoding = content_encoding.unwrap_or("").trim().to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            // One byte past the limit tells "too large" from "exactly full";
            // a gzip bomb stops there.
            let mut gz = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
            gz.read_to_end(&mut out)
                .map_err(|e| BodyError::Invalid(format!("the gzip body cannot be read: {e}")))?;
            if out.len() > limit {
                return Err(BodyError::TooLarge(limit));
            }
            Ok(out)
        }
        other => Err(BodyError::Unsupported(format!(
            "content encoding {other:?} is not read: send gzip or no encoding"
        ))),
    }
}

/// One event's JSON, or why that one line could not be read (NDJSON).
pub type Item = Result<Value, String>;

/// Split a decoded body into events.
pub fn split(body: &[u8], layout: Layout) -> Result<Vec<Item>, BodyError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| BodyError::Invalid(format!("the body is not UTF-8: {e}")))?;
    let trimmed = text.trim_start();
    let items = match layout {
        Layout::Json if trimmed.starts_with('[') => serde_json::from_str::<Vec<Value>>(text)
            .map_err(|e| BodyError::Invalid(format!("the body is not a JSON array: {e}")))?
            .into_iter()
            .map(Ok)
            .collect(),
        Layout::Json => {
            // One object, or several one after another (NDJSON sent as
            // application/json): all must parse.
            let mut out = Vec::new();
            for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
                out.push(Ok(v.map_err(|e| {
                    BodyError::Invalid(format!("the body is not JSON: {e}"))
                })?));
            }
            out
        }
        Layout::Ndjson => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).map_err(|e| format!("invalid JSON: {e}")))
            .collect(),
    };
    if items.is_empty() {
        return Err(BodyError::Invalid("the body holds no events".into()));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn layouts_by_content_type() {
        assert_eq!(layout(None), Ok(Layout::Json));
        assert_eq!(
            layout(Some("application/json; charset=utf-8")),
            Ok(Layout::Json)
        );
        assert_eq!(layout(Some("text/plain;charset=UTF-8")), Ok(Layout::Json));
        assert_eq!(layout(Some("Application/X-NDJSON")), Ok(Layout::Ndjson));
        let e = layout(Some("application/x-www-form-urlencoded")).unwrap_err();
        assert_eq!(e.status(), 415);
        assert!(e.message().contains("x-www-form-urlencoded"));
    }

    #[test]
    fn gzip_inflates_within_the_limit() {
        let body = br#"{"event_type":"a"}"#;
        assert_eq!(decode(&gzip(body), Some("gzip"), 1024).unwrap(), body);
        // A bomb: 64 KiB of zeros in a few hundred bytes.
        let bomb = gzip(&vec![b' '; 65536]);
        assert!(bomb.len() < 1024);
        assert_eq!(
            decode(&bomb, Some("gzip"), 1024),
            Err(BodyError::TooLarge(1024))
        );
        assert_eq!(decode(body, None, 4), Err(BodyError::TooLarge(4)));
        assert_eq!(
            decode(b"not gzip", Some("gzip"), 1024)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(decode(body, Some("br"), 1024).unwrap_err().status(), 415);
    }

    #[test]
    fn one_object_an_array_or_lines() {
        let n = |b: &str, l| split(b.as_bytes(), l).map(|v| v.len());
        assert_eq!(n(r#"{"a":1}"#, Layout::Json), Ok(1));
        assert_eq!(n(r#" [{"a":1},{"a":2}] "#, Layout::Json), Ok(2));
        assert_eq!(n("{\"a\":1}\n{\"a\":2}\n", Layout::Json), Ok(2));
        assert_eq!(n("{\"a\":1}\n{\"a\":2}\n\n", Layout::Ndjson), Ok(2));
        // A bad line of NDJSON is that event's problem alone.
        let items = split(b"{\"a\":1}\n{oops\n", Layout::Ndjson).unwrap();
        assert!(items[0].is_ok() && items[1].is_err());
        // In a JSON body it spoils the body.
        assert_eq!(
            split(b"{\"a\":1}\n{oops", Layout::Json)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(split(b"[]", Layout::Json).unwrap_err().status(), 400);
        assert_eq!(split(b"  ", Layout::Ndjson).unwrap_err().status(), 400);
        assert_eq!(
            split(&[0xff, 0xfe], Layout::Json).unwrap_err().status(),
            400
        );
    }
}
