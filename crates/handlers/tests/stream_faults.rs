//! fn-stream's batch against fakes that fail after the put: whatever goes
//! wrong once the records reached Firehose must not fail the batch, or
//! Lambda retries it and every record is forwarded (and lands) twice. And
//! what a batch puts: each Kinesis record's lines packed into Firehose
//! records, a line too long for one quarantined, never sent cut.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use loglake_core::MemoryStore;
use loglake_core::store::{OutputFile, OutputStore};
use loglake_handlers::config::Vars;
use loglake_handlers::effects::{BoxFuture, BulkSend, Forwarder, Reply, SearchError};
use loglake_handlers::retry::Backoff;
use loglake_handlers::search::{SearchConfig, SearchSink};
use loglake_handlers::stream::{Stream, StreamSettings};
use serde_json::json;

/// Firehose that takes everything, and remembers it.
#[derive(Default)]
struct Firehose {
    calls: Mutex<usize>,
    records: Mutex<Vec<Vec<u8>>>,
}

impl Forwarder for Firehose {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(async move {
            *self.calls.lock().unwrap() += 1;
            self.records
                .lock()
                .unwrap()
                .extend(records.iter().map(|r| r.to_vec()));
            Ok(vec![None; records.len()])
        })
    }
}

/// A cluster that never answers in time.
struct Down;

impl BulkSend for Down {
    fn send_bulk(&self, _: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>> {
        Box::pin(async move {
            Err(SearchError::Transport {
                method: "POST".into(),
                url: "https://search.local/_bulk".into(),
                message: "connection reset".into(),
            })
        })
    }
}

/// The curated bucket, refusing writes under one prefix (a dead-letter
/// write denied or throttled).
struct Refusing {
    inner: MemoryStore,
    prefix: &'static str,
}

impl OutputStore for Refusing {
    fn create(&self, key: &str) -> io::Result<Box<dyn OutputFile>> {
        if key.starts_with(self.prefix) {
            return Err(io::Error::other(
                "SlowDown: please reduce your request rate",
            ));
        }
        self.inner.create(key)
    }
    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn delete(&self, key: &str) -> io::Result<()> {
        self.inner.delete(key)
    }
    fn uri(&self, key: &str) -> String {
        self.inner.uri(key)
    }
}

/// The first object of `store` under `prefix`: its key and its gunzipped text.
fn gunzipped(store: &MemoryStore, prefix: &str) -> (String, String) {
    let (key, gz) = store
        .objects()
        .into_iter()
        .find(|(k, _)| k.starts_with(prefix))
        .unwrap_or_else(|| panic!("an object under {prefix}"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut text)
        .unwrap();
    (key, text)
}

/// fn-stream's handler over `forwarder` and `curated`: default settings,
/// no search feed, no alerts.
fn plain_stream(forwarder: Arc<dyn Forwarder>, curated: Arc<dyn OutputStore>) -> Stream {
    Stream {
        forwarder,
        curated,
        settings: StreamSettings::default(),
        search: None,
        alerts: None,
        backoff: Backoff::default(),
    }
}

fn batch() -> KinesisEvent {
    records(
        (0..3)
            .map(|i| {
                format!(
                    "{{\"ts\":\"2024-03-15T02:00:0{i}Z\",\"service\":\"cart\",\"msg\":\"m{i}\"}}\n"
                )
            })
            .collect(),
    )
}

/// A batch of one Kinesis record per item of `data`, sequence numbers from 100.
fn records(data: Vec<String>) -> KinesisEvent {
    let records: Vec<_> = data
        .iter()
        .enumerate()
        .map(|(i, data)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k",
                    "sequenceNumber": format!("{}", 100 + i),
                    "data": base64::engine::general_purpose::STANDARD.encode(data.as_bytes()),
                    "approximateArrivalTimestamp": 1_710_468_000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", 100 + i), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/fn-stream", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn lines_are_packed_per_record_and_a_line_too_long_for_firehose_is_quarantined() {
    let line = |i: u32, msg: &str| {
        format!("{{\"ts\":\"2024-03-15T02:00:0{i}Z\",\"service\":\"cart\",\"msg\":\"{msg}\"}}")
    };
    // Within the 1 MiB a line may have, but more than the 1,000 KiB of a
    // Firehose record once normalized.
    let long = "x".repeat(1_030_000);
    let firehose = Arc::new(Firehose::default());
    let curated = Arc::new(MemoryStore::default());
    let stream = plain_stream(firehose.clone(), curated.clone());
    let event = records(vec![
        [line(1, "a"), line(2, &long), line(3, "b")].join("\n"),
        line(4, "c"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (resp, summary) = stream.handle(event, deadline).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(
        (summary.forwarded, summary.quarantined),
        (3, 1),
        "{summary:?}"
    );
    // One Firehose record per Kinesis record, each whole NDJSON lines.
    let sent = firehose.records.lock().unwrap().clone();
    let texts: Vec<String> = sent
        .iter()
        .map(|r| String::from_utf8(r.clone()).unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(texts[0].lines().count(), 2);
    assert!(texts[0].contains("\"a\"") && texts[0].contains("\"b\""));
    assert!(texts[1].contains("\"c\"") && texts[1].ends_with('\n'));
    assert!(texts.iter().all(|t| !t.contains("xxxx")));
    // The long line is in the quarantine, as an oversized line.
    let (key, text) = gunzipped(&curated, "quarantine/");
    assert_eq!(text.lines().count(), 1, "{key}");
    assert!(
        text.contains("oversized"),
        "{key}: {}",
        &text[..300.min(text.len())]
    );
}

#[tokio::test]
async fn a_failure_after_the_put_does_not_fail_the_batch() {
    let env = |k: &str| -> Option<String> {
        match k {
            "SEARCH_ENDPOINT" => Some("https://search.local".into()),
            "SEARCH_AUTH" => Some("none".into()),
            "SEARCH_MAX_ATTEMPTS" => Some("1".into()),
            _ => None,
        }
    };
    let config = SearchConfig::from_vars(Vars::new(&env)).unwrap().unwrap();
    let firehose = Arc::new(Firehose::default());
    let stream = Stream {
        forwarder: firehose.clone(),
        curated: Arc::new(Refusing {
            inner: MemoryStore::default(),
            prefix: "search-dlq",
        }),
        settings: StreamSettings::default(),
        search: Some(SearchSink {
            sender: Arc::new(Down),
            config,
        }),
        alerts: None,
        backoff: Backoff::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let (resp, summary) = stream.handle(batch(), deadline).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert!(summary.search_failed, "{summary:?}");
    assert_eq!(summary.forwarded, 3);
    assert_eq!(*firehose.calls.lock().unwrap(), 1);
}

/// Firehose that refuses every record holding `m1` (the retries run out).
struct RefusesM1;

impl Forwarder for RefusesM1 {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(async move {
            Ok(records
                .iter()
                .map(|r| {
                    String::from_utf8_lossy(r)
                        .contains("\"m1\"")
                        .then(|| "ServiceUnavailableException".to_string())
                })
                .collect())
        })
    }
}

#[tokio::test]
async fn records_firehose_never_took_are_kept_for_a_replay() {
    let curated = Arc::new(MemoryStore::default());
    let stream = Stream {
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        },
        ..plain_stream(Arc::new(RefusesM1), curated.clone())
    };
    let deadline = Instant::now() + Duration::from_millis(300);
    let (resp, summary) = stream.handle(batch(), deadline).await.unwrap();
    // Lambda retries from the refused record...
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(
        resp.batch_item_failures[0].item_identifier.as_deref(),
        Some("101")
    );
    // ...and what was not taken is kept, as normalized NDJSON with ids.
    assert!(summary.dead_letter_records >= 1, "{summary:?}");
    let (key, text) = gunzipped(&curated, "stream-dlq/dt=2024-03-15/");
    assert!(
        text.contains("\"msg\":\"m1\"") || text.contains("\"message\":\"m1\""),
        "{key}: {text}"
    );
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["event_id"].as_str().is_some_and(|id| id.contains('-')),
            "{line}"
        );
    }
}

/// A cluster that takes a request and never answers.
struct Hangs;

impl BulkSend for Hangs {
    fn send_bulk(&self, _: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(SearchError::Transport {
                method: "POST".into(),
                url: "https://search.local/_bulk".into(),
                message: "never".into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parsing_never_waits_for_a_hanging_cluster_beyond_its_limit() {
    use loglake_core::ingest::Origin;
    use loglake_core::record::{Record, SourceFormat, TextField};
    use loglake_handlers::search::session::{DeadLetters, Retry};
    let env = |k: &str| -> Option<String> {
        match k {
            "SEARCH_ENDPOINT" => Some("https://search.local".into()),
            "SEARCH_AUTH" => Some("none".into()),
            "SEARCH_CONCURRENCY" => Some("1".into()),
            "SEARCH_MAX_REQUEST_BYTES" => Some("1024".into()),
            "SEARCH_TIMEOUT_SECS" => Some("1".into()),
            "SEARCH_MAX_ATTEMPTS" => Some("1".into()),
            _ => None,
        }
    };
    let mut config = SearchConfig::from_vars(Vars::new(&env)).unwrap().unwrap();
    config.max_wait = Duration::from_millis(300);
    let sink = SearchSink {
        sender: Arc::new(Hangs),
        config,
    };
    let mut session = sink.session(Instant::now() + Duration::from_secs(2), Retry::ByCaller);
    let mut feed = session.feed(false);
    // Parsing: one document per bulk, many more than the channel holds.
    let fed = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        for i in 0..50u64 {
            let mut r = Record::default();
            r.set(
                TextField::Message,
                format!("document {i} {}", "x".repeat(700)),
            );
            let origin = Origin {
                identity: "s3://raw/a.log#etag=1",
                uri: "s3://raw/a.log",
                line: i + 1,
                position: i * 100,
            };
            feed.add(&r, 1_710_468_000_000, SourceFormat::Json, &origin);
        }
        (feed.finish(), started.elapsed())
    })
    .await
    .unwrap();
    let (counts, took) = fed;
    assert!(took < Duration::from_secs(2), "parsing waited {took:?}");
    let store = Arc::new(MemoryStore::default());
    let indexed = session
        .settle(
            counts,
            DeadLetters {
                store: store.clone(),
                name: "a".into(),
                at_ms: Some(1_710_468_000_000),
            },
        )
        .await
        .unwrap();
    // Every document accounted for: most kept as dead letters to send again.
    let c = &indexed.counts;
    assert_eq!(c.docs, 50);
    assert_eq!(
        c.indexed + c.already_indexed + c.dead_lettered + c.failed,
        50,
        "{c:?}"
    );
    assert!(c.dead_lettered >= 45, "{c:?}");
    assert!(indexed.dead_letters.is_some());
}

/// Firehose that refuses the records holding `refuse` while it is down,
/// and takes the rest of each call (a partial `PutRecordBatch`).
#[derive(Default)]
struct Partial {
    refuse: &'static str,
    down: std::sync::atomic::AtomicBool,
    taken: Mutex<Vec<Vec<u8>>>,
}

impl Forwarder for Partial {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(async move {
            let down = self.down.load(std::sync::atomic::Ordering::SeqCst);
            let mut taken = self.taken.lock().unwrap();
            Ok(records
                .iter()
                .map(|r| {
                    let text = String::from_utf8_lossy(r);
                    if down && text.contains(self.refuse) {
                        Some("ServiceUnavailableException: Slow down.".to_string())
                    } else {
                        taken.push(r.to_vec());
                        None
                    }
                })
                .collect())
        })
    }
}

#[tokio::test]
async fn a_retry_after_a_partial_put_forwards_only_what_was_not_taken() {
    let firehose = Arc::new(Partial {
        refuse: "\"m1\"",
        down: true.into(),
        ..Partial::default()
    });
    let curated = Arc::new(MemoryStore::default());
    let stream = Stream {
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
        },
        ..plain_stream(firehose.clone(), curated.clone())
    };
    // The first attempt: m0 and m2 taken, m1 refused until the deadline.
    let started = Instant::now();
    let deadline = started + Duration::from_millis(2500);
    let (resp, summary) = stream.handle(batch(), deadline).await.unwrap();
    assert!(Instant::now() < deadline, "answered after the deadline");
    let failed: Vec<_> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, ["101"]);
    // Only what was not taken is kept as a dead letter.
    assert_eq!(summary.dead_letter_records, 1);
    // Lambda retries from sequence 101: records 101 and 102.
    firehose
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let mut retry = batch();
    retry.records.remove(0);
    let (resp, _) = stream
        .handle(retry, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    let lines: Vec<String> = firehose
        .taken
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| {
            String::from_utf8_lossy(r)
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    for m in ["m0", "m1", "m2"] {
        let n = lines
            .iter()
            .filter(|l| l.contains(&format!("\"{m}\"")))
            .count();
        assert_eq!(n, 1, "{m} forwarded {n} times: {lines:?}");
    }
}

#[test]
fn the_time_kept_after_the_put_grows_with_the_batch() {
    use loglake_handlers::stream::after_put;
    let left = Duration::from_secs(60);
    let small = after_put(1 << 10, 0, left);
    let big = after_put(40 << 20, 0, left);
    let windows = after_put(1 << 10, 500, left);
    assert!(small >= Duration::from_secs(1) && small < Duration::from_millis(1100));
    assert!(big >= Duration::from_secs(10), "{big:?}");
    assert!(windows >= Duration::from_secs(3), "{windows:?}");
    assert_eq!(after_put(400 << 20, 0, left), Duration::from_secs(30));
}

/// A record with the collector's partition key keeps the id and format its
/// line carries; the same line under any other key is a log line like any
/// other, whose `event_id` is an attribute.
#[tokio::test]
async fn only_the_collectors_records_keep_their_event_id() {
    use loglake_handlers::stream::COLLECT_PARTITION_PREFIX;
    let line = "{\"ts\":\"2024-03-15T02:00:00.000Z\",\"level\":\"INFO\",\"service\":\"events\",\"event_type\":\"page_view\",\"source_format\":\"http\",\"event_id\":\"0123456789abcdef-3\"}\n";
    let record = |key: &str, seq: u32| {
        json!({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key,
                "sequenceNumber": seq.to_string(),
                "data": base64::engine::general_purpose::STANDARD.encode(line.as_bytes()),
                "approximateArrivalTimestamp": 1_710_468_000.5},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
        })
    };
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": [
        record(&format!("{COLLECT_PARTITION_PREFIX}00ff"), 1),
        record("app-7", 2),
    ]}))
    .unwrap();
    let firehose = Arc::new(Firehose::default());
    let stream = plain_stream(firehose.clone(), Arc::new(MemoryStore::default()));
    let (resp, summary) = stream
        .handle(event, Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(summary.forwarded, 2);
    let out: Vec<serde_json::Value> = firehose
        .records
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(out[0]["event_id"], "0123456789abcdef-3");
    assert_eq!(out[0]["source_format"], "http");
    assert!(out[0]["attributes"].get("event_id").is_none());
    assert_ne!(out[1]["event_id"], "0123456789abcdef-3");
    assert_eq!(out[1]["source_format"], "json");
    assert_eq!(out[1]["attributes"]["event_id"], "0123456789abcdef-3");
    assert_eq!(out[1]["attributes"]["source_format"], "http");
}
