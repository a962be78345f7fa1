//! JSON lines: a single-pass scanner that maps fields straight into a
//! [`Record`], without building a DOM.
//!
//! Field names are mapped to columns by one alias table ([`ALIASES`]); nested
//! objects are flattened into dotted names first, so `{"log":{"level":"warn"}}`
//! and `{"log.level":"warn"}` mean the same. Every field without a column
//! becomes an attribute (numbers as their literal text, arrays as their JSON
//! text), so nothing is dropped. When two aliases of one column are present,
//! the first wins and the other is kept as an attribute.
//!
//! A parser that reads many lines ([`parse_with`], what `Parser` and
//! fn-stream use) keeps each top-level position's last field name and its
//! column ([`Keys`], `keys.rs`): loggers write their fields in one order,
//! so most names are matched against the line before's instead of scanned
//! and looked up.

mod keys;

use std::borrow::Cow;

pub use keys::Keys;

use super::clip;
use crate::record::{Level, Record, Reject, TextField};
use crate::time;

/// Objects and arrays nested deeper than this are rejected: deep nesting is a
/// sign of garbage or an attack, and flattening it helps nobody.
pub const MAX_DEPTH: usize = 32;

/// The column a JSON field feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Ts,
    Level,
    Text(TextField),
    HttpStatus,
    LatencyMs,
    BytesSent,
    Amount,
    /// loglake's own normalized NDJSON names the format it came from.
    SourceFormat,
    /// ... and the event's id.
    EventId,
}

macro_rules! aliases {
    ($($col:expr => [$($name:literal),+ $(,)?]),+ $(,)?) => {
        /// Every field name (after flattening) that feeds a column, in one place.
        pub const ALIASES: &[(Column, &[&str])] = &[$(($col, &[$($name),+])),+];

        /// The column a field name feeds, if any.
        pub fn column_for(key: &str) -> Option<Column> {
            match key {
                $($($name)|+ => Some($col),)+
                _ => None,
            }
        }
    };
}

use TextField as T;
aliases! {
    Column::Ts => ["timestamp", "@timestamp", "time", "ts", "datetime", "date", "eventTime", "event_time", "timeMillis", "timestampMs"],
    Column::Level => ["level", "severity", "lvl", "log.level", "loglevel", "log_level", "levelname", "level_name", "severity_text", "severityText"],
    Column::Text(T::Service) => ["service", "app", "service.name", "service_name", "serviceName", "application", "app_name", "svc"],
    Column::Text(T::Message) => ["message", "msg", "@message", "log", "text", "body"],
    Column::Text(T::Host) => ["host", "hostname", "host.name", "host_name", "server", "instance", "pod"],
    Column::Text(T::Region) => ["region", "aws_region", "awsRegion", "cloud.region"],
    Column::Text(T::HttpMethod) => ["http_method", "method", "http.method", "http.request.method", "request_method", "httpMethod", "verb"],
    Column::Text(T::HttpPath) => ["http_path", "path", "http.path", "url.path", "uri", "url", "request_uri", "http.url", "http.target", "request_path"],
    Column::HttpStatus => ["http_status", "status", "status_code", "statusCode", "http.status_code", "http.response.status_code", "response_status", "http_status_code"],
    Column::LatencyMs => ["latency_ms", "duration_ms", "elapsed_ms", "response_time_ms", "took_ms", "latencyMs", "durationMs", "request_time_ms"],
    Column::BytesSent => ["bytes_sent", "body_bytes_sent", "response_bytes", "bytes_out", "http.response.body.bytes", "bytesSent", "size"],
    Column::Text(T::ClientIp) => ["client_ip", "ip", "remote_addr", "remote_ip", "clientip", "client.ip", "source.ip", "clientIp", "sourceIp", "remoteAddr"],
    Column::Text(T::UserAgent) => ["user_agent", "http_user_agent", "userAgent", "user_agent.original", "ua", "http.user_agent"],
    Column::Text(T::UserId) => ["user_id", "userId", "user.id", "uid", "customer_id", "customerId"],
    Column::Text(T::SessionId) => ["session_id", "sessionId", "session.id", "sid"],
    Column::Text(T::TraceId) => ["trace_id", "traceId", "trace.id", "dd.trace_id", "x_amzn_trace_id", "traceID"],
    Column::Text(T::RequestId) => ["request_id", "requestId", "req_id", "x_request_id", "aws_request_id", "awsRequestId", "http.request.id"],
    Column::Text(T::EventType) => ["event_type", "eventType", "event", "event.action", "event_name"],
    Column::Text(T::OrderId) => ["order_id", "orderId", "order.id"],
    Column::Text(T::Sku) => ["sku", "product_sku", "productSku"],
    Column::Text(T::Currency) => ["currency", "currency_code", "currencyCode"],
    Column::Amount => ["amount", "total", "order_total", "orderTotal", "amount_value"],
    Column::SourceFormat => ["source_format"],
    Column::EventId => ["event_id"],
    Column::Text(T::ErrorType) => ["error_type", "errorType", "error.type", "exception", "exception_class", "exception.type", "err.name"],
}

/// A scalar JSON value, borrowed from the line where possible.
#[derive(Debug)]
enum Value<'a> {
    Str(Cow<'a, str>),
    /// The literal text of a number (validated JSON number syntax).
    Num(&'a str),
    Bool(bool),
    Null,
    /// An array, as its JSON text.
    Raw(&'a str),
}

/// Parse one JSON line into `rec`.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
    parse_mapped(line, rec, column_for)
}

/// Which column a (flattened) field name feeds: [`column_for`] for any JSON
/// log, a format's own table for a known layout (CloudTrail, WAF, ...).
pub type Columns = fn(&str) -> Option<Column>;

/// Parse one JSON line into `rec`, mapping field names with `columns`.
pub fn parse_mapped<'a>(
    line: &'a str,
    rec: &mut Record<'a>,
    columns: Columns,
) -> Result<(), Reject> {
    Scanner::new(line, columns, None).run(rec)
}

/// [`parse`], reading the top-level field names the lines before had at
/// the same positions from `keys` first ([`Keys`]): what one parser keeps
/// from line to line.
pub fn parse_with<'a>(line: &'a str, rec: &mut Record<'a>, keys: &mut Keys) -> Result<(), Reject> {
    let mut p = Scanner::new(line, column_for, Some(std::mem::take(&mut keys.seen)));
    let r = p.run(rec);
    keys.seen = p.keys.unwrap_or_default();
    r
}

struct Scanner<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    columns: Columns,
    /// Top-level field names by position ([`Keys`]), when kept.
    keys: Option<Vec<keys::Seen>>,
}

impl<'a> Scanner<'a> {
    /// `keys`: the names of the lines before, to read this line's through.
    fn new(line: &'a str, columns: Columns, keys: Option<Vec<keys::Seen>>) -> Self {
        Scanner {
            s: line,
            b: line.as_bytes(),
            i: 0,
            columns,
            keys,
        }
    }

    fn run(&mut self, rec: &mut Record<'a>) -> Result<(), Reject> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(Reject::InvalidJson("not a json object".into()));
        }
        self.i += 1;
        self.object(rec, None, 1)?;
        self.ws();
        if self.i != self.b.len() {
            return Err(self.err("trailing characters after the object"));
        }
        Ok(())
    }
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn err(&self, what: &str) -> Reject {
        if self.i >= self.b.len() {
            Reject::InvalidJson(format!("{what}: unexpected end of line"))
        } else {
            Reject::InvalidJson(format!("{what} at byte {}", self.i))
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), Reject> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// The members of an object whose `{` was consumed, flattened under
    /// `prefix` into `rec`.
    fn object(
        &mut self,
        rec: &mut Record<'a>,
        prefix: Option<&str>,
        depth: usize,
    ) -> Result<(), Reject> {
        let top = prefix.is_none() && depth == 1;
        self.members(depth, top, |s, key, column| {
            let key: Cow<'a, str> = match prefix {
                Some(p) => Cow::Owned(format!("{p}.{key}")),
                None => key,
            };
            if s.peek() == Some(b'{') && prefix.is_none() && key == "attributes" {
                // An `attributes` object (loglake's normalized NDJSON, and
                // OpenTelemetry logs) holds fields under their own names.
                s.i += 1;
                s.attributes(rec, depth + 1)
            } else if s.peek() == Some(b'{') {
                s.i += 1;
                s.object(rec, Some(&key), depth + 1)
            } else {
                let v = s.value(depth)?;
                let column = match column {
                    Some(c) => c,
                    None => (s.columns)(&key),
                };
                assign(rec, key, v, column)
            }
        })
    }

    /// The members of an `attributes` object whose `{` was consumed: each
    /// one an attribute of its own name, nested values as JSON text.
    fn attributes(&mut self, rec: &mut Record<'a>, depth: usize) -> Result<(), Reject> {
        self.members(depth, false, |s, key, _| {
            match s.value(depth)? {
                Value::Null => {}
                v => rec.attributes.push((key, v.into_text())),
            }
            Ok(())
        })
    }

    /// Walk the members of an object whose `{` was consumed: `member` gets
    /// each key with the scanner at its value, and consumes the value.
    /// `top`: the line's own object, whose names are read through the
    /// names of the line before ([`Keys`]); `member` then also gets each
    /// key's column.
    fn members(
        &mut self,
        depth: usize,
        top: bool,
        mut member: impl FnMut(&mut Self, Cow<'a, str>, Option<Option<Column>>) -> Result<(), Reject>,
    ) -> Result<(), Reject> {
        let top = top && self.keys.is_some();
        let mut k = 0;
        if depth > MAX_DEPTH {
            return Err(Reject::NestingTooDeep);
        }
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a field name"));
            }
            self.i += 1;
            let (key, column) = if top {
                let (key, column) = self.top_key(k)?;
                (key, Some(column))
            } else {
                (self.string()?, None)
            };
            k += 1;
            self.expect(b':', "expected ':'")?;
            self.ws();
            member(self, key, column)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    /// A value other than an object in flattening position.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, Reject> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                Ok(Value::Str(self.string()?))
            }
            Some(b'[' | b'{') => {
                let start = self.i;
                self.skip_value(depth)?;
                Ok(Value::Raw(&self.s[start..self.i]))
            }
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Value::Num(self.number()?)),
            _ => Err(self.err("expected a value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value<'a>) -> Result<Value<'a>, Reject> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// Validate and step over any value (inside arrays, or a whole array).
    fn skip_value(&mut self, depth: usize) -> Result<(), Reject> {
        if depth > MAX_DEPTH {
            return Err(Reject::NestingTooDeep);
        }
        self.ws();
        let (close, is_obj) = match self.peek() {
            Some(b'[') => (b']', false),
            Some(b'{') => (b'}', true),
            _ => return self.value(depth).map(drop),
        };
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if is_obj {
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected a field name"));
                }
                self.i += 1;
                self.string()?;
                self.expect(b':', "expected ':'")?;
            }
            self.skip_value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or a closing bracket")),
            }
        }
    }

    fn number(&mut self) -> Result<&'a str, Reject> {
        let start = self.i;
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == int_start || (b[int_start] == b'0' && i - int_start > 1) {
            self.i = i;
            return Err(self.err("invalid number"));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let f = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == f {
                self.i = i;
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let e = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == e {
                self.i = i;
                return Err(self.err("invalid number"));
            }
        }
        self.i = i;
        Ok(&self.s[start..i])
    }

    /// The rest of a string whose opening quote was consumed. Borrowed unless
    /// it contains escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, Reject> {
        let start = self.i;
        match quote_or_backslash(&self.b[start..]) {
            Some(n) if self.b[start + n] == b'"' => {
                self.i = start + n + 1;
                Ok(Cow::Borrowed(&self.s[start..start + n]))
            }
            Some(n) => {
                self.i = start + n;
                let mut out = String::with_capacity(n + 16);
                out.push_str(&self.s[start..start + n]);
                self.escaped(out).map(Cow::Owned)
            }
            None => {
                self.i = self.b.len();
                Err(self.err("unterminated string"))
            }
        }
    }

    /// Continue a string at a backslash, unescaping into `out`.
    fn escaped(&mut self, mut out: String) -> Result<String, Reject> {
        loop {
            let Some(n) = quote_or_backslash(&self.b[self.i..]) else {
                self.i = self.b.len();
                return Err(self.err("unterminated string"));
            };
            out.push_str(&self.s[self.i..self.i + n]);
            self.i += n;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(out);
            }
            let Some(&e) = self.b.get(self.i + 1) else {
                self.i += 1;
                return Err(self.err("unterminated string"));
            };
            self.i += 2;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let c = self.unicode_escape()?;
                    out.push(c);
                }
                _ => return Err(self.err("invalid escape")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Reject> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let mut v = 0;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    /// `\uXXXX`, joining surrogate pairs; a lone surrogate becomes U+FFFD
    /// rather than failing the line, as most JSON producers emit them.
    fn unicode_escape(&mut self) -> Result<char, Reject> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.i = save;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }
}

/// The first `"` or `\\` in `b`. Most keys and values end within a few
/// words, where eight bytes at a time in a register beat `memchr2`'s vector
/// setup; a longer string goes on with `memchr2`.
#[inline]
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    // The high bit of each zero byte of `x`, and maybe of bytes above the
    // lowest zero byte (borrows): the lowest flagged byte is always right.
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = 0;
    while i < 32 {
        let Some(w) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) else {
            return b[i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
                .map(|n| i + n);
        };
        let x = u64::from_le_bytes(*w);
        let hit = zeros(x ^ QUOTES) | zeros(x ^ BACKSLASHES);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr2(b'"', b'\\', &b[i..]).map(|n| i + n)
}

/// Put one flattened field into `column`, or into the attributes.
fn assign<'a>(
    rec: &mut Record<'a>,
    key: Cow<'a, str>,
    v: Value<'a>,
    column: Option<Column>,
) -> Result<(), Reject> {
    if matches!(v, Value::Null) {
        return Ok(());
    }
    let Some(col) = column else {
        rec.attributes.push((key, v.into_text()));
        return Ok(());
    };
    let taken = match col {
        Column::Ts => rec.ts.is_some(),
        Column::Level => rec.level.is_some(),
        Column::Text(f) => rec.text[f as usize].is_some(),
        Column::HttpStatus => rec.http_status.is_some(),
        Column::LatencyMs => rec.latency_ms.is_some(),
        Column::BytesSent => rec.bytes_sent.is_some(),
        Column::Amount => rec.amount.is_some(),
        Column::SourceFormat => rec.source_format.is_some(),
        Column::EventId => rec.event_id.is_some(),
    };
    if taken {
        rec.attributes.push((key, v.into_text()));
        return Ok(());
    }
    match col {
        Column::Ts => {
            let ms = match &v {
                Value::Str(s) => time::parse_timestamp(s),
                Value::Num(n) => time::parse_epoch(n),
                _ => None,
            };
            rec.ts = Some(ms.ok_or_else(|| {
                Reject::InvalidTimestamp(format!("{key}: {}", clip(&v.into_text(), 64)))
            })?);
        }
        Column::Level => {
            let text = v.into_text();
            match Level::parse(&text) {
                Some(l) => rec.level = Some(l),
                // An unknown level is kept verbatim rather than guessed.
                None => rec.attributes.push((key, text)),
            }
        }
        Column::Text(f) => rec.text[f as usize] = Some(v.into_text()),
        Column::HttpStatus => {
            rec.http_status = Some(
                v.integer()
                    .and_then(|n| i16::try_from(n).ok())
                    .filter(|n| *n >= 0)
                    .ok_or(Reject::WrongType("http_status"))?,
            );
        }
        Column::LatencyMs => {
            rec.latency_ms = Some(v.float().ok_or(Reject::WrongType("latency_ms"))?);
        }
        Column::BytesSent => {
            rec.bytes_sent = Some(v.integer().ok_or(Reject::WrongType("bytes_sent"))?);
        }
        Column::Amount => rec.amount = Some(v.float().ok_or(Reject::WrongType("amount"))?),
        Column::EventId => rec.event_id = Some(v.into_text()),
        Column::SourceFormat => {
            let text = v.into_text();
            match crate::record::SourceFormat::parse(&text) {
                Some(f) => rec.source_format = Some(f),
                None => rec.attributes.push((key, text)),
            }
        }
    }
    Ok(())
}

impl<'a> Value<'a> {
    fn into_text(self) -> Cow<'a, str> {
        match self {
            Value::Str(s) => s,
            Value::Num(n) | Value::Raw(n) => Cow::Borrowed(n),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
            Value::Null => Cow::Borrowed("null"),
        }
    }

    /// A number, or a string holding one ("200" is a fine status), as f64.
    fn float(&self) -> Option<f64> {
        let s = match self {
            Value::Num(n) => n,
            Value::Str(s) => s.trim(),
            _ => return None,
        };
        s.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    /// An integer; integral floats (`512.0`) count, fractions do not.
    fn integer(&self) -> Option<i64> {
        let s = match self {
            Value::Num(n) => n,
            Value::Str(s) => s.trim(),
            _ => return None,
        };
        if let Ok(n) = s.parse::<i64>() {
            return Some(n);
        }
        let f = s.parse::<f64>().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    }
}

/// Cheap sniff: does this line look like a JSON object?
pub fn looks_like(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('{') && t.ends_with('}')
}

#[cfg(test)]
mod tests;
