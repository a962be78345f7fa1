//! Reading a local lake back: which hours it holds, and the rows of an hour
//! as [`Record`]s (only the columns asked for), for `loglake summary` and
//! `loglake report`.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use loglake_core::record::{Level, Record, TextField};
use loglake_core::time;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub const HOUR_MS: i64 = 3_600_000;

/// The hours (UTC ms) with a `dt=YYYY-MM-DD/hr=HH` directory under
/// `lake/table`.
pub fn hours(lake: &Path, table: &str) -> anyhow::Result<BTreeSet<i64>> {
    let mut out = BTreeSet::new();
    let root = lake.join(table);
    let Ok(days) = std::fs::read_dir(&root) else {
        return Ok(out);
    };
    for day in days {
        let day = day?;
        let name = day.file_name();
        let Some(date) = name.to_str().and_then(|n| n.strip_prefix("dt=")) else {
            continue;
        };
        for hr in std::fs::read_dir(day.path())? {
            let hr = hr?;
            let name = hr.file_name();
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

/// The directory of an hour of a table: `lake/table/dt=YYYY-MM-DD/hr=HH`.
pub fn hour_dir(lake: &Path, table: &str, hour_ms: i64) -> PathBuf {
    let (y, m, d, h) = time::date_hour(hour_ms);
    lake.join(table)
        .join(format!("dt={y:04}-{m:02}-{d:02}"))
        .join(format!("hr={h:02}"))
}

/// A time given on the command line: RFC 3339 (`2026-12-01T10:00:00Z`) or a
/// date (`2026-12-01`, its midnight UTC).
pub fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    time::parse_iso8601(s)
        .or_else(|| time::parse_iso8601(&format!("{s}T00:00:00Z")))
        .with_context(|| format!("{flag} {s:?} is not an RFC 3339 time or a date"))
}

/// Columns a reader may ask for: `ts`, `level`, the numeric columns the
/// summary uses, and any text column.
fn column_ok(c: &str) -> bool {
    matches!(c, "ts" | "level" | "http_status" | "latency_ms" | "amount")
        || TextField::ALL.iter().any(|f| f.column() == c)
}

/// Every row of one hour of `logs`, as a record holding `columns` only, in
/// file order. Returns the rows read.
pub fn for_each_row(
    lake: &Path,
    hour_ms: i64,
    columns: &[&str],
    mut f: impl FnMut(&Record<'_>),
) -> anyhow::Result<u64> {
    if let Some(c) = columns.iter().find(|c| !column_ok(c)) {
        bail!("cannot read column {c} back from the lake");
    }
    let dir = hour_dir(lake, "logs", hour_ms);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect(),
        Err(_) => return Ok(0),
    };
    files.sort();
    let mut n = 0;
    for path in files {
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a Parquet file", path.display()))?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        let reader = builder
            .with_projection(mask)
            .build()
            .with_context(|| format!("cannot read {}", path.display()))?;
        for batch in reader {
            let batch = batch.with_context(|| format!("cannot read {}", path.display()))?;
            n += rows_of(&batch, &mut f).with_context(|| format!("{}", path.display()))?;
        }
    }
    Ok(n)
}

fn rows_of(batch: &RecordBatch, f: &mut impl FnMut(&Record<'_>)) -> anyhow::Result<u64> {
    let schema = batch.schema();
    let col = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i));
    let ts = col("ts")
        .map(|a| {
            a.as_primitive_opt::<TimestampMillisecondType>()
                .context("ts")
        })
        .transpose()?;
    let f64s = |name: &str| -> anyhow::Result<_> {
        col(name)
            .map(|a| {
                a.as_primitive_opt::<Float64Type>()
                    .context(name.to_string())
            })
            .transpose()
    };
    let latency = f64s("latency_ms")?;
    let amount = f64s("amount")?;
    let status = col("http_status")
        .map(|a| a.as_primitive_opt::<Int16Type>().context("http_status"))
        .transpose()?;
    let level = col("level")
        .map(|a| a.as_string_opt::<i32>().context("level"))
        .transpose()?;
    let mut text = Vec::new();
    for field in TextField::ALL {
        if let Some(a) = col(field.column()) {
            text.push((field, a.as_string_opt::<i32>().context(field.column())?));
        }
    }
    for i in 0..batch.num_rows() {
        let mut r = Record::default();
        r.ts = ts.and_then(|a| a.is_valid(i).then(|| a.value(i)));
        r.level = level.and_then(|a| a.is_valid(i).then(|| a.value(i)).and_then(Level::parse));
        r.http_status = status.and_then(|a| a.is_valid(i).then(|| a.value(i)));
        r.latency_ms = latency.and_then(|a| a.is_valid(i).then(|| a.value(i)));
        r.amount = amount.and_then(|a| a.is_valid(i).then(|| a.value(i)));
        for (field, a) in &text {
            if a.is_valid(i) {
                r.set(*field, a.value(i));
            }
        }
        f(&r);
    }
    Ok(batch.num_rows() as u64)
}
