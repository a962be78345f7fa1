//! Putting records on a Firehose delivery stream (`PutRecordBatch`) or a
//! Kinesis stream (`PutRecords`): calls within the services' limits, in
//! order, retrying only the records a call reports failed, with exponential
//! backoff and full jitter, until a deadline (the function's remaining time).

use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use loglake_core::stream::batches;

/// One `PutRecordBatch`: per record, `None` if delivered or the error code.
pub trait BatchPut {
    fn put(
        &self,
        records: &[&[u8]],
    ) -> impl std::future::Future<Output = Result<Vec<Option<String>>, String>> + Send;
}

/// A Firehose delivery stream.
#[derive(Debug, Clone)]
pub struct Firehose {
    pub client: aws_sdk_firehose::Client,
    pub stream: String,
}

impl BatchPut for Firehose {
    async fn put(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
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
            .map_err(|e| aws_sdk_firehose::error::DisplayErrorContext(&e).to_string())?;
        let resp = out.request_responses();
        per_record(
            "PutRecordBatch",
            records.len(),
            resp.iter().map(|r| (r.error_code(), r.error_message())),
        )
    }
}

/// A Kinesis data stream (the producer side: `loglake replay`).
#[derive(Debug, Clone)]
pub struct Kinesis {
    pub client: aws_sdk_kinesis::Client,
    pub stream: String,
}

impl BatchPut for Kinesis {
    async fn put(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
        let entries = records
            .iter()
            .map(|r| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .data(aws_sdk_kinesis::primitives::Blob::new(r.to_vec()))
                    // Spread records over shards by their content.
                    .partition_key(format!("{:016x}", fnv(r)))
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
            .map_err(|e| aws_sdk_kinesis::error::DisplayErrorContext(&e).to_string())?;
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

/// How retries back off.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

/// Records that could not be delivered before the deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {first_failed} and {} more not delivered: {last_error}", .failed - 1)]
pub struct PutFailure {
    /// Index of the first record not delivered.
    pub first_failed: usize,
    pub failed: usize,
    pub last_error: String,
}

/// What delivering took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutStats {
    pub calls: u64,
    pub retried: u64,
}

/// Deliver every record, in order, retrying only failed ones.
pub async fn put_all<P: BatchPut>(
    sink: &P,
    records: &[Vec<u8>],
    deadline: Instant,
    backoff: Backoff,
) -> Result<PutStats, PutFailure> {
    let mut stats = PutStats::default();
    let mut rng = seed();
    let sizes: Vec<usize> = records.iter().map(Vec::len).collect();
    for range in batches(&sizes) {
        let mut pending: Vec<usize> = range.collect();
        let mut attempt = 0u32;
        loop {
            let batch: Vec<&[u8]> = pending.iter().map(|&i| records[i].as_slice()).collect();
            stats.calls += 1;
            let (failed, err) = match sink.put(&batch).await {
                Ok(results) => {
                    let mut err = String::new();
                    let failed: Vec<usize> = pending
                        .iter()
                        .zip(results)
                        .filter_map(|(i, r)| {
                            r.map(|e| {
                                err = e;
                                *i
                            })
                        })
                        .collect();
                    (failed, err)
                }
                // The whole call failed (throttled, 5xx, network): all again.
                Err(e) => (pending.clone(), e),
            };
            if failed.is_empty() {
                break;
            }
            let sleep = jitter(&mut rng, backoff, attempt);
            if Instant::now() + sleep >= deadline {
                return Err(PutFailure {
                    first_failed: failed[0],
                    failed: failed.len(),
                    last_error: err,
                });
            }
            stats.retried += failed.len() as u64;
            tokio::time::sleep(sleep).await;
            pending = failed;
            attempt += 1;
        }
    }
    Ok(stats)
}

pub(crate) fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t | 1
}

/// Full jitter: uniform in [0, min(cap, base * 2^attempt)].
pub(crate) fn jitter(rng: &mut u64, b: Backoff, attempt: u32) -> Duration {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let ceiling = b.base.saturating_mul(1u32 << attempt.min(16)).min(b.cap);
    ceiling.mul_f64((*rng >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails the records whose first byte is in `flaky` for the first
    /// `times` attempts they appear in, and records in `dead` always.
    struct Fake {
        flaky: Vec<u8>,
        dead: Vec<u8>,
        times: usize,
        seen: Mutex<Vec<Vec<u8>>>,
    }

    impl BatchPut for Fake {
        async fn put(&self, records: &[&[u8]]) -> Result<Vec<Option<String>>, String> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(records.iter().map(|r| r[0]).collect());
            let tries = |b: u8| seen.iter().filter(|s| s.contains(&b)).count();
            Ok(records
                .iter()
                .map(|r| {
                    let b = r[0];
                    let fail = self.dead.contains(&b)
                        || (self.flaky.contains(&b) && tries(b) <= self.times);
                    fail.then(|| "ServiceUnavailableException: slow down".to_string())
                })
                .collect())
        }
    }

    fn fast() -> Backoff {
        Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn only_failed_records_are_retried() {
        let records: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i]).collect();
        let fake = Fake {
            flaky: vec![3, 7],
            dead: vec![],
            times: 2,
            seen: Mutex::new(Vec::new()),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let stats = put_all(&fake, &records, deadline, fast()).await.unwrap();
        let seen = fake.seen.lock().unwrap().clone();
        assert_eq!(seen[0], (0..10u8).collect::<Vec<_>>());
        assert_eq!(&seen[1..], [vec![3, 7], vec![3, 7]]);
        assert_eq!(
            stats,
            PutStats {
                calls: 3,
                retried: 4
            }
        );
    }

    #[tokio::test]
    async fn the_first_undeliverable_record_is_named_at_the_deadline() {
        let records: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i]).collect();
        let fake = Fake {
            flaky: vec![],
            dead: vec![8, 5],
            times: 0,
            seen: Mutex::new(Vec::new()),
        };
        let deadline = Instant::now() + Duration::from_millis(50);
        let err = put_all(&fake, &records, deadline, fast())
            .await
            .unwrap_err();
        assert_eq!((err.first_failed, err.failed), (5, 2));
        assert!(err.last_error.contains("ServiceUnavailable"));
        // Every retry carried only the two dead records.
        assert!(
            fake.seen.lock().unwrap()[1..]
                .iter()
                .all(|s| s == &vec![5, 8])
        );
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut rng = 42;
        for attempt in 0..40 {
            let d = jitter(&mut rng, Backoff::default(), attempt);
            assert!(d <= Duration::from_secs(5));
        }
    }
}
