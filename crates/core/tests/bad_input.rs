//! Input that is not clean: every bad line quarantined with its reason and
//! raw bytes, oversized lines cut on a character boundary, a truncated
//! gzip source reported and balanced, and empty or blank sources that
//! write only a manifest.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use base64::Engine;

use loglake_core::ingest::input::Compression;
use loglake_core::ingest::lake::OutputKind;
use loglake_core::ingest::manifest::Outcome;
use loglake_core::{IngestOptions, MemoryStore, ingest};
use support::{
    HOUR, T21, all_rows, gzip, join, json_line, lossy, options, output_name, quarantine_records,
    reasons, source, splitmix,
};

#[test]
fn quarantine_records_every_bad_line_with_reason_and_raw_bytes() {
    let oversized = format!(
        r#"{{"ts":"2024-03-14T21:00:04Z","msg":"{}"}}"#,
        "a".repeat(300)
    );
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-03-14T21:00:00Z","level":"info","service":"web","msg":"first"}"#,
        br#"{"ts":"2024-03-14T21:00:01Z","level":"info","service":"web","msg":"second"}"#,
        br#"{"ts":"2024-03-14T21:00:02Z","msg":"broken""#,
        b"{\"ts\":\"2024-03-14T21:00:03Z\",\"msg\":\"bad \xff\xfe bytes\"}",
        oversized.as_bytes(),
        br#"{"ts":"2024-03-14T21:00:05Z","status":"teapot"}"#,
        b"",
        b"    at com.example.Checkout.pay(Checkout.java:42)",
        br#"{"ts":"2024-03-14T21:00:06Z","level":"error","service":"web","msg":"last"}"#,
    ];
    let (input, offsets) = join(&lines, "\n");
    let store = MemoryStore::default();
    let mut o = options(false);
    o.max_line_bytes = 128;
    let modified = T21 + HOUR;
    let m = ingest(source("q.log", &input, Some(modified)), &store, &o).unwrap();

    assert!(m.balanced(), "{m:#?}");
    assert_eq!(m.format, "json");
    assert_eq!(
        (m.lines_total, m.lines_in, m.rows_out, m.quarantined),
        (9, 8, 4, 4)
    );
    assert_eq!(
        (m.skipped_blank, m.skipped_header, m.ts_inferred),
        (1, 0, 1)
    );
    assert_eq!(
        m.quarantined_by_reason,
        reasons(&[
            ("invalid_json", 1),
            ("invalid_utf8", 1),
            ("oversized_line", 1),
            ("wrong_type:http_status", 1),
        ])
    );
    assert_eq!(m.errors_by_service, reasons(&[("web", 1)]));

    // The quarantine file: named by the source's modification day, listed in
    // the manifest, gzip NDJSON in line order.
    let qkey = format!(
        "quarantine/dt=2024-03-14/{}.ndjson.gz",
        output_name("q.log", "id:q.log")
    );
    let q = m
        .outputs
        .iter()
        .find(|o| o.kind == OutputKind::Quarantine)
        .unwrap();
    assert_eq!(
        (q.key.as_str(), q.rows, q.partition.as_deref()),
        (qkey.as_str(), 4, None)
    );
    let objects = store.objects();
    assert_eq!(q.bytes, objects[&qkey].len() as u64);
    let recs = quarantine_records(&objects[&qkey]);
    assert_eq!(recs.len(), 4);
    let text = |b: &[u8]| Some(lossy(b));
    // (line, offset, reason, raw, raw_base64, raw_len)
    type Want<'a> = (u64, u64, &'a str, Option<String>, Option<String>, u64);
    let want: Vec<Want> = vec![
        (
            3,
            offsets[2],
            "invalid_json",
            text(lines[2]),
            None,
            lines[2].len() as u64,
        ),
        (
            4,
            offsets[3],
            "invalid_utf8",
            // Redaction is on: the lossy text, masked, never the bytes.
            text(lines[3]),
            None,
            lines[3].len() as u64,
        ),
        (
            5,
            offsets[4],
            "oversized_line",
            text(&lines[4][..128]),
            None,
            oversized.len() as u64,
        ),
        (
            6,
            offsets[5],
            "wrong_type:http_status",
            text(lines[5]),
            None,
            lines[5].len() as u64,
        ),
    ];
    for (r, (line, offset, reason, raw, raw_b64, raw_len)) in recs.iter().zip(want) {
        assert_eq!(r["source_uri"], "mem://q.log");
        assert_eq!(r["line"], line);
        assert_eq!(r["offset"], offset, "line {line}");
        assert_eq!(r["reason"], reason, "line {line}");
        assert_eq!(r["raw"].as_str(), raw.as_deref(), "line {line}");
        assert_eq!(r["raw_base64"].as_str(), raw_b64.as_deref(), "line {line}");
        assert_eq!(r["raw_len"], raw_len, "line {line}");
        assert_eq!(
            r["raw_sha256"].is_string(),
            reason == "invalid_utf8",
            "line {line}"
        );
        // Only a parse error has a detail to tell.
        assert_eq!(
            r["detail"].is_string(),
            reason == "invalid_json",
            "line {line}"
        );
    }

    // The rows: the continuation line became a text row at the time of the
    // last line that had one (line 2: lines 3-6 were quarantined).
    let rows = all_rows(&store, &m);
    let got: Vec<(i64, i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.line, r.ts, r.format.as_str(), r.service.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, T21, "json", Some("web")),
            (2, T21 + 1000, "json", Some("web")),
            (8, T21 + 1000, "text", None),
            (9, T21 + 6000, "json", Some("web")),
        ]
    );
    let text = &rows[2];
    assert_eq!(
        text.message.as_deref(),
        Some("    at com.example.Checkout.pay(Checkout.java:42)")
    );
    assert_eq!(
        text.attrs,
        vec![("ts_inferred".into(), "previous_line".into())]
    );
}

#[test]
fn an_oversized_line_cut_inside_a_character_keeps_its_text() {
    // "é" is two bytes; 9 bytes end inside the second one.
    let input = "{\"m\":\"éééééé\"}\n".as_bytes();
    let store = MemoryStore::default();
    let opts = IngestOptions {
        max_line_bytes: 9,
        ..options(false)
    };
    let m = ingest(source("cut.log", input, Some(T21)), &store, &opts).unwrap();
    assert_eq!(m.quarantined_by_reason, reasons(&[("oversized_line", 1)]));
    let q = quarantine_records(&store.objects()[&m.outputs[0].key]);
    assert_eq!(q[0]["raw"], "{\"m\":\"é");
    assert!(q[0].get("raw_base64").is_none());
    assert_eq!(q[0]["raw_len"], input.len() as u64 - 1);
}

#[test]
fn truncated_gzip_source_is_reported_and_balanced() {
    let input: Vec<u8> = (0..3000i64)
        .flat_map(|i| json_line(i, T21 + i, &format!("{:016x}", splitmix(i as u64))))
        .collect();
    let gz = gzip(&input);
    let store = MemoryStore::default();
    let m = ingest(
        source("cut.log.gz", &gz[..gz.len() / 2], None),
        &store,
        &options(true),
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(m.outcome, Outcome::Truncated);
    assert!(m.error.as_deref().unwrap().starts_with("input ended early"));
    assert_eq!(m.compression, Compression::Gzip);
    assert!(m.rows_out > 100 && m.rows_out < 3000, "{}", m.rows_out);
    // The line the input broke off in, if any, is quarantined as such.
    assert!(m.quarantined <= 1);
    assert_eq!(
        m.quarantined_by_reason
            .get("truncated_input")
            .copied()
            .unwrap_or(0),
        m.quarantined
    );
    assert_eq!(m.bytes_in, (gz.len() / 2) as u64);
    // Rows are exactly the first lines, in order.
    let lines: Vec<i64> = all_rows(&store, &m).iter().map(|r| r.line).collect();
    assert_eq!(lines, (1..=m.rows_out as i64).collect::<Vec<_>>());
}

#[test]
fn a_damaged_gzip_member_costs_only_itself() {
    // Three Firehose-style members; the middle one is damaged halfway.
    let member = |from: i64| -> Vec<u8> {
        let lines: Vec<u8> = (from..from + 1000)
            .flat_map(|i| json_line(i, T21 + i, &format!("{:016x}", splitmix(i as u64))))
            .collect();
        gzip(&lines)
    };
    let mut bad = member(1000);
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0xa5;
    }
    let object = [member(0), bad, member(2000)].concat();
    for pipelined in [false, true] {
        let store = MemoryStore::default();
        let m = ingest(
            source("firehose.gz", &object, None),
            &store,
            &options(pipelined),
        )
        .unwrap();
        assert!(m.balanced(), "{m:?}");
        assert_eq!(m.outcome, Outcome::Corrupt);
        assert_eq!(m.corrupt_members, 1);
        assert!(
            m.error.as_deref().unwrap().contains("damaged gzip member"),
            "{:?}",
            m.error
        );
        // The first member whole, some of the second, the third whole: the
        // third's rows are the 1000 messages of n = 2000..3000.
        let rows = all_rows(&store, &m);
        let ns: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.attr("n").and_then(|n| n.parse().ok()))
            .collect();
        let count = |r: std::ops::Range<i64>| ns.iter().filter(|n| r.contains(n)).count();
        assert_eq!((count(0..1000), count(2000..3000)), (1000, 1000), "{m:?}");
        let middle = ns.iter().filter(|n| (1000..2000).contains(*n)).count();
        assert!(middle < 1000, "{middle}");
        // What the damaged member inflated to before the damage showed is
        // quarantined (a corrupt deflate stream decodes to garbage for a
        // while), and the line the damage broke off is truncated.
        assert_eq!(m.quarantined_by_reason.get("truncated_input"), Some(&1));
        assert!(
            m.quarantined_by_reason.keys().all(|r| [
                "truncated_input",
                "invalid_json",
                "invalid_utf8"
            ]
            .contains(&r.as_str())),
            "{:?}",
            m.quarantined_by_reason
        );
    }
}

#[test]
fn empty_and_blank_sources_write_only_a_manifest() {
    for (name, input) in [
        ("empty", Vec::new()),
        ("blank", b"\n  \r\n\t\n".to_vec()),
        ("bom", b"\xEF\xBB\xBF".to_vec()),
        ("empty-gz", gzip(b"")),
    ] {
        let store = MemoryStore::default();
        let m = ingest(source(name, &input, None), &store, &options(true)).unwrap();
        assert!(m.balanced(), "{name}");
        assert_eq!((m.lines_in, m.rows_out, m.quarantined), (0, 0, 0), "{name}");
        assert_eq!(m.skipped_blank, m.lines_total, "{name}");
        assert!(m.outputs.is_empty(), "{name}");
        assert_eq!(m.outcome, Outcome::Complete, "{name}");
        let keys: Vec<String> = store.objects().into_keys().collect();
        assert_eq!(
            keys,
            vec![format!(
                "_manifests/{}.json",
                output_name(name, &format!("id:{name}"))
            )]
        );
    }
}

/// Lines that are not UTF-8 keep no unmasked bytes: their lossy text is
/// masked; a card an invalid byte splits (masking cannot be proven on the
/// lossy text) leaves only a hash; the base64 of the bytes is kept only
/// when nothing is redacted. Details are masked too.
#[test]
fn quarantined_lines_are_masked_even_when_not_utf8() {
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-03-14T21:00:00Z","msg":"ok"}"#,
        b"{\"msg\":\"card 4111 1111 1111 1111 for jane@example.com \xff\"}",
        b"{\"msg\":\"card 4111 1111 11\xff11 1111 token=abcdef123456\"}",
        br#"{"msg": "password=hunter2 card 5555555555554444", broken"#,
    ];
    let (input, _) = join(&lines, "\n");
    let run = |redact: &str| {
        let store = MemoryStore::default();
        let o = IngestOptions {
            redact: loglake_core::redact::RedactOptions::parse(redact).unwrap(),
            ..options(false)
        };
        let m = ingest(source("pii.log", &input, Some(T21)), &store, &o).unwrap();
        let q = m
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Quarantine)
            .unwrap();
        quarantine_records(&store.objects()[&q.key])
    };
    let q = run("cards,emails,secrets");
    assert_eq!(q.len(), 3);
    let all = serde_json::to_string(&q).unwrap();
    for needle in [
        "4111 1111 1111 1111",
        "jane@example.com",
        "hunter2",
        "5555555555554444",
        "abcdef123456",
        "1111 11",
    ] {
        assert!(!all.contains(needle), "{needle} in {all}");
    }
    assert_eq!(
        q[0]["raw"]
            .as_str()
            .map(|s| s.contains("**** **** **** 1111")),
        Some(true)
    );
    assert!(q[0].get("raw_base64").is_none() && q[0]["raw_sha256"].is_string());
    assert!(
        q[1].get("raw").is_none(),
        "a card split by a stray byte: {}",
        q[1]
    );
    assert!(q[1]["raw_sha256"].is_string() && q[1]["raw_len"].as_u64().unwrap() > 0);
    assert!(q[2]["detail"].is_string());

    // Nothing redacted: the bytes are kept, as base64.
    let q = run("none");
    let b64 = base64::engine::general_purpose::STANDARD.encode(lines[1]);
    assert_eq!(q[0]["raw_base64"].as_str(), Some(b64.as_str()));
    assert!(q[0].get("raw").is_none());
}
