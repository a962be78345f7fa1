//! fn-stream: Kinesis records into normalized NDJSON on a Firehose delivery
//! stream (which lands gzip batches in the raw bucket, where fn-ingest makes
//! them Parquet). Every line is parsed and normalized by core, exactly as in
//! files; lines that cannot be are quarantined in S3 with their Kinesis
//! coordinates. The response names the first record that could not be
//! forwarded, so Lambda retries from there.

use std::time::Instant;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use loglake_aws::S3Store;
use loglake_aws::put::{Backoff, BatchPut, put_all};
use loglake_aws::search::{IndexOptions, SearchClient, SearchConfig, index_all};
use loglake_core::IngestOptions;
use loglake_core::alerts::Windows;
use loglake_core::input::{Line, LineKind};
use loglake_core::pipeline::{Finisher, Origin};
use loglake_core::quarantine::{self, Quarantine};
use loglake_core::record::{Record, Reject, SourceFormat};
use loglake_core::redact::{RedactCounts, RedactOptions, Redactor};
use loglake_core::search::{Bulk, Feed, SearchCounts, dead_letter_key, write_dead_letters};
use loglake_core::stream::{self, FIREHOSE_MAX_RECORD, RecordData};
use tokio::runtime::Handle;
use tracing::{error, info, warn};

use loglake_aws::alerts::{AlertConfig, AlertStore, Counting};
pub use loglake_core::pipeline::{NoObserver, Observer};

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DELIVERY_STREAM`: the Firehose delivery stream to forward to.
    pub delivery_stream: String,
    /// `CURATED_BUCKET` / `CURATED_PREFIX`: where the quarantine goes.
    pub curated_bucket: String,
    pub curated_prefix: String,
    /// `MAX_LINE_BYTES` (default 1048576).
    pub max_line_bytes: usize,
    /// `REDACT` (default `cards`): PII masked before anything is forwarded.
    pub redact: RedactOptions,
    /// `SEARCH_ENDPOINT` and the other `SEARCH_*` settings: index each
    /// record within seconds of its arrival (off when unset).
    pub search: Option<SearchConfig>,
    /// `ALERT_RULES`, `ALERT_WINDOWS_TABLE`, `ALERT_STATE_TABLE`,
    /// `ALERT_TOPIC_ARN`: window counts and instant alerts within seconds.
    /// (fn-ingest does not count these records again when Firehose lands
    /// them.) Without a windows table, instant alerts only.
    pub alerts: Option<AlertConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid environment variable {0}: {1}")]
    Invalid(&'static str, String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let need = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let max_line_bytes = match std::env::var("MAX_LINE_BYTES") {
            Err(_) => 1 << 20,
            Ok(v) => v.trim().parse().map_err(|_| {
                ConfigError::Invalid("MAX_LINE_BYTES", format!("{v:?} is not a whole number"))
            })?,
        };
        let redact =
            RedactOptions::parse(&std::env::var("REDACT").unwrap_or_else(|_| "cards".into()))
                .map_err(|e| ConfigError::Invalid("REDACT", e))?;
        let search = SearchConfig::from_env().map_err(|e| ConfigError::Invalid("SEARCH_*", e))?;
        let alerts = AlertConfig::from_env().map_err(|e| ConfigError::Invalid("ALERT_*", e))?;
        Ok(Config {
            delivery_stream: need("DELIVERY_STREAM")?,
            curated_bucket: need("CURATED_BUCKET")?,
            curated_prefix: std::env::var("CURATED_PREFIX").unwrap_or_default(),
            max_line_bytes,
            redact,
            search,
            alerts,
        })
    }
}

/// Clients built once, and the settings.
#[derive(Debug, Clone)]
pub struct App<F> {
    pub firehose: F,
    pub s3: aws_sdk_s3::Client,
    /// Present when `config.search` is.
    pub search: Option<SearchClient>,
    /// Present when `config.alerts` is.
    pub alerts: Option<AlertStore>,
    pub config: Config,
    pub backoff: Backoff,
}

/// A line that could not become a record, with where it came from.
struct Bad {
    uri: String,
    line: Line,
    raw: Vec<u8>,
    reject: Reject,
}

/// What one invocation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub lines: u64,
    pub forwarded: u64,
    pub quarantined: u64,
    pub redacted: RedactCounts,
    /// What the search sink did, when one is configured.
    pub search: Option<SearchCounts>,
    /// Instant alerts published.
    pub instant_alerts: u64,
    /// Window contribution items written (one per minute the batch spans).
    pub window_items: u64,
    /// The alert store could not be written (logged; the batch succeeds).
    pub alerts_failed: bool,
}

/// A line's place within a stream record: its 1-based number (0 for the
/// record as a whole); a record has no byte offsets worth keeping.
fn record_line(number: u64, kind: LineKind) -> Line {
    Line {
        start: 0,
        end: 0,
        offset: 0,
        number,
        kind,
    }
}

fn shard_of(r: &KinesisEventRecord) -> &str {
    r.event_id
        .as_deref()
        .and_then(|id| id.split_once(':').map(|(s, _)| s))
        .unwrap_or("unknown-shard")
}

fn stream_of(r: &KinesisEventRecord) -> &str {
    r.event_source_arn
        .as_deref()
        .and_then(|arn| arn.rsplit_once('/').map(|(_, s)| s))
        .unwrap_or("unknown-stream")
}

fn coordinates(r: &KinesisEventRecord) -> String {
    format!(
        "kinesis://{}/{}/{}",
        stream_of(r),
        shard_of(r),
        r.kinesis.sequence_number
    )
}

impl App<loglake_aws::put::Firehose> {
    /// The function's clients, built once from the shared AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let search = match &config.search {
            None => None,
            Some(s) => Some(
                s.client(aws)
                    .map_err(|e| ConfigError::Invalid("SEARCH_ENDPOINT", e.to_string()))?,
            ),
        };
        Ok(App {
            firehose: loglake_aws::put::Firehose {
                client: aws_sdk_firehose::Client::new(aws),
                stream: config.delivery_stream.clone(),
            },
            s3: loglake_aws::s3_client(aws),
            search,
            alerts: config.alerts.clone().map(|a| AlertStore::new(aws, a)),
            config,
            backoff: Backoff::default(),
        })
    }
}

impl<F: BatchPut + Sync> App<F> {
    /// Normalize, quarantine and forward one batch of Kinesis records.
    pub async fn handle(
        &self,
        event: KinesisEvent,
        deadline: Instant,
        observer: &mut dyn Observer,
    ) -> Result<(KinesisEventResponse, Summary), lambda_runtime::Error> {
        let mut summary = Summary {
            records: event.records.len(),
            ..Summary::default()
        };
        // Firehose records, each tagged with the Kinesis record it came from.
        let mut out: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut bad: Vec<Bad> = Vec::new();
        let opts = IngestOptions {
            max_line_bytes: self.config.max_line_bytes,
            ..IngestOptions::default()
        };
        let mut redactor = Redactor::new(self.config.redact);
        let mut bulks = Vec::new();
        let mut feed = self
            .config
            .search
            .as_ref()
            .filter(|_| self.search.is_some())
            .map(|c| Feed::new(c.options.clone(), |b| bulks.push(b)));
        // Window counts happen here, within seconds, for exactly the records
        // forwarded (fn-ingest skips them when Firehose lands them).
        let mut alerting = self.alerts.as_ref().map(|a| a.observer(Counting::All));
        for (i, r) in event.records.iter().enumerate() {
            let data = &r.kinesis.data.0;
            let uri = coordinates(r);
            let arrival = r.kinesis.approximate_arrival_timestamp.0.timestamp_millis();
            let whole = |reject| Bad {
                uri: uri.clone(),
                line: record_line(0, LineKind::Complete),
                raw: data
                    .iter()
                    .take(self.config.max_line_bytes)
                    .copied()
                    .collect(),
                reject,
            };
            let lines = match stream::decode_record(data) {
                Ok(RecordData::Control) => continue,
                Ok(RecordData::Lines(l)) => l,
                Err(reject) => {
                    summary.lines += 1;
                    bad.push(whole(reject));
                    continue;
                }
            };
            let mut ndjson = Vec::new();
            // One record's lines are one run: a line without a time (a
            // stack-trace continuation) takes the time of the line before.
            let mut finisher = Finisher::new(&opts, Some(arrival));
            for l in &lines {
                summary.lines += 1;
                let line = record_line(
                    l.index + 1,
                    if l.bytes.len() > self.config.max_line_bytes {
                        LineKind::Oversized {
                            len: l.bytes.len() as u64,
                        }
                    } else {
                        LineKind::Complete
                    },
                );
                let result = if line.kind != LineKind::Complete {
                    Err(Reject::OversizedLine)
                } else {
                    match std::str::from_utf8(&l.bytes) {
                        Err(_) => Err(Reject::InvalidUtf8),
                        Ok(text) => {
                            let mut rec = Record::default();
                            stream::parse_line(text, &mut rec).and_then(|fmt| {
                                for (k, v) in &l.attributes {
                                    rec.attr(*k, v.as_str());
                                }
                                // CloudWatch recorded when the event happened:
                                // that is its time when the message names none.
                                if rec.ts.is_none() {
                                    rec.ts = l.event_ms;
                                }
                                let ts = finisher.finish(&mut rec)?;
                                redactor.apply(&mut rec);
                                let fmt = if l.event_ms.is_some() {
                                    SourceFormat::Cwlogs
                                } else {
                                    fmt
                                };
                                // The record's coordinates and the line's
                                // index name it: a retried batch has both.
                                let origin = Origin {
                                    identity: &uri,
                                    uri: &uri,
                                    line: l.index + 1,
                                    position: l.index,
                                };
                                if let Some(f) = feed.as_mut() {
                                    f.add(&rec, ts, fmt, &origin);
                                }
                                alerting.observe(&rec, ts, fmt, &origin);
                                observer.observe(&rec, ts, fmt, &origin);
                                let mut buf = Vec::new();
                                stream::write_ndjson(&rec, ts, fmt, &mut buf);
                                Ok(buf)
                            })
                        }
                    }
                };
                match result {
                    Ok(buf) => ndjson.push(buf),
                    Err(reject) => bad.push(Bad {
                        uri: uri.clone(),
                        raw: l
                            .bytes
                            .iter()
                            .take(self.config.max_line_bytes)
                            .copied()
                            .collect(),
                        line,
                        reject,
                    }),
                }
            }
            let (records, too_big) = stream::pack_lines(&ndjson, FIREHOSE_MAX_RECORD);
            summary.forwarded += (ndjson.len() - too_big.len()) as u64;
            for j in too_big {
                bad.push(Bad {
                    uri: uri.clone(),
                    line: record_line(
                        0,
                        LineKind::Oversized {
                            len: ndjson[j].len() as u64,
                        },
                    ),
                    raw: ndjson[j][..self.config.max_line_bytes.min(ndjson[j].len())].to_vec(),
                    reject: Reject::OversizedLine,
                });
            }
            out.extend(records.into_iter().map(|rec| (i, rec)));
        }
        summary.quarantined = bad.len() as u64;
        summary.redacted = redactor.counts();
        let fed = feed.map(Feed::finish);
        if let Some(first) = event.records.first()
            && !bad.is_empty()
        {
            self.quarantine(first, event.records.last().unwrap_or(first), bad)
                .await?;
        }

        let records: Vec<Vec<u8>> = out.iter().map(|(_, r)| r.clone()).collect();
        let mut response = KinesisEventResponse::default();
        // Kinesis records before this one reached Firehose; Lambda retries
        // the batch from it.
        let mut forwarded_before = event.records.len();
        match put_all(&self.firehose, &records, deadline, self.backoff).await {
            Ok(stats) => info!(
                records = summary.records,
                lines = summary.lines,
                quarantined = summary.quarantined,
                firehose_calls = stats.calls,
                retried = stats.retried,
                "batch forwarded"
            ),
            Err(e) => {
                forwarded_before = out[e.first_failed].0;
                let failed = &event.records[forwarded_before];
                error!(error = %e, sequence = %failed.kinesis.sequence_number, "batch not fully forwarded; retrying from the first failed record");
                let mut f = KinesisBatchItemFailure::default();
                f.item_identifier = Some(failed.kinesis.sequence_number.clone());
                response.batch_item_failures.push(f);
            }
        }
        if let (Some(store), Some(mut seen), Some(first)) =
            (&self.alerts, alerting, event.records.first())
        {
            if forwarded_before < event.records.len() {
                // The retry counts the rest: count what was forwarded only.
                seen.windows = recount(store, &out, forwarded_before, &opts);
            }
            // The batch's first record names its window items, so a retried
            // batch overwrites them. Not worth failing the batch for (that
            // would forward it to Firehose twice): a failure is logged, its
            // window counts are lost, and its instant alerts are claimed
            // again when fn-ingest reads the records back.
            match store.deliver(&coordinates(first), seen).await {
                Ok(d) => {
                    summary.instant_alerts = d.instant_alerts;
                    summary.window_items = d.window_items;
                }
                Err(e) => {
                    summary.alerts_failed = true;
                    error!(error = %e, "alert windows or instant alerts not written for this batch")
                }
            }
        }
        if let (Some(client), Some(cfg), Some(fed), Some(first)) = (
            &self.search,
            &self.config.search,
            fed,
            event.records.first(),
        ) {
            let last = event.records.last().unwrap_or(first);
            summary.search = Some(
                self.index(client, cfg, bulks, fed, first, last, deadline)
                    .await?,
            );
        }
        Ok((response, summary))
    }

    /// Index the batch's documents. This path has no retry of its own (a
    /// failed Kinesis batch would forward its records to Firehose twice),
    /// so documents still not indexed when retries or time run out are
    /// written to the dead-letter prefix with the refused ones: nothing is
    /// lost, and the lake has them either way.
    #[allow(clippy::too_many_arguments)]
    async fn index(
        &self,
        client: &SearchClient,
        cfg: &SearchConfig,
        bulks: Vec<Bulk>,
        fed: SearchCounts,
        first: &KinesisEventRecord,
        last: &KinesisEventRecord,
        deadline: Instant,
    ) -> Result<SearchCounts, lambda_runtime::Error> {
        let (tx, rx) = tokio::sync::mpsc::channel(bulks.len().max(1));
        for b in bulks {
            tx.try_send(b)
                .map_err(|e| format!("queueing a bulk request: {e}"))?;
        }
        drop(tx);
        let opts = IndexOptions {
            keep_failed: true,
            ..cfg.index_options()
        };
        let mut report = index_all(client.clone(), rx, deadline, opts).await;
        report.counts.docs = fed.docs;
        report.counts.filtered = fed.filtered;
        let mut letters = std::mem::take(&mut report.dead_letters);
        letters.append(&mut report.failed_letters);
        if !letters.is_empty() {
            let arrival = first
                .kinesis
                .approximate_arrival_timestamp
                .0
                .timestamp_millis();
            let key = dead_letter_key(
                &cfg.dead_letter_prefix,
                Some(arrival),
                &batch_name(first, last),
            );
            let store = S3Store::new(
                self.s3.clone(),
                self.config.curated_bucket.clone(),
                self.config.curated_prefix.clone(),
                Handle::current(),
            );
            let n = letters.len();
            let k = key.clone();
            tokio::task::spawn_blocking(move || write_dead_letters(&store, &k, &letters)).await??;
            warn!(
                key,
                documents = n,
                reason = report
                    .failure
                    .as_deref()
                    .unwrap_or("refused by the cluster"),
                "documents not indexed, kept as dead letters"
            );
        }
        info!(
            indexed = report.counts.indexed,
            already_indexed = report.counts.already_indexed,
            dead_lettered = report.counts.dead_lettered,
            failed = report.counts.failed,
            "batch indexed"
        );
        Ok(report.counts)
    }

    /// Write the batch's bad lines to `quarantine/dt=.../kinesis-...ndjson.gz`,
    /// named by the batch's first and last sequence numbers so a retried
    /// batch overwrites its own file.
    async fn quarantine(
        &self,
        first: &KinesisEventRecord,
        last: &KinesisEventRecord,
        bad: Vec<Bad>,
    ) -> Result<(), lambda_runtime::Error> {
        let arrival = first
            .kinesis
            .approximate_arrival_timestamp
            .0
            .timestamp_millis();
        let name = batch_name(first, last);
        let key = quarantine::key(
            &IngestOptions::default().quarantine_prefix,
            Some(arrival),
            &name,
        );
        let store = S3Store::new(
            self.s3.clone(),
            self.config.curated_bucket.clone(),
            self.config.curated_prefix.clone(),
            Handle::current(),
        );
        let n = bad.len();
        let k = key.clone();
        let redact = self.config.redact;
        tokio::task::spawn_blocking(move || {
            let mut q = Quarantine::new(&store, k, String::new()).redacting(redact);
            for b in &bad {
                q.add_from(Some(&b.uri), &b.line, &b.raw, &b.reject)?;
            }
            q.finish().map(drop)
        })
        .await??;
        warn!(key, lines = n, "lines quarantined");
        Ok(())
    }
}

/// A batch's output name: its stream, shard, and first and last sequence
/// numbers, so a retried batch overwrites its own files.
fn batch_name(first: &KinesisEventRecord, last: &KinesisEventRecord) -> String {
    format!(
        "kinesis-{}-{}-{}-{}",
        stream_of(first),
        shard_of(first),
        first.kinesis.sequence_number,
        last.kinesis.sequence_number
    )
}

/// Window counts of the forwarded NDJSON of records `..before`, read back as
/// fn-ingest would read it: what reached Firehose, exactly.
fn recount(
    store: &AlertStore,
    out: &[(usize, Vec<u8>)],
    before: usize,
    opts: &IngestOptions,
) -> Windows {
    let mut obs = store.observer(Counting::All);
    let mut finisher = Finisher::new(opts, None);
    for (_, packed) in out.iter().take_while(|(i, _)| *i < before) {
        for line in packed.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            let mut rec = Record::default();
            if stream::parse_line(text, &mut rec).is_ok()
                && let Ok(ts) = finisher.finish(&mut rec)
            {
                obs.windows.observe(&rec, ts);
            }
        }
    }
    obs.windows
}
