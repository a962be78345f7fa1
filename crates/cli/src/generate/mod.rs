//! The engine behind `loglake generate`: deterministic synthetic e-commerce
//! service logs as newline-delimited JSON, or (`--kind text`) as the
//! plain-text layouts servers write ([`text`]).
//!
//! This folder owns everything the generator needs and nothing else: its own
//! PRNG (no `rand` dependency), the value pools, the per-service event
//! templates, JSON string escaping, UTC timestamp formatting, malformed-line
//! injection and the `--bytes` size parser. Argument parsing, progress bars
//! and gzip belong to the caller, which hands us any `Write`.
//!
//! It is a port of `bench/gen_logs.py`: the same services and weights, fields,
//! field order, distributions and malformed kinds. The PRNG differs, so the
//! bytes differ from the Python script's, but the same seed and options always
//! give the same bytes here.
//!
//! How the pieces fit, in the order a run uses them:
//!
//! - this file: the public entry points ([`generate`], [`parse_size`],
//!   [`GenOptions`], [`GenStats`]), option checks, the line/byte limits and
//!   the buffered writes;
//! - [`rng`]: the seeded PRNG every random choice draws from, and weighted
//!   lookup tables;
//! - [`pools`]: the constant vocabularies (services, regions, user agents,
//!   errors, ...) and the values encoded from them once per run, before the
//!   first line;
//! - [`events`]: the per-line generator: one event template per service, the
//!   common fields, the timestamp and the malformed-line kinds;
//! - [`incidents`]: the optional `--incidents` lines, from a random stream of
//!   their own;
//! - [`encode`]: the JSON string, number and UTC date writers the others
//!   append with;
//! - [`text`]: the other kind, plain-text server logs (log4j, Python,
//!   syslog, Apache, nginx, klog, Go, Tomcat) from the same PRNG and pools.
//!
//! The bytes for a seed depend on the exact order of the draws from the
//! [`rng::Rng`]: moving code between these files is free, changing the
//! order or number of draws changes every line after it.

mod clicks;
mod encode;
mod events;
mod incidents;
mod pools;
mod rng;
#[cfg(test)]
mod tests;
mod text;

pub use clicks::Clicks;

use std::io::{self, Write};

use events::Generator;
use incidents::Incidents;
use pools::Pools;
use rng::Rng;

/// 2024-03-14T21:00:00Z: evening UTC, so the default span crosses midnight
/// into a second `dt=` partition.
const DEFAULT_START_MS: i64 = 1_710_450_000_000;
const DEFAULT_SPAN_HOURS: f64 = 6.0;
const DEFAULT_LINES: u64 = 1000;
/// Average line length, used to estimate the line count in `--bytes` mode so
/// the timestamps still spread over the whole span.
const AVG_LINE_BYTES: u64 = 610;
/// Large writes keep the per-call cost of a gzip encoder or file negligible.
const FLUSH_AT: usize = 1 << 20;

/// Which logs to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Kind {
    /// One JSON object per line, as the services of the demo write them
    #[default]
    Json,
    /// Plain-text server logs: runs of log4j, Python logging, syslog
    /// (RFC 3164 and 5424), Apache and nginx error, klog, Go and Tomcat lines,
    /// with multi-line stack traces
    Text,
}

/// What to generate. `lines` and `bytes` are alternatives; when both are
/// given the first limit reached wins and `lines` drives the timestamp
/// spacing; when neither is given, 1000 lines.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    pub lines: Option<u64>,
    /// Stop at the first line boundary at or past this many uncompressed bytes.
    pub bytes: Option<u64>,
    pub seed: u64,
    /// Fraction of lines, 0.0..=1.0, replaced by one of the malformed kinds.
    pub malformed: f64,
    /// First timestamp, milliseconds since the Unix epoch, UTC.
    pub start_ms: i64,
    pub span_hours: f64,
    /// Add the incidents of [`Incidents`] (for demos of the alert rules);
    /// the ordinary lines stay exactly as without.
    pub incidents: bool,
    pub kind: Kind,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            lines: None,
            bytes: None,
            seed: 42,
            malformed: 0.0,
            start_ms: DEFAULT_START_MS,
            span_hours: DEFAULT_SPAN_HOURS,
            incidents: false,
            kind: Kind::Json,
        }
    }
}

/// What was written: lines (each ending in `\n`) and uncompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenStats {
    pub lines: u64,
    pub bytes: u64,
    /// The time of the last line, UTC milliseconds, for kinds whose readers
    /// need the file's time to match it (text: syslog and klog write no
    /// year, and ingest takes it from the file's modification time).
    pub last_ms: Option<i64>,
}

/// Per-run constants for the timestamp and malformed decisions.
struct Run {
    total: u64,
    start_ms: i64,
    span_ms: i64,
    malformed: f64,
}

/// Writes the log lines to `out` and reports how much was written.
///
/// Fails with `InvalidInput` for a malformed fraction outside `0..=1` or a
/// negative or non-finite span, and with whatever error `out` returns.
pub fn generate(opts: &GenOptions, out: &mut dyn Write) -> io::Result<GenStats> {
    if !(0.0..=1.0).contains(&opts.malformed) {
        return Err(invalid(format!(
            "malformed fraction must be between 0 and 1, got {}",
            opts.malformed
        )));
    }
    if !opts.span_hours.is_finite() || opts.span_hours < 0.0 {
        return Err(invalid(format!(
            "span must be a non-negative number of hours, got {}",
            opts.span_hours
        )));
    }
    if opts.kind == Kind::Text {
        return text::generate(opts, out);
    }
    let line_limit = match (opts.lines, opts.bytes) {
        (None, None) => Some(DEFAULT_LINES),
        (lines, _) => lines,
    };
    let total = match (line_limit, opts.bytes) {
        (Some(n), _) => n.max(1),
        (None, Some(b)) => (b / AVG_LINE_BYTES).max(1),
        (None, None) => DEFAULT_LINES,
    };
    let run = Run {
        total,
        start_ms: opts.start_ms,
        span_ms: (opts.span_hours * 3_600_000.0) as i64,
        malformed: opts.malformed,
    };

    let mut rng = Rng::new(opts.seed);
    let pools = Pools::build(&mut rng);
    let mut g = Generator::new(rng, pools);
    let mut incidents = opts.incidents.then(|| Incidents::new(opts.seed, &run));
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let mut flushed: u64 = 0;
    let mut lines: u64 = 0;
    let mut written: u64 = 0;
    loop {
        if line_limit.is_some_and(|n| lines >= n) {
            break;
        }
        if opts.bytes.is_some_and(|b| flushed + buf.len() as u64 >= b) {
            break;
        }
        let start = buf.len();
        g.line(lines, &run, &mut buf);
        buf.push(b'\n');
        written += 1;
        if let Some(inc) = incidents.as_mut() {
            written = written.saturating_add_signed(inc.after_line(lines, &run, &mut buf, start));
        }
        lines += 1;
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            flushed += buf.len() as u64;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        out.write_all(&buf)?;
        flushed += buf.len() as u64;
    }
    Ok(GenStats {
        lines: written,
        bytes: flushed,
        last_ms: None,
    })
}

/// Parses a size such as `1GiB`, `500MB`, `64k`, `1.5m` or `123` into bytes.
/// Single-letter suffixes are binary (`k` = 1024), as in the Python script.
pub fn parse_size(s: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 10] = [
        ("kib", 1 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("kb", 1_000),
        ("mb", 1_000_000),
        ("gb", 1_000_000_000),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
        ("b", 1),
    ];
    let lower = s.trim().to_ascii_lowercase();
    // Longest suffix first so "kb" is not read as "k" + stray "b".
    let (num, mult) = UNITS
        .iter()
        .find_map(|(u, m)| lower.strip_suffix(u).map(|n| (n.trim(), *m)))
        .unwrap_or((lower.as_str(), 1));
    let bad = || {
        format!(
            "invalid size {s:?}: expected a number with an optional unit (KiB MiB GiB KB MB GB k m g)"
        )
    };
    if num.is_empty() {
        return Err(bad());
    }
    // Integers stay exact; only fractional sizes go through f64.
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("size {s:?} is too large"));
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    let v = f * mult as f64;
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
