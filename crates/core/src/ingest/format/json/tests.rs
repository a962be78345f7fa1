//! The JSON scanner on real-shaped lines: aliases, flattening, escapes,
//! numbers, and the lines it must refuse.

use super::*;

fn rec(line: &str) -> Result<Record<'_>, Reject> {
    let mut r = Record::default();
    parse(line, &mut r).map(|_| r)
}

#[test]
fn generator_line() {
    let line = r#"{"timestamp":"2024-03-14T21:00:00.123Z","level":"INFO","service":"cart-api","host":"cart-api-1","message":"added 1 x SKU-AA-00001 to cart","method":"POST","path":"/v1/carts/ab/items","status":201,"latency_ms":27,"bytes_sent":1834,"user_id":null,"session_id":"s1","trace_id":"t1","span_id":"sp1","ip":"2a02:1::2","user_agent":"curl/8.5.0","region":"us-east-1","sku":"SKU-AA-00001","quantity":2,"amount":12.5,"currency":"EUR"}"#;
    let r = rec(line).unwrap();
    assert_eq!(r.ts, Some(1_710_450_000_123));
    assert_eq!(r.level, Some(Level::Info));
    assert_eq!(r.get(T::Service), Some("cart-api"));
    assert_eq!(r.get(T::HttpMethod), Some("POST"));
    assert_eq!(r.get(T::HttpPath), Some("/v1/carts/ab/items"));
    assert_eq!(r.http_status, Some(201));
    assert_eq!(r.latency_ms, Some(27.0));
    assert_eq!(r.bytes_sent, Some(1834));
    assert_eq!(r.get(T::UserId), None);
    assert_eq!(r.get(T::ClientIp), Some("2a02:1::2"));
    assert_eq!(r.get(T::Sku), Some("SKU-AA-00001"));
    assert_eq!(r.amount, Some(12.5));
    assert_eq!(r.attribute("span_id"), Some("sp1"));
    assert_eq!(r.attribute("quantity"), Some("2"));
    assert_eq!(r.attributes.len(), 2);
    // Nothing was allocated for a line without escapes.
    assert!(
        r.text
            .iter()
            .flatten()
            .all(|c| matches!(c, Cow::Borrowed(_)))
    );
}

#[test]
fn escapes_and_unicode() {
    let r = rec(
        r#"{"msg":"tab\there \"q\" back\\slash \u00e9 \ud83c\udfa7 \ud800 \/","ts":1710450000}"#,
    )
    .unwrap();
    assert_eq!(
        r.get(T::Message),
        Some("tab\there \"q\" back\\slash é 🎧 \u{FFFD} /")
    );
    assert_eq!(r.ts, Some(1_710_450_000_000));
}

#[test]
fn nested_objects_flatten_and_alias() {
    let r = rec(r#"{"@timestamp":"2024-03-14T21:00:00Z","log":{"level":"warning","logger":"x"},"service":{"name":"pay"},"http":{"request":{"method":"GET"},"response":{"status_code":503}},"tags":["a",{"b":[1,2]}],"ok":true}"#).unwrap();
    assert_eq!(r.level, Some(Level::Warn));
    assert_eq!(r.get(T::Service), Some("pay"));
    assert_eq!(r.get(T::HttpMethod), Some("GET"));
    assert_eq!(r.http_status, Some(503));
    assert_eq!(r.attribute("log.logger"), Some("x"));
    assert_eq!(r.attribute("tags"), Some(r#"["a",{"b":[1,2]}]"#));
    assert_eq!(r.attribute("ok"), Some("true"));
}

#[test]
fn first_alias_wins_and_the_rest_is_kept() {
    let r = rec(r#"{"time":"2024-03-14T21:00:00Z","timestamp":"garbage","msg":"a","message":"b"}"#)
        .unwrap();
    assert_eq!(r.ts, Some(1_710_450_000_000));
    assert_eq!(r.get(T::Message), Some("a"));
    assert_eq!(r.attribute("timestamp"), Some("garbage"));
    assert_eq!(r.attribute("message"), Some("b"));
}

#[test]
fn lenient_but_lossless_types() {
    let r = rec(r#"{"status":"404","latency_ms":"12.5","bytes_sent":512.0,"level":"loud","user_id":12345,"message":"x"}"#).unwrap();
    assert_eq!(r.http_status, Some(404));
    assert_eq!(r.latency_ms, Some(12.5));
    assert_eq!(r.bytes_sent, Some(512));
    assert_eq!(r.level, None);
    assert_eq!(r.attribute("level"), Some("loud"));
    assert_eq!(r.get(T::UserId), Some("12345"));
}

#[test]
fn rejects_with_reasons() {
    for (line, reason) in [
        (r#"{"status":"2OO"}"#, "wrong_type:http_status"),
        (r#"{"status":70000}"#, "wrong_type:http_status"),
        (r#"{"latency_ms":"slow-42"}"#, "wrong_type:latency_ms"),
        (r#"{"bytes_sent":1.5}"#, "wrong_type:bytes_sent"),
        (r#"{"amount":[1]}"#, "wrong_type:amount"),
        (r#"{"timestamp":"yesterday"}"#, "invalid_timestamp"),
        (r#"{"timestamp":true}"#, "invalid_timestamp"),
        (r#"{"a":1"#, "invalid_json"),
        (r#"{"a":1}}"#, "invalid_json"),
        (r#"{"a":01}"#, "invalid_json"),
        (r#"{"a":1.}"#, "invalid_json"),
        (r#"{"a":tru}"#, "invalid_json"),
        (r#"{"a":"x\q"}"#, "invalid_json"),
        (r#"{"a":"\u12"}"#, "invalid_json"),
        (r#"{a:1}"#, "invalid_json"),
        (r#"{"a" 1}"#, "invalid_json"),
        (r#"{"a":[1,]}"#, "invalid_json"),
        (r#"["a"]"#, "invalid_json"),
        (r#"{"a":"unterminated"#, "invalid_json"),
    ] {
        let got = rec(line).map(|_| ()).unwrap_err();
        assert_eq!(got.reason(), reason, "{line}");
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    for open in ["{\"a\":", "[", "{\"a\":["] {
        let mut line = String::from("{\"x\":");
        for _ in 0..100_000 {
            line.push_str(open);
        }
        assert_eq!(rec(&line).unwrap_err(), Reject::NestingTooDeep, "{open}");
    }
    let ok = format!(
        "{}1{}",
        "{\"a\":".repeat(MAX_DEPTH - 1),
        "}".repeat(MAX_DEPTH - 1)
    );
    let r = rec(&ok).unwrap();
    assert_eq!(r.attributes.len(), 1);
}

#[test]
fn every_prefix_of_a_line_is_handled() {
    let line =
        r#"{"timestamp":"2024-03-14T21:00:00Z","msg":"caf\u00e9 ☕","n":[1,{"x":null}],"b":false}"#;
    for end in (0..line.len()).filter(|e| line.is_char_boundary(*e)) {
        assert!(rec(&line[..end]).is_err(), "{}", &line[..end]);
    }
    assert!(rec(line).is_ok());
}

#[test]
fn alias_table_is_consistent() {
    let mut seen = std::collections::HashSet::new();
    for (col, names) in ALIASES {
        for n in *names {
            assert!(seen.insert(*n), "{n} listed twice");
            assert_eq!(column_for(n), Some(*col), "{n}");
        }
    }
}

#[test]
fn string_end_finder_agrees_with_memchr2() {
    // Every length up to past the register loop, each of `"`, `\` and
    // none at every position, among ASCII, multibyte UTF-8 and bytes one
    // off the targets (`!`, `#`, `[`, `]`) that a borrow could flag.
    let fill = "a!#[]é€\u{7f}";
    for len in 0..80 {
        let base: Vec<u8> = fill.bytes().cycle().take(len).collect();
        assert_eq!(
            quote_or_backslash(&base),
            memchr::memchr2(b'"', b'\\', &base),
            "{len}"
        );
        for at in 0..len {
            for c in [b'"', b'\\'] {
                let mut b = base.clone();
                b[at] = c;
                // A second target later must not win.
                if at + 3 < len {
                    b[at + 3] = b'"';
                }
                assert_eq!(
                    quote_or_backslash(&b),
                    memchr::memchr2(b'"', b'\\', &b),
                    "{len} {at}"
                );
            }
        }
    }
}

/// Names read through the line before's ([`Keys`]) give the record a fresh
/// parse gives, whatever the lines do to the names at each position:
/// another name, a longer or shorter one, an escaped one, spaces, nesting,
/// a cut-off line.
#[test]
fn remembered_names_give_the_same_records() {
    let long_key = "k".repeat(80);
    let many: String = (0..70).map(|i| format!(r#""f{i}":{i},"#)).collect();
    let lines = [
        r#"{"timestamp":"2024-03-14T21:00:00Z","level":"INFO","msg":"a","x":1}"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:00Z","level":"INFO","msg":"a","x":1}"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:01Z","levelname":"WARN","msg":"b"}"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:01Z","lev":"WARN","msg":"b"}"#.to_string(),
        r#"{"time\u0073tamp":"2024-03-14T21:00:02Z","lvl":"error","msg":"c"}"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:02Z","lvl":"error","msg":"c"}"#.to_string(),
        r#"{ "timestamp" : "2024-03-14T21:00:03Z" , "level" : "INFO" , "log" : {"level":"x"} }"#
            .to_string(),
        r#"{"timestamp":"2024-03-14T21:00:04Z","attributes":{"level":"1","msg":"m"},"level":"INFO"}"#
            .to_string(),
        r#"{"timestamp":"2024-03-14T21:00:04Z","level":"INFO","msg"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:04Z","level":"INFO","ms"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:04Z","level":"INFO","msg":"a","x":1,"x":2}"#.to_string(),
        format!(r#"{{"{long_key}":"v","timestamp":"2024-03-14T21:00:05Z"}}"#),
        format!(r#"{{"{long_key}":"v","timestamp":"2024-03-14T21:00:05Z"}}"#),
        format!(r#"{{{many}"timestamp":"2024-03-14T21:00:06Z"}}"#),
        format!(r#"{{{many}"timestamp":"2024-03-14T21:00:06Z"}}"#),
        r#"{"timestamp":"2024-03-14T21:00:07Z","level":"INFO","msg":"a","x":1}"#.to_string(),
    ];
    let mut keys = Keys::default();
    for (n, line) in lines.iter().enumerate() {
        let mut remembered = Record::default();
        let got = parse_with(line, &mut remembered, &mut keys);
        let mut fresh = Record::default();
        let want = parse(line, &mut fresh);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "line {n}: {line}");
        assert_eq!(remembered, fresh, "line {n}: {line}");
    }
    // The names seen are kept, at most one per position, never an escaped
    // or a long one.
    assert!(keys.seen.len() <= 64);
}
