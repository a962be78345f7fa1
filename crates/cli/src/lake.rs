//! A local lake's hours and the times given on the command line, for
//! `loglake summary` and `loglake report` (the rows themselves are read by
//! `loglake_core::ingest::scan`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use loglake_core::time;

pub const HOUR_MS: i64 = 3_600_000;

/// The hours (UTC ms) with a `dt=YYYY-MM-DD/hr=HH` directory under
/// `lake/table`.
pub fn hours(lake: &Path, table: &str) -> anyhow::Result<BTreeSet<i64>> {
    let mut out = BTreeSet::new();
    let root = lake.join(table);
    let days = match std::fs::read_dir(&root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", root.display())),
    };
    for day in days {
        let day = day?;
        let name = day.file_name();
        let Some(date) = name.to_str().and_then(|n| n.strip_prefix("dt=")) else {
            continue;
        };
        for hr in std::fs::read_dir(day.path())? {
            let name = hr?.file_name();
            let Some(h) = name.to_str().and_then(|n| n.strip_prefix("hr=")) else {
                continue;
            };
            if let Some(ms) = time::parse_iso8601(&format!("{date}T{h}:00:00Z")) {
                out.insert(ms);
            }
        }
    }
    Ok(out)
}

/// A time given on the command line: RFC 3339 (`2026-12-01T10:00:00Z`) or a
/// date (`2026-12-01`, its midnight UTC).
pub fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    time::parse_iso8601(s)
        .or_else(|| time::parse_iso8601(&format!("{s}T00:00:00Z")))
        .with_context(|| format!("{flag} {s:?} is not an RFC 3339 time or a date"))
}
