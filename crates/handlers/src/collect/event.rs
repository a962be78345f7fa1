//! One POSTed event: validated, mapped onto the lake's columns, given its
//! deterministic `event_id`, and written as one line of loglake's normalized
//! NDJSON (what fn-stream and `loglake serve` read back without guessing).
//!
//! The mapping, in the words of the event API (Segment's and Snowplow's
//! users will recognise it):
//! - `event_type` (required, a string of 1 to 64 characters) -> `event_type`;
//! - `timestamp`: RFC 3339, or epoch milliseconds as a number or a string of
//!   digits -> `ts`; absent, the receive time, flagged
//!   `attributes.ts_inferred = "received"`;
//! - `user_id`, `session_id` (strings or numbers) -> their columns;
//! - `url` -> `attributes.url`;
//! - `properties` (an object): `order_id`, `sku`, `currency` and `amount`
//!   (or `revenue`, `total`, `value`) -> their columns, the rest ->
//!   `attributes.properties.<key>`;
//! - `event_id` (a string of at most 128 characters): the event's identity
//!   when no `Idempotency-Key` names the request;
//! - every other key -> `attributes.<key>`.
//!
//! Objects and arrays below the top level are kept as their JSON text.

use std::borrow::Cow;

use loglake_core::IngestOptions;
use loglake_core::ingest::Finisher;
use loglake_core::ingest::source::source_id;
use loglake_core::record::{Level, Record, Reject, SourceFormat, TextField, event_id};
use loglake_core::redact::RedactOptions;
use loglake_core::sinks::forward;
use serde_json::{Map, Value};

pub use crate::effects::Accepted;

/// The longest `event_type` accepted, in characters.
pub const MAX_EVENT_TYPE_CHARS: usize = 64;
/// The longest client-given `event_id` or `Idempotency-Key`, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// What every event of one request shares: when and where it was received.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub at_ms: i64,
    /// The service the events are filed under.
    pub service: &'a str,
    /// The region that collected them (`AWS_REGION`), if known.
    pub region: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The request's identity: the client's `Idempotency-Key`, else a
    /// random one; with the event's index it names each event.
    pub key: RequestKey<'a>,
    pub redact: RedactOptions,
}

/// Where a request's event ids come from.
#[derive(Debug, Clone, Copy)]
pub enum RequestKey<'a> {
    /// The client's `Idempotency-Key`: a retry names the same events.
    Client(&'a str),
    /// No key: made up for this request, unique with overwhelming odds.
    Generated(u128),
}

/// The id of event `index` of a request: from the client's key and the
/// index, else from the event's own `event_id`, else from the generated key.
pub fn id_of(key: RequestKey<'_>, index: usize, own: Option<&str>, out: &mut String) {
    match (key, own) {
        (RequestKey::Client(k), _) => {
            event_id(&source_id(&format!("collect:{k}")), index as u64, out)
        }
        (RequestKey::Generated(_), Some(own)) => {
            event_id(&source_id(&format!("collect-event:{own}")), 0, out)
        }
        (RequestKey::Generated(g), None) => event_id(
            &source_id(&format!("collect-request:{g:032x}")),
            index as u64,
            out,
        ),
    }
}

/// Validate and map one event (`index` in its request).
pub fn accept(value: &Value, index: usize, rx: &Received<'_>) -> Result<Accepted, String> {
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    let mut rec = Record::default();
    let event_type = match obj.get("event_type") {
        None | Some(Value::Null) => return Err("event_type is required".into()),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_EVENT_TYPE_CHARS => s,
        Some(_) => {
            return Err(format!(
                "event_type must be a string of 1 to {MAX_EVENT_TYPE_CHARS} characters"
            ));
        }
    };
    rec.set(TextField::EventType, event_type.as_str());
    rec.ts = Some(match obj.get("timestamp") {
        None | Some(Value::Null) => {
            rec.attr("ts_inferred", "received");
            rx.at_ms
        }
        Some(v) => timestamp(v)?,
    });
    let own_id = match obj.get("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => Some(s.as_str()),
        Some(_) => {
            return Err(format!(
                "event_id must be a string of 1 to {MAX_ID_BYTES} bytes"
            ));
        }
    };
    for (key, field) in [
        ("user_id", TextField::UserId),
        ("session_id", TextField::SessionId),
    ] {
        if let Some(v) = id_text(obj, key)? {
            rec.set(field, v);
        }
    }
    for (k, v) in obj {
        match k.as_str() {
            "event_type" | "timestamp" | "event_id" | "user_id" | "session_id" => {}
            "properties" => properties(v, &mut rec)?,
            _ => {
                if let Some(text) = attribute_text(v) {
                    rec.attr(k.as_str(), text);
                }
            }
        }
    }
    rec.level = Some(Level::Info);
    rec.set(TextField::Service, rx.service);
    if let Some(r) = rx.region {
        rec.set(TextField::Region, r);
    }
    if let Some(ip) = rx.client_ip {
        rec.set(TextField::ClientIp, ip);
    }
    if let Some(ua) = rx.user_agent {
        rec.set(TextField::UserAgent, ua);
    }
    rec.source_format = Some(SourceFormat::Http);

    let mut id = String::new();
    id_of(rx.key, index, own_id, &mut id);
    rec.event_id = Some(Cow::Borrowed(id.as_str()));
    // The same checks and masking as every other path: the time's range,
    // then PII.
    let opts = IngestOptions {
        redact: rx.redact,
        forwarded: true,
        ..IngestOptions::default()
    };
    let ts = Finisher::new(&opts, Some(rx.at_ms))
        .finish(&mut rec)
        .map_err(|r| match r {
            Reject::TimestampOutOfRange => {
                "timestamp is outside the accepted range (after 2000, at most a day ahead)"
                    .to_string()
            }
            other => other.reason().into_owned(),
        })?;
    let mut line = Vec::with_capacity(256);
    forward::write_ndjson(&rec, ts, SourceFormat::Http, &id, &mut line);
    drop(rec);
    Ok(Accepted {
        event_id: id,
        ts_ms: ts,
        line,
    })
}

/// RFC 3339, or epoch milliseconds (a number, or a string of digits).
fn timestamp(v: &Value) -> Result<i64, String> {
    let bad = || "timestamp must be RFC 3339 or epoch milliseconds".to_string();
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(bad),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().map_err(|_| bad())
        }
        // A date-time with its offset: a time without one names no instant.
        Value::String(s) if s.len() > 10 => {
            let tail = &s[s.len().saturating_sub(6)..];
            let has_offset = s.ends_with('Z')
                || s.ends_with('z')
                || tail.starts_with('+')
                || tail.starts_with('-');
            if !has_offset {
                return Err("timestamp must carry its offset (Z or +HH:MM)".into());
            }
            loglake_core::time::parse_iso8601(s).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// A user or session id: a string or a number, as text.
fn id_text<'v>(obj: &'v Map<String, Value>, key: &str) -> Result<Option<Cow<'v, str>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
        Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(_) => Err(format!("{key} must be a string or a number")),
    }
}

/// A value as attribute text: strings as they are, scalars as JSON, objects
/// and arrays as their JSON text; null is no attribute.
fn attribute_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// `properties`: the commerce fields to their columns, the rest kept.
fn properties<'v>(v: &'v Value, rec: &mut Record<'v>) -> Result<(), String> {
    let obj = match v {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        _ => return Err("properties must be an object".into()),
    };
    for (k, v) in obj {
        let column = match k.as_str() {
            "order_id" => Some(TextField::OrderId),
            "sku" => Some(TextField::Sku),
            "currency" => Some(TextField::Currency),
            _ => None,
        };
        match (column, v) {
            (Some(f), Value::String(s)) => rec.set(f, s.as_str()),
            (Some(f), Value::Number(n)) => rec.set(f, n.to_string()),
            _ if matches!(k.as_str(), "amount" | "revenue" | "total" | "value")
                && rec.amount.is_none() =>
            {
                match v {
                    Value::Number(n) => rec.amount = n.as_f64(),
                    Value::String(s) => match s.trim().parse::<f64>() {
                        Ok(a) if a.is_finite() => rec.amount = Some(a),
                        _ => return Err(format!("properties.{k} must be a number")),
                    },
                    _ => return Err(format!("properties.{k} must be a number")),
                }
            }
            _ => {
                if let Some(text) = attribute_text(v) {
                    rec.attr(format!("properties.{k}"), text);
                }
            }
        }
    }
    Ok(())
}
