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

use super::finish::Finisher;
use super::format::stamp::Context;
use super::format::{self, Format, Parsed, Parser};
use super::input::{self, Block, CountingReader, Framer, Line, LineKind};
use super::lake::{LakeWriter, Output, Partition};
use super::manifest::{MANIFEST_VERSION, Manifest, Outcome, SourceInfo};
use super::multiline::{self, Joiner};
use super::observe::{NoObserver, Observer, Origin};
use super::options::IngestOptions;
use super::quarantine::Quarantine;
use super::rows::RowBuffer;
use super::source::{Keys, Source, previous_outputs, source_id};
use crate::error::Error;
use crate::record::{Level, Record, Reject, SourceFormat, TextField};
use crate::store::OutputStore;
use crate::time;

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
    let (raw, bytes_in) = CountingReader::new(source.reader);
    let uri = source.uri.clone();
    let (compression, decoded) = input::decode(raw).map_err(|e| Error::read(&uri, e))?;
    let framer = Framer::new(decoded, opts.max_line_bytes, BLOCK_BYTES);

    let context = text_context(opts, source.modified_ms);
    let mut stage = ParseStage {
        opts,
        parser: match (&opts.format, &opts.custom) {
            (Some(f), _) => Some(Parser::new(*f, context)),
            (None, Some(c)) => Some(Parser::custom(c.clone(), context)),
            (None, None) => opts
                .formats
                .for_source(&source.name)
                .map(|c| Parser::custom(c.clone(), context)),
        },
        quarantine: Quarantine::new(store, keys.quarantine.clone(), uri.clone())
            .redacting(opts.redact),
        joiner: None,
        event: Event::default(),
        buffers: HashMap::new(),
        buffered: 0,
        finisher: Finisher::new(opts, source.modified_ms),
        counts: Counts::default(),
        observer,
        identity: &source.identity,
        uri: &source.uri,
        modified_ms: source.modified_ms,
    };
    let lake = LakeWriter::new(store, keys.name.clone(), opts.lake.clone())?;

    let Finished {
        outputs,
        decoded_bytes,
        decode_error,
        damaged,
    } = if opts.pipelined {
        run_pipelined(framer, &mut stage, lake, &uri)?
    } else {
        run_inline(framer, &mut stage, lake, &uri)?
    };

    let ParseStage {
        quarantine,
        counts: c,
        parser,
        finisher,
        ..
    } = stage;
    let quarantined = quarantine.count();
    let mut redacted = finisher.redacted();
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
        format: parser.map_or_else(|| Format::Text.as_str().to_string(), |p| p.name()),
        compression,
        lines_total: c.lines_total,
        lines_in: c.lines_total - c.blank - c.header,
        rows_out: c.rows,
        quarantined,
        merged: c.merged,
        quarantined_by_reason: by_reason,
        skipped_blank: c.blank,
        skipped_header: c.header,
        ts_inferred: finisher.ts_inferred(),
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
        corrupt_members: damaged.0,
        outcome: if decode_error.is_some() {
            Outcome::Truncated
        } else if damaged.0 > 0 {
            Outcome::Corrupt
        } else {
            Outcome::Complete
        },
        error: match (decode_error, damaged.1) {
            (Some(e), _) => Some(format!("input ended early: {e}")),
            (None, Some(d)) => Some(format!(
                "{} damaged gzip member(s) skipped, the first: {d}",
                damaged.0
            )),
            (None, None) => None,
        },
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

/// What the stages leave when the input ends.
struct Finished {
    /// The lake files written.
    outputs: Vec<Output>,
    /// Bytes after decompression.
    decoded_bytes: u64,
    /// Why the input ended early, when it did (a truncated or corrupt
    /// compressed stream): every line before it was kept.
    decode_error: Option<io::Error>,
    /// Damaged gzip members skipped (the input was read on after each),
    /// and what the first one was.
    damaged: (u64, Option<String>),
}

fn damage<R: Read>(framer: &Framer<R>) -> (u64, Option<String>) {
    let (n, first) = framer.damaged();
    (n, first.map(String::from))
}

fn run_inline<R: Read>(
    mut framer: Framer<R>,
    stage: &mut ParseStage<'_, '_>,
    mut lake: LakeWriter<'_>,
    uri: &str,
) -> Result<Finished, Error> {
    let sid = source_id(stage.identity);
    let mut sink =
        |part: Partition, rows: RowBuffer| lake.write(part, &rows.into_batch(uri, &sid)?);
    while let Some(block) = framer.next_block().map_err(|e| Error::read(uri, e))? {
        stage.block(&block, &mut sink)?;
    }
    stage.flush_all(&mut sink)?;
    let outputs = lake.finish()?;
    Ok(Finished {
        outputs,
        decoded_bytes: framer.decoded_bytes(),
        decode_error: framer.take_error(),
        damaged: damage(&framer),
    })
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
            (framer.decoded_bytes(), framer.take_error(), damage(&framer))
        });
        // A rendezvous: the parser fills the next buffer while the encoder
        // works on the last one, and no third one waits in between.
        let (rows_tx, rows_rx) = sync_channel::<(Partition, RowBuffer)>(0);
        let sid = source_id(stage.identity);
        let encoder = s.spawn(move || encode(lake, rows_rx, uri, &sid));

        let parsed = parse_blocks(stage, block_rx, &rows_tx, uri);
        drop(rows_tx);
        let encoded = encoder
            .join()
            .map_err(|_| Error::Thread("the encoder panicked".into()))?;
        let (decoded, decode_error, damaged) = reader
            .join()
            .map_err(|_| Error::Thread("the reader panicked".into()))?;
        // An encoder failure makes the parser's sends fail; report its cause.
        let outputs = match (parsed, encoded) {
            (_, Err(e)) => return Err(e),
            (Err(e), _) => return Err(e),
            (Ok(()), Ok(o)) => o,
        };
        Ok(Finished {
            outputs,
            decoded_bytes: decoded,
            decode_error,
            damaged,
        })
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
    source_id: &str,
) -> Result<Vec<Output>, Error> {
    for (part, b) in rows {
        lake.write(part, &b.into_batch(uri, source_id)?)?;
    }
    lake.finish()
}

#[derive(Debug, Default)]
struct Counts {
    lines_total: u64,
    blank: u64,
    header: u64,
    rows: u64,
    /// Lines joined to the event before them (multiline events).
    merged: u64,
    ts_min: Option<i64>,
    ts_max: Option<i64>,
    partitions: BTreeMap<Partition, u64>,
    errors_by_service: BTreeMap<String, u64>,
}

/// Lines in, rows and quarantine records out.
struct ParseStage<'o, 's> {
    opts: &'o IngestOptions,
    parser: Option<Parser>,
    /// Event boundaries of a text source, chosen with the format.
    joiner: Option<Joiner>,
    /// The multiline event in progress.
    event: Event,
    quarantine: Quarantine<'s>,
    buffers: HashMap<Partition, RowBuffer>,
    buffered: usize,
    finisher: Finisher,
    counts: Counts,
    observer: &'o mut dyn Observer,
    identity: &'o str,
    uri: &'o str,
    /// The source's time: the year of year-less text timestamps.
    modified_ms: Option<i64>,
}

/// What a source's text lines' times need: the zone of times written
/// without one, and the source's time for layouts without a year.
fn text_context(opts: &IngestOptions, modified_ms: Option<i64>) -> Context {
    Context {
        zone: opts.timezone.clone(),
        reference_ms: modified_ms,
    }
}

/// How many first lines decide an object's format.
const SNIFF_LINES: usize = 64;

impl ParseStage<'_, '_> {
    fn block(
        &mut self,
        block: &Block,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let context = text_context(self.opts, self.modified_ms);
        let mut parser = match self.parser.take() {
            Some(p) => p,
            None => match format::detect_custom(&self.opts.formats, sample(block), &context) {
                Some(c) => Parser::custom(c, context),
                None => Parser::new(format::detect(sample(block)), context),
            },
        };
        if self.counts.lines_total == 0 && self.opts.multiline.max_lines > 1 {
            let limits = self.opts.multiline;
            self.joiner = match (parser.format(), parser.custom_format()) {
                (Format::Text, _) => {
                    Some(Joiner::new(limits, multiline::timestamped(sample(block))))
                }
                (_, Some(c)) if c.is_multiline() => Some(Joiner::starting_with(limits, c.clone())),
                _ => None,
            };
        }
        let result = self.lines(block, &mut parser, sink);
        self.parser = Some(parser);
        result
    }

    fn lines(
        &mut self,
        block: &Block,
        parser: &mut Parser,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut rec = Record::default();
        // The multiline event in progress while it is one line of this
        // block: no copy unless a second line joins it or the block ends.
        let mut here: Option<(Line, &str)> = None;
        // One UTF-8 check for the whole block instead of one per line: lines
        // end at ASCII bytes, so each line inside a valid prefix is valid.
        let valid = match std::str::from_utf8(&block.buf) {
            Ok(all) => all,
            Err(e) => std::str::from_utf8(&block.buf[..e.valid_up_to()]).unwrap_or_default(),
        };
        for line in &block.lines {
            self.counts.lines_total += 1;
            let raw = block.bytes(line);
            let outcome = match line.kind {
                LineKind::Oversized { .. } => Err(RowError::Reject(Reject::OversizedLine)),
                LineKind::Truncated => Err(RowError::Reject(Reject::TruncatedInput)),
                LineKind::Complete => {
                    if raw.iter().all(u8::is_ascii_whitespace) {
                        self.counts.blank += 1;
                        if let Some(j) = &mut self.joiner {
                            j.blank();
                        }
                        continue;
                    }
                    let text = match valid.get(line.start as usize..line.end as usize) {
                        Some(text) => Ok(text),
                        None => std::str::from_utf8(raw),
                    };
                    match text {
                        Err(_) => Err(RowError::Reject(Reject::InvalidUtf8)),
                        Ok(text) => match &mut self.joiner {
                            Some(j) => {
                                if j.joins(text) {
                                    if let Some((first, t)) = here.take() {
                                        self.event.start(first, t);
                                    }
                                    self.event.join(text);
                                    self.counts.merged += 1;
                                } else {
                                    match here.take() {
                                        // A single line in this block (the
                                        // common case): parsed in place.
                                        Some((first, t)) => {
                                            rec.clear();
                                            let outcome =
                                                self.parse(parser, t, &mut rec, &first, sink);
                                            self.settle(outcome, &first, t.as_bytes())?;
                                        }
                                        None => self.end_event(parser, sink)?,
                                    }
                                    here = Some((*line, text));
                                }
                                continue;
                            }
                            None => {
                                rec.clear();
                                self.parse(parser, text, &mut rec, line, sink)
                            }
                        },
                    }
                }
            };
            self.settle(outcome, line, raw)?;
        }
        // The block goes; an event still open keeps its own copy.
        if let Some((first, t)) = here {
            self.event.start(first, t);
        }
        Ok(())
    }

    /// Parse one line (or event) and make it a row; a header is counted.
    fn parse<'a>(
        &mut self,
        parser: &mut Parser,
        text: &'a str,
        rec: &mut Record<'a>,
        line: &Line,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), RowError> {
        match parser.parse(text, rec) {
            Ok(Parsed::Header) => {
                self.counts.header += 1;
                Ok(())
            }
            Ok(Parsed::Row(fmt)) => self.row(rec, line, fmt, sink),
            Err(r) => Err(RowError::Reject(r)),
        }
    }

    /// Quarantine a rejected line; a fatal error stops the source.
    fn settle(
        &mut self,
        outcome: Result<(), RowError>,
        line: &Line,
        raw: &[u8],
    ) -> Result<(), Error> {
        match outcome {
            Ok(()) => Ok(()),
            Err(RowError::Reject(r)) => self.quarantine.add(line, raw, &r),
            Err(RowError::Fatal(e)) => Err(e),
        }
    }

    /// Parse the multiline event in progress, if any, as one record.
    fn end_event(
        &mut self,
        parser: &mut Parser,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(first) = self.event.first.take() else {
            return Ok(());
        };
        let text = std::mem::take(&mut self.event.text);
        let mut rec = Record::default();
        let outcome = self.parse(parser, &text, &mut rec, &first, sink);
        drop(rec);
        let settled = self.settle(outcome, &first, text.as_bytes());
        // Keep the buffer's capacity for the next event.
        self.event.text = text;
        self.event.text.clear();
        settled
    }
}

/// The first lines of a block that decide a source's format and habits.
fn sample(block: &Block) -> impl Iterator<Item = &str> {
    block
        .lines
        .iter()
        .take(SNIFF_LINES)
        .filter_map(|l| std::str::from_utf8(block.bytes(l)).ok())
}

/// A multiline event being gathered, in its own copy: its first line and
/// its text so far.
#[derive(Debug, Default)]
struct Event {
    first: Option<Line>,
    text: String,
}

impl Event {
    fn start(&mut self, line: Line, text: &str) {
        self.first = Some(line);
        self.text.clear();
        self.text.push_str(text.trim_end());
    }

    fn join(&mut self, text: &str) {
        self.text.push('\n');
        self.text.push_str(text.trim_end());
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
    /// Finish a parsed record (time, range, service, redaction) and buffer it.
    fn row(
        &mut self,
        rec: &mut Record<'_>,
        line: &Line,
        fmt: SourceFormat,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), RowError> {
        let ts = self.finisher.finish(rec).map_err(RowError::Reject)?;
        let part = Partition::of(ts);
        if self.counts.partitions.len() >= self.opts.max_partitions
            && !self.counts.partitions.contains_key(&part)
        {
            return Err(RowError::Reject(Reject::PartitionLimit));
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
        buf.push(rec, ts, line.number, line.offset, fmt);
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

    /// At the end of the input: the last event, then every partition, in
    /// partition order.
    fn flush_all(
        &mut self,
        sink: &mut dyn FnMut(Partition, RowBuffer) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(mut parser) = self.parser.take() {
            let ended = self.end_event(&mut parser, sink);
            self.parser = Some(parser);
            ended?;
        }
        let mut parts: Vec<Partition> = self.buffers.keys().copied().collect();
        parts.sort();
        for p in parts {
            self.flush(p, sink)?;
        }
        Ok(())
    }
}
