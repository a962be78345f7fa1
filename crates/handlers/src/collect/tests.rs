//! The collector against an in-memory sink that can refuse: every status it
//! answers, the event mapping, gzip and NDJSON bodies, idempotent retries,
//! CORS and the cached health check.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use serde_json::Value;

use super::*;
use crate::effects::BoxFuture;

#[derive(Default)]
struct Fake {
    refuse: AtomicBool,
    events: Mutex<Vec<Accepted>>,
    puts: AtomicUsize,
    checks: AtomicUsize,
}

impl EventSink for Fake {
    fn put<'a>(&'a self, events: &'a [Accepted]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.puts.fetch_add(1, Ordering::SeqCst);
            if self.refuse.load(Ordering::SeqCst) {
                return Err("ProvisionedThroughputExceededException: rate exceeded".into());
            }
            self.events.lock().unwrap().extend_from_slice(events);
            Ok(())
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.checks.fetch_add(1, Ordering::SeqCst);
            if self.refuse.load(Ordering::SeqCst) {
                Err("stream unreachable".into())
            } else {
                Ok(())
            }
        })
    }

    fn name(&self) -> String {
        "fake".into()
    }
}

const NOW: i64 = 1_764_669_600_000; // 2025-12-02T10:00:00Z

fn collector(settings: CollectSettings) -> (Arc<Fake>, Collector) {
    let fake = Arc::new(Fake::default());
    (fake.clone(), Collector::new(fake, settings))
}

fn post(body: &[u8], headers: &[(&str, &str)]) -> http::Request<Bytes> {
    let mut b = http::Request::post(EVENTS_PATH);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::copy_from_slice(body)).unwrap()
}

async fn send(c: &Collector, req: http::Request<Bytes>) -> (u16, Value, HeaderMap) {
    let (resp, outcome) = c.handle(req, Some("203.0.113.9"), NOW).await;
    assert_eq!(outcome.status, resp.status().as_u16());
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body();
    let v = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, v, headers)
}

fn json_ct() -> [(&'static str, &'static str); 1] {
    [("content-type", "application/json")]
}

fn lines(fake: &Fake) -> Vec<Value> {
    fake.events
        .lock()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_slice(&e.line).unwrap())
        .collect()
}

#[tokio::test]
async fn one_event_is_mapped_onto_the_lake_columns() {
    let (fake, c) = collector(CollectSettings {
        region: Some("eu-west-1".into()),
        service: "storefront".into(),
        ..CollectSettings::default()
    });
    let body = br#"{"event_type":"order_completed","timestamp":"2025-12-02T09:59:58.250+01:00",
        "user_id":42,"session_id":"s-1","url":"https://shop.example/checkout",
        "properties":{"order_id":"o-9","revenue":"59.90","currency":"EUR","items":3,"coupon":null},
        "campaign":"xmas","context":{"locale":"de-DE"}}"#;
    let (status, v, _) = send(
        &c,
        post(
            body,
            &[
                ("content-type", "application/json"),
                ("user-agent", "Mozilla/5.0"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v, serde_json::json!({"accepted": 1, "rejected": []}));
    let rows = lines(&fake);
    let r = &rows[0];
    assert_eq!(r["ts"], "2025-12-02T08:59:58.250Z");
    assert_eq!(r["event_type"], "order_completed");
    assert_eq!(r["user_id"], "42");
    assert_eq!(r["session_id"], "s-1");
    assert_eq!(r["order_id"], "o-9");
    assert_eq!(r["amount"], 59.9);
    assert_eq!(r["currency"], "EUR");
    assert_eq!(r["service"], "storefront");
    assert_eq!(r["region"], "eu-west-1");
    assert_eq!(r["client_ip"], "203.0.113.9");
    assert_eq!(r["user_agent"], "Mozilla/5.0");
    assert_eq!(r["level"], "INFO");
    assert_eq!(r["source_format"], "http");
    let a = &r["attributes"];
    assert_eq!(a["url"], "https://shop.example/checkout");
    assert_eq!(a["properties.items"], "3");
    assert_eq!(a["campaign"], "xmas");
    assert_eq!(a["context"], r#"{"locale":"de-DE"}"#);
    assert!(a.get("properties.coupon").is_none(), "null is no attribute");
    assert!(a.get("ts_inferred").is_none());
    assert!(r["event_id"].as_str().unwrap().len() > 10);
}

#[tokio::test]
async fn each_invalid_event_is_rejected_with_its_index_and_reason() {
    let (fake, c) = collector(CollectSettings::default());
    let long = "x".repeat(65);
    let body = serde_json::json!([
        {"event_type": "page_view"},
        {"timestamp": 1764669600000u64},
        {"event_type": long},
        {"event_type": 7},
        {"event_type": "a", "timestamp": "yesterday"},
        {"event_type": "a", "timestamp": "2025-12-02T10:00:00"},
        {"event_type": "a", "timestamp": 1764669600000u64, "user_id": {"id": 1}},
        {"event_type": "a", "properties": [1, 2]},
        {"event_type": "a", "properties": {"amount": "lots"}},
        "not an object",
        {"event_type": "a", "timestamp": "1999-12-31T23:59:59Z"},
        {"event_type": "a", "timestamp": "1764669600123"},
    ])
    .to_string();
    let (status, v, _) = send(&c, post(body.as_bytes(), &json_ct())).await;
    assert_eq!(status, 202);
    assert_eq!(v["accepted"], 2);
    let reasons: Vec<(u64, String)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let idx: Vec<u64> = reasons.iter().map(|r| r.0).collect();
    assert_eq!(idx, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert!(reasons[0].1.contains("event_type is required"));
    assert!(reasons[1].1.contains("at most") || reasons[1].1.contains("1 to 64"));
    assert!(reasons[3].1.contains("RFC 3339"));
    assert!(reasons[4].1.contains("offset"));
    assert!(reasons[5].1.contains("user_id"));
    assert!(reasons[6].1.contains("properties must be an object"));
    assert!(reasons[7].1.contains("properties.amount"));
    assert!(reasons[8].1.contains("not a JSON object"));
    assert!(reasons[9].1.contains("range"));
    let rows = lines(&fake);
    // Without a timestamp: the receive time, flagged.
    assert_eq!(rows[0]["ts"], "2025-12-02T10:00:00.000Z");
    assert_eq!(rows[0]["attributes"]["ts_inferred"], "received");
    // Epoch milliseconds as a string of digits.
    assert_eq!(rows[1]["ts"], "2025-12-02T10:00:00.123Z");
}

#[tokio::test]
async fn bodies_that_cannot_be_read_get_400_413_or_415() {
    let (fake, c) = collector(CollectSettings {
        max_body_bytes: 1024,
        ..CollectSettings::default()
    });
    // (body, headers, status, what the answer says)
    type Case<'a> = (Vec<u8>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            b"{oops".to_vec(),
            vec![("content-type", "application/json")],
            400,
            "not JSON",
        ),
        (b"[]".to_vec(), vec![], 400, "no events"),
        (br#"[{"event_type":7}]"#.to_vec(), vec![], 400, ""),
        (vec![b' '; 2048], vec![], 413, "1024"),
        (
            b"event_type=a".to_vec(),
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
            "content type",
        ),
        (
            br#"{"event_type":"a"}"#.to_vec(),
            vec![("content-encoding", "br")],
            415,
            "encoding",
        ),
        (
            br#"{"event_type":"a"}"#.to_vec(),
            vec![("idempotency-key", "has space")],
            400,
            "Idempotency-Key",
        ),
    ];
    for (body, headers, want, says) in cases {
        let (status, v, _) = send(&c, post(&body, &headers)).await;
        assert_eq!(status, want, "{v}");
        let text = v.to_string();
        assert!(text.contains(says), "{text} should say {says}");
    }
    // A gzip bomb: small on the wire, over the limit inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 512 << 10]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1024);
    let (status, _, _) = send(&c, post(&bomb, &[("content-encoding", "gzip")])).await;
    assert_eq!(status, 413);
    assert_eq!(
        fake.puts.load(Ordering::SeqCst),
        0,
        "nothing reached the sink"
    );
}

#[tokio::test]
async fn gzip_and_ndjson_bodies() {
    let (fake, c) = collector(CollectSettings::default());
    let nd = "{\"event_type\":\"a\"}\n{\"event_type\":\"b\"}\n{broken\n{\"event_type\":\"c\"}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(nd.as_bytes()).unwrap();
    let (status, v, _) = send(
        &c,
        post(
            &gz.finish().unwrap(),
            &[
                ("content-type", "application/x-ndjson"),
                ("content-encoding", "gzip"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(v["accepted"], 3);
    assert_eq!(v["rejected"][0]["index"], 2);
    let types: Vec<Value> = lines(&fake)
        .iter()
        .map(|r| r["event_type"].clone())
        .collect();
    assert_eq!(types, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_retry_with_the_same_key_names_the_same_events_and_is_not_sent_twice() {
    let (fake, c) = collector(CollectSettings::default());
    let body = br#"[{"event_type":"a","timestamp":1764669600000},{"event_type":"b","timestamp":1764669600000}]"#;
    let key = [
        ("content-type", "application/json"),
        ("idempotency-key", "req-7f3a"),
    ];
    // The first try fails in the sink: 503, Retry-After, nothing kept.
    fake.refuse.store(true, Ordering::SeqCst);
    let (status, v, headers) = send(&c, post(body, &key)).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(v["accepted"], 0);
    // The health check now reports the sink as unavailable, without asking it.
    let (h, hv, _) = send(
        &c,
        http::Request::get(HEALTH_PATH).body(Bytes::new()).unwrap(),
    )
    .await;
    assert_eq!((h, hv["status"].as_str()), (503, Some("unavailable")));
    assert_eq!(fake.checks.load(Ordering::SeqCst), 0);
    fake.refuse.store(false, Ordering::SeqCst);
    // The retry goes in; a second retry (the 202 was lost) is not sent again.
    for _ in 0..2 {
        let (status, v, _) = send(&c, post(body, &key)).await;
        assert_eq!((status, v["accepted"].as_u64()), (202, Some(2)));
    }
    let rows = fake.events.lock().unwrap().clone();
    assert_eq!(rows.len(), 2, "one copy of each event");
    // Another collector (a cold Lambda) would name them the same.
    let (fake2, c2) = collector(CollectSettings::default());
    send(&c2, post(body, &key)).await;
    let again = fake2.events.lock().unwrap().clone();
    assert_eq!(
        rows.iter().map(|e| &e.event_id).collect::<Vec<_>>(),
        again.iter().map(|e| &e.event_id).collect::<Vec<_>>()
    );
    assert_ne!(rows[0].event_id, rows[1].event_id);
    // Without a key, an event's own event_id names it; else each is new.
    let own = br#"{"event_type":"a","event_id":"client-1"}"#;
    let (_, _, _) = send(&c2, post(own, &[])).await;
    let (_, v, _) = send(&c2, post(own, &[])).await;
    assert_eq!(v["duplicates"], 1);
    let anon = br#"{"event_type":"a"}"#;
    send(&c2, post(anon, &[])).await;
    send(&c2, post(anon, &[])).await;
    let ids: std::collections::HashSet<String> = fake2
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(ids.len(), 5, "2 keyed + 1 own + 2 anonymous");
}

#[tokio::test]
async fn health_is_checked_once_per_ttl() {
    let (fake, c) = collector(CollectSettings::default());
    for _ in 0..5 {
        let (status, v, _) = send(
            &c,
            http::Request::get(HEALTH_PATH).body(Bytes::new()).unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["sink"], "fake");
        assert!(v["uptime_s"].is_u64() && v["accepted"].is_u64() && v["rejected"].is_u64());
    }
    assert_eq!(fake.checks.load(Ordering::SeqCst), 1);
    let (fake, c) = collector(CollectSettings {
        health_ttl: Duration::ZERO,
        ..CollectSettings::default()
    });
    fake.refuse.store(true, Ordering::SeqCst);
    let (status, v, _) = send(
        &c,
        http::Request::get(HEALTH_PATH).body(Bytes::new()).unwrap(),
    )
    .await;
    assert_eq!(status, 503);
    assert!(v["error"].as_str().unwrap().contains("unreachable"));
}

#[tokio::test]
async fn routes_methods_and_cors() {
    let (_, c) = collector(CollectSettings {
        origins: Origins::parse("https://shop.example, https://m.shop.example/").unwrap(),
        ..CollectSettings::default()
    });
    let (s, _, _) = send(&c, http::Request::get("/nope").body(Bytes::new()).unwrap()).await;
    assert_eq!(s, 404);
    let (s, _, h) = send(
        &c,
        http::Request::get(EVENTS_PATH).body(Bytes::new()).unwrap(),
    )
    .await;
    assert_eq!(
        (s, h.get("allow").unwrap().to_str().unwrap()),
        (405, "POST, OPTIONS")
    );
    let pre = http::Request::builder()
        .method(Method::OPTIONS)
        .uri(EVENTS_PATH)
        .header("origin", "https://m.shop.example")
        .header("access-control-request-method", "POST")
        .body(Bytes::new())
        .unwrap();
    let (s, _, h) = send(&c, pre).await;
    assert_eq!(s, 204);
    assert_eq!(
        h.get("access-control-allow-origin").unwrap(),
        "https://m.shop.example"
    );
    assert!(
        h.get("access-control-allow-headers")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("idempotency-key")
    );
    let (s, _, h) = send(
        &c,
        post(
            br#"{"event_type":"a"}"#,
            &[("origin", "https://evil.example")],
        ),
    )
    .await;
    assert_eq!(s, 202);
    assert!(h.get("access-control-allow-origin").is_none());
    assert!(Origins::parse("shop.example").is_err());
    assert_eq!(Origins::parse("*,https://a.example"), Ok(Origins::Any));
    assert_eq!(Origins::parse(""), Ok(Origins::None));
}

#[tokio::test]
async fn pii_is_masked_before_the_sink() {
    let (fake, c) = collector(CollectSettings::default());
    let body = br#"{"event_type":"checkout","user_id":"jane@example.com","properties":{"card_number":"4111 1111 1111 1111"},"note":"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}"#;
    let (s, _, _) = send(&c, post(body, &[])).await;
    assert_eq!(s, 202);
    let line = String::from_utf8(fake.events.lock().unwrap()[0].line.clone()).unwrap();
    assert!(!line.contains("4111 1111 1111 1111"), "{line}");
    assert!(!line.contains("jane@example.com"), "{line}");
    assert!(!line.contains("eyJzdWIiOiIxIn0"), "{line}");
}
