//! fn-stream's decisions: Kinesis records into normalized NDJSON on a
//! Firehose delivery stream (which lands gzip batches in the raw bucket,
//! where fn-ingest makes them Parquet). Every line is parsed and finished
//! by core, exactly as in files; lines that cannot be are quarantined with
//! their Kinesis coordinates. The response names the first record that
//! could not be forwarded, so Lambda retries from there.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use loglake_core::ingest::format::stamp::{Context, Zone};
use loglake_core::ingest::format::{json, parse_line, parse_line_with};
use loglake_core::ingest::input::{Line, LineKind};
use loglake_core::ingest::multiline::MultilineLimits;
use loglake_core::ingest::quarantine::{self, Quarantine};
use loglake_core::ingest::source::source_id;
use loglake_core::ingest::{Finisher, Observer, Origin};
use loglake_core::record::{Record, Reject, SourceFormat, event_id};
use loglake_core::redact::{RedactCounts, RedactOptions};
use loglake_core::sinks::alerts::Windows;
use loglake_core::sinks::forward::{self, FIREHOSE_MAX_RECORD};
use loglake_core::sinks::search::SearchCounts;
use loglake_core::triggers::kinesis::{RecordData, decode_record, join_lines};
use loglake_core::{IngestOptions, OutputStore};
use tracing::{error, info, warn};

use crate::alerts::{AlertObserver, AlertSink, WindowCounting};
use crate::effects::Forwarder;
use crate::forward::put_all;
use crate::retry::Backoff;
use crate::search::SearchSink;
use crate::search::session::{DeadLetters, Retry};

mod progress;
use progress::record_mark;
pub use progress::{STREAM_PROGRESS_PREFIX, after_put};

/// How records become lines: the pipeline settings of fn-stream.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub max_line_bytes: usize,
    /// PII masked before anything is forwarded.
    pub redact: RedactOptions,
    /// The zone of text times written without one.
    pub timezone: Zone,
    /// How large a multiline event within one record may grow.
    pub multiline: MultilineLimits,
    /// The function's name in its metrics (the alarms select on it).
    pub function_name: String,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            max_line_bytes: 1 << 20,
            redact: RedactOptions::default(),
            timezone: Zone::Utc,
            multiline: MultilineLimits::default(),
            function_name: "fn-stream".into(),
        }
    }
}

/// fn-stream: the effects it has, and its settings.
#[derive(Clone)]
pub struct Stream {
    /// The Firehose delivery stream.
    pub forwarder: Arc<dyn Forwarder>,
    /// The curated bucket: quarantine and search dead letters.
    pub curated: Arc<dyn OutputStore>,
    pub settings: StreamSettings,
    pub search: Option<SearchSink>,
    /// Window counts and instant alerts within seconds (fn-ingest does not
    /// count these records again when Firehose lands them).
    pub alerts: Option<AlertSink>,
    pub backoff: Backoff,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("settings", &self.settings)
            .field("search", &self.search)
            .field("alerts", &self.alerts)
            .finish()
    }
}

/// Why a batch failed as a whole (Lambda retries all of it).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("quarantining the batch's bad lines: {0}")]
    Quarantine(#[source] loglake_core::Error),
    #[error("the batch's normalizing task failed: {0}")]
    Panicked(String),
    /// The retry note could not be read because the role may not: a
    /// configuration error, which must not pass for "no note".
    #[error("reading the batch's progress note: {0}")]
    ProgressNote(String),
    #[error("{0}")]
    Settings(String),
}

/// A line that could not become a record, with where it came from.
struct Bad {
    uri: String,
    line: Line,
    raw: Vec<u8>,
    reject: Reject,
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub records: usize,
    pub lines: u64,
    /// Lines joined into the multiline event before them.
    pub merged: u64,
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
    /// Documents could be neither indexed nor kept as dead letters (logged;
    /// the batch succeeds, as its records were forwarded).
    pub search_failed: bool,
    /// Firehose records (each holding whole lines) not forwarded, kept
    /// under `stream-dlq/` for a replay.
    pub dead_letter_records: u64,
}

/// Where fn-stream keeps what Firehose did not take, in the curated bucket.
pub const STREAM_DLQ_PREFIX: &str = "stream-dlq";

/// The start of the partition key of every record the HTTP collector puts
/// ([`crate::collect`]): its lines are loglake's normalized NDJSON already,
/// whose `event_id` (the client's idempotency key made an id) and
/// `source_format` are kept, where any other record's would be attributes.
/// Only a producer allowed to `PutRecords` on the stream sets a partition
/// key; what a log line says cannot.
pub const COLLECT_PARTITION_PREFIX: &str = "loglake-collect:";

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
    let mut uri = String::new();
    write_coordinates(r, &mut uri);
    uri
}

/// [`coordinates`] into `uri`, whose room is kept from record to record.
fn write_coordinates(r: &KinesisEventRecord, uri: &mut String) {
    uri.clear();
    for part in [
        "kinesis://",
        stream_of(r),
        "/",
        shard_of(r),
        "/",
        &r.kinesis.sequence_number,
    ] {
        uri.push_str(part);
    }
}

/// When the batch's newest record arrived.
fn newest_arrival(event: &KinesisEvent) -> Option<i64> {
    event.records.iter().map(arrival_ms).max()
}

fn arrival_ms(r: &KinesisEventRecord) -> i64 {
    r.kinesis.approximate_arrival_timestamp.0.timestamp_millis()
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

/// A batch after normalizing, before anything is forwarded.
struct Normalized {
    event: KinesisEvent,
    /// Firehose records, each tagged with the Kinesis record it came from.
    out: Vec<(usize, Vec<u8>)>,
    bad: Vec<Bad>,
    lines: u64,
    merged: u64,
    forwarded: u64,
    redacted: RedactCounts,
    fed: Option<SearchCounts>,
    alerting: Option<AlertObserver>,
    /// Event time to forwarded, per record.
    fresh: crate::freshness::Freshness,
}

impl Stream {
    /// Normalize, quarantine and forward one batch of Kinesis records.
    pub async fn handle(
        &self,
        event: KinesisEvent,
        deadline: Instant,
    ) -> Result<(KinesisEventResponse, BatchSummary), StreamError> {
        crate::alerts::refresh(self.alerts.as_ref())
            .await
            .map_err(StreamError::Settings)?;
        // This path has no retry of its own for the index (a failed batch
        // would forward its records to Firehose twice), so documents not
        // indexed in time are kept as dead letters.
        let mut session = self
            .search
            .as_ref()
            .map(|s| s.session(deadline, Retry::Never));
        let feed = session.as_mut().map(|s| s.feed(false));
        // Window counts happen here, within seconds, for exactly the records
        // forwarded (fn-ingest skips them when Firehose lands them).
        let alerting = self
            .alerts
            .as_ref()
            .map(|a| a.observer(WindowCounting::All, newest_arrival(&event)));
        let settings = self.settings.clone();
        let n = tokio::task::spawn_blocking(move || normalize(event, &settings, feed, alerting))
            .await
            .map_err(|e| StreamError::Panicked(e.to_string()))?;
        let event = &n.event;
        let mut summary = BatchSummary {
            records: event.records.len(),
            lines: n.lines,
            merged: n.merged,
            forwarded: n.forwarded,
            quarantined: n.bad.len() as u64,
            redacted: n.redacted,
            ..BatchSummary::default()
        };
        let (Some(first), Some(last)) = (event.records.first(), event.records.last()) else {
            return Ok((KinesisEventResponse::default(), summary));
        };
        if !n.bad.is_empty() {
            self.quarantine(first, last, n.bad).await?;
        }

        // A retry of a batch that failed part-way: what Firehose took then
        // is not sent again.
        let taken = progress::taken_before(&self.curated, first).await?;
        let sent: Vec<usize> = (0..n.out.len())
            .filter(|&i| {
                taken.is_empty()
                    || !taken.contains(&record_mark(&event.records[n.out[i].0], &n.out[i].1))
            })
            .collect();
        if sent.len() < n.out.len() {
            info!(
                skipped = n.out.len() - sent.len(),
                "records Firehose took before this retry not sent again"
            );
        }
        let records: Vec<&[u8]> = sent.iter().map(|&i| n.out[i].1.as_slice()).collect();
        let bytes: usize = records.iter().map(|r| r.len()).sum();
        let windows = n
            .alerting
            .as_ref()
            .map_or(0, |a| a.windows.contributions().len() + a.instants.len());
        let left = deadline.saturating_duration_since(Instant::now());
        let put_deadline = deadline - after_put(bytes, windows, left);
        let mut response = KinesisEventResponse::default();
        // Kinesis records before this one reached Firehose; Lambda retries
        // the batch from it.
        let mut forwarded_before = event.records.len();
        match put_all(
            self.forwarder.as_ref(),
            &records,
            put_deadline,
            self.backoff,
        )
        .await
        {
            Ok(stats) => {
                info!(
                    records = summary.records,
                    lines = summary.lines,
                    merged = summary.merged,
                    quarantined = summary.quarantined,
                    firehose_calls = stats.calls,
                    retried = stats.retried,
                    "batch forwarded"
                );
                // Event time to forwarded (the freshness alarm's metric).
                if let Some(line) = n.fresh.emf(&self.settings.function_name, crate::now_ms()) {
                    println!("{line}");
                }
            }
            Err(e) => {
                let first_failed = sent[e.first_failed];
                forwarded_before = n.out[first_failed].0;
                let failed = &event.records[forwarded_before];
                error!(error = %e, sequence = %failed.kinesis.sequence_number, "batch not fully forwarded; retrying from the first failed record");
                // Firehose records of the retried Kinesis records that were
                // taken all the same: now, or before this retry.
                let accepted: HashSet<usize> = sent[..e.first_failed]
                    .iter()
                    .chain(e.accepted.iter().map(|&a| &sent[a]))
                    .copied()
                    .chain((0..n.out.len()).filter(|i| !sent.contains(i)))
                    .filter(|&i| n.out[i].0 >= forwarded_before)
                    .collect();
                progress::note_taken(&self.curated, failed, &event.records, &n.out, &accepted)
                    .await;
                // The retries of the event source mapping are finite, and
                // the stream keeps records a day: keep what was not taken
                // where it outlives both (each line with its event_id, so a
                // replay that doubles a retry's work is seen as duplicates).
                let unsent: Vec<Vec<u8>> = (first_failed..n.out.len())
                    .filter(|i| !accepted.contains(i))
                    .map(|i| n.out[i].1.clone())
                    .collect();
                let unsent_count = unsent.len() as u64;
                match self.dead_letters(failed, last, unsent).await {
                    Ok(key) => {
                        summary.dead_letter_records = unsent_count;
                        warn!(key, "records not forwarded kept as stream dead letters");
                        // The metric the stream-dead-letters alarm watches.
                        println!(
                            "{}",
                            loglake_core::metrics::emf_counts(
                                &self.settings.function_name,
                                &[("StreamDeadLetterRecords", summary.dead_letter_records)],
                                crate::now_ms(),
                            )
                        );
                    }
                    Err(err) => error!(error = %err, "stream dead letters not written"),
                }
                let mut f = KinesisBatchItemFailure::default();
                f.item_identifier = Some(failed.kinesis.sequence_number.clone());
                response.batch_item_failures.push(f);
            }
        }
        if let (Some(sink), Some(mut seen)) = (&self.alerts, n.alerting) {
            if forwarded_before < event.records.len() {
                // The retry counts the rest: count what was forwarded only.
                seen.windows = recount(sink, &n.out, forwarded_before, newest_arrival(event));
            }
            // Business metrics per service (EMF), for what was counted.
            for line in seen.business_emf(&self.settings.function_name, crate::now_ms()) {
                println!("{line}");
            }
            // The batch's first record names its window items, so a retried
            // batch overwrites them. Not worth failing the batch for (that
            // would forward it to Firehose twice): a failure is logged, its
            // window counts are lost, and its instant alerts are claimed
            // again when fn-ingest reads the records back.
            match sink.deliver(&coordinates(first), seen).await {
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
        if let Some(session) = session {
            let dlq = DeadLetters {
                store: self.curated.clone(),
                name: batch_name(first, last),
                at_ms: Some(arrival_ms(first)),
            };
            // After the put nothing may fail the batch: Lambda would retry
            // it and forward its records to Firehose again. Documents that
            // could be neither indexed nor kept as dead letters are logged
            // loudly (the records are in Firehose and will be in the lake;
            // `loglake search bulk` re-indexes them).
            match session.settle(n.fed.unwrap_or_default(), dlq).await {
                Ok(indexed) => summary.search = Some(indexed.counts),
                Err(e) => {
                    summary.search_failed = true;
                    error!(error = %e, first = %first.kinesis.sequence_number, last = %last.kinesis.sequence_number,
                        "documents neither indexed nor kept as dead letters; the records were forwarded and reach the lake");
                }
            }
        }
        Ok((response, summary))
    }

    /// Keep Firehose records that could not be forwarded under
    /// `stream-dlq/dt=.../kinesis-...ndjson.gz` in the curated bucket: the
    /// normalized NDJSON, ready for `loglake replay FILE --firehose NAME`.
    async fn dead_letters(
        &self,
        first: &KinesisEventRecord,
        last: &KinesisEventRecord,
        records: Vec<Vec<u8>>,
    ) -> Result<String, loglake_core::Error> {
        let (y, m, d, _) = loglake_core::time::date_hour(arrival_ms(first));
        let key = format!(
            "{STREAM_DLQ_PREFIX}/dt={y:04}-{m:02}-{d:02}/{}.ndjson.gz",
            batch_name(first, last)
        );
        let store = self.curated.clone();
        let k = key.clone();
        tokio::task::spawn_blocking(move || -> Result<(), loglake_core::Error> {
            use std::io::Write as _;
            let write = |e: std::io::Error| loglake_core::Error::write(&k, e);
            let file = store.create(&k).map_err(write)?;
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            for r in &records {
                gz.write_all(r).map_err(write)?;
            }
            gz.finish()
                .map_err(write)?
                .commit()
                .map(drop)
                .map_err(write)
        })
        .await
        .map_err(|e| loglake_core::Error::Thread(e.to_string()))??;
        Ok(key)
    }

    /// Write the batch's bad lines to `quarantine/dt=.../kinesis-...ndjson.gz`,
    /// named by the batch's first and last sequence numbers so a retried
    /// batch overwrites its own file.
    async fn quarantine(
        &self,
        first: &KinesisEventRecord,
        last: &KinesisEventRecord,
        bad: Vec<Bad>,
    ) -> Result<(), StreamError> {
        let key = quarantine::key(
            &IngestOptions::default().quarantine_prefix,
            Some(arrival_ms(first)),
            &batch_name(first, last),
        );
        let store = self.curated.clone();
        let n = bad.len();
        let k = key.clone();
        let redact = self.settings.redact;
        tokio::task::spawn_blocking(move || {
            let mut q = Quarantine::new(store.as_ref(), k, String::new()).redacting(redact);
            for b in &bad {
                q.add_from(Some(&b.uri), &b.line, &b.raw, &b.reject)?;
            }
            q.finish().map(drop)
        })
        .await
        .map_err(|e| StreamError::Panicked(e.to_string()))?
        .map_err(StreamError::Quarantine)?;
        warn!(key, lines = n, "lines quarantined");
        Ok(())
    }
}

/// Parse, finish and redact every line of the batch (on a blocking thread:
/// the search feed waits for its indexer), showing each record to the
/// search feed and the alert observer, and pack the normalized NDJSON into
/// Firehose records.
fn normalize(
    event: KinesisEvent,
    settings: &StreamSettings,
    mut feed: Option<crate::search::session::SessionFeed>,
    mut alerting: Option<AlertObserver>,
) -> Normalized {
    let max_line = settings.max_line_bytes;
    let opts = IngestOptions {
        max_line_bytes: max_line,
        redact: settings.redact,
        ..IngestOptions::default()
    };
    let mut finisher = Finisher::new(&opts, None);
    // The collector's records: normalized already, their ids kept.
    let mut collected = Finisher::new(
        &IngestOptions {
            forwarded: true,
            ..opts.clone()
        },
        None,
    );
    let mut out: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut bad: Vec<Bad> = Vec::new();
    let (mut lines, mut merged, mut forwarded) = (0u64, 0u64, 0u64);
    let mut id = String::new();
    let mut ndjson: Vec<u8> = Vec::new();
    // JSON lines' field names, by position, from line to line of the batch.
    let mut keys = json::Keys::default();
    let mut fresh = crate::freshness::Freshness::new(crate::now_ms());
    let clip = |b: &[u8]| b[..b.len().min(max_line)].to_vec();
    let mut uri = String::new();
    for (i, r) in event.records.iter().enumerate() {
        let data = &r.kinesis.data.0;
        write_coordinates(r, &mut uri);
        let decoded = match decode_record(data) {
            Ok(RecordData::Control) => continue,
            Ok(RecordData::Lines(l)) => join_lines(l, settings.multiline),
            Err(reject) => {
                lines += 1;
                bad.push(Bad {
                    uri: uri.clone(),
                    line: record_line(0, LineKind::Complete),
                    raw: clip(data),
                    reject,
                });
                continue;
            }
        };
        // The record's lines, packed into Firehose records as each is
        // written (into `ndjson`, reused), and the lines too long for one
        // (their length, and as much of them as the quarantine keeps).
        let mut packed = forward::Packer::new(FIREHOSE_MAX_RECORD);
        let mut too_big: Vec<(usize, Vec<u8>)> = Vec::new();
        // Each line's event id: the record's coordinates and the line's
        // index, as the search `_id` (the feed makes it from the same).
        let record_id = source_id(&uri);
        let from_collector = r
            .kinesis
            .partition_key
            .starts_with(COLLECT_PARTITION_PREFIX);
        let finisher = if from_collector {
            &mut collected
        } else {
            &mut finisher
        };
        // One record's lines are one run: a line without a time (a
        // stack-trace continuation) takes the time of the line before.
        finisher.restart(Some(arrival_ms(r)));
        // Year-less text times take their year from the record's arrival.
        let context = Context {
            zone: settings.timezone.clone(),
            reference_ms: Some(arrival_ms(r)),
        };
        // One record for every line, cleared in between: its attributes'
        // room is kept.
        let mut rec = Record::default();
        for l in &decoded {
            lines += 1 + l.merged;
            merged += l.merged;
            let kind = if l.bytes.len() > max_line {
                LineKind::Oversized {
                    len: l.bytes.len() as u64,
                }
            } else {
                LineKind::Complete
            };
            let line = record_line(l.index + 1, kind);
            let result = if line.kind != LineKind::Complete {
                Err(Reject::OversizedLine)
            } else {
                match std::str::from_utf8(&l.bytes) {
                    Err(_) => Err(Reject::InvalidUtf8),
                    Ok(text) => {
                        rec.clear();
                        parse_line_with(text, &mut rec, &context, &mut keys).and_then(|fmt| {
                            for (k, v) in &l.attributes {
                                rec.attr(*k, v.as_str());
                            }
                            // CloudWatch recorded when the event happened:
                            // that is its time when the message names none.
                            if rec.ts.is_none() {
                                rec.ts = l.event_ms;
                            }
                            let ts = finisher.finish(&mut rec)?;
                            // A collector's event says its own format.
                            let fmt = match (rec.source_format, l.event_ms) {
                                (Some(own), _) => own,
                                (None, Some(_)) => SourceFormat::Cwlogs,
                                (None, None) => fmt,
                            };
                            // The record's coordinates and the line's index
                            // name it: a retried batch has both.
                            let origin = Origin {
                                identity: &uri,
                                uri: &uri,
                                line: l.index + 1,
                                position: l.index,
                            };
                            feed.observe(&rec, ts, fmt, &origin);
                            alerting.observe(&rec, ts, fmt, &origin);
                            fresh.observe(&rec, ts, fmt, &origin);
                            match rec.event_id.as_deref() {
                                Some(own) => own.clone_into(&mut id),
                                None => event_id(&record_id, l.index, &mut id),
                            }
                            ndjson.clear();
                            forward::write_ndjson(&rec, ts, fmt, &id, &mut ndjson);
                            Ok(())
                        })
                    }
                }
            };
            match result {
                Ok(()) if packed.push(&ndjson) => forwarded += 1,
                Ok(()) => too_big.push((ndjson.len(), clip(&ndjson))),
                Err(reject) => bad.push(Bad {
                    uri: uri.clone(),
                    raw: clip(&l.bytes),
                    line,
                    reject,
                }),
            }
        }
        out.extend(packed.finish().into_iter().map(|rec| (i, rec)));
        for (len, raw) in too_big {
            bad.push(Bad {
                uri: uri.clone(),
                line: record_line(0, LineKind::Oversized { len: len as u64 }),
                raw,
                reject: Reject::OversizedLine,
            });
        }
    }
    Normalized {
        event,
        out,
        bad,
        lines,
        merged,
        forwarded,
        redacted: {
            let mut r = finisher.redacted();
            r.add(&collected.redacted());
            r
        },
        fed: feed.map(|f| f.finish()),
        alerting,
        fresh,
    }
}

/// Window counts of the forwarded NDJSON of records `..before`, read back as
/// fn-ingest would read it: what reached Firehose, exactly.
fn recount(
    sink: &AlertSink,
    out: &[(usize, Vec<u8>)],
    before: usize,
    source_ms: Option<i64>,
) -> Windows {
    let mut obs = sink.observer(WindowCounting::All, source_ms);
    let forwarded = IngestOptions {
        forwarded: true,
        ..IngestOptions::default()
    };
    let mut finisher = Finisher::new(&forwarded, None);
    for (_, packed) in out.iter().take_while(|(i, _)| *i < before) {
        for line in packed.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            let mut rec = Record::default();
            if parse_line(text, &mut rec, &Context::default()).is_ok()
                && let Ok(ts) = finisher.finish(&mut rec)
            {
                obs.count(&rec, ts);
            }
        }
    }
    obs.windows
}
