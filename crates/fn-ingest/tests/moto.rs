//! fn-ingest against a local AWS (moto server): real S3 notifications to a
//! real SQS queue, the handler run on the messages, Parquet read back from
//! S3. The local AWS enforces IAM and the handler runs as a user holding
//! exactly fn-ingest's policy from `infra/policies/` (`loglake_testkit::iam`).
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use loglake_handlers::ingest::{Ingest, IngestSettings};
use loglake_testkit::iam::{self, Role};
use loglake_testkit::{LocalAws, s3_notification, sqs_record};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

struct Env {
    local: LocalAws,
    role: Role,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    app: Ingest,
    raw: String,
    curated: String,
}

/// A fresh raw and curated bucket per test, and fn-ingest's role on them.
async fn env(name: &str) -> Env {
    env_with(
        name,
        IngestSettings {
            memory_budget_mb: 16,
            ..IngestSettings::default()
        },
    )
    .await
}

async fn env_with(name: &str, settings: IngestSettings) -> Env {
    let local = LocalAws::enforced(name).await;
    let raw = local.bucket("raw").await;
    let curated = local.bucket("curated").await;
    let role = local.role(
        "fn-ingest",
        &iam::ingest_policy(&raw, &curated, &format!("q-{raw}")),
    );
    let app = local.through(role.aws.clone()).ingest(&curated, settings);
    Env {
        s3: local.s3.clone(),
        sqs: aws_sdk_sqs::Client::new(&local.aws),
        local,
        role,
        app,
        raw,
        curated,
    }
}

impl Env {
    async fn put(&self, key: &str, body: Vec<u8>) {
        self.local.put(&self.raw, key, body).await;
    }

    /// Turn versioning on, as Terraform does for the raw bucket.
    async fn versioned(&self, bucket: &str) {
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// A raw object's ETag, as its event names it.
    async fn etag(&self, key: &str) -> String {
        let head = self
            .s3
            .head_object()
            .bucket(&self.raw)
            .key(key)
            .send()
            .await
            .unwrap();
        head.e_tag().unwrap().trim_matches('"').to_string()
    }

    /// Every object of the curated bucket.
    async fn curated_objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.local.objects(&self.curated, "").await
    }

    /// A queue that receives the raw bucket's ObjectCreated notifications.
    async fn notify_to_queue(&self) -> String {
        let q = self
            .sqs
            .create_queue()
            .queue_name(format!("q-{}", self.raw))
            .send()
            .await
            .unwrap();
        let url = q.queue_url().unwrap().to_string();
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let arn = attrs
            .attributes()
            .unwrap()
            .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .unwrap()
            .clone();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(&self.raw)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(arn)
                            .events(Event::S3ObjectCreated)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        url
    }

    /// Receive until `want` S3 notifications (test events aside) arrived;
    /// returns the messages as Lambda's SQS event would carry them.
    async fn receive(&self, url: &str, want: usize) -> Value {
        let mut records = Vec::new();
        let mut objects = 0;
        for _ in 0..40 {
            if objects >= want {
                break;
            }
            let r = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in r.messages() {
                let body = m.body().unwrap().to_string();
                if !body.contains("s3:TestEvent") {
                    objects += 1;
                }
                records.push(sqs_record(m.message_id().unwrap(), &body));
            }
        }
        assert_eq!(objects, want, "notifications received");
        json!({ "Records": records })
    }
}

/// `n` JSON log lines over three hours; `noise` hex chars of entropy each.
fn lines(n: usize, seed: u64, noise: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n * (150 + noise));
    for i in 0..n {
        let mut hex = String::with_capacity(noise);
        while hex.len() < noise {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            hex.push_str(&format!("{x:016x}"));
        }
        hex.truncate(noise);
        let ts = 1_710_450_000_000i64 + (i as i64 * 3 * 3_600_000) / n as i64;
        writeln!(
            out,
            r#"{{"ts":{ts},"level":"{}","service":"svc-{}","message":"event {i} {hex}","status":{}}}"#,
            if i % 50 == 0 { "ERROR" } else { "INFO" },
            i % 3,
            200 + (i % 5) as i32
        )
        .unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn manifests(objects: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("_manifests/"))
        .map(|(_, v)| serde_json::from_slice(v).unwrap())
        .collect()
}

fn batches(bytes: &[u8]) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_balanced(m: &Value) {
    let n = |k: &str| m[k].as_u64().unwrap();
    assert_eq!(n("lines_in"), n("rows_out") + n("quarantined"), "{m:#}");
}

/// Rows per partition read from the Parquet files a manifest lists.
fn parquet_partitions(objects: &BTreeMap<String, Vec<u8>>, m: &Value) -> BTreeMap<String, u64> {
    let mut got = BTreeMap::new();
    for o in m["outputs"].as_array().unwrap() {
        if o["kind"] != "parquet" {
            continue;
        }
        let key = o["key"].as_str().unwrap();
        let rows: usize = batches(&objects[key])
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        *got.entry(o["partition"].as_str().unwrap().to_string())
            .or_insert(0) += rows as u64;
    }
    got
}

fn partitions(m: &Value) -> BTreeMap<String, u64> {
    m["partitions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_through_sqs_end_to_end() {
    let e = env("e2e").await;
    let url = e.notify_to_queue().await;
    let big = lines(820_000, 7, 64);
    assert!(
        big.len() > 100 << 20,
        "the big object is over 100 MB uncompressed"
    );
    let inputs: Vec<(&str, Vec<u8>, usize)> = vec![
        ("web/plain.log", lines(2000, 1, 8), 2000),
        ("web/app.ndjson.gz", gzip(&lines(3000, 2, 8)), 3000),
        (
            "api/app.ndjson.zst",
            zstd::encode_all(&lines(1500, 3, 8)[..], 3).unwrap(),
            1500,
        ),
        ("big/huge.ndjson.gz", gzip(&big), 820_000),
    ];
    for (k, body, _) in &inputs {
        e.put(k, body.clone()).await;
    }
    let event = e.receive(&url, inputs.len()).await;
    let resp = e.app.handle(event).await.unwrap();
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");

    let objects = e.curated_objects().await;
    let ms = manifests(&objects);
    assert_eq!(ms.len(), inputs.len());
    for (k, _, n) in &inputs {
        let uri = format!("s3://{}/{k}", e.raw);
        let m = ms
            .iter()
            .find(|m| m["source"]["uri"] == uri.as_str())
            .unwrap();
        assert_balanced(m);
        assert_eq!(m["rows_out"].as_u64().unwrap(), *n as u64, "{k}");
        assert_eq!(parquet_partitions(&objects, m), partitions(m), "{k}");
    }
    // The big object's data files went up as multipart uploads and are whole.
    let huge = ms
        .iter()
        .find(|m| {
            m["source"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("huge.ndjson.gz")
        })
        .unwrap();
    assert!(
        huge["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["bytes"].as_u64().unwrap() > 5 << 20)
    );
    assert_eq!(huge["compression"], "gzip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_message_fails_alone_and_redelivery_writes_nothing_twice() {
    let e = env("batch").await;
    let good = lines(1000, 4, 8);
    e.put("shop/good.log", good.clone()).await;
    let event = json!({"Records": [
        sqs_record("good", &s3_notification(&e.raw, "shop/good.log", good.len(), &e.etag("shop/good.log").await)),
        sqs_record("missing", &s3_notification(&e.raw, "shop/deleted-before-we-got-here.log", 10, "x")),
        sqs_record("garbage", "this is not an event"),
        sqs_record("test", &json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": e.raw}).to_string()),
    ]});
    let resp = e.app.handle(event.clone()).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        json!([{"itemIdentifier": "garbage"}])
    );
    let first = e.curated_objects().await;
    let ms = manifests(&first);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["rows_out"], 1000);

    // Redelivered: the same keys with the same bytes (manifests aside, whose
    // duration differs), nothing added.
    let resp = e.app.handle(event).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        json!([{"itemIdentifier": "garbage"}])
    );
    let second = e.curated_objects().await;
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (k, v) in &first {
        if !k.starts_with("_manifests/") {
            assert!(second[k] == *v, "{k} changed");
        }
    }
    assert_eq!(manifests(&second)[0]["outputs"], ms[0]["outputs"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_keys_survive_the_round_trip() {
    let e = env("keys").await;
    let url = e.notify_to_queue().await;
    let keys = [
        "logs/with space.log",
        "logs/plus+sign.log",
        "logs/100% sure.log",
        "logs/ünïcödé 🎧.log",
    ];
    for k in keys {
        e.put(k, lines(10, 5, 4)).await;
    }
    // Through moto's own notifications, and as AWS encodes them.
    let through_moto = e.receive(&url, keys.len()).await;
    let resp = e.app.handle(through_moto).await.unwrap();
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    let mut records = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let etag = e.etag(k).await;
        records.push(sqs_record(
            &i.to_string(),
            &s3_notification(&e.raw, k, 10, &etag),
        ));
    }
    let hand_made = json!({ "Records": records });
    let resp = e.app.handle(hand_made).await.unwrap();
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");

    let ms = manifests(&e.curated_objects().await);
    assert_eq!(
        ms.len(),
        keys.len(),
        "one manifest per object, however it was announced"
    );
    for k in keys {
        let uri = format!("s3://{}/{k}", e.raw);
        let m = ms
            .iter()
            .find(|m| m["source"]["uri"] == uri.as_str())
            .unwrap_or_else(|| panic!("{k}"));
        assert_eq!(m["rows_out"], 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_replay_and_bad_events() {
    let e = env("direct").await;
    let body = lines(300, 6, 8);
    let cut = gzip(&body);
    e.put("svc/cut.ndjson.gz", cut[..cut.len() / 2].to_vec())
        .await;
    e.put("svc/ok.log", body).await;
    let uri = |k: &str| format!("s3://{}/{k}", e.raw);
    let resp = e
        .app
        .handle(json!({"source_uri": [uri("svc/ok.log"), uri("svc/cut.ndjson.gz")]}))
        .await
        .unwrap();
    let objs = resp["objects"].as_array().unwrap();
    assert_eq!(objs[0]["rows_out"], 300);
    assert_eq!(objs[1]["outcome"], "truncated");

    // A missing object in a replay is skipped, not retried forever.
    let resp = e
        .app
        .handle(json!({"source_uri": uri("svc/nope.log")}))
        .await
        .unwrap();
    assert!(
        resp["objects"][0]["skipped"]
            .as_str()
            .unwrap()
            .contains("no such key")
    );

    for bad in [
        json!({"hello": "world"}),
        json!([1, 2, 3]),
        json!("s3://x/y"),
    ] {
        let err = e.app.handle(bad.clone()).await.unwrap_err().to_string();
        assert!(err.contains("expected an SQS batch"), "{bad}: {err}");
    }
    let err = e
        .app
        .handle(json!({"source_uri": "http://not/s3"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an s3:// uri"), "{err}");
}

/// Rows of every Parquet file under `logs/`.
fn lake_rows(objects: &BTreeMap<String, Vec<u8>>) -> usize {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("logs/"))
        .flat_map(|(_, b)| batches(b))
        .map(|b| b.num_rows())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reingest_in_fewer_chunks_removes_the_earlier_runs_extra_chunks() {
    // Small segments: every segment closes its files, so the first run
    // writes many chunks per partition.
    let e = env_with(
        "stale",
        IngestSettings {
            memory_budget_mb: 16,
            segment_bytes: 128 << 10,
            ..IngestSettings::default()
        },
    )
    .await;
    // With a broken line every thousand, so each segment quarantines some.
    let mut body = Vec::new();
    for (i, line) in lines(12_000, 11, 8)
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
    {
        body.extend_from_slice(line);
        if i % 1000 == 999 {
            body.extend_from_slice(b"{\"broken\": \n");
        }
    }
    e.put("shop/app.log", body).await;
    let uri = format!("s3://{}/shop/app.log", e.raw);
    let resp = e.app.handle(json!({ "source_uri": uri })).await.unwrap();
    assert_eq!(resp["objects"][0]["rows_out"], 12_000, "{resp}");
    let first = e.curated_objects().await;
    let first_files = first.keys().filter(|k| k.starts_with("logs/")).count();
    let quarantined = |o: &BTreeMap<String, Vec<u8>>| {
        o.keys()
            .filter(|k| k.starts_with("quarantine/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(quarantined(&first).len() > 1, "{:?}", first.keys());
    assert_eq!(lake_rows(&first), 12_000);

    // The same object again, with the default segments: fewer chunks. The
    // role reads the earlier manifest and deletes the chunks not rewritten.
    let again = e
        .local
        .through(e.role.aws.clone())
        .ingest(&e.curated, IngestSettings::default());
    let resp = again.handle(json!({ "source_uri": uri })).await.unwrap();
    assert_eq!(resp["objects"][0]["rows_out"], 12_000, "{resp}");
    let second = e.curated_objects().await;
    let files: Vec<&String> = second.keys().filter(|k| k.starts_with("logs/")).collect();
    assert!(
        files.len() < first_files,
        "{} files after {first_files}",
        files.len()
    );
    assert_eq!(lake_rows(&second), 12_000, "every row once: {files:?}");
    assert_eq!(quarantined(&second).len(), 1, "{:?}", quarantined(&second));
    let ms = manifests(&second);
    assert_eq!(ms.len(), 1);
    let listed: Vec<&str> = ms[0]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .filter(|k| k.starts_with("logs/"))
        .collect();
    assert_eq!(listed, files.iter().map(|k| k.as_str()).collect::<Vec<_>>());
    assert_eq!(
        e.role.denied(),
        vec![],
        "every call of the role was allowed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_manifest_read_fails_the_object_naming_the_grant() {
    let e = env("denied").await;
    // fn-ingest's policy without the statement that reads manifests.
    let mut policy = iam::ingest_policy(&e.raw, &e.curated, &format!("q-{}", e.raw));
    let statements = policy[0]["Statement"].as_array_mut().unwrap();
    let before = statements.len();
    statements.retain(|st| st["Sid"] != "ReadOwnManifests");
    assert_eq!(statements.len(), before - 1, "the policy reads manifests");
    // Not a record of fn-ingest's calls: this role lacks a grant on purpose.
    let role = e.local.role("fn-ingest", &policy).unrecorded();
    let app = e
        .local
        .through(role.aws.clone())
        .ingest(&e.curated, IngestSettings::default());
    e.put("shop/app.log", lines(100, 12, 8)).await;
    let uri = format!("s3://{}/shop/app.log", e.raw);
    let err = app
        .handle(json!({ "source_uri": uri }))
        .await
        .map(|r| r.to_string())
        .unwrap_or_else(|e| e.to_string());
    assert!(
        err.contains("access denied: s3:GetObject on arn:aws:s3:::")
            && err.contains("/_manifests/"),
        "{err}"
    );
    // Nothing was taken for "no manifest": no manifest was written.
    let objects = e.curated_objects().await;
    assert!(manifests(&objects).is_empty(), "{:?}", objects.keys());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_object_continues_through_its_own_queue_under_the_role() {
    let mut e = env_with(
        "continue",
        IngestSettings {
            memory_budget_mb: 16,
            segment_bytes: 16 << 10,
            ..IngestSettings::default()
        },
    )
    .await;
    let queue = e
        .sqs
        .create_queue()
        .queue_name(format!("q-{}", e.raw))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    e.app.requeue = Some(Arc::new(loglake_aws::sqs::SqsRequeue::new(
        &e.role.aws,
        queue.clone(),
    )));
    // A versioned bucket, as Terraform makes it: the event names the
    // version (AWS puts `versionId` in it; moto leaves it out, so it is
    // added here), which is read with s3:GetObjectVersion.
    e.versioned(&e.raw).await;
    let body = lines(3000, 13, 8);
    let put =
        e.s3.put_object()
            .bucket(&e.raw)
            .key("shop/long.log")
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
    let mut notification: Value = serde_json::from_str(&s3_notification(
        &e.raw,
        "shop/long.log",
        body.len(),
        put.e_tag().unwrap().trim_matches('"'),
    ))
    .unwrap();
    notification["Records"][0]["s3"]["object"]["versionId"] = json!(put.version_id().unwrap());
    let notification = notification.to_string();
    let mut next = json!({ "Records": [sqs_record("m-0", &notification)] });
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations < 500, "the object never finished");
        // So near a deadline that each invocation pauses after a segment or
        // a few, keeps its checkpoint and continues in a new message.
        let r = e
            .app
            .handle_until(next.clone(), Instant::now() + Duration::from_millis(1200))
            .await
            .unwrap();
        assert_eq!(
            r["batchItemFailures"],
            json!([]),
            "invocation {invocations}"
        );
        let got = e
            .sqs
            .receive_message()
            .queue_url(&queue)
            .send()
            .await
            .unwrap();
        let Some(m) = got.messages().first() else {
            break;
        };
        e.sqs
            .delete_message()
            .queue_url(&queue)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
        next = json!({ "Records": [sqs_record(&format!("m-{invocations}"), m.body().unwrap())] });
    }
    assert!(invocations >= 3, "{invocations} invocations");
    let objects = e.curated_objects().await;
    let ms = manifests(&objects);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["rows_out"], 3000);
    assert_eq!(lake_rows(&objects), 3000);
    assert!(
        !objects.keys().any(|k| k.starts_with("_checkpoints/")),
        "the checkpoint is removed when the object finishes"
    );
    assert_eq!(
        e.role.denied(),
        vec![],
        "every call of the role was allowed"
    );
}

/// The user-defined formats as Terraform delivers them (`formats_path`): an
/// object fn-ingest reads under exactly its policy (`FORMATS_URI`), read
/// again when it changed; a broken change is refused and the formats
/// before stay in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_kept_in_s3_are_read_under_iam_and_read_again_when_changed() {
    let e = env("formats").await;
    let key = "_config/formats.toml";
    let uri = format!("s3://{}/{key}", e.curated);
    let vars = [
        ("CURATED_BUCKET", e.curated.as_str()),
        ("FORMATS_URI", uri.as_str()),
        ("FORMATS_REFRESH_S", "0"),
        ("MEMORY_BUDGET_MB", "16"),
    ];
    let config = loglake_testkit::settings(&vars, fn_ingest::Config::from_vars);
    let app = fn_ingest::app(&e.role.aws, config).unwrap();
    let spring = "2024-03-15 02:00:01.123  INFO 4242 --- [checkout] [  main] c.e.CheckoutService : order 7 placed\n";
    let ingest = |name: &'static str| {
        let e = &e;
        let app = &app;
        async move {
            e.put(name, spring.as_bytes().to_vec()).await;
            let out = app
                .handle(json!({ "source_uri": format!("s3://{}/{name}", e.raw) }))
                .await
                .unwrap();
            out["objects"][0]["format"].as_str().unwrap().to_string()
        }
    };

    // No spring-boot format yet: the line is read as plain text.
    e.local.put(&e.curated, key, b"# none yet\n".to_vec()).await;
    assert_eq!(ingest("spring/a.log").await, "text");
    // The object changes: the next invocation knows the format.
    let formats = include_str!("../../../examples/formats.toml");
    e.local
        .put(&e.curated, key, formats.as_bytes().to_vec())
        .await;
    assert_eq!(ingest("spring/b.log").await, "custom:spring-boot");
    // A broken change is refused: the formats before stay in force.
    let broken = b"[[format]]\nname = \"web\"\nregex = '(?P<time>'\n".to_vec();
    e.local.put(&e.curated, key, broken).await;
    assert_eq!(ingest("spring/c.log").await, "custom:spring-boot");
}

/// A CloudTrail document in a bucket of `aws_log_sources`: read by version
/// under that source's grant (ReadAwsLogs), its format named by a
/// bucket-qualified FORMAT_BY_PREFIX entry as Terraform writes it, one row
/// per record; a key of the same bucket outside the source's prefix is
/// refused, naming the grant, never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_log_bucket_is_read_under_its_own_grant_only() {
    let mut e = env("awslogs").await;
    let logs = iam::aws_logs_bucket(&e.raw);
    e.s3.create_bucket().bucket(&logs).send().await.unwrap();
    e.versioned(&logs).await;
    e.app.settings.format_by_prefix = vec![(
        format!("s3://{logs}/{}", iam::AWS_LOGS_PREFIX),
        "cloudtrail".parse().unwrap(),
    )];
    let records: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/u{i}"}},"eventTime":"2024-05-02T08:00:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.{i}","requestID":"r{i}","eventID":"e{i}"}}"#,
                i % 60
            )
        })
        .collect();
    let doc = gzip(format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes());
    // A name that says nothing: the format comes from the prefix entry.
    let key = format!(
        "{}us-east-1/2024/05/02/trail-part-1.gz",
        iam::AWS_LOGS_PREFIX
    );
    let put =
        e.s3.put_object()
            .bucket(&logs)
            .key(&key)
            .body(doc.clone().into())
            .send()
            .await
            .unwrap();
    let mut notification: Value = serde_json::from_str(&s3_notification(
        &logs,
        &key,
        doc.len(),
        put.e_tag().unwrap().trim_matches('"'),
    ))
    .unwrap();
    notification["Records"][0]["s3"]["object"]["versionId"] = json!(put.version_id().unwrap());
    let resp = e
        .app
        .handle(json!({ "Records": [sqs_record("m-1", &notification.to_string())] }))
        .await
        .unwrap();
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    let objects = e.curated_objects().await;
    let ms = manifests(&objects);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["format"], "cloudtrail");
    assert_eq!(ms[0]["rows_out"], 40);
    assert_eq!(ms[0]["source"]["uri"], format!("s3://{logs}/{key}"));
    assert_eq!(lake_rows(&objects), 40);
    // A replay names no version: the current one is read (s3:GetObject).
    let resp = e
        .app
        .handle(json!({"source_uri": format!("s3://{logs}/{key}")}))
        .await
        .unwrap();
    assert_eq!(resp["objects"][0]["rows_out"], 40, "{resp}");
    assert_eq!(resp["objects"][0]["format"], "cloudtrail", "{resp}");

    // Outside the source's prefix: the grant does not reach it. (Not a
    // record of fn-ingest's calls: this role is refused on purpose.)
    let other = "AWSLogs/123456789012/Config/us-east-1/snapshot.json";
    e.local.put(&logs, other, b"{}".to_vec()).await;
    let role = e
        .local
        .role(
            "fn-ingest",
            &iam::ingest_policy(&e.raw, &e.curated, &format!("q-{}", e.raw)),
        )
        .unrecorded();
    let app = e
        .local
        .through(role.aws.clone())
        .ingest(&e.curated, e.app.settings.clone());
    let resp = app
        .handle(json!({"source_uri": format!("s3://{logs}/{other}")}))
        .await;
    let text = match resp {
        Ok(v) => v.to_string(),
        Err(err) => err.to_string(),
    };
    assert!(
        text.contains("s3:GetObject") && !text.contains("rows_out\":1"),
        "{text}"
    );
}
