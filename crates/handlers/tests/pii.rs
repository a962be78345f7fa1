//! A corpus of PII shapes through fn-ingest's and fn-stream's handlers with
//! every sink on, under the default redaction: no card number (every major
//! issuer, plain, spaced, dashed, in any field), e-mail address (plain and
//! URL-encoded), JWT, bearer token, password or AWS key reaches the lake,
//! the quarantine, the index, the search or stream dead letters, the window
//! items or the alert notifications. With `REDACT=all`, no full IPv6 client
//! address either (in `client_ip` and client-address attributes; addresses
//! inside free text are not truncated, see `loglake_core::redact`).

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::io::{Cursor, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use loglake_core::MemoryStore;
use loglake_core::redact::RedactOptions;
use loglake_core::sinks::alerts::{
    Contribution, GroupKey, Notification, Rule, Rules, Transition, WindowSums,
};
use loglake_core::triggers::objects::ObjectRef;
use loglake_handlers::alerts::LiveRules;
use loglake_handlers::alerts::{AlertError, AlertSink};
use loglake_handlers::config::Vars;
use loglake_handlers::effects::{
    BoxFuture, BulkSend, Forwarder, ObjectReader, Opened, Pending, Publisher, ReadError, Reply,
    SearchError, StateStore, WindowStore,
};
use loglake_handlers::ingest::{Ingest, IngestSettings};
use loglake_handlers::retry::Backoff;
use loglake_handlers::search::{SearchConfig, SearchSink};
use loglake_handlers::stream::{Stream, StreamSettings};
use serde_json::json;

/// Test cards of every major issuer (all pass Luhn), as written in logs.
const CARDS: [&str; 11] = [
    "4111 1111 1111 1111", // Visa, spaced
    "4012-8888-8888-1881", // Visa, dashed
    "5555555555554444",    // Mastercard
    "2223003122003222",    // Mastercard 2-series
    "3782 822463 10005",   // American Express, 4-6-5
    "371449635398431",     // American Express
    "6011111111111117",    // Discover
    "3056 930902 5904",    // Diners Club, 14 digits, 4-6-4
    "3530111333300000",    // JCB
    "6200000000000005",    // UnionPay
    "6759649826438453",    // Maestro
];

const EMAILS: [&str; 2] = ["jane.doe@example.com", "bob.smith%40example.org"];
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const BEARER: &str = "mF_9.B5f-4.1JqM";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const PASSWORD: &str = "Tr0ub4dor&3x";
const IPV6: &str = "2001:db8:85a3:7:8a2e:370:7334:1";

fn luhn(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                (x * 2) % 9 + u32::from(x == 9) * 9
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The corpus's cards, each checked to pass Luhn.
fn cards() -> Vec<&'static str> {
    CARDS.iter().copied().filter(|c| luhn(c)).collect()
}

/// Every way a secret could appear in an output: as written, and digits
/// only for cards.
fn needles(ips: bool) -> Vec<String> {
    let mut out: Vec<String> = cards()
        .iter()
        .flat_map(|c| [c.to_string(), c.replace([' ', '-'], "")])
        .collect();
    out.extend(EMAILS.iter().map(|e| e.to_string()));
    out.extend(["jane.doe", "bob.smith"].map(String::from));
    out.extend([JWT, BEARER, AWS_SECRET, AWS_KEY_ID, PASSWORD].map(String::from));
    if ips {
        out.push(IPV6.into());
    }
    out
}

/// JSON lines (cards in the message, the path, an id field, an id
/// attribute), text lines, headers, a FATAL line (an alert example), a
/// broken JSON line and a line that is not UTF-8 (the quarantine).
fn corpus() -> Vec<u8> {
    let cards = cards();
    let mut out = String::new();
    for (i, c) in cards.iter().enumerate() {
        let ts = format!("2024-03-15T02:00:{:02}Z", i);
        let email = EMAILS[i % 2];
        let compact = c.replace([' ', '-'], "");
        out.push_str(&format!(
            r#"{{"ts":"{ts}","level":"ERROR","service":"checkout","msg":"payment failed for {email} card {c}","path":"/v1/pay?card={compact}&email={email}&access_token={BEARER}","user_id":"{email}","order_id":"{compact}","card_id":"{c}","client_ip":"{IPV6}","x_forwarded_for":"{IPV6}, 10.0.0.7","authorization":"Bearer {BEARER}","password":"{PASSWORD}"}}"#
        ));
        out.push('\n');
    }
    for line in [
        format!(
            "2024-03-15T02:01:00Z ERROR checkout login failed user={} password={PASSWORD} token={JWT}",
            EMAILS[0]
        ),
        format!("2024-03-15T02:01:01Z WARN auth Authorization: Bearer {BEARER} refused"),
        format!(
            "2024-03-15T02:01:02Z ERROR deploy aws_secret_access_key={AWS_SECRET} aws_access_key_id={AWS_KEY_ID}"
        ),
        format!("2024-03-15T02:01:03Z INFO checkout using {AWS_KEY_ID} {AWS_SECRET} for uploads"),
    ] {
        out.push_str(&format!(
            r#"{{"ts":"2024-03-15T02:01:00Z","service":"auth","msg":{}}}"#,
            serde_json::to_string(&line).unwrap()
        ));
        out.push('\n');
    }
    out.push_str(&format!(
        r#"{{"ts":"2024-03-15T02:02:00Z","level":"FATAL","service":"checkout","msg":"card {} declined for {}, jwt {JWT}"}}"#,
        cards[0], EMAILS[0]
    ));
    out.push('\n');
    out.push_str(&format!(
        r#"{{"ts":"2024-03-15T02:02:01Z","msg":"card {} password={PASSWORD} for {}", broken"#,
        cards[2], EMAILS[0]
    ));
    out.push('\n');
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(format!(r#"{{"msg":"card {} for {} "#, cards[4], EMAILS[0]).as_bytes());
    bytes.extend_from_slice(b"\xff\xfe\"}\n");
    bytes
}

/// The text of every output: Parquet files decoded, gzip inflated.
fn texts(store: &MemoryStore) -> Vec<(String, String)> {
    store
        .objects()
        .into_iter()
        .map(|(k, v)| {
            let text = if k.ends_with(".parquet") {
                parquet_text(v)
            } else if k.ends_with(".gz") {
                let mut s = String::new();
                flate2::read::MultiGzDecoder::new(&v[..])
                    .read_to_string(&mut s)
                    .unwrap();
                s
            } else {
                String::from_utf8_lossy(&v).into_owned()
            };
            (k, text)
        })
        .collect()
}

fn parquet_text(bytes: Vec<u8>) -> String {
    use arrow_array::cast::AsArray;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut out = String::new();
    for batch in reader {
        let batch = batch.unwrap();
        for col in batch.columns() {
            out.push_str(&format!("{:?}\n", col));
            if let Some(s) = col.as_string_opt::<i32>() {
                for v in s.iter().flatten() {
                    out.push_str(v);
                    out.push('\n');
                }
            }
        }
    }
    out
}

fn assert_clean(what: &str, text: &str, needles: &[String]) {
    for n in needles {
        if let Some(at) = text.find(n.as_str()) {
            let from = text.floor_char_boundary(at.saturating_sub(120));
            let to = text.ceil_char_boundary((at + n.len() + 120).min(text.len()));
            panic!("{what} holds {n:?}: ...{}...", &text[from..to]);
        }
    }
}

/// The raw bucket: one object.
struct Raw(Vec<u8>);

impl ObjectReader for Raw {
    fn open<'a>(&'a self, _: &'a ObjectRef) -> BoxFuture<'a, Result<Opened, ReadError>> {
        Box::pin(async move {
            Ok(Opened {
                etag: Some("e1".into()),
                version_id: None,
                last_modified_ms: Some(1_710_468_300_000),
                size: Some(self.0.len() as u64),
                reader: Box::new(Cursor::new(self.0.clone())),
            })
        })
    }
}

/// A cluster that keeps every body and refuses every document (mapping
/// errors), so every document also becomes a dead letter.
#[derive(Default)]
struct Cluster(Mutex<Vec<String>>);

impl BulkSend for Cluster {
    fn send_bulk(&self, body: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>> {
        Box::pin(async move {
            let text = String::from_utf8_lossy(&body).into_owned();
            let docs = text.lines().count() / 2;
            self.0.lock().unwrap().push(text);
            let items: Vec<_> = (0..docs)
                .map(|_| json!({"create": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "refused"}}}))
                .collect();
            Ok(Reply {
                status: 200,
                body: serde_json::to_vec(&json!({"errors": true, "items": items}))
                    .unwrap()
                    .into(),
            })
        })
    }
}

/// Window items, state and notifications, all kept.
#[derive(Default)]
struct Alerts {
    windows: Mutex<Vec<String>>,
    sent: Mutex<Vec<String>>,
}

impl WindowStore for Alerts {
    fn put<'a>(
        &'a self,
        _: &'a str,
        c: &'a [Contribution],
    ) -> BoxFuture<'a, Result<u64, AlertError>> {
        Box::pin(async move {
            self.windows.lock().unwrap().push(format!("{c:?}"));
            Ok(c.len() as u64)
        })
    }
    fn load<'a>(&'a self, _: &'a [i64]) -> BoxFuture<'a, Result<WindowSums, AlertError>> {
        Box::pin(async move { Ok(WindowSums::new()) })
    }
}

impl StateStore for Alerts {
    fn transition<'a>(
        &'a self,
        _: &'a Rule,
        _: &'a GroupKey,
        _: Transition,
        _: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(async move { Ok(true) })
    }
    fn undo<'a>(
        &'a self,
        _: &'a Rule,
        _: &'a GroupKey,
        _: Transition,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
    fn confirm<'a>(
        &'a self,
        _: &'a Rule,
        _: &'a GroupKey,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
    fn unannounced(&self, _: i64) -> BoxFuture<'_, Result<Vec<Pending>, AlertError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
    fn firing(&self) -> BoxFuture<'_, Result<Vec<(String, GroupKey)>, AlertError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
    fn claim_instant<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(async move { Ok(true) })
    }
    fn release_instant<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
}

impl Publisher for Alerts {
    fn publish<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            self.sent
                .lock()
                .unwrap()
                .push(format!("{}\n{}\n{:?}", n.subject, n.body, n.attributes));
            Ok(())
        })
    }
}

const RULES: &str = r#"
[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"

[[rule]]
name = "errors"
kind = "error_rate"
window_minutes = 5
percent = 50.0
"#;

fn sinks(alerts: &Arc<Alerts>, cluster: &Arc<Cluster>) -> (SearchSink, AlertSink) {
    let env = |k: &str| -> Option<String> {
        match k {
            "SEARCH_ENDPOINT" => Some("https://search.local".into()),
            "SEARCH_AUTH" => Some("none".into()),
            "SEARCH_MAX_ATTEMPTS" => Some("1".into()),
            _ => None,
        }
    };
    let config = SearchConfig::from_vars(Vars::new(&env)).unwrap().unwrap();
    let search = SearchSink {
        sender: cluster.clone(),
        config,
    };
    let alert = AlertSink {
        rules: LiveRules::fixed("alert rules", Rules::parse(RULES).unwrap()),
        windows: Some(alerts.clone()),
        state: alerts.clone(),
        publisher: alerts.clone(),
    };
    (search, alert)
}

async fn through_ingest(redact: RedactOptions) -> Vec<(String, String)> {
    let lake = Arc::new(MemoryStore::default());
    let alerts = Arc::new(Alerts::default());
    let cluster = Arc::new(Cluster::default());
    let (search, alert) = sinks(&alerts, &cluster);
    let app = Ingest {
        objects: Arc::new(Raw(corpus())),
        lake: lake.clone(),
        settings: IngestSettings {
            redact,
            ..IngestSettings::default()
        },
        search: Some(search),
        alerts: Some(alert),
        requeue: None,
    };
    let resp = app
        .handle(json!({"source_uri": "s3://raw/checkout/pii.log"}))
        .await
        .unwrap();
    assert_eq!(resp["objects"][0]["quarantined"], 2, "{resp}");
    let mut out = texts(&lake);
    assert!(
        out.iter().any(|(k, _)| k.starts_with("search-dlq/")),
        "{:?}",
        out.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    out.extend(
        cluster
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|b| ("index".to_string(), b.clone())),
    );
    out.extend(
        alerts
            .windows
            .lock()
            .unwrap()
            .iter()
            .map(|w| ("windows".to_string(), w.clone())),
    );
    let sent = alerts.sent.lock().unwrap().clone();
    assert!(!sent.is_empty(), "the FATAL line was alerted on");
    out.extend(sent.into_iter().map(|s| ("alert".to_string(), s)));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pii_shape_reaches_any_output_of_fn_ingest() {
    assert!(cards().len() >= 10, "the corpus's cards pass Luhn");
    let without_ips = needles(false);
    let outputs = through_ingest(RedactOptions::default()).await;
    for k in [
        "logs/",
        "quarantine/",
        "_manifests/",
        "search-dlq/",
        "index",
        "windows",
        "alert",
    ] {
        assert!(
            outputs.iter().any(|(key, _)| key.starts_with(k)),
            "no {k} output"
        );
    }
    for (what, text) in &outputs {
        assert_clean(what, text, &without_ips);
    }
    // The masks are there: last four of a card, an e-mail's domain.
    let all: String = outputs.iter().map(|o| o.1.as_str()).collect();
    assert!(all.contains("**** **** **** 1111") && all.contains("j***@example.com"));

    // Everything on: the IPv6 client address is truncated too.
    let outputs = through_ingest(RedactOptions::ALL).await;
    for (what, text) in &outputs {
        assert_clean(what, text, &needles(true));
    }
    // And the same corpus with redaction off does hold them (the test can
    // fail).
    let outputs = through_ingest(RedactOptions::NONE).await;
    let all: String = outputs.iter().map(|o| o.1.as_str()).collect();
    assert!(
        needles(true)
            .iter()
            .all(|n| all.contains(n.as_str()) || n.contains("%40"))
    );
}

/// Firehose that keeps refusing the records of one service (they become
/// dead letters) and takes the rest.
#[derive(Default)]
struct HalfFirehose(Mutex<Vec<String>>);

impl Forwarder for HalfFirehose {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(async move {
            let mut taken = self.0.lock().unwrap();
            Ok(records
                .iter()
                .map(|r| {
                    let text = String::from_utf8_lossy(r).into_owned();
                    let refused = text.contains("\"auth\"");
                    taken.push(text);
                    refused.then(|| "ServiceUnavailableException".to_string())
                })
                .collect())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pii_shape_reaches_any_output_of_fn_stream() {
    let curated = Arc::new(MemoryStore::default());
    let alerts = Arc::new(Alerts::default());
    let cluster = Arc::new(Cluster::default());
    let (search, alert) = sinks(&alerts, &cluster);
    let firehose = Arc::new(HalfFirehose::default());
    let stream = Stream {
        forwarder: firehose.clone(),
        curated: curated.clone(),
        settings: StreamSettings::default(),
        search: Some(search),
        alerts: Some(alert),
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        },
    };
    let records: Vec<_> = corpus()
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k",
                    "sequenceNumber": format!("{}", 100 + i),
                    "data": base64::engine::general_purpose::STANDARD.encode(line),
                    "approximateArrivalTimestamp": 1_710_468_300.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", 100 + i), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/fn-stream", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
            })
        })
        .collect();
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let deadline = Instant::now() + Duration::from_millis(500);
    let (_, summary) = stream.handle(event, deadline).await.unwrap();
    assert!(
        summary.quarantined >= 1 && summary.dead_letter_records >= 1,
        "{summary:?}"
    );
    let mut outputs = texts(&curated);
    for k in ["quarantine/", "stream-dlq/", "search-dlq/"] {
        assert!(
            outputs.iter().any(|(key, _)| key.starts_with(k)),
            "no {k} output"
        );
    }
    outputs.extend(
        firehose
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|r| ("firehose".to_string(), r.clone())),
    );
    outputs.extend(
        cluster
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|b| ("index".to_string(), b.clone())),
    );
    outputs.extend(
        alerts
            .windows
            .lock()
            .unwrap()
            .iter()
            .map(|w| ("windows".to_string(), w.clone())),
    );
    outputs.extend(
        alerts
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|s| ("alert".to_string(), s.clone())),
    );
    let needles = needles(false);
    for (what, text) in &outputs {
        assert_clean(what, text, &needles);
    }
}
