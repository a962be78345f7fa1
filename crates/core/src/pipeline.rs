//! One source, one pass: decode, frame, parse, normalize, partition, write
//! Parquet, quarantine what cannot be a row, and account for every line in
//! the manifest.
//!
//! Pipelined mode runs three stages on their own threads (decode and frame,
//! parse and buffer, sort and encode) joined by small bounded channels, so
//! memory stays bounded while decompression and Parquet encoding overlap the
//! parsing. Inline mode does the same work on the calling thread. Both make
//! the same flush decisions in the same order, so they write the same files.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::format::{self, Format, Parsed, Parser};
use crate::input::{self, Block, Counting, Framer, LineKind};
use crate::lake::{LakeOptions, LakeWriter, Output, Partition};
use crate::manifest::{MANIFEST_VERSION, Manifest, Outcome, SourceInfo};
use crate::quarantine::Quarantine;
use crate::record::{Level, Record, Reject, SourceFormat, TextField};
use crate::redact::{RedactOptions, Redactor};
use crate::rows::RowBuffer;
use crate::store::OutputStore;
use crate::time;

/// 2000-01-01T00:00:00Z: older event times are taken to be wrong clocks.
pub const DEFAULT_MIN_TS_MS: i64 = 946_684_800_000;
/// 2100-01-01T00:00:00Z: the upper bound when the source's time is unknown.
pub const DEFAULT_MAX_TS_MS: i64 = 4_102_444_800_000;
const DAY_MS: i64 = 86_400_000;

/// How to ingest a source. `Default` is what the CLI and functions use.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Parse every line as this format instead of sniffing the first lines.
    pub format: Option<Format>,
    /// Lines longer than this are quarantined (their first bytes kept).
    pub max_line_bytes: usize,
    /// Rows buffered across all open partitions before the largest is flushed.
    pub memory_budget: usize,
    /// A partition's buffer is flushed as one row group at this size.
    pub row_group_bytes: usize,
    /// Run decode, parse and encode on three threads.
    pub pipelined: bool,
    pub lake: LakeOptions,
    pub quarantine_prefix: String,
    pub manifest_prefix: String,
    /// The service of records that name none (e.g. from the S3 key prefix).
    pub default_service: Option<String>,
    /// Event times before this are quarantined as out of range.
    pub min_ts_ms: i64,
    /// Event times more than this after the source was last modified are
    /// quarantined as out of range (clock skew allowance).
    pub max_future_ms: i64,
    /// PII masked in every row before any sink sees it (cards by default).
    pub redact: RedactOptions,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            max_line_bytes: 1 << 20,
            memory_budget: 64 << 20,
            row_group_bytes: 24 << 20,
            pipelined: true,
            lake: LakeOptions::default(),
            quarantine_prefix: "quarantine".into(),
            manifest_prefix: "_manifests".into(),
            default_service: None,
            min_ts_ms: DEFAULT_MIN_TS_MS,
            max_future_ms: DAY_MS,
            redact: RedactOptions::default(),
        }
    }
}

/// A source to ingest: its identity and a stream of its (possibly
/// compressed) bytes.
pub struct Source {
    /// Where it came from, recorded in every row (`source_uri`).
    pub uri: String,
    /// What makes two deliveries of this source the same: for a local file,
    /// its path, size and modification time; for S3, bucket, key and version
    /// or ETag. Output names derive from it, so ingesting it again overwrites.
    pub identity: String,
    /// A short readable name for output files (usually the file name).
    pub name: String,
    pub size: Option<u64>,
    /// Last modification, UTC ms: the quarantine's `dt`, and the upper bound
    /// for plausible event times.
    pub modified_ms: Option<i64>,
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("uri", &self.uri)
            .field("identity", &self.identity)
            .finish()
    }
}

/// A short, stable hash of an identity string.
pub fn source_id(identity: &str) -> String {
    let d = Sha256::digest(identity.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A file-name-safe stem of a source name: compression suffixes dropped,
/// anything but `[A-Za-z0-9._-]` replaced, at most 48 bytes.
pub fn name_stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let base = [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, 'x');
    }
    s
}

/// Where a record came from, for sinks that need to name it: the source's
/// identity and URI, its line, and a position that is unique within the
/// identity (a byte offset in a file; a line index in a stream record).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub identity: &'a str,
    pub uri: &'a str,
    pub line: u64,
    pub position: u64,
}

/// Where the search index and the alert windows attach: every record that
/// becomes a row passes here once, final (time resolved, redacted), in
/// source order, on the thread that parses.
pub trait Observer: Send {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>);
}

/// Nothing attached.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _: &Record<'_>, _: i64, _: SourceFormat, _: &Origin<'_>) {}
}

/// Every observer in turn.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        self.0.observe(rec, ts, fmt, origin);
        self.1.observe(rec, ts, fmt, origin);
    }
}

/// An observer that may be off.
impl<O: Observer> Observer for Option<O> {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        if let Some(o) = self {
            o.observe(rec, ts, fmt, origin);
        }
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        (**self).observe(rec, ts, fmt, origin);
    }
}

/// The last step of every parsed record, from a file or a stream: its event
/// time (inherited when the line has none), the range check, and the
/// default service.
#[derive(Debug, Clone)]
pub struct Finisher {
    min_ts: i64,
    max_ts: i64,
    default_service: Option<String>,
    /// The last accepted explicit time, inherited by lines that have none.
    last_ts: Option<i64>,
    /// The time of the object or stream record the lines came in.
    container_ts: Option<i64>,
}

impl Finisher {
    /// `container_ms`: when the object was last modified (or the stream
    /// record arrived): the fallback time, and the upper bound's reference.
    pub fn new(opts: &IngestOptions, container_ms: Option<i64>) -> Self {
        Finisher {
            min_ts: opts.min_ts_ms,
            max_ts: container_ms
                .map_or(DEFAULT_MAX_TS_MS, |m| m.saturating_add(opts.max_future_ms)),
            default_service: opts.default_service.clone(),
            last_ts: None,
            container_ts: container_ms,
        }
    }

    /// Resolve `rec`'s event time and defaults; the time, or why not.
    pub fn finish(&mut self, rec: &mut Record<'_>) -> Result<i64, Reject> {
        let ts = match rec.ts {
            Some(ts) => ts,
            // A line without a time of its own (a stack-trace continuation, a
            // message from a logger that writes none) happened when the line
            // before it did, or, at the top of the object, when it was written.
            None => {
                let (ts, from) = match (self.last_ts, self.container_ts) {
                    (Some(t), _) => (t, "previous_line"),
                    (None, Some(t)) => (t, "object_time"),
                    (None, None) => return Err(Reject::MissingTimestamp),
                };
                rec.attr("ts_inferred", from);
                ts
            }
        };
        if ts < self.min_ts || ts > self.max_ts {
            return Err(Reject::TimestampOutOfRange);
        }
        // Only a time that was accepted is passed on to the lines after it.
        if rec.ts.is_some() {
            self.last_ts = Some(ts);
        }
        // A record that arrives already normalized (loglake's NDJSON from
        // the stream path) was finished where it was parsed: a service taken
        // from this object's key (`firehose/...`) would be wrong for it.
        if rec.text[TextField::Service as usize].is_none()
            && rec.source_format.is_none()
            && let Some(s) = &self.default_service
        {
            rec.set(TextField::Service, s.clone());
        }
        Ok(ts)
    }
}

/// The keys one source's outputs live under.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `{stem}-{id}`: the start of every output file name.
    pub name: String,
    pub manifest: String,
    pub quarantine: String,
}

impl Keys {
    pub fn new(opts: &IngestOptions, name: &str, identity: &str, modified_ms: Option<i64>) -> Keys {
        let name = format!("{}-{}", name_stem(name), source_id(identity));
        Keys {
            manifest: format!("{}/{name}.json", opts.manifest_prefix),
            quarantine: crate::quarantine::key(&opts.quarantine_prefix, modified_ms, &name),
            name,
        }
    }
}

/// Ingest one source into `store`; returns its manifest (also written to the
/// store). Bad lines are quarantined, not errors; an error means the source
/// could not be read or the outputs could not be written.
pub fn ingest(
    source: Source,
    store: &dyn OutputStore,
    opts: &IngestOptions,
) -> Result<Manifest, Error> {
    ingest_observed(source, store, opts, &mut NoObserver)
}

/// [`ingest`], showing every row to `observer` as it is produced.
pub fn ingest_observed(
    source: Source,
    store: &dyn OutputStore,
    opts: &IngestOptions,
    observer: &mut dyn Observer,
) -> Result<Manifest, Error> {
    let started = Instant::now();
    if opts.max_line_bytes == 0 || opts.row_group_bytes == 0 {
        return Err(Error::Config(
            "max_line_bytes and row_group_bytes must be positive".into(),
        ));
    }
    let keys = Keys::new(opts, &source.name, &source.identity, source.modified_ms);
    let previous = previous_outputs(store, &keys.manifest);
    let (raw, bytes_in) = Counting::new(source.reader);
    let uri = source.uri.clone();
    let (compression, decoded) = input::decode(raw).map_err(|e| Error::read(&uri, e))?;
    let framer = Framer::new(decoded, opts.max_line_bytes, BLOCK_BYTES);

    let mut stage = ParseStage {
        opts,
        parser: opts.format.map(Parser::new),
        quarantine: Quarantine::new(store, keys.quarantine.clone(), uri.clone())
            .redacting(opts.redact),
        buffers: HashMap::new(),
        buffered: 0,
        finisher: Finisher::new(opts, source.modified_ms),
        counts: Counts::default(),
        redactor: Redactor::new(opts.redact),
        observer,
        identity: &source.identity,
        uri: &source.uri,
    };
    let lake = LakeWriter::new(store, keys.name.clone(), opts.lake.clone())?;

    let (outputs, decoded_bytes, decode_error) = if opts.pipelined {
        run_pipelined(framer, &mut stage, lake, &uri)?
    } else {
        run_inline(framer, &mut stage, lake, &uri)?
    };

    let ParseStage {
        quarantine,
        counts: c,
        parser,
        redactor,
        ..
    } = stage;
    let quarantined = quarantine.count();
    let mut redacted = redactor.counts();
    redacted.add(&quarantine.redacted());
    let by_reason = quarantine.by_reason().clone();
    let mut outputs = outputs;
    if let Some(q) = quarantine.finish()? {
        outputs.push(q);
    }
    for stale in previous
        .iter()
        .filter(|k| !outputs.iter().any(|o| &o.key == *k))
    {
        store.delete(stale).map_err(|e| Error::write(stale, e))?;
    }
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        source: SourceInfo {
            uri: source.uri,
            id: source_id(&source.identity),
            identity: source.identity,
            size: source.size,
            modified: source.modified_ms.map(time::format_rfc3339_ms),
        },
        format: parser
            .map_or(Format::Text, |p| p.format())
            .as_str()
            .to_string(),
        compression,
        lines_total: c.lines_total,
        lines_in: c.lines_total - c.blank - c.header,
        rows_out: c.rows,
        quarantined,
        quarantined_by_reason: by_reason,
        skipped_blank: c.blank,
        skipped_header: c.header,
        ts_inferred: c.ts_inferred,
        redacted,
        partitions: c
            .partitions
            .iter()
            .map(|(p, n)| (p.to_string(), *n))
            .collect(),
        errors_by_service: c.errors_by_service,
        ts_min: c.ts_min.map(time::format_rfc3339_ms),
        ts_max: c.ts_max.map(time::format_rfc3339_ms),
        bytes_in: bytes_in.load(std::sync::atomic::Ordering::Relaxed),
        bytes_decoded: decoded_bytes,
        duration_ms: started.elapsed().as_millis() as u64,
        outputs,
        outcome: if decode_error.is_some() {
            Outcome::Truncated
        } else {
            Outcome::Complete
        },
        error: decode_error.map(|e| format!("input ended early: {e}")),
    };
    let mut f = store
        .create(&keys.manifest)
        .map_err(|e| Error::write(&keys.manifest, e))?;
    serde_json::to_writer_pretty(&mut f, &manifest)
        .map_err(|e| Error::write(&keys.manifest, e.into()))?;
    f.commit().map_err(|e| Error::write(&keys.manifest, e))?;
    Ok(manifest)
}

/// Decoded bytes per block handed from the reader to the parser.
const BLOCK_BYTES: usize = 1 << 20;
/// Blocks in flight between reader and parser.
const BLOCKS_IN_FLIGHT: usize = 4;

/// Keys listed by an earlier manifest of the same source: outputs the new run
/// does not rewrite are removed, so a re-run never leaves a stale chunk.
fn previous_outputs(store: &dyn OutputStore, key: &str) -> Vec<String> {
    store
        .get(key)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .map(|m| m.outputs.into_iter().map(|o| o.key).collect())
        .unwrap_or_default()
}

type Finished = (Vec<Output>, u64, Option<io::Error>);

fn run_inline<R: Read>(
    mut framer: Framer<R>,
    stage: &mut ParseStage<'_, '_>,
    mut lake: LakeWriter<'_>,
    uri: &str,
) -> Result<Finished, Error> {
    let mut sink = |part: Partition, rows: RowBuffer| lake.write(part, &rows.into_batch(uri)?);
    while let Some(block) = framer.next_block().map_err(|e| Error::read(uri, e))? {
        stage.block(&block, &mut sink)?;
    }
    stage.flush_all(&mut sink)?;
    let outputs = lake.finish()?;
    Ok((outputs, framer.decoded_bytes(), framer.take_error()))
}

fn run_pipelined<R: Read + Send>(
    mut framer: Framer<R>,
    stage: &mut ParseStage<'_, '_>,
    lake: LakeWriter<'_>,
    uri: &str,
) -> Result<Finished, Error> {
    std::thread::scope(|s| {
        let (block_tx, block_rx) = sync_channel::<io::Result<Block>>(BLOCKS_IN_FLIGHT);
        let reader = s.spawn(move || {
            loop {
                let next = framer.next_block().transpose();
                let Some(next) = next else { break };
                let failed = next.is_err();
                if block_tx.send(next).is_err() || failed {
                    break;
                }
            }
            (framer.decoded_bytes(), framer.take_error())
        });
        // A rendezvous: the parser fills the next buffer while the encoder
        // works on the last one, and no third one waits in between.
        let (rows_tx, rows_rx) = sync_channel::<(Partition, RowBuffer)>(0);
        let encoder = s.spawn(move || encode(lake, rows_rx, uri));

        let parsed = parse_blocks(stage, block_rx, &rows_tx, uri);
        drop(rows_tx);
        let encoded = encoder
            .join()
            .map_err(|_| Error::Thread("the encoder panicked".into()))?;
        let (decoded, decode_error) = reader
            .join()
            .map_err(|_| Error::Thread("the reader panicked".into()))?;
        // An encoder failure makes the parser's sends fail; report its cause.
        let outputs = match (parsed, encoded) {
            (_, Err(e)) => return Err(e),
            (Err(e), _) => return Err(e),
            (Ok(()), Ok(o)) => o,
        };
        Ok((outputs, decoded, decode_error))
    })
}

fn parse_blocks(
    stage: &mut ParseStage<'_, '_>,
    blocks: Receiver<io::Result<Block>>,
    rows: &SyncSender<(Partition, RowBuffer)>,
    uri: &str,
) -> Result<(), Error> {
    let mut sink = |part: Partition, b: RowBuffer| {
        rows.send((part, b))
            .map_err(|_| Error::Thread("the encoder stopped".into()))
    };
    for block in blocks {
        let block = block.map_err(|e| Error::read(uri, e))?;
        stage.block(&block, &mut sink)?;
    }
    stage.flush_all(&mut sink)
}

fn encode(
    mut lake: LakeWriter<'_>,
    rows: Receiver<(Partition, RowBuffer)>,
    uri: &str,
) -> Result<Vec<Output>, Error> {
    for (part, b) in rows {
        lake.write(part, &b.into_batch(uri)?)?;
    }
    lake.finish()
}

#[derive(Debug, Default)]
struct Counts {
    lines_total: u64,
    blank: u64,
    header: u64,
    rows: u64,
    ts_inferred: u64,
    ts_min: Option<i64>,
    ts_max: Option<i64>,
    partitions: BTreeMap<Partition, u64>,
    errors_by_service: BTreeMap<String, u64>,
}

/// Lines in, rows and quarantine records out.
struct ParseStage<'o, 's> {
    opts: &'o IngestOptions,
    parser: Option<Parser>,
    quarantine: Quarantine<'s>,
    buffers: HashMap<Partition, RowBuffer>,
    buffered: usize,
    finisher: Finisher,
    counts: Counts,
    redactor: Redactor,
    observer: &'o mut dyn Observer,
    identity: &'o str,
    uri: &'o str,
}

/// How many first lines decide an object's format.
const SNIFF_LINES: usize = 64;

impl ParseStage<'_, '_> {
    fn block(
        &mut self,
        block: &Block,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut parser = match self.parser.take() {
            Some(p) => p,
            None => Parser::new(format::detect(
                block
                    .lines
                    .iter()
                    .take(SNIFF_LINES)
                    .filter_map(|l| std::str::from_utf8(block.bytes(l)).ok()),
            )),
        };
        let mut rec = Record::default();
        let mut result = Ok(());
        for line in &block.lines {
            self.counts.lines_total += 1;
            let raw = block.bytes(line);
            let outcome = match line.kind {
                LineKind::Oversized { .. } => Err(RowError::Reject(Reject::OversizedLine)),
                LineKind::Truncated => Err(RowError::Reject(Reject::TruncatedInput)),
                LineKind::Complete => {
                    if raw.iter().all(u8::is_ascii_whitespace) {
                        self.counts.blank += 1;
                        continue;
                    }
                    match std::str::from_utf8(raw) {
                        Err(_) => Err(RowError::Reject(Reject::InvalidUtf8)),
                        Ok(text) => {
                            rec.clear();
                            match parser.parse(text, &mut rec) {
                                Ok(Parsed::Header) => {
                                    self.counts.header += 1;
                                    continue;
                                }
                                Ok(Parsed::Row(fmt)) => self.row(&mut rec, line, fmt, sink),
                                Err(r) => Err(RowError::Reject(r)),
                            }
                        }
                    }
                }
            };
            match outcome {
                Ok(()) => {}
                Err(RowError::Reject(r)) => {
                    if let Err(e) = self.quarantine.add(line, raw, &r) {
                        result = Err(e);
                        break;
                    }
                }
                Err(RowError::Fatal(e)) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.parser = Some(parser);
        result
    }
}

enum RowError {
    Reject(Reject),
    Fatal(Error),
}

impl From<Error> for RowError {
    fn from(e: Error) -> Self {
        RowError::Fatal(e)
    }
}

impl ParseStage<'_, '_> {
    /// Finish a parsed record (time, range, service) and buffer it.
    fn row(
        &mut self,
        rec: &mut Record<'_>,
        line: &crate::input::Line,
        fmt: SourceFormat,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), RowError> {
        let inferred = rec.ts.is_none();
        let ts = self.finisher.finish(rec).map_err(RowError::Reject)?;
        self.redactor.apply(rec);
        if inferred {
            self.counts.ts_inferred += 1;
        }
        let c = &mut self.counts;
        c.rows += 1;
        c.ts_min = Some(c.ts_min.map_or(ts, |m| m.min(ts)));
        c.ts_max = Some(c.ts_max.map_or(ts, |m| m.max(ts)));
        if rec.level.is_some_and(Level::is_error) {
            let svc = rec.get(TextField::Service).unwrap_or("(no service)");
            match c.errors_by_service.get_mut(svc) {
                Some(n) => *n += 1,
                None => {
                    c.errors_by_service.insert(svc.to_string(), 1);
                }
            }
        }
        let part = Partition::of(ts);
        *c.partitions.entry(part).or_insert(0) += 1;
        let fmt = rec.source_format.unwrap_or(fmt);
        self.observer.observe(
            rec,
            ts,
            fmt,
            &Origin {
                identity: self.identity,
                uri: self.uri,
                line: line.number,
                position: line.offset,
            },
        );
        let buf = self.buffers.entry(part).or_default();
        let before = buf.bytes();
        buf.push(rec, ts, line.number, fmt);
        self.buffered += buf.bytes() - before;
        if buf.bytes() >= self.opts.row_group_bytes {
            self.flush(part, sink)?;
        } else if self.buffered > self.opts.memory_budget {
            let largest = self
                .buffers
                .iter()
                .max_by_key(|(p, b)| (b.bytes(), std::cmp::Reverse(**p)))
                .map(|(p, _)| *p);
            if let Some(p) = largest {
                self.flush(p, sink)?;
            }
        }
        Ok(())
    }

    fn flush(
        &mut self,
        part: Partition,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(b) = self.buffers.remove(&part) {
            self.buffered -= b.bytes();
            sink(part, b)?;
        }
        Ok(())
    }

    /// Flush every partition, in partition order.
    fn flush_all(
        &mut self,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut parts: Vec<Partition> = self.buffers.keys().copied().collect();
        parts.sort();
        for p in parts {
            self.flush(p, sink)?;
        }
        Ok(())
    }
}
