//! The one normalized log record every parser produces (design.md, "One record,
//! one schema"), borrowed from the input line wherever possible.

use std::borrow::Cow;

/// Severity, normalized from whatever spelling or number the source used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// Parse a level name in any common spelling (case-insensitive), or a
    /// numeric level (syslog 0-7, bunyan/pino 10-60).
    pub fn parse(s: &str) -> Option<Level> {
        // The names as the lake writes them, and most loggers: no trimming,
        // number parsing or case folding for those.
        match s {
            "INFO" => return Some(Level::Info),
            "WARN" => return Some(Level::Warn),
            "ERROR" => return Some(Level::Error),
            "DEBUG" => return Some(Level::Debug),
            "TRACE" => return Some(Level::Trace),
            "FATAL" => return Some(Level::Fatal),
            _ => {}
        }
        let s = s.trim();
        if s.is_empty() || s.len() > 12 {
            return None;
        }
        if let Ok(n) = s.parse::<u32>() {
            return Level::from_number(n);
        }
        let mut buf = [0u8; 12];
        let up = &mut buf[..s.len()];
        up.copy_from_slice(s.as_bytes());
        up.make_ascii_uppercase();
        Some(match &*up {
            b"TRACE" | b"TRC" | b"FINEST" | b"FINER" | b"VERBOSE" => Level::Trace,
            b"DEBUG" | b"DBG" | b"FINE" | b"D" => Level::Debug,
            b"INFO" | b"INF" | b"INFORMATION" | b"INFORMATIONAL" | b"NOTICE" | b"I" => Level::Info,
            b"WARN" | b"WARNING" | b"WRN" | b"W" => Level::Warn,
            b"ERROR" | b"ERR" | b"SEVERE" | b"E" => Level::Error,
            b"FATAL" | b"CRITICAL" | b"CRIT" | b"ALERT" | b"EMERG" | b"EMERGENCY" | b"PANIC"
            | b"F" => Level::Fatal,
            _ => return None,
        })
    }

    /// bunyan/pino use 10..=60, syslog severities are 0..=7 (0 = emergency).
    pub fn from_number(n: u32) -> Option<Level> {
        Some(match n {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            10 => Level::Trace,
            20 => Level::Debug,
            30 => Level::Info,
            40 => Level::Warn,
            50 => Level::Error,
            60 => Level::Fatal,
            _ => return None,
        })
    }

    pub fn is_error(self) -> bool {
        self >= Level::Error
    }
}

/// Which parser produced a record (the `source_format` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Json,
    Combined,
    Alb,
    Cloudfront,
    /// Amazon VPC Flow Logs.
    VpcFlow,
    /// CloudWatch Logs: a subscription's events through Kinesis, or an
    /// export to S3.
    Cwlogs,
    CloudTrail,
    /// AWS WAF web ACL logs.
    Waf,
    Route53Resolver,
    NetworkFirewall,
    /// Amazon S3 server access logs.
    S3Access,
    Text,
    /// A user-defined format of a `formats.toml` (the manifest names it).
    Custom,
    /// An event POSTed to the HTTP collector (fn-collect, `loglake serve`).
    Http,
}

impl SourceFormat {
    pub fn parse(s: &str) -> Option<SourceFormat> {
        Some(match s {
            "json" => SourceFormat::Json,
            "combined" => SourceFormat::Combined,
            "alb" => SourceFormat::Alb,
            "cloudfront" => SourceFormat::Cloudfront,
            "vpcflow" => SourceFormat::VpcFlow,
            "cwlogs" => SourceFormat::Cwlogs,
            "cloudtrail" => SourceFormat::CloudTrail,
            "waf" => SourceFormat::Waf,
            "route53resolver" => SourceFormat::Route53Resolver,
            "networkfirewall" => SourceFormat::NetworkFirewall,
            "s3access" => SourceFormat::S3Access,
            "text" => SourceFormat::Text,
            "custom" => SourceFormat::Custom,
            "http" => SourceFormat::Http,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Json => "json",
            SourceFormat::Combined => "combined",
            SourceFormat::Alb => "alb",
            SourceFormat::Cloudfront => "cloudfront",
            SourceFormat::VpcFlow => "vpcflow",
            SourceFormat::Cwlogs => "cwlogs",
            SourceFormat::CloudTrail => "cloudtrail",
            SourceFormat::Waf => "waf",
            SourceFormat::Route53Resolver => "route53resolver",
            SourceFormat::NetworkFirewall => "networkfirewall",
            SourceFormat::S3Access => "s3access",
            SourceFormat::Text => "text",
            SourceFormat::Custom => "custom",
            SourceFormat::Http => "http",
        }
    }
}

/// A record's text columns, in schema order. The index of a variant is the
/// index into [`Record::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TextField {
    Service,
    Message,
    Host,
    Region,
    HttpMethod,
    HttpPath,
    ClientIp,
    UserAgent,
    UserId,
    SessionId,
    TraceId,
    RequestId,
    EventType,
    OrderId,
    Sku,
    Currency,
    ErrorType,
}

impl TextField {
    pub const ALL: [TextField; 17] = [
        TextField::Service,
        TextField::Message,
        TextField::Host,
        TextField::Region,
        TextField::HttpMethod,
        TextField::HttpPath,
        TextField::ClientIp,
        TextField::UserAgent,
        TextField::UserId,
        TextField::SessionId,
        TextField::TraceId,
        TextField::RequestId,
        TextField::EventType,
        TextField::OrderId,
        TextField::Sku,
        TextField::Currency,
        TextField::ErrorType,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The column name in the lake, the Glue table and the search index.
    pub fn column(self) -> &'static str {
        match self {
            TextField::Service => "service",
            TextField::Message => "message",
            TextField::Host => "host",
            TextField::Region => "region",
            TextField::HttpMethod => "http_method",
            TextField::HttpPath => "http_path",
            TextField::ClientIp => "client_ip",
            TextField::UserAgent => "user_agent",
            TextField::UserId => "user_id",
            TextField::SessionId => "session_id",
            TextField::TraceId => "trace_id",
            TextField::RequestId => "request_id",
            TextField::EventType => "event_type",
            TextField::OrderId => "order_id",
            TextField::Sku => "sku",
            TextField::Currency => "currency",
            TextField::ErrorType => "error_type",
        }
    }
}

/// One normalized log record. Strings borrow from the input line unless the
/// parser had to unescape or build them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record<'a> {
    /// Event time, UTC milliseconds since the epoch.
    pub ts: Option<i64>,
    pub level: Option<Level>,
    /// Indexed by `TextField as usize`.
    pub text: [Option<Cow<'a, str>>; TextField::COUNT],
    pub http_status: Option<i16>,
    pub latency_ms: Option<f64>,
    pub bytes_sent: Option<i64>,
    pub amount: Option<f64>,
    /// Every source field without a column of its own, so nothing is dropped.
    pub attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The format the record was first parsed from, when it arrives already
    /// normalized (loglake's own NDJSON, forwarded through Firehose).
    pub source_format: Option<SourceFormat>,
    /// The id fn-stream gave the event, when it arrives already normalized
    /// (kept only from a forwarded source; see [`event_id`]).
    pub event_id: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    pub fn get(&self, f: TextField) -> Option<&str> {
        self.text[f as usize].as_deref()
    }

    /// The value of the first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    pub fn set(&mut self, f: TextField, v: impl Into<Cow<'a, str>>) {
        self.text[f as usize] = Some(v.into());
    }

    /// Set a text column unless the value is empty or the conventional `-`
    /// placeholder of access logs.
    pub fn set_opt(&mut self, f: TextField, v: &'a str) {
        if !v.is_empty() && v != "-" {
            self.text[f as usize] = Some(Cow::Borrowed(v));
        }
    }

    pub fn attr(&mut self, k: impl Into<Cow<'a, str>>, v: impl Into<Cow<'a, str>>) {
        self.attributes.push((k.into(), v.into()));
    }

    /// Whether this record was already forwarded by fn-stream: it arrived as
    /// loglake's normalized NDJSON (through Firehose), so it was indexed and
    /// counted for alerts there, within seconds, and its service was set
    /// where it was first parsed. The one place this is decided; the
    /// [`Finisher`](crate::ingest::Finisher) keeps the mark only on sources
    /// known to be forwarded (`IngestOptions::forwarded`), never on the
    /// word of the content.
    pub fn is_forwarded(&self) -> bool {
        self.source_format.is_some()
    }

    /// Reset for reuse without giving back the attributes' capacity.
    pub fn clear(&mut self) {
        self.ts = None;
        self.level = None;
        for t in &mut self.text {
            *t = None;
        }
        self.http_status = None;
        self.latency_ms = None;
        self.bytes_sent = None;
        self.amount = None;
        self.attributes.clear();
        self.source_format = None;
        self.event_id = None;
    }
}

/// Why a line could not become a row. Every variant is a quarantine reason,
/// spelled by [`Reject::reason`] in manifests and quarantine records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    /// Longer than the configured maximum line length.
    OversizedLine,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// Looked like JSON (starts with `{`) but is not a complete JSON object.
    InvalidJson(String),
    /// Nested deeper than the parser allows.
    NestingTooDeep,
    /// The line does not have the shape of the object's format.
    Malformed(String),
    /// A timestamp field is present but no known timestamp syntax.
    InvalidTimestamp(String),
    /// No timestamp, and none to inherit from an earlier line or the object.
    MissingTimestamp,
    /// The timestamp parses but lies outside the accepted range.
    TimestampOutOfRange,
    /// A field's value cannot be held by its column's type.
    WrongType(&'static str),
    /// The input ended in the middle of a line (truncated or corrupt compression).
    TruncatedInput,
    /// The row's hour would be a partition past the source's limit of
    /// distinct hours (`IngestOptions::max_partitions`).
    PartitionLimit,
}

impl Reject {
    /// The stable, machine-readable reason, as counted in the manifest.
    pub fn reason(&self) -> Cow<'static, str> {
        match self {
            Reject::OversizedLine => "oversized_line".into(),
            Reject::InvalidUtf8 => "invalid_utf8".into(),
            Reject::InvalidJson(_) => "invalid_json".into(),
            Reject::NestingTooDeep => "nesting_too_deep".into(),
            Reject::Malformed(_) => "malformed".into(),
            Reject::InvalidTimestamp(_) => "invalid_timestamp".into(),
            Reject::MissingTimestamp => "missing_timestamp".into(),
            Reject::TimestampOutOfRange => "timestamp_out_of_range".into(),
            Reject::WrongType(col) => format!("wrong_type:{col}").into(),
            Reject::TruncatedInput => "truncated_input".into(),
            Reject::PartitionLimit => "partition_limit".into(),
        }
    }

    /// A human explanation to go with the reason.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Reject::InvalidJson(d) | Reject::Malformed(d) | Reject::InvalidTimestamp(d) => Some(d),
            _ => None,
        }
    }
}

/// An event's id, the same wherever the event goes (the lake's `event_id`,
/// the search `_id`): the short id of the source it came in (a file's or
/// object's identity, a Kinesis record's stream/shard/sequence) and its
/// position there (a line's byte offset, a line's index in a record).
/// At-least-once delivery may write an event twice; both copies carry one
/// id, so duplicates can be seen and removed (`logs_dedup`).
pub fn event_id(source_id: &str, position: u64, out: &mut String) {
    out.clear();
    out.push_str(source_id);
    out.push('-');
    // Once per row: the digits by hand, not through `write!`, and pushed as
    // one string (ASCII digits), not char by char.
    let mut buf = [0u8; 20];
    out.push_str(std::str::from_utf8(decimal(position, &mut buf)).unwrap_or_default());
}

/// The decimal digits of `n` (as `format!("{n}")` has them), written into
/// the end of `buf`: for the writers that run once per row or line, where
/// the formatting machinery showed in profiles.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_the_source_and_the_position_in_decimal() {
        let mut id = String::from("left over");
        for p in [
            0,
            1,
            9,
            10,
            99,
            100,
            123_456_789,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            event_id("0123456789abcdef", p, &mut id);
            assert_eq!(id, format!("0123456789abcdef-{p}"));
        }
    }

    #[test]
    fn level_spellings() {
        for (s, l) in [
            ("info", Level::Info),
            ("WARNING", Level::Warn),
            ("err", Level::Error),
            ("Critical", Level::Fatal),
            ("30", Level::Info),
            ("50", Level::Error),
            ("3", Level::Error),
            (" debug ", Level::Debug),
        ] {
            assert_eq!(Level::parse(s), Some(l), "{s}");
        }
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse(""), None);
        assert_eq!(Level::parse("verylonglevelname"), None);
    }
}
