//! The framer and the decoder on their own: lines split on LF and CRLF with
//! a leading BOM stripped, block and read sizes that never change the
//! lines, oversized lines cut to the limit, compression detected from the
//! magic bytes, and truncated streams reported.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use std::io::{self, Cursor, Read};

use loglake_core::ingest::input::{self, Compression, Framer, LineKind};
use support::{gzip, lossy, splitmix};

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
