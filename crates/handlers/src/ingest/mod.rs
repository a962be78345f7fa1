//! fn-ingest's decisions: which objects an event names, each object streamed
//! through core's pipeline into the lake, its rows into the search index and
//! the alert windows, and the answer per SQS message, so one bad object
//! never fails or re-runs the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use futures_util::StreamExt;
use loglake_core::ingest::resume::{read_checkpoint, write_checkpoint};
use loglake_core::ingest::source::{lake_complete, object_identity};
use loglake_core::ingest::{Progress, ingest_resumable};
use loglake_core::sinks::search::SearchCounts;
use loglake_core::triggers::objects::{self, Invocation, ObjectRef, Skip, Work};
use loglake_core::{Manifest, NullStore, OutputStore, Source};
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};

use crate::alerts::{AlertError, AlertSink, Delivered, WindowCounting};
use crate::effects::{ObjectReader, ReadError, Requeue};
use crate::search::SearchSink;
use crate::search::session::{DeadLetters, Retry};

mod settings;
pub use settings::IngestSettings;

/// A version id that names a version: S3 reports `null` for uploads to a
/// bucket whose versioning is suspended.
fn named(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| *v != "null" && !v.is_empty())
}

/// Where the Terraform's Firehose delivers in the raw bucket.
pub const FORWARDED_PREFIX: &str = "firehose/";

/// fn-ingest: the effects it has, and its settings.
#[derive(Clone)]
pub struct Ingest {
    /// Where raw objects are read from.
    pub objects: Arc<dyn ObjectReader>,
    /// The curated bucket: the lake, the quarantine, the manifests and the
    /// search dead letters.
    pub lake: Arc<dyn OutputStore>,
    pub settings: IngestSettings,
    pub search: Option<SearchSink>,
    pub alerts: Option<AlertSink>,
    /// The queue the function reads: an object that does not fit one
    /// invocation continues in the next through a message sent here. Without
    /// it, the message is redelivered after its visibility timeout instead.
    pub requeue: Option<Arc<dyn Requeue>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("settings", &self.settings)
            .field("search", &self.search)
            .field("alerts", &self.alerts)
            .finish()
    }
}

/// When a batch's messages must be done: early enough before the
/// invocation's deadline to answer with the ones that are not (a tenth of
/// the time left, between 200 ms and 5 s).
fn message_cutoff(deadline: Instant, now: Instant) -> Instant {
    let left = deadline.saturating_duration_since(now);
    let margin = (left / 10).clamp(Duration::from_millis(200), Duration::from_secs(5));
    deadline.checked_sub(margin).unwrap_or(now).max(now)
}

/// When an object's ingest must pause (at a segment boundary) so its sinks
/// can settle and its checkpoint be kept before the message's cutoff: a
/// fifth of the time left, between 1 s and 60 s.
fn pause_by(cutoff: Instant, now: Instant) -> Instant {
    let left = cutoff.saturating_duration_since(now);
    let margin = (left / 5).clamp(Duration::from_secs(1), Duration::from_secs(60));
    cutoff.checked_sub(margin).unwrap_or(now)
}

/// How long an invocation may take when the caller gives no deadline.
const DEFAULT_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Why one object (or one SQS message) failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Event(#[from] objects::EventError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("ingesting {uri}: {source}")]
    Ingest {
        uri: String,
        #[source]
        source: loglake_core::Error,
    },
    #[error("the ingest task for {0} panicked")]
    Panicked(String),
    /// The lake has the object; some rows are not in the index yet. A retry
    /// of the message indexes them without rewriting the lake.
    #[error("{uri}: {failed} rows not indexed: {reason}")]
    Search {
        uri: String,
        failed: u64,
        reason: String,
    },
    #[error("{uri}: alert windows or notifications not delivered: {source}")]
    Alerts {
        uri: String,
        #[source]
        source: AlertError,
    },
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Event(#[from] objects::EventError),
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("encoding the response: {0}")]
    Response(#[from] serde_json::Error),
    /// The alert rules or formats kept in S3 were never read.
    #[error("{0}")]
    Settings(String),
}

/// What happened to one object.
#[derive(Debug)]
pub enum Done {
    Ingested {
        manifest: Box<Manifest>,
        /// Where the manifest is, in the curated bucket (under its prefix).
        manifest_key: String,
        search: Option<SearchCounts>,
        alerts: Option<Delivered>,
    },
    Skipped {
        reason: String,
    },
    /// Segments up to `segment` are in every sink and the checkpoint is
    /// kept: the object continues in another invocation.
    Paused {
        uri: String,
        segment: u64,
    },
}

/// What became of one SQS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Done,
    Failed,
    /// An object paused: the message must come back to continue it.
    Continue,
}

/// What one object's run needs besides the object.
#[derive(Debug, Clone, Copy)]
struct Run {
    deadline: Instant,
    /// Delivered through SQS, where a failed message comes back: when the
    /// lake already holds this exact object, only the index is redone.
    /// Direct invocations (replays) always rewrite.
    redelivery: bool,
    /// When a long object pauses at a segment boundary and continues from
    /// its checkpoint in another invocation (SQS only).
    pause_by: Option<Instant>,
}

impl Ingest {
    /// Handle one invocation. SQS batches answer with `batchItemFailures`;
    /// other invocations fail as a whole if any object failed.
    pub async fn handle(&self, event: Value) -> Result<Value, HandleError> {
        self.handle_until(event, Instant::now() + DEFAULT_BUDGET)
            .await
    }

    /// [`Ingest::handle`] with the invocation's deadline, which bounds the
    /// search sink's retries.
    pub async fn handle_until(
        &self,
        event: Value,
        deadline: Instant,
    ) -> Result<Value, HandleError> {
        crate::alerts::refresh(self.alerts.as_ref())
            .await
            .map_err(HandleError::Settings)?;
        self.settings
            .formats
            .refresh()
            .await
            .map_err(HandleError::Settings)?;
        match objects::classify(&event)? {
            Invocation::Sqs(messages) => {
                // Each message is its own unit of work, run a few at a time,
                // each until a cutoff before the invocation's deadline: one
                // slow object is reported for redelivery on its own, before
                // the function times out and every message comes back.
                let now = Instant::now();
                // A deadline less than a second away at the start is not a
                // real one (a local emulator's): no cutoff then.
                let (cutoff, pause) = if deadline <= now + Duration::from_secs(1) {
                    (now + DEFAULT_BUDGET, None)
                } else {
                    let cutoff = message_cutoff(deadline, now);
                    (cutoff, Some(pause_by(cutoff, now)))
                };
                let results: Vec<(String, bool)> = futures_util::stream::iter(messages)
                    .map(|m| async move {
                        let span = info_span!("message", message_id = %m.message_id);
                        let answer = tokio::time::timeout_at(
                            tokio::time::Instant::from_std(cutoff),
                            self.message(&m.body, cutoff, pause),
                        )
                        .instrument(span.clone())
                        .await
                        .unwrap_or_else(|_| {
                            span.in_scope(|| {
                                error!("message did not finish before the invocation's deadline; reported for redelivery");
                            });
                            Answer::Failed
                        });
                        let ok = match answer {
                            Answer::Done => true,
                            Answer::Failed => false,
                            Answer::Continue => self.continue_later(&m.body).instrument(span).await,
                        };
                        (m.message_id, ok)
                    })
                    .buffered(self.settings.message_concurrency.max(1))
                    .collect()
                    .await;
                let failures: Vec<BatchItemFailure> = results
                    .into_iter()
                    .filter(|(_, ok)| !ok)
                    .map(|(id, _)| {
                        let mut f = BatchItemFailure::default();
                        f.item_identifier = id;
                        f
                    })
                    .collect();
                let mut r = SqsBatchResponse::default();
                r.batch_item_failures = failures;
                Ok(serde_json::to_value(r)?)
            }
            Invocation::Direct(work) => {
                let run = Run {
                    deadline,
                    redelivery: false,
                    pause_by: None,
                };
                let (done, _) = self.run_all(work, run).await?;
                Ok(json!({ "objects": done }))
            }
        }
    }

    /// One SQS message: whether every object of its event was handled, or
    /// one of them paused.
    async fn message(&self, body: &str, deadline: Instant, pause_by: Option<Instant>) -> Answer {
        match objects::work_in_body(body) {
            Ok(work) => {
                let run = Run {
                    deadline,
                    redelivery: true,
                    pause_by,
                };
                match self.run_all(work, run).await {
                    Ok((_, false)) => Answer::Done,
                    Ok((_, true)) => Answer::Continue,
                    Err(_) => Answer::Failed,
                }
            }
            Err(e) => {
                error!(error = %e, "message is not an event we know; left for the dead-letter queue");
                Answer::Failed
            }
        }
    }

    /// A message whose object paused comes back as a new message (the paused
    /// object resumes from its checkpoint; another object of the same event
    /// that was done is run again and rewrites the same outputs, as any
    /// redelivery does); without a queue to send to, or when the send
    /// fails, it is reported failed and SQS redelivers it after its
    /// visibility timeout.
    async fn continue_later(&self, body: &str) -> bool {
        let Some(q) = &self.requeue else {
            warn!("object paused; no queue to continue on, left for redelivery");
            return false;
        };
        match q.send(body).await {
            Ok(()) => {
                info!("object paused; continues in a new message");
                true
            }
            Err(e) => {
                warn!(error = %e, "object paused; continuation not sent, left for redelivery");
                false
            }
        }
    }

    /// Every object of one event; the first failure is returned after the
    /// rest were tried.
    /// Also says whether an object paused.
    async fn run_all(&self, work: Vec<Work>, run: Run) -> Result<(Vec<Value>, bool), ObjectError> {
        let mut summary = Vec::new();
        let mut first_err = None;
        let mut paused = false;
        for w in work {
            match self.run(w, run).await {
                Ok(Done::Ingested {
                    manifest: m,
                    manifest_key,
                    search,
                    alerts,
                }) => summary.push(json!({
                    "source": m.source.uri, "lines_in": m.lines_in, "rows_out": m.rows_out,
                    "quarantined": m.quarantined, "outcome": m.outcome, "format": m.format,
                    "redacted": m.redacted, "search": search, "alerts": alerts,
                    "manifest": manifest_key,
                })),
                Ok(Done::Skipped { reason }) => summary.push(json!({ "skipped": reason })),
                Ok(Done::Paused { uri, segment }) => {
                    paused = true;
                    summary.push(json!({ "paused": uri, "segments_done": segment }));
                }
                Err(e) => {
                    error!(error = %e, "object failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok((summary, paused)),
        }
    }

    async fn run(&self, w: Work, run: Run) -> Result<Done, ObjectError> {
        let obj = match w {
            Work::Ingest(o) => o,
            Work::Skip(s) => {
                let reason = match s {
                    Skip::TestEvent => "s3:TestEvent".to_string(),
                    Skip::FolderMarker(u) => format!("folder marker {u}"),
                    Skip::Empty(u) => format!("empty object {u}"),
                    Skip::NotLog(u) => format!("not a log (AWS writes it beside its logs) {u}"),
                    Skip::NotCreated(u) => format!("not an object creation: {u}"),
                };
                info!(reason = %reason, "skipped");
                return Ok(Done::Skipped { reason });
            }
        };
        // A canary object is the pre-traffic hook's to have ingested, by the
        // version it invokes directly; the notification its upload also
        // sends (through SQS, to the live version) is acknowledged and
        // skipped, so two versions never write one canary manifest.
        if run.redelivery && self.settings.is_canary(&obj.key) {
            let reason = format!(
                "canary object {} (ingested only by the pre-traffic hook's invocation)",
                obj.uri()
            );
            info!(reason = %reason, "skipped");
            return Ok(Done::Skipped { reason });
        }
        let span = info_span!("object", bucket = %obj.bucket, key = %obj.key, size = obj.size);
        self.ingest_object(obj, run).instrument(span).await
    }

    /// Stream one object through the pipeline into the lake, and into the
    /// search index and the alert windows when they are configured.
    async fn ingest_object(&self, obj: ObjectRef, run: Run) -> Result<Done, ObjectError> {
        let opened = match self.objects.open(&obj).await {
            Ok(o) => o,
            Err(ReadError::NotFound { .. }) => {
                warn!("object no longer exists; skipped");
                return Ok(Done::Skipped {
                    reason: format!("no such key {}", obj.uri()),
                });
            }
            Err(e @ ReadError::Superseded { .. }) => {
                warn!(error = %e, "skipped");
                return Ok(Done::Skipped {
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let uri = obj.uri();
        // A reader that could not ask for the event's object (no If-Match)
        // must not pass a newer upload off as the one the event names.
        if named(&obj.version_id).is_none()
            && let (Some(want), Some(got)) = (obj.etag.as_deref(), opened.etag.as_deref())
            && want != got
        {
            let e = ReadError::Superseded {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
                etag: want.to_string(),
            };
            warn!(error = %e, "skipped");
            return Ok(Done::Skipped {
                reason: e.to_string(),
            });
        }
        // The identity of what the event describes (its version, else its
        // ETag), so a redelivered event overwrites its own outputs and a
        // second upload of the key gets outputs of its own.
        let identity = object_identity(
            &uri,
            named(&obj.version_id).or(named(&opened.version_id)),
            obj.etag.as_deref().or(opened.etag.as_deref()),
        );
        let source = Source {
            identity,
            name: obj.key.clone(),
            size: opened.size.or(obj.size),
            modified_ms: opened.last_modified_ms,
            uri: uri.clone(),
            reader: opened.reader,
        };
        let mut opts = self.settings.options_for(&obj.bucket, &obj.key);
        opts.stop_by = run.pause_by;
        let keys = loglake_core::ingest::Keys::new(
            &opts,
            &source.name,
            &source.identity,
            source.modified_ms,
        );
        // A canary object (the pre-traffic hook's) is kept out of the
        // index and the alerts as out of the lake's tables.
        let canary = self.settings.is_canary(&obj.key);
        let mut session = self
            .search
            .as_ref()
            .filter(|_| !canary)
            .map(|s| s.session(run.deadline, Retry::ByCaller));
        // Records fn-stream forwarded through Firehose were indexed and
        // counted there, within seconds of arriving, under their own ids.
        let feed = session.as_mut().map(|s| s.feed(true));
        let alerting = self
            .alerts
            .as_ref()
            .filter(|_| !canary)
            .map(|a| a.observer(WindowCounting::SkipForwarded, source.modified_ms));
        let store = self.lake.clone();
        let manifest_key = keys.manifest.clone();
        let checkpoint_key = keys.checkpoint.clone();
        let indexing = session.is_some();
        let (progress, lake_done, fed, (alerting, fresh), from) =
            tokio::task::spawn_blocking(move || {
                // The lake already has this exact object (a message coming back
                // after its indexing failed): parse again for the index only.
                let lake_done = run.redelivery
                    && indexing
                    && lake_complete(store.as_ref(), &manifest_key, &source.identity)?;
                let discard = NullStore;
                let target: &dyn OutputStore = if lake_done { &discard } else { store.as_ref() };
                let mut opts = opts;
                // A paused ingest of this upload continues where it stopped; a
                // checkpoint that cannot be read fails the object rather than
                // start a long object over and over.
                let resume = if run.redelivery && !lake_done {
                    read_checkpoint(store.as_ref(), &checkpoint_key, &source.identity, &opts)
                        .map_err(|e| loglake_core::Error::read(&checkpoint_key, e))?
                } else {
                    opts.stop_by = None;
                    None
                };
                let from = resume.as_ref().map_or(0, |c| c.segment);
                let mut feed = feed;
                let mut alerting = alerting;
                let mut fresh = crate::freshness::Freshness::new(crate::now_ms());
                let p = ingest_resumable(
                    source,
                    target,
                    &opts,
                    &mut (&mut feed, (&mut alerting, &mut fresh)),
                    resume.as_ref(),
                );
                // Finishing the feed sends its last bulk and closes the channel.
                let fed = feed.map(|f| f.finish());
                p.map(|p| (p, lake_done, fed, (alerting, fresh), from))
            })
            .await
            .map_err(|_| ObjectError::Panicked(uri.clone()))?
            .map_err(|source| ObjectError::Ingest {
                uri: uri.clone(),
                source,
            })?;
        let (manifest, checkpoint) = match progress {
            Progress::Done(m) => (m, None),
            Progress::Paused(c) => (c.manifest.clone(), Some(c)),
        };
        // What a run from a checkpoint feeds the sinks is named apart from
        // the runs before it, so it adds to theirs instead of replacing them.
        let part = match from {
            0 => manifest.source.id.clone(),
            n => format!("{}-s{n:04}", manifest.source.id),
        };
        let now = crate::now_ms();
        if let Some(c) = &checkpoint {
            info!(
                segments_done = c.segment,
                rows_so_far = c.manifest.rows_out,
                "object paused at a segment boundary"
            );
        } else if !lake_done {
            // CloudWatch Embedded Metric Format: a metric from a log line.
            println!(
                "{}",
                loglake_core::metrics::emf(&self.settings.function_name, &manifest, now)
            );
            // Event time to Parquet written (the freshness alarm's metric).
            if let Some(line) = fresh.emf(&self.settings.function_name, now) {
                println!("{line}");
            }
        }
        info!(
            lines_in = manifest.lines_in,
            rows_out = manifest.rows_out,
            quarantined = manifest.quarantined,
            outcome = ?manifest.outcome,
            lake = if lake_done { "already complete" } else { "written" },
            "object ingested"
        );
        if !lake_done && let Some(obs) = &alerting {
            // Business metrics per service (EMF), for what this run counted.
            for line in obs.business_emf(&self.settings.function_name, now) {
                println!("{line}");
            }
        }
        let delivered =
            match (&self.alerts, alerting) {
                (Some(sink), Some(obs)) => Some(sink.deliver(&part, obs).await.map_err(
                    |source| ObjectError::Alerts {
                        uri: uri.clone(),
                        source,
                    },
                )?),
                _ => None,
            };
        let Some(session) = session else {
            return self
                .done(manifest, checkpoint, &keys, None, delivered)
                .await;
        };
        let dlq = DeadLetters {
            store: self.lake.clone(),
            name: match from {
                0 => keys.name.clone(),
                n => format!("{}-s{n:04}", keys.name),
            },
            at_ms: manifest
                .source
                .modified
                .as_deref()
                .and_then(loglake_core::time::parse_iso8601),
        };
        let indexed = session
            .settle(fed.unwrap_or_default(), dlq)
            .await
            .map_err(|source| ObjectError::Ingest {
                uri: uri.clone(),
                source,
            })?;
        println!("{}", indexed.emf("fn-ingest", &uri, now));
        match indexed.failure {
            Some(reason) if indexed.counts.failed > 0 => Err(ObjectError::Search {
                uri,
                failed: indexed.counts.failed,
                reason,
            }),
            _ => {
                self.done(manifest, checkpoint, &keys, Some(indexed.counts), delivered)
                    .await
            }
        }
    }

    /// The object's answer once its sinks have what it fed them: a paused
    /// one keeps its checkpoint now, and not before, so a failure anywhere
    /// before this point redoes the segments from the previous one.
    async fn done(
        &self,
        manifest: Manifest,
        checkpoint: Option<loglake_core::Checkpoint>,
        keys: &loglake_core::ingest::Keys,
        search: Option<SearchCounts>,
        alerts: Option<Delivered>,
    ) -> Result<Done, ObjectError> {
        let Some(c) = checkpoint else {
            return Ok(Done::Ingested {
                manifest: Box::new(manifest),
                manifest_key: keys.manifest.clone(),
                search,
                alerts,
            });
        };
        let store = self.lake.clone();
        let k = keys.checkpoint.clone();
        let segment = c.segment;
        tokio::task::spawn_blocking(move || write_checkpoint(store.as_ref(), &k, &c))
            .await
            .map_err(|_| ObjectError::Panicked(manifest.source.uri.clone()))?
            .map_err(|source| ObjectError::Ingest {
                uri: manifest.source.uri.clone(),
                source,
            })?;
        Ok(Done::Paused {
            uri: manifest.source.uri,
            segment,
        })
    }
}
