//! One source's (or one stream batch's) indexing, the same for fn-ingest,
//! fn-stream and the CLI: a [`Feed`] turns finished rows into bulk bodies
//! on the parsing thread, a channel carries them to the indexer task, and
//! [`Session::settle`] accounts for every document fed, writes the dead
//! letters next to the source's other outputs, and says what happened.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglake_core::OutputStore;
use loglake_core::sinks::search::{
    Bulk, Feed, SearchCounts, dead_letter, dead_letter_key, write_dead_letters,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{IndexOptions, IndexReport, SearchConfig, index_all};
use crate::effects::BulkSend;

/// The search sink of a function or the CLI: where bulk bodies go, and the
/// settings they are built and sent with.
#[derive(Clone)]
pub struct SearchSink {
    pub sender: Arc<dyn BulkSend>,
    pub config: SearchConfig,
}

impl std::fmt::Debug for SearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchSink")
            .field("endpoint", &self.config.endpoint)
            .finish()
    }
}

/// How often a feed whose indexer is busy looks again.
const FEED_POLL: Duration = Duration::from_millis(2);

/// A feed whose bulks go to a session's indexer. Use it on a blocking
/// thread: a full channel makes it wait for the indexer.
pub type SessionFeed = Feed<Box<dyn FnMut(Bulk) + Send>>;

/// Where a session's dead letters go, named like the source's other
/// outputs so that a retry overwrites its own file.
#[derive(Clone)]
pub struct DeadLetters {
    pub store: Arc<dyn OutputStore>,
    /// The source's output name (`{stem}-{id}`) or the batch's name.
    pub name: String,
    /// The time that dates the file's `dt=` partition.
    pub at_ms: Option<i64>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("name", &self.name)
            .finish()
    }
}

/// What indexing one source or batch did.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    pub counts: SearchCounts,
    /// Why documents are still not indexed, when some are not.
    pub failure: Option<String>,
    /// Where the dead letters were written, when there are any.
    pub dead_letters: Option<String>,
}

impl Indexed {
    /// Documents not indexed that no dead letter holds: the source must be
    /// retried.
    pub fn incomplete(&self) -> bool {
        self.failure.is_some() && self.counts.failed > 0
    }

    /// The search sink's CloudWatch EMF line: indexed, already indexed,
    /// refused, failed.
    pub fn emf(&self, function: &str, source: &str, now_ms: i64) -> String {
        let metrics = ["Indexed", "AlreadyIndexed", "DeadLettered", "IndexFailed"];
        let c = &self.counts;
        json!({
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "loglake",
                    "Dimensions": [["function"]],
                    "Metrics": metrics.iter().map(|n| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
                }],
            },
            "function": function,
            "source": source,
            "Indexed": c.indexed,
            "AlreadyIndexed": c.already_indexed,
            "DeadLettered": c.dead_lettered,
            "IndexFailed": c.failed,
        })
        .to_string()
    }
}

/// Whether the caller retries what a session could not index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The caller retries the whole source (an SQS redelivery, a second
    /// run of the CLI): documents not indexed are counted as failed.
    ByCaller,
    /// Nobody retries (a Kinesis batch must not be forwarded twice):
    /// documents not indexed in time are kept as dead letters with the
    /// refused ones; nothing is lost, and the lake has them either way.
    Never,
}

/// One source's or batch's indexing in progress.
#[derive(Debug)]
pub struct Session {
    tx: Option<mpsc::Sender<Bulk>>,
    task: JoinHandle<IndexReport>,
    config: SearchConfig,
    retry: Retry,
    /// Bulks the feed stopped waiting for the indexer to take.
    overflow: Arc<Mutex<Vec<Bulk>>>,
}

impl SearchSink {
    /// Start indexing: the indexer runs on the current runtime until the
    /// session's feed is finished (or its sender dropped), bounded by
    /// `deadline`. Call within a runtime.
    pub fn session(&self, deadline: Instant, retry: Retry) -> Session {
        let (tx, rx) = mpsc::channel::<Bulk>(self.config.concurrency);
        let opts = IndexOptions {
            keep_failed: retry == Retry::Never,
            ..self.config.index_options()
        };
        let task = tokio::spawn(index_all(self.sender.clone(), rx, deadline, opts));
        Session {
            tx: Some(tx),
            task,
            config: self.config.clone(),
            retry,
            overflow: Arc::default(),
        }
    }
}

impl Session {
    /// The feed for this session's rows. `skip_forwarded`: leave out
    /// records fn-stream already indexed (they come back through Firehose).
    /// There is one feed per session; finishing it ends the input.
    pub fn feed(&mut self, skip_forwarded: bool) -> SessionFeed {
        let tx = self.tx.take();
        let mut options = self.config.options.clone();
        options.skip_normalized = skip_forwarded;
        let overflow = self.overflow.clone();
        // Parsing waits for the indexer at most this long in all: a cluster
        // that hangs must not hold the lake up.
        let max_wait = self.config.max_wait;
        let mut waited = Duration::ZERO;
        Feed::new(
            options,
            Box::new(move |mut b| {
                let Some(tx) = &tx else { return };
                loop {
                    if waited >= max_wait {
                        // Kept as dead letters when the session settles.
                        if let Ok(mut o) = overflow.lock() {
                            o.push(b);
                        }
                        return;
                    }
                    match tx.try_send(b) {
                        Ok(()) => return,
                        // The indexer stopped early; settling counts what
                        // it never saw.
                        Err(TrySendError::Closed(_)) => return,
                        Err(TrySendError::Full(back)) => {
                            b = back;
                            let t = std::time::Instant::now();
                            std::thread::sleep(FEED_POLL);
                            waited += t.elapsed();
                        }
                    }
                }
            }),
        )
    }

    /// Queue bulk bodies built elsewhere (dead letters sent again).
    pub async fn send(&mut self, bulks: Vec<Bulk>) {
        if let Some(tx) = &self.tx {
            for b in bulks {
                if tx.send(b).await.is_err() {
                    break;
                }
            }
        }
    }

    /// Wait for the indexer, account for every one of the `fed` documents
    /// (one that never reached the indexer counts as failed), and write the
    /// dead letters to `dlq`.
    pub async fn settle(
        mut self,
        fed: SearchCounts,
        dlq: DeadLetters,
    ) -> Result<Indexed, loglake_core::Error> {
        drop(self.tx.take());
        let mut report = self.task.await.unwrap_or_else(|e| IndexReport {
            failure: Some(format!("the indexer stopped unexpectedly: {e}")),
            ..IndexReport::default()
        });
        report.counts.docs = fed.docs;
        report.counts.filtered = fed.filtered;
        let mut overflow_letters = Vec::new();
        // What the feed stopped waiting to hand over: dead letters, to be
        // sent again (`loglake search bulk --dead-letters`).
        let overflow =
            std::mem::take(&mut *self.overflow.lock().unwrap_or_else(|e| e.into_inner()));
        for bulk in &overflow {
            for (i, item) in bulk.items.iter().enumerate() {
                overflow_letters.push(dead_letter(
                    item,
                    bulk.doc(i),
                    0,
                    "not_indexed",
                    "the cluster did not keep up within SEARCH_MAX_WAIT_SECS; the lake did not wait",
                ));
                report.counts.dead_lettered += 1;
            }
        }
        if !overflow.is_empty() {
            report.failure.get_or_insert_with(|| {
                "the cluster did not keep up; documents kept as dead letters".into()
            });
        }
        let c = &report.counts;
        let seen = c.indexed + c.already_indexed + c.dead_lettered + c.failed;
        if seen < fed.docs {
            report.counts.failed += fed.docs - seen;
            report
                .failure
                .get_or_insert_with(|| "the indexer stopped before every document was sent".into());
        }
        let mut letters: Vec<Value> = std::mem::take(&mut report.dead_letters);
        if self.retry == Retry::Never {
            letters.append(&mut report.failed_letters);
        }
        letters.append(&mut overflow_letters);
        let dead_letters = if letters.is_empty() {
            None
        } else {
            let key = dead_letter_key(&self.config.dead_letter_prefix, dlq.at_ms, &dlq.name);
            let n = letters.len();
            let store = dlq.store.clone();
            let k = key.clone();
            tokio::task::spawn_blocking(move || write_dead_letters(store.as_ref(), &k, &letters))
                .await
                .map_err(|e| loglake_core::Error::Thread(format!("writing dead letters: {e}")))??;
            warn!(
                key,
                documents = n,
                reason = report
                    .failure
                    .as_deref()
                    .unwrap_or("refused by the cluster"),
                "documents not indexed, kept as dead letters"
            );
            Some(dlq.store.uri(&key))
        };
        let c = &report.counts;
        info!(
            indexed = c.indexed,
            already_indexed = c.already_indexed,
            dead_lettered = c.dead_lettered,
            failed = c.failed,
            requests = c.requests,
            "indexed"
        );
        Ok(Indexed {
            counts: report.counts,
            failure: report.failure,
            dead_letters,
        })
    }
}
