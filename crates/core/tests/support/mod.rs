//! Helpers shared by core's integration tests: test data (JSON lines in
//! given hours, sources in memory, gzip), the ingest options the tests
//! start from, and reading the outputs back (Parquet rows, the quarantine).
//!
//! Parquet files are read back through an anonymous temporary file,
//! because the Parquet reader wants a `File` (or `bytes::Bytes`, which core
//! does not depend on).

// Each test file is its own crate and uses only some of these; all of it
// is integration-test code (see clippy.toml).
#![cfg(test)]
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use loglake_core::ingest::lake::OutputKind;
use loglake_core::ingest::source::{name_stem, source_id};
use loglake_core::{Format, IngestOptions, Manifest, MemoryStore, Source};

/// 2024-03-14T00:00:00Z.
pub const DAY0: i64 = 1_710_374_400_000;
/// 2024-03-14T21:00:00Z.
pub const T21: i64 = 1_710_450_000_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A cheap deterministic scrambler, for incompressible-looking test data.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Lines joined with `terminator` after each, and each line's offset.
pub fn join(lines: &[&[u8]], terminator: &str) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for l in lines {
        offsets.push(out.len() as u64);
        out.extend_from_slice(l);
        out.extend_from_slice(terminator.as_bytes());
    }
    (out, offsets)
}

pub fn json_line(i: i64, ts: i64, msg: &str) -> Vec<u8> {
    let svc = ["web", "cart", "search"][(i % 3) as usize];
    format!(
        "{{\"ts\":{ts},\"level\":\"info\",\"service\":\"{svc}\",\"msg\":\"{msg}\",\"status\":200,\"latency_ms\":{}.5,\"n\":{i}}}\n",
        i % 97
    )
    .into_bytes()
}

/// One JSON line per entry, in hour `h` of DAY0 (distinct times).
pub fn json_lines(hours: &[i64]) -> Vec<u8> {
    hours
        .iter()
        .enumerate()
        .flat_map(|(i, h)| json_line(i as i64, DAY0 + h * HOUR + i as i64, "hello"))
        .collect()
}

pub fn options(pipelined: bool) -> IngestOptions {
    IngestOptions {
        pipelined,
        format: None::<Format>,
        ..IngestOptions::default()
    }
}

pub fn source(name: &str, bytes: &[u8], modified_ms: Option<i64>) -> Source {
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
pub fn output_name(name: &str, identity: &str) -> String {
    format!("{}-{}", name_stem(name), source_id(identity))
}

pub fn reasons(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

pub fn parquet_file(bytes: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

pub fn parquet_meta(bytes: &[u8]) -> std::sync::Arc<parquet::file::metadata::ParquetMetaData> {
    ParquetRecordBatchReaderBuilder::try_new(parquet_file(bytes))
        .unwrap()
        .metadata()
        .clone()
}

pub fn parquet_batches(bytes: &[u8]) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(parquet_file(bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The columns of a lake row these tests look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ts: i64,
    pub line: i64,
    pub service: Option<String>,
    pub message: Option<String>,
    pub format: String,
    pub attrs: Vec<(String, String)>,
    pub event_id: String,
    /// Every text column (`level`, `user_id`, ...), by name.
    pub text: Vec<(String, Option<String>)>,
}

impl Row {
    pub fn col(&self, name: &str) -> Option<&str> {
        let v = self.text.iter().find(|c| c.0 == name);
        v.unwrap_or_else(|| panic!("no text column {name}"))
            .1
            .as_deref()
    }

    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.0 == k).map(|a| a.1.as_str())
    }
}

pub fn rows_of(bytes: &[u8]) -> Vec<Row> {
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
        let ids = b.column_by_name("event_id").unwrap().as_string::<i32>();
        let texts: Vec<(String, &arrow_array::StringArray)> = b
            .schema()
            .fields()
            .iter()
            .zip(b.columns())
            .filter(|(f, _)| *f.data_type() == arrow_schema::DataType::Utf8)
            .map(|(f, c)| (f.name().clone(), c.as_string::<i32>()))
            .collect();
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
                event_id: ids.value(i).to_string(),
                text: texts.iter().map(|(n, a)| (n.clone(), opt(a, i))).collect(),
            });
        }
    }
    out
}

/// Every row a source wrote, ordered by source line.
pub fn all_rows(store: &MemoryStore, m: &Manifest) -> Vec<Row> {
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

pub fn quarantine_records(gz: &[u8]) -> Vec<serde_json::Value> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn quarantined_lines(store: &MemoryStore, m: &Manifest) -> Vec<u64> {
    let Some(q) = m.outputs.iter().find(|o| o.kind == OutputKind::Quarantine) else {
        return Vec::new();
    };
    quarantine_records(&store.objects()[&q.key])
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}
