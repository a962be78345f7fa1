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
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("ISM policy loglake-logs: created"));
    assert!(
        out.contains("Dashboards saved objects: imported 9 (1 index-pattern, 2 search, 5 visualization, 1 dashboard; 0 overwritten)"),
        "{out}"
    );
    let objects = saved_objects(&os);
    assert_eq!(objects.len(), 9, "{objects:?}");
    let (st, dash) = os.call(
        "GET",
        "/_dashboards/api/saved_objects/dashboard/loglake-overview",
        None,
    );
    assert_eq!(st, 200, "{dash}");
    assert_eq!(dash["references"].as_array().unwrap().len(), 7);
    let second = loglake(&args);
    assert!(second.status.success(), "running setup twice is harmless");
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("already up to date"));
    assert!(
        out.contains("imported 9 (") && out.contains("9 overwritten"),
        "{out}"
    );
    assert_eq!(saved_objects(&os), objects, "the same objects again");
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

/// Every stored Dashboards saved object: (type, id) -> (attributes, references).
fn saved_objects(os: &Mock) -> std::collections::BTreeMap<(String, String), (Value, Value)> {
    let mut out = std::collections::BTreeMap::new();
    for t in ["index-pattern", "search", "visualization", "dashboard"] {
        let (st, v) = os.call(
            "GET",
            &format!("/_dashboards/api/saved_objects/_find?type={t}&per_page=100"),
            None,
        );
        assert_eq!(st, 200, "{v}");
        for o in v["saved_objects"].as_array().unwrap() {
            out.insert(
                (t.to_string(), o["id"].as_str().unwrap().to_string()),
                (o["attributes"].clone(), o["references"].clone()),
            );
        }
    }
    out
}

#[test]
fn setup_imports_dashboards_over_the_configured_indices_unless_told_not_to() {
    let os = Mock::start(&[]);
    let base = [
        "search",
        "setup",
        "--search-endpoint",
        &os.url,
        "--search-auth",
        "none",
    ];
    let skipped = loglake(&[&base[..], &["--no-dashboards"]].concat());
    assert!(skipped.status.success());
    assert!(String::from_utf8_lossy(&skipped.stdout).contains("skipped (--no-dashboards)"));
    assert!(saved_objects(&os).is_empty());

    let out = loglake(&[&base[..], &["--search-index-prefix", "app-logs-"]].concat());
    assert!(out.status.success());
    let (st, pattern) = os.call(
        "GET",
        "/_dashboards/api/saved_objects/index-pattern/loglake-logs",
        None,
    );
    assert_eq!(st, 200, "{pattern}");
    assert_eq!(pattern["attributes"]["title"], "app-logs-*");
    assert_eq!(pattern["attributes"]["timeFieldName"], "ts");
    let (_, tsvb) = os.call(
        "GET",
        "/_dashboards/api/saved_objects/visualization/loglake-error-rate-per-service",
        None,
    );
    let vis: Value =
        serde_json::from_str(tsvb["attributes"]["visState"].as_str().unwrap()).unwrap();
    assert_eq!(vis["params"]["index_pattern"], "app-logs-*");

    let dry = loglake(&[&base[..], &["--dry-run"]].concat());
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.contains("POST /_dashboards/api/saved_objects/_import?overwrite=true"));
}

#[test]
fn setup_signs_the_dashboards_import_and_skips_it_on_serverless() {
    for service in ["es", "aoss"] {
        let os = Mock::start(&[
            "--sigv4",
            &format!("AKIDLOGLAKE:setup/secret:us-east-1:{service}"),
        ]);
        let out = Command::new(env!("CARGO_BIN_EXE_loglake"))
            .args([
                "search",
                "setup",
                "--search-endpoint",
                &os.url,
                "--search-auth",
                "sigv4",
                "--search-service",
                service,
            ])
            .env_remove("SEARCH_ENDPOINT")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOGLAKE")
            .env("AWS_SECRET_ACCESS_KEY", "setup/secret")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stats = os.stats();
        assert_eq!(stats["auth_failures"], 0, "{stats}");
        if service == "es" {
            // template, ISM GET and PUT, the multipart import
            assert_eq!(stats["sigv4_verified"], 4, "{stats}");
            assert!(stdout.contains("imported 9 ("), "{stdout}");
        } else {
            assert_eq!(stats["sigv4_verified"], 1, "{stats}");
            assert!(
                stdout.contains("Dashboards saved objects: skipped; OpenSearch Serverless"),
                "{stdout}"
            );
        }
    }
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
