//! Nothing lost, nothing doubled under faults: objects through fn-ingest
//! and Kinesis records through fn-stream, Firehose and fn-ingest, once with
//! every call answered and once through a proxy that throttles, fails,
//! resets, loses answers to calls that took effect, and slows down a share
//! of the S3, SQS, Kinesis, Firehose and DynamoDB calls
//! (`tests/chaos_proxy.py`). Invocations that fail, or report items, are
//! delivered again as Lambda would (an SQS message until it succeeds; a
//! Kinesis batch from its first reported record). After deduplication by
//! `event_id` (the `logs_dedup` view), the faulted lake has exactly the rows
//! of the clean one.
//!
//! `make test` runs a short version; `make chaos` a longer one with the
//! figures printed (`CHAOS_OBJECTS`, `CHAOS_RECORDS`, `CHAOS_RATE`).
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use bytes::Bytes;
use fn_stream::Config;
use loglake_handlers::ingest::{Ingest, IngestSettings};
use loglake_testkit::alerts::{AlertAws, subjects};
use loglake_testkit::chaos::Proxy;
use loglake_testkit::{LocalAws, s3_notification, settings, sqs_record};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

/// Deliveries of one unit of work before the test calls it lost.
const MAX_DELIVERIES: usize = 12;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one run did and left.
#[derive(Debug, Default)]
struct Run {
    /// event_id -> the row's content (time, level, service, message).
    rows: BTreeMap<String, Vec<String>>,
    /// Rows in the lake before deduplication.
    raw_rows: usize,
    /// Invocations, and those that were delivered again.
    invocations: usize,
    redeliveries: usize,
    stats: Value,
    /// The group of each alert published, sorted.
    alerts: Vec<String>,
}

/// An instant alert on every FATAL line.
const RULES: &str = r#"
[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
severity = "critical"
"#;

/// `n` JSON lines from `base` (epoch ms) on, each unique to (`tag`, `i`).
fn lines(base: i64, tag: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let ts = base + (i as i64) * 7_000;
        writeln!(
            out,
            r#"{{"ts":{ts},"level":"{}","service":"svc-{}","message":"{tag} line {i}"}}"#,
            match i % 97 {
                50 => "FATAL",
                n if n % 40 == 1 => "ERROR",
                _ => "INFO",
            },
            i % 3
        )
        .unwrap();
    }
    out
}

async fn run(name: &str, base: i64, rate: f64, objects: usize, records: usize) -> Run {
    let direct = LocalAws::new(name).await;
    let (raw, curated) = (direct.bucket("raw").await, direct.bucket("curated").await);
    let kinesis = aws_sdk_kinesis::Client::new(&direct.aws);
    let stream = format!("logs-{}", direct.id);
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let delivery = format!("to-raw-{}", direct.id);
    aws_sdk_firehose::Client::new(&direct.aws)
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
    // The inputs go in directly: faults are for the functions' calls.
    let mut puts = Vec::new();
    for i in 0..objects {
        let key = format!("app/object-{i}.ndjson");
        let body = lines(base, &format!("object {i}"), 400);
        let etag = direct
            .s3
            .put_object()
            .bucket(&raw)
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .trim_matches('"')
            .to_string();
        puts.push((key, body.len(), etag));
    }
    for i in 0..records {
        let mut data = lines(base, &format!("record {i}"), 1 + i % 3);
        if i % 10 == 0 {
            writeln!(
                data,
                r#"{{"ts":{base},"level":"FATAL","service":"svc-s{i}","message":"record {i} failed"}}"#
            )
            .unwrap();
        }
        kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("k")
            .data(data.into())
            .send()
            .await
            .unwrap();
    }

    let proxy = Proxy::start(&endpoint(), rate, 7);
    let through = direct.through(proxy.config(&direct.aws));
    let mut out = Run::default();
    let alerts = AlertAws::create(&direct.aws, &direct.id).await;
    let mut ingest = through.ingest(
        &curated,
        IngestSettings {
            service_from_key: false,
            ..IngestSettings::default()
        },
    );
    ingest.alerts = Some(alerts.sink(&through.aws, RULES));
    ingest_all(&ingest, &raw, &puts, &mut out).await;

    let mut app = fn_stream::app(
        &through.aws,
        settings(
            &[
                ("DELIVERY_STREAM", delivery.as_str()),
                ("CURATED_BUCKET", curated.as_str()),
            ],
            Config::from_vars,
        ),
    )
    .unwrap();
    app.alerts = Some(alerts.sink(&through.aws, RULES));
    let all = read_stream(&kinesis, &stream, records).await;
    for batch in all.chunks(25) {
        let mut from = 0;
        let mut deliveries = 0;
        while from < batch.len() {
            deliveries += 1;
            assert!(deliveries <= MAX_DELIVERIES, "a Kinesis batch kept failing");
            out.invocations += 1;
            out.redeliveries += usize::from(deliveries > 1);
            let event: KinesisEvent =
                serde_json::from_value(json!({ "Records": batch[from..].to_vec() })).unwrap();
            // An error: Lambda delivers the same records again.
            if let Ok((resp, _)) = app
                .handle(event, Instant::now() + Duration::from_secs(60))
                .await
            {
                match resp.batch_item_failures.first() {
                    // Lambda retries from the first record reported.
                    Some(f) => {
                        let seq = f.item_identifier.clone().unwrap();
                        from += batch[from..]
                            .iter()
                            .position(|r| r["kinesis"]["sequenceNumber"] == seq.as_str())
                            .unwrap();
                    }
                    None => from = batch.len(),
                }
            }
        }
    }
    // Firehose delivered into the raw bucket; each object is announced to
    // fn-ingest as S3 would.
    let delivered: Vec<(String, usize, String)> = direct
        .objects(&raw, "firehose/")
        .await
        .into_iter()
        .map(|(k, body)| (k, body.len(), String::new()))
        .collect();
    let mut delivered_tagged = Vec::new();
    for (key, len, _) in delivered {
        let etag = direct
            .s3
            .head_object()
            .bucket(&raw)
            .key(&key)
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .trim_matches('"')
            .to_string();
        delivered_tagged.push((key, len, etag));
    }
    ingest_all(&ingest, &raw, &delivered_tagged, &mut out).await;

    out.stats = proxy.stats();
    // The group (service) each alert names: which of a service's FATAL
    // lines claims its alert first depends on the order of concurrent work.
    out.alerts = subjects(&alerts.inbox().await)
        .iter()
        .map(|s| s.split(' ').nth(2).unwrap_or_default().to_string())
        .collect();
    out.alerts.sort();
    read_lake(&direct, &curated, &mut out).await;
    out
}

fn endpoint() -> String {
    std::env::var("LOGLAKE_TEST_ENDPOINT").unwrap()
}

/// Announce each object in SQS batches of three and deliver again what
/// fails, until every message has succeeded.
async fn ingest_all(
    app: &Ingest,
    bucket: &str,
    objects: &[(String, usize, String)],
    out: &mut Run,
) {
    for batch in objects.chunks(3) {
        let mut pending: Vec<Value> = batch
            .iter()
            .enumerate()
            .map(|(i, (key, size, etag))| {
                sqs_record(
                    &format!("m-{i}"),
                    &s3_notification(bucket, key, *size, etag),
                )
            })
            .collect();
        let mut deliveries = 0;
        while !pending.is_empty() {
            deliveries += 1;
            assert!(
                deliveries <= MAX_DELIVERIES,
                "an object kept failing: {pending:?}"
            );
            out.invocations += 1;
            out.redeliveries += usize::from(deliveries > 1);
            let event = json!({ "Records": pending.clone() });
            match app
                .handle_until(event, Instant::now() + Duration::from_secs(60))
                .await
            {
                Ok(resp) => {
                    if std::env::var("CHAOS_DEBUG").is_ok() {
                        eprintln!("ingest: {resp}");
                    }
                    let failed: Vec<&str> = resp["batchItemFailures"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(|x| x["itemIdentifier"].as_str())
                                .collect()
                        })
                        .unwrap_or_default();
                    pending.retain(|m| failed.contains(&m["messageId"].as_str().unwrap()));
                    if !pending.is_empty() && deliveries >= 3 {
                        eprintln!("chaos: delivery {deliveries} of an object failed: {resp}");
                    }
                }
                Err(e) if deliveries >= 3 => eprintln!("chaos: delivery {deliveries} failed: {e}"),
                Err(_) => {}
            }
        }
    }
}

async fn read_stream(kinesis: &aws_sdk_kinesis::Client, stream: &str, want: usize) -> Vec<Value> {
    let shard = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_string();
    let mut it = kinesis
        .get_shard_iterator()
        .stream_name(stream)
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
        let r = kinesis
            .get_records()
            .shard_iterator(&it)
            .limit(1000)
            .send()
            .await
            .unwrap();
        for rec in r.records() {
            let seq = rec.sequence_number();
            let arrived = rec
                .approximate_arrival_timestamp()
                .map_or(0.0, |t| t.as_secs_f64());
            out.push(json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(rec.data().as_ref()),
                    "approximateArrivalTimestamp": arrived
                },
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("{shard}:{seq}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/fn-stream", "awsRegion": "us-east-1",
                "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}")
            }));
        }
        it = r.next_shard_iterator().unwrap().to_string();
    }
    out
}

/// Every row of the lake's Parquet, keyed by `event_id`; a duplicate must
/// repeat its original exactly.
async fn read_lake(direct: &LocalAws, curated: &str, out: &mut Run) {
    for (key, body) in direct.objects(curated, "").await {
        if std::env::var("CHAOS_DEBUG").is_ok() {
            eprintln!("lake: {key}");
        }
        if !key.ends_with(".parquet") || !key.contains("dt=") {
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(body))
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let col = |name: &str| batch.column_by_name(name).unwrap().clone();
            let (ts, level, service, message, id) = (
                col("ts"),
                col("level"),
                col("service"),
                col("message"),
                col("event_id"),
            );
            let ts = ts.as_primitive::<TimestampMillisecondType>();
            let text = |a: &arrow_array::ArrayRef, i: usize| {
                let s = a.as_string::<i32>();
                if arrow_array::Array::is_null(s, i) {
                    String::new()
                } else {
                    s.value(i).to_string()
                }
            };
            for i in 0..batch.num_rows() {
                out.raw_rows += 1;
                let row = vec![
                    ts.value(i).to_string(),
                    text(&level, i),
                    text(&service, i),
                    text(&message, i),
                ];
                let id = text(&id, i);
                if let Some(seen) = out.rows.get(&id) {
                    assert_eq!(seen, &row, "two rows with the event_id {id}");
                }
                out.rows.insert(id, row);
            }
        }
    }
}

fn content(run: &Run) -> BTreeMap<Vec<String>, usize> {
    let mut m = BTreeMap::new();
    for row in run.rows.values() {
        *m.entry(row.clone()).or_insert(0) += 1;
    }
    m
}

/// Faults injected per kind, over every service.
fn faults(stats: &Value) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for s in stats.as_object().unwrap().values() {
        for (k, v) in s.as_object().unwrap() {
            *m.entry(k.clone()).or_insert(0) += v.as_u64().unwrap();
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lake_after_faults_equals_the_lake_without() {
    if std::env::var("CHAOS_DEBUG").is_ok() {
        loglake_aws::init_tracing();
    }
    let objects = knob("CHAOS_OBJECTS", 6);
    let records = knob("CHAOS_RECORDS", 100);
    let rate: f64 = std::env::var("CHAOS_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.15);
    // Recent times, so alerts fire; the same for both runs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = now - now % 60_000 - 3_600_000;
    let clean = run("chaos-clean", base, 0.0, objects, records).await;
    let chaos = run("chaos", base, rate, objects, records).await;
    let want_rows = objects * 400
        + (0..records)
            .map(|i| 1 + i % 3 + usize::from(i % 10 == 0))
            .sum::<usize>();
    assert_eq!(
        clean.rows.len(),
        want_rows,
        "the clean run lost or doubled rows"
    );
    assert_eq!(clean.raw_rows, want_rows);
    let (f, calls) = (faults(&chaos.stats), faults(&chaos.stats)["calls"]);
    let injected: u64 = f
        .iter()
        .filter(|(k, _)| *k != "calls")
        .map(|(_, v)| v)
        .sum();
    println!(
        "chaos: {calls} calls through the proxy, {injected} faulted ({:.1}%): {}",
        100.0 * injected as f64 / calls.max(1) as f64,
        f.iter()
            .filter(|(k, _)| *k != "calls")
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "chaos: {} invocations, {} of them redeliveries; {} rows compared; {} rows in the lake before dedup ({} duplicates), {} after (0 duplicates)",
        chaos.invocations,
        chaos.redeliveries,
        want_rows,
        chaos.raw_rows,
        chaos.raw_rows - chaos.rows.len(),
        chaos.rows.len()
    );
    println!("chaos: per service {}", chaos.stats);
    assert!(
        rate == 0.0 || injected as f64 >= 0.5 * rate * calls as f64,
        "too few faults: {injected} of {calls}"
    );
    assert_eq!(
        chaos.rows.len(),
        want_rows,
        "rows lost or doubled after dedup"
    );
    assert_eq!(content(&chaos), content(&clean), "the faulted lake differs");
    println!(
        "chaos: {} alerts published ({} without faults)",
        chaos.alerts.len(),
        clean.alerts.len()
    );
    assert!(!clean.alerts.is_empty());
    assert_eq!(chaos.alerts, clean.alerts, "alerts lost or sent twice");
}
