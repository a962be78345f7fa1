//! `loglake search setup|bulk` and `ingest --search-endpoint` against the
//! strict OpenSearch test server (tests/opensearch_mock.py).
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

use loglake_testkit::opensearch::Mock;
use serde_json::{Value, json};

fn loglake(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_loglake"))
        .args(args)
        .env_remove("SEARCH_ENDPOINT")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    eprintln!(
        "loglake {args:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(p: &Path, lines: &[Value]) {
    let s: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(p, s).unwrap();
}

#[test]
fn setup_is_idempotent_and_matches_what_ingest_writes() {
    let os = Mock::start(&[]);
    let args = [
        "search",
        "setup",
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
        "--retention-days",
        "14",
    ];
    let first = loglake(&args);
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("ISM policy loglake-logs: created"));
    let second = loglake(&args);
    assert!(second.status.success(), "running setup twice is harmless");
    assert!(String::from_utf8_lossy(&second.stdout).contains("already up to date"));
    // A new retention updates the policy in place (with its seq_no).
    let mut changed = args.to_vec();
    changed[7] = "30";
    let third = loglake(&changed);
    assert!(String::from_utf8_lossy(&third.stdout).contains("updated"));
    let (st, policy) = os.call("GET", "/_plugins/_ism/policies/loglake-logs", None);
    assert_eq!(st, 200);
    assert_eq!(
        policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"],
        "30d"
    );
    let (st, t) = os.call("GET", "/_index_template/loglake-logs", None);
    assert_eq!(st, 200);
    let props = &t["index_templates"][0]["index_template"]["template"]["mappings"]["properties"];
    let mut fields: Vec<&str> = props
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut schema: Vec<&str> = loglake_core::schema::COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    fields.sort();
    schema.sort();
    assert_eq!(
        fields, schema,
        "the applied template's fields are the schema"
    );

    // Documents with arbitrary attribute keys never add mapped fields.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.ndjson");
    let lines: Vec<Value> = (0..50)
        .map(|i| json!({"ts": "2026-11-21T08:00:00Z", "level": "WARN", "service": "cart",
                        "msg": format!("m{i}"), format!("custom_key_{i}"): i, "nested": {"deep": {"k": i}}}))
        .collect();
    write(&input, &lines);
    let lake = dir.path().join("lake");
    let out = loglake(&[
        "ingest",
        input.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--json",
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
    ]);
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["search"]["indexed"], 50);
    assert_eq!(summary["rows_out"], 50);
    let stats = os.stats();
    let mapped = stats["mapped_fields"]["logs-2026.11.21"].as_u64().unwrap();
    assert!(mapped <= 40, "mapping explosion: {stats}");
    let hits = os.search(
        "logs-*",
        json!({"term": {"attributes.custom_key_7": "7"}}),
        5,
    );
    assert_eq!(hits.len(), 1, "attributes stay searchable as a flat object");
}

#[test]
fn bulk_resends_dead_letters_once_the_mapping_is_fixed() {
    let os = Mock::start(&[]);
    // A cluster whose mapping disagrees with ours: user_agent as a number.
    let bad = json!({"index_patterns": ["logs-*"], "priority": 500,
        "template": {"mappings": {"properties": {"user_agent": {"type": "long"}}}}});
    assert_eq!(os.call("PUT", "/_index_template/wrong", Some(&bad)).0, 200);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("access.log");
    std::fs::write(
        &input,
        "203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] \"GET /cart HTTP/1.1\" 503 12 \"-\" \"curl/8\"\n\
         203.0.113.9 - - [21/Nov/2026:10:00:01 +0000] \"GET /cart HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
    )
    .unwrap();
    let lake = dir.path().join("lake");
    let out = loglake(&[
        "search",
        "bulk",
        input.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
        "--json",
    ]);
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["search"]["dead_lettered"], 2, "{line}");
    assert!(
        out.status.success(),
        "refused documents are kept, not a failure"
    );
    let dlq = line["dead_letters"].as_str().unwrap().to_string();
    assert!(dlq.contains("search-dlq/dt=2026-"), "{dlq}");
    assert!(!lake.join("logs").exists(), "search bulk writes no lake");

    // Fix the mapping, send the dead letters again: same index and id.
    assert_eq!(os.call("DELETE", "/_index_template/wrong", None).0, 200);
    let _ = os.call("DELETE", "/logs-2026.11.21", None);
    let out = loglake(&[
        "search",
        "bulk",
        "--dead-letters",
        &dlq,
        "--lake",
        lake.to_str().unwrap(),
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
        "--json",
    ]);
    assert!(out.status.success());
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["search"]["indexed"], 2, "{line}");
    assert_eq!(os.count("logs-2026.11.21"), 2);
    let again = loglake(&[
        "search",
        "bulk",
        "--dead-letters",
        &dlq,
        "--lake",
        lake.to_str().unwrap(),
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
        "--json",
    ]);
    let line: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(line["search"]["already_indexed"], 2);
    assert_eq!(os.count("logs-*"), 2);
}

#[test]
fn an_unreachable_endpoint_is_an_error_that_keeps_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.ndjson");
    write(&input, &[json!({"ts": "2026-11-21T08:00:00Z", "msg": "x"})]);
    let lake = dir.path().join("lake");
    // A port nothing listens on (the test server, stopped).
    let url = Mock::start(&[]).url.clone();
    let out = Command::new(env!("CARGO_BIN_EXE_loglake"))
        .args([
            "ingest",
            input.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
            "--json",
            "--search-endpoint",
            &url,
            "--search-auth",
            "none",
        ])
        .env("SEARCH_MAX_ATTEMPTS", "2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not every row was indexed"));
    assert!(
        lake.join("logs/dt=2026-11-21").exists(),
        "the lake is written anyway"
    );
    let bad = loglake(&[
        "search",
        "setup",
        "--search-endpoint",
        "ftp://x",
        "--search-auth",
        "none",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("https://"));
}
