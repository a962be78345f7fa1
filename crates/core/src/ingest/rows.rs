//! The rows of one partition waiting to become a row group: compact columns
//! that know their own size, turned into a sorted Arrow batch when flushed.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{MapBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int16Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::ArrowError;

use crate::record::{Level, Record, SourceFormat, TextField};
use crate::schema;

/// Strings of one column, back to back.
#[derive(Debug, Default)]
struct StrCol {
    data: String,
    ends: Vec<u32>,
    valid: Vec<bool>,
}

impl StrCol {
    fn push(&mut self, v: Option<&str>) {
        if let Some(v) = v {
            self.data.push_str(v);
        }
        self.ends.push(self.data.len() as u32);
        self.valid.push(v.is_some());
    }

    fn get(&self, i: usize) -> Option<&str> {
        if !self.valid[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.data[start..self.ends[i] as usize])
    }

    fn gather(&self, perm: &[u32]) -> ArrayRef {
        let mut b = StringBuilder::with_capacity(perm.len(), self.data.len());
        for &i in perm {
            b.append_option(self.get(i as usize));
        }
        Arc::new(b.finish())
    }
}

/// Rows waiting for one partition's next row group.
#[derive(Debug, Default)]
pub struct RowBuffer {
    ts: Vec<i64>,
    line: Vec<i64>,
    /// Each row's position in its source (a line's byte offset).
    position: Vec<u64>,
    /// Ids given elsewhere (forwarded records); null: the source id and
    /// the position make it.
    event_id: StrCol,
    format: Vec<SourceFormat>,
    level: Vec<Option<Level>>,
    text: [StrCol; TextField::COUNT],
    http_status: Vec<Option<i16>>,
    latency_ms: Vec<Option<f64>>,
    bytes_sent: Vec<Option<i64>>,
    amount: Vec<Option<f64>>,
    attr_keys: StrCol,
    attr_values: StrCol,
    attr_ends: Vec<u32>,
    bytes: usize,
}

/// Fixed cost of one row in the buffer, before its strings.
const ROW_BYTES: usize = 8 + 8 + 8 + 5 + 1 + 2 + TextField::COUNT * 5 + 4 + 16 + 16 + 16 + 4;

impl RowBuffer {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Approximate heap bytes held, for the memory budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Append a record whose `ts` is set, found at line `line`, byte
    /// `position` of its source.
    pub fn push(
        &mut self,
        rec: &Record<'_>,
        ts: i64,
        line: u64,
        position: u64,
        format: SourceFormat,
    ) {
        self.ts.push(ts);
        self.line.push(line as i64);
        self.position.push(position);
        let id = rec.event_id.as_deref();
        self.event_id.push(id);
        self.format.push(format);
        self.level.push(rec.level);
        let mut strings = id.map_or(0, str::len);
        for (col, v) in self.text.iter_mut().zip(&rec.text) {
            let v = v.as_deref();
            strings += v.map_or(0, str::len);
            col.push(v);
        }
        self.http_status.push(rec.http_status);
        self.latency_ms.push(rec.latency_ms);
        self.bytes_sent.push(rec.bytes_sent);
        self.amount.push(rec.amount);
        for (k, v) in &rec.attributes {
            strings += k.len() + v.len() + 10;
            self.attr_keys.push(Some(k));
            self.attr_values.push(Some(v));
        }
        self.attr_ends.push(self.attr_keys.ends.len() as u32);
        self.bytes += ROW_BYTES + strings;
    }

    /// The row order of a row group: by service (nulls last), then time, then
    /// arrival, so row-group statistics prune by service and time.
    fn sort_order(&self) -> Vec<u32> {
        let services = &self.text[TextField::Service as usize];
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        let mut row_ids = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            row_ids.push(match services.get(i) {
                Some(s) => *ids.entry(s).or_insert_with(|| {
                    names.push(s);
                    names.len() as u32 - 1
                }),
                None => u32::MAX,
            });
        }
        let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
        by_name.sort_unstable_by_key(|&id| names[id as usize]);
        let mut rank = vec![0u32; names.len()];
        for (r, id) in by_name.into_iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let mut keys: Vec<(u32, i64, u32)> = row_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let r = if id == u32::MAX {
                    u32::MAX
                } else {
                    rank[id as usize]
                };
                (r, self.ts[i], i as u32)
            })
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, _, i)| i).collect()
    }

    /// Sort and convert to a batch of the lake schema. Each column's buffer
    /// is freed as soon as its array is built, so converting needs little
    /// more memory than the rows themselves.
    /// `source_id`: the short id of the source, which with each row's
    /// position makes its `event_id` (see [`crate::record::event_id`]).
    pub fn into_batch(
        mut self,
        source_uri: &str,
        source_id: &str,
    ) -> Result<RecordBatch, ArrowError> {
        let perm = self.sort_order();
        let n = perm.len();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema::COLUMNS.len());
        // Text columns in schema order (TextField::ALL is that order).
        let mut text = TextField::ALL
            .map(|f| std::mem::take(&mut self.text[f as usize]).gather(&perm))
            .into_iter();
        let gather = |v: &[Option<f64>]| -> ArrayRef {
            Arc::new(
                perm.iter()
                    .map(|&i| v[i as usize])
                    .collect::<Float64Array>(),
            )
        };
        cols.push(Arc::new(
            TimestampMillisecondArray::from(
                perm.iter()
                    .map(|&i| self.ts[i as usize])
                    .collect::<Vec<i64>>(),
            )
            .with_timezone("UTC"),
        ));
        cols.push(Arc::new(
            perm.iter()
                .map(|&i| self.level[i as usize].map(Level::as_str))
                .collect::<StringArray>(),
        ));
        // service, message, host, region, http_method, http_path
        cols.extend(text.by_ref().take(6));
        cols.push(Arc::new(
            perm.iter()
                .map(|&i| self.http_status[i as usize])
                .collect::<Int16Array>(),
        ));
        cols.push(gather(&self.latency_ms));
        cols.push(Arc::new(
            perm.iter()
                .map(|&i| self.bytes_sent[i as usize])
                .collect::<Int64Array>(),
        ));
        // client_ip .. currency
        cols.extend(text.by_ref().take(10));
        cols.push(gather(&self.amount));
        cols.extend(text);
        cols.push(Arc::new(self.attributes(&perm)?));
        cols.push(Arc::new(
            perm.iter()
                .map(|&i| Some(self.format[i as usize].as_str()))
                .collect::<StringArray>(),
        ));
        let mut uri = StringBuilder::with_capacity(n, n * source_uri.len());
        for _ in 0..n {
            uri.append_value(source_uri);
        }
        cols.push(Arc::new(uri.finish()));
        cols.push(Arc::new(
            perm.iter()
                .map(|&i| self.line[i as usize])
                .collect::<Int64Array>(),
        ));
        let mut ids = StringBuilder::with_capacity(n, n * (source_id.len() + 8));
        let mut id = String::new();
        for &i in &perm {
            match self.event_id.get(i as usize) {
                Some(given) => ids.append_value(given),
                None => {
                    crate::record::event_id(source_id, self.position[i as usize], &mut id);
                    ids.append_value(&id);
                }
            }
        }
        cols.push(Arc::new(ids.finish()));
        RecordBatch::try_new(schema::arrow_schema(), cols)
    }

    fn attributes(&self, perm: &[u32]) -> Result<arrow_array::MapArray, ArrowError> {
        let entries = self.attr_keys.ends.len();
        let mut b = MapBuilder::new(
            None,
            StringBuilder::with_capacity(entries, self.attr_keys.data.len()),
            StringBuilder::with_capacity(entries, self.attr_values.data.len()),
        );
        for &i in perm {
            let i = i as usize;
            let start = if i == 0 {
                0
            } else {
                self.attr_ends[i - 1] as usize
            };
            for e in start..self.attr_ends[i] as usize {
                b.keys().append_option(self.attr_keys.get(e));
                b.values().append_option(self.attr_values.get(e));
            }
            b.append(true)?;
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, TimestampMillisecondType};

    #[test]
    fn sorted_by_service_then_time_with_nulls_last() {
        let mut b = RowBuffer::default();
        let rows = [("b", 3), ("a", 5), ("", 1), ("b", 1), ("a", 2)];
        for (line, (svc, ts)) in rows.iter().enumerate() {
            let mut r = Record::default();
            if !svc.is_empty() {
                r.set(TextField::Service, *svc);
            }
            r.attr("k", format!("v{line}"));
            b.push(
                &r,
                *ts,
                line as u64 + 1,
                line as u64 * 100,
                SourceFormat::Json,
            );
        }
        assert_eq!(b.len(), 5);
        assert!(b.bytes() > 5 * ROW_BYTES);
        let batch = b.into_batch("file:///x", "0123456789abcdef").unwrap();
        let svc: Vec<_> = batch.column(2).as_string::<i32>().iter().collect();
        assert_eq!(svc, [Some("a"), Some("a"), Some("b"), Some("b"), None]);
        let ts: Vec<_> = batch
            .column(0)
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .to_vec();
        assert_eq!(ts, [2, 5, 1, 3, 1]);
        let lines = batch
            .column(26)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        assert_eq!(lines, [5, 2, 4, 1, 3]);
        // Attributes travel with their row.
        let m = batch.column(23).as_map();
        let v = m.value(0);
        assert_eq!(v.column(1).as_string::<i32>().value(0), "v4");
    }
}
