//! The `summary` table: one row per (minute, service), made from the
//! per-minute window figures ([`WindowSums`] of a
//! [`Windows::with_summary`](crate::sinks::alerts::Windows::with_summary)),
//! one zstd Parquet file per hour at
//! `summary/dt=YYYY-MM-DD/hr=HH/summary.parquet`.
//!
//! The same rows come from the functions' window items in AWS (fn-alerts
//! materialises an hour once it closes) and from the lake's own rows
//! locally (`loglake summary`). The file of an hour is a function of its
//! rows only: sorted by (minute, service), maps sorted by key, fixed writer
//! properties, so writing the same hour twice gives the same bytes.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, MapBuilder, MapFieldNames, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::Error;
use crate::record::Level;
use crate::sinks::alerts::{Stats, WindowSums};
use crate::time;

/// The column the summary groups by.
pub const GROUP_FIELD: &str = "service";

const HOUR_MS: i64 = 3_600_000;

/// One (minute, service).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Start of the minute, UTC ms.
    pub minute_ms: i64,
    pub service: String,
    pub records: i64,
    /// Level ERROR or FATAL.
    pub errors: i64,
    /// Level WARN.
    pub warnings: i64,
    pub status_4xx: i64,
    pub status_5xx: i64,
    /// errors / records × 100.
    pub error_pct: f64,
    /// Exact average of the records' latency_ms; `None` without any.
    pub latency_avg_ms: Option<f64>,
    /// From the log-scale histogram: within 1% of the exact value.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// HyperLogLog estimates, rounded.
    pub unique_users: i64,
    pub unique_sessions: i64,
    pub orders: i64,
    /// (currency, amount), by currency.
    pub revenue: Vec<(String, f64)>,
    /// (event_type, records), by type.
    pub events_by_type: Vec<(String, i64)>,
}

impl SummaryRow {
    /// The row of one service's summed figures in one minute.
    pub fn new(minute_ms: i64, service: &str, s: &Stats) -> SummaryRow {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let level = |l: Level| s.by_level.get(l as usize).copied().unwrap_or(0);
        let errors = level(Level::Error).saturating_add(level(Level::Fatal));
        let latencies = s.latency.count();
        let b = &s.business;
        SummaryRow {
            minute_ms,
            service: service.to_owned(),
            records: count(s.total),
            errors: count(errors),
            warnings: count(level(Level::Warn)),
            status_4xx: count(s.status[3]),
            status_5xx: count(s.status[4]),
            error_pct: if s.total == 0 {
                0.0
            } else {
                errors as f64 * 100.0 / s.total as f64
            },
            latency_avg_ms: (latencies > 0).then(|| b.latency_sum / latencies as f64),
            latency_p50_ms: s.latency.quantile(0.5),
            latency_p95_ms: s.latency.quantile(0.95),
            latency_p99_ms: s.latency.quantile(0.99),
            unique_users: s.users.estimate().round() as i64,
            unique_sessions: b.sessions.estimate().round() as i64,
            orders: count(b.orders),
            revenue: b.revenue.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            events_by_type: b
                .events
                .iter()
                .map(|(k, v)| (k.clone(), count(*v)))
                .collect(),
        }
    }
}

/// The summary rows of `sums`: its `service` groups, by (minute, service).
pub fn rows(sums: &WindowSums) -> Vec<SummaryRow> {
    // WindowSums iterates by minute, then by group key: already sorted.
    sums.iter()
        .filter(|(_, k, _)| k.field == GROUP_FIELD)
        .map(|(m, k, s)| SummaryRow::new(m, &k.value, s))
        .collect()
}

/// The hour (UTC ms, aligned) `ms` falls in.
pub fn floor_hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// A writer's clock may run behind fn-alerts': an hour counts as possibly
/// summarised this much before its end plus the evaluation delay.
pub const CLOCK_MARGIN_MS: i64 = 60_000;

/// The hours of `minutes` (UTC ms) that may already have been summarised
/// without what was just written, when the write completed at `now_ms`:
/// an hour is summarised once `delay_ms` past its end, so a summary that
/// began before the write completed began before `now_ms`; if `now_ms` is
/// past that moment (less [`CLOCK_MARGIN_MS`]), the hour must be rebuilt.
/// A summary that begins after the write sees it. Sorted, distinct.
pub fn late_hours(minutes: impl IntoIterator<Item = i64>, now_ms: i64, delay_ms: i64) -> Vec<i64> {
    let mut hours: Vec<i64> = minutes
        .into_iter()
        .map(floor_hour)
        .filter(|h| now_ms >= h + HOUR_MS + delay_ms - CLOCK_MARGIN_MS)
        .collect();
    hours.sort_unstable();
    hours.dedup();
    hours
}

/// The partition directory of an hour: `summary/dt=YYYY-MM-DD/hr=HH`.
pub fn hour_dir(hour_ms: i64) -> String {
    let (y, m, d, h) = time::date_hour(hour_ms);
    format!("summary/dt={y:04}-{m:02}-{d:02}/hr={h:02}")
}

/// The object key (relative to the lake) of an hour's summary.
pub fn hour_key(hour_ms: i64) -> String {
    format!("{}/summary.parquet", hour_dir(hour_ms))
}

/// The Arrow schema of the table (the Glue table `summary` and
/// `tests/test_infra.py` list the same columns).
pub fn schema() -> Arc<Schema> {
    let map = |value: DataType| {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", value, true),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        )
    };
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    let float = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    Arc::new(Schema::new(vec![
        Field::new(
            "minute",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("service", DataType::Utf8, false),
        int("records"),
        int("errors"),
        int("warnings"),
        int("status_4xx"),
        int("status_5xx"),
        float("error_pct", false),
        float("latency_avg_ms", true),
        float("latency_p50_ms", true),
        float("latency_p95_ms", true),
        float("latency_p99_ms", true),
        int("unique_users"),
        int("unique_sessions"),
        int("orders"),
        Field::new("revenue", map(DataType::Float64), true),
        Field::new("events_by_type", map(DataType::Int64), true),
    ]))
}

fn map_names() -> MapFieldNames {
    MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    }
}

/// The rows as one record batch of [`schema`].
pub fn batch(rows: &[SummaryRow]) -> Result<RecordBatch, Error> {
    let n = rows.len();
    let mut minute = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut service = StringBuilder::with_capacity(n, n * 12);
    let mut ints: Vec<Int64Builder> = (0..8).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut floats: Vec<Float64Builder> =
        (0..5).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut revenue = MapBuilder::new(
        Some(map_names()),
        StringBuilder::new(),
        Float64Builder::new(),
    );
    let mut events = MapBuilder::new(Some(map_names()), StringBuilder::new(), Int64Builder::new());
    for r in rows {
        minute.append_value(r.minute_ms);
        service.append_value(&r.service);
        let counts = [
            r.records,
            r.errors,
            r.warnings,
            r.status_4xx,
            r.status_5xx,
            r.unique_users,
            r.unique_sessions,
            r.orders,
        ];
        for (b, v) in ints.iter_mut().zip(counts) {
            b.append_value(v);
        }
        let values = [
            Some(r.error_pct),
            r.latency_avg_ms,
            r.latency_p50_ms,
            r.latency_p95_ms,
            r.latency_p99_ms,
        ];
        for (b, v) in floats.iter_mut().zip(values) {
            b.append_option(v);
        }
        for (k, v) in &r.revenue {
            revenue.keys().append_value(k);
            revenue.values().append_value(*v);
        }
        revenue.append(true)?;
        for (k, v) in &r.events_by_type {
            events.keys().append_value(k);
            events.values().append_value(*v);
        }
        events.append(true)?;
    }
    let mut ints = ints
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut floats = floats
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let next = |it: &mut dyn Iterator<Item = ArrayRef>| {
        it.next()
            .ok_or_else(|| Error::Config("summary: column count".into()))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(minute.finish()),
        Arc::new(service.finish()),
        next(&mut ints)?,   // records
        next(&mut ints)?,   // errors
        next(&mut ints)?,   // warnings
        next(&mut ints)?,   // status_4xx
        next(&mut ints)?,   // status_5xx
        next(&mut floats)?, // error_pct
        next(&mut floats)?, // latency_avg_ms
        next(&mut floats)?, // latency_p50_ms
        next(&mut floats)?, // latency_p95_ms
        next(&mut floats)?, // latency_p99_ms
        next(&mut ints)?,   // unique_users
        next(&mut ints)?,   // unique_sessions
        next(&mut ints)?,   // orders
        Arc::new(revenue.finish()),
        Arc::new(events.finish()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// Fixed properties: zstd, one row group, no timestamps of the writing.
fn properties() -> Result<WriterProperties, Error> {
    let level = ZstdLevel::try_new(3).map_err(|e| Error::Config(e.to_string()))?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by(concat!("loglake ", env!("CARGO_PKG_VERSION")).to_string())
        .build())
}

/// One hour's rows as a Parquet file (the rows sorted by minute, then
/// service, as [`rows`] returns them).
pub fn write_parquet<W: Write + Send>(rows: &[SummaryRow], out: W) -> Result<W, Error> {
    let batch = batch(rows)?;
    let pq = |e| Error::parquet("summary", e);
    let mut w = ArrowWriter::try_new(out, schema(), Some(properties()?)).map_err(pq)?;
    w.write(&batch).map_err(pq)?;
    w.into_inner().map_err(pq)
}

/// [`write_parquet`] into memory.
pub fn parquet_bytes(rows: &[SummaryRow]) -> Result<Vec<u8>, Error> {
    write_parquet(rows, Vec::new())
}

#[cfg(test)]
mod tests;
