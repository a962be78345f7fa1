//! `_bulk` request bodies of `create` actions ([`Bulk`]), grouped under the
//! size and count limits ([`BulkBuilder`]); bulk responses read item by
//! item ([`parse_bulk_response`]); and dead letters, the documents
//! OpenSearch refused, with why.

use std::io::Write;
use std::ops::Range;

use serde_json::{Value, json};

use super::SearchOptions;
use crate::error::Error;
use crate::store::OutputStore;

/// One document in a [`Bulk`]: its index and `_id`, and where its source
/// line lies in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub index: String,
    pub id: String,
    /// The action line and the source line, newlines included.
    pub range: Range<usize>,
    /// Where the source line starts within `range`.
    pub doc_start: usize,
}

/// A `_bulk` request body of `create` actions, with the items it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bulk {
    pub body: Vec<u8>,
    pub items: Vec<Item>,
}

impl Bulk {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Append a `create` of `doc` (one JSON object, no newline).
    pub fn push(&mut self, index: &str, id: &str, doc: &[u8]) {
        let start = self.body.len();
        self.body.extend_from_slice(b"{\"create\":{\"_index\":");
        let _ = serde_json::to_writer(&mut self.body, index);
        self.body.extend_from_slice(b",\"_id\":");
        let _ = serde_json::to_writer(&mut self.body, id);
        self.body.extend_from_slice(b"}}\n");
        let doc_start = self.body.len();
        self.body.extend_from_slice(doc);
        self.body.push(b'\n');
        self.items.push(Item {
            index: index.to_string(),
            id: id.to_string(),
            range: start..self.body.len(),
            doc_start,
        });
    }

    /// The source line of item `i`, without its newline.
    pub fn doc(&self, i: usize) -> &[u8] {
        let it = &self.items[i];
        &self.body[it.doc_start..it.range.end - 1]
    }

    /// A new body holding only the items at `which` (in that order), for a
    /// retry of the ones that failed.
    pub fn subset(&self, which: &[usize]) -> Bulk {
        let mut b = Bulk::default();
        for &i in which {
            let it = &self.items[i];
            let start = b.body.len();
            b.body.extend_from_slice(&self.body[it.range.clone()]);
            b.items.push(Item {
                index: it.index.clone(),
                id: it.id.clone(),
                range: start..b.body.len(),
                doc_start: start + (it.doc_start - it.range.start),
            });
        }
        b
    }

    /// Two halves, for a request the server refused as too large (413).
    /// `None` when it holds a single document.
    pub fn split(&self) -> Option<(Bulk, Bulk)> {
        if self.items.len() < 2 {
            return None;
        }
        let mid = self.items.len() / 2;
        let all: Vec<usize> = (0..self.items.len()).collect();
        Some((self.subset(&all[..mid]), self.subset(&all[mid..])))
    }
}

/// Groups documents into bulk bodies under the size and count limits.
#[derive(Debug)]
pub struct BulkBuilder {
    max_bytes: usize,
    max_docs: usize,
    cur: Bulk,
}

impl BulkBuilder {
    pub fn new(opts: &SearchOptions) -> Self {
        BulkBuilder {
            max_bytes: opts.max_request_bytes,
            max_docs: opts.max_request_docs,
            cur: Bulk::default(),
        }
    }

    /// Add a document; returns the previous bulk if this one would not fit
    /// in it.
    pub fn push(&mut self, index: &str, id: &str, doc: &[u8]) -> Option<Bulk> {
        // The action line is at most ~60 bytes plus the names.
        let need = doc.len() + index.len() + id.len() + 40;
        let full = !self.cur.is_empty()
            && (self.cur.body.len() + need > self.max_bytes || self.cur.len() >= self.max_docs);
        let done = full.then(|| std::mem::take(&mut self.cur));
        self.cur.push(index, id, doc);
        done
    }

    /// The last, partly filled bulk.
    pub fn finish(&mut self) -> Option<Bulk> {
        (!self.cur.is_empty()).then(|| std::mem::take(&mut self.cur))
    }
}

/// What became of one document in a bulk response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Indexed,
    /// `409` on `create`: a previous attempt indexed it.
    AlreadyIndexed,
    /// `429`, `5xx` or a rejected execution: worth another try, alone.
    Retry {
        status: u16,
        reason: String,
    },
    /// Anything else (mapping and parsing errors): the document itself is
    /// wrong for the index, and goes to the dead-letter prefix.
    Rejected {
        status: u16,
        error_type: String,
        reason: String,
    },
}

/// Read a `_bulk` response: one outcome per item, in request order.
pub fn parse_bulk_response(body: &[u8], items: usize) -> Result<Vec<ItemOutcome>, String> {
    #[derive(serde::Deserialize)]
    struct Response {
        items: Vec<std::collections::HashMap<String, ItemResult>>,
    }
    #[derive(serde::Deserialize)]
    struct ItemResult {
        status: u16,
        #[serde(default)]
        error: Option<Value>,
    }
    let r: Response = serde_json::from_slice(body)
        .map_err(|e| format!("the bulk response is not what OpenSearch sends: {e}"))?;
    if r.items.len() != items {
        return Err(format!(
            "the bulk response has {} items for {items} documents",
            r.items.len()
        ));
    }
    Ok(r.items
        .into_iter()
        .map(|m| {
            let Some(it) = m.into_values().next() else {
                return ItemOutcome::Retry {
                    status: 0,
                    reason: "empty item in the bulk response".into(),
                };
            };
            let (error_type, reason) = match &it.error {
                Some(Value::Object(e)) => (
                    e.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    e.get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ),
                Some(other) => (String::new(), other.to_string()),
                None => (String::new(), String::new()),
            };
            classify(it.status, &error_type, reason)
        })
        .collect())
}

fn classify(status: u16, error_type: &str, reason: String) -> ItemOutcome {
    match status {
        200..=299 => ItemOutcome::Indexed,
        409 if error_type.is_empty() || error_type == "version_conflict_engine_exception" => {
            ItemOutcome::AlreadyIndexed
        }
        429 | 500..=599 => ItemOutcome::Retry { status, reason },
        _ if error_type == "es_rejected_execution_exception"
            || error_type == "rejected_execution_exception" =>
        {
            ItemOutcome::Retry { status, reason }
        }
        _ => ItemOutcome::Rejected {
            status,
            error_type: error_type.to_string(),
            reason,
        },
    }
}

/// One dead letter: a document OpenSearch refused, with why; one NDJSON
/// line of the dead-letter file. `doc` is the document as sent, so it can
/// be fixed and re-sent (`loglake search bulk` reads these files).
pub fn dead_letter(item: &Item, doc: &[u8], status: u16, error_type: &str, reason: &str) -> Value {
    let doc: Value = serde_json::from_slice(doc)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(doc).into_owned()));
    json!({
        "index": item.index,
        "id": item.id,
        "status": status,
        "error_type": error_type,
        "reason": reason,
        "doc": doc,
    })
}

/// Where a source's dead letters go: `{prefix}/dt=YYYY-MM-DD/{name}.ndjson.gz`,
/// named like its other outputs, so a retry overwrites its own file.
pub fn dead_letter_key(prefix: &str, ms: Option<i64>, name: &str) -> String {
    crate::ingest::quarantine::key(prefix, ms, name)
}

/// Write dead letters as gzip NDJSON; returns the bytes written.
pub fn write_dead_letters(
    store: &dyn OutputStore,
    key: &str,
    letters: &[Value],
) -> Result<u64, Error> {
    let f = store.create(key).map_err(|e| Error::write(key, e))?;
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    for l in letters {
        serde_json::to_writer(&mut gz, l).map_err(|e| Error::write(key, e.into()))?;
        gz.write_all(b"\n").map_err(|e| Error::write(key, e))?;
    }
    let f = gz.finish().map_err(|e| Error::write(key, e))?;
    f.commit().map_err(|e| Error::write(key, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_and_halves_keep_items_whole() {
        let mut b = Bulk::default();
        for i in 0..5 {
            b.push(
                "logs-x",
                &format!("id{i}"),
                format!("{{\"n\":{i}}}").as_bytes(),
            );
        }
        let s = b.subset(&[3, 1]);
        assert_eq!(
            s.body,
            b"{\"create\":{\"_index\":\"logs-x\",\"_id\":\"id3\"}}\n{\"n\":3}\n{\"create\":{\"_index\":\"logs-x\",\"_id\":\"id1\"}}\n{\"n\":1}\n"
        );
        assert_eq!(s.doc(1), b"{\"n\":1}");
        let (l, r) = b.split().unwrap();
        assert_eq!((l.len(), r.len()), (2, 3));
        assert_eq!([l.body, r.body].concat(), b.body);
        assert!(b.subset(&[0]).split().is_none());
    }

    #[test]
    fn responses_are_read_item_by_item() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"create":{"_index":"logs-x","_id":"a","status":201,"result":"created"}},
            {"create":{"_index":"logs-x","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[b]: version conflict, document already exists (current version [1])"}}},
            {"create":{"_index":"logs-x","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},
            {"create":{"_index":"logs-x","_id":"d","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [http_status] of type [short]"}}},
            {"create":{"_index":"logs-x","_id":"e","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
            {"create":{"_index":"logs-x","_id":"f","status":400,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}
        ]}"#;
        let out = parse_bulk_response(body, 6).unwrap();
        assert_eq!(out[0], ItemOutcome::Indexed);
        assert_eq!(out[1], ItemOutcome::AlreadyIndexed);
        assert!(matches!(out[2], ItemOutcome::Retry { status: 429, .. }));
        assert!(
            matches!(&out[3], ItemOutcome::Rejected { status: 400, error_type, .. } if error_type == "mapper_parsing_exception")
        );
        assert!(matches!(out[4], ItemOutcome::Retry { status: 503, .. }));
        assert!(matches!(out[5], ItemOutcome::Retry { status: 400, .. }));
        assert!(parse_bulk_response(body, 5).is_err());
        assert!(parse_bulk_response(b"<html>", 1).is_err());
    }
}
