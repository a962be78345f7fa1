//! Integration tests of loglake-core's public API: the framer and decoder on
//! their own, then whole sources through `ingest` into a `MemoryStore`, read
//! back (Parquet, quarantine, manifest) and checked value by value.
//!
//! Nothing here touches the network or the lake on disk; Parquet files are
//! read back through an anonymous temporary file, because the Parquet reader
//! wants a `File` (or `bytes::Bytes`, which core does not depend on).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Cursor, Read, Write};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use base64::Engine;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use loglake_core::input::{self, Compression, Framer, LineKind};
use loglake_core::lake::{OutputKind, Partition};
use loglake_core::manifest::Outcome;
use loglake_core::pipeline::{name_stem, source_id};
use loglake_core::{Format, IngestOptions, Manifest, MemoryStore, Source, ingest};

/// 2024-03-14T00:00:00Z.
const DAY0: i64 = 1_710_374_400_000;
/// 2024-03-14T21:00:00Z.
const T21: i64 = 1_710_450_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

// ---------------------------------------------------------------- Framer

#[test]
fn framer_splits_lf_crlf_bom_blank_and_unterminated_last_line() {
    // BOM, LF, CRLF, a blank LF line, a blank CRLF line, a lone CR kept inside
    // a line, and a last line with no newline.
    let input = b"\xEF\xBB\xBFfirst\nsecond\r\n\nthird\r\n\r\nin\rside\nlast";
    let got = frame_all(Cursor::new(input), 1 << 20, 1 << 20).0;
    let want: Vec<FLine> = vec![
        fl(b"first", 3, 1),
        fl(b"second", 9, 2),
        fl(b"", 17, 3),
        fl(b"third", 18, 4),
        fl(b"", 25, 5),
        fl(b"in\rside", 27, 6),
        fl(b"last", 35, 7),
    ];
    assert_eq!(got, want);

    // Without a BOM the first line starts at 0; a trailing newline adds no
    // empty line; a final CR before EOF is a line terminator too.
    let got = frame_all(Cursor::new(b"a\nb\n"), 1 << 20, 1 << 20).0;
    assert_eq!(got, vec![fl(b"a", 0, 1), fl(b"b", 2, 2)]);
    let got = frame_all(Cursor::new(b"a\r\nb\r"), 1 << 20, 1 << 20).0;
    assert_eq!(got, vec![fl(b"a", 0, 1), fl(b"b", 3, 2)]);
    // A BOM is only stripped at the very start of the stream.
    let got = frame_all(Cursor::new(b"a\n\xEF\xBB\xBFb\n"), 1 << 20, 1 << 20).0;
    assert_eq!(got, vec![fl(b"a", 0, 1), fl(b"\xEF\xBB\xBFb", 2, 2)]);
    // Empty input and a lone BOM hold no lines.
    assert!(frame_all(Cursor::new(b""), 1 << 20, 1 << 20).0.is_empty());
    assert!(
        frame_all(Cursor::new(b"\xEF\xBB\xBF"), 1 << 20, 1 << 20)
            .0
            .is_empty()
    );
}

#[test]
fn framer_block_size_does_not_change_lines() {
    // Block boundaries are an implementation detail: a 7-byte target (a new
    // block after nearly every read) must frame exactly like a huge one, with
    // reads of every small size and with 256 KiB reads that end inside a
    // multi-byte character.
    let long: String = "x".repeat(5000);
    let inputs: Vec<Vec<u8>> = vec![
        b"one\ntwo\r\nthree\n\nfive".to_vec(),
        "\u{feff}héllo wörld\nΑθήνα\r\n日本語のログ行\n🎧🎧🎧\n\nend\n"
            .as_bytes()
            .to_vec(),
        format!("short\n{long}\nafter\n").into_bytes(),
        (0..500)
            .map(|i| format!("line {i} {}\n", "é".repeat(i % 13)))
            .collect::<String>()
            .into_bytes(),
        (0..40_000)
            .map(|i| format!("{i} {}\r\n", "日本🎧".repeat(i % 7)))
            .collect::<String>()
            .into_bytes(),
    ];
    for input in &inputs {
        let want = reference_lines(input);
        for target in [1, 7, 64, 1 << 30] {
            let (got, _) = frame_all(Cursor::new(input), 1 << 20, target);
            assert_eq!(got, want, "target {target}");
            if input.len() < 100_000 {
                let (got, _) = frame_all(Trickle::new(Cursor::new(input), 13), 1 << 20, target);
                assert_eq!(got, want, "small reads, target {target}");
            } else if target < 64 {
                // Reads are 256 KiB: a tiny target cuts after every read.
                let (_, blocks) = frame_all(Cursor::new(input), 1 << 20, target);
                assert!(blocks >= input.len() / (256 << 10), "{blocks} blocks");
            }
        }
    }
}

#[test]
fn framer_oversized_line_is_cut_to_max_and_neighbours_are_intact() {
    struct Case {
        max_line: usize,
        line_len: usize,
    }
    for Case { max_line, line_len } in [
        // Within one read.
        Case {
            max_line: 16,
            line_len: 100,
        },
        // One byte over the limit.
        Case {
            max_line: 16,
            line_len: 17,
        },
        // Spanning many 256 KiB reads: the rest of the line is never held.
        Case {
            max_line: 1024,
            line_len: 3 << 20,
        },
    ] {
        let long: Vec<u8> = (0..line_len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = b"before\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nafter\nexactly-sixteen!\n");
        let got = frame_all(Cursor::new(&input), max_line, 1 << 20).0;
        let after = 7 + line_len as u64 + 1;
        let want = vec![
            fl(b"before", 0, 1),
            FLine {
                text: long[..max_line].to_vec(),
                offset: 7,
                number: 2,
                kind: LineKind::Oversized {
                    len: line_len as u64,
                },
            },
            fl(b"after", after, 3),
            fl(b"exactly-sixteen!", after + 6, 4),
        ];
        assert_eq!(got, want, "max {max_line}, line {line_len}");
    }

    // An oversized first line after a BOM starts at offset 3.
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend(std::iter::repeat_n(b'b', 40));
    input.extend_from_slice(b"\nok\n");
    let got = frame_all(Cursor::new(&input), 16, 1 << 20).0;
    let want = vec![
        FLine {
            text: vec![b'b'; 16],
            offset: 3,
            number: 1,
            kind: LineKind::Oversized { len: 40 },
        },
        fl(b"ok", 44, 2),
    ];
    assert_eq!(got, want);
    assert_eq!(frame_all(OneByte(Cursor::new(&input)), 16, 7).0, want);

    // An oversized last line without a newline.
    let mut input = b"ok\n".to_vec();
    input.extend(std::iter::repeat_n(b'z', 40));
    let got = frame_all(Cursor::new(&input), 16, 1 << 20).0;
    assert_eq!(
        got,
        vec![
            fl(b"ok", 0, 1),
            FLine {
                text: vec![b'z'; 16],
                offset: 3,
                number: 2,
                kind: LineKind::Oversized { len: 40 },
            },
        ]
    );
}

#[test]

fn framer_crlf_line_spanning_reads_is_measured_without_its_cr() {
    // A line's text never includes its terminator, and `len` is the line's
    // full length: a CRLF line must be measured the same whether it arrived
    // in one read or in many. Reads split a line when it is longer than a
    // 256 KiB read, or when the reader returns little at a time; the hard
    // case is a read that ends between the CR and the LF, where the CR is
    // still an unfinished line's byte when the length limit is checked.
    let mut failures = Vec::new();
    // (max_line, line length, 1-byte reads)
    for (max_line, line_len, one_byte) in [
        (16, 100, false),
        (16, 100, true),
        (1024, 3 << 20, false),
        // Exactly max_line bytes before the CRLF: not oversized at all.
        (16, 16, true),
        // The same with whole reads: the first 256 KiB read ends between
        // this line's CR and LF (8 + 262_135 + 1 = 262_144).
        (262_135, 262_135, false),
    ] {
        let mut input = b"before\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'q', line_len));
        input.extend_from_slice(b"\r\nafter\r\n");
        let kind = if line_len > max_line {
            LineKind::Oversized {
                len: line_len as u64,
            }
        } else {
            LineKind::Complete
        };
        let want = vec![
            fl(b"before", 0, 1),
            FLine {
                text: vec![b'q'; line_len.min(max_line)],
                offset: 8,
                number: 2,
                kind,
            },
            fl(b"after", 8 + line_len as u64 + 2, 3),
        ];
        let got = if one_byte {
            frame_all(OneByte(Cursor::new(&input)), max_line, 1 << 20).0
        } else {
            frame_all(Cursor::new(&input), max_line, 1 << 20).0
        };
        if got[1].kind != want[1].kind || got != want {
            failures.push(format!(
                "max {max_line}, line {line_len}, 1-byte {one_byte}: got {:?}, want {:?}",
                got[1].kind, want[1].kind
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn framer_one_byte_reads_give_identical_lines() {
    // Readers may return fewer bytes than asked (pipes, decoders, sockets):
    // the BOM check, line ends and the oversized state must survive a read
    // boundary anywhere.
    let long: String = "L".repeat(100);
    let inputs: Vec<(Vec<u8>, usize)> = vec![
        (b"\xEF\xBB\xBFbom first\nsecond\r\n\nlast".to_vec(), 1 << 20),
        (b"\xEF\xBB".to_vec(), 1 << 20),
        ("héllo\nΑθήνα\r\n🎧\n\n".as_bytes().to_vec(), 1 << 20),
        (format!("a\n{long}\nb\n{long}").into_bytes(), 16),
        (format!("{long}\nshort\n").into_bytes(), 16),
        (b"exactly-sixteen!\nseventeen-bytes!!\n".to_vec(), 16),
    ];
    for (input, max_line) in &inputs {
        for target in [7, 1 << 20] {
            let whole = frame_all(Cursor::new(input), *max_line, target).0;
            let bytewise = frame_all(OneByte(Cursor::new(input)), *max_line, target).0;
            assert_eq!(bytewise, whole, "{:?} target {target}", lossy(input));
        }
    }
}

#[test]
fn decode_detects_compression_and_reads_every_member() {
    let a = b"gz member one line 1\ngz member one line 2\n";
    let b = b"gz member two line 3\nno newline at the end";
    // Two gzip members back to back (Firehose batches, `cat a.gz b.gz`).
    let mut gz = gzip(a);
    gz.extend(gzip(b));
    // Two zstd frames back to back.
    let mut zst = zstd::encode_all(&a[..], 3).unwrap();
    zst.extend(zstd::encode_all(&b[..], 3).unwrap());
    let want = vec![
        fl(b"gz member one line 1", 0, 1),
        fl(b"gz member one line 2", 21, 2),
        fl(b"gz member two line 3", 42, 3),
        fl(b"no newline at the end", 63, 4),
    ];
    let mut plain = a.to_vec();
    plain.extend_from_slice(b);
    for (name, bytes, compression) in [
        ("gzip", gz, Compression::Gzip),
        ("zstd", zst, Compression::Zstd),
        ("plain", plain, Compression::None),
    ] {
        // Whole reads, and 1-byte reads so the magic bytes arrive one by one.
        for one_byte in [false, true] {
            let raw: Box<dyn Read + Send> = if one_byte {
                Box::new(OneByte(Cursor::new(bytes.clone())))
            } else {
                Box::new(Cursor::new(bytes.clone()))
            };
            let (c, decoded) = input::decode(raw).unwrap();
            assert_eq!(c, compression, "{name}");
            let (got, _, err) = frame_all_err(decoded, 1 << 20, 1 << 20);
            assert_eq!(got, want, "{name} one_byte={one_byte}");
            assert!(err.is_none(), "{name}: {err:?}");
        }
    }
    // Input shorter than any magic is plain.
    let (c, mut r) = input::decode(Cursor::new(b"x".to_vec())).unwrap();
    assert_eq!(c, Compression::None);
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "x");
}

#[test]
fn decode_truncated_gzip_keeps_complete_lines_then_one_truncated_line() {
    // Varied content, so the compressed stream is long and the cut lands in
    // the middle of the data.
    let text: String = (0..4000u64)
        .map(|i| format!("line {i:05} {:016x}\n", splitmix(i)))
        .collect();
    let full = reference_lines(text.as_bytes());
    let gz = gzip(text.as_bytes());
    // (cut, whether data is lost): a cut in the last bytes of the deflate
    // data or in the CRC/length trailer may leave every line decodable, but
    // the stream is still incomplete and must be reported.
    for (cut, loses_data) in [
        (gz.len() / 3, true),
        (gz.len() / 2, true),
        (gz.len() - 30, true),
        (gz.len() - 9, false),
        (gz.len() - 4, false),
        (gz.len() - 1, false),
    ] {
        let (c, decoded) = input::decode(Cursor::new(gz[..cut].to_vec())).unwrap();
        assert_eq!(c, Compression::Gzip);
        let (got, _, err) = frame_all_err(decoded, 1 << 20, 1 << 20);
        assert!(
            err.is_some(),
            "cut at {cut}: the decoder error must be kept"
        );
        let complete = got
            .iter()
            .take_while(|l| l.kind == LineKind::Complete)
            .count();
        assert!(complete > 0, "cut at {cut}: nothing decoded");
        if loses_data {
            assert!(complete < full.len(), "cut at {cut}: everything decoded");
        }
        // Every complete line is the real line, at its real place.
        assert_eq!(got[..complete], full[..complete], "cut at {cut}");
        // At most one more line, marked truncated, a prefix of the real one.
        let rest = &got[complete..];
        assert!(rest.len() <= 1, "cut at {cut}: {} lines after", rest.len());
        if let Some(t) = rest.first() {
            let real = &full[complete];
            assert_eq!(t.kind, LineKind::Truncated);
            assert_eq!((t.offset, t.number), (real.offset, real.number));
            assert!(real.text.starts_with(&t.text), "cut at {cut}");
        }
    }
}

#[test]
fn decode_truncated_zstd_is_reported() {
    // A zstd stream cut short must end with a decoder error too, never look
    // like a complete object.
    let text: String = (0..4000u64)
        .map(|i| format!("line {i:05} {:016x}\n", splitmix(i)))
        .collect();
    let full = reference_lines(text.as_bytes());
    let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
    for cut in [zst.len() / 2, zst.len() - 1] {
        let (c, decoded) = input::decode(Cursor::new(zst[..cut].to_vec())).unwrap();
        assert_eq!(c, Compression::Zstd);
        let (got, _, err) = frame_all_err(decoded, 1 << 20, 1 << 20);
        assert!(err.is_some(), "cut at {cut} of {}: no error", zst.len());
        let complete = got
            .iter()
            .take_while(|l| l.kind == LineKind::Complete)
            .count();
        assert_eq!(got[..complete], full[..complete], "cut at {cut}");
        assert!(got.len() - complete <= 1);
    }
}

// ---------------------------------------------------------------- Pipeline

#[test]
fn fifty_hours_with_four_open_files_accounts_for_every_row() {
    // Each line goes to its own row group (row_group_bytes 1), so the lake
    // writes follow the input order exactly and an LRU model of the open
    // files predicts every file name and row count: a partition gets a new
    // chunk only when it was evicted and written again.
    let mut hours: Vec<i64> = Vec::new();
    // Contiguous runs, each partition once...
    for h in 0..50 {
        hours.extend([h, h, h]);
    }
    // ...then revisits, with hour 0 written every other line so it stays open.
    for k in 0..120 {
        hours.push(0);
        hours.push((k * 7) % 50);
    }
    // ...and a final burst that cycles through five partitions, one more
    // than fit, so each is evicted before its next write.
    for k in 0..20 {
        hours.push(10 + k % 5);
    }
    let input = json_lines(&hours);

    let store = MemoryStore::default();
    let mut o = options(false);
    o.lake.max_open_files = 4;
    o.row_group_bytes = 1;
    let m = ingest(source("fifty.log", &input, None), &store, &o).unwrap();

    assert!(m.balanced(), "{m:#?}");
    assert_eq!(m.lines_total, hours.len() as u64);
    assert_eq!(m.rows_out, hours.len() as u64);
    assert_eq!(m.quarantined, 0);
    assert_eq!(m.format, "json");
    assert_eq!(m.outcome, Outcome::Complete);

    let name = output_name("fifty.log", "id:fifty.log");
    let want = lru_model(&hours, 4, &name);
    let got: Vec<(String, String, u64)> = m
        .outputs
        .iter()
        .map(|o| {
            assert_eq!(o.kind, OutputKind::Parquet);
            (o.key.clone(), o.partition.clone().unwrap(), o.rows)
        })
        .collect();
    assert_eq!(got, want);
    // Sanity of the model itself: hour 0 (3 rows in its first file) is
    // reopened once and, written every other line, stays open through the
    // revisits; the five hours of the final burst are evicted before each of
    // their writes there.
    let chunks = |h: i64| got.iter().filter(|(_, q, _)| *q == part(h)).count();
    assert_eq!(chunks(0), 2);
    assert_eq!(got.iter().find(|f| f.1 == part(0)).unwrap().2, 3);
    for h in 10..15 {
        assert!(chunks(h) >= 5, "hour {h}: {} files", chunks(h));
    }
    assert!(got.len() > 100, "{} files", got.len());

    check_outputs_against_parquet(&store, &m, Some(1));
}

#[test]
fn fifty_hours_with_small_row_groups_balance_and_number_chunks_densely() {
    // The same shape with real byte-sized row groups: exact file names depend
    // on flush points, but the accounting and the chunk numbering must hold.
    let hours: Vec<i64> = (0..3000).map(|i| (i / 40 + (i % 3) * 17) % 50).collect();
    let input = json_lines(&hours);
    for pipelined in [false, true] {
        let store = MemoryStore::default();
        let mut o = options(pipelined);
        o.lake.max_open_files = 4;
        o.row_group_bytes = 4096;
        let m = ingest(source("small.log", &input, None), &store, &o).unwrap();
        assert!(m.balanced());
        assert_eq!(m.rows_out, 3000);
        assert_eq!(m.partitions.len(), 50);
        let per_part = check_outputs_against_parquet(&store, &m, None);
        // Chunks of a partition are numbered 0, 1, 2... with no gap.
        let name = output_name("small.log", "id:small.log");
        for (p, keys) in per_part {
            let want: Vec<String> = (0..keys.len())
                .map(|c| format!("logs/{p}/{name}-{c:04}.parquet"))
                .collect();
            assert_eq!(keys, want);
        }
    }
}

#[test]
fn pipelined_and_inline_write_identical_objects() {
    // Enough input for several 1 MiB blocks, with flushes by size, by memory
    // budget and at the end, evictions, and a quarantine file.
    let mut input = Vec::new();
    for i in 0..30_000i64 {
        let h = if i % 5 == 0 { i % 30 } else { (i / 900) % 30 };
        input.extend(json_line(
            i,
            DAY0 + h * HOUR + i,
            "x".repeat((i % 50) as usize).as_str(),
        ));
        if i % 997 == 0 {
            input.extend_from_slice(b"{\"ts\": broken\n");
        }
    }
    let mut stores = Vec::new();
    for pipelined in [false, true] {
        let store = MemoryStore::default();
        let mut o = options(pipelined);
        o.lake.max_open_files = 6;
        o.memory_budget = 512 << 10;
        o.row_group_bytes = 128 << 10;
        let m = ingest(source("same.log", &input, Some(T21)), &store, &o).unwrap();
        assert!(m.balanced());
        assert_eq!(m.quarantined_by_reason, reasons(&[("invalid_json", 31)]));
        stores.push(normalized(&store));
    }
    assert!(stores[0].len() > 35, "{} objects", stores[0].len());
    assert_eq!(
        stores[0].keys().collect::<Vec<_>>(),
        stores[1].keys().collect::<Vec<_>>()
    );
    for (k, v) in &stores[0] {
        assert!(stores[1][k] == *v, "{k} differs");
    }
}

#[test]
fn rerun_overwrites_and_removes_stale_chunks() {
    let hours: Vec<i64> = (0..600).map(|i| (i * 13) % 12).collect();
    let mut input = json_lines(&hours);
    input.extend_from_slice(b"{not json\n");
    let src = || source("rerun.log", &input, Some(DAY0 + DAY));

    let mut few = options(true);
    few.lake.max_open_files = 2;
    few.row_group_bytes = 2048;
    let store = MemoryStore::default();
    let first = ingest(src(), &store, &few).unwrap();
    let after_first = normalized(&store);

    // Same source, same settings: the same objects, nothing added.
    let again = ingest(src(), &store, &few).unwrap();
    assert_eq!(normalized(&store), after_first);
    assert_eq!(zero_duration(first.clone()), zero_duration(again));

    // More open files: fewer chunks. The store must hold exactly what a fresh
    // run with these settings writes: the first run's extra chunks are gone.
    let mut many = few.clone();
    many.lake.max_open_files = 64;
    let third = ingest(src(), &store, &many).unwrap();
    let fresh = MemoryStore::default();
    ingest(src(), &fresh, &many).unwrap();
    assert_eq!(normalized(&store), normalized(&fresh));
    assert!(
        third.outputs.len() < first.outputs.len(),
        "{} vs {}",
        third.outputs.len(),
        first.outputs.len()
    );
    let stale: Vec<&String> = after_first
        .keys()
        .filter(|k| !normalized(&store).contains_key(*k))
        .collect();
    assert!(!stale.is_empty());
    assert!(
        stale
            .iter()
            .all(|k| k.ends_with(".parquet") && !k.ends_with("-0000.parquet"))
    );
    // Every partition now has one file.
    assert_eq!(third.outputs.len(), 12 + 1);
}

#[test]
fn memory_budget_bounds_row_groups() {
    // ~20 MB over 24 partitions: long runs of one hour (row groups cut by
    // size) alternate with round robin over all hours (cut by the budget).
    let mut input = Vec::with_capacity(21 << 20);
    let mut i = 0i64;
    let mut seg = 0i64;
    while input.len() < 20 << 20 {
        let run = if seg % 2 == 0 { 1500 } else { 1200 };
        for k in 0..run {
            let h = if seg % 2 == 0 { (seg * 5) % 24 } else { k % 24 };
            // Long, varied messages: the row's strings dominate its size, so
            // the buffer's estimate and Parquet's uncompressed size are close.
            let msg: String = (0..12)
                .map(|j| format!("{:016x}", splitmix((i * 12 + j) as u64)))
                .collect();
            input.extend(json_line(i, DAY0 + h * HOUR + i % HOUR, &msg));
            i += 1;
        }
        seg += 1;
    }
    let store = MemoryStore::default();
    let mut o = options(true);
    o.memory_budget = 1 << 20;
    o.row_group_bytes = 256 << 10;
    let m = ingest(source("big.log", &input, None), &store, &o).unwrap();
    assert!(m.balanced());
    assert_eq!(m.rows_out, i as u64);
    assert_eq!(m.partitions.len(), 24);
    assert_eq!(m.outputs.len(), 24, "32 open files hold every partition");

    let objects = store.objects();
    let mut largest = 0;
    for out in &m.outputs {
        let meta = parquet_meta(&objects[&out.key]);
        let groups = meta.num_row_groups();
        assert!(groups >= 3, "{}: {groups} row groups", out.key);
        let mut rows = 0;
        for g in meta.row_groups() {
            rows += g.num_rows() as u64;
            let size = g.total_byte_size() as usize;
            largest = largest.max(size);
            assert!(
                size <= 2 * o.row_group_bytes,
                "{}: a row group of {size} bytes",
                out.key
            );
        }
        assert_eq!(rows, out.rows);
    }
    // The bound is not met trivially: groups cut by size come near it (the
    // buffer's estimate runs above Parquet's uncompressed size, by ~1.6x for
    // these rows), while the budget cuts the others smaller.
    assert!(
        largest > o.row_group_bytes / 3,
        "largest row group {largest}"
    );
}

#[test]
fn quarantine_records_every_bad_line_with_reason_and_raw_bytes() {
    let oversized = format!(
        r#"{{"ts":"2024-03-14T21:00:04Z","msg":"{}"}}"#,
        "a".repeat(300)
    );
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-03-14T21:00:00Z","level":"info","service":"web","msg":"first"}"#,
        br#"{"ts":"2024-03-14T21:00:01Z","level":"info","service":"web","msg":"second"}"#,
        br#"{"ts":"2024-03-14T21:00:02Z","msg":"broken""#,
        b"{\"ts\":\"2024-03-14T21:00:03Z\",\"msg\":\"bad \xff\xfe bytes\"}",
        oversized.as_bytes(),
        br#"{"ts":"2024-03-14T21:00:05Z","status":"teapot"}"#,
        b"",
        b"    at com.example.Checkout.pay(Checkout.java:42)",
        br#"{"ts":"2024-03-14T21:00:06Z","level":"error","service":"web","msg":"last"}"#,
    ];
    let (input, offsets) = join(&lines, "\n");
    let store = MemoryStore::default();
    let mut o = options(false);
    o.max_line_bytes = 128;
    let modified = T21 + HOUR;
    let m = ingest(source("q.log", &input, Some(modified)), &store, &o).unwrap();

    assert!(m.balanced(), "{m:#?}");
    assert_eq!(m.format, "json");
    assert_eq!(
        (m.lines_total, m.lines_in, m.rows_out, m.quarantined),
        (9, 8, 4, 4)
    );
    assert_eq!(
        (m.skipped_blank, m.skipped_header, m.ts_inferred),
        (1, 0, 1)
    );
    assert_eq!(
        m.quarantined_by_reason,
        reasons(&[
            ("invalid_json", 1),
            ("invalid_utf8", 1),
            ("oversized_line", 1),
            ("wrong_type:http_status", 1),
        ])
    );
    assert_eq!(m.errors_by_service, reasons(&[("web", 1)]));

    // The quarantine file: named by the source's modification day, listed in
    // the manifest, gzip NDJSON in line order.
    let qkey = format!(
        "quarantine/dt=2024-03-14/{}.ndjson.gz",
        output_name("q.log", "id:q.log")
    );
    let q = m
        .outputs
        .iter()
        .find(|o| o.kind == OutputKind::Quarantine)
        .unwrap();
    assert_eq!(
        (q.key.as_str(), q.rows, q.partition.as_deref()),
        (qkey.as_str(), 4, None)
    );
    let objects = store.objects();
    assert_eq!(q.bytes, objects[&qkey].len() as u64);
    let recs = quarantine_records(&objects[&qkey]);
    assert_eq!(recs.len(), 4);
    let b64 = base64::engine::general_purpose::STANDARD.encode(lines[3]);
    let text = |b: &[u8]| Some(lossy(b));
    // (line, offset, reason, raw, raw_base64, raw_len)
    type Want<'a> = (u64, u64, &'a str, Option<String>, Option<String>, u64);
    let want: Vec<Want> = vec![
        (
            3,
            offsets[2],
            "invalid_json",
            text(lines[2]),
            None,
            lines[2].len() as u64,
        ),
        (
            4,
            offsets[3],
            "invalid_utf8",
            None,
            Some(b64),
            lines[3].len() as u64,
        ),
        (
            5,
            offsets[4],
            "oversized_line",
            text(&lines[4][..128]),
            None,
            oversized.len() as u64,
        ),
        (
            6,
            offsets[5],
            "wrong_type:http_status",
            text(lines[5]),
            None,
            lines[5].len() as u64,
        ),
    ];
    for (r, (line, offset, reason, raw, raw_b64, raw_len)) in recs.iter().zip(want) {
        assert_eq!(r["source_uri"], "mem://q.log");
        assert_eq!(r["line"], line);
        assert_eq!(r["offset"], offset, "line {line}");
        assert_eq!(r["reason"], reason, "line {line}");
        assert_eq!(r["raw"].as_str(), raw.as_deref(), "line {line}");
        assert_eq!(r["raw_base64"].as_str(), raw_b64.as_deref(), "line {line}");
        assert_eq!(r["raw_len"], raw_len, "line {line}");
        // Only a parse error has a detail to tell.
        assert_eq!(
            r["detail"].is_string(),
            reason == "invalid_json",
            "line {line}"
        );
    }

    // The rows: the continuation line became a text row at the time of the
    // last line that had one (line 2: lines 3-6 were quarantined).
    let rows = all_rows(&store, &m);
    let got: Vec<(i64, i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.line, r.ts, r.format.as_str(), r.service.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, T21, "json", Some("web")),
            (2, T21 + 1000, "json", Some("web")),
            (8, T21 + 1000, "text", None),
            (9, T21 + 6000, "json", Some("web")),
        ]
    );
    let text = &rows[2];
    assert_eq!(
        text.message.as_deref(),
        Some("    at com.example.Checkout.pay(Checkout.java:42)")
    );
    assert_eq!(
        text.attrs,
        vec![("ts_inferred".into(), "previous_line".into())]
    );
}

#[test]
fn missing_timestamps_are_inferred_or_quarantined() {
    let lines: Vec<&[u8]> = vec![
        br#"{"msg":"no time yet","service":"a"}"#,
        br#"{"ts":"2024-03-14T21:00:00Z","msg":"timed"}"#,
        br#"{"msg":"after"}"#,
    ];
    let (input, _) = join(&lines, "\n");
    let modified = T21 + 30 * 60_000;
    // (modified_ms, quarantined lines, rows as (line, ts, ts_inferred))
    type Want = (Option<i64>, Vec<u64>, Vec<(i64, i64, Option<&'static str>)>);
    let cases: Vec<Want> = vec![
        (
            None,
            vec![1],
            vec![(2, T21, None), (3, T21, Some("previous_line"))],
        ),
        (
            Some(modified),
            vec![],
            vec![
                (1, modified, Some("object_time")),
                (2, T21, None),
                (3, T21, Some("previous_line")),
            ],
        ),
    ];
    for (modified_ms, quarantined, want_rows) in cases {
        let store = MemoryStore::default();
        let m = ingest(
            source("ts.log", &input, modified_ms),
            &store,
            &options(false),
        )
        .unwrap();
        assert!(m.balanced());
        let want_reasons: Vec<(&str, u64)> = if quarantined.is_empty() {
            vec![]
        } else {
            vec![("missing_timestamp", quarantined.len() as u64)]
        };
        assert_eq!(
            m.quarantined_by_reason,
            reasons(&want_reasons),
            "{modified_ms:?}"
        );
        assert_eq!(
            m.ts_inferred,
            want_rows.iter().filter(|r| r.2.is_some()).count() as u64
        );
        assert_eq!(
            quarantined_lines(&store, &m),
            quarantined,
            "{modified_ms:?}"
        );
        let rows = all_rows(&store, &m);
        let got: Vec<(i64, i64, Option<&str>)> = rows
            .iter()
            .map(|r| (r.line, r.ts, r.attr("ts_inferred")))
            .collect();
        assert_eq!(got, want_rows, "{modified_ms:?}");
    }
}

#[test]
fn timestamps_out_of_range_are_quarantined() {
    const Y2000: i64 = 946_684_800_000;
    const Y2100: i64 = 4_102_444_800_000;
    let modified = T21;
    // (modified_ms, [(ts, in range)])
    type Case = (Option<i64>, Vec<(i64, bool)>);
    let cases: Vec<Case> = vec![
        (
            None,
            vec![
                (Y2000 - 1, false),
                (Y2000, true),
                (T21, true),
                (Y2100, true),
                (Y2100 + 1, false),
                (0, false),
            ],
        ),
        (
            Some(modified),
            vec![
                (Y2000 - 1000, false),
                (Y2000, true),
                (modified - 30 * DAY, true),
                (modified + DAY, true),
                (modified + DAY + 1, false),
                (modified + 365 * DAY, false),
            ],
        ),
    ];
    for (modified_ms, stamps) in cases {
        // Epoch milliseconds, so the boundaries are exact.
        let input: Vec<u8> = stamps
            .iter()
            .map(|(ts, _)| format!("{{\"ts\":{ts},\"msg\":\"m\"}}\n"))
            .collect::<String>()
            .into_bytes();
        let store = MemoryStore::default();
        let m = ingest(
            source("range.log", &input, modified_ms),
            &store,
            &options(false),
        )
        .unwrap();
        assert!(m.balanced());
        let bad: Vec<u64> = (1..)
            .zip(&stamps)
            .filter(|(_, (_, ok))| !ok)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            m.quarantined_by_reason,
            reasons(&[("timestamp_out_of_range", bad.len() as u64)]),
            "{modified_ms:?}"
        );
        assert_eq!(quarantined_lines(&store, &m), bad, "{modified_ms:?}");
        let mut got: Vec<i64> = all_rows(&store, &m).iter().map(|r| r.ts).collect();
        got.sort();
        let mut want: Vec<i64> = stamps.iter().filter(|s| s.1).map(|s| s.0).collect();
        want.sort();
        assert_eq!(got, want, "{modified_ms:?}");
    }
}

#[test]
fn lines_without_time_inherit_only_an_accepted_time() {
    // Line 2 is out of range; line 3 has no time and must take line 1's,
    // not line 2's (which would be quarantined along with it).
    let input = format!(
        "{{\"ts\":{T21},\"msg\":\"ok\"}}\n{{\"ts\":1,\"msg\":\"1970\"}}\nplain continuation\n"
    );
    let store = MemoryStore::default();
    let m = ingest(
        source("inherit.log", input.as_bytes(), None),
        &store,
        &options(false),
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(
        m.quarantined_by_reason,
        reasons(&[("timestamp_out_of_range", 1)])
    );
    let rows = all_rows(&store, &m);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].line, rows[1].ts), (3, T21));
    assert_eq!(rows[1].attr("ts_inferred"), Some("previous_line"));
}

#[test]
fn an_oversized_line_cut_inside_a_character_keeps_its_text() {
    // "é" is two bytes; 9 bytes end inside the second one.
    let input = "{\"m\":\"éééééé\"}\n".as_bytes();
    let store = MemoryStore::default();
    let opts = IngestOptions {
        max_line_bytes: 9,
        ..options(false)
    };
    let m = ingest(source("cut.log", input, Some(T21)), &store, &opts).unwrap();
    assert_eq!(m.quarantined_by_reason, reasons(&[("oversized_line", 1)]));
    let q = quarantine_records(&store.objects()[&m.outputs[0].key]);
    assert_eq!(q[0]["raw"], "{\"m\":\"é");
    assert!(q[0].get("raw_base64").is_none());
    assert_eq!(q[0]["raw_len"], input.len() as u64 - 1);
}

#[test]
fn normalized_records_keep_their_own_service_or_none() {
    // loglake's NDJSON, as Firehose lands it: the key's service must not stick.
    let input = format!(
        "{{\"ts\":\"2024-03-14T21:00:00.000Z\",\"message\":\"no service\",\"source_format\":\"cwlogs\"}}\n\
         {{\"ts\":\"2024-03-14T21:00:01.000Z\",\"service\":\"cart\",\"message\":\"m\",\"source_format\":\"json\"}}\n\
         {{\"ts\":{T21},\"message\":\"raw line\"}}\n"
    );
    let store = MemoryStore::default();
    let opts = IngestOptions {
        default_service: Some("firehose".into()),
        ..options(false)
    };
    let m = ingest(source("norm.log", input.as_bytes(), None), &store, &opts).unwrap();
    let rows = all_rows(&store, &m);
    let got: Vec<(Option<&str>, &str)> = rows
        .iter()
        .map(|r| (r.service.as_deref(), r.format.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (None, "cwlogs"),
            (Some("cart"), "json"),
            (Some("firehose"), "json")
        ]
    );
}

#[test]
fn pii_is_masked_in_rows_quarantine_and_observers_and_counted() {
    let input = "{\"ts\":\"2024-03-14T21:00:00Z\",\"msg\":\"paid with 4111 1111 1111 1111\",\"email\":\"jane.doe@example.com\",\"client_ip\":\"203.0.113.77\"}\n\
                 {\"ts\":\"2024-03-14T21:00:01Z\",\"msg\":\"order 4111111111111112 (fails Luhn)\"}\n\
                 {\"ts\":\"2024-03-14T21:00:02Z\",\"msg\":\"card 5555-5555-5555-4444 in a broken line\"\n";
    struct Seen(Vec<String>);
    impl loglake_core::pipeline::Observer for Seen {
        fn observe(
            &mut self,
            rec: &loglake_core::record::Record<'_>,
            _: i64,
            _: loglake_core::record::SourceFormat,
            _: &loglake_core::pipeline::Origin<'_>,
        ) {
            self.0.push(
                rec.get(loglake_core::record::TextField::Message)
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    for (spec, cards, emails, ips) in [("cards", 2, 0, 0), ("all", 2, 1, 1), ("none", 0, 0, 0)] {
        let store = MemoryStore::default();
        let opts = IngestOptions {
            redact: loglake_core::redact::RedactOptions::parse(spec).unwrap(),
            ..options(false)
        };
        let mut seen = Seen(Vec::new());
        let m = loglake_core::ingest_observed(
            source("pii.log", input.as_bytes(), None),
            &store,
            &opts,
            &mut seen,
        )
        .unwrap();
        assert_eq!(
            (m.redacted.cards, m.redacted.emails, m.redacted.ips),
            (cards, emails, ips),
            "{spec}"
        );
        let rows = all_rows(&store, &m);
        let masked = spec != "none";
        assert_eq!(
            rows[0].message.as_deref(),
            Some(if masked {
                "paid with **** **** **** 1111"
            } else {
                "paid with 4111 1111 1111 1111"
            })
        );
        assert_eq!(
            rows[1].message.as_deref(),
            Some("order 4111111111111112 (fails Luhn)")
        );
        assert_eq!(
            seen.0[0],
            rows[0].message.clone().unwrap(),
            "observers see the masked record"
        );
        if spec == "all" {
            assert_eq!(rows[0].attr("email"), Some("j***@example.com"));
        }
        let objects = store.objects();
        let q = m
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Quarantine)
            .unwrap();
        let raw = quarantine_records(&objects[&q.key])[0]["raw"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(raw.contains("5555-5555-5555-4444"), !masked, "{raw}");
        if masked {
            assert!(raw.contains("****-****-****-4444"), "{raw}");
        }
    }
}

#[test]
fn cloudfront_headers_are_skipped_and_counted() {
    // From the AWS documentation's example log file (standard-logs-reference).
    const VERSION: &str = "#Version: 1.0";
    const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";
    const HIT: &str = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-";
    const CURL: &str = "2019-12-13\t22:37:02\tSEA19-C2\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/\t502\t-\tcurl/7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example.com\thttp\t387\t0.103\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t12644\t0.103\tOriginDnsError\ttext/html\t507\t-\t-";
    for (name, terminator, compress) in [("lf", "\n", false), ("crlf.gz", "\r\n", true)] {
        let lines: Vec<&[u8]> = vec![
            VERSION.as_bytes(),
            FIELDS.as_bytes(),
            HIT.as_bytes(),
            b"",
            CURL.as_bytes(),
            b"#a comment line later on",
        ];
        let (mut input, _) = join(&lines, terminator);
        if compress {
            input = gzip(&input);
        }
        let store = MemoryStore::default();
        let m = ingest(source(name, &input, None), &store, &options(false)).unwrap();
        assert!(m.balanced(), "{name}");
        assert_eq!(m.format, "cloudfront");
        assert_eq!(
            m.compression,
            if compress {
                Compression::Gzip
            } else {
                Compression::None
            }
        );
        assert_eq!(
            (m.lines_total, m.skipped_header, m.skipped_blank, m.lines_in),
            (6, 3, 1, 2),
            "{name}"
        );
        assert_eq!(
            m.lines_total,
            m.lines_in + m.skipped_blank + m.skipped_header
        );
        assert_eq!((m.rows_out, m.quarantined), (2, 0), "{name}");
        let rows = all_rows(&store, &m);
        let got: Vec<(i64, i64, &str)> = rows
            .iter()
            .map(|r| (r.line, r.ts, r.format.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 1_575_493_351_000, "cloudfront"),
                (5, 1_576_276_622_000, "cloudfront"),
            ],
            "{name}"
        );
        assert_eq!(
            m.partitions,
            reasons(&[("dt=2019-12-04/hr=21", 1), ("dt=2019-12-13/hr=22", 1)])
        );
    }
}

#[test]
fn default_service_fills_only_missing_services() {
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-03-14T21:00:00Z","service":"web","msg":"own"}"#,
        br#"{"ts":"2024-03-14T21:00:01Z","msg":"none"}"#,
        br#"{"ts":"2024-03-14T21:00:02Z","app":"cart","msg":"alias"}"#,
        br#"{"ts":"2024-03-14T21:00:03Z","level":"error","msg":"none, failing"}"#,
        br#"{"ts":"2024-03-14T21:00:04Z","service":"","msg":"empty string is a service"}"#,
    ];
    let (input, _) = join(&lines, "\n");
    for default in [None, Some("checkout")] {
        let store = MemoryStore::default();
        let mut o = options(false);
        o.default_service = default.map(String::from);
        let m = ingest(source("svc.log", &input, None), &store, &o).unwrap();
        let got: Vec<(i64, Option<String>)> = all_rows(&store, &m)
            .into_iter()
            .map(|r| (r.line, r.service))
            .collect();
        let d = default.map(String::from);
        assert_eq!(
            got,
            vec![
                (1, Some("web".into())),
                (2, d.clone()),
                (3, Some("cart".into())),
                (4, d.clone()),
                (5, Some(String::new())),
            ],
            "{default:?}"
        );
        let svc = default.unwrap_or("(no service)");
        assert_eq!(m.errors_by_service, reasons(&[(svc, 1)]), "{default:?}");
    }
}

#[test]
fn truncated_gzip_source_is_reported_and_balanced() {
    let input: Vec<u8> = (0..3000i64)
        .flat_map(|i| json_line(i, T21 + i, &format!("{:016x}", splitmix(i as u64))))
        .collect();
    let gz = gzip(&input);
    let store = MemoryStore::default();
    let m = ingest(
        source("cut.log.gz", &gz[..gz.len() / 2], None),
        &store,
        &options(true),
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(m.outcome, Outcome::Truncated);
    assert!(m.error.as_deref().unwrap().starts_with("input ended early"));
    assert_eq!(m.compression, Compression::Gzip);
    assert!(m.rows_out > 100 && m.rows_out < 3000, "{}", m.rows_out);
    // The line the input broke off in, if any, is quarantined as such.
    assert!(m.quarantined <= 1);
    assert_eq!(
        m.quarantined_by_reason
            .get("truncated_input")
            .copied()
            .unwrap_or(0),
        m.quarantined
    );
    assert_eq!(m.bytes_in, (gz.len() / 2) as u64);
    // Rows are exactly the first lines, in order.
    let lines: Vec<i64> = all_rows(&store, &m).iter().map(|r| r.line).collect();
    assert_eq!(lines, (1..=m.rows_out as i64).collect::<Vec<_>>());
}

#[test]
fn empty_and_blank_sources_write_only_a_manifest() {
    for (name, input) in [
        ("empty", Vec::new()),
        ("blank", b"\n  \r\n\t\n".to_vec()),
        ("bom", b"\xEF\xBB\xBF".to_vec()),
        ("empty-gz", gzip(b"")),
    ] {
        let store = MemoryStore::default();
        let m = ingest(source(name, &input, None), &store, &options(true)).unwrap();
        assert!(m.balanced(), "{name}");
        assert_eq!((m.lines_in, m.rows_out, m.quarantined), (0, 0, 0), "{name}");
        assert_eq!(m.skipped_blank, m.lines_total, "{name}");
        assert!(m.outputs.is_empty(), "{name}");
        assert_eq!(m.outcome, Outcome::Complete, "{name}");
        let keys: Vec<String> = store.objects().into_keys().collect();
        assert_eq!(
            keys,
            vec![format!(
                "_manifests/{}.json",
                output_name(name, &format!("id:{name}"))
            )]
        );
    }
}

// ---------------------------------------------------------------- helpers

/// A framed line, owned, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FLine {
    text: Vec<u8>,
    offset: u64,
    number: u64,
    kind: LineKind,
}

fn fl(text: &[u8], offset: u64, number: u64) -> FLine {
    FLine {
        text: text.to_vec(),
        offset,
        number,
        kind: LineKind::Complete,
    }
}

/// Every line of a stream, and the number of blocks it came in.
fn frame_all<R: Read>(r: R, max_line: usize, target: usize) -> (Vec<FLine>, usize) {
    let (lines, blocks, err) = frame_all_err(r, max_line, target);
    assert!(err.is_none(), "{err:?}");
    (lines, blocks)
}

fn frame_all_err<R: Read>(
    r: R,
    max_line: usize,
    target: usize,
) -> (Vec<FLine>, usize, Option<io::Error>) {
    let mut f = Framer::new(r, max_line, target);
    let mut out = Vec::new();
    let mut blocks = 0;
    while let Some(b) = f.next_block().unwrap() {
        blocks += 1;
        for l in &b.lines {
            out.push(FLine {
                text: b.bytes(l).to_vec(),
                offset: l.offset,
                number: l.number,
                kind: l.kind,
            });
        }
    }
    (out, blocks, f.take_error())
}

/// The lines of a small input as the design defines them, computed the
/// obvious way: split on LF, drop one CR before it, strip a leading BOM.
fn reference_lines(input: &[u8]) -> Vec<FLine> {
    let (mut pos, body) = match input.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3u64, rest),
        None => (0, input),
    };
    let mut out = Vec::new();
    let mut parts: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    for (i, p) in parts.into_iter().enumerate() {
        let text = p.strip_suffix(b"\r").unwrap_or(p);
        out.push(fl(text, pos, i as u64 + 1));
        pos += p.len() as u64 + 1;
    }
    out
}

/// A reader that hands out one byte per call.
struct OneByte<R>(R);

impl<R: Read> Read for OneByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.0.read(&mut buf[..1])
    }
}

/// A reader that hands out 1, 2, ... `max` bytes per call, round and round.
struct Trickle<R> {
    inner: R,
    max: usize,
    calls: usize,
}

impl<R> Trickle<R> {
    fn new(inner: R, max: usize) -> Self {
        Trickle {
            inner,
            max,
            calls: 0,
        }
    }
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        let n = buf.len().min(1 + self.calls % self.max);
        self.inner.read(&mut buf[..n])
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A cheap deterministic scrambler, for incompressible-looking test data.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Lines joined with `terminator` after each, and each line's offset.
fn join(lines: &[&[u8]], terminator: &str) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for l in lines {
        offsets.push(out.len() as u64);
        out.extend_from_slice(l);
        out.extend_from_slice(terminator.as_bytes());
    }
    (out, offsets)
}

fn json_line(i: i64, ts: i64, msg: &str) -> Vec<u8> {
    let svc = ["web", "cart", "search"][(i % 3) as usize];
    format!(
        "{{\"ts\":{ts},\"level\":\"info\",\"service\":\"{svc}\",\"msg\":\"{msg}\",\"status\":200,\"latency_ms\":{}.5,\"n\":{i}}}\n",
        i % 97
    )
    .into_bytes()
}

/// One JSON line per entry, in hour `h` of DAY0 (distinct times).
fn json_lines(hours: &[i64]) -> Vec<u8> {
    hours
        .iter()
        .enumerate()
        .flat_map(|(i, h)| json_line(i as i64, DAY0 + h * HOUR + i as i64, "hello"))
        .collect()
}

fn part(h: i64) -> String {
    Partition::of(DAY0 + h * HOUR).to_string()
}

fn options(pipelined: bool) -> IngestOptions {
    IngestOptions {
        pipelined,
        format: None::<Format>,
        ..IngestOptions::default()
    }
}

fn source(name: &str, bytes: &[u8], modified_ms: Option<i64>) -> Source {
    Source {
        uri: format!("mem://{name}"),
        identity: format!("id:{name}"),
        name: name.to_string(),
        size: Some(bytes.len() as u64),
        modified_ms,
        reader: Box::new(Cursor::new(bytes.to_vec())),
    }
}

/// `{stem}-{source id}`: the start of every output file name of a source.
fn output_name(name: &str, identity: &str) -> String {
    format!("{}-{}", name_stem(name), source_id(identity))
}

fn reasons(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn zero_duration(mut m: Manifest) -> Manifest {
    m.duration_ms = 0;
    m
}

/// Every object of a store, with manifests' `duration_ms` zeroed (the one
/// field that differs between equal runs).
fn normalized(store: &MemoryStore) -> BTreeMap<String, Vec<u8>> {
    store
        .objects()
        .into_iter()
        .map(|(k, v)| {
            if k.starts_with("_manifests/") {
                let m: Manifest = serde_json::from_slice(&v).unwrap();
                (k, serde_json::to_vec_pretty(&zero_duration(m)).unwrap())
            } else {
                (k, v)
            }
        })
        .collect()
}

/// Expected (key, partition, rows) of every file when each line is written
/// as its own row group, with an LRU of `max_open` files.
fn lru_model(hours: &[i64], max_open: usize, name: &str) -> Vec<(String, String, u64)> {
    let mut open: Vec<(i64, String, u64, usize)> = Vec::new(); // (hour, key, rows, last write)
    let mut next_chunk: HashMap<i64, u32> = HashMap::new();
    let mut closed = Vec::new();
    for (t, &h) in hours.iter().enumerate() {
        if let Some(f) = open.iter_mut().find(|f| f.0 == h) {
            f.2 += 1;
            f.3 = t;
            continue;
        }
        if open.len() >= max_open {
            let lru = (0..open.len()).min_by_key(|&i| open[i].3).unwrap();
            let f = open.remove(lru);
            closed.push((f.1, part(f.0), f.2));
        }
        let c = next_chunk.entry(h).or_insert(0);
        open.push((h, format!("logs/{}/{name}-{c:04}.parquet", part(h)), 1, t));
        *c += 1;
    }
    closed.extend(open.into_iter().map(|f| (f.1, part(f.0), f.2)));
    closed.sort();
    closed
}

fn parquet_file(bytes: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn parquet_meta(bytes: &[u8]) -> std::sync::Arc<parquet::file::metadata::ParquetMetaData> {
    ParquetRecordBatchReaderBuilder::try_new(parquet_file(bytes))
        .unwrap()
        .metadata()
        .clone()
}

fn parquet_batches(bytes: &[u8]) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(parquet_file(bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Check every Parquet output against the manifest: rows per file, per
/// partition, in total, and that each row lies in its file's partition.
/// Returns the data keys per partition, in key order.
fn check_outputs_against_parquet(
    store: &MemoryStore,
    m: &Manifest,
    rows_per_group: Option<usize>,
) -> BTreeMap<String, Vec<String>> {
    let objects = store.objects();
    let mut per_part: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rows_per_part: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for out in m.outputs.iter().filter(|o| o.kind == OutputKind::Parquet) {
        let p = out.partition.clone().unwrap();
        assert!(out.key.starts_with(&format!("logs/{p}/")), "{}", out.key);
        let bytes = &objects[&out.key];
        assert_eq!(out.bytes, bytes.len() as u64, "{}", out.key);
        let rows = rows_of(bytes);
        assert_eq!(rows.len() as u64, out.rows, "{}", out.key);
        for r in &rows {
            assert_eq!(
                Partition::of(r.ts).to_string(),
                p,
                "{} line {}",
                out.key,
                r.line
            );
        }
        if let Some(n) = rows_per_group {
            let meta = parquet_meta(bytes);
            assert!(meta.row_groups().iter().all(|g| g.num_rows() as usize == n));
        }
        *rows_per_part.entry(p.clone()).or_insert(0) += out.rows;
        per_part.entry(p).or_default().push(out.key.clone());
        total += out.rows;
    }
    assert_eq!(total, m.rows_out);
    assert_eq!(rows_per_part, m.partitions);
    // Nothing in the store under logs/ that the manifest does not list.
    let listed: Vec<&String> = m.outputs.iter().map(|o| &o.key).collect();
    for k in objects.keys().filter(|k| k.starts_with("logs/")) {
        assert!(listed.contains(&k), "{k} not in the manifest");
    }
    per_part
}

/// The columns of a lake row these tests look at.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    ts: i64,
    line: i64,
    service: Option<String>,
    message: Option<String>,
    format: String,
    attrs: Vec<(String, String)>,
}

impl Row {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.0 == k).map(|a| a.1.as_str())
    }
}

fn rows_of(bytes: &[u8]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in parquet_batches(bytes) {
        let ts = b
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>();
        let line = b
            .column_by_name("source_line")
            .unwrap()
            .as_primitive::<Int64Type>();
        let svc = b.column_by_name("service").unwrap().as_string::<i32>();
        let msg = b.column_by_name("message").unwrap().as_string::<i32>();
        let fmt = b
            .column_by_name("source_format")
            .unwrap()
            .as_string::<i32>();
        let attrs = b.column_by_name("attributes").unwrap().as_map();
        let opt =
            |a: &arrow_array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            let entries = attrs.value(i);
            let keys = entries.column(0).as_string::<i32>();
            let values = entries.column(1).as_string::<i32>();
            out.push(Row {
                ts: ts.value(i),
                line: line.value(i),
                service: opt(svc, i),
                message: opt(msg, i),
                format: fmt.value(i).to_string(),
                attrs: (0..keys.len())
                    .map(|j| (keys.value(j).to_string(), values.value(j).to_string()))
                    .collect(),
            });
        }
    }
    out
}

/// Every row a source wrote, ordered by source line.
fn all_rows(store: &MemoryStore, m: &Manifest) -> Vec<Row> {
    let objects = store.objects();
    let mut rows: Vec<Row> = m
        .outputs
        .iter()
        .filter(|o| o.kind == OutputKind::Parquet)
        .flat_map(|o| rows_of(&objects[&o.key]))
        .collect();
    rows.sort_by_key(|r| r.line);
    rows
}

fn quarantine_records(gz: &[u8]) -> Vec<serde_json::Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn quarantined_lines(store: &MemoryStore, m: &Manifest) -> Vec<u64> {
    let Some(q) = m.outputs.iter().find(|o| o.kind == OutputKind::Quarantine) else {
        return Vec::new();
    };
    quarantine_records(&store.objects()[&q.key])
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

#[test]
fn the_lake_reads_back_as_records_within_a_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = loglake_core::LocalStore::new(dir.path()).unwrap();
    let mut input = String::new();
    for i in 0..300 {
        input.push_str(&format!(
            "{{\"ts\":{},\"level\":\"{}\",\"service\":\"svc{}\",\"msg\":\"m{i}\",\"status\":{},\"latency_ms\":{}.5,\"user_id\":\"u{}\",\"k\":\"v{i}\"}}\n",
            T21 + i as i64 * 60_000,
            if i % 7 == 0 { "ERROR" } else { "INFO" },
            i % 3,
            200 + (i % 4) * 100,
            i,
            i % 10
        ));
    }
    let m = ingest(
        source("scan.log", input.as_bytes(), None),
        &store,
        &options(false),
    )
    .unwrap();
    assert_eq!(m.rows_out, 300);
    // Hours 21:00..23:00 of the first day: 120 rows, in two partitions.
    let (from, to) = (T21, T21 + 2 * HOUR);
    let files = loglake_core::scan::lake_files(dir.path(), from, to).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let mut seen = Vec::new();
    for f in &files {
        loglake_core::scan::scan_file(f, from, to, &mut |r, ts| {
            seen.push((
                ts,
                r.level,
                r.get(loglake_core::record::TextField::Message)
                    .unwrap()
                    .to_string(),
                r.http_status,
                r.latency_ms,
                r.attributes
                    .iter()
                    .find(|a| a.0 == "k")
                    .map(|a| a.1.to_string()),
            ));
        })
        .unwrap();
    }
    seen.sort_by_key(|s| s.0);
    assert_eq!(seen.len(), 120);
    let (ts, level, msg, status, latency, k) = &seen[7];
    assert_eq!(*ts, T21 + 7 * 60_000);
    assert_eq!(*level, Some(loglake_core::record::Level::Error));
    assert_eq!(msg, "m7");
    assert_eq!(*status, Some(500));
    assert_eq!(*latency, Some(7.5));
    assert_eq!(k.as_deref(), Some("v7"));
}
