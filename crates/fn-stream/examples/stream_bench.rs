//! Throughput of fn-stream's handler: reads every record of a Kinesis stream
//! (filled beforehand by `loglake replay`), then times normalizing and
//! forwarding them to Firehose in 500-record batches, as Lambda would
//! deliver them. Then times the same batches through the same handler with
//! a Firehose that takes every record at once and an in-memory bucket: the
//! handler's own per-line work, without the SDK calls and the emulator's
//! sockets. Prints one JSON object: lines, seconds, lines/s, the process's
//! CPU seconds over the timed part (so lines/s per vCPU), and the same for
//! the in-process pass (`own_*`, over twenty-five passes).
//! Environment: STREAM, DELIVERY_STREAM, CURATED_BUCKET, and the AWS ones.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use loglake_core::MemoryStore;
use loglake_handlers::effects::{BoxFuture, Forwarder};
use serde_json::json;

/// How many times the in-process pass handles the batches.
const OWN_PASSES: u64 = 25;

/// A Firehose that takes every record, without a call.
struct TakesAll;

impl Forwarder for TakesAll {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        let n = records.len();
        Box::pin(async move { Ok(vec![None; n]) })
    }
}

/// utime + stime of this process, from /proc (Linux), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, s)| s);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[tokio::main]
async fn main() {
    let stream = std::env::var("STREAM").expect("STREAM");
    let config = fn_stream::Config::from_env().expect("fn-stream settings");
    let aws = loglake_aws::load_config().await;
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    let shards = kinesis
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .expect("a Kinesis or Firehose call");
    let mut records = Vec::new();
    for shard in shards.shards() {
        let mut it = kinesis
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a Kinesis or Firehose call")
            .shard_iterator()
            .map(str::to_string);
        while let Some(i) = it {
            let r = kinesis
                .get_records()
                .shard_iterator(i)
                .limit(10_000)
                .send()
                .await
                .expect("a Kinesis or Firehose call");
            if r.records().is_empty() {
                break;
            }
            for rec in r.records() {
                records.push(json!({
                    "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": rec.partition_key(),
                        "sequenceNumber": rec.sequence_number(),
                        "data": base64::engine::general_purpose::STANDARD.encode(rec.data().as_ref()),
                        "approximateArrivalTimestamp": 1_710_468_000.0},
                    "eventSource": "aws:kinesis", "eventVersion": "1.0",
                    "eventID": format!("{}:{}", shard.shard_id(), rec.sequence_number()),
                    "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                    "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}")
                }));
            }
            it = r.next_shard_iterator().map(str::to_string);
        }
    }
    let events: Vec<KinesisEvent> = records
        .chunks(500)
        .map(|c| serde_json::from_value(json!({ "Records": c })).expect("a Kinesis event"))
        .collect();
    let app = fn_stream::app(&aws, config).expect("fn-stream clients");
    let (lines, secs, cpu) = timed(&app, events.clone()).await;
    // The handler's own work: the same batches, nothing sent anywhere.
    let own = loglake_handlers::stream::Stream {
        forwarder: Arc::new(TakesAll),
        curated: Arc::new(MemoryStore::default()),
        ..app
    };
    // Twenty-five passes: about two CPU-seconds, so neither the 10 ms clock
    // ticks nor a slow moment of a shared machine moves the figure much.
    let (mut own_secs, mut own_cpu) = (0.0, 0.0);
    for _ in 0..OWN_PASSES {
        let (own_lines, secs, cpu) = timed(&own, events.clone()).await;
        assert_eq!(own_lines, lines);
        own_secs += secs;
        own_cpu += cpu;
    }
    println!(
        "{}",
        json!({"lines": lines, "seconds": secs, "lines_per_s": lines as f64 / secs,
               "cpu_seconds": cpu, "lines_per_cpu_s": lines as f64 / cpu.max(1e-9),
               "own_seconds": own_secs, "own_cpu_seconds": own_cpu,
               "own_lines_per_s": (lines * OWN_PASSES) as f64 / own_secs,
               "own_lines_per_cpu_s": (lines * OWN_PASSES) as f64 / own_cpu.max(1e-9)})
    );
}

/// Lines forwarded, seconds and CPU seconds of handling `events` in turn.
async fn timed(
    app: &loglake_handlers::stream::Stream,
    events: Vec<KinesisEvent>,
) -> (u64, f64, f64) {
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut lines = 0;
    for e in events {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (resp, s) = app
            .handle(e, deadline)
            .await
            .expect("a Kinesis or Firehose call");
        assert!(resp.batch_item_failures.is_empty());
        lines += s.forwarded;
    }
    (lines, t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0)
}
