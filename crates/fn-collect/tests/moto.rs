//! fn-collect against a local AWS that enforces IAM, as a role holding
//! exactly its policy from `infra/policies/`: events POSTed through the
//! payload format 2.0 land on the Kinesis stream as the collector's records
//! (its partition keys, loglake's NDJSON, the ids a retry repeats), the
//! health check reads the stream, and a stream that is gone answers 503
//! with Retry-After.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::BTreeMap;

use fn_collect::{Config, HttpEvent, handle};
use loglake_handlers::stream::COLLECT_PARTITION_PREFIX;
use loglake_testkit::{LocalAws, iam, settings};
use serde_json::{Value, json};

fn post(body: &str, key: &str) -> HttpEvent {
    serde_json::from_value(json!({
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "headers": {"content-type": "application/json", "idempotency-key": key},
        "requestContext": {"http": {"method": "POST", "path": "/v1/events", "sourceIp": "198.51.100.7"}},
        "body": body,
        "isBase64Encoded": false
    }))
    .unwrap()
}

fn healthz() -> HttpEvent {
    serde_json::from_value(json!({
        "rawPath": "/healthz",
        "requestContext": {"http": {"method": "GET", "path": "/healthz"}}
    }))
    .unwrap()
}

async fn records(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Value)> {
    let shards = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let got = kinesis
            .get_records()
            .shard_iterator(it.shard_iterator().unwrap())
            .send()
            .await
            .unwrap();
        for r in got.records() {
            let line: Value = serde_json::from_slice(r.data().as_ref()).unwrap();
            out.push((r.partition_key().unwrap_or_default().to_string(), line));
        }
    }
    out
}

#[tokio::test]
async fn events_reach_the_stream_under_the_collectors_policy() {
    let local = LocalAws::enforced("collect").await;
    let kinesis = aws_sdk_kinesis::Client::new(&local.aws);
    let stream = format!("events-{}", local.id);
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    let role = local.role("fn-collect", &iam::collect_policy(&stream));
    let config = settings(
        &[
            ("STREAM_NAME", stream.as_str()),
            ("AWS_REGION", "us-east-1"),
        ],
        Config::from_vars,
    );
    let app = fn_collect::app(&role.aws, config);

    let r = handle(&app, healthz()).await;
    assert_eq!(r.status_code, 200, "{}", r.body);
    let body = json!([
        {"event_type": "page_view", "timestamp": "2026-12-02T10:00:00Z", "user_id": "u-1", "url": "https://shop.example/p/1"},
        {"event_type": "add_to_cart", "timestamp": 1796205600000i64, "properties": {"sku": "SKU-1"}},
        {"timestamp": "2026-12-02T10:00:01Z"}
    ])
    .to_string();
    let r = handle(&app, post(&body, "k-1")).await;
    assert_eq!(r.status_code, 202, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"][0]["index"].as_u64()),
        (Some(2), Some(2))
    );

    let got = records(&kinesis, &stream).await;
    assert_eq!(got.len(), 2);
    let by_type: BTreeMap<String, &(String, Value)> = got
        .iter()
        .map(|r| (r.1["event_type"].as_str().unwrap().to_string(), r))
        .collect();
    for (key, line) in by_type.values() {
        assert!(key.starts_with(COLLECT_PARTITION_PREFIX), "{key}");
        assert_eq!(line["source_format"], "http");
        assert_eq!(line["region"], "us-east-1");
        assert_eq!(line["client_ip"], "198.51.100.7");
    }
    assert_eq!(by_type["add_to_cart"].1["sku"], "SKU-1");
    assert_eq!(
        by_type["page_view"].1["attributes"]["url"],
        "https://shop.example/p/1"
    );
    assert!(role.denied().is_empty(), "{:?}", role.denied());

    // The stream is gone: the put fails after its retries, the client is
    // told to come back, and the health check says so.
    kinesis
        .delete_stream()
        .stream_name(&stream)
        .send()
        .await
        .unwrap();
    let mut config = settings(&[("STREAM_NAME", stream.as_str())], Config::from_vars);
    config.collect.health_ttl = std::time::Duration::ZERO;
    let app = fn_collect::app(&role.aws, config);
    let r = handle(&app, post(&body, "k-2")).await;
    assert_eq!(r.status_code, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let r = handle(&app, healthz()).await;
    assert_eq!(r.status_code, 503, "{}", r.body);
}
