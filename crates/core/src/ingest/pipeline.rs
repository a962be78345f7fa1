//! One source, one pass: decode, frame, parse, normalize, partition, write
//! Parquet, quarantine what cannot be a row, and account for every line in
//! the manifest.
//!
//! Pipelined mode runs three stages on their own threads (decode and frame,
//! parse and buffer, sort and encode) joined by small bounded channels, so
//! memory stays bounded while decompression and Parquet encoding overlap the
//! parsing. Inline mode does the same work on the calling thread. Both make
//! the same flush decisions in the same order, so they write the same files.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use super::expand::{Expand, Expander};
use super::finish::Finisher;
use super::format::{self, Format, Parser, aws::AwsJson};
use super::input::{self, Block, CountingReader, Framer};
use super::lake::{LakeWriter, Output, Partition};
use super::manifest::{MANIFEST_VERSION, Manifest, Outcome, SourceInfo};
use super::multiline::Joiner;
use super::observe::{NoObserver, Observer};
use super::options::{IngestOptions, MAX_LINE_BYTES_RANGE, MEMORY_BUDGET_MB_RANGE};
use super::quarantine::Quarantine;
use super::resume::{
    CHECKPOINT_VERSION, Checkpoint, Progress, QuarantineTotals, chunks_from_strings,
    chunks_to_strings, segment_quarantine_key, settings_fingerprint, skip_decoded,
};
use super::source::{Keys, Source, previous_outputs, source_id};
use super::stage::{Counts, Event, Flush, ParseStage, Segments, text_context};
use crate::error::Error;
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
    match ingest_resumable(source, store, opts, observer, None)? {
        Progress::Done(m) => Ok(m),
        Progress::Paused(_) => Err(Error::Config(
            "the ingest paused at a segment boundary (stop_by is set): run it with ingest_resumable".into(),
        )),
    }
}

/// [`ingest_observed`] from a checkpoint (or the start), pausing at a
/// segment boundary when [`IngestOptions::stop_by`] says so. A paused run
/// has committed its outputs but written no manifest; the run that reads
/// the last segment writes the manifest of the whole source, byte for byte
/// what a single pass writes, and deletes the checkpoint.
pub fn ingest_resumable(
    source: Source,
    store: &dyn OutputStore,
    opts: &IngestOptions,
    observer: &mut dyn Observer,
    resume: Option<&Checkpoint>,
) -> Result<Progress, Error> {
    let started = Instant::now();
    if opts.max_line_bytes == 0 || opts.row_group_bytes == 0 || opts.segment_bytes == 0 {
        return Err(Error::Config(
            "max_line_bytes, row_group_bytes and segment_bytes must be positive".into(),
        ));
    }
    // The upper bounds of the settings (their lower bounds are the
    // settings' own: tests cut lines shorter than any deployment would).
    let (lines, memory) = (MAX_LINE_BYTES_RANGE, MEMORY_BUDGET_MB_RANGE);
    if opts.max_line_bytes > *lines.end() {
        return Err(Error::Config(format!(
            "max_line_bytes must be at most {} (got {})",
            lines.end(),
            opts.max_line_bytes
        )));
    }
    if opts.memory_budget > *memory.end() << 20 {
        return Err(Error::Config(format!(
            "the memory budget must be at most {} MiB (got {} bytes)",
            memory.end(),
            opts.memory_budget
        )));
    }
    let keys = Keys::new(opts, &source.name, &source.identity, source.modified_ms);
    let (raw, bytes_in) = CountingReader::new(source.reader);
    let uri = source.uri.clone();
    let (compression, decoded) = input::decode(raw).map_err(|e| Error::read(&uri, e))?;
    let (offset, line) = resume.map_or((0, 1), |c| (c.offset, c.line));

    // The first bytes tell a document of records (CloudTrail's) from lines.
    let (head, decoded) = input::peek(decoded, HEAD_BYTES);
    let context = text_context(opts, source.modified_ms);
    let parser = match resume {
        Some(c) => Some(
            Parser::restore(&c.parser, &opts.formats, opts.custom.as_ref(), context).ok_or_else(
                || {
                    Error::Config(format!(
                        "checkpoint names an unknown format: {}",
                        c.parser.name
                    ))
                },
            )?,
        ),
        None => match (&opts.format, &opts.custom) {
            (Some(f), _) => Some(Parser::new(*f, context)),
            (None, Some(c)) => Some(Parser::custom(c.clone(), context)),
            (None, None) => match opts.formats.for_source(&source.name) {
                Some(c) => Some(Parser::custom(c.clone(), context)),
                None => format::from_key(&source.name)
                    .or_else(|| {
                        Expand::records()
                            .matches(&head)
                            .then_some(Format::Aws(AwsJson::CloudTrail))
                    })
                    .map(|f| Parser::new(f, context)),
            },
        },
    };
    // A format whose records come as one document reads them one per line,
    // when the object is such a document.
    let expand = parser
        .as_ref()
        .and_then(Parser::expand)
        .filter(|e| e.opens(&head));
    let mut decoded: Box<dyn Read + Send> = match expand {
        Some(e) => Box::new(Expander::new(decoded, e)),
        None => decoded,
    };
    skip_decoded(&mut decoded, offset).map_err(|e| Error::read(&uri, e))?;
    let framer = Framer::starting_at(decoded, opts.max_line_bytes, BLOCK_BYTES, offset, line);
    let joiner = resume.and_then(|c| c.joiner).map(|timestamped| {
        let limits = opts.multiline;
        match parser.as_ref().and_then(|p| p.custom_format()) {
            Some(c) if c.is_multiline() => Joiner::starting_with(limits, c.clone()),
            _ => Joiner::new(limits, timestamped),
        }
    });
    let segment = resume.map_or(0, |c| c.segment);
    let mut stage = ParseStage {
        opts,
        parser,
        store,
        quarantine: Quarantine::new(
            store,
            segment_quarantine_key(&keys.quarantine, segment),
            uri.clone(),
        )
        .redacting(opts.redact),
        quarantine_key: keys.quarantine.clone(),
        quarantined: QuarantineTotals::default(),
        joiner,
        event: Event::default(),
        buffers: HashMap::new(),
        buffered: 0,
        finisher: Finisher::new(opts, source.modified_ms),
        counts: match resume {
            Some(c) => Counts::from_manifest(&c.manifest)?,
            None => Counts::default(),
        },
        segments: Segments::new(opts.segment_bytes, segment, offset),
        observer,
        identity: &source.identity,
        uri: &source.uri,
        modified_ms: source.modified_ms,
    };
    let mut lake = LakeWriter::new(store, keys.name.clone(), opts.lake.clone())?;
    if let Some(c) = resume {
        lake = lake.with_chunks(chunks_from_strings(&c.chunks)?);
    }

    let Finished {
        outputs,
        chunks,
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
        mut quarantined,
        counts: c,
        parser,
        joiner,
        finisher,
        segments,
        ..
    } = stage;
    quarantined.close(quarantine)?;
    let base = resume.map(|c| &c.manifest);
    let mut redacted = finisher.redacted();
    redacted.add(&quarantined.redacted);
    let mut by_reason = quarantined.by_reason;
    let mut outputs: Vec<Output> = outputs.into_iter().chain(quarantined.outputs).collect();
    if let Some(b) = base {
        redacted.add(&b.redacted);
        for (r, n) in &b.quarantined_by_reason {
            *by_reason.entry(r.clone()).or_insert(0) += n;
        }
        outputs.extend(b.outputs.iter().cloned());
    }
    outputs.sort_by(|a, b| a.key.cmp(&b.key));
    let corrupt = damaged.0 + base.map_or(0, |b| b.corrupt_members);
    let first_damage = resume.and_then(|c| c.first_damage.clone()).or(damaged.1);
    let paused = segments.paused;
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        source: SourceInfo {
            uri: source.uri,
            id: source_id(&source.identity),
            identity: source.identity.clone(),
            size: source.size,
            modified: source.modified_ms.map(time::format_rfc3339_ms),
        },
        format: parser
            .as_ref()
            .map_or_else(|| super::Format::Text.as_str().to_string(), |p| p.name()),
        compression,
        lines_total: c.lines_total,
        lines_in: c.lines_total - c.blank - c.header,
        rows_out: c.rows,
        quarantined: quarantined.count + base.map_or(0, |b| b.quarantined),
        merged: c.merged,
        quarantined_by_reason: by_reason,
        skipped_blank: c.blank,
        skipped_header: c.header,
        ts_inferred: finisher.ts_inferred() + base.map_or(0, |b| b.ts_inferred),
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
        bytes_decoded: offset + decoded_bytes,
        duration_ms: started.elapsed().as_millis() as u64 + base.map_or(0, |b| b.duration_ms),
        outputs,
        corrupt_members: corrupt,
        outcome: if decode_error.is_some() {
            Outcome::Truncated
        } else if corrupt > 0 {
            Outcome::Corrupt
        } else {
            Outcome::Complete
        },
        error: match (decode_error, &first_damage) {
            (Some(e), _) => Some(format!("input ended early: {e}")),
            (None, Some(d)) => Some(format!(
                "{corrupt} damaged gzip member(s) skipped, the first: {d}"
            )),
            (None, None) => None,
        },
    };
    if let Some(at) = paused {
        return Ok(Progress::Paused(Checkpoint {
            version: CHECKPOINT_VERSION,
            identity: source.identity,
            settings: settings_fingerprint(opts),
            segment: segments.index,
            offset: at.offset,
            line: at.line,
            parser: parser
                .map(|p| p.state())
                .ok_or_else(|| Error::Config("paused before the format was known".into()))?,
            joiner: joiner.map(|j| j.is_timestamped()),
            chunks: chunks_to_strings(&chunks),
            manifest,
            first_damage,
        }));
    }
    for stale in previous_outputs(store, &keys.manifest)?
        .iter()
        .filter(|k| !manifest.outputs.iter().any(|o| &o.key == *k))
    {
        store.delete(stale).map_err(|e| Error::write(stale, e))?;
    }
    let mut f = store
        .create(&keys.manifest)
        .map_err(|e| Error::write(&keys.manifest, e))?;
    serde_json::to_writer_pretty(&mut f, &manifest)
        .map_err(|e| Error::write(&keys.manifest, e.into()))?;
    f.commit().map_err(|e| Error::write(&keys.manifest, e))?;
    if resume.is_some() {
        store
            .delete(&keys.checkpoint)
            .map_err(|e| Error::write(&keys.checkpoint, e))?;
    }
    Ok(Progress::Done(manifest))
}

/// Decoded bytes looked at before framing, to recognize a document of
/// records.
const HEAD_BYTES: usize = 512;
/// Decoded bytes per block handed from the reader to the parser.
const BLOCK_BYTES: usize = 1 << 20;
/// Blocks in flight between reader and parser.
const BLOCKS_IN_FLIGHT: usize = 4;

/// What the stages leave when the input ends (or the run pauses).
struct Finished {
    /// The lake files written.
    outputs: Vec<Output>,
    /// The next chunk number of each partition.
    chunks: HashMap<Partition, u32>,
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
    let mut sink = |f: Flush| to_lake(&mut lake, f, uri, &sid);
    while let Some(block) = framer.next_block().map_err(|e| Error::read(uri, e))? {
        stage.block(&block, &mut sink)?;
        if stage.segments.paused.is_some() {
            break;
        }
    }
    stage.flush_all(&mut sink)?;
    let chunks = lake.chunks().clone();
    let outputs = lake.finish()?;
    Ok(Finished {
        outputs,
        chunks,
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
        let (rows_tx, rows_rx) = sync_channel::<Flush>(0);
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
        let (outputs, chunks) = match (parsed, encoded) {
            (_, Err(e)) => return Err(e),
            (Err(e), _) => return Err(e),
            (Ok(()), Ok(o)) => o,
        };
        Ok(Finished {
            outputs,
            chunks,
            decoded_bytes: decoded,
            decode_error,
            damaged,
        })
    })
}

fn parse_blocks(
    stage: &mut ParseStage<'_, '_>,
    blocks: Receiver<io::Result<Block>>,
    rows: &SyncSender<Flush>,
    uri: &str,
) -> Result<(), Error> {
    let mut sink = |f: Flush| {
        rows.send(f)
            .map_err(|_| Error::Thread("the encoder stopped".into()))
    };
    // Pausing drops `blocks`, which stops the reader.
    for block in blocks {
        let block = block.map_err(|e| Error::read(uri, e))?;
        stage.block(&block, &mut sink)?;
        if stage.segments.paused.is_some() {
            break;
        }
    }
    stage.flush_all(&mut sink)
}

fn encode(
    mut lake: LakeWriter<'_>,
    rows: Receiver<Flush>,
    uri: &str,
    source_id: &str,
) -> Result<(Vec<Output>, HashMap<Partition, u32>), Error> {
    for f in rows {
        to_lake(&mut lake, f, uri, source_id)?;
    }
    let chunks = lake.chunks().clone();
    Ok((lake.finish()?, chunks))
}

fn to_lake(lake: &mut LakeWriter<'_>, f: Flush, uri: &str, source_id: &str) -> Result<(), Error> {
    match f {
        Flush::Rows(part, rows) => lake.write(part, |group| {
            rows.into_columns(uri, source_id, &mut |c| group.column(c))
        }),
        Flush::Segment => lake.close_all(),
    }
}
