//! fn-ingest against a fake S3 that does what AWS does and an emulator
//! forgives: which upload an S3 event gets ingested as (versions, `null`
//! versions when versioning is suspended, `If-Match` on the event's ETag,
//! and a fake that ignores `If-Match` like an emulator), a stalled
//! object that must fail alone before the invocation's deadline, and an
//! object longer than an invocation, which continues from its checkpoint.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use loglake_core::MemoryStore;
use loglake_core::triggers::objects::ObjectRef;
use loglake_handlers::effects::{BoxFuture, ObjectReader, Opened, ReadError, Requeue};
use loglake_handlers::ingest::{Ingest, IngestSettings};
use serde_json::{Value, json};

/// One upload of a key.
#[derive(Clone)]
struct Upload {
    version: String,
    etag: String,
    body: String,
}

/// Uploads per key, the last one current.
#[derive(Default)]
struct FakeS3 {
    keys: Mutex<HashMap<String, Vec<Upload>>>,
    /// An emulator's forgiveness: `If-Match` is not checked.
    ignores_if_match: bool,
    /// Keys whose body hangs (a stalled connection) before its first byte.
    stalls: Vec<String>,
}

/// A body that waits (once) before it gives its bytes.
struct Stalled(Cursor<Vec<u8>>, bool);

impl std::io::Read for Stalled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !std::mem::replace(&mut self.1, true) {
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        self.0.read(buf)
    }
}

impl FakeS3 {
    fn put(&self, key: &str, version: &str, etag: &str, body: &str) {
        self.keys
            .lock()
            .unwrap()
            .entry(key.into())
            .or_default()
            .push(Upload {
                version: version.into(),
                etag: etag.into(),
                body: body.into(),
            });
    }
}

impl ObjectReader for FakeS3 {
    fn open<'a>(&'a self, obj: &'a ObjectRef) -> BoxFuture<'a, Result<Opened, ReadError>> {
        Box::pin(async move {
            let keys = self.keys.lock().unwrap();
            let not_found = || ReadError::NotFound {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
            };
            let uploads = keys.get(&obj.key).ok_or_else(not_found)?;
            let named = obj.version_id.as_deref().filter(|v| *v != "null");
            let u = match named {
                // S3 keeps every version of a versioned bucket.
                Some(v) => uploads
                    .iter()
                    .find(|u| u.version == v)
                    .ok_or_else(not_found)?,
                None => {
                    let current = uploads.last().ok_or_else(not_found)?;
                    if let Some(etag) = &obj.etag
                        && *etag != current.etag
                        && !self.ignores_if_match
                    {
                        return Err(ReadError::Superseded {
                            bucket: obj.bucket.clone(),
                            key: obj.key.clone(),
                            etag: etag.clone(),
                        });
                    }
                    current
                }
            };
            Ok(Opened {
                etag: Some(u.etag.clone()),
                version_id: Some(u.version.clone()),
                last_modified_ms: Some(1_710_450_000_000),
                size: Some(u.body.len() as u64),
                reader: if self.stalls.contains(&obj.key) {
                    Box::new(Stalled(Cursor::new(u.body.clone().into_bytes()), false))
                } else {
                    Box::new(Cursor::new(u.body.clone().into_bytes()))
                },
            })
        })
    }
}

fn event(key: &str, version: Option<&str>, etag: &str) -> Value {
    let mut object = json!({"key": key, "size": 10, "eTag": etag, "sequencer": "1"});
    if let Some(v) = version {
        object["versionId"] = json!(v);
    }
    let body = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
        "awsRegion": "us-east-1", "eventTime": "2024-03-14T21:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "raw", "arn": "arn:aws:s3:::raw"},
               "object": object}}]});
    sqs(&body.to_string(), &format!("m-{etag}"))
}

/// An SQS batch of one message.
fn sqs(body: &str, id: &str) -> Value {
    json!({"Records": [{
        "messageId": id, "receiptHandle": "h", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"
    }]})
}

fn app(s3: Arc<FakeS3>, lake: Arc<MemoryStore>) -> Ingest {
    Ingest {
        objects: s3,
        lake,
        settings: IngestSettings::default(),
        search: None,
        alerts: None,
        requeue: None,
    }
}

fn line(msg: &str) -> String {
    format!("{{\"ts\":\"2024-03-14T21:00:00Z\",\"service\":\"shop\",\"msg\":\"{msg}\"}}\n")
}

/// Every message of the lake's manifests.
fn manifests(lake: &MemoryStore) -> Vec<Value> {
    lake.objects()
        .iter()
        .filter(|(k, _)| k.starts_with("_manifests/"))
        .map(|(_, v)| serde_json::from_slice(v).unwrap())
        .collect()
}

#[tokio::test]
async fn two_uploads_of_one_key_in_a_suspended_bucket_are_two_sources() {
    // Versioning suspended: both uploads report version "null".
    let s3 = Arc::new(FakeS3::default());
    let lake = Arc::new(MemoryStore::default());
    let ingest = app(s3.clone(), lake.clone());
    s3.put("shop/a.log", "null", "e1", &line("first"));
    let r = ingest
        .handle(event("shop/a.log", Some("null"), "e1"))
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    s3.put("shop/a.log", "null", "e2", &line("second"));
    ingest
        .handle(event("shop/a.log", Some("null"), "e2"))
        .await
        .unwrap();
    let m = manifests(&lake);
    assert_eq!(
        m.len(),
        2,
        "the second upload must not overwrite the first's outputs"
    );
    let ids: Vec<&str> = m
        .iter()
        .map(|m| m["source"]["identity"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"s3://raw/shop/a.log#etag=e1"), "{ids:?}");
    assert!(ids.contains(&"s3://raw/shop/a.log#etag=e2"), "{ids:?}");
}

#[tokio::test]
async fn an_upload_overwritten_before_it_was_read_is_never_ingested_as_the_next() {
    for ignores_if_match in [false, true] {
        let s3 = Arc::new(FakeS3 {
            ignores_if_match,
            ..FakeS3::default()
        });
        let lake = Arc::new(MemoryStore::default());
        let ingest = app(s3.clone(), lake.clone());
        s3.put("shop/a.log", "null", "e1", &line("first"));
        s3.put("shop/a.log", "null", "e2", &line("second"));
        // The first event arrives after the overwrite: skipped (its upload
        // is gone), not ingested as the second under the first's name.
        let r = ingest
            .handle(event("shop/a.log", None, "e1"))
            .await
            .unwrap();
        assert_eq!(r["batchItemFailures"], json!([]), "{r}");
        assert!(
            manifests(&lake).is_empty(),
            "ignores_if_match={ignores_if_match}"
        );
        ingest
            .handle(event("shop/a.log", None, "e2"))
            .await
            .unwrap();
        assert_eq!(manifests(&lake).len(), 1);
    }
}

#[tokio::test]
async fn in_a_versioned_bucket_each_event_reads_its_own_version() {
    let s3 = Arc::new(FakeS3::default());
    let lake = Arc::new(MemoryStore::default());
    let ingest = app(s3.clone(), lake.clone());
    s3.put("shop/a.log", "v1", "e1", &line("first"));
    s3.put("shop/a.log", "v2", "e2", &line("second"));
    // Both events arrive after both uploads.
    ingest
        .handle(event("shop/a.log", Some("v1"), "e1"))
        .await
        .unwrap();
    ingest
        .handle(event("shop/a.log", Some("v2"), "e2"))
        .await
        .unwrap();
    let m = manifests(&lake);
    assert_eq!(m.len(), 2);
    assert!(m.iter().all(|m| m["rows_out"] == 1));
    let ids: Vec<&str> = m
        .iter()
        .map(|m| m["source"]["identity"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"s3://raw/shop/a.log#version=v1"), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_object_fails_alone_before_the_deadline() {
    let s3 = Arc::new(FakeS3 {
        stalls: vec!["shop/stuck.log".into()],
        ..FakeS3::default()
    });
    let lake = Arc::new(MemoryStore::default());
    let ingest = app(s3.clone(), lake.clone());
    s3.put("shop/a.log", "v1", "e1", &line("a"));
    s3.put("shop/stuck.log", "v1", "e2", &line("stuck"));
    s3.put("shop/b.log", "v1", "e3", &line("b"));
    let mut records = Vec::new();
    for (key, etag) in [
        ("shop/a.log", "e1"),
        ("shop/stuck.log", "e2"),
        ("shop/b.log", "e3"),
    ] {
        records.extend(
            event(key, Some("v1"), etag)["Records"]
                .as_array()
                .unwrap()
                .clone(),
        );
    }
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(1500);
    let r = ingest
        .handle_until(json!({ "Records": records }), deadline)
        .await
        .unwrap();
    // Answered before the deadline, naming only the stalled message.
    assert!(
        std::time::Instant::now() < deadline,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        r["batchItemFailures"],
        json!([{"itemIdentifier": "m-e2"}]),
        "{r}"
    );
    let done: Vec<String> = manifests(&lake)
        .iter()
        .map(|m| m["source"]["uri"].as_str().unwrap().to_string())
        .collect();
    assert!(
        done.contains(&"s3://raw/shop/a.log".to_string()),
        "{done:?}"
    );
    assert!(
        done.contains(&"s3://raw/shop/b.log".to_string()),
        "{done:?}"
    );
}

/// The ingest queue: what was sent to it, and whether sending fails.
#[derive(Default)]
struct Queue {
    sent: Mutex<Vec<String>>,
    refuses: bool,
}

impl Requeue for Queue {
    fn send<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if self.refuses {
                return Err("AWS.SimpleQueueService.NonExistentQueue".into());
            }
            self.sent.lock().unwrap().push(body.to_string());
            Ok(())
        })
    }
}

/// The lake's objects, manifests without their timing field.
fn lake_bytes(lake: &MemoryStore) -> std::collections::BTreeMap<String, Vec<u8>> {
    lake.objects()
        .into_iter()
        .map(|(k, v)| {
            if k.starts_with("_manifests/") {
                let mut m: Value = serde_json::from_slice(&v).unwrap();
                m["duration_ms"] = json!(0);
                (k, serde_json::to_vec(&m).unwrap())
            } else {
                (k, v)
            }
        })
        .collect()
}

#[tokio::test]
async fn an_object_longer_than_an_invocation_continues_from_its_checkpoint() {
    use std::time::{Duration, Instant};
    let body: String = (0..3000)
        .map(|i| line(&format!("event {i} {}", "x".repeat(i % 40))))
        .collect();
    let s3 = Arc::new(FakeS3::default());
    s3.put("shop/big.log", "v1", "e1", &body);
    let small = |lake: Arc<MemoryStore>| {
        let mut a = app(s3.clone(), lake);
        a.settings.segment_bytes = 16 << 10;
        a
    };
    // One pass, no deadline to speak of.
    let one = Arc::new(MemoryStore::default());
    let r = small(one.clone())
        .handle(event("shop/big.log", Some("v1"), "e1"))
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));

    // Each invocation's deadline is so near that every object pauses after
    // its first segment: the message answers success and continues as a
    // new message, until the last segment.
    let lake = Arc::new(MemoryStore::default());
    let queue = Arc::new(Queue::default());
    let mut ingest = small(lake.clone());
    ingest.requeue = Some(queue.clone());
    let mut next = event("shop/big.log", Some("v1"), "e1");
    let mut invocations = 0;
    loop {
        invocations += 1;
        let r = ingest
            .handle_until(next.clone(), Instant::now() + Duration::from_millis(1200))
            .await
            .unwrap();
        assert_eq!(
            r["batchItemFailures"],
            json!([]),
            "invocation {invocations}"
        );
        let Some(body) = queue.sent.lock().unwrap().pop() else {
            break;
        };
        assert!(
            manifests(&lake).is_empty(),
            "no manifest before the last segment"
        );
        next = sqs(&body, &format!("m-{invocations}"));
    }
    let segments = body.len().div_ceil(16 << 10);
    assert!(
        invocations >= 5 && invocations <= segments,
        "{invocations} of {segments}"
    );
    let (a, b) = (lake_bytes(&one), lake_bytes(&lake));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "a resumed object differs from a single pass");
    assert_eq!(manifests(&lake)[0]["rows_out"], json!(3000));

    // Without a queue to continue on (or when sending fails), the message
    // is reported failed and comes back; its checkpoint is kept, so the
    // redelivery goes on from there.
    for refuses in [false, true] {
        let lake = Arc::new(MemoryStore::default());
        let mut ingest = small(lake.clone());
        if refuses {
            ingest.requeue = Some(Arc::new(Queue {
                refuses,
                ..Queue::default()
            }));
        }
        let mut redeliveries = 0;
        loop {
            let r = ingest
                .handle_until(
                    event("shop/big.log", Some("v1"), "e1"),
                    Instant::now() + Duration::from_millis(1200),
                )
                .await
                .unwrap();
            if r["batchItemFailures"] == json!([]) {
                break;
            }
            redeliveries += 1;
            assert!(
                lake.objects()
                    .keys()
                    .any(|k| k.starts_with("_checkpoints/")),
                "a paused object keeps its checkpoint"
            );
        }
        assert!(redeliveries >= 4);
        assert!(lake_bytes(&lake) == a);
    }
}
