//! Putting records on a Firehose delivery stream or a Kinesis stream: calls
//! within the services' limits, in order, retrying only the records a call
//! reports failed, with exponential backoff and full jitter, until a
//! deadline (the function's remaining time).

use std::time::Instant;

use loglake_core::sinks::forward::batches;

use crate::effects::Forwarder;
use crate::retry::{Backoff, jitter, seed};

/// Records that could not be delivered before the deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {first_failed} and {} more not delivered: {last_error}", .failed - 1)]
pub struct PutFailure {
    /// Index of the first record not delivered.
    pub first_failed: usize,
    pub failed: usize,
    /// Records after the first failed one that were delivered (a partial
    /// batch): a retry from `first_failed` must not deliver them again.
    pub accepted: Vec<usize>,
    pub last_error: String,
}

/// What delivering took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutStats {
    pub calls: u64,
    pub retried: u64,
}

/// Deliver every record, in order, retrying only failed ones.
pub async fn put_all<R: AsRef<[u8]> + Sync>(
    sink: &dyn Forwarder,
    records: &[R],
    deadline: Instant,
    backoff: Backoff,
) -> Result<PutStats, PutFailure> {
    let mut stats = PutStats::default();
    let mut rng = seed();
    let sizes: Vec<usize> = records.iter().map(|r| r.as_ref().len()).collect();
    for range in batches(&sizes) {
        let all = range.clone();
        let mut pending: Vec<usize> = range.collect();
        let mut attempt = 0u32;
        loop {
            let batch: Vec<&[u8]> = pending.iter().map(|&i| records[i].as_ref()).collect();
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
                let first = failed[0];
                return Err(PutFailure {
                    first_failed: first,
                    failed: failed.len(),
                    accepted: all.filter(|i| *i > first && !failed.contains(i)).collect(),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::effects::BoxFuture;
    use std::sync::Mutex;

    /// Fails the records whose first byte is in `flaky` for the first
    /// `times` attempts they appear in, and records in `dead` always.
    struct Fake {
        flaky: Vec<u8>,
        dead: Vec<u8>,
        times: usize,
        seen: Mutex<Vec<Vec<u8>>>,
    }

    impl Forwarder for Fake {
        fn put<'a>(
            &'a self,
            records: &'a [&'a [u8]],
        ) -> BoxFuture<'a, Result<Vec<Option<String>>, String>> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(records.iter().map(|r| r[0]).collect());
            let tries = |b: u8| seen.iter().filter(|s| s.contains(&b)).count();
            let answers = records
                .iter()
                .map(|r| {
                    let b = r[0];
                    let fail = self.dead.contains(&b)
                        || (self.flaky.contains(&b) && tries(b) <= self.times);
                    fail.then(|| "ServiceUnavailableException: slow down".to_string())
                })
                .collect();
            Box::pin(async move { Ok(answers) })
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
}
