//! The indexer: every bulk body a session produces, sent through the
//! [`BulkSend`] effect and read back item by item.
//!
//! Documents failing with `429`, `5xx` or a rejected execution are retried
//! alone, with full-jitter backoff, bounded by attempts and the caller's
//! deadline; documents the cluster refuses (mapping and parsing errors)
//! become dead letters; a `413` splits the request in two; a whole request
//! throttled (`429`, `503`) is retried after a backoff. Once a request has
//! failed for good, the rest of the source is counted as failed without
//! being sent, so a cluster that is down never holds up the lake.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loglake_core::sinks::search::{
    Bulk, ItemOutcome, SearchCounts, dead_letter, parse_bulk_response,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{error, warn};

use crate::effects::{BulkSend, SearchError};
use crate::retry::{Backoff, jitter, seed};

/// How hard the indexer tries.
#[derive(Debug, Clone, Copy)]
pub struct IndexOptions {
    /// `_bulk` requests in flight at once.
    pub concurrency: usize,
    /// Attempts per document (and per whole request) before it counts as failed.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Keep the documents that could not be indexed (in
    /// [`IndexReport::failed_letters`]), for a caller that has no retry of
    /// its own to fall back on (the stream path writes them to S3).
    pub keep_failed: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            concurrency: 2,
            max_attempts: 8,
            keep_failed: false,
            backoff: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(10),
            },
        }
    }
}

/// What indexing one source or batch came to.
#[derive(Debug, Default)]
pub struct IndexReport {
    pub counts: SearchCounts,
    /// Documents the cluster refused, as dead-letter records.
    pub dead_letters: Vec<Value>,
    /// Why documents are still not indexed, when some are not.
    pub failure: Option<String>,
    /// The documents not indexed, as dead-letter records, when
    /// [`IndexOptions::keep_failed`] asked for them.
    pub failed_letters: Vec<Value>,
}

impl IndexReport {
    fn merge(&mut self, o: IndexReport) {
        self.counts.add(&o.counts);
        self.dead_letters.extend(o.dead_letters);
        self.failed_letters.extend(o.failed_letters);
        if self.failure.is_none() {
            self.failure = o.failure;
        }
    }

    /// Every document is accounted for: indexed now or before, or a dead letter.
    pub fn complete(&self) -> bool {
        self.failure.is_none() && self.counts.failed == 0
    }

    /// Count `bulk`'s documents as not indexed, for `reason`.
    fn fail(&mut self, bulk: &Bulk, reason: String, keep: bool) {
        self.counts.failed += bulk.len() as u64;
        if keep {
            for i in 0..bulk.len() {
                self.failed_letters.push(dead_letter(
                    &bulk.items[i],
                    bulk.doc(i),
                    0,
                    "not_indexed",
                    &reason,
                ));
            }
        }
        self.failure.get_or_insert(reason);
    }
}

/// Index one bulk body: per-item retries, splits on 413, backoff on
/// throttling, bounded by `opts.max_attempts` and `deadline`.
pub async fn index_bulk(
    client: &dyn BulkSend,
    bulk: Bulk,
    deadline: Instant,
    opts: IndexOptions,
) -> IndexReport {
    let mut report = IndexReport::default();
    let mut rng = seed();
    // (body, attempts so far); a stack, so split halves go in order.
    let mut work: Vec<(Bulk, u32)> = vec![(bulk, 0)];
    while let Some((bulk, attempt)) = work.pop() {
        if bulk.is_empty() {
            continue;
        }
        let n = bulk.len() as u64;
        report.counts.requests += 1;
        // The client bounds each request (SEARCH_TIMEOUT_SECS); the deadline
        // bounds it too, whatever the client does.
        let sent = tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline),
            client.send_bulk(bulk.body.clone()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SearchError::Timeout {
                method: "POST".into(),
                url: "_bulk".into(),
                timeout: deadline.saturating_duration_since(Instant::now()),
            })
        });
        let retry_all = match sent {
            Err(e) => e.to_string(),
            Ok(r) if r.is_success() => match parse_bulk_response(&r.body, bulk.len()) {
                Err(e) => e,
                Ok(outcomes) => {
                    let mut again = Vec::new();
                    let mut why = String::new();
                    for (i, o) in outcomes.into_iter().enumerate() {
                        match o {
                            ItemOutcome::Indexed => report.counts.indexed += 1,
                            ItemOutcome::AlreadyIndexed => report.counts.already_indexed += 1,
                            ItemOutcome::Retry { status, reason } => {
                                why = format!("HTTP {status}: {reason}");
                                again.push(i);
                            }
                            ItemOutcome::Rejected {
                                status,
                                error_type,
                                reason,
                            } => {
                                report.counts.dead_lettered += 1;
                                report.dead_letters.push(dead_letter(
                                    &bulk.items[i],
                                    bulk.doc(i),
                                    status,
                                    &error_type,
                                    &reason,
                                ));
                            }
                        }
                    }
                    if !again.is_empty() {
                        let retry = bulk.subset(&again);
                        report.counts.retried_items += retry.len() as u64;
                        if let Some(failure) = wait(&mut rng, opts, attempt, deadline, &why).await {
                            report.fail(&retry, failure, opts.keep_failed);
                        } else {
                            work.push((retry, attempt + 1));
                        }
                    }
                    continue;
                }
            },
            Ok(r) if r.status == 413 => {
                match bulk.split() {
                    Some((a, b)) => {
                        report.counts.split_requests += 1;
                        work.push((b, attempt));
                        work.push((a, attempt));
                    }
                    None => {
                        report.counts.dead_lettered += 1;
                        report.dead_letters.push(dead_letter(
                            &bulk.items[0],
                            bulk.doc(0),
                            413,
                            "request_entity_too_large",
                            "the document alone is larger than the cluster accepts in one request",
                        ));
                    }
                }
                continue;
            }
            Ok(r) if r.status == 429 || r.status >= 500 => {
                format!("HTTP {}: {}", r.status, r.excerpt())
            }
            Ok(r) if matches!(r.status, 401 | 403 | 404) => {
                // Credentials, permissions or the endpoint: no retry here
                // helps, and nothing about the documents is wrong.
                let why = format!("HTTP {} from the cluster: {}", r.status, r.excerpt());
                report.fail(&bulk, why, opts.keep_failed);
                continue;
            }
            Ok(r) => {
                // The cluster refused the request as a whole: keep every
                // document, with the reason, rather than retry forever.
                let reason = r.excerpt();
                for i in 0..bulk.len() {
                    report.counts.dead_lettered += 1;
                    report.dead_letters.push(dead_letter(
                        &bulk.items[i],
                        bulk.doc(i),
                        r.status,
                        "request_rejected",
                        &reason,
                    ));
                }
                continue;
            }
        };
        if let Some(failure) = wait(&mut rng, opts, attempt, deadline, &retry_all).await {
            report.fail(&bulk, failure, opts.keep_failed);
        } else {
            report.counts.retried_items += n;
            work.push((bulk, attempt + 1));
        }
    }
    report
}

/// Sleep before attempt `attempt + 1`, or say why there is none.
async fn wait(
    rng: &mut u64,
    opts: IndexOptions,
    attempt: u32,
    deadline: Instant,
    why: &str,
) -> Option<String> {
    if attempt + 1 >= opts.max_attempts {
        return Some(format!("{why} (after {} attempts)", attempt + 1));
    }
    let sleep = jitter(rng, opts.backoff, attempt);
    if Instant::now() + sleep >= deadline {
        return Some(format!("{why} (out of time)"));
    }
    warn!(attempt = attempt + 1, reason = %why, "search request retried");
    tokio::time::sleep(sleep).await;
    None
}

/// Index every bulk that arrives on `bulks`, at most `opts.concurrency` at
/// once, until the sender is dropped. After the first bulk that fails for
/// good, later ones are counted as failed without being sent: the caller
/// (the lake) keeps going, and the source is retried later.
pub async fn index_all(
    client: Arc<dyn BulkSend>,
    mut bulks: mpsc::Receiver<Bulk>,
    deadline: Instant,
    opts: IndexOptions,
) -> IndexReport {
    let mut report = IndexReport::default();
    let mut running: JoinSet<IndexReport> = JoinSet::new();
    let concurrency = opts.concurrency.max(1);
    loop {
        if running.len() >= concurrency {
            if let Some(r) = running.join_next().await {
                report.merge(joined(r));
            }
            continue;
        }
        let Some(bulk) = bulks.recv().await else {
            break;
        };
        if let Some(f) = &report.failure {
            let reason = format!("not sent after an earlier request failed: {f}");
            report.fail(&bulk, reason, opts.keep_failed);
            continue;
        }
        let c = client.clone();
        running.spawn(async move { index_bulk(c.as_ref(), bulk, deadline, opts).await });
        // Collect what has finished, so a failure stops the next sends.
        while let Some(r) = running.try_join_next() {
            report.merge(joined(r));
        }
    }
    while let Some(r) = running.join_next().await {
        report.merge(joined(r));
    }
    if report.dead_letters.len() > MAX_DEAD_LETTERS {
        let over = report.dead_letters.len() - MAX_DEAD_LETTERS;
        report.dead_letters.truncate(MAX_DEAD_LETTERS);
        report.counts.dead_lettered -= over as u64;
        report.counts.failed += over as u64;
        report.failure.get_or_insert(format!(
            "the cluster refused more than {MAX_DEAD_LETTERS} documents: its mapping does not match loglake's index template (run `loglake search setup`)"
        ));
    }
    if let Some(f) = &report.failure {
        error!(failed = report.counts.failed, reason = %f, "documents not indexed");
    }
    report
}

fn joined(r: Result<IndexReport, tokio::task::JoinError>) -> IndexReport {
    r.unwrap_or_else(|e| IndexReport {
        failure: Some(format!("an indexing task failed: {e}")),
        ..IndexReport::default()
    })
}

/// Dead letters kept per source before the rest count as failed: a cluster
/// refusing this many documents has a mapping that does not match ours,
/// and holding more would risk the function's memory.
pub const MAX_DEAD_LETTERS: usize = 50_000;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;

    use super::*;
    use crate::effects::BoxFuture;
    use crate::search::{Reply, SearchError};

    /// Answers like OpenSearch from a script: per request either a whole
    /// status, or per-item statuses chosen by the document's `n`.
    #[derive(Clone, Default)]
    struct Fake {
        log: Arc<Mutex<Vec<Vec<u64>>>>,
        /// Statuses for the next requests as a whole (then 200s).
        whole: Arc<Mutex<Vec<u16>>>,
        /// `(n, status, times)`: document `n` fails with `status` that many times.
        items: Arc<Mutex<Vec<(u64, u16, u32)>>>,
        max_docs: Option<usize>,
    }

    fn ns(body: &[u8]) -> Vec<u64> {
        body.split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"{\"n\""))
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    impl BulkSend for Fake {
        fn send_bulk(&self, body: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>> {
            let docs = ns(&body);
            self.log.lock().unwrap().push(docs.clone());
            let whole = {
                let mut w = self.whole.lock().unwrap();
                (!w.is_empty()).then(|| w.remove(0))
            };
            let too_big = self.max_docs.is_some_and(|m| docs.len() > m);
            let mut items = Vec::new();
            for n in &docs {
                let mut st = 201;
                for f in self.items.lock().unwrap().iter_mut() {
                    if f.0 == *n && f.2 > 0 {
                        f.2 -= 1;
                        st = f.1;
                    }
                }
                let err = match st {
                    201 => Value::Null,
                    409 => {
                        serde_json::json!({"type": "version_conflict_engine_exception", "reason": "exists"})
                    }
                    429 => {
                        serde_json::json!({"type": "es_rejected_execution_exception", "reason": "queue full"})
                    }
                    _ => {
                        serde_json::json!({"type": "mapper_parsing_exception", "reason": "failed to parse field [x]"})
                    }
                };
                items.push(serde_json::json!({"create": {"_id": n.to_string(), "status": st, "error": err}}));
            }
            Box::pin(async move {
                if let Some(s) = whole {
                    return Ok(Reply {
                        status: s,
                        body: Bytes::from_static(b"{\"error\":\"busy\"}"),
                    });
                }
                if too_big {
                    return Ok(Reply {
                        status: 413,
                        body: Bytes::new(),
                    });
                }
                let body = serde_json::json!({"took": 1, "errors": true, "items": items});
                Ok(Reply {
                    status: 200,
                    body: Bytes::from(body.to_string()),
                })
            })
        }
    }

    fn bulk(n: u64) -> Bulk {
        let mut b = Bulk::default();
        for i in 0..n {
            b.push(
                "logs-x",
                &format!("id{i}"),
                format!("{{\"n\":{i}}}").as_bytes(),
            );
        }
        b
    }

    fn fast() -> IndexOptions {
        IndexOptions {
            backoff: Backoff {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(2),
            },
            ..IndexOptions::default()
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn item_failures_are_retried_alone_and_rejections_kept() {
        let fake = Fake::default();
        *fake.items.lock().unwrap() = vec![(2, 429, 2), (5, 400, 1), (7, 409, 1)];
        let r = index_bulk(&fake, bulk(10), far(), fast()).await;
        let log = fake.log.lock().unwrap().clone();
        assert_eq!(log, vec![(0..10).collect::<Vec<_>>(), vec![2], vec![2]]);
        assert_eq!(r.counts.indexed, 8);
        assert_eq!(r.counts.already_indexed, 1);
        assert_eq!(r.counts.dead_lettered, 1);
        assert_eq!(r.dead_letters[0]["doc"]["n"], 5);
        assert_eq!(r.dead_letters[0]["error_type"], "mapper_parsing_exception");
        assert_eq!(r.counts.retried_items, 2);
        assert!(r.complete());
    }

    #[tokio::test]
    async fn too_large_requests_split_until_they_fit() {
        let fake = Fake {
            max_docs: Some(3),
            ..Fake::default()
        };
        let r = index_bulk(&fake, bulk(10), far(), fast()).await;
        assert_eq!(r.counts.indexed, 10);
        assert!(r.counts.split_requests >= 3);
        let sent: Vec<u64> = fake
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.len() <= 3)
            .flatten()
            .copied()
            .collect();
        assert_eq!(sent, (0..10).collect::<Vec<_>>(), "order kept, each once");
        // One document larger than the cluster accepts is a dead letter.
        let one = Fake {
            max_docs: Some(0),
            ..Fake::default()
        };
        let r = index_bulk(&one, bulk(1), far(), fast()).await;
        assert_eq!(r.counts.dead_lettered, 1);
        assert_eq!(r.dead_letters[0]["status"], 413);
    }

    #[tokio::test]
    async fn throttled_requests_back_off_then_give_up() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503, 429];
        let r = index_bulk(&fake, bulk(4), far(), fast()).await;
        assert_eq!(r.counts.indexed, 4);
        assert_eq!(fake.log.lock().unwrap().len(), 3);

        let down = Fake::default();
        *down.whole.lock().unwrap() = vec![503; 100];
        let r = index_bulk(&down, bulk(4), far(), fast()).await;
        assert_eq!(r.counts.failed, 4);
        assert_eq!(down.log.lock().unwrap().len(), 8, "max_attempts");
        assert!(r.failure.unwrap().contains("HTTP 503"));

        let denied = Fake::default();
        *denied.whole.lock().unwrap() = vec![403];
        let r = index_bulk(&denied, bulk(4), far(), fast()).await;
        assert_eq!((r.counts.failed, denied.log.lock().unwrap().len()), (4, 1));
    }

    #[tokio::test]
    async fn the_deadline_bounds_retries() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503; 100];
        let slow = IndexOptions {
            backoff: Backoff {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(5),
            },
            max_attempts: 100,
            ..IndexOptions::default()
        };
        let started = Instant::now();
        let r = index_bulk(
            &fake,
            bulk(2),
            Instant::now() + Duration::from_millis(50),
            slow,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(r.counts.failed, 2);
    }

    #[tokio::test]
    async fn a_cluster_that_is_down_stops_further_sends() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503; 1000];
        let (tx, rx) = mpsc::channel(2);
        let opts = IndexOptions {
            concurrency: 1,
            ..fast()
        };
        let indexer = tokio::spawn(index_all(Arc::new(fake.clone()), rx, far(), opts));
        for _ in 0..20 {
            tx.send(bulk(5)).await.unwrap();
        }
        drop(tx);
        let r = indexer.await.unwrap();
        assert_eq!(r.counts.failed, 100);
        assert!(fake.log.lock().unwrap().len() < 20 * 8);
        assert!(!r.complete());
    }
}
