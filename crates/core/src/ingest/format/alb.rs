//! AWS Application Load Balancer access log entries: space-separated fields,
//! some double-quoted, in the documented order below. AWS appends fields over
//! time, so older entries stop early (the oldest end at `trace_id`) and
//! fields newer than this list are kept as `extra_1`, `extra_2`, ...

use super::clf::{
    attr_opt, clip, count, extra_key, level_for_status, malformed, next_field, optional_status,
};
use crate::record::{Level, Record, Reject, TextField};
use crate::time::parse_iso8601;

/// Attribute key of each documented field, by position (`client:port` is
/// split into the `client_ip` column and `client_port`; `target:port_list`
/// becomes `target_port_list`). Fields that map to a column only use their
/// key in messages.
const FIELDS: [&str; 30] = [
    "type",
    "time",
    "elb",
    "client",
    "target",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

/// Entries from before 2018 end at `trace_id`; anything shorter is cut off.
const MIN_FIELDS: usize = 18;

/// Index of the first field that has no column and no special handling.
const FIRST_PLAIN: usize = 18;

/// Parse one ALB access log entry into `rec` (already cleared). On error
/// `rec` may hold some fields; the caller discards it.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
    // Split first, so a cut-off line is `Malformed` whatever field it ends in.
    let mut f = [""; FIELDS.len()];
    let mut n = 0;
    let mut rest = line.trim_end();
    while n < f.len() {
        let Some((v, _quoted, r)) = next_field(rest)? else {
            break;
        };
        f[n] = v;
        rest = r;
        n += 1;
    }
    if n < MIN_FIELDS {
        return Err(Reject::Malformed(format!(
            "expected at least {MIN_FIELDS} alb fields, found {n}"
        )));
    }
    if !is_type(f[0]) {
        return Err(malformed("first field is not an alb entry type"));
    }
    if !f[1]
        .as_bytes()
        .get(..4)
        .is_some_and(|y| y.iter().all(u8::is_ascii_digit))
    {
        return Err(malformed("second field is not an alb timestamp"));
    }
    let ts = parse_iso8601(f[1])
        .ok_or_else(|| Reject::InvalidTimestamp(format!("unparsable alb time {:?}", clip(f[1]))))?;

    rec.ts = Some(ts);
    rec.attr(FIELDS[0], f[0]);
    rec.set_opt(TextField::Host, f[2]);
    let (ip, port) = split_host_port(f[3]);
    rec.set_opt(TextField::ClientIp, ip);
    if let Some(port) = port {
        rec.attr("client_port", port);
    }
    attr_opt(rec, FIELDS[4], f[4]);

    // -1 in any of the three means the request never reached a target (or the
    // response never reached the client): no latency rather than a wrong one.
    let mut total = 0.0;
    let mut complete = true;
    for i in 5..8 {
        match seconds(f[i])? {
            Some(t) if t >= 0.0 => total += t,
            _ => complete = false,
        }
        attr_opt(rec, FIELDS[i], f[i]);
    }
    if complete {
        rec.latency_ms = Some(round_us(total * 1000.0));
    }

    let status = optional_status(f[8])?;
    rec.http_status = status;
    rec.level = Some(status.map_or(Level::Info, level_for_status));
    attr_opt(rec, FIELDS[9], f[9]);
    attr_opt(rec, FIELDS[10], f[10]);
    rec.bytes_sent = count(f[11], "bytes_sent")?;

    match split_request(f[12]) {
        Some((method, url, version)) => {
            rec.set_opt(TextField::HttpMethod, method);
            if let Some(path) = url_path(url) {
                rec.set(TextField::HttpPath, path);
            }
            attr_opt(rec, "request_url", url);
            attr_opt(rec, "http_version", version);
        }
        None => attr_opt(rec, FIELDS[12], f[12]),
    }
    rec.set_opt(TextField::UserAgent, f[13]);
    for i in 14..17 {
        attr_opt(rec, FIELDS[i], f[i]);
    }
    rec.set_opt(TextField::TraceId, f[17]);
    for i in FIRST_PLAIN..n {
        attr_opt(rec, FIELDS[i], f[i]);
    }

    let mut extra = 0;
    while let Some((v, _quoted, r)) = next_field(rest)? {
        rest = r;
        extra += 1;
        attr_opt(rec, extra_key(extra), v);
    }
    Ok(())
}

/// Whether `line` starts like an ALB entry: a known entry type, then an ISO
/// 8601 timestamp. Used to sniff an object's format.
pub fn looks_like(line: &str) -> bool {
    let Some((kind, rest)) = line.split_once(' ') else {
        return false;
    };
    if !matches!(kind, "http" | "https" | "h2" | "grpcs" | "ws" | "wss") {
        return false;
    }
    let time = rest.split(' ').next().unwrap_or("");
    time.len() >= 20 && time.as_bytes()[10] == b'T' && parse_iso8601(time).is_some()
}

/// The documented types are http, https, h2, grpcs, ws and wss; accept any
/// short lowercase word so a new type AWS adds still parses.
fn is_type(s: &str) -> bool {
    (1..=8).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `ip:port` -> (ip, port). The last `:` separates the port, so IPv6
/// addresses keep their colons; `[v6]:port` loses its brackets.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(inner) = s.strip_prefix('[')
        && let Some((host, port)) = inner.split_once("]:")
    {
        return (host, Some(port));
    }
    match s.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (host, Some(port))
        }
        _ => (s, None),
    }
}

/// A processing time in seconds; `-` (never written by ALB so far) is
/// treated like -1, anything else that is not a finite number is rejected.
fn seconds(s: &str) -> Result<Option<f64>, Reject> {
    if s == "-" {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() => Ok(Some(t)),
        _ => Err(Reject::WrongType("latency_ms")),
    }
}

/// Sums of decimal seconds carry binary noise (0.086 + 0.048 + 0.037 is not
/// 0.171); inputs have at most microsecond precision, so round to that.
fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `"GET https://host:443/path?q HTTP/1.1"` -> (method, url, version). ALB
/// writes `"- - - "` for requests it could not parse; the dashes are skipped by
/// the caller. A URL with an unencoded space keeps it.
fn split_request(r: &str) -> Option<(&str, &str, &str)> {
    let r = r.trim_matches(' ');
    let (method, rest) = r.split_once(' ')?;
    let (url, version) = rest.rsplit_once(' ')?;
    Some((method, url.trim_matches(' '), version))
}

/// The path and query of an absolute URL (`/` when the URL has no path).
fn url_path(url: &str) -> Option<&str> {
    if url.starts_with('/') {
        return Some(url);
    }
    let after = &url[url.find("://")? + 3..];
    Some(after.find('/').map_or("/", |i| &after[i..]))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::ingest::format::clf::fuzz_lines;

    fn run(line: &str) -> Result<Record<'_>, Reject> {
        let mut rec = Record::default();
        parse(line, &mut rec).map(|()| rec)
    }

    fn attr<'r>(rec: &'r Record<'_>, k: &str) -> Option<&'r str> {
        let mut it = rec.attributes.iter().filter(|(key, _)| key == k);
        let v = it.next().map(|(_, v)| v.as_ref());
        assert!(it.next().is_none(), "{k} twice");
        v
    }

    // The AWS documentation's examples (load-balancer-access-logs), each on
    // one line as ALB writes them.
    const HTTP: &str = r#"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;
    const HTTPS: &str = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;
    const H2: &str = r#"h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 10.0.0.66:9000 0.000 0.002 0.000 200 200 5 257 "GET https://10.0.2.105:773/ HTTP/2.0" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337327-72bd00b0343d75b906739c42" "-" "-" 1 2018-07-02T22:22:48.364000Z "redirect" "https://example.com:80/" "-" "10.0.0.66:9000" "200" "-" "-" TID_1234abcd5678ef90"#;
    const WS: &str = r#"ws 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:40914 10.0.1.192:8010 0.001 0.003 0.000 101 101 218 587 "GET http://10.0.0.30:80/ HTTP/1.1" "-" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.1.192:8010" "101" "-" "-" TID_1234abcd5678ef90"#;
    const WSS: &str = r#"wss 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:44244 10.0.0.171:8010 0.000 0.001 0.000 101 101 218 786 "GET https://10.0.0.30:443/ HTTP/1.1" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.171:8010" "101" "-" "-" TID_1234abcd5678ef90"#;
    const LAMBDA_OK: &str = r#"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-" TID_1234abcd5678ef90"#;
    const LAMBDA_FAIL: &str = r#"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-" TID_1234abcd5678ef90"#;
    // Real-shaped: the target closed the connection (-1 times, 502), and a
    // request ALB could not parse.
    const NOT_DISPATCHED: &str = r#"http 2019-10-11T15:01:12.376735Z app/filebeat-aws-elb-test/c86a326e7dc14222 81.2.69.193:56398 10.0.0.192:80 -1 -1 -1 460 - 125 0 "GET http://filebeat-aws-elb-test-12030537.eu-central-1.elb.amazonaws.com:80/ HTTP/1.1" "curl/7.58.0" - - arn:aws:elasticloadbalancing:eu-central-1:627959692251:targetgroup/test-lb-instances/8f04c4fe71f5f794 "Root=1-5da09932-2c342a443bfb96249aa50ed7" "-" "-" 0 2019-10-11T15:01:06.657000Z "forward" "-" "-""#;
    const BAD_REQUEST: &str = r#"https 2024-03-14T21:00:01.500000Z app/shop/0123456789abcdef 2001:db8::7:51234 - -1 -1 -1 400 - 0 272 "- - - " "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "-" "-" "-" - 2024-03-14T21:00:01.499000Z "-" "-" "-" "-" "-" "-" "-" -"#;

    const T_2018: i64 = 1_530_570_180_186; // 2018-07-02T22:23:00.186Z

    #[test]
    fn documented_http_entry() {
        let r = run(HTTP).unwrap();
        assert_eq!(r.ts, Some(T_2018));
        assert_eq!(
            r.get(TextField::Host),
            Some("app/my-loadbalancer/50dc6c495c0c9188")
        );
        assert_eq!(r.get(TextField::ClientIp), Some("192.168.131.39"));
        assert_eq!(r.get(TextField::HttpMethod), Some("GET"));
        assert_eq!(r.get(TextField::HttpPath), Some("/"));
        assert_eq!(r.get(TextField::UserAgent), Some("curl/7.46.0"));
        assert_eq!(
            r.get(TextField::TraceId),
            Some("Root=1-58337262-36d228ad5d99923122bbe354")
        );
        assert_eq!(r.http_status, Some(200));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.bytes_sent, Some(366));
        assert_eq!(r.latency_ms, Some(1.0));
        let want: Vec<(&str, &str)> = vec![
            ("type", "http"),
            ("client_port", "2817"),
            ("target", "10.0.0.1:80"),
            ("request_processing_time", "0.000"),
            ("target_processing_time", "0.001"),
            ("response_processing_time", "0.000"),
            ("target_status_code", "200"),
            ("received_bytes", "34"),
            ("request_url", "http://www.example.com:80/"),
            ("http_version", "HTTP/1.1"),
            (
                "target_group_arn",
                "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067",
            ),
            ("matched_rule_priority", "0"),
            ("request_creation_time", "2018-07-02T22:22:48.364000Z"),
            ("actions_executed", "forward"),
            ("target_port_list", "10.0.0.1:80"),
            ("target_status_code_list", "200"),
            ("conn_trace_id", "TID_1234abcd5678ef90"),
        ];
        let got: Vec<(&str, &str)> = r
            .attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(got, want);
        for t in r.text.iter().flatten() {
            assert!(matches!(t, Cow::Borrowed(_)), "{t} was copied");
        }
        for (k, v) in &r.attributes {
            assert!(matches!(k, Cow::Borrowed(_)) && matches!(v, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn documented_https_entry() {
        let r = run(HTTPS).unwrap();
        assert_eq!(r.latency_ms, Some(171.0), "0.086 + 0.048 + 0.037 s");
        assert_eq!(r.bytes_sent, Some(57));
        assert_eq!(r.get(TextField::HttpPath), Some("/"));
        assert_eq!(
            attr(&r, "request_url"),
            Some("https://www.example.com:443/")
        );
        assert_eq!(attr(&r, "ssl_cipher"), Some("ECDHE-RSA-AES128-GCM-SHA256"));
        assert_eq!(attr(&r, "ssl_protocol"), Some("TLSv1.2"));
        assert_eq!(attr(&r, "domain_name"), Some("www.example.com"));
        assert_eq!(
            attr(&r, "chosen_cert_arn"),
            Some(
                "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
            )
        );
        assert_eq!(attr(&r, "actions_executed"), Some("authenticate,forward"));
        assert_eq!(attr(&r, "received_bytes"), Some("0"));
        assert_eq!(attr(&r, "extra_1"), None);
    }

    #[test]
    fn documented_h2_ws_wss_entries() {
        let r = run(H2).unwrap();
        assert_eq!(r.get(TextField::ClientIp), Some("10.0.1.252"));
        assert_eq!(attr(&r, "client_port"), Some("48160"));
        assert_eq!(attr(&r, "http_version"), Some("HTTP/2.0"));
        assert_eq!(attr(&r, "request_url"), Some("https://10.0.2.105:773/"));
        assert_eq!(attr(&r, "redirect_url"), Some("https://example.com:80/"));
        assert_eq!(attr(&r, "actions_executed"), Some("redirect"));
        assert_eq!(r.latency_ms, Some(2.0));

        for line in [WS, WSS] {
            let r = run(line).unwrap();
            assert_eq!(r.http_status, Some(101));
            assert_eq!(r.level, Some(Level::Info));
            assert_eq!(r.get(TextField::UserAgent), None, "\"-\" agent");
            assert_eq!(attr(&r, "target_status_code"), Some("101"));
        }
        assert_eq!(run(WS).unwrap().latency_ms, Some(4.0));
        assert_eq!(attr(&run(WSS).unwrap(), "type"), Some("wss"));
    }

    #[test]
    fn documented_lambda_entries() {
        let r = run(LAMBDA_OK).unwrap();
        assert_eq!(attr(&r, "target"), None, "a Lambda target is -");
        assert_eq!(attr(&r, "target_port_list"), None);
        assert_eq!(r.ts, Some(1_543_616_580_186));

        let r = run(LAMBDA_FAIL).unwrap();
        assert_eq!(r.http_status, Some(502));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(attr(&r, "target_status_code"), None);
        assert_eq!(attr(&r, "error_reason"), Some("LambdaInvalidResponse"));
    }

    #[test]
    fn not_dispatched_has_no_latency_but_keeps_the_times() {
        let r = run(NOT_DISPATCHED).unwrap();
        assert_eq!(r.latency_ms, None);
        assert_eq!(attr(&r, "request_processing_time"), Some("-1"));
        assert_eq!(attr(&r, "target_processing_time"), Some("-1"));
        assert_eq!(attr(&r, "response_processing_time"), Some("-1"));
        assert_eq!(r.http_status, Some(460));
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.bytes_sent, Some(0));
        // An entry from before target:port_list existed stops at error_reason.
        assert_eq!(attr(&r, "actions_executed"), Some("forward"));
        assert_eq!(attr(&r, "conn_trace_id"), None);
    }

    #[test]
    fn unparsable_request_and_ipv6_client() {
        let r = run(BAD_REQUEST).unwrap();
        assert_eq!(r.get(TextField::ClientIp), Some("2001:db8::7"));
        assert_eq!(attr(&r, "client_port"), Some("51234"));
        assert_eq!(r.get(TextField::HttpMethod), None);
        assert_eq!(r.get(TextField::HttpPath), None);
        assert_eq!(attr(&r, "request_url"), None);
        assert_eq!(attr(&r, "request"), None);
        assert_eq!(r.get(TextField::TraceId), None);
        assert_eq!(r.http_status, Some(400));
        let keys: Vec<&str> = r.attributes.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            keys,
            [
                "type",
                "client_port",
                "request_processing_time",
                "target_processing_time",
                "response_processing_time",
                "received_bytes",
                "ssl_cipher",
                "ssl_protocol",
                "request_creation_time",
            ]
        );
    }

    #[test]
    fn oldest_entries_and_new_trailing_fields() {
        // 2016-era entry: ends at trace_id.
        let old = r#"https 2016-08-10T23:39:43.065466Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/p?q=1 HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259""#;
        let r = run(old).unwrap();
        assert_eq!(r.get(TextField::HttpPath), Some("/p?q=1"));
        assert_eq!(
            r.get(TextField::TraceId),
            Some("Root=1-58337281-1d84f3d73c47ec4e58577259")
        );
        assert_eq!(r.attributes.len(), 13);

        // Fields AWS adds after conn_trace_id are kept, quoted or not.
        let newer = format!(r#"{HTTP} "example.com" "/rewritten" - "NoTransform""#);
        let r = run(&newer).unwrap();
        assert_eq!(attr(&r, "conn_trace_id"), Some("TID_1234abcd5678ef90"));
        assert_eq!(attr(&r, "extra_1"), Some("example.com"));
        assert_eq!(attr(&r, "extra_2"), Some("/rewritten"));
        assert_eq!(attr(&r, "extra_3"), None);
        assert_eq!(attr(&r, "extra_4"), Some("NoTransform"));
    }

    #[test]
    fn client_addresses() {
        for (s, ip, port) in [
            ("192.168.131.39:2817", "192.168.131.39", Some("2817")),
            ("2001:db8::7:51234", "2001:db8::7", Some("51234")),
            ("[2001:db8::7]:443", "2001:db8::7", Some("443")),
            ("10.0.0.1", "10.0.0.1", None),
            ("host:", "host:", None),
            (":80", ":80", None),
            ("-", "-", None),
        ] {
            assert_eq!(split_host_port(s), (ip, port), "{s}");
        }
    }

    #[test]
    fn url_paths() {
        for (url, path) in [
            ("https://www.example.com:443/", Some("/")),
            (
                "https://www.example.com:443/a/b?c=d&e=f",
                Some("/a/b?c=d&e=f"),
            ),
            ("https://10.0.2.105:773", Some("/")),
            ("/relative?x", Some("/relative?x")),
            ("-", None),
            ("garbage", None),
        ] {
            assert_eq!(url_path(url), path, "{url}");
        }
    }

    #[test]
    fn rejects() {
        let short = "http 2018-07-02T22:23:00.186641Z app/x 1.2.3.4:5 - 0.1 0.1 0.1 200 200 1 1";
        assert_eq!(
            run(short).err(),
            Some(Reject::Malformed(
                "expected at least 18 alb fields, found 12".into()
            ))
        );
        assert_eq!(
            run("").err(),
            Some(Reject::Malformed(
                "expected at least 18 alb fields, found 0".into()
            ))
        );
        let cases = [
            (
                HTTP.replacen("http ", "HTTP ", 1),
                Reject::Malformed("first field is not an alb entry type".into()),
            ),
            (
                HTTP.replacen("2018-07-02T22:23:00.186641Z", "yesterday", 1),
                Reject::Malformed("second field is not an alb timestamp".into()),
            ),
            (
                HTTP.replacen(
                    "2018-07-02T22:23:00.186641Z",
                    "2018-13-02T22:23:00.186641Z",
                    1,
                ),
                Reject::InvalidTimestamp(
                    r#"unparsable alb time "2018-13-02T22:23:00.186641Z""#.into(),
                ),
            ),
            (
                HTTP.replacen(" 0.001 ", " fast ", 1),
                Reject::WrongType("latency_ms"),
            ),
            (
                HTTP.replacen(" 0.001 ", " NaN ", 1),
                Reject::WrongType("latency_ms"),
            ),
            (
                HTTP.replacen(" 200 200 ", " OK 200 ", 1),
                Reject::WrongType("http_status"),
            ),
            (
                HTTP.replacen(" 34 366 ", " 34 1k ", 1),
                Reject::WrongType("bytes_sent"),
            ),
            (
                HTTP.replacen(r#""-" TID_"#, r#""- TID_"#, 1),
                Reject::Malformed("unterminated quoted field".into()),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(run(&line).err(), Some(want), "{line}");
        }
        // Garbage with many words is still not an ALB entry.
        let words = "the quick brown fox jumps over the lazy dog and keeps running far away from the farm today";
        assert_eq!(
            run(words).err(),
            Some(Reject::Malformed(
                "second field is not an alb timestamp".into()
            ))
        );
    }

    #[test]
    fn elb_status_dash_is_null() {
        let line = HTTP.replacen(" 200 200 ", " - - ", 1);
        let r = run(&line).unwrap();
        assert_eq!(r.http_status, None);
        assert_eq!(r.level, Some(Level::Info));
    }

    #[test]
    fn detection() {
        for line in [
            HTTP,
            HTTPS,
            H2,
            WS,
            WSS,
            LAMBDA_OK,
            NOT_DISPATCHED,
            BAD_REQUEST,
        ] {
            assert!(looks_like(line), "{line}");
        }
        for line in [
            "",
            "http",
            "http not-a-time",
            "grpc 2018-07-02T22:23:00.186641Z x",
            "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -",
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326"#,
            "https 2018-07-02 22:23:00 app",
        ] {
            assert!(!looks_like(line), "{line}");
        }
    }

    #[test]
    fn never_panics() {
        for line in [
            HTTP,
            HTTPS,
            H2,
            WS,
            WSS,
            LAMBDA_OK,
            LAMBDA_FAIL,
            NOT_DISPATCHED,
            BAD_REQUEST,
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
        for s in fuzz_lines(b" \"-:.0123456789httpsZT/\xc3\xa9", 2000) {
            let _ = looks_like(&s);
            let _ = run(&s);
        }
        // Enough fields to get past the count check, random values.
        for s in fuzz_lines(b"-:.019\"aT", 2000) {
            let line = format!(
                "h2 2018-07-02T22:23:00Z {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s} {s}"
            );
            let _ = run(&line);
        }
    }
}
