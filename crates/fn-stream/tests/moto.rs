//! The real-time path against a local AWS (moto): `loglake replay` into
//! Kinesis, fn-stream on the records, Firehose into the raw bucket, fn-ingest
//! into the lake; and what happens to CloudWatch Logs payloads, garbage and
//! Firehose failures. The local AWS enforces IAM: fn-stream and fn-ingest
//! run as users holding exactly their policies from `infra/policies/`.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use fn_stream::Config;
use loglake_aws::put::Firehose;
use loglake_core::{IngestOptions, MemoryStore, Source};
use loglake_handlers::alerts::{AlertConfig, AlertSink};
use loglake_handlers::effects::{BoxFuture, Forwarder};
use loglake_handlers::ingest::IngestSettings;
use loglake_handlers::retry::Backoff;
use loglake_handlers::stream::Stream;
use loglake_testkit::alerts::{AlertAws, subjects};
use loglake_testkit::iam::{self, Role};
use loglake_testkit::opensearch::Mock;
use loglake_testkit::{LocalAws, settings};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

struct Env {
    local: LocalAws,
    /// The admin's configuration: setting up and reading back.
    aws: aws_config::SdkConfig,
    /// fn-stream's role, holding exactly its policy, and fn-ingest's.
    role: Role,
    ingest_role: Role,
    kinesis: aws_sdk_kinesis::Client,
    raw: String,
    curated: String,
    stream: String,
    delivery: String,
}

fn bin() -> String {
    std::env::var("LOGLAKE_BIN").expect("set LOGLAKE_BIN to the loglake binary (make test does)")
}

async fn env(name: &str) -> Env {
    let local = LocalAws::enforced(name).await;
    let aws = local.aws.clone();
    let id = local.id.clone();
    let (raw, curated) = (local.bucket("raw").await, local.bucket("curated").await);
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    let stream = format!("logs-{id}");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let delivery = format!("to-raw-{id}");
    aws_sdk_firehose::Client::new(&aws)
        .create_delivery_stream()
        .delivery_stream_name(&delivery)
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .bucket_arn(format!("arn:aws:s3:::{raw}"))
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .prefix("firehose/")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let role = local.role(
        "fn-stream",
        &iam::stream_policy(&stream, &delivery, &curated, &format!("failures-{id}")),
    );
    let ingest_role = local.role(
        "fn-ingest",
        &iam::ingest_policy(&raw, &curated, &format!("ingest-{id}")),
    );
    Env {
        local,
        aws,
        role,
        ingest_role,
        kinesis,
        raw,
        curated,
        stream,
        delivery,
    }
}

impl Env {
    fn app(&self) -> Stream {
        let config = settings(
            &[
                ("DELIVERY_STREAM", self.delivery.as_str()),
                ("CURATED_BUCKET", self.curated.as_str()),
            ],
            Config::from_vars,
        );
        fn_stream::app(&self.role.aws, config).unwrap()
    }

    fn firehose(&self) -> Firehose {
        Firehose {
            client: aws_sdk_firehose::Client::new(&self.role.aws),
            stream: self.delivery.clone(),
        }
    }

    async fn objects(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        self.local.objects(bucket, prefix).await
    }

    /// Every record of the stream, as Lambda's Kinesis event would carry it.
    async fn read_stream(&self, want: usize) -> Vec<Value> {
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.stream)
            .send()
            .await
            .unwrap();
        let shard = shards.shards()[0].shard_id().to_string();
        let mut it = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .unwrap()
            .to_string();
        let mut out = Vec::new();
        while out.len() < want {
            let r = self
                .kinesis
                .get_records()
                .shard_iterator(&it)
                .limit(1000)
                .send()
                .await
                .unwrap();
            assert!(
                !r.records().is_empty() || out.len() >= want,
                "stream ran dry at {}",
                out.len()
            );
            for rec in r.records() {
                out.push(self.lambda_record(&shard, rec.sequence_number(), rec.data().as_ref()));
            }
            it = r.next_shard_iterator().unwrap().to_string();
        }
        out
    }

    fn lambda_record(&self, shard: &str, seq: &str, data: &[u8]) -> Value {
        json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": seq,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1_710_468_000.5
            },
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("{shard}:{seq}"), "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/fn-stream", "awsRegion": "us-east-1",
            "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{}", self.stream)
        })
    }

    /// Run fn-ingest on everything Firehose delivered.
    async fn ingest_delivered(&self) -> Vec<Value> {
        self.ingest_delivered_with(None).await
    }

    /// The same, with fn-ingest's alerts on.
    async fn ingest_delivered_with(&self, alerts: Option<AlertConfig>) -> Vec<Value> {
        let delivered = self.objects(&self.raw, "firehose/").await;
        assert!(!delivered.is_empty(), "firehose delivered nothing");
        let mut app = self.local.through(self.ingest_role.aws.clone()).ingest(
            &self.curated,
            IngestSettings {
                service_from_key: false,
                memory_budget_mb: 16,
                ..IngestSettings::default()
            },
        );
        app.alerts = alerts.map(|a| loglake_aws::alert_sink(&self.ingest_role.aws, a));
        let uris: Vec<String> = delivered
            .keys()
            .map(|k| format!("s3://{}/{k}", self.raw))
            .collect();
        let resp = app.handle(json!({ "source_uri": uris })).await.unwrap();
        resp["objects"].as_array().unwrap().clone()
    }
}

fn event(records: Vec<Value>) -> KinesisEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// Rows as comparable tuples: time, service, message, status, trace id.
type Row = (
    i64,
    Option<String>,
    Option<String>,
    Option<i16>,
    Option<String>,
);

fn rows(parquet_objects: impl Iterator<Item = Vec<u8>>) -> Vec<Row> {
    let mut out = Vec::new();
    for bytes in parquet_objects {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b: RecordBatch = b.unwrap();
            let s = |c: &str, i: usize| {
                let a = b.column_by_name(c).unwrap().as_string::<i32>();
                a.is_valid(i).then(|| a.value(i).to_string())
            };
            let ts = b
                .column_by_name("ts")
                .unwrap()
                .as_primitive::<TimestampMillisecondType>();
            let st = b
                .column_by_name("http_status")
                .unwrap()
                .as_primitive::<Int16Type>();
            for i in 0..b.num_rows() {
                out.push((
                    ts.value(i),
                    s("service", i),
                    s("message", i),
                    st.is_valid(i).then(|| st.value(i)),
                    s("trace_id", i),
                ));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_kinesis_firehose_lake_equals_direct_ingest() {
    let e = env("e2e").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.ndjson");
    let n = 3000;
    let generated = std::process::Command::new(bin())
        .args([
            "generate",
            "--lines",
            &n.to_string(),
            "--seed",
            "9",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let replay = e
        .local
        .command(bin())
        .await
        .arg("replay")
        .arg(&file)
        .args(["--stream", &e.stream, "--json"])
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let summary: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(
        (summary["sent"].as_u64(), summary["failed"].as_u64()),
        (Some(n), Some(0))
    );

    let records = e.read_stream(n as usize).await;
    assert_eq!(records.len(), n as usize);
    let app = e.app();
    for chunk in records.chunks(500) {
        let (resp, s) = app.handle(event(chunk.to_vec()), far()).await.unwrap();
        assert!(resp.batch_item_failures.is_empty());
        assert_eq!((s.forwarded, s.quarantined), (chunk.len() as u64, 0));
    }
    let results = e.ingest_delivered().await;
    let rows_out: u64 = results
        .iter()
        .map(|r| r["rows_out"].as_u64().unwrap())
        .sum();
    assert_eq!(rows_out, n);

    let curated = e.objects(&e.curated, "logs/").await;
    let via_stream = rows(curated.into_values());
    // The same file ingested directly, through the same core.
    let store = MemoryStore::default();
    loglake_core::ingest(
        Source {
            uri: "file://shop.ndjson".into(),
            identity: "direct".into(),
            name: "shop.ndjson".into(),
            size: None,
            modified_ms: None,
            reader: Box::new(std::fs::File::open(&file).unwrap()),
        },
        &store,
        &IngestOptions::default(),
    )
    .unwrap();
    let direct = rows(
        store
            .objects()
            .into_iter()
            .filter(|(k, _)| k.ends_with(".parquet"))
            .map(|(_, v)| v),
    );
    assert_eq!(via_stream.len(), n as usize);
    assert!(
        via_stream == direct,
        "rows differ between the stream and the file path"
    );
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_logs_garbage_and_control_messages() {
    let e = env("cw").await;
    let payload = json!({
    "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/checkout",
    "logStream": "2024/03/15/[$LATEST]0123", "subscriptionFilters": ["all"],
    "logEvents": [
        {"id": "e1", "timestamp": 1_710_468_000_000i64, "message": "START RequestId: 1 Version: $LATEST\n"},
        {"id": "e2", "timestamp": 1_710_468_000_100i64, "message": "{\"level\":\"error\",\"msg\":\"payment gateway timeout\",\"service\":\"payment-api\"}"},
        {"id": "e3", "timestamp": 1_710_468_000_200i64, "message": "END RequestId: 1"}
    ]});
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "", "subscriptionFilters": [], "logEvents": []});
    let garbage: Vec<u8> = (0..300u32)
        .map(|i| (i * 7919 % 251) as u8)
        .filter(|b| *b != b'\n')
        .collect();
    let records = vec![
        e.lambda_record(
            "shardId-000000000000",
            "100",
            &gz(payload.to_string().as_bytes()),
        ),
        e.lambda_record(
            "shardId-000000000000",
            "101",
            &gz(control.to_string().as_bytes()),
        ),
        e.lambda_record("shardId-000000000000", "102", &garbage),
        e.lambda_record(
            "shardId-000000000000",
            "103",
            b"{\"ts\":1710468000,\"msg\":\"after the garbage\"}\n",
        ),
        // A Java stack trace put on the stream whole: one row.
        e.lambda_record(
            "shardId-000000000000",
            "104",
            b"2024-03-15 02:00:00,300 ERROR [main] com.shop.Pay - declined\n\
              java.lang.IllegalStateException: declined\n\tat com.shop.Pay.run(Pay.java:9)\n\t... 4 more\n",
        ),
    ];
    let (resp, s) = e.app().handle(event(records), far()).await.unwrap();
    assert!(
        resp.batch_item_failures.is_empty(),
        "garbage does not fail the batch"
    );
    assert_eq!((s.forwarded, s.quarantined, s.merged), (5, 1, 3));
    assert_eq!(s.lines, s.forwarded + s.quarantined + s.merged);

    // The garbage is in the quarantine with its coordinates.
    let q = e.objects(&e.curated, "quarantine/").await;
    assert_eq!(q.len(), 1);
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(&q.values().next().unwrap()[..]),
        &mut text,
    )
    .unwrap();
    let rec: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        rec["source_uri"],
        format!("kinesis://{}/shardId-000000000000/102", e.stream)
    );
    assert_eq!(rec["reason"], "invalid_utf8");
    assert!(rec["raw_sha256"].is_string() && rec.get("raw_base64").is_none());

    // One row per log event, with the group and stream recorded.
    e.ingest_delivered().await;
    let curated = e.objects(&e.curated, "logs/").await;
    let mut groups = Vec::new();
    let mut event_ids = Vec::new();
    for bytes in curated.into_values() {
        for b in ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap()
        {
            let b = b.unwrap();
            let fmt = b
                .column_by_name("source_format")
                .unwrap()
                .as_string::<i32>();
            let attrs = b.column_by_name("attributes").unwrap().as_map();
            let ids = b.column_by_name("event_id").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                event_ids.push(ids.value(i).to_string());
                let m = attrs.value(i);
                let keys = m.column(0).as_string::<i32>();
                let vals = m.column(1).as_string::<i32>();
                let get = |k: &str| {
                    (0..keys.len())
                        .find(|j| keys.value(*j) == k)
                        .map(|j| vals.value(j).to_string())
                };
                groups.push((
                    fmt.value(i).to_string(),
                    get("log_group"),
                    get("log_stream"),
                ));
            }
        }
    }
    groups.sort();
    let cw = (
        "cwlogs".to_string(),
        Some("/aws/lambda/checkout".to_string()),
        Some("2024/03/15/[$LATEST]0123".to_string()),
    );
    assert_eq!(groups.iter().filter(|g| **g == cw).count(), 3);
    assert_eq!(groups.len(), 5);
    // The lake's rows carry the ids fn-stream gave the events (the record's
    // coordinates and the line's index), not ids of the Firehose object.
    let record = loglake_core::ingest::source::source_id(&format!(
        "kinesis://{}/shardId-000000000000/100",
        e.stream
    ));
    event_ids.sort();
    for n in 0..3 {
        assert!(
            event_ids.contains(&format!("{record}-{n}")),
            "{event_ids:?}"
        );
    }
}

/// Delivers nothing that contains `marker`, ever.
struct Refuses {
    marker: &'static [u8],
    inner: Firehose,
}

impl Forwarder for Refuses {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(self.refuse(records))
    }
}

impl Refuses {
    async fn refuse(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
        let ok: Vec<&[u8]> = records
            .iter()
            .copied()
            .filter(|r| !r.windows(self.marker.len()).any(|w| w == self.marker))
            .collect();
        let sent = if ok.is_empty() {
            Vec::new()
        } else {
            self.inner.put(&ok).await?
        };
        let mut sent = sent.into_iter();
        Ok(records
            .iter()
            .map(|r| {
                if r.windows(self.marker.len()).any(|w| w == self.marker) {
                    Some("ServiceUnavailableException: refused".into())
                } else {
                    sent.next().flatten()
                }
            })
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_firehose_keeps_refusing_is_named_for_the_retry() {
    let e = env("refuse").await;
    let records: Vec<Value> = (0..6)
        .map(|i| {
            let msg = if i == 3 || i == 5 { "poison" } else { "fine" };
            e.lambda_record(
                "shardId-000000000000",
                &(200 + i).to_string(),
                format!("{{\"ts\":1710468000,\"msg\":\"{msg} {i}\"}}").as_bytes(),
            )
        })
        .collect();
    let infra = AlertAws::create(&e.aws, &format!("refuse-{}", e.stream)).await;
    let store = infra.sink(&e.role.aws, FATAL_RULES);
    let app = Stream {
        forwarder: Arc::new(Refuses {
            marker: b"poison",
            inner: e.firehose(),
        }),
        alerts: Some(store.clone()),
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
        ..e.app()
    };
    let deadline = Instant::now() + Duration::from_millis(300);
    let (resp, _) = app.handle(event(records.clone()), deadline).await.unwrap();
    let ids: Vec<_> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        ids,
        [Some("203".to_string())],
        "the first record that could not be forwarded"
    );
    // Only what reached Firehose is counted: Lambda retries from 203.
    let minute = 1_710_468_000_000;
    let none = |n| BTreeMap::from([("(none)".to_string(), n)]);
    let reader = infra.sink(&e.aws, FATAL_RULES);
    assert_eq!(counted(&reader, minute).await, none(3));
    // The retry, with Firehose well again, counts the rest.
    let retry = Stream {
        alerts: Some(store.clone()),
        ..e.app()
    };
    let (resp, s) = retry
        .handle(event(records[3..].to_vec()), far())
        .await
        .unwrap();
    assert!(resp.batch_item_failures.is_empty(), "{s:?}");
    assert_eq!(counted(&reader, minute).await, none(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_searchable_once_and_kept_when_the_cluster_is_down() {
    let os = Mock::start(&[]);
    let t = loglake_core::sinks::search::index_template(&Default::default()).unwrap();
    assert_eq!(
        os.call("PUT", "/_index_template/loglake-logs", Some(&t)).0,
        200
    );
    let e = env("search").await;
    let mut app = e.app();
    let search = settings(
        &[
            ("SEARCH_ENDPOINT", os.url.as_str()),
            ("SEARCH_AUTH", "none"),
        ],
        loglake_handlers::search::SearchConfig::from_vars,
    )
    .unwrap();
    app.search = Some(loglake_aws::search_sink(&e.role.aws, search).unwrap());
    // Five records of two lines each; one carries a card number.
    let records = |first: u32, n: u32| -> Vec<Value> {
        (first..first + n)
            .map(|i| {
                e.lambda_record(
                    "shardId-000000000000",
                    &(500 + i).to_string(),
                    format!(
                        "{{\"ts\":1710468000,\"level\":\"ERROR\",\"service\":\"payment\",\"msg\":\"a {i} 4111-1111-1111-1111\"}}\n{{\"ts\":1710468001,\"service\":\"payment\",\"msg\":\"b {i}\"}}\n"
                    )
                    .as_bytes(),
                )
            })
            .collect()
    };
    let (resp, s) = app.handle(event(records(0, 5)), far()).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(s.search.unwrap().indexed, 10, "{s:?}");
    assert_eq!(s.redacted.cards, 5);
    assert_eq!(os.count("logs-2024.03.15"), 10);
    let hit = os.search(
        "logs-*",
        json!({"term": {"message.raw": "a 3 ****-****-****-1111"}}),
        2,
    );
    assert_eq!(hit.len(), 1);
    assert!(
        hit[0]["source_uri"]
            .as_str()
            .unwrap()
            .starts_with("kinesis://")
    );

    // Lambda retries the batch: the same documents, not new ones.
    let (_, s) = app.handle(event(records(0, 5)), far()).await.unwrap();
    assert_eq!(s.search.unwrap().already_indexed, 10);
    assert_eq!(os.count("logs-*"), 10);

    // The cluster is down: the batch still succeeds (the lake gets it
    // through Firehose), and the documents are kept as dead letters.
    os.faults(json!({"request_status": [{"status": 503, "times": -1}]}));
    let deadline = Instant::now() + Duration::from_secs(2);
    let (resp, s) = app.handle(event(records(10, 2)), deadline).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(s.search.unwrap().failed, 4, "{s:?}");
    let dlq = e.objects(&e.curated, "search-dlq/").await;
    assert_eq!(dlq.len(), 1, "{:?}", dlq.keys());
    let letters = gunzip(dlq.values().next().unwrap());
    assert_eq!(letters.lines().count(), 4);
    for l in letters.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["error_type"], "not_indexed");
        assert!(v["reason"].as_str().unwrap().contains("503"), "{v}");
        assert_eq!(v["doc"]["service"], "payment");
    }
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(b), &mut s).unwrap();
    s
}

const FATAL_RULES: &str = r#"
[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
severity = "critical"

[[rule]]
name = "errors"
kind = "error_rate"
window_minutes = 5
percent = 50.0
"#;

/// Records per service counted in the windows table for `minute`.
async fn counted(sink: &AlertSink, minute: i64) -> BTreeMap<String, u64> {
    let sums = sink
        .windows
        .as_ref()
        .unwrap()
        .load(&[minute])
        .await
        .unwrap();
    ["payment", "cart", "(none)"]
        .iter()
        .filter_map(|s| {
            let key = loglake_core::sinks::alerts::GroupKey::new(
                loglake_core::record::TextField::Service,
                *s,
            );
            sums.get(minute, &key).map(|st| (s.to_string(), st.total))
        })
        .collect()
}

/// Window counts and instant alerts leave fn-stream within seconds, once:
/// a retried batch overwrites its window items and claims no alert again,
/// and fn-ingest, reading the same records back from Firehose's objects,
/// neither counts them nor alerts on them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_alerts_are_sent_once_across_retries_and_the_lake() {
    let e = env("alerts").await;
    let infra = AlertAws::create(&e.aws, &format!("stream-{}", e.stream)).await;
    let mut app = e.app();
    // The rules as Terraform delivers them: an object fn-stream reads.
    let key = loglake_testkit::iam::RULES_KEY;
    e.local
        .put(&e.curated, key, FATAL_RULES.as_bytes().to_vec())
        .await;
    let vars = infra.object_vars(&format!("s3://{}/{key}", e.curated), 60);
    let get = |k: &str| vars.get(k).cloned();
    let config = AlertConfig::from_vars(loglake_handlers::config::Vars::new(&get))
        .unwrap()
        .unwrap();
    app.alerts = Some(loglake_aws::alert_sink(&e.role.aws, config));
    // 2024-03-15T02:00Z: two FATALs from payment in one minute, one from
    // cart, and ordinary lines.
    let t = 1_710_468_000_000i64;
    let line = |ms: i64, level: &str, service: &str, msg: &str| {
        format!(
            "{{\"ts\":{ms},\"level\":\"{level}\",\"service\":\"{service}\",\"msg\":\"{msg}\"}}\n"
        )
    };
    let batch = || {
        event(vec![
            e.lambda_record(
                "shardId-000000000000",
                "700",
                format!(
                    "{}{}",
                    line(t, "INFO", "payment", "captured"),
                    line(t + 1_000, "FATAL", "payment", "out of memory")
                )
                .as_bytes(),
            ),
            e.lambda_record(
                "shardId-000000000000",
                "701",
                line(t + 20_000, "FATAL", "payment", "out of memory again").as_bytes(),
            ),
            e.lambda_record(
                "shardId-000000000000",
                "702",
                line(t + 30_000, "FATAL", "cart", "cannot bind port").as_bytes(),
            ),
        ])
    };
    let (resp, s) = app.handle(batch(), far()).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(s.instant_alerts, 2, "{s:?}");
    assert_eq!(s.window_items, 1, "{s:?}");
    // Read back as the admin: the function's role only writes windows.
    let reader = infra.sink(&e.aws, FATAL_RULES);
    let store = &reader;
    let want = BTreeMap::from([("cart".to_string(), 1), ("payment".to_string(), 3)]);
    assert_eq!(counted(store, t).await, want);
    let sent = infra.inbox().await;
    let subjects = subjects(&sent);
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects[0].starts_with("[CRITICAL] any-fatal: cart FATAL: cannot bind port"),
        "{subjects:?}"
    );
    assert!(
        subjects[1].starts_with("[CRITICAL] any-fatal: payment FATAL: out of memory"),
        "{subjects:?}"
    );
    let body: Value = serde_json::from_str(sent[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["rule"], "any-fatal");

    // Lambda retries the batch: nothing new.
    let (_, s) = app.handle(batch(), far()).await.unwrap();
    assert_eq!(s.instant_alerts, 0, "{s:?}");
    assert!(infra.inbox().await.is_empty());
    assert_eq!(counted(store, t).await, want, "a retried batch overwrites");

    // fn-ingest reads the same records from the raw bucket: the claims hold.
    let objects = e
        .ingest_delivered_with(Some(infra.config(FATAL_RULES)))
        .await;
    assert!(!objects.is_empty());
    for o in &objects {
        assert_eq!(o["alerts"]["instant_alerts"], 0, "{o}");
        assert_eq!(o["alerts"]["window_items"], 0, "{o}");
    }
    assert!(infra.inbox().await.is_empty());
    assert_eq!(counted(store, t).await, want, "fn-stream counted these");
}
