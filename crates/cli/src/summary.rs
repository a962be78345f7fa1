//! `loglake summary`: the lake's `summary` table (one row per minute and
//! service), rebuilt from its `logs` rows with the same window figures and
//! the same Parquet writer the functions use in AWS
//! (`loglake_core::summary`). `loglake ingest` calls [`rebuild`] for the
//! hours it wrote.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use loglake_core::ingest::scan;
use loglake_core::sinks::alerts::{Rules, WindowSums, Windows};
use loglake_core::summary;

use crate::lake;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The local lake
    #[arg(long, default_value = "lake")]
    lake: PathBuf,
    /// First hour to rebuild: RFC 3339 time or date (default: the lake's first)
    #[arg(long)]
    from: Option<String>,
    /// Rebuild hours before this time (default: after the lake's last)
    #[arg(long)]
    to: Option<String>,
}

/// What a rebuild did to one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourDone {
    pub hour_ms: i64,
    /// Summary rows written (0: the hour has no logs; its summary removed).
    pub rows: usize,
    pub records: u64,
}

/// The columns of `logs` the summary reads.
pub const COLUMNS: &[&str] = &[
    "ts",
    "level",
    "service",
    "http_status",
    "latency_ms",
    "user_id",
    "session_id",
    "event_type",
    "order_id",
    "amount",
    "currency",
];

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let from = a
        .from
        .as_deref()
        .map(|s| lake::parse_time("--from", s))
        .transpose()?;
    let to =
        a.to.as_deref()
            .map(|s| lake::parse_time("--to", s))
            .transpose()?;
    let mut hours = lake::hours(&a.lake, "logs")?;
    // An hour whose logs are gone loses its summary too.
    hours.extend(lake::hours(&a.lake, "summary")?);
    hours.retain(|h| from.is_none_or(|f| h + lake::HOUR_MS > f) && to.is_none_or(|t| *h < t));
    let done = rebuild(&a.lake, &hours)?;
    let rows: usize = done.iter().map(|d| d.rows).sum();
    let records: u64 = done.iter().map(|d| d.records).sum();
    println!(
        "summary: {} hours, {rows} rows (minute x service) from {records} records under {}",
        done.len(),
        a.lake.join("summary").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Rebuild the summary of `hours` (UTC ms, aligned) from the lake's rows.
pub fn rebuild(lake_dir: &Path, hours: &BTreeSet<i64>) -> anyhow::Result<Vec<HourDone>> {
    rebuild_with(lake_dir, hours, 1)
}

/// [`rebuild`] on up to `threads` threads, an hour to each in turn: each
/// hour reads its own files and writes its own summary file.
pub fn rebuild_with(
    lake_dir: &Path,
    hours: &BTreeSet<i64>,
    threads: usize,
) -> anyhow::Result<Vec<HourDone>> {
    let rules = Arc::new(Rules::default());
    let hours: Vec<i64> = hours.iter().copied().collect();
    let threads = threads.clamp(1, hours.len().max(1));
    let mut done = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (hours, rules) = (&hours, &rules);
                s.spawn(move || {
                    hours
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&h| rebuild_hour(lake_dir, h, rules))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut done = Vec::with_capacity(hours.len());
        for w in workers {
            match w.join() {
                Ok(hours) => done.extend(hours?),
                Err(_) => anyhow::bail!("a summary thread panicked"),
            }
        }
        Ok(done)
    })?;
    done.sort_by_key(|d| d.hour_ms);
    Ok(done)
}

fn rebuild_hour(lake_dir: &Path, hour: i64, rules: &Arc<Rules>) -> anyhow::Result<HourDone> {
    let mut windows = Windows::with_summary(rules.clone());
    let mut records = 0;
    let end = hour + lake::HOUR_MS;
    for file in scan::lake_files(lake_dir, hour, end)? {
        records += scan::scan_columns(&file, hour, end, COLUMNS, &mut |r, ts| {
            windows.observe(r, ts);
        })?;
    }
    let mut sums = WindowSums::new();
    for c in windows.contributions() {
        sums.add(&c);
    }
    let rows = summary::rows(&sums);
    let path = lake_dir.join(summary::hour_key(hour));
    if rows.is_empty() {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context(format!("cannot remove {}", path.display())),
        }
    } else {
        write_atomically(&path, &summary::parquet_bytes(&rows)?)?;
    }
    Ok(HourDone {
        hour_ms: hour,
        rows: rows.len(),
        records,
    })
}

/// Write through a temporary file and a rename: a reader never sees half a
/// file, and a crash leaves the previous summary.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("summary path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(".summary.parquet.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
