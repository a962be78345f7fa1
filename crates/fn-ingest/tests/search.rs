//! fn-ingest with the search sink: moto for S3, the strict OpenSearch test
//! server (tests/opensearch_mock.py) for the index. `make test` provides
//! both.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use fn_ingest::Config;
use loglake_handlers::ingest::Ingest;
use loglake_testkit::iam::{self, Role};
use loglake_testkit::opensearch::Mock;
use loglake_testkit::{LocalAws, settings, sqs_s3_event};
use serde_json::{Value, json};

/// A test server set up as `loglake search setup` sets up a cluster: our
/// index template (strict types, `dynamic: false`) on `logs-*`.
fn cluster(args: &[&str]) -> Mock {
    let os = Mock::start(args);
    let t = loglake_core::sinks::search::index_template(&Default::default()).unwrap();
    let (st, body) = os.call("PUT", "/_index_template/loglake-logs", Some(&t));
    assert_eq!(st, 200, "{body}");
    os
}

struct Env {
    local: LocalAws,
    /// fn-ingest's role, holding exactly its policy.
    role: Role,
    raw: String,
    curated: String,
}

async fn env(name: &str) -> Env {
    let local = LocalAws::enforced(name).await;
    let raw = local.bucket("raw").await;
    let curated = local.bucket("curated").await;
    let role = local.role(
        "fn-ingest",
        &iam::ingest_policy(&raw, &curated, &format!("ingest-{}", local.id)),
    );
    Env {
        local,
        role,
        raw,
        curated,
    }
}

impl Env {
    fn app(&self, search: &[(&str, &str)]) -> Ingest {
        let pairs = [
            &[
                ("CURATED_BUCKET", self.curated.as_str()),
                ("MEMORY_BUDGET_MB", "16"),
            ],
            search,
        ]
        .concat();
        let config = settings(&pairs, Config::from_vars);
        fn_ingest::app(&self.role.aws, config).unwrap()
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.local.put(&self.raw, key, body).await;
    }

    /// Key -> (last modified, body) of every curated object.
    async fn curated(&self) -> BTreeMap<String, (String, Vec<u8>)> {
        self.local.objects_with_time(&self.curated, "").await
    }

    /// The SQS message AWS would deliver for `key` in the raw bucket.
    fn sqs_event(&self, key: &str) -> Value {
        sqs_s3_event(&self.raw, key)
    }
}

/// `n` checkout lines, every 10th an error; line `i` says `line-{i}.` and a
/// few carry a card number and an e-mail.
fn lines(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        let level = if i % 10 == 0 { "ERROR" } else { "INFO" };
        let extra = if i % 25 == 0 {
            " card 4111 1111 1111 1111 for jane@example.com"
        } else {
            ""
        };
        out.push_str(&format!(
            "{{\"ts\":\"2026-11-21T10:{:02}:{:02}.000Z\",\"level\":\"{level}\",\"service\":\"checkout\",\"msg\":\"line-{i}.{extra}\",\"status\":{},\"latency_ms\":{}}}\n",
            (i / 60) % 60,
            i % 60,
            if level == "ERROR" { 500 } else { 200 },
            10 + i % 90
        ));
    }
    out.into_bytes()
}

fn failures(resp: &Value) -> usize {
    resp["batchItemFailures"].as_array().map_or(0, Vec::len)
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(b)
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_object_twice_indexes_each_row_once() {
    let os = cluster(&[]);
    let e = env("search-twice").await;
    e.put("checkout/a.ndjson", lines(300)).await;
    let app = e.app(&[("SEARCH_ENDPOINT", &os.url), ("SEARCH_AUTH", "none")]);
    let replay = json!({ "source_uri": format!("s3://{}/checkout/a.ndjson", e.raw) });

    let first = app.handle(replay.clone()).await.unwrap();
    assert_eq!(first["objects"][0]["search"]["indexed"], 300, "{first}");
    assert_eq!(os.count("logs-*"), 300);
    // Daily indices from the record's UTC time.
    assert_eq!(os.count("logs-2026.11.21"), 300);

    let second = app.handle(replay).await.unwrap();
    let s = &second["objects"][0]["search"];
    assert_eq!(
        (s["indexed"].as_u64(), s["already_indexed"].as_u64()),
        (Some(0), Some(300)),
        "{second}"
    );
    assert_eq!(
        os.count("logs-*"),
        300,
        "a retried object must not duplicate documents"
    );

    // What was indexed is what the lake has: redacted, normalized.
    let hits = os.search("logs-*", json!({"prefix": {"message.raw": "line-25."}}), 5);
    assert_eq!(hits.len(), 1);
    let doc = &hits[0];
    assert_eq!(
        doc["message"],
        "line-25. card **** **** **** 1111 for j***@example.com"
    );
    assert_eq!(doc["service"], "checkout");
    assert_eq!(doc["http_status"], 200);
    assert!(
        doc["source_uri"]
            .as_str()
            .unwrap()
            .ends_with("checkout/a.ndjson")
    );
    assert_eq!(second["objects"][0]["redacted"]["cards"], 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_alone_split_or_dead_lettered() {
    let os = cluster(&[]);
    let e = env("search-faults").await;
    e.put("checkout/b.ndjson", lines(200)).await;
    os.faults(json!({
        "item_status": [
            {"match": "line-7.", "status": 429, "times": 2},
            {"match": "line-13.", "status": 400, "times": -1}
        ],
        "max_request_bytes": 20000
    }));
    let app = e.app(&[
        ("SEARCH_ENDPOINT", &os.url),
        ("SEARCH_AUTH", "none"),
        ("SEARCH_MAX_REQUEST_BYTES", "65536"),
    ]);
    let resp = app
        .handle(json!({ "source_uri": format!("s3://{}/checkout/b.ndjson", e.raw) }))
        .await
        .unwrap();
    let s = &resp["objects"][0]["search"];
    assert_eq!(s["indexed"], 199, "{resp}");
    assert_eq!(s["dead_lettered"], 1);
    assert!(
        s["split_requests"].as_u64().unwrap() >= 1,
        "a 413 splits: {resp}"
    );
    assert_eq!(os.count("logs-*"), 199);

    // The 429ed document was sent three times, the others once (a split
    // request's halves were never stored before).
    let stats = os.stats();
    let attempts = stats["item_attempts"].as_object().unwrap();
    let seven = os.search("logs-*", json!({"prefix": {"message.raw": "line-7."}}), 20);
    assert_eq!(seven.len(), 1);
    let tried: Vec<u64> = attempts.values().map(|v| v.as_u64().unwrap()).collect();
    assert!(tried.contains(&3), "{stats}");

    // The refused document is kept with its reason.
    let curated = e.curated().await;
    let (key, (_, body)) = curated
        .iter()
        .find(|(k, _)| k.starts_with("search-dlq/dt="))
        .expect("a dead-letter file");
    assert!(key.ends_with(".ndjson.gz"));
    let letters: Vec<Value> = gunzip(body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["status"], 400);
    assert!(
        letters[0]["reason"].as_str().unwrap().len() > 5,
        "{}",
        letters[0]
    );
    assert!(
        letters[0]["doc"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line-13.")
    );
    assert!(letters[0]["index"].as_str().unwrap().starts_with("logs-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_down_keeps_the_lake_and_the_retry_only_indexes() {
    let os = cluster(&[]);
    let e = env("search-down").await;
    e.put("checkout/c.ndjson", lines(120)).await;
    os.faults(json!({"request_status": [{"status": 503, "times": -1}]}));
    let app = e.app(&[("SEARCH_ENDPOINT", &os.url), ("SEARCH_AUTH", "none")]);
    let event = e.sqs_event("checkout/c.ndjson");

    let deadline = Instant::now() + Duration::from_secs(3);
    let resp = app.handle_until(event.clone(), deadline).await.unwrap();
    assert_eq!(failures(&resp), 1, "the message is retried: {resp}");
    let lake = e.curated().await;
    assert!(
        lake.keys().any(|k| k.starts_with("logs/dt=2026-11-21/")),
        "{:?}",
        lake.keys()
    );
    assert!(lake.keys().any(|k| k.starts_with("_manifests/")));
    assert_eq!(os.count("logs-*"), 0);

    // The cluster is back; SQS delivers the message again.
    os.faults(json!({}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = app
        .handle_until(event, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(failures(&resp), 0, "{resp}");
    assert_eq!(os.count("logs-*"), 120);
    // The lake was not written again: same objects, same times, same bytes.
    assert_eq!(e.curated().await, lake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_requests_verify_independently_and_the_level_filter_applies() {
    // The function signs with its role's credentials; the server
    // recomputes every signature with botocore.
    let e = env("search-sigv4").await;
    let (key, secret) = (e.role.key.clone(), e.role.secret.clone());
    let os = Mock::start(&["--sigv4", &format!("{key}:{secret}:us-east-1:es")]);
    e.put("checkout/d.ndjson", lines(100)).await;
    let app = e.app(&[
        ("SEARCH_ENDPOINT", &os.url),
        ("SEARCH_AUTH", "sigv4"),
        ("SEARCH_SERVICE", "es"),
        ("SEARCH_MIN_LEVEL", "WARN"),
    ]);
    let resp = app
        .handle(json!({ "source_uri": format!("s3://{}/checkout/d.ndjson", e.raw) }))
        .await
        .unwrap();
    let s = &resp["objects"][0]["search"];
    assert_eq!(
        (s["indexed"].as_u64(), s["filtered"].as_u64()),
        (Some(10), Some(90)),
        "{resp}"
    );
    let stats = os.stats();
    assert!(stats["sigv4_verified"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["auth_failures"].as_u64().unwrap_or(0), 0, "{stats}");

    // A wrong secret is refused, and the object reported failed.
    let bad = Mock::start(&["--sigv4", &format!("{key}:not-the-secret:us-east-1:es")]);
    let app = e.app(&[("SEARCH_ENDPOINT", &bad.url), ("SEARCH_AUTH", "sigv4")]);
    let err = app
        .handle(json!({ "source_uri": format!("s3://{}/checkout/d.ndjson", e.raw) }))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("403"), "{err}");
}
