//! Where one thread's time goes when JSON logs become Parquet, stage by
//! stage, each next to its floor (`make bench` prints the table).
//!
//! The first MB megabytes of the decoded input are taken once. Each pass
//! then runs the stages up to one more than the pass before it, on one
//! thread, with loglake's own code; a stage's cost is its pass less the one
//! before, each pass the best of five rounds that run every pass in turn
//! (in CPU time; floors the best of three runs):
//!
//! 1. inflate: the gzip input decoded (the pipeline's decoder, zlib-rs);
//! 2. framing: the decoded bytes cut into blocks of lines;
//! 3. parse: each line read into a record (the JSON scanner);
//! 4. normalise/redact: time, defaults and PII redaction (default options);
//! 5. row building: finished records appended to per-partition buffers;
//! 6. column building: sorted and turned into Arrow arrays;
//! 7. Parquet encoding: encoded, uncompressed, into a null store;
//! 8. zstd: the same at level 1 (the lake's setting);
//! 9. writing: into files of a temporary directory.
//!
//! Each floor is the least that stage's work could cost on the same bytes:
//! one `memchr` pass (framing: line ends; parse: the quotes and backslashes
//! any JSON scanner must find; redaction: one byte class over every value),
//! one copy of the bytes (row, column and Parquet building each copy the
//! values once), zstd level 1 on the uncompressed Parquet bytes in one call
//! per MiB, and one `write` of the lake's (compressed) bytes. Inflate's floor (ISA-L) is
//! measured by `scripts/bench.py`.
//!
//! Output: one line per stage, `stage NAME SECONDS FLOOR_SECONDS FLOOR_NAME`,
//! then `bytes N`, `lines N` and `ingest SECONDS` (the whole pipeline, one
//! thread, same bytes, files written).
//!
//! usage: stage_bench INPUT.ndjson.gz [MB]

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::time::Instant;

use loglake_core::ingest::format::{Parsed, Parser};
use loglake_core::ingest::input::{self, Framer};
use loglake_core::ingest::lake::{LakeOptions, LakeWriter, Partition};
use loglake_core::ingest::rows::RowBuffer;
use loglake_core::ingest::{Finisher, IngestOptions, Source};
use loglake_core::record::{Record, SourceFormat};
use loglake_core::{Format, LocalStore, MemoryStore, NullStore, OutputStore};

const BLOCK: usize = 1 << 20;

/// How far a pass goes.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Upto {
    Frame,
    Parse,
    Finish,
    Rows,
    Columns,
    Encode,
    Zstd,
    Write,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: stage_bench INPUT.ndjson.gz [MB]");
    let mb: usize = args.next().map_or(256, |n| n.parse().expect("megabytes"));
    let want = mb << 20;

    // Inflate: decode the prefix, timed, keeping it.
    let mut decoded = Vec::with_capacity(want + BLOCK);
    let inflate = best(|| {
        decoded.clear();
        let file = std::fs::File::open(&path).expect("the input file");
        let (_, mut r) = input::decode(file).expect("a readable input");
        let mut chunk = vec![0u8; 256 << 10];
        while decoded.len() < want {
            let n = r.read(&mut chunk).expect("the input decodes");
            if n == 0 {
                break;
            }
            decoded.extend_from_slice(&chunk[..n]);
        }
    });
    // Whole lines only.
    let end = memchr::memrchr(b'\n', &decoded).map_or(decoded.len(), |i| i + 1);
    decoded.truncate(end);
    let bytes = decoded.len();

    let opts = IngestOptions::default();
    let tmp = std::env::temp_dir().join(format!("loglake-stage-bench-{}", std::process::id()));
    let mut lines = 0;
    let mut pass = |upto: Upto| {
        cpu_time(|| {
            let _ = std::fs::remove_dir_all(&tmp);
            let local = LocalStore::new(&tmp).expect("a temporary directory");
            let store: &dyn OutputStore = match upto {
                Upto::Write => &local,
                _ => &NullStore,
            };
            let lake = LakeOptions {
                zstd_level: if upto >= Upto::Zstd { 1 } else { 0 },
                ..LakeOptions::default()
            };
            let mut writer = LakeWriter::new(store, "bench".into(), lake).expect("a lake writer");
            lines = run(&decoded, upto, &opts, &mut writer);
            writer.finish().expect("the files close");
        })
    };
    let stages = [
        ("framing", Upto::Frame),
        ("parse", Upto::Parse),
        ("normalise/redact", Upto::Finish),
        ("row building", Upto::Rows),
        ("column building", Upto::Columns),
        ("Parquet encoding", Upto::Encode),
        ("zstd", Upto::Zstd),
        ("writing", Upto::Write),
    ];
    // Every pass once per round, the best of the rounds each: a stage is
    // the difference of two passes, so both must see the same machine (run
    // one after the other, a slower minute lands on one pass only).
    let mut passes = stages.map(|(name, _)| (name, f64::INFINITY));
    for _ in 0..ROUNDS {
        for ((_, upto), (_, secs)) in stages.iter().zip(passes.iter_mut()) {
            *secs = secs.min(pass(*upto));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);

    // The Parquet bytes, uncompressed (zstd's floor) and as the lake has
    // them (writing's floor).
    let files = |zstd_level| -> Vec<u8> {
        let memory = MemoryStore::default();
        let lake = LakeOptions {
            zstd_level,
            ..LakeOptions::default()
        };
        let mut writer = LakeWriter::new(&memory, "bench".into(), lake).expect("a lake writer");
        run(&decoded, Upto::Encode, &opts, &mut writer);
        writer.finish().expect("the files close");
        memory.objects().into_values().flatten().collect()
    };
    let (parquet, lake_bytes) = (files(0), files(1));

    // The floors.
    let newlines = best(|| {
        std::hint::black_box(memchr::memchr_iter(b'\n', &decoded).count());
    });
    let structural = best(|| {
        std::hint::black_box(memchr::memchr2_iter(b'"', b'\\', &decoded).count());
    });
    let one_class = best(|| {
        std::hint::black_box(memchr::memchr_iter(b'@', &decoded).count());
    });
    let mut copy = Vec::with_capacity(bytes);
    let copied = best(|| {
        copy.clear();
        copy.extend_from_slice(&decoded);
        std::hint::black_box(&copy);
    });
    let mut zstd = zstd::bulk::Compressor::new(1).expect("a zstd context");
    let zstd = best(|| {
        for c in parquet.chunks(1 << 20) {
            std::hint::black_box(zstd.compress(c).expect("zstd"));
        }
    });
    let file = std::env::temp_dir().join(format!("loglake-stage-bench-{}.bin", std::process::id()));
    let written = best(|| std::fs::write(&file, &lake_bytes).expect("a temporary file"));
    let _ = std::fs::remove_file(&file);
    let floors = [
        (newlines, "memchr of line ends"),
        (structural, "memchr2 of quotes and backslashes"),
        (one_class, "memchr of one byte over the values"),
        (copied, "one copy of the bytes"),
        (copied, "one copy of the bytes"),
        (copied, "one copy of the bytes"),
        (zstd, "zstd -1 of the uncompressed Parquet bytes"),
        (written, "one write of the lake's bytes"),
    ];

    // The whole pipeline on the same bytes, for the remainder.
    let mut ingest = f64::INFINITY;
    for _ in 0..2 {
        let _ = std::fs::remove_dir_all(&tmp);
        let store = LocalStore::new(&tmp).expect("a temporary directory");
        let source = Source {
            uri: "file:///bench.ndjson".into(),
            identity: "bench".into(),
            name: "bench.ndjson".into(),
            size: None,
            modified_ms: None,
            reader: Box::new(Cursor::new(decoded.clone())),
        };
        let o = IngestOptions {
            format: Some(Format::Json),
            pipelined: false,
            ..IngestOptions::default()
        };
        let t = Instant::now();
        loglake_core::ingest(source, &store, &o).expect("the ingest runs");
        ingest = ingest.min(t.elapsed().as_secs_f64());
        // (wall time: the whole pipeline, one thread)
    }
    let _ = std::fs::remove_dir_all(&tmp);

    println!("stage inflate {inflate:.4} - ISA-L");
    let mut before = 0.0;
    for ((name, secs), (floor, what)) in passes.iter().zip(floors) {
        println!(
            "stage {name} {:.4} {floor:.4} {what}",
            (secs - before).max(0.0)
        );
        before = *secs;
    }
    println!("bytes {bytes}");
    println!("lines {lines}");
    println!("ingest {:.4}", ingest + inflate);
}

/// Rounds of the stage passes.
const ROUNDS: usize = 5;

/// The best of three runs of `f`, in seconds of this thread's CPU time.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| cpu_time(&mut f))
        .fold(f64::INFINITY, f64::min)
}

/// One run of `f`, in seconds of this thread's CPU time (other load on a
/// shared machine moves wall time more).
fn cpu_time(mut f: impl FnMut()) -> f64 {
    let (t, c) = (Instant::now(), cpu_seconds());
    f();
    match (c, cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => t.elapsed().as_secs_f64(),
    }
}

/// The CPU time this (single-threaded) process has run, from
/// /proc/self/schedstat (Linux), in nanoseconds' precision.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Run the stages up to `upto` over `decoded`; returns the lines read.
fn run(decoded: &[u8], upto: Upto, opts: &IngestOptions, lake: &mut LakeWriter<'_>) -> u64 {
    let mut framer = Framer::new(Cursor::new(decoded), opts.max_line_bytes, BLOCK);
    let mut parser = Parser::new(Format::Json, Default::default());
    let mut finisher = Finisher::new(opts, None);
    let mut buffers: HashMap<Partition, RowBuffer> = HashMap::new();
    let mut flush = |part: Partition, rows: RowBuffer| {
        if upto == Upto::Rows {
            return;
        }
        if upto == Upto::Columns {
            rows.into_columns("file:///bench.ndjson", "0123456789abcdef", &mut |c| {
                std::hint::black_box(c);
                Ok(())
            })
            .expect("columns");
            return;
        }
        lake.write(part, |g| {
            rows.into_columns("file:///bench.ndjson", "0123456789abcdef", &mut |c| {
                g.column(c)
            })
        })
        .expect("a row group");
    };
    let mut lines = 0;
    while let Some(block) = framer.next_block().expect("framing") {
        lines += block.lines.len() as u64;
        if upto == Upto::Frame {
            continue;
        }
        let text = std::str::from_utf8(&block.buf).expect("UTF-8 input");
        let mut rec = Record::default();
        for l in &block.lines {
            rec.clear();
            let line = &text[l.start as usize..l.end as usize];
            if !matches!(parser.parse(line, &mut rec), Ok(Parsed::Row(_))) || upto == Upto::Parse {
                continue;
            }
            let Ok(ts) = finisher.finish(&mut rec) else {
                continue;
            };
            if upto == Upto::Finish {
                continue;
            }
            let part = Partition::of(ts);
            let buf = buffers.entry(part).or_default();
            buf.push(&rec, ts, l.number, l.offset, SourceFormat::Json);
            if buf.bytes() >= opts.row_group_bytes
                && let Some(b) = buffers.remove(&part)
            {
                flush(part, b);
            }
        }
    }
    let mut rest: Vec<_> = buffers.into_iter().collect();
    rest.sort_by_key(|(p, _)| *p);
    for (p, b) in rest {
        flush(p, b);
    }
    lines
}
