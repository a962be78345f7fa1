//! The [`Forwarder`] effect on AWS: a Firehose delivery stream
//! (`PutRecordBatch`) and a Kinesis data stream (`PutRecords`). Batching,
//! retries and deadlines are the handlers' (`loglake_handlers::forward`).

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use loglake_handlers::effects::{BoxFuture, Forwarder};

/// A Firehose delivery stream.
#[derive(Debug, Clone)]
pub struct Firehose {
    pub client: aws_sdk_firehose::Client,
    pub stream: String,
}

impl Forwarder for Firehose {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(self.put_batch(records))
    }
}

impl Firehose {
    async fn put_batch(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
        let out = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(
                records
                    .iter()
                    .map(|r| Record::builder().data(Blob::new(r.to_vec())).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?,
            ))
            .send()
            .await
            .map_err(|e| {
                crate::call_error(
                    "firehose:PutRecordBatch",
                    &format!("deliverystream/{}", self.stream),
                    &e,
                )
            })?;
        let resp = out.request_responses();
        per_record(
            "PutRecordBatch",
            records.len(),
            resp.iter().map(|r| (r.error_code(), r.error_message())),
        )
    }
}

/// A Kinesis data stream (the producer side: `loglake replay`, the
/// collector).
#[derive(Debug, Clone)]
pub struct Kinesis {
    pub client: aws_sdk_kinesis::Client,
    pub stream: String,
    /// Put before each record's partition key: the collector's
    /// [`COLLECT_PARTITION_PREFIX`](loglake_handlers::stream::COLLECT_PARTITION_PREFIX)
    /// tells fn-stream the record is its normalized NDJSON.
    pub partition_prefix: &'static str,
}

impl Forwarder for Kinesis {
    fn put<'a>(
        &'a self,
        records: &'a [&'a [u8]],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
        Box::pin(self.put_batch(records))
    }
}

impl Kinesis {
    async fn put_batch(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
        let entries = records
            .iter()
            .map(|r| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .data(aws_sdk_kinesis::primitives::Blob::new(r.to_vec()))
                    // Spread records over shards by their content.
                    .partition_key(format!("{}{:016x}", self.partition_prefix, fnv(r)))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| {
                crate::call_error("kinesis:PutRecords", &format!("stream/{}", self.stream), &e)
            })?;
        let resp = out.records();
        per_record(
            "PutRecords",
            records.len(),
            resp.iter().map(|r| (r.error_code(), r.error_message())),
        )
    }
}

/// A call's per-record answers (error code and message, none when the
/// record went in), which must cover every record sent.
fn per_record<'r>(
    call: &str,
    sent: usize,
    answers: impl ExactSizeIterator<Item = (Option<&'r str>, Option<&'r str>)>,
) -> Result<Vec<Option<String>>, String> {
    if answers.len() != sent {
        return Err(format!(
            "{call} answered {} of {sent} records",
            answers.len()
        ));
    }
    Ok(answers
        .map(|(code, msg)| code.map(|c| format!("{c}: {}", msg.unwrap_or(""))))
        .collect())
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
    })
}
