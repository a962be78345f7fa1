//! Apache and nginx access logs: the common log format
//! (`host ident authuser [date] "request" status bytes`), the combined format
//! that appends `"referer" "user_agent"`, and whatever fields a site's
//! `LogFormat`/`log_format` appends after those (`extra_1`, `extra_2`, ...).
//!
//! Quoted fields are kept exactly as the server escaped them (`\"` from
//! Apache, `\x22` from nginx): unescaping would allocate per field and lose
//! the original bytes, and the escaped text stays readable and searchable.
//!
//! The field scanner and the small helpers at the bottom are shared with the
//! other access-log parsers ([`super::alb`], [`super::cloudfront`]).

use std::borrow::Cow;

use crate::record::{Level, Record, Reject, TextField};
use crate::time::parse_clf;

/// Parse one access-log line into `rec` (already cleared). On error `rec`
/// may hold some fields; the caller discards it.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
    let p = split(line)?;
    let ts = parse_clf(p.date).ok_or_else(|| {
        Reject::InvalidTimestamp(format!("unparsable clf date {:?}", clip(p.date)))
    })?;
    let status = status3(p.status).ok_or(Reject::WrongType("http_status"))?;
    let bytes = count(p.bytes, "bytes_sent")?;

    rec.ts = Some(ts);
    rec.http_status = Some(status);
    rec.level = Some(level_for_status(status));
    rec.bytes_sent = bytes;
    rec.set_opt(TextField::ClientIp, p.host);
    attr_opt(rec, "ident", p.ident);
    rec.set_opt(TextField::UserId, p.user);
    match split_request(p.request) {
        Some((method, path, version)) => {
            rec.set(TextField::HttpMethod, method);
            rec.set(TextField::HttpPath, path);
            rec.attr("http_version", version);
        }
        // Scanners send anything; the raw request line is the evidence.
        None => attr_opt(rec, "request", p.request),
    }

    // Combined format only when the first trailing field is quoted: a bare
    // first field means a custom format, and guessing would mislabel it.
    let mut rest = p.rest;
    let mut pos = 0usize;
    let mut combined = false;
    let mut extra = 0usize;
    loop {
        let (v, quoted, cut) = match next_field(rest) {
            Ok(Some((v, quoted, r))) => {
                rest = r;
                (v, quoted, false)
            }
            Ok(None) => break,
            // A trailing quoted field cut short (a logger's line limit, a
            // client's stray quote): every field before it is intact, so
            // the row stays, with the field as written and flagged.
            Err(_) => {
                let v = &skip_ws(rest)[1..];
                rest = "";
                (v, true, true)
            }
        };
        let key = match (pos, quoted) {
            (0, true) => {
                combined = true;
                attr_opt(rec, "referer", v);
                Cow::Borrowed("referer")
            }
            (1, true) if combined => {
                rec.set_opt(TextField::UserAgent, v);
                Cow::Borrowed("user_agent")
            }
            _ => {
                // Numbered by position, so `extra_2` means the same column on
                // every line even when `extra_1` is `-`.
                extra += 1;
                attr_opt(rec, extra_key(extra), v);
                extra_key(extra)
            }
        };
        if cut {
            rec.attr("cut_field", key);
        }
        pos += 1;
    }
    Ok(())
}

/// Whether `line` has the shape of a common/combined log line, with a
/// parsable date and a numeric status. Used to sniff an object's format.
pub fn looks_like(line: &str) -> bool {
    match split(line) {
        Ok(p) => status3(p.status).is_some() && parse_clf(p.date).is_some(),
        Err(_) => false,
    }
}

/// The positional fields of a CLF line, as slices of the line.
struct Parts<'a> {
    host: &'a str,
    ident: &'a str,
    user: &'a str,
    date: &'a str,
    request: &'a str,
    status: &'a str,
    bytes: &'a str,
    rest: &'a str,
}

fn split(line: &str) -> Result<Parts<'_>, Reject> {
    let s = line.trim_end();
    let (host, s) = bare(s).ok_or_else(|| malformed("empty line"))?;
    let (ident, s) = bare(s).ok_or_else(|| malformed("missing ident"))?;
    let (user, s) = bare(s).ok_or_else(|| malformed("missing authuser"))?;
    let s = skip_ws(s)
        .strip_prefix('[')
        .ok_or_else(|| malformed("missing [date]"))?;
    let (date, s) = s
        .split_once(']')
        .ok_or_else(|| malformed("unterminated [date]"))?;
    let s = skip_ws(s);
    if !s.starts_with('"') {
        return Err(malformed("request is not quoted"));
    }
    let (request, s) = quoted(s)?;
    let (status, s) = bare(s).ok_or_else(|| malformed("missing status"))?;
    let (bytes, s) = bare(s).ok_or_else(|| malformed("missing bytes"))?;
    Ok(Parts {
        host,
        ident,
        user,
        date,
        request,
        status,
        bytes,
        rest: s,
    })
}

/// `METHOD TARGET HTTP/x` -> (method, target, version). The target is what
/// lies between the first and the last space, so an unencoded space in a path
/// stays in the path.
pub(crate) fn split_request(r: &str) -> Option<(&str, &str, &str)> {
    let (method, rest) = r.split_once(' ')?;
    let (path, version) = rest.rsplit_once(' ')?;
    let path = path.trim_matches(' ');
    let method_ok = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
    if !method_ok || path.is_empty() || !version.starts_with("HTTP/") {
        return None;
    }
    Some((method, path, version))
}

/// Exactly three ASCII digits, as CLF's `%>s` always is.
pub(crate) fn status3(s: &str) -> Option<i16> {
    match s.as_bytes() {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(i16::from(a - b'0') * 100 + i16::from(b - b'0') * 10 + i16::from(c - b'0'))
        }
        _ => None,
    }
}

fn bare(s: &str) -> Option<(&str, &str)> {
    let s = skip_ws(s);
    if s.is_empty() {
        return None;
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

// ---- shared by the access-log parsers (clf, alb, cloudfront) ----

/// A status field of ALB and CloudFront logs: three digits, or `-` when no
/// response was sent.
pub(crate) fn optional_status(s: &str) -> Result<Option<i16>, Reject> {
    if s == "-" {
        return Ok(None);
    }
    status3(s).map(Some).ok_or(Reject::WrongType("http_status"))
}

/// Level from an HTTP status: 5xx is an error, 4xx a warning, anything else
/// (including 1xx-3xx and CloudFront's `000`) informational.
pub fn level_for_status(status: i16) -> Level {
    match status {
        500..=599 => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    }
}

/// The next space-separated field: a bare token or a double-quoted string
/// (returned without its quotes, escapes as written), plus the rest of the
/// line. `None` at the end of the line.
///
/// A `"` closes a quoted field only when a space, a tab or the end of the line
/// follows it, so a stray unescaped quote inside a value (from a format that
/// does not escape) does not split the field.
pub(crate) fn next_field(s: &str) -> Result<Option<(&str, bool, &str)>, Reject> {
    let s = skip_ws(s);
    if s.is_empty() {
        return Ok(None);
    }
    if s.starts_with('"') {
        let (v, rest) = quoted(s)?;
        return Ok(Some((v, true, rest)));
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    Ok(Some((&s[..end], false, &s[end..])))
}

/// `s` starts with `"`: the quoted value and what follows the closing quote.
fn quoted(s: &str) -> Result<(&str, &str), Reject> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            // Skip the escaped byte: `\"` and `\\` never close the field.
            b'\\' => i += 2,
            b'"' if matches!(b.get(i + 1), None | Some(b' ' | b'\t')) => {
                // `i` is the position of an ASCII byte, so both slices fall on
                // char boundaries.
                return Ok((&s[1..i], &s[i + 1..]));
            }
            _ => i += 1,
        }
    }
    Err(malformed("unterminated quoted field"))
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// A byte or request count: `-` is null, otherwise non-negative digits.
pub(crate) fn count(s: &str, column: &'static str) -> Result<Option<i64>, Reject> {
    if s == "-" {
        return Ok(None);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reject::WrongType(column));
    }
    // Digits only, so the one failure left is overflow.
    s.parse().map(Some).map_err(|_| Reject::WrongType(column))
}

/// Add an attribute unless the value is empty or the `-` placeholder.
pub(crate) fn attr_opt<'a>(rec: &mut Record<'a>, key: impl Into<Cow<'a, str>>, v: &'a str) {
    if !v.is_empty() && v != "-" {
        rec.attr(key, v);
    }
}

/// `extra_N` (1-based) for fields past the known ones; the common ones come
/// from a static table so they cost no allocation per row.
pub(crate) fn extra_key(n: usize) -> Cow<'static, str> {
    const KEYS: [&str; 8] = [
        "extra_1", "extra_2", "extra_3", "extra_4", "extra_5", "extra_6", "extra_7", "extra_8",
    ];
    match n.checked_sub(1).and_then(|i| KEYS.get(i)) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(format!("extra_{n}")),
    }
}

pub(crate) fn malformed(reason: &str) -> Reject {
    Reject::Malformed(reason.to_owned())
}

/// At most 64 bytes of `s`, cut on a char boundary, for reject details.
pub(crate) fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Deterministic pseudo-random lines built from `alphabet` (bytes that
/// matter to the parser) and arbitrary bytes, made valid UTF-8.
#[cfg(test)]
pub(crate) fn fuzz_lines(alphabet: &[u8], n: usize) -> Vec<String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[((r >> 8) as usize) % alphabet.len()]
                    }
                })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Result<Record<'_>, Reject> {
        let mut rec = Record::default();
        parse(line, &mut rec).map(|()| rec)
    }

    fn keys(rec: &Record<'_>) -> Vec<String> {
        rec.attributes.iter().map(|(k, _)| k.to_string()).collect()
    }

    const APACHE_COMMON: &str =
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
    const COMBINED: &str = r#"192.168.0.1 - - [09/Jun/2020:12:10:39 -0700] "GET /A%20Beka/15%20reading.mp4?x=1&y=2 HTTP/1.1" 206 7648063 "http://lessons.example.com/A%20Beka" "Mozilla/5.0 (Linux; Android 5.1.1; KFFOWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/81.2.16 like Chrome/81.0.4044.138 Safari/537.36""#;
    const NGINX_EXTRA: &str = r#"2001:db8::1 - - [14/Mar/2024:21:00:01 +0000] "POST /api/cart HTTP/2.0" 503 0 "-" "curl/8.4.0" "203.0.113.9, 10.0.0.2" 0.125 - "x""#;
    const ESCAPED: &str = r#"10.1.2.3 - - [14/Mar/2024:21:00:01 +0000] "GET /q?s=\"x\" HTTP/1.1" 404 153 "-" "Mozilla/5.0 \"quoted\" \\ end""#;
    const NGINX_X22: &str = r#"10.1.2.3 - - [14/Mar/2024:21:00:01 +0000] "GET /q?s=\x22x\x22 HTTP/1.1" 400 0 "-" "evil\x22agent""#;
    const SCANNER: &str = r#"198.51.100.7 - - [14/Mar/2024:21:00:01 +0000] "\x16\x03\x01\x00\xa5\x01\x00\x00" 400 157 "-" "-""#;
    const DASH_REQ: &str = r#"198.51.100.7 - - [14/Mar/2024:21:00:01 +0000] "-" 408 - "-" "-""#;

    const T_2024: i64 = 1_710_450_001_000; // 2024-03-14T21:00:01Z

    #[test]
    fn apache_common() {
        let r = run(APACHE_COMMON).unwrap();
        assert_eq!(r.ts, Some(971_211_336_000));
        assert_eq!(r.get(TextField::ClientIp), Some("127.0.0.1"));
        assert_eq!(r.get(TextField::UserId), Some("frank"));
        assert_eq!(r.get(TextField::HttpMethod), Some("GET"));
        assert_eq!(r.get(TextField::HttpPath), Some("/apache_pb.gif"));
        assert_eq!(r.http_status, Some(200));
        assert_eq!(r.bytes_sent, Some(2326));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.get(TextField::UserAgent), None);
        assert_eq!(keys(&r), ["http_version"]);
        assert_eq!(r.attribute("http_version"), Some("HTTP/1.0"));
    }

    #[test]
    fn combined_borrows_from_the_line() {
        let r = run(COMBINED).unwrap();
        assert_eq!(r.ts, Some(1_591_729_839_000));
        assert_eq!(r.get(TextField::UserId), None);
        assert_eq!(
            r.get(TextField::HttpPath),
            Some("/A%20Beka/15%20reading.mp4?x=1&y=2")
        );
        assert_eq!(r.http_status, Some(206));
        assert_eq!(r.bytes_sent, Some(7_648_063));
        assert_eq!(
            r.attribute("referer"),
            Some("http://lessons.example.com/A%20Beka")
        );
        assert!(
            r.get(TextField::UserAgent)
                .unwrap()
                .starts_with("Mozilla/5.0 (Linux;")
        );
        assert_eq!(keys(&r), ["http_version", "referer"]);
        for t in r.text.iter().flatten() {
            assert!(matches!(t, Cow::Borrowed(_)), "{t} was copied");
        }
        for (k, v) in &r.attributes {
            assert!(matches!(k, Cow::Borrowed(_)) && matches!(v, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn a_trailing_quoted_field_cut_short_keeps_the_row() {
        // The user agent lost its end (a 1 KiB logger limit, say).
        let r = run(r#"10.1.2.3 - bob [14/Mar/2024:21:00:01 +0000] "GET /cart HTTP/1.1" 200 512 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64) AppleWe"#)
            .unwrap();
        assert_eq!((r.http_status, r.bytes_sent), (Some(200), Some(512)));
        assert_eq!(
            r.get(TextField::UserAgent),
            Some("Mozilla/5.0 (X11; Linux x86_64) AppleWe")
        );
        assert_eq!(r.attribute("cut_field"), Some("user_agent"));
        assert_eq!(r.attribute("referer"), Some("https://shop.example/"));
        // Cut inside the referer: the user agent never came.
        let r =
            run(r#"10.1.2.3 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 1 "https://sho"#)
                .unwrap();
        assert_eq!(r.attribute("referer"), Some("https://sho"));
        assert_eq!(r.attribute("cut_field"), Some("referer"));
        assert_eq!(r.get(TextField::UserAgent), None);
        // An extra field cut short is named by its position.
        let r = run(r#"10.1.2.3 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.5" rt=0.004 "upstream"#)
            .unwrap();
        assert_eq!(r.attribute("extra_2"), Some("upstream"));
        assert_eq!(r.attribute("cut_field"), Some("extra_2"));
        // Whole lines carry no flag.
        assert_eq!(run(ESCAPED).unwrap().attribute("cut_field"), None);
    }

    #[test]
    fn ipv6_and_nginx_extras() {
        let r = run(NGINX_EXTRA).unwrap();
        assert_eq!(r.get(TextField::ClientIp), Some("2001:db8::1"));
        assert_eq!(r.ts, Some(T_2024));
        assert_eq!(r.http_status, Some(503));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.bytes_sent, Some(0));
        assert_eq!(r.get(TextField::HttpMethod), Some("POST"));
        assert_eq!(r.attribute("http_version"), Some("HTTP/2.0"));
        assert_eq!(r.attribute("referer"), None, "a - referer is skipped");
        assert_eq!(r.get(TextField::UserAgent), Some("curl/8.4.0"));
        assert_eq!(r.attribute("extra_1"), Some("203.0.113.9, 10.0.0.2"));
        assert_eq!(r.attribute("extra_2"), Some("0.125"));
        assert_eq!(
            r.attribute("extra_3"),
            None,
            "- is skipped but keeps its number"
        );
        assert_eq!(r.attribute("extra_4"), Some("x"));
    }

    #[test]
    fn escaped_quotes_stay_as_written() {
        let r = run(ESCAPED).unwrap();
        assert_eq!(r.get(TextField::HttpPath), Some(r#"/q?s=\"x\""#));
        assert_eq!(r.http_status, Some(404));
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(
            r.get(TextField::UserAgent),
            Some(r#"Mozilla/5.0 \"quoted\" \\ end"#)
        );

        let r = run(NGINX_X22).unwrap();
        assert_eq!(r.get(TextField::HttpPath), Some(r"/q?s=\x22x\x22"));
        assert_eq!(r.get(TextField::UserAgent), Some(r"evil\x22agent"));
    }

    #[test]
    fn unescaped_inner_quote_does_not_split_a_field() {
        let line =
            r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET /a"b HTTP/1.1" 200 5 "-" "ua "x"y""#;
        let r = run(line).unwrap();
        assert_eq!(r.get(TextField::HttpPath), Some(r#"/a"b"#));
        assert_eq!(r.get(TextField::UserAgent), Some(r#"ua "x"y"#));
        // Writers that do not escape leave a doubled quote at the end.
        let line = r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "Safari/604.1"" tail"#;
        let r = run(line).unwrap();
        assert_eq!(r.get(TextField::UserAgent), Some(r#"Safari/604.1""#));
        assert_eq!(r.attribute("extra_1"), Some("tail"));
    }

    #[test]
    fn requests_that_are_not_method_path_proto() {
        let r = run(SCANNER).unwrap();
        assert_eq!(r.get(TextField::HttpMethod), None);
        assert_eq!(r.get(TextField::HttpPath), None);
        assert_eq!(
            r.attribute("request"),
            Some(r"\x16\x03\x01\x00\xa5\x01\x00\x00")
        );
        assert_eq!(r.http_status, Some(400));

        let r = run(DASH_REQ).unwrap();
        assert_eq!(r.bytes_sent, None, "bytes - is null");
        assert_eq!(r.get(TextField::HttpMethod), None);
        assert!(r.attributes.is_empty(), "{:?}", r.attributes);
        assert_eq!(r.http_status, Some(408));

        for (req, method, path) in [
            ("GET /with space HTTP/1.1", Some("GET"), Some("/with space")),
            ("OPTIONS * HTTP/1.1", Some("OPTIONS"), Some("*")),
            (
                "GET http://proxy.example/ HTTP/1.0",
                Some("GET"),
                Some("http://proxy.example/"),
            ),
            ("get / HTTP/1.1", None, None),
            ("GET /", None, None),
            ("GET / FOO/1", None, None),
            ("", None, None),
        ] {
            let line = format!(r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "{req}" 200 1"#);
            let r = run(&line).unwrap();
            assert_eq!(r.get(TextField::HttpMethod), method, "{req}");
            assert_eq!(r.get(TextField::HttpPath), path, "{req}");
            if method.is_none() && !req.is_empty() {
                assert_eq!(r.attribute("request"), Some(req));
            }
        }
    }

    #[test]
    fn dashes_everywhere() {
        let r = run(r#"- - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 304 -"#).unwrap();
        assert_eq!(r.get(TextField::ClientIp), None);
        assert_eq!(r.get(TextField::UserId), None);
        assert_eq!(r.bytes_sent, None);
        assert_eq!(r.http_status, Some(304));
        assert_eq!(keys(&r), ["http_version"]);
    }

    #[test]
    fn ident_and_custom_bare_trailers() {
        let line = r#"h.example.com identd bob [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 10 vhost.example 42 "q""#;
        let r = run(line).unwrap();
        assert_eq!(r.get(TextField::ClientIp), Some("h.example.com"));
        assert_eq!(r.attribute("ident"), Some("identd"));
        assert_eq!(r.get(TextField::UserId), Some("bob"));
        // A bare first trailer is not a referer, so nothing is a user agent.
        assert_eq!(r.get(TextField::UserAgent), None);
        assert_eq!(r.attribute("referer"), None);
        assert_eq!(r.attribute("extra_1"), Some("vhost.example"));
        assert_eq!(r.attribute("extra_2"), Some("42"));
        assert_eq!(r.attribute("extra_3"), Some("q"));
    }

    #[test]
    fn crlf_and_tabs_are_tolerated() {
        let r =
            run("1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] \"GET / HTTP/1.1\" 200 1\r\n").unwrap();
        assert_eq!(r.bytes_sent, Some(1));
        let r =
            run("1.2.3.4\t-\t-\t[14/Mar/2024:21:00:01 +0000]\t\"GET / HTTP/1.1\"\t500\t1").unwrap();
        assert_eq!(r.http_status, Some(500));
    }

    #[test]
    fn rejects() {
        let m = |s: &str| Reject::Malformed(s.to_owned());
        for (line, want) in [
            ("", m("empty line")),
            ("   ", m("empty line")),
            ("hello", m("missing ident")),
            ("hello world", m("missing authuser")),
            (
                "2024-03-14 21:00:01 ERROR something broke",
                m("missing [date]"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000 "GET / HTTP/1.1" 200 1"#,
                m("unterminated [date]"),
            ),
            (
                "1.2.3.4 - - [14/Mar/2024:21:00:01",
                m("unterminated [date]"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] GET / 200 1"#,
                m("request is not quoted"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1"#,
                m("unterminated quoted field"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1""#,
                m("missing status"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200"#,
                m("missing bytes"),
            ),
            (
                r#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1"#,
                Reject::InvalidTimestamp(r#"unparsable clf date "yesterday""#.into()),
            ),
            (
                r#"1.2.3.4 - - [31/Feb/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 1"#,
                Reject::InvalidTimestamp(
                    r#"unparsable clf date "31/Feb/2024:21:00:01 +0000""#.into(),
                ),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" OK 1"#,
                Reject::WrongType("http_status"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 2000 1"#,
                Reject::WrongType("http_status"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" - 1"#,
                Reject::WrongType("http_status"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 12k"#,
                Reject::WrongType("bytes_sent"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 -5"#,
                Reject::WrongType("bytes_sent"),
            ),
            (
                r#"1.2.3.4 - - [14/Mar/2024:21:00:01 +0000] "GET / HTTP/1.1" 200 99999999999999999999"#,
                Reject::WrongType("bytes_sent"),
            ),
        ] {
            assert_eq!(run(line).err(), Some(want), "{line}");
        }
    }

    #[test]
    fn detection() {
        for line in [
            APACHE_COMMON,
            COMBINED,
            NGINX_EXTRA,
            ESCAPED,
            SCANNER,
            DASH_REQ,
        ] {
            assert!(looks_like(line), "{line}");
        }
        for line in [
            "",
            "2024-03-14 21:00:01 ERROR boom",
            r#"{"level":"info"}"#,
            r#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1"#,
            "2019-12-04\t21:02:31\tLAX1\t392",
            "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 1.2.3.4:1 - 0 0 0 200 200 1 1 \"GET http://x:80/ HTTP/1.1\" \"-\"",
        ] {
            assert!(!looks_like(line), "{line}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(level_for_status(0), Level::Info);
        assert_eq!(level_for_status(399), Level::Info);
        assert_eq!(level_for_status(400), Level::Warn);
        assert_eq!(level_for_status(499), Level::Warn);
        assert_eq!(level_for_status(500), Level::Error);
        assert_eq!(level_for_status(599), Level::Error);
        assert_eq!(extra_key(1), "extra_1");
        assert_eq!(extra_key(8), "extra_8");
        assert_eq!(extra_key(9), "extra_9");
        assert_eq!(extra_key(0), "extra_0");
        assert_eq!(clip("é".repeat(40).as_str()).len(), 64);
        assert_eq!(clip("€".repeat(30).as_str()).len(), 63);
    }

    /// Every prefix of every example, and random bytes: a result or a reject
    /// with a reason, never a panic.
    #[test]
    fn never_panics() {
        for line in [
            APACHE_COMMON,
            COMBINED,
            NGINX_EXTRA,
            ESCAPED,
            NGINX_X22,
            SCANNER,
            DASH_REQ,
        ] {
            for end in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
                let prefix = &line[..end];
                let _ = looks_like(prefix);
                match run(prefix) {
                    Ok(_)
                    | Err(
                        Reject::Malformed(_) | Reject::InvalidTimestamp(_) | Reject::WrongType(_),
                    ) => {}
                    Err(e) => panic!("{prefix:?}: unexpected {e:?}"),
                }
            }
        }
        for s in fuzz_lines(b" \"[]\\-/:0123456789GETHTP\t\xc3\xa9x", 2000) {
            let _ = looks_like(&s);
            let _ = run(&s);
        }
    }
}
