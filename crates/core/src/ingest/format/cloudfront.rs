//! CloudFront standard (legacy) access logs: W3C extended format, one
//! tab-separated line per request, after `#Version:` and `#Fields:` header
//! lines that name the columns. [`CloudFront`] keeps the field order of the
//! object being read: the documented default until a `#Fields:` line says
//! otherwise.
//!
//! Values are written as CloudFront encoded them, except the user agent,
//! which is percent-decoded because people search it as text.

use std::borrow::Cow;

use super::clf::{attr_opt, clip, count, extra_key, level_for_status, malformed, optional_status};
use crate::record::{Record, Reject, TextField};
use crate::time::from_civil;

/// What a column feeds. Everything without a column of its own is an
/// attribute named after the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Date,
    Time,
    EdgeLocation,
    ScBytes,
    ClientIp,
    Method,
    UriStem,
    Status,
    UserAgent,
    UriQuery,
    RequestId,
    TimeTaken,
    Attr,
}

/// Every field CloudFront documents, with its attribute key. The first 33 are
/// the default order of a legacy log file; the last two are newer and only
/// appear when a `#Fields:` line names them.
const KNOWN: [(&str, &str, Role); 35] = [
    ("date", "date", Role::Date),
    ("time", "time", Role::Time),
    ("x-edge-location", "x_edge_location", Role::EdgeLocation),
    ("sc-bytes", "sc_bytes", Role::ScBytes),
    ("c-ip", "c_ip", Role::ClientIp),
    ("cs-method", "cs_method", Role::Method),
    ("cs(Host)", "cs_host", Role::Attr),
    ("cs-uri-stem", "cs_uri_stem", Role::UriStem),
    ("sc-status", "sc_status", Role::Status),
    ("cs(Referer)", "cs_referer", Role::Attr),
    ("cs(User-Agent)", "cs_user_agent", Role::UserAgent),
    ("cs-uri-query", "cs_uri_query", Role::UriQuery),
    ("cs(Cookie)", "cs_cookie", Role::Attr),
    ("x-edge-result-type", "x_edge_result_type", Role::Attr),
    ("x-edge-request-id", "x_edge_request_id", Role::RequestId),
    ("x-host-header", "x_host_header", Role::Attr),
    ("cs-protocol", "cs_protocol", Role::Attr),
    ("cs-bytes", "cs_bytes", Role::Attr),
    ("time-taken", "time_taken", Role::TimeTaken),
    ("x-forwarded-for", "x_forwarded_for", Role::Attr),
    ("ssl-protocol", "ssl_protocol", Role::Attr),
    ("ssl-cipher", "ssl_cipher", Role::Attr),
    (
        "x-edge-response-result-type",
        "x_edge_response_result_type",
        Role::Attr,
    ),
    ("cs-protocol-version", "cs_protocol_version", Role::Attr),
    ("fle-status", "fle_status", Role::Attr),
    ("fle-encrypted-fields", "fle_encrypted_fields", Role::Attr),
    ("c-port", "c_port", Role::Attr),
    ("time-to-first-byte", "time_to_first_byte", Role::Attr),
    (
        "x-edge-detailed-result-type",
        "x_edge_detailed_result_type",
        Role::Attr,
    ),
    ("sc-content-type", "sc_content_type", Role::Attr),
    ("sc-content-len", "sc_content_len", Role::Attr),
    ("sc-range-start", "sc_range_start", Role::Attr),
    ("sc-range-end", "sc_range_end", Role::Attr),
    (
        "distribution-tenant-id",
        "distribution_tenant_id",
        Role::Attr,
    ),
    ("connection-id", "connection_id", Role::Attr),
];

/// Length of the documented default field list, a prefix of [`KNOWN`].
const DEFAULT_FIELDS: usize = 33;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    role: Role,
    /// Static for documented fields; owned (and copied per row) only for a
    /// field name this parser does not know.
    key: Cow<'static, str>,
}

impl Field {
    fn from_name(name: &str) -> Field {
        match KNOWN.iter().find(|(n, _, _)| *n == name) {
            Some(&(_, key, role)) => Field {
                role,
                key: Cow::Borrowed(key),
            },
            None => Field {
                role: Role::Attr,
                key: Cow::Owned(snake_case(name)),
            },
        }
    }
}

/// A CloudFront log reader's state: the field order of the current object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFront {
    fields: Vec<Field>,
}

impl Default for CloudFront {
    /// The documented default field order, for objects whose header was lost.
    fn default() -> Self {
        CloudFront {
            fields: KNOWN[..DEFAULT_FIELDS]
                .iter()
                .map(|&(_, key, role)| Field {
                    role,
                    key: Cow::Borrowed(key),
                })
                .collect(),
        }
    }
}

impl CloudFront {
    /// Consume a header or comment line (`#...`): a `#Fields:` line sets the
    /// field order for the lines after it. Returns whether the line was a
    /// header, so the caller skips it; any other line is left alone.
    pub fn header(&mut self, line: &str) -> bool {
        let Some(body) = line.strip_prefix('#') else {
            return false;
        };
        if let Some(names) = body.strip_prefix("Fields:") {
            let fields: Vec<Field> = names.split_whitespace().map(Field::from_name).collect();
            // An empty `#Fields:` would turn every value into `extra_N`;
            // keeping the previous order loses nothing.
            if !fields.is_empty() {
                self.fields = fields;
            }
        }
        true
    }

    /// The field names in force, snake_cased (for tests and diagnostics).
    pub fn field_keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.key.as_ref())
    }

    /// Parse one tab-separated log line into `rec` (already cleared). On error
    /// `rec` may hold some fields; the caller discards it.
    pub fn parse<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('#') {
            return Err(malformed("header line where a log line was expected"));
        }
        // Count first, so a cut-off line is `Malformed` whatever field it ends in.
        let found = memchr::memchr_iter(b'\t', line.as_bytes()).count() + 1;
        if found < self.fields.len() {
            return Err(Reject::Malformed(format!(
                "expected {} tab-separated fields, found {found}",
                self.fields.len()
            )));
        }

        let mut values = line.split('\t');
        let (mut date, mut time) = (None, None);
        let (mut stem, mut query) = ("-", "-");
        for field in &self.fields {
            // Counted above: there is a value for every field.
            let v = values.next().unwrap_or("");
            match field.role {
                Role::Date => date = Some(v),
                Role::Time => time = Some(v),
                Role::EdgeLocation => rec.set_opt(TextField::Host, v),
                Role::ScBytes => rec.bytes_sent = count(v, "bytes_sent")?,
                Role::ClientIp => rec.set_opt(TextField::ClientIp, v),
                Role::Method => rec.set_opt(TextField::HttpMethod, v),
                Role::UriStem => stem = v,
                Role::UriQuery => query = v,
                Role::Status => {
                    let status = optional_status(v)?;
                    rec.http_status = status;
                    rec.level = status.map(level_for_status);
                }
                Role::UserAgent => {
                    if !v.is_empty() && v != "-" {
                        rec.set(TextField::UserAgent, percent_decode(v));
                    }
                }
                Role::RequestId => rec.set_opt(TextField::RequestId, v),
                Role::TimeTaken => rec.latency_ms = seconds_to_ms(v)?,
                Role::Attr => {
                    if !v.is_empty() && v != "-" {
                        rec.attr(field.key.clone(), v);
                    }
                }
            }
        }
        for (i, v) in values.enumerate() {
            attr_opt(rec, extra_key(i + 1), v);
        }

        match (date, time) {
            (Some(d), Some(t)) => {
                rec.ts = Some(civil_ts(d, t).ok_or_else(|| {
                    Reject::InvalidTimestamp(format!(
                        "unparsable cloudfront date and time \"{} {}\"",
                        clip(d),
                        clip(t)
                    ))
                })?);
            }
            // A `#Fields:` line without both leaves the time to the pipeline;
            // whichever one is there is kept.
            (d, t) => {
                if let Some(d) = d {
                    attr_opt(rec, "date", d);
                }
                if let Some(t) = t {
                    attr_opt(rec, "time", t);
                }
            }
        }
        match (stem != "-", query != "-" && !query.is_empty()) {
            (true, true) => rec.set(TextField::HttpPath, format!("{stem}?{query}")),
            (true, false) => rec.set_opt(TextField::HttpPath, stem),
            (false, true) => attr_opt(rec, "cs_uri_query", query),
            (false, false) => {}
        }
        Ok(())
    }
}

/// Whether `line` looks like part of a CloudFront log: a header line, or a
/// tab-separated line that starts with a `YYYY-MM-DD<TAB>HH:MM:SS` pair.
pub fn looks_like(line: &str) -> bool {
    if line.starts_with("#Version:") || line.starts_with("#Fields:") {
        return true;
    }
    let b = line.as_bytes();
    b.len() > 19
        && b[10] == b'\t'
        && b[19] == b'\t'
        && line
            .get(..10)
            .zip(line.get(11..19))
            .is_some_and(|(d, t)| civil_ts(d, t).is_some())
}

/// `YYYY-MM-DD` and `HH:MM:SS`, both UTC, to epoch milliseconds.
fn civil_ts(date: &str, time: &str) -> Option<i64> {
    let (d, t) = (date.as_bytes(), time.as_bytes());
    if d.len() != 10 || d[4] != b'-' || d[7] != b'-' || t.len() != 8 || t[2] != b':' || t[5] != b':'
    {
        return None;
    }
    from_civil(
        i64::from(digits(&d[0..4])?),
        digits(&d[5..7])?,
        digits(&d[8..10])?,
        digits(&t[0..2])?,
        digits(&t[3..5])?,
        digits(&t[6..8])?,
        0,
    )
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `time-taken` in seconds (`0.102`) to milliseconds, rounded to the
/// microsecond so binary noise does not show (0.102 s is 102 ms, not
/// 102.00000000000001).
fn seconds_to_ms(s: &str) -> Result<Option<f64>, Reject> {
    if s == "-" {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(Some((t * 1e6).round() / 1e3)),
        _ => Err(Reject::WrongType("latency_ms")),
    }
}

/// Decode `%XX` escapes. Borrows when there is nothing to decode; keeps the
/// text as written when a `%` is not followed by two hex digits, and when the
/// decoded bytes are not UTF-8 (nothing is lost either way).
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h << 4) | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_or(Cow::Borrowed(s), Cow::Owned)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `cs(User-Agent)` -> `cs_user_agent`: lowercase, runs of anything else
/// than letters and digits become one `_`, none at the ends.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    if out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::format::clf::fuzz_lines;
    use crate::record::Level;

    fn run<'a>(cf: &CloudFront, line: &'a str) -> Result<Record<'a>, Reject> {
        let mut rec = Record::default();
        cf.parse(line, &mut rec).map(|()| rec)
    }

    fn attr<'r>(rec: &'r Record<'_>, k: &str) -> Option<&'r str> {
        let mut it = rec.attributes.iter().filter(|(key, _)| key == k);
        let v = it.next().map(|(_, v)| v.as_ref());
        assert!(it.next().is_none(), "{k} twice");
        v
    }

    const VERSION: &str = "#Version: 1.0";
    const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";
    // The AWS documentation's example log file (standard-logs-reference).
    const HIT: &str = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-";
    const ERROR_REFERER: &str = "2019-12-13\t22:36:27\tSEA19-C1\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/favicon.ico\t502\thttp://www.example.com/\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tError\t1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==\twww.example.com\thttp\t675\t0.102\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t25260\t0.102\tOriginDnsError\ttext/html\t507\t-\t-";
    const CURL: &str = "2019-12-13\t22:37:02\tSEA19-C2\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/\t502\t-\tcurl/7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example.com\thttp\t387\t0.103\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t12644\t0.103\tOriginDnsError\ttext/html\t507\t-\t-";
    // Older 26-field files (documentation of 2019): query, cookie, fle-*.
    const OLD_FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields";
    const OLD_QUERY: &str = "2014-05-23\t01:13:12\tLAX1\t2390282\t192.0.2.202\tGET\td111111abcdef8.cloudfront.net\t/soundtrack/happy.mp3\t304\twww.unknownsingers.com\tMozilla/4.0%20(compatible;%20MSIE%207.0;%20Windows%20NT%205.1)\ta=b&c=d\tzip=50158\tHit\txGN7KWpVEmB9Dp7ctcVFQC4E-nrcOcEKS3QyAez--06dV7TEXAMPLE==\td111111abcdef8.cloudfront.net\thttp\t-\t0.002\t-\t-\t-\tHit\tHTTP/1.1\t-\t-";

    #[test]
    fn documented_example_with_default_fields() {
        let mut cf = CloudFront::default();
        assert!(cf.header(VERSION));
        assert!(cf.header(FIELDS));
        assert_eq!(
            cf,
            CloudFront::default(),
            "the header names the default order"
        );
        let r = run(&cf, HIT).unwrap();
        assert_eq!(r.ts, Some(1_575_493_351_000));
        assert_eq!(r.get(TextField::Host), Some("LAX1"));
        assert_eq!(r.bytes_sent, Some(392));
        assert_eq!(r.get(TextField::ClientIp), Some("192.0.2.100"));
        assert_eq!(r.get(TextField::HttpMethod), Some("GET"));
        assert_eq!(r.get(TextField::HttpPath), Some("/index.html"));
        assert_eq!(r.http_status, Some(200));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(
            r.get(TextField::UserAgent),
            Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"
            )
        );
        assert_eq!(
            r.get(TextField::RequestId),
            Some("SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==")
        );
        assert_eq!(r.latency_ms, Some(1.0));
        let got: Vec<(&str, &str)> = r
            .attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("cs_host", "d111111abcdef8.cloudfront.net"),
                ("x_edge_result_type", "Hit"),
                ("x_host_header", "d111111abcdef8.cloudfront.net"),
                ("cs_protocol", "https"),
                ("cs_bytes", "23"),
                ("ssl_protocol", "TLSv1.2"),
                ("ssl_cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
                ("x_edge_response_result_type", "Hit"),
                ("cs_protocol_version", "HTTP/2.0"),
                ("c_port", "11040"),
                ("time_to_first_byte", "0.001"),
                ("x_edge_detailed_result_type", "Hit"),
                ("sc_content_type", "text/html"),
                ("sc_content_len", "78"),
            ]
        );
        for (k, v) in &r.attributes {
            assert!(matches!(k, Cow::Borrowed(_)) && matches!(v, Cow::Borrowed(_)));
        }
        assert!(matches!(
            r.text[TextField::UserAgent as usize],
            Some(Cow::Owned(_))
        ));
        assert!(matches!(
            r.text[TextField::HttpPath as usize],
            Some(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn documented_errors() {
        let cf = CloudFront::default();
        let r = run(&cf, ERROR_REFERER).unwrap();
        assert_eq!(r.http_status, Some(502));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.latency_ms, Some(102.0));
        assert_eq!(r.get(TextField::Host), Some("SEA19-C1"));
        assert_eq!(attr(&r, "cs_referer"), Some("http://www.example.com/"));
        assert_eq!(
            attr(&r, "x_edge_detailed_result_type"),
            Some("OriginDnsError")
        );
        assert_eq!(attr(&r, "x_host_header"), Some("www.example.com"));

        let r = run(&cf, CURL).unwrap();
        assert_eq!(r.get(TextField::UserAgent), Some("curl/7.55.1"));
        assert!(
            matches!(
                r.text[TextField::UserAgent as usize],
                Some(Cow::Borrowed(_))
            ),
            "no % no copy"
        );
        assert_eq!(r.ts, Some(1_576_276_622_000));
    }

    #[test]
    fn older_header_and_query_string() {
        let mut cf = CloudFront::default();
        assert!(cf.header(OLD_FIELDS));
        assert_eq!(cf.field_keys().count(), 26);
        let r = run(&cf, OLD_QUERY).unwrap();
        assert_eq!(
            r.get(TextField::HttpPath),
            Some("/soundtrack/happy.mp3?a=b&c=d")
        );
        assert_eq!(r.http_status, Some(304));
        assert_eq!(attr(&r, "cs_cookie"), Some("zip=50158"));
        assert_eq!(attr(&r, "cs_referer"), Some("www.unknownsingers.com"));
        assert_eq!(attr(&r, "cs_uri_query"), None, "the query is in http_path");
        assert_eq!(attr(&r, "cs_bytes"), None);
        assert_eq!(
            r.get(TextField::UserAgent),
            Some("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1)")
        );
        // The same line under the 33-field default is short.
        assert_eq!(
            run(&CloudFront::default(), OLD_QUERY).err(),
            Some(Reject::Malformed(
                "expected 33 tab-separated fields, found 26".into()
            ))
        );
    }

    #[test]
    fn custom_header_unknown_fields_and_extras() {
        let mut cf = CloudFront::default();
        assert!(cf.header("#Fields: time date sc-status x-Custom(Thing)  c-ip connection-id"));
        assert_eq!(
            cf.field_keys().collect::<Vec<_>>(),
            [
                "time",
                "date",
                "sc_status",
                "x_custom_thing",
                "c_ip",
                "connection_id"
            ]
        );
        let line = "01:02:03\t2024-03-14\t404\tv1\t2001:db8::1\tconn-1\tmore\t-\tlast";
        let r = run(&cf, line).unwrap();
        assert_eq!(r.ts, Some(1_710_378_123_000));
        assert_eq!(r.http_status, Some(404));
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.get(TextField::ClientIp), Some("2001:db8::1"));
        assert_eq!(attr(&r, "x_custom_thing"), Some("v1"));
        assert_eq!(attr(&r, "connection_id"), Some("conn-1"));
        assert_eq!(attr(&r, "extra_1"), Some("more"));
        assert_eq!(attr(&r, "extra_2"), None);
        assert_eq!(attr(&r, "extra_3"), Some("last"));
        assert_eq!(r.get(TextField::HttpPath), None);

        // Without date and time columns the record has no time of its own.
        assert!(cf.header("#Fields: cs-uri-query time"));
        let r = run(&cf, "x=1\t10:00:00").unwrap();
        assert_eq!(r.ts, None);
        assert_eq!(attr(&r, "time"), Some("10:00:00"));
        assert_eq!(attr(&r, "cs_uri_query"), Some("x=1"));
        assert_eq!(r.level, None);
    }

    #[test]
    fn header_lines() {
        let mut cf = CloudFront::default();
        assert!(cf.header("#Version: 1.0"));
        assert!(cf.header("# any comment"));
        assert!(
            cf.header("#Fields:"),
            "an empty field list is still a header"
        );
        assert_eq!(cf, CloudFront::default(), "and keeps the previous order");
        assert!(!cf.header(HIT));
        assert!(!cf.header(""));
        assert!(!cf.header(" #Fields: date"));
        assert!(cf.header("#Fields: date time\r"));
        assert_eq!(cf.field_keys().collect::<Vec<_>>(), ["date", "time"]);
    }

    #[test]
    fn rejects() {
        let cf = CloudFront::default();
        let replace = |i: usize, v: &str| {
            let mut f: Vec<&str> = HIT.split('\t').collect();
            f[i] = v;
            f.join("\t")
        };
        let cases = [
            (
                "".to_owned(),
                Reject::Malformed("expected 33 tab-separated fields, found 1".into()),
            ),
            (
                "garbage line".to_owned(),
                Reject::Malformed("expected 33 tab-separated fields, found 1".into()),
            ),
            (
                VERSION.to_owned(),
                Reject::Malformed("header line where a log line was expected".into()),
            ),
            (
                replace(0, "2019-13-04"),
                Reject::InvalidTimestamp(
                    r#"unparsable cloudfront date and time "2019-13-04 21:02:31""#.into(),
                ),
            ),
            (
                replace(1, "9pm"),
                Reject::InvalidTimestamp(
                    r#"unparsable cloudfront date and time "2019-12-04 9pm""#.into(),
                ),
            ),
            (replace(3, "many"), Reject::WrongType("bytes_sent")),
            (replace(8, "OK"), Reject::WrongType("http_status")),
            (replace(18, "slow"), Reject::WrongType("latency_ms")),
            (replace(18, "-1"), Reject::WrongType("latency_ms")),
            (replace(18, "inf"), Reject::WrongType("latency_ms")),
        ];
        for (line, want) in cases {
            assert_eq!(run(&cf, &line).err(), Some(want), "{line}");
        }
        let line = replace(8, "000");
        let r = run(&cf, &line).unwrap();
        assert_eq!((r.http_status, r.level), (Some(0), Some(Level::Info)));
        let line = replace(8, "-");
        let r = run(&cf, &line).unwrap();
        assert_eq!((r.http_status, r.level), (None, None));
        let line = replace(18, "-");
        let r = run(&cf, &line).unwrap();
        assert_eq!(r.latency_ms, None);
        let line = format!("{HIT}\r\n");
        let r = run(&cf, &line).unwrap();
        assert_eq!(attr(&r, "sc_content_len"), Some("78"));
    }

    #[test]
    fn percent_decoding() {
        for (s, want, owned) in [
            ("curl/8", "curl/8", false),
            ("a%20b", "a b", true),
            ("%E2%9C%93ok", "\u{2713}ok", true),
            ("100%", "100%", true),
            ("%zz%2", "%zz%2", true),
            ("%C3%28", "%C3%28", false),
            ("%25", "%", true),
        ] {
            let got = percent_decode(s);
            assert_eq!(got, want, "{s}");
            assert_eq!(matches!(got, Cow::Owned(_)), owned, "{s}");
        }
    }

    #[test]
    fn snake_cases() {
        for (name, key, _) in KNOWN {
            assert_eq!(snake_case(name), key);
        }
        assert_eq!(snake_case("--X(Y)--z--"), "x_y_z");
        assert_eq!(snake_case("()"), "");
    }

    #[test]
    fn detection() {
        for line in [VERSION, FIELDS, HIT, CURL, OLD_QUERY] {
            assert!(looks_like(line), "{line}");
        }
        for line in [
            "",
            "#Comment",
            "2019-12-04 21:02:31 LAX1",
            "2019-12-04\t21:02:31",
            "2019-99-04\t21:02:31\tLAX1",
            "2019-12-04T21:02:31Z\tx",
            "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188",
            "é€€€€€€€€€€€€€€€€€€€€",
        ] {
            assert!(!looks_like(line), "{line}");
        }
    }

    #[test]
    fn never_panics() {
        let defaults = CloudFront::default();
        let mut old = CloudFront::default();
        old.header(OLD_FIELDS);
        for (cf, line) in [
            (&defaults, HIT),
            (&defaults, ERROR_REFERER),
            (&defaults, CURL),
            (&old, OLD_QUERY),
        ] {
            for end in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
                let prefix = &line[..end];
                let _ = looks_like(prefix);
                match run(cf, prefix) {
                    Ok(_) => assert_eq!(
                        prefix.matches('\t').count(),
                        line.matches('\t').count(),
                        "{prefix:?} parsed"
                    ),
                    Err(Reject::Malformed(_)) => {}
                    Err(e) => panic!("{prefix:?}: unexpected {e:?}"),
                }
            }
        }
        for s in fuzz_lines(b"\t\t\t-%:019#aZ\xc3\xa9", 2000) {
            let mut cf = CloudFront::default();
            let _ = looks_like(&s);
            if !cf.header(&s) {
                let _ = run(&cf, &s);
            }
            // A random header followed by a random line.
            let mut custom = CloudFront::default();
            custom.header(&format!("#Fields: {}", s.replace('\t', " ")));
            let _ = run(&custom, &s);
        }
    }
}
