//! fn-ingest: S3 objects into the lake. The handler decodes whichever event
//! shape arrived (core's `events`), streams each object through core's
//! pipeline into the curated bucket, and reports per SQS message, so one bad
//! object never fails or re-runs the others.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use loglake_aws::alerts::{AlertConfig, AlertError, AlertStore, Counting, Delivered};
use loglake_aws::search::{SearchClient, SearchConfig, index_all};
use loglake_aws::{ReadError, S3Store, open_object};
use loglake_core::events::{self, Invocation, ObjectRef, Skip, Work};
use loglake_core::manifest::Outcome;
use loglake_core::pipeline::Keys;
use loglake_core::redact::RedactOptions;
use loglake_core::search::{
    Bulk, Feed, SearchCounts, SearchOptions, dead_letter_key, write_dead_letters,
};
use loglake_core::store::NullStore;
use loglake_core::{Format, IngestOptions, Manifest, OutputStore, Source};
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tracing::{Instrument, error, info, info_span, warn};

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CURATED_BUCKET`: where the lake is written.
    pub curated_bucket: String,
    /// `CURATED_PREFIX`: a prefix inside it (default none): `logs/`,
    /// `quarantine/` and `_manifests/` go below it.
    pub curated_prefix: String,
    /// `FORMAT_BY_PREFIX`: `alb/=alb,cloudfront/=cloudfront`: the format of
    /// objects under a key prefix, instead of sniffing.
    pub format_by_prefix: Vec<(String, Format)>,
    /// `SERVICE_FROM_KEY` (default true): records without a service get the
    /// first segment of the object key (`checkout/2024/...` -> `checkout`).
    pub service_from_key: bool,
    /// `MEMORY_BUDGET_MB` (default 64): buffered rows across partitions.
    pub memory_budget_mb: usize,
    /// `MAX_LINE_BYTES` (default 1048576).
    pub max_line_bytes: usize,
    /// `REDACT` (default `cards`): PII masked before the lake and the index:
    /// any of `cards`, `emails`, `ips`, or `none`.
    pub redact: RedactOptions,
    /// `SEARCH_ENDPOINT` and the other `SEARCH_*` settings: index every
    /// row into OpenSearch as well (off when unset).
    pub search: Option<SearchConfig>,
    /// `ALERT_RULES`, `ALERT_WINDOWS_TABLE`, `ALERT_STATE_TABLE`,
    /// `ALERT_TOPIC_ARN`: per-minute window contributions for fn-alerts, and
    /// instant alerts (off when `ALERT_RULES` is unset).
    pub alerts: Option<AlertConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid environment variable {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

fn env_or(name: &'static str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn env_num(name: &'static str, default: usize) -> Result<usize, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            message: format!("{v:?} is not a whole number"),
        }),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let curated_bucket = std::env::var("CURATED_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::Missing("CURATED_BUCKET"))?;
        let mut format_by_prefix = Vec::new();
        for pair in env_or("FORMAT_BY_PREFIX", "")
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (prefix, fmt) = pair.split_once('=').ok_or_else(|| ConfigError::Invalid {
                name: "FORMAT_BY_PREFIX",
                message: format!("{pair:?} is not prefix=format"),
            })?;
            let fmt = fmt
                .trim()
                .parse::<Format>()
                .map_err(|message| ConfigError::Invalid {
                    name: "FORMAT_BY_PREFIX",
                    message,
                })?;
            format_by_prefix.push((prefix.trim().to_string(), fmt));
        }
        let service_from_key = match env_or("SERVICE_FROM_KEY", "true").as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => {
                return Err(ConfigError::Invalid {
                    name: "SERVICE_FROM_KEY",
                    message: format!("{other:?} is not true or false"),
                });
            }
        };
        let redact = RedactOptions::parse(&env_or("REDACT", "cards")).map_err(|message| {
            ConfigError::Invalid {
                name: "REDACT",
                message,
            }
        })?;
        let search = SearchConfig::from_env().map_err(|message| ConfigError::Invalid {
            name: "SEARCH_*",
            message,
        })?;
        let alerts = AlertConfig::from_env().map_err(|message| ConfigError::Invalid {
            name: "ALERT_*",
            message,
        })?;
        if alerts.as_ref().is_some_and(|a| a.windows_table.is_none()) {
            return Err(ConfigError::Missing("ALERT_WINDOWS_TABLE"));
        }
        Ok(Config {
            curated_bucket,
            curated_prefix: env_or("CURATED_PREFIX", ""),
            format_by_prefix,
            service_from_key,
            memory_budget_mb: env_num("MEMORY_BUDGET_MB", 64)?,
            max_line_bytes: env_num("MAX_LINE_BYTES", 1 << 20)?,
            redact,
            search,
            alerts,
        })
    }

    /// The pipeline options for one object key.
    pub fn options_for(&self, key: &str) -> IngestOptions {
        let budget = self.memory_budget_mb.max(4) << 20;
        IngestOptions {
            format: self
                .format_by_prefix
                .iter()
                .find(|(p, _)| key.starts_with(p.as_str()))
                .map(|(_, f)| *f),
            default_service: self
                .service_from_key
                .then(|| key.split_once('/').map(|(first, _)| first.to_string()))
                .flatten()
                .filter(|s| !s.is_empty()),
            memory_budget: budget,
            row_group_bytes: budget * 3 / 8,
            max_line_bytes: self.max_line_bytes,
            redact: self.redact,
            lake: loglake_core::lake::LakeOptions {
                // Each open file holds up to one 5 MiB upload part.
                max_open_files: 8,
                ..Default::default()
            },
            ..IngestOptions::default()
        }
    }
}

/// What the function holds between invocations: clients built once.
#[derive(Debug, Clone)]
pub struct App {
    pub s3: aws_sdk_s3::Client,
    /// Present when `config.search` is.
    pub search: Option<SearchClient>,
    /// Present when `config.alerts` is.
    pub alerts: Option<AlertStore>,
    pub config: Config,
}

impl App {
    /// The function's clients, built once from the shared AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Result<App, ConfigError> {
        let search = match &config.search {
            None => None,
            Some(s) => Some(s.client(aws).map_err(|e| ConfigError::Invalid {
                name: "SEARCH_ENDPOINT",
                message: e.to_string(),
            })?),
        };
        Ok(App {
            s3: loglake_aws::s3_client(aws),
            search,
            alerts: config.alerts.clone().map(|a| AlertStore::new(aws, a)),
            config,
        })
    }
}

/// How long an invocation may take when the caller gives no deadline.
const DEFAULT_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Why one object (or one SQS message) failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Event(#[from] events::EventError),
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

/// What happened to one object.
#[derive(Debug)]
pub enum Done {
    Ingested(Box<Manifest>, Option<SearchCounts>, Option<Delivered>),
    Skipped(String),
}

/// What one object's run needs besides the object.
#[derive(Debug, Clone, Copy)]
struct Run {
    deadline: Instant,
    /// Delivered through SQS, where a failed message comes back: when the
    /// lake already holds this exact object, only the index is redone.
    /// Direct invocations (replays) always rewrite.
    redelivery: bool,
}

impl App {
    /// Handle one invocation. SQS batches answer with `batchItemFailures`;
    /// other invocations fail as a whole if any object failed.
    pub async fn handle(&self, event: Value) -> Result<Value, lambda_runtime::Error> {
        self.handle_until(event, Instant::now() + DEFAULT_BUDGET)
            .await
    }

    /// [`App::handle`] with the invocation's deadline, which bounds the
    /// search sink's retries.
    pub async fn handle_until(
        &self,
        event: Value,
        deadline: Instant,
    ) -> Result<Value, lambda_runtime::Error> {
        match events::classify(&event)? {
            Invocation::Sqs(messages) => {
                let mut failures = Vec::new();
                for m in messages {
                    let span = info_span!("message", message_id = %m.message_id);
                    let ok = async {
                        match events::work_in_body(&m.body) {
                            Ok(work) => {
                                let run = Run {
                                    deadline,
                                    redelivery: true,
                                };
                                self.run_all(work, run).await.is_ok()
                            }
                            Err(e) => {
                                error!(error = %e, "message is not an event we know; left for the dead-letter queue");
                                false
                            }
                        }
                    }
                    .instrument(span)
                    .await;
                    if !ok {
                        let mut f = BatchItemFailure::default();
                        f.item_identifier = m.message_id;
                        failures.push(f);
                    }
                }
                let mut r = SqsBatchResponse::default();
                r.batch_item_failures = failures;
                Ok(serde_json::to_value(r)?)
            }
            Invocation::Direct(work) => {
                let run = Run {
                    deadline,
                    redelivery: false,
                };
                let done = self.run_all(work, run).await?;
                Ok(json!({ "objects": done }))
            }
        }
    }

    /// Every object of one event; the first failure is returned after the
    /// rest were tried.
    async fn run_all(&self, work: Vec<Work>, run: Run) -> Result<Vec<Value>, ObjectError> {
        let mut summary = Vec::new();
        let mut first_err = None;
        for w in work {
            match self.run(w, run).await {
                Ok(Done::Ingested(m, search, alerts)) => summary.push(json!({
                    "source": m.source.uri, "lines_in": m.lines_in, "rows_out": m.rows_out,
                    "quarantined": m.quarantined, "outcome": m.outcome,
                    "redacted": m.redacted, "search": search, "alerts": alerts,
                })),
                Ok(Done::Skipped(why)) => summary.push(json!({ "skipped": why })),
                Err(e) => {
                    error!(error = %e, "object failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }

    async fn run(&self, w: Work, run: Run) -> Result<Done, ObjectError> {
        let obj = match w {
            Work::Ingest(o) => o,
            Work::Skip(s) => {
                let why = match s {
                    Skip::TestEvent => "s3:TestEvent".to_string(),
                    Skip::FolderMarker(u) => format!("folder marker {u}"),
                    Skip::Empty(u) => format!("empty object {u}"),
                    Skip::NotCreated(u) => format!("not an object creation: {u}"),
                };
                info!(reason = %why, "skipped");
                return Ok(Done::Skipped(why));
            }
        };
        let span = info_span!("object", bucket = %obj.bucket, key = %obj.key, size = obj.size);
        self.ingest_object(obj, run).instrument(span).await
    }

    /// Stream one object through the pipeline into the curated bucket, and
    /// into the search index when one is configured.
    async fn ingest_object(&self, obj: ObjectRef, run: Run) -> Result<Done, ObjectError> {
        let opened = match open_object(&self.s3, &obj).await {
            Ok(o) => o,
            Err(ReadError::NotFound { .. }) => {
                warn!("object no longer exists; skipped");
                return Ok(Done::Skipped(format!("no such key {}", obj.uri())));
            }
            Err(e) => return Err(e.into()),
        };
        let uri = obj.uri();
        // Same object, same identity: a redelivered event overwrites.
        let version = opened
            .version_id
            .clone()
            .or_else(|| obj.version_id.clone())
            .map(|v| format!("version={v}"))
            .or_else(|| {
                opened
                    .etag
                    .clone()
                    .or_else(|| obj.etag.clone())
                    .map(|e| format!("etag={e}"))
            })
            .unwrap_or_default();
        let source = Source {
            identity: format!("{uri}#{version}"),
            name: obj.key.clone(),
            size: opened.size.or(obj.size),
            modified_ms: opened.last_modified_ms,
            uri: uri.clone(),
            reader: Box::new(opened.reader),
        };
        let opts = self.config.options_for(&obj.key);
        let store = S3Store::new(
            self.s3.clone(),
            self.config.curated_bucket.clone(),
            self.config.curated_prefix.clone(),
            Handle::current(),
        );
        let search = self.search.clone().zip(self.config.search.clone());
        let (tx, indexer) = match &search {
            Some((client, cfg)) => {
                let (tx, rx) = mpsc::channel::<Bulk>(cfg.concurrency);
                let task = tokio::spawn(index_all(
                    client.clone(),
                    rx,
                    run.deadline,
                    cfg.index_options(),
                ));
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        // Records fn-stream forwarded through Firehose were indexed by it,
        // within seconds of arriving, under their own ids.
        let search_opts = search.as_ref().map(|(_, c)| SearchOptions {
            skip_normalized: true,
            ..c.options.clone()
        });
        let task_uri = uri.clone();
        let keys = Keys::new(&opts, &source.name, &source.identity, source.modified_ms);
        let blocking_keys = keys.clone();
        let alert_obs = self
            .alerts
            .as_ref()
            // Records fn-stream forwarded through Firehose were counted
            // there, within seconds of arriving.
            .map(|a| a.observer(Counting::SkipForwarded));
        let (manifest, lake_done, fed, alert_obs) = tokio::task::spawn_blocking(move || {
            // The lake already has this exact object (a message coming back
            // after its indexing failed): parse again for the index only.
            let lake_done = run.redelivery
                && tx.is_some()
                && lake_complete(&store, &blocking_keys.manifest, &source.identity);
            let discard = NullStore;
            let target: &dyn OutputStore = if lake_done { &discard } else { &store };
            let mut feed = tx.zip(search_opts).map(|(tx, so)| {
                Feed::new(so, move |b| {
                    // The indexer drains until the end, so this only fails
                    // if it panicked; its report says so.
                    let _ = tx.blocking_send(b);
                })
            });
            let mut alerts = alert_obs;
            let m =
                loglake_core::ingest_observed(source, target, &opts, &mut (&mut feed, &mut alerts));
            // Finishing the feed sends its last bulk and closes the channel.
            let fed = feed.map(Feed::finish);
            m.map(|m| (m, lake_done, fed, alerts))
        })
        .await
        .map_err(|_| ObjectError::Panicked(task_uri))?
        .map_err(|source| ObjectError::Ingest {
            uri: uri.clone(),
            source,
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let report = match indexer {
            Some(task) => Some(task.await.map_err(|_| ObjectError::Panicked(uri.clone()))?),
            None => None,
        };
        if !lake_done {
            // CloudWatch Embedded Metric Format: a metric from a log line.
            println!(
                "{}",
                loglake_core::metrics::emf("fn-ingest", &manifest, now)
            );
        }
        info!(
            lines_in = manifest.lines_in,
            rows_out = manifest.rows_out,
            quarantined = manifest.quarantined,
            outcome = ?manifest.outcome,
            lake = if lake_done { "already complete" } else { "written" },
            "object ingested"
        );
        let delivered = match (&self.alerts, alert_obs) {
            (Some(store), Some(obs)) => Some(
                store
                    .deliver(&manifest.source.id, obs)
                    .await
                    .map_err(|source| ObjectError::Alerts {
                        uri: uri.clone(),
                        source,
                    })?,
            ),
            _ => None,
        };
        let Some(mut report) = report else {
            return Ok(Done::Ingested(Box::new(manifest), None, delivered));
        };
        let fed = fed.unwrap_or_default();
        report.counts.docs = fed.docs;
        report.counts.filtered = fed.filtered;
        // Every document fed is accounted for; one that never reached the
        // indexer (it stopped early) counts as failed.
        let seen = report.counts.indexed
            + report.counts.already_indexed
            + report.counts.dead_lettered
            + report.counts.failed;
        if seen < fed.docs {
            report.counts.failed += fed.docs - seen;
            report
                .failure
                .get_or_insert_with(|| "the indexer stopped before every document was sent".into());
        }
        if let Some(cfg) = &self.config.search
            && !report.dead_letters.is_empty()
        {
            let key = dead_letter_key(
                &cfg.dead_letter_prefix,
                manifest
                    .source
                    .modified
                    .as_deref()
                    .and_then(loglake_core::time::parse_iso8601),
                &keys.name,
            );
            let store = S3Store::new(
                self.s3.clone(),
                self.config.curated_bucket.clone(),
                self.config.curated_prefix.clone(),
                Handle::current(),
            );
            let letters = std::mem::take(&mut report.dead_letters);
            let n = letters.len();
            let k = key.clone();
            tokio::task::spawn_blocking(move || write_dead_letters(&store, &k, &letters))
                .await
                .map_err(|_| ObjectError::Panicked(uri.clone()))?
                .map_err(|source| ObjectError::Ingest {
                    uri: uri.clone(),
                    source,
                })?;
            warn!(
                key,
                documents = n,
                "documents refused by the search cluster"
            );
        }
        println!("{}", search_emf(&uri, &report.counts, now));
        info!(
            indexed = report.counts.indexed,
            already_indexed = report.counts.already_indexed,
            dead_lettered = report.counts.dead_lettered,
            failed = report.counts.failed,
            requests = report.counts.requests,
            "object indexed"
        );
        match report.failure {
            Some(reason) if report.counts.failed > 0 => Err(ObjectError::Search {
                uri,
                failed: report.counts.failed,
                reason,
            }),
            _ => Ok(Done::Ingested(
                Box::new(manifest),
                Some(report.counts),
                delivered,
            )),
        }
    }
}

/// Whether the lake holds a complete ingest of exactly this source: its
/// manifest is written last, after every output was committed.
fn lake_complete(store: &dyn OutputStore, manifest_key: &str, identity: &str) -> bool {
    store
        .get(manifest_key)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .is_some_and(|m| m.source.identity == identity && m.outcome == Outcome::Complete)
}

/// The search sink's EMF line: indexed, already indexed, refused, failed.
fn search_emf(uri: &str, c: &SearchCounts, now_ms: i64) -> String {
    let metrics = ["Indexed", "AlreadyIndexed", "DeadLettered", "IndexFailed"];
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": "loglake",
                "Dimensions": [["function"]],
                "Metrics": metrics.iter().map(|n| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "function": "fn-ingest",
        "source": uri,
        "Indexed": c.indexed,
        "AlreadyIndexed": c.already_indexed,
        "DeadLettered": c.dead_lettered,
        "IndexFailed": c.failed,
    })
    .to_string()
}
