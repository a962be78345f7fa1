//! Reading the lake back: the rows of a local lake's Parquet files as
//! [`Record`]s, for `loglake alerts eval`, `summary` and `report` (the same arithmetic as the
//! functions, over what the lake holds). Partitions outside the asked time
//! range are skipped by their path, without opening a file.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, MapArray, RecordBatch, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::Error;
use crate::ingest::lake::Partition;
use crate::record::{Level, Record, SourceFormat, TextField};

/// The Parquet files of `lake/logs/` whose `dt=/hr=` partition overlaps
/// `[from_ms, to_ms)`, in partition then name order.
pub fn lake_files(lake: &Path, from_ms: i64, to_ms: i64) -> Result<Vec<PathBuf>, Error> {
    let logs = lake.join("logs");
    let mut out = Vec::new();
    let first = Partition::of(from_ms);
    let last = Partition::of(to_ms.saturating_sub(1));
    let mut parts: Vec<(Partition, PathBuf)> = Vec::new();
    for dt in read_dir(&logs)? {
        let Some(day) = dt
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("dt="))
            .and_then(|d| crate::time::parse_iso8601(&format!("{d}T00:00:00Z")))
        else {
            continue;
        };
        for hr in read_dir(&dt)? {
            let Some(hour) = hr
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("hr="))
                .and_then(|h| h.parse::<u32>().ok())
            else {
                continue;
            };
            let p = Partition::of(day + i64::from(hour) * 3_600_000);
            if p >= first && p <= last {
                parts.push((p, hr));
            }
        }
    }
    parts.sort();
    for (_, dir) in parts {
        let mut files: Vec<PathBuf> = read_dir(&dir)?
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .collect();
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

fn read_dir(p: &Path) -> Result<Vec<PathBuf>, Error> {
    match std::fs::read_dir(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::read(&p.display().to_string(), e)),
        Ok(rd) => rd
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::read(&p.display().to_string(), e)),
    }
}

/// Call `f` with every row of one Parquet file of the lake whose time is in
/// `[from_ms, to_ms)`; returns the rows seen.
pub fn scan_file(
    path: &Path,
    from_ms: i64,
    to_ms: i64,
    f: &mut dyn FnMut(&Record<'_>, i64),
) -> Result<u64, Error> {
    scan_columns(path, from_ms, to_ms, &[], f)
}

/// [`scan_file`] reading only `columns` (`ts` among them; empty: all): the
/// records hold those fields only.
pub fn scan_columns(
    path: &Path,
    from_ms: i64,
    to_ms: i64,
    columns: &[&str],
    f: &mut dyn FnMut(&Record<'_>, i64),
) -> Result<u64, Error> {
    let uri = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::read(&uri, e))?;
    let parquet = |source| Error::Parquet {
        key: uri.clone(),
        source,
    };
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    if !columns.is_empty() {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.with_batch_size(8192).build().map_err(parquet)?;
    let mut n = 0;
    for batch in reader {
        n += scan_batch(&batch?, from_ms, to_ms, f)?;
    }
    Ok(n)
}

fn scan_batch(
    b: &RecordBatch,
    from_ms: i64,
    to_ms: i64,
    f: &mut dyn FnMut(&Record<'_>, i64),
) -> Result<u64, Error> {
    let missing = |c: &str| Error::Config(format!("the lake file has no {c} column"));
    let col = |name: &str| b.column_by_name(name);
    let ts = col("ts")
        .ok_or_else(|| missing("ts"))?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| missing("ts (timestamp)"))?;
    let text = |name: &str| col(name).and_then(|c| c.as_string_opt::<i32>());
    let level = text("level");
    // Only the text columns the file has and the caller asked for: a row
    // looks at those, not at all twenty.
    let texts: Vec<(usize, &StringArray)> = TextField::ALL
        .iter()
        .enumerate()
        .filter_map(|(k, t)| Some((k, text(t.column())?)))
        .collect();
    let status = col("http_status").and_then(|c| c.as_primitive_opt::<Int16Type>());
    let latency = col("latency_ms").and_then(|c| c.as_primitive_opt::<Float64Type>());
    let bytes = col("bytes_sent").and_then(|c| c.as_primitive_opt::<Int64Type>());
    let amount = col("amount").and_then(|c| c.as_primitive_opt::<Float64Type>());
    let attrs: Option<&MapArray> = col("attributes").and_then(|c| c.as_map_opt());
    let format = text("source_format");
    let mut n = 0;
    let mut rec = Record::default();
    for i in 0..b.num_rows() {
        if ts.is_null(i) {
            continue;
        }
        let t = ts.value(i);
        if t < from_ms || t >= to_ms {
            continue;
        }
        // Every field a row sets is set again (or to `None`) by the next, so
        // the record is not cleared whole: only the attributes are.
        rec.attributes.clear();
        rec.ts = Some(t);
        rec.level = level
            .filter(|a| a.is_valid(i))
            .and_then(|a| Level::parse(a.value(i)));
        for &(k, a) in &texts {
            rec.text[k] = a.is_valid(i).then(|| Cow::Borrowed(a.value(i)));
        }
        rec.http_status = status.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        rec.latency_ms = latency.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        rec.bytes_sent = bytes.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        rec.amount = amount.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        if let Some(m) = attrs.filter(|a| a.is_valid(i)) {
            let offsets = m.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            let keys = m.keys().as_string_opt::<i32>();
            let values = m.values().as_string_opt::<i32>();
            if let (Some(keys), Some(values)) = (keys, values) {
                for j in start..end {
                    if values.is_valid(j) {
                        rec.attributes
                            .push((Cow::Borrowed(keys.value(j)), Cow::Borrowed(values.value(j))));
                    }
                }
            }
        }
        rec.source_format = format
            .filter(|a| a.is_valid(i))
            .and_then(|a| SourceFormat::parse(a.value(i)));
        f(&rec, t);
        n += 1;
    }
    Ok(n)
}
