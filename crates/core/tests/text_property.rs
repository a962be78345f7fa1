//! Random text never panics the ingest path and every line is accounted
//! for: `lines_in = rows_out + quarantined + merged`, whatever the mix of
//! layouts, broken dates, continuation lines, bad bytes and long lines, in
//! both the inline and the pipelined mode (which must agree).

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::ingest::multiline::MultilineLimits;
use loglake_core::{Format, IngestOptions, MemoryStore, ingest};
use support::{options, source, splitmix};

/// Pieces lines are built from: the starts of every layout (some with
/// impossible values), logger prefixes, continuation markers, and noise.
const PIECES: &[&str] = &[
    "2024-03-14 21:00:01,123 ",
    "2024-03-14T21:00:01.123456789+05:30 ",
    "2024-02-30 21:00:01 ",
    "2024-03-14 25:00:01 ",
    "<34>1 2024-03-14T21:00:01Z web-3 app 42 ID1 - ",
    "<191>Mar 14 21:00:01 web-3 sshd[42]: ",
    "Feb 29 21:00:01 host prog: ",
    "Mar  4 21:00:01 ",
    "[Thu Mar 14 21:00:01.123456 2024] [core:error] ",
    "2024/03/14 21:00:01 [error] 7#7: ",
    "24/03/14 21:00:01 INFO SparkContext: ",
    "14-Mar-2024 21:00:01.123 SEVERE [main] org.a.B.c ",
    "I0314 21:00:01.123456    4242 main.go:12] ",
    "E1399 25:61:61.000000 ",
    "240314 210001 148 INFO dfs.DataNode: ",
    "1710450001 ",
    "1710450001123 ",
    "99999999999999999999 ",
    " - shop.checkout - WARNING - ",
    "\tat com.shop.A.run(A.java:1)",
    "Caused by: java.lang.Error: x",
    "\t... 12 more",
    "Traceback (most recent call last):",
    "  File \"a.py\", line 1, in <module>",
    "ValueError: bad",
    "goroutine 7 [running]:",
    "main.main()",
    "[INFO]",
    "[",
    "]",
    "<",
    ">",
    "ERROR ",
    "level=warn ",
    "{\"not\": \"json",
    "card 4111 1111 1111 1111 ",
    "é",
    "\u{feff}",
    "\r",
    " ",
    "\t",
];

fn random_text(seed: u64, lines: usize) -> Vec<u8> {
    let mut s = seed;
    let mut next = || {
        s = splitmix(s);
        s
    };
    let mut out = Vec::new();
    for _ in 0..lines {
        let pieces = next() % 5;
        for _ in 0..pieces {
            let r = next();
            match r % 23 {
                // Raw bytes, invalid UTF-8 included.
                0 => out.extend((0..(r >> 8) % 12).map(|i| (splitmix(r + i) % 256) as u8)),
                // A long run, past the small line limit below.
                1 => out.extend(std::iter::repeat_n(b'x', ((r >> 8) % 700) as usize)),
                _ => out.extend_from_slice(
                    PIECES[((r >> 8) % PIECES.len() as u64) as usize].as_bytes(),
                ),
            }
        }
        out.push(b'\n');
    }
    out
}

#[test]
fn random_text_never_panics_and_every_line_is_accounted_for() {
    let mut seen = [0u64; 3];
    for seed in 0..60u64 {
        let input = random_text(seed, 1 + (splitmix(seed) % 400) as usize);
        let limits = MultilineLimits {
            max_lines: 1 + (seed % 7) as usize,
            max_bytes: 64 + (seed % 5) as usize * 300,
        };
        let mut outputs = Vec::new();
        for pipelined in [false, true] {
            let opts = IngestOptions {
                max_line_bytes: 512,
                multiline: limits,
                format: (seed % 3 == 0).then_some(Format::Text),
                ..options(pipelined)
            };
            let store = MemoryStore::default();
            let m = ingest(
                source("random.log", &input, Some(1_710_482_400_000)),
                &store,
                &opts,
            )
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(m.balanced(), "seed {seed}: {m:?}");
            assert_eq!(
                m.lines_in,
                m.rows_out + m.quarantined + m.merged,
                "seed {seed}"
            );
            assert!(m.merged == 0 || limits.max_lines > 1, "seed {seed}");
            outputs.push((m.rows_out, m.quarantined, m.merged, m.partitions.clone()));
        }
        assert_eq!(
            outputs[0], outputs[1],
            "seed {seed}: inline and pipelined differ"
        );
        seen[0] += outputs[0].0;
        seen[1] += outputs[0].1;
        seen[2] += outputs[0].2;
    }
    // The mix exercised rows, quarantine and joining alike.
    assert!(seen.iter().all(|n| *n > 100), "{seen:?}");
}
