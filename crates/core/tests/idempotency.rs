//! The same source writes the same objects: pipelined or inline, and when
//! run again (a rerun overwrites its own outputs and removes chunks a
//! previous run with other settings left behind).

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use std::collections::BTreeMap;

use loglake_core::{Manifest, MemoryStore, ingest};
use support::{DAY, DAY0, HOUR, T21, json_line, json_lines, options, reasons, source};

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

// ---------------------------------------------------------------- helpers

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

#[test]
fn every_row_has_its_event_id_from_source_and_offset() {
    use loglake_core::ingest::source::source_id;
    let input = support::json_lines(&[0, 0, 1, 5]);
    let store = MemoryStore::default();
    let m = ingest(source("ids.log", &input, None), &store, &options(true)).unwrap();
    let rows = support::all_rows(&store, &m);
    let sid = source_id("id:ids.log");
    // Each line's byte offset: the ids are the same on every run.
    let mut offset = 0usize;
    let mut want = Vec::new();
    for line in input.split_inclusive(|b| *b == b'\n') {
        want.push(format!("{sid}-{offset}"));
        offset += line.len();
    }
    let got: Vec<String> = rows.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(got, want);
    // A forwarded record keeps the id it was given; elsewhere an event_id
    // field is only a field.
    let line = b"{\"ts\":\"2024-03-14T21:00:00Z\",\"message\":\"m\",\"source_format\":\"json\",\"event_id\":\"feedbeef00000000-3\"}\n";
    for (forwarded, id) in [
        (true, "feedbeef00000000-3".to_string()),
        (false, format!("{}-0", source_id("id:fw.log"))),
    ] {
        let store = MemoryStore::default();
        let opts = loglake_core::IngestOptions {
            forwarded,
            ..options(false)
        };
        let m = ingest(source("fw.log", line, None), &store, &opts).unwrap();
        let rows = support::all_rows(&store, &m);
        assert_eq!(rows[0].event_id, id);
        assert_eq!(rows[0].attr("event_id").is_some(), !forwarded);
    }
}
