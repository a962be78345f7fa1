//! The rows of one partition waiting to become a row group: compact columns
//! that know their own size, turned into a sorted Arrow batch when flushed.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{MapBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int16Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray, new_null_array,
};
use arrow_schema::{ArrowError, DataType};

use crate::error::Error;
use crate::record::{Level, Record, SourceFormat, TextField};
use crate::schema;

/// Strings back to back: the entries of a list, every one present.
#[derive(Debug, Default)]
struct Strs {
    data: String,
    ends: Vec<u32>,
}

impl Strs {
    fn push(&mut self, v: &str) {
        self.data.push_str(v);
        self.ends.push(self.data.len() as u32);
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.data[start..self.ends[k] as usize]
    }
}

/// One nullable string column, sparse: only the rows that have a value pay
/// for it. A text line fills three or four of the schema's twenty string
/// columns, so a dense layout spent most of a row's cost on nulls.
#[derive(Debug, Default)]
struct StrCol {
    values: Strs,
    /// The row of each value, ascending.
    rows: Vec<u32>,
}

impl StrCol {
    fn push(&mut self, row: usize, v: &str) {
        self.values.push(v);
        self.rows.push(row as u32);
    }

    /// For each of `n` rows, the index of its value, or `u32::MAX`.
    fn slots(&self, n: usize) -> Vec<u32> {
        let mut slots = vec![u32::MAX; n];
        for (k, &row) in self.rows.iter().enumerate() {
            slots[row as usize] = k as u32;
        }
        slots
    }

    /// The column of `perm.len()` rows in the order `perm` gives.
    fn gather(&self, perm: &[u32]) -> ArrayRef {
        let n = perm.len();
        if self.rows.is_empty() {
            return new_null_array(&DataType::Utf8, n);
        }
        let mut b = StringBuilder::with_capacity(n, self.values.data.len());
        if self.rows.len() == n {
            // Every row has a value: value k is row k's.
            for &i in perm {
                b.append_value(self.values.get(i as usize));
            }
        } else {
            let slots = self.slots(n);
            for &i in perm {
                match slots[i as usize] {
                    u32::MAX => b.append_null(),
                    k => b.append_value(self.values.get(k as usize)),
                }
            }
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
    attr_keys: Strs,
    attr_values: Strs,
    attr_ends: Vec<u32>,
    bytes: usize,
}

/// Fixed cost of one row in the buffer, before its strings.
const ROW_BYTES: usize = 8 + 8 + 8 + 1 + 2 + 4 + 16 + 16 + 16 + 4;
/// Cost of one present string beyond its bytes: its end and its row.
const VALUE_BYTES: usize = 8;

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
        let row = self.ts.len() - 1;
        let id = rec.event_id.as_deref();
        if let Some(id) = id {
            self.event_id.push(row, id);
        }
        self.format.push(format);
        self.level.push(rec.level);
        let mut strings = id.map_or(0, |id| id.len() + VALUE_BYTES);
        for (col, v) in self.text.iter_mut().zip(&rec.text) {
            if let Some(v) = v.as_deref() {
                strings += v.len() + VALUE_BYTES;
                col.push(row, v);
            }
        }
        self.http_status.push(rec.http_status);
        self.latency_ms.push(rec.latency_ms);
        self.bytes_sent.push(rec.bytes_sent);
        self.amount.push(rec.amount);
        for (k, v) in &rec.attributes {
            strings += k.len() + v.len() + 10;
            self.attr_keys.push(k);
            self.attr_values.push(v);
        }
        self.attr_ends.push(self.attr_keys.len() as u32);
        self.bytes += ROW_BYTES + strings;
    }

    /// The row order of a row group: by service (nulls last), then time, then
    /// arrival, so row-group statistics prune by service and time.
    fn sort_order(&self) -> Vec<u32> {
        let services = &self.text[TextField::Service as usize];
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        let mut row_ids = vec![u32::MAX; self.len()];
        for (k, &row) in services.rows.iter().enumerate() {
            let s = services.values.get(k);
            row_ids[row as usize] = *ids.entry(s).or_insert_with(|| {
                names.push(s);
                names.len() as u32 - 1
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

    /// Sort and hand the columns of the lake schema to `out`, in schema
    /// order, each built only when the one before it has been taken. Each
    /// column's buffer is freed as soon as its array is built, so writing a
    /// row group needs little more memory than its rows.
    /// `source_id`: the short id of the source, which with each row's
    /// position makes its `event_id` (see [`crate::record::event_id`]).
    pub fn into_columns(
        mut self,
        source_uri: &str,
        source_id: &str,
        out: &mut dyn FnMut(ArrayRef) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let perm = self.sort_order();
        let n = perm.len();
        let gather = |v: &[Option<f64>]| -> ArrayRef {
            Arc::new(
                perm.iter()
                    .map(|&i| v[i as usize])
                    .collect::<Float64Array>(),
            )
        };
        // Text columns in schema order (TextField::ALL is that order).
        let mut text = TextField::ALL.into_iter();
        let mut texts = |k: usize, out: &mut dyn FnMut(ArrayRef) -> Result<(), Error>| {
            for f in text.by_ref().take(k) {
                out(std::mem::take(&mut self.text[f as usize]).gather(&perm))?;
            }
            Ok::<_, Error>(())
        };
        out(Arc::new(
            TimestampMillisecondArray::from(
                perm.iter()
                    .map(|&i| self.ts[i as usize])
                    .collect::<Vec<i64>>(),
            )
            .with_timezone("UTC"),
        ))?;
        out(Arc::new(
            perm.iter()
                .map(|&i| self.level[i as usize].map(Level::as_str))
                .collect::<StringArray>(),
        ))?;
        // service, message, host, region, http_method, http_path
        texts(6, out)?;
        out(Arc::new(
            perm.iter()
                .map(|&i| self.http_status[i as usize])
                .collect::<Int16Array>(),
        ))?;
        out(gather(&self.latency_ms))?;
        out(Arc::new(
            perm.iter()
                .map(|&i| self.bytes_sent[i as usize])
                .collect::<Int64Array>(),
        ))?;
        // client_ip .. currency
        texts(10, out)?;
        out(gather(&self.amount))?;
        // The rest of the text columns.
        texts(TextField::COUNT, out)?;
        out(Arc::new(self.attributes(&perm)?))?;
        out(Arc::new(
            perm.iter()
                .map(|&i| Some(self.format[i as usize].as_str()))
                .collect::<StringArray>(),
        ))?;
        let mut uri = StringBuilder::with_capacity(n, n * source_uri.len());
        for _ in 0..n {
            uri.append_value(source_uri);
        }
        out(Arc::new(uri.finish()))?;
        out(Arc::new(
            perm.iter()
                .map(|&i| self.line[i as usize])
                .collect::<Int64Array>(),
        ))?;
        let mut ids = StringBuilder::with_capacity(n, n * (source_id.len() + 8));
        let mut id = String::new();
        let given = self
            .event_id
            .slots(if self.event_id.rows.is_empty() { 0 } else { n });
        for &i in &perm {
            match given.get(i as usize) {
                Some(&k) if k != u32::MAX => ids.append_value(self.event_id.values.get(k as usize)),
                _ => {
                    crate::record::event_id(source_id, self.position[i as usize], &mut id);
                    ids.append_value(&id);
                }
            }
        }
        out(Arc::new(ids.finish()))
    }

    /// [`RowBuffer::into_columns`] as one batch.
    pub fn into_batch(self, source_uri: &str, source_id: &str) -> Result<RecordBatch, Error> {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema::COLUMNS.len());
        self.into_columns(source_uri, source_id, &mut |c| {
            cols.push(c);
            Ok(())
        })?;
        Ok(RecordBatch::try_new(schema::arrow_schema(), cols)?)
    }

    fn attributes(&self, perm: &[u32]) -> Result<arrow_array::MapArray, ArrowError> {
        let entries = self.attr_keys.len();
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
                b.keys().append_value(self.attr_keys.get(e));
                b.values().append_value(self.attr_values.get(e));
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
