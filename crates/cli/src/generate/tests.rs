//! Tests of the generator as a whole (line shape, determinism, the line and
//! byte limits, distributions, timestamps, malformed kinds) and of the
//! encoders and the size parser; they share the helpers at the top.

use super::encode::{push_datetime, push_json_str};
use super::pools::{LEVELS, SEARCH_TERMS, SERVICES, STATUS_OK, STATUS_WARN};
use super::*;
use serde_json::Value;

const FIELDS: [&str; 17] = [
    "timestamp",
    "level",
    "service",
    "host",
    "message",
    "method",
    "path",
    "status",
    "latency_ms",
    "bytes_sent",
    "user_id",
    "session_id",
    "trace_id",
    "span_id",
    "ip",
    "user_agent",
    "region",
];

fn run(opts: &GenOptions) -> (Vec<u8>, GenStats) {
    let mut out = Vec::new();
    let stats = generate(opts, &mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    assert_eq!(
        stats.lines,
        out.iter().filter(|&&b| b == b'\n').count() as u64
    );
    (out, stats)
}

fn lines_of(opts: &GenOptions) -> Vec<String> {
    let (out, _) = run(opts);
    let text = String::from_utf8(out).unwrap();
    let body = text.strip_suffix('\n').unwrap_or(&text);
    if body.is_empty() && text.is_empty() {
        return Vec::new();
    }
    body.split('\n').map(str::to_owned).collect()
}

fn n_lines(n: u64, seed: u64) -> GenOptions {
    GenOptions {
        lines: Some(n),
        seed,
        ..GenOptions::default()
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Independent of the module's formatter, so a formatting bug shows up.
fn parse_ts(s: &str) -> i64 {
    let b = s.as_bytes();
    assert_eq!(b.len(), 24, "{s}");
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16], b[19], b[23]),
        (b'-', b'-', b'T', b':', b':', b'.', b'Z'),
        "{s}"
    );
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (mo, d, h, mi, se) = (n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    assert!(
        (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && se < 60,
        "{s}"
    );
    (days_from_civil(n(0..4), mo, d) * 86_400 + h * 3600 + mi * 60 + se) * 1000 + n(20..23)
}

/// A complete object of the good shape: every always-present field with
/// its type, optional fields with theirs, and the Python field order.
fn good_shape(line: &str) -> bool {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) else {
        return false;
    };
    let str_fields = FIELDS
        .iter()
        .filter(|f| !matches!(**f, "status" | "latency_ms" | "bytes_sent" | "user_id"));
    let ok = str_fields
        .clone()
        .all(|f| m.get(*f).is_some_and(Value::is_string))
        && m["status"].is_u64()
        && m["latency_ms"].is_number()
        && m["bytes_sent"].is_u64()
        && (m["user_id"].is_string() || m["user_id"].is_null());
    if !ok {
        return false;
    }
    for (k, v) in &m {
        let typed = match k.as_str() {
            "amount" => v.is_f64() || v.is_u64(),
            "results" | "quantity" => v.is_u64(),
            "order_id" | "currency" | "sku" | "payment_method" | "query" | "error_type"
            | "stack_trace" => v.is_string(),
            _ => FIELDS.contains(&k.as_str()),
        };
        if !typed {
            return false;
        }
    }
    // Keys are never found inside string values: a quote there is always
    // escaped, so `"key":` only matches real keys.
    let positions: Vec<usize> = FIELDS
        .iter()
        .map(|f| line.find(&format!("\"{f}\":")).unwrap())
        .collect();
    line.starts_with("{\"timestamp\":\"") && positions.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn good_lines_have_fields_types_and_order() {
    let lines = lines_of(&n_lines(5000, 7));
    assert_eq!(lines.len(), 5000);
    for l in &lines {
        assert!(good_shape(l), "bad line: {l}");
        let v: Value = serde_json::from_str(l).unwrap();
        parse_ts(v["timestamp"].as_str().unwrap());
        assert!(SERVICES.iter().any(|s| s.0 == v["service"]));
        assert!(LEVELS.iter().any(|s| s.0 == v["level"]));
        assert!(
            v["host"]
                .as_str()
                .unwrap()
                .starts_with(v["service"].as_str().unwrap())
        );
        assert_eq!(v["trace_id"].as_str().unwrap().len(), 32);
        assert_eq!(v["span_id"].as_str().unwrap().len(), 16);
    }
}

#[test]
fn events_statuses_and_latency_look_like_the_python_generator() {
    let lines = lines_of(&n_lines(20_000, 3));
    let mut seen_fields = std::collections::BTreeSet::new();
    let mut latencies = Vec::new();
    let mut nulls = 0;
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let m = v.as_object().unwrap();
        seen_fields.extend(m.keys().cloned());
        let status = v["status"].as_u64().unwrap();
        match v["level"].as_str().unwrap() {
            "ERROR" => {
                assert!(status >= 400, "{l}");
                assert!(
                    v["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("request failed: "),
                    "{l}"
                );
            }
            "WARN" => assert!(
                STATUS_WARN.contains(&(status as u16)) || STATUS_OK.contains(&(status as u16))
            ),
            "DEBUG" => {
                assert!(STATUS_OK.contains(&(status as u16)));
                assert!(v["message"].as_str().unwrap().contains(" | "), "{l}");
            }
            _ => assert!(STATUS_OK.contains(&(status as u16))),
        }
        if status >= 500 {
            assert!(v["latency_ms"].as_u64().unwrap() >= 101);
        }
        if let Some(q) = v.get("query") {
            assert!(SEARCH_TERMS.contains(&q.as_str().unwrap()), "{l}");
        }
        if v["user_id"].is_null() {
            nulls += 1;
        }
        latencies.push(v["latency_ms"].as_u64().unwrap());
    }
    for f in [
        "order_id",
        "amount",
        "currency",
        "sku",
        "quantity",
        "payment_method",
        "query",
        "results",
        "error_type",
        "stack_trace",
    ] {
        assert!(
            seen_fields.contains(f),
            "optional field {f} never generated"
        );
    }
    latencies.sort_unstable();
    let median = latencies[latencies.len() / 2];
    assert!((15..=45).contains(&median), "median latency {median}");
    assert!(*latencies.last().unwrap() > 1000, "no long tail");
    let null_share = f64::from(nulls) / lines.len() as f64;
    assert!(
        (0.05..0.11).contains(&null_share),
        "user_id null share {null_share}"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run(&n_lines(3000, 42)).0;
    let b = run(&n_lines(3000, 42)).0;
    let c = run(&n_lines(3000, 43)).0;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let bad = |seed| GenOptions {
        malformed: 0.1,
        ..n_lines(2000, seed)
    };
    assert_eq!(run(&bad(9)).0, run(&bad(9)).0);
}

#[test]
fn lines_option_gives_exactly_n_lines() {
    for n in [0, 1, 7, 2500, 5000] {
        let (out, stats) = run(&n_lines(n, 1));
        assert_eq!(stats.lines, n);
        assert!(out.is_empty() || out.ends_with(b"\n"));
    }
    // Empty malformed lines still count as lines.
    let (_, stats) = run(&GenOptions {
        malformed: 1.0,
        ..n_lines(999, 1)
    });
    assert_eq!(stats.lines, 999);
    assert_eq!(run(&GenOptions::default()).1.lines, DEFAULT_LINES);
}

#[test]
fn bytes_option_stops_at_first_line_boundary_at_or_past_limit() {
    assert_eq!(
        run(&GenOptions {
            bytes: Some(0),
            ..GenOptions::default()
        })
        .1,
        GenStats::default()
    );
    // Limits below, at and above the internal flush size.
    for limit in [
        1,
        610,
        100_000,
        FLUSH_AT as u64,
        FLUSH_AT as u64 + 3,
        3 << 20,
    ] {
        let opts = GenOptions {
            bytes: Some(limit),
            ..GenOptions::default()
        };
        let (out, stats) = run(&opts);
        assert!(stats.bytes >= limit, "{} < {limit}", stats.bytes);
        assert_eq!(*out.last().unwrap(), b'\n');
        let last_start = out[..out.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        assert!(
            (last_start as u64) < limit,
            "a line boundary before the last line was already past {limit}"
        );
    }
    // An exact boundary stops right there.
    let (lines_out, _) = run(&n_lines(10, 42));
    let (bytes_out, _) = run(&GenOptions {
        bytes: Some(lines_out.len() as u64),
        lines: Some(10),
        ..GenOptions::default()
    });
    assert_eq!(lines_out, bytes_out);
}

#[test]
fn bytes_mode_still_spreads_timestamps_over_the_span() {
    let opts = GenOptions {
        bytes: Some(4 << 20),
        ..GenOptions::default()
    };
    let lines = lines_of(&opts);
    let tail: Vec<i64> = lines[lines.len() - 50..]
        .iter()
        .map(|l| {
            parse_ts(
                serde_json::from_str::<Value>(l).unwrap()["timestamp"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    let span = 6 * 3_600_000;
    let end = DEFAULT_START_MS + span;
    let last = *tail.iter().max().unwrap();
    assert!(
        (last - end).abs() < span / 10,
        "last timestamp {last} is far from the end of the span {end}"
    );
}

#[derive(Debug, Default, PartialEq)]
struct Kinds {
    good: usize,
    truncated: usize,
    plain_text: usize,
    continuation: usize,
    wrong_types: usize,
    epoch_ts: usize,
    empty: usize,
}

fn classify(lines: &[String]) -> Kinds {
    let mut k = Kinds::default();
    for l in lines {
        if l.is_empty() {
            k.empty += 1;
        } else if l.starts_with("\tat com.shop.Worker.run(Worker.java:") && l.ends_with(')') {
            k.continuation += 1;
        } else if l.len() > 19
            && l.as_bytes()[10] == b' '
            && l.contains(" ERROR [main] c.s.Application - Unhandled exception in worker-")
        {
            let secs = parse_ts(&format!("{}T{}.000Z", &l[..10], &l[11..19])) / 1000;
            assert!((1_710_450_000..1_710_470_000).contains(&secs), "{l}");
            k.plain_text += 1;
        } else if good_shape(l) {
            k.good += 1;
        } else {
            match serde_json::from_str::<Value>(l) {
                Ok(v) if v["timestamp"].is_i64() => {
                    assert!(v["status"].is_u64());
                    k.epoch_ts += 1;
                }
                Ok(v)
                    if v["status"].is_string()
                        && v["latency_ms"].as_str().unwrap().starts_with("slow-") =>
                {
                    assert!(v["bytes_sent"].is_u64());
                    k.wrong_types += 1;
                }
                Ok(_) => panic!("unexpected valid JSON: {l}"),
                Err(_) => {
                    assert!(l.starts_with('{'), "{l}");
                    k.truncated += 1;
                }
            }
        }
    }
    k
}

#[test]
fn malformed_fraction_produces_every_kind() {
    let lines = lines_of(&GenOptions {
        malformed: 0.2,
        ..n_lines(5000, 11)
    });
    assert_eq!(lines.len(), 5000);
    let k = classify(&lines);
    for (name, n) in [
        ("truncated", k.truncated),
        ("plain text", k.plain_text),
        ("continuation", k.continuation),
        ("wrong types", k.wrong_types),
        ("epoch timestamp", k.epoch_ts),
        ("empty", k.empty),
    ] {
        assert!(n >= 80, "only {n} {name} lines: {k:?}");
    }
    let bad = (5000 - k.good) as f64 / 5000.0;
    assert!((0.17..0.23).contains(&bad), "bad share {bad}: {k:?}");

    let clean = classify(&lines_of(&n_lines(2000, 11)));
    assert_eq!(
        clean,
        Kinds {
            good: 2000,
            ..Kinds::default()
        }
    );
}

#[test]
fn invalid_options_are_rejected() {
    for opts in [
        GenOptions {
            malformed: 1.5,
            ..GenOptions::default()
        },
        GenOptions {
            malformed: f64::NAN,
            ..GenOptions::default()
        },
        GenOptions {
            span_hours: -1.0,
            ..GenOptions::default()
        },
        GenOptions {
            span_hours: f64::INFINITY,
            ..GenOptions::default()
        },
    ] {
        let err = generate(&opts, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn timestamps_cover_the_span_and_stay_near_monotone() {
    let n = 20_000;
    let lines = lines_of(&n_lines(n, 5));
    let span = 6 * 3_600_000;
    let ts: Vec<i64> = lines
        .iter()
        .map(|l| {
            parse_ts(
                serde_json::from_str::<Value>(l).unwrap()["timestamp"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    let start = DEFAULT_START_MS;
    assert!(
        (start - 91_000..=start + 40).contains(&ts[0]),
        "first {}",
        ts[0]
    );
    let end = start + span;
    assert!(
        (end - 93_000..=end).contains(&ts[n as usize - 1]),
        "last {}",
        ts[n as usize - 1]
    );

    let mut late = 0;
    let mut running_max = i64::MIN;
    for (i, &t) in ts.iter().enumerate() {
        let expected = start + i as i64 * span / n as i64;
        assert!(
            (expected - 90_040..expected + 40).contains(&t),
            "line {i}: {t} vs {expected}"
        );
        if t < expected - 40 {
            late += 1;
        }
        running_max = running_max.max(t);
        assert!(
            running_max - t <= 120_000,
            "line {i} is {} ms behind",
            running_max - t
        );
    }
    assert!(
        (40..=200).contains(&late),
        "{late} late lines, expected ~100"
    );
    // The default span crosses midnight into 2024-03-15.
    assert!(lines[0].contains("\"2024-03-14T2"));
    assert!(lines.last().unwrap().contains("\"2024-03-15T02:"));
}

#[test]
fn datetime_formatting_matches_known_instants() {
    for (secs, want) in [
        (0, "1970-01-01T00:00:00"),
        (-1, "1969-12-31T23:59:59"),
        (951_782_400, "2000-02-29T00:00:00"),
        (1_710_450_000, "2024-03-14T21:00:00"),
        (1_709_251_199, "2024-02-29T23:59:59"),
        (4_102_444_800, "2100-01-01T00:00:00"),
    ] {
        let mut out = Vec::new();
        push_datetime(&mut out, secs, b'T');
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(parse_ts(&format!("{want}.000Z")), secs * 1000);
    }
}

#[test]
fn escaping_round_trips_in_both_modes() {
    let s = "tab\there \\ \"q\" 🎧 é ✔ \u{1}\u{7f}\r\n";
    let mut ascii = Vec::new();
    push_json_str(&mut ascii, s.as_bytes(), true);
    assert!(ascii.is_ascii());
    // Python: json.dumps(s, ensure_ascii=True)
    assert_eq!(
        std::str::from_utf8(&ascii).unwrap(),
        r#""tab\there \\ \"q\" \ud83c\udfa7 \u00e9 \u2714 \u0001\u007f\r\n""#
    );
    let mut raw = Vec::new();
    push_json_str(&mut raw, s.as_bytes(), false);
    assert_eq!(
        std::str::from_utf8(&raw).unwrap(),
        "\"tab\\there \\\\ \\\"q\\\" 🎧 é ✔ \\u0001\u{7f}\\r\\n\""
    );
    for enc in [&ascii, &raw] {
        assert_eq!(serde_json::from_slice::<String>(enc).unwrap(), s);
    }
    for term in SEARCH_TERMS {
        for mode in [false, true] {
            let mut enc = Vec::new();
            push_json_str(&mut enc, term.as_bytes(), mode);
            assert_eq!(serde_json::from_slice::<String>(&enc).unwrap(), term);
        }
    }
}

#[test]
fn generated_lines_use_both_escaping_modes() {
    let lines = lines_of(&n_lines(20_000, 8));
    let emoji_ascii = lines
        .iter()
        .any(|l| l.contains(r#""query":"\ud83c\udfa7 headphones""#));
    let emoji_raw = lines
        .iter()
        .any(|l| l.contains("\"query\":\"🎧 headphones\""));
    let tab_query = lines
        .iter()
        .any(|l| l.contains(r#""query":"tab\tseparated""#));
    let msg_ascii = lines
        .iter()
        .any(|l| l.contains(r#"checkout completed \u2714"#));
    let msg_raw = lines.iter().any(|l| l.contains("checkout completed ✔"));
    assert!(emoji_ascii && emoji_raw && tab_query && msg_ascii && msg_raw);
}

#[test]
fn services_follow_their_weights() {
    let lines = lines_of(&n_lines(20_000, 21));
    let mut counts = [0usize; SERVICES.len()];
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let i = SERVICES.iter().position(|s| s.0 == v["service"]).unwrap();
        counts[i] += 1;
    }
    let total_w: f64 = SERVICES.iter().map(|s| s.1).sum();
    for (i, (name, w, _)) in SERVICES.iter().enumerate() {
        let share = counts[i] as f64 / lines.len() as f64;
        let want = w / total_w;
        assert!(
            (share - want).abs() < 0.025,
            "{name}: {share:.3} vs {want:.3}"
        );
    }
}

#[test]
fn parse_size_accepts_units() {
    for (s, want) in [
        ("1GiB", 1 << 30),
        ("500MB", 500_000_000),
        ("64k", 65_536),
        ("123", 123),
        ("1.5KiB", 1536),
        (" 2 MiB ", 2 << 20),
        ("3kb", 3000),
        ("7b", 7),
        ("1G", 1 << 30),
        ("0", 0),
    ] {
        assert_eq!(parse_size(s), Ok(want), "{s}");
    }
    for s in [
        "",
        "GiB",
        "abc",
        "-1",
        "1.2.3MB",
        "1e400",
        "99999999999999999999GiB",
    ] {
        assert!(parse_size(s).is_err(), "{s}");
    }
}
