//! Throughput of fn-stream's handler: reads every record of a Kinesis stream
//! (filled beforehand by `loglake replay`), then times normalizing and
//! forwarding them to Firehose in 500-record batches, as Lambda would
//! deliver them. Prints one JSON object: lines, seconds, lines/s, and the
//! process's CPU seconds over the timed part (so lines/s per vCPU).
//! Environment: STREAM, DELIVERY_STREAM, CURATED_BUCKET, and the AWS ones.
#![recursion_limit = "256"]

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use serde_json::json;

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
    let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    println!(
        "{}",
        json!({"lines": lines, "seconds": secs, "lines_per_s": lines as f64 / secs,
               "cpu_seconds": cpu, "lines_per_cpu_s": lines as f64 / cpu.max(1e-9)})
    );
}
