//! The parse stage of the pipeline: lines in, finished rows buffered per
//! partition, bad lines quarantined; the multiline event in progress; and
//! the segment boundaries where everything is committed so an ingest can
//! pause and resume ([`super::resume`]).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::finish::Finisher;
use super::format::stamp::{self, Context};
use super::format::{self, Format, Parsed, Parser};
use super::input::{Block, Line, LineKind};
use super::lake::Partition;
use super::multiline::{self, Joiner};
use super::observe::{Observer, Origin};
use super::options::IngestOptions;
use super::quarantine::Quarantine;
use super::resume::QuarantineTotals;
use super::rows::RowBuffer;
use crate::error::Error;
use crate::record::{Level, Record, Reject, SourceFormat, TextField};
use crate::store::OutputStore;

/// What the parse stage hands to the lake writer.
pub(super) enum Flush {
    /// One row group of a partition.
    Rows(Partition, Box<RowBuffer>),
    /// A segment ended: close (commit) every open file.
    Segment,
}

pub(super) type Sink<'a> = dyn FnMut(Flush) -> Result<(), Error> + 'a;

#[derive(Debug, Default)]
pub(super) struct Counts {
    pub lines_total: u64,
    pub blank: u64,
    pub header: u64,
    pub rows: u64,
    /// Lines joined to the event before them (multiline events).
    pub merged: u64,
    pub ts_min: Option<i64>,
    pub ts_max: Option<i64>,
    pub partitions: BTreeMap<Partition, u64>,
    pub errors_by_service: BTreeMap<String, u64>,
}

impl Counts {
    /// The counts of the segments a checkpoint's manifest covers.
    pub fn from_manifest(m: &super::manifest::Manifest) -> Result<Counts, Error> {
        let bad = |what: &str| Error::Config(format!("checkpoint manifest: unreadable {what}"));
        let ts = |t: &Option<String>| -> Result<Option<i64>, Error> {
            t.as_deref()
                .map(|t| crate::time::parse_iso8601(t).ok_or_else(|| bad("time range")))
                .transpose()
        };
        Ok(Counts {
            lines_total: m.lines_total,
            blank: m.skipped_blank,
            header: m.skipped_header,
            rows: m.rows_out,
            merged: m.merged,
            ts_min: ts(&m.ts_min)?,
            ts_max: ts(&m.ts_max)?,
            partitions: m
                .partitions
                .iter()
                .map(|(p, n)| {
                    super::resume::parse_partition(p)
                        .map(|p| (p, *n))
                        .ok_or_else(|| bad("partition"))
                })
                .collect::<Result<_, _>>()?,
            errors_by_service: m.errors_by_service.clone(),
        })
    }
}

/// Where a run stopped before the end of its input: the first line of the
/// next segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PausedAt {
    pub offset: u64,
    pub line: u64,
}

/// Segment boundaries: where the next one is, and how long segments take.
#[derive(Debug)]
pub(super) struct Segments {
    /// Index of the segment being read.
    pub index: u64,
    /// Decoded offset at or past which the next line starts a segment.
    next: u64,
    started: Instant,
    slowest: Duration,
    pub paused: Option<PausedAt>,
}

impl Segments {
    /// Segments of `bytes`, the run starting at decoded `offset` in segment
    /// `index`.
    pub fn new(bytes: u64, index: u64, offset: u64) -> Segments {
        Segments {
            index,
            next: boundary_after(bytes, offset),
            started: Instant::now(),
            slowest: Duration::ZERO,
            paused: None,
        }
    }
}

/// The first segment boundary after `offset`: the next multiple of `bytes`.
fn boundary_after(bytes: u64, offset: u64) -> u64 {
    let bytes = bytes.max(1);
    (offset / bytes).saturating_add(1).saturating_mul(bytes)
}

/// Lines in, rows and quarantine records out.
pub(super) struct ParseStage<'o, 's> {
    pub opts: &'o IngestOptions,
    pub parser: Option<Parser>,
    /// Event boundaries of a text source, chosen with the format.
    pub joiner: Option<Joiner>,
    /// The multiline event in progress.
    pub event: Event,
    pub store: &'s dyn OutputStore,
    /// The source's quarantine key; segments after the first add a suffix.
    pub quarantine_key: String,
    pub quarantine: Quarantine<'s>,
    /// Quarantine files of the segments this run finished.
    pub quarantined: QuarantineTotals,
    pub buffers: HashMap<Partition, RowBuffer>,
    pub buffered: usize,
    pub finisher: Finisher,
    pub counts: Counts,
    pub segments: Segments,
    pub observer: &'o mut dyn Observer,
    pub identity: &'o str,
    pub uri: &'o str,
    /// The source's time: the year of year-less text timestamps.
    pub modified_ms: Option<i64>,
}

/// What a source's text lines' times need: the zone of times written
/// without one, and the source's time for layouts without a year.
pub(super) fn text_context(opts: &IngestOptions, modified_ms: Option<i64>) -> Context {
    Context {
        zone: opts.timezone.clone(),
        reference_ms: modified_ms,
    }
}

/// How many first lines decide an object's format.
const SNIFF_LINES: usize = 64;

impl ParseStage<'_, '_> {
    pub fn block(&mut self, block: &Block, sink: &mut Sink<'_>) -> Result<(), Error> {
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
        sink: &mut Sink<'_>,
    ) -> Result<(), Error> {
        let mut rec = Record::default();
        // The multiline event in progress while it is one line of this
        // block: no copy unless a second line joins it or the block ends.
        // With it, what the joiner's look for its time found.
        let mut here: Option<(Line, &str, Option<stamp::Found>)> = None;
        // One UTF-8 check for the whole block instead of one per line: lines
        // end at ASCII bytes, so each line inside a valid prefix is valid.
        let valid = match std::str::from_utf8(&block.buf) {
            Ok(all) => all,
            Err(e) => std::str::from_utf8(&block.buf[..e.valid_up_to()]).unwrap_or_default(),
        };
        for line in &block.lines {
            if line.offset >= self.segments.next {
                if let Some((first, t, found)) = here.take() {
                    rec.clear();
                    let outcome = self.parse(parser, t, &mut rec, &first, found, sink);
                    self.settle(outcome, &first, t.as_bytes())?;
                }
                if self.boundary(parser, line, sink)? {
                    return Ok(());
                }
            }
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
                                    if let Some((first, t, _)) = here.take() {
                                        self.event.start(first, t);
                                    }
                                    self.event.join(text);
                                    self.counts.merged += 1;
                                } else {
                                    let found = j.found(text);
                                    match here.take() {
                                        // A single line in this block (the
                                        // common case): parsed in place.
                                        Some((first, t, found)) => {
                                            rec.clear();
                                            let outcome = self
                                                .parse(parser, t, &mut rec, &first, found, sink);
                                            self.settle(outcome, &first, t.as_bytes())?;
                                        }
                                        None => self.end_event(parser, sink)?,
                                    }
                                    here = Some((*line, text, found));
                                }
                                continue;
                            }
                            None => {
                                rec.clear();
                                self.parse(parser, text, &mut rec, line, None, sink)
                            }
                        },
                    }
                }
            };
            self.settle(outcome, line, raw)?;
        }
        // The block goes; an event still open keeps its own copy.
        if let Some((first, t, _)) = here {
            self.event.start(first, t);
        }
        Ok(())
    }

    /// Parse one line (or event) and make it a row; a header is counted.
    /// `found`: what [`stamp::find`] said of `text`, if it was asked.
    fn parse<'a>(
        &mut self,
        parser: &mut Parser,
        text: &'a str,
        rec: &mut Record<'a>,
        line: &Line,
        found: Option<stamp::Found>,
        sink: &mut Sink<'_>,
    ) -> Result<(), RowError> {
        match parser.parse_found(text, rec, found) {
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
    fn end_event(&mut self, parser: &mut Parser, sink: &mut Sink<'_>) -> Result<(), Error> {
        let Some(first) = self.event.first.take() else {
            return Ok(());
        };
        let text = std::mem::take(&mut self.event.text);
        let mut rec = Record::default();
        let outcome = self.parse(parser, &text, &mut rec, &first, None, sink);
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
pub(super) struct Event {
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
        sink: &mut Sink<'_>,
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
        } else if self.buffered > self.opts.rows_budget() {
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

    fn flush(&mut self, part: Partition, sink: &mut Sink<'_>) -> Result<(), Error> {
        if let Some(b) = self.buffers.remove(&part) {
            self.buffered -= b.bytes();
            sink(Flush::Rows(part, Box::new(b)))?;
        }
        Ok(())
    }

    /// A segment ends before `line`: its last event, rows and quarantine
    /// are committed and nothing is carried past but counts. Whether the
    /// run pauses here (the next segment would not finish by `stop_by`).
    fn boundary(
        &mut self,
        parser: &mut Parser,
        line: &Line,
        sink: &mut Sink<'_>,
    ) -> Result<bool, Error> {
        self.end_event(parser, sink)?;
        self.flush_partitions(sink)?;
        sink(Flush::Segment)?;
        let s = &mut self.segments;
        s.index += 1;
        s.next = boundary_after(self.opts.segment_bytes, line.offset);
        let next = Quarantine::new(
            self.store,
            super::resume::segment_quarantine_key(&self.quarantine_key, s.index),
            self.uri.to_string(),
        )
        .redacting(self.opts.redact);
        let done = std::mem::replace(&mut self.quarantine, next);
        self.quarantined.close(done)?;
        self.finisher.restart(self.modified_ms);
        if let Some(j) = &mut self.joiner {
            j.reset();
        }
        let now = Instant::now();
        s.slowest = s.slowest.max(now - s.started);
        s.started = now;
        let pause = self
            .opts
            .stop_by
            .is_some_and(|stop| now + s.slowest * 3 / 2 >= stop);
        if pause {
            s.paused = Some(PausedAt {
                offset: line.offset,
                line: line.number,
            });
        }
        Ok(pause)
    }

    /// At the end of the input: the last event, then every partition, in
    /// partition order.
    pub fn flush_all(&mut self, sink: &mut Sink<'_>) -> Result<(), Error> {
        if let Some(mut parser) = self.parser.take() {
            let ended = self.end_event(&mut parser, sink);
            self.parser = Some(parser);
            ended?;
        }
        self.flush_partitions(sink)
    }

    fn flush_partitions(&mut self, sink: &mut Sink<'_>) -> Result<(), Error> {
        let mut parts: Vec<Partition> = self.buffers.keys().copied().collect();
        parts.sort();
        for p in parts {
            self.flush(p, sink)?;
        }
        Ok(())
    }
}
