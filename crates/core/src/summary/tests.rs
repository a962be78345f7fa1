//! The summary's rows from window figures, its Parquet file (the same
//! bytes twice, read back with the arrow reader) and its partition keys.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::record::{Record, TextField};
use crate::sinks::alerts::{Contribution, Rules, Windows};

const T0: i64 = 1_764_590_400_000; // 2025-12-01T12:00:00Z

fn rec<'a>(service: &'a str, level: Level, fields: &[(TextField, &'a str)]) -> Record<'a> {
    let mut r = Record {
        level: Some(level),
        ..Record::default()
    };
    r.set(TextField::Service, Cow::Borrowed(service));
    for (f, v) in fields {
        r.set(*f, Cow::Borrowed(*v));
    }
    r
}

fn summed(w: &Windows) -> WindowSums {
    let mut sums = WindowSums::new();
    for c in w.contributions() {
        // Through the table's JSON, as the functions store and load them.
        sums.add(&Contribution::from_json(&c.to_json()).unwrap());
    }
    sums
}

#[test]
fn rows_count_exactly_what_the_records_say() {
    let mut w = Windows::with_summary(Arc::new(Rules::default()));
    let mut a = rec(
        "checkout",
        Level::Info,
        &[(TextField::UserId, "u1"), (TextField::SessionId, "s1")],
    );
    a.http_status = Some(200);
    a.latency_ms = Some(10.0);
    w.observe(&a, T0 + 1_000);
    let mut order = rec(
        "checkout",
        Level::Info,
        &[
            (TextField::UserId, "u2"),
            (TextField::OrderId, "ord_1"),
            (TextField::Currency, "EUR"),
            (TextField::EventType, "order_placed"),
        ],
    );
    order.amount = Some(19.5);
    order.latency_ms = Some(30.0);
    order.http_status = Some(201);
    w.observe(&order, T0 + 2_000);
    // A failed payment is not an order.
    let mut failed = order.clone();
    failed.level = Some(Level::Error);
    failed.http_status = Some(502);
    w.observe(&failed, T0 + 3_000);
    let mut warn = rec(
        "checkout",
        Level::Warn,
        &[(TextField::EventType, "page_view")],
    );
    warn.http_status = Some(404);
    w.observe(&warn, T0 + 4_000);
    w.observe(&rec("search", Level::Fatal, &[]), T0 + 61_000);

    let rows = rows(&summed(&w));
    assert_eq!(rows.len(), 2);
    let c = &rows[0];
    assert_eq!((c.minute_ms, c.service.as_str()), (T0, "checkout"));
    assert_eq!((c.records, c.errors, c.warnings), (4, 1, 1));
    assert_eq!((c.status_4xx, c.status_5xx), (1, 1));
    assert_eq!(c.error_pct, 25.0);
    // (10 + 30 + 30) / 3, exact.
    assert_eq!(c.latency_avg_ms, Some(70.0 / 3.0));
    let p50 = c.latency_p50_ms.unwrap();
    assert!((p50 - 30.0).abs() <= 0.3, "{p50}");
    assert_eq!((c.unique_users, c.unique_sessions), (2, 1));
    assert_eq!(c.orders, 1);
    assert_eq!(c.revenue, vec![("EUR".to_string(), 19.5)]);
    assert_eq!(
        c.events_by_type,
        vec![
            ("order_placed".to_string(), 2),
            ("page_view".to_string(), 1)
        ]
    );
    let s = &rows[1];
    assert_eq!(
        (s.minute_ms, s.service.as_str(), s.errors),
        (T0 + 60_000, "search", 1)
    );
    assert_eq!((s.latency_avg_ms, s.latency_p95_ms), (None, None));
    assert!(s.revenue.is_empty());
}

#[test]
fn alert_only_windows_store_no_summary_figures() {
    let rules = Rules::parse(
        "[[rule]]\nname = \"r\"\nkind = \"error_rate\"\ngroup_by = \"host\"\npercent = 5.0\n",
    )
    .unwrap();
    let mut w = Windows::new(Arc::new(rules));
    let mut r = rec(
        "a",
        Level::Info,
        &[(TextField::Host, "h"), (TextField::SessionId, "s")],
    );
    r.latency_ms = Some(5.0);
    w.observe(&r, T0);
    let json = w.contributions()[0].to_json();
    assert!(!json.contains("\"y\""), "{json}");
    assert!(rows(&summed(&w)).is_empty());
}

#[test]
fn event_types_past_the_cap_are_folded() {
    let mut w = Windows::with_summary(Arc::new(Rules::default()));
    let names: Vec<String> = (0..70).map(|i| format!("t{i:02}")).collect();
    for n in &names {
        w.observe(&rec("a", Level::Info, &[(TextField::EventType, n)]), T0);
    }
    let row = &rows(&summed(&w))[0];
    assert_eq!(row.events_by_type.len(), 65);
    let other = row
        .events_by_type
        .iter()
        .find(|(k, _)| k == "(other)")
        .unwrap();
    assert_eq!(other.1, 6);
    assert_eq!(row.events_by_type.iter().map(|(_, n)| n).sum::<i64>(), 70);
}

#[test]
fn an_hour_writes_the_same_bytes_twice_and_reads_back() {
    let mut w = Windows::with_summary(Arc::new(Rules::default()));
    for i in 0..500 {
        let mut r = rec(
            if i % 3 == 0 { "b" } else { "a" },
            if i % 10 == 0 {
                Level::Error
            } else {
                Level::Info
            },
            &[(TextField::Currency, "USD"), (TextField::OrderId, "o")],
        );
        r.amount = Some(1.25);
        r.latency_ms = Some(f64::from(i));
        w.observe(&r, T0 + i64::from(i) * 7_000);
    }
    let rows = rows(&summed(&w));
    let a = parquet_bytes(&rows).unwrap();
    let b = parquet_bytes(&rows).unwrap();
    assert_eq!(a, b);

    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &a).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches[0].schema(), schema());
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, rows.len());
    let b = &batches[0];
    let minute = b.column(0).as_primitive::<TimestampMillisecondType>();
    let records = b.column(2).as_primitive::<Int64Type>();
    let pct = b.column(7).as_primitive::<Float64Type>();
    assert_eq!(minute.value(0), rows[0].minute_ms);
    assert_eq!(records.value(1), rows[1].records);
    assert_eq!(pct.value(0), rows[0].error_pct);
    let total: i64 = records.iter().flatten().sum();
    assert_eq!(total, 500);
}

#[test]
fn hour_keys_are_hive_partitions() {
    assert_eq!(
        hour_key(T0 + 59 * 60_000),
        "summary/dt=2025-12-01/hr=12/summary.parquet"
    );
    assert_eq!(floor_hour(T0 + 3_599_999), T0);
}

#[test]
fn hours_are_late_once_they_may_have_been_summarised() {
    let delay = 120_000;
    let minutes = [T0 + 5 * 60_000, T0 + 59 * 60_000, T0 + 3_600_000];
    // Before the hour's end + delay - margin: nothing is late.
    assert!(late_hours(minutes, T0 + 3_600_000 + delay - CLOCK_MARGIN_MS - 1, delay).is_empty());
    assert_eq!(
        late_hours(minutes, T0 + 3_600_000 + delay - CLOCK_MARGIN_MS, delay),
        vec![T0]
    );
    assert_eq!(
        late_hours(minutes, T0 + 10 * 3_600_000, delay),
        vec![T0, T0 + 3_600_000]
    );
}
