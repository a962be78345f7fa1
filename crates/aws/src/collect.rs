//! The collector's [`EventSink`] on AWS: events as records of a Kinesis data
//! stream (`PutRecords`, only the records a call reports failed retried,
//! with backoff, within a deadline), and the health check
//! (`DescribeStreamSummary`: the stream exists, this role may see it, and
//! it is ACTIVE or UPDATING).

use std::time::{Duration, Instant};

use loglake_handlers::collect::Accepted;
use loglake_handlers::effects::{BoxFuture, EventSink};
use loglake_handlers::forward::put_all;
use loglake_handlers::retry::Backoff;
use loglake_handlers::stream::COLLECT_PARTITION_PREFIX;

use crate::put::Kinesis;

/// A Kinesis data stream the collector puts its events on.
#[derive(Debug, Clone)]
pub struct KinesisEvents {
    kinesis: Kinesis,
    /// How long one request may spend putting (retries included) before
    /// the collector answers 503.
    pub put_timeout: Duration,
    pub backoff: Backoff,
}

impl KinesisEvents {
    pub fn new(client: aws_sdk_kinesis::Client, stream: String) -> Self {
        KinesisEvents {
            kinesis: Kinesis {
                client,
                stream,
                partition_prefix: COLLECT_PARTITION_PREFIX,
            },
            put_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }

    async fn describe(&self) -> Result<(), String> {
        let out = self
            .kinesis
            .client
            .describe_stream_summary()
            .stream_name(&self.kinesis.stream)
            .send()
            .await
            .map_err(|e| {
                crate::call_error(
                    "kinesis:DescribeStreamSummary",
                    &format!("stream/{}", self.kinesis.stream),
                    &e,
                )
            })?;
        let status = out
            .stream_description_summary()
            .map(|s| s.stream_status().as_str().to_string())
            .unwrap_or_default();
        match status.as_str() {
            "ACTIVE" | "UPDATING" => Ok(()),
            other => Err(format!(
                "stream {} is {other}, not ACTIVE",
                self.kinesis.stream
            )),
        }
    }
}

impl EventSink for KinesisEvents {
    fn put<'a>(&'a self, events: &'a [Accepted]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            // One Kinesis record per event: a record's partition key spreads
            // events over shards, and fn-stream reads each record's line.
            let records: Vec<Vec<u8>> = events.iter().map(|e| e.line.clone()).collect();
            put_all(
                &self.kinesis,
                &records,
                Instant::now() + self.put_timeout,
                self.backoff,
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.describe())
    }

    fn name(&self) -> String {
        format!("kinesis:{}", self.kinesis.stream)
    }
}
