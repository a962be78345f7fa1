//! The search sink's decisions, with no network: which records are indexed,
//! into which index, under which `_id`; `_bulk` bodies built and split by
//! size; bulk responses read item by item; dead letters; and the index
//! template and ISM policy the cluster is set up with.
//!
//! Every document is created with the `create` action and an `_id` derived
//! from the source's identity and the line's position in it (byte offset in
//! a file, sequence number and line in a stream record). A retried object or
//! batch therefore sends the same `_id`s, and OpenSearch answers `409` for
//! the ones it already has: counted as already indexed, never duplicated.

use std::fmt::Write as _;
use std::io::Write;
use std::ops::Range;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::pipeline::Origin;
use crate::record::{Level, Record, SourceFormat};
use crate::store::OutputStore;
use crate::stream;
use crate::time;

/// The composable index template, as applied by `loglake search setup` and
/// by Terraform (infra/modules/search): explicit mappings, `dynamic: false`,
/// and `attributes` as a `flat_object`, so arbitrary keys never add fields.
pub const INDEX_TEMPLATE: &str = include_str!("../../../search/index-template.json");
/// The ISM policy, with `${delete_after_days}`, `${hot_actions}` and
/// `${index_patterns}` filled in by [`ism_policy`] (or Terraform's
/// `templatefile`).
pub const ISM_POLICY_TEMPLATE: &str = include_str!("../../../search/ism-policy.json.tpl");

/// Where and what to index.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Daily indices are named `{prefix}YYYY.MM.DD` from the record's UTC time.
    pub index_prefix: String,
    /// Write every record to this data stream instead of daily indices.
    pub data_stream: Option<String>,
    /// Index only records at or above this level (see [`effective_level`]).
    pub min_level: Option<Level>,
    /// A `_bulk` request's body is at most this many bytes (one document
    /// larger than this is sent alone).
    pub max_request_bytes: usize,
    /// And at most this many documents.
    pub max_request_docs: usize,
    /// Leave out records that arrived already normalized (loglake NDJSON
    /// from fn-stream through Firehose): fn-stream indexed them when they
    /// arrived, under ids of their own.
    pub skip_normalized: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            index_prefix: "logs-".into(),
            data_stream: None,
            min_level: None,
            max_request_bytes: 5 << 20,
            max_request_docs: 10_000,
            skip_normalized: false,
        }
    }
}

impl SearchOptions {
    /// Check names before anything is sent: OpenSearch index names are
    /// lower case and must not start with `_`, `-` or `+`.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.data_stream.as_deref().unwrap_or(&self.index_prefix);
        let what = if self.data_stream.is_some() {
            "data stream"
        } else {
            "index prefix"
        };
        if name.is_empty() && self.data_stream.is_some() {
            return Err("the data stream name is empty".into());
        }
        if name.starts_with(['_', '-', '+'])
            || name
                .chars()
                .any(|c| c.is_ascii_uppercase() || " \\/*?\"<>|,#:".contains(c) || c.is_control())
        {
            return Err(format!(
                "{what} {name:?} is not a valid OpenSearch index name (lower case, no \\ / * ? \" < > | , # : or spaces, not starting with _ - +)"
            ));
        }
        if self.max_request_bytes < 1024 || self.max_request_docs == 0 {
            return Err("max request size must be at least 1 KiB and 1 document".into());
        }
        Ok(())
    }

    /// The pattern that matches every index these options write to.
    pub fn index_pattern(&self) -> String {
        match &self.data_stream {
            Some(ds) => ds.clone(),
            None => format!("{}*", self.index_prefix),
        }
    }

    /// The index (or data stream) a record with time `ts` goes to.
    pub fn index_for(&self, ts: i64) -> String {
        match &self.data_stream {
            Some(ds) => ds.clone(),
            None => {
                let (y, m, d, _) = time::date_hour(ts);
                format!("{}{y:04}.{m:02}.{d:02}", self.index_prefix)
            }
        }
    }

    /// Whether a record is to be indexed: the level filter, and records
    /// indexed on the stream path.
    pub fn wants(&self, rec: &Record<'_>) -> bool {
        !(self.skip_normalized && rec.source_format.is_some())
            && self.min_level.is_none_or(|min| effective_level(rec) >= min)
    }
}

/// A record's level for the search filter: its own, or for records that
/// carry none (access logs), ERROR for a 5xx status, WARN for a 4xx, INFO
/// otherwise.
pub fn effective_level(rec: &Record<'_>) -> Level {
    rec.level.unwrap_or(match rec.http_status {
        Some(s) if s >= 500 => Level::Error,
        Some(s) if s >= 400 => Level::Warn,
        _ => Level::Info,
    })
}

/// A document `_id`: 20 URL-safe characters (120 bits) of the SHA-256 of
/// the source identity and the record's position within it.
pub fn doc_id(identity: &str, position: &str) -> String {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update([0]);
    h.update(position.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h.finalize()[..15])
}

/// Append one document: loglake's normalized record (the lake's columns,
/// `attributes` as an object), with where it came from.
pub fn write_doc(
    rec: &Record<'_>,
    ts: i64,
    fmt: SourceFormat,
    source_uri: &str,
    source_line: u64,
    out: &mut Vec<u8>,
) {
    stream::write_fields(rec, ts, fmt, out);
    out.extend_from_slice(b",\"source_uri\":");
    let _ = serde_json::to_writer(&mut *out, source_uri);
    // Writing to a Vec cannot fail.
    let _ = write!(out, ",\"source_line\":{source_line}}}");
}

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
    crate::quarantine::key(prefix, ms, name)
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

/// The index template for these options: the repository's template with
/// its index pattern, and data stream mode when one is configured.
pub fn index_template(opts: &SearchOptions) -> Result<Value, String> {
    let mut t: Value = serde_json::from_str(INDEX_TEMPLATE)
        .map_err(|e| format!("search/index-template.json: {e}"))?;
    t["index_patterns"] = json!([opts.index_pattern()]);
    if opts.data_stream.is_some() {
        t["data_stream"] = json!({ "timestamp_field": { "name": "ts" } });
    }
    Ok(t)
}

/// The ISM policy for these options: indices are deleted `delete_after_days`
/// after creation; a data stream's write index also rolls over at
/// `rollover_size` (daily indices are already bounded by the day).
pub fn ism_policy(
    opts: &SearchOptions,
    delete_after_days: u32,
    rollover_size: &str,
) -> Result<Value, String> {
    if delete_after_days == 0 {
        return Err("retention must be at least 1 day".into());
    }
    let hot_actions = match opts.data_stream {
        Some(_) => json!([{ "rollover": { "min_size": rollover_size } }]),
        None => json!([]),
    };
    let patterns = match &opts.data_stream {
        Some(ds) => json!([format!(".ds-{ds}-*")]),
        None => json!([opts.index_pattern()]),
    };
    let text = render(
        ISM_POLICY_TEMPLATE,
        &[
            ("delete_after_days", delete_after_days.to_string()),
            ("hot_actions", hot_actions.to_string()),
            ("index_patterns", patterns.to_string()),
        ],
    )?;
    serde_json::from_str(&text).map_err(|e| format!("search/ism-policy.json.tpl: {e}"))
}

/// Fill `${name}` placeholders, as Terraform's `templatefile` does; an
/// unknown placeholder is an error rather than left in place.
pub fn render(template: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "an unclosed ${ in the template".to_string())?;
        let name = &after[..end];
        let v = vars
            .iter()
            .find(|(k, _)| *k == name)
            .ok_or_else(|| format!("the template uses ${{{name}}}, which has no value"))?;
        out.push_str(&v.1);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What the search sink did with one source or batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchCounts {
    /// Documents produced (after the level filter).
    pub docs: u64,
    /// Left out by the level filter.
    pub filtered: u64,
    pub indexed: u64,
    /// `409`: indexed by an earlier attempt.
    pub already_indexed: u64,
    /// Refused by OpenSearch (mapping, parsing): written to the dead-letter prefix.
    pub dead_lettered: u64,
    /// Still failing when retries or time ran out: the source is reported
    /// failed, and its retry indexes them.
    pub failed: u64,
    /// `_bulk` requests sent, and of those retried or split.
    pub requests: u64,
    pub retried_items: u64,
    pub split_requests: u64,
}

impl SearchCounts {
    pub fn add(&mut self, o: &SearchCounts) {
        self.docs += o.docs;
        self.filtered += o.filtered;
        self.indexed += o.indexed;
        self.already_indexed += o.already_indexed;
        self.dead_lettered += o.dead_lettered;
        self.failed += o.failed;
        self.requests += o.requests;
        self.retried_items += o.retried_items;
        self.split_requests += o.split_requests;
    }
}

/// Turns finished records into bulk bodies: the level filter, the index,
/// the `_id`, the document. Each full bulk is handed to `send`.
pub struct Feed<S: FnMut(Bulk)> {
    opts: SearchOptions,
    builder: BulkBuilder,
    doc: Vec<u8>,
    position: String,
    send: S,
    pub counts: SearchCounts,
}

impl<S: FnMut(Bulk)> std::fmt::Debug for Feed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("opts", &self.opts)
            .field("counts", &self.counts)
            .finish()
    }
}

impl<S: FnMut(Bulk)> Feed<S> {
    pub fn new(opts: SearchOptions, send: S) -> Self {
        Feed {
            builder: BulkBuilder::new(&opts),
            opts,
            doc: Vec::with_capacity(1024),
            position: String::new(),
            send,
            counts: SearchCounts::default(),
        }
    }

    /// Add one finished record from `origin`.
    pub fn add(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        if !self.opts.wants(rec) {
            self.counts.filtered += 1;
            return;
        }
        self.counts.docs += 1;
        self.doc.clear();
        write_doc(rec, ts, fmt, origin.uri, origin.line, &mut self.doc);
        self.position.clear();
        let _ = write!(self.position, "{}", origin.position);
        let id = doc_id(origin.identity, &self.position);
        let index = self.opts.index_for(ts);
        if let Some(b) = self.builder.push(&index, &id, &self.doc) {
            (self.send)(b);
        }
    }

    /// Send the last bulk; returns the counts.
    pub fn finish(mut self) -> SearchCounts {
        if let Some(b) = self.builder.finish() {
            (self.send)(b);
        }
        self.counts
    }
}

impl<S: FnMut(Bulk) + Send> crate::pipeline::Observer for Feed<S> {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        self.add(rec, ts, fmt, origin);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::record::TextField;
    use std::borrow::Cow;

    fn rec(level: Option<Level>, status: Option<i16>) -> Record<'static> {
        let mut r = Record {
            level,
            http_status: status,
            ..Record::default()
        };
        r.set(TextField::Service, Cow::Borrowed("checkout"));
        r.set(TextField::Message, Cow::Borrowed("payment \"declined\""));
        r.attr("k8s.pod", "checkout-7d9");
        r
    }

    const TS: i64 = 1_763_785_000_123; // 2025-11-22T04:16:40.123Z

    #[test]
    fn index_names_follow_the_utc_day() {
        let o = SearchOptions::default();
        assert_eq!(o.index_for(TS), "logs-2025.11.22");
        assert_eq!(o.index_for(0), "logs-1970.01.01");
        let ds = SearchOptions {
            data_stream: Some("logs-shop".into()),
            ..o.clone()
        };
        assert_eq!(ds.index_for(TS), "logs-shop");
        assert!(o.validate().is_ok());
        for bad in ["Logs-", "_logs", "lo gs", "logs*", "a,b"] {
            let o = SearchOptions {
                index_prefix: bad.into(),
                ..SearchOptions::default()
            };
            assert!(o.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = doc_id("s3://b/k#etag=1", "0");
        assert_eq!(a, doc_id("s3://b/k#etag=1", "0"));
        assert_eq!(a.len(), 20);
        assert_ne!(a, doc_id("s3://b/k#etag=1", "1"));
        assert_ne!(a, doc_id("s3://b/k#etag=2", "0"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(doc_id("ab", "c"), doc_id("a", "bc"));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn level_filter_uses_status_for_access_logs() {
        let o = SearchOptions {
            min_level: Some(Level::Warn),
            ..SearchOptions::default()
        };
        assert!(!o.wants(&rec(Some(Level::Info), None)));
        assert!(o.wants(&rec(Some(Level::Error), None)));
        assert!(o.wants(&rec(None, Some(503))));
        assert!(o.wants(&rec(None, Some(404))));
        assert!(!o.wants(&rec(None, Some(200))));
        assert!(!o.wants(&rec(None, None)));
        assert!(SearchOptions::default().wants(&rec(Some(Level::Debug), None)));
        let mut forwarded = rec(Some(Level::Error), None);
        forwarded.source_format = Some(SourceFormat::Json);
        assert!(SearchOptions::default().wants(&forwarded));
        let ingest = SearchOptions {
            skip_normalized: true,
            ..SearchOptions::default()
        };
        assert!(!ingest.wants(&forwarded));
        assert!(ingest.wants(&rec(Some(Level::Error), None)));
    }

    #[test]
    fn bulk_bodies_are_valid_ndjson_and_split_by_size() {
        let o = SearchOptions {
            max_request_bytes: 2048,
            ..SearchOptions::default()
        };
        let mut bulks = Vec::new();
        let mut feed = Feed::new(o, |b| bulks.push(b));
        for i in 0..50u64 {
            let origin = Origin {
                identity: "id",
                uri: "s3://b/k",
                line: i + 1,
                position: i * 100,
            };
            feed.add(
                &rec(Some(Level::Error), Some(500)),
                TS,
                SourceFormat::Json,
                &origin,
            );
        }
        let counts = feed.finish();
        assert_eq!(counts.docs, 50);
        assert!(bulks.len() > 1);
        let mut ids = std::collections::HashSet::new();
        for b in &bulks {
            assert!(b.body.len() <= 2048, "{}", b.body.len());
            assert!(b.body.ends_with(b"\n"));
            let lines: Vec<&[u8]> = b.body.split(|c| *c == b'\n').collect();
            assert_eq!(lines.len(), b.len() * 2 + 1);
            for (i, pair) in lines.chunks(2).take(b.len()).enumerate() {
                let action: Value = serde_json::from_slice(pair[0]).unwrap();
                let doc: Value = serde_json::from_slice(pair[1]).unwrap();
                assert_eq!(action["create"]["_index"], "logs-2025.11.22");
                assert_eq!(action["create"]["_id"], b.items[i].id.as_str());
                assert!(ids.insert(b.items[i].id.clone()));
                assert_eq!(doc["service"], "checkout");
                assert_eq!(doc["message"], "payment \"declined\"");
                assert_eq!(doc["ts"], "2025-11-22T04:16:40.123Z");
                assert_eq!(doc["attributes"]["k8s.pod"], "checkout-7d9");
                assert_eq!(doc["source_uri"], "s3://b/k");
                assert_eq!(b.doc(i), pair[1]);
            }
        }
        assert_eq!(ids.len(), 50);
    }

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

    #[test]
    fn template_fields_are_the_schema() {
        let t = index_template(&SearchOptions::default()).unwrap();
        assert_eq!(t["index_patterns"], json!(["logs-*"]));
        let props = t["template"]["mappings"]["properties"].as_object().unwrap();
        let schema: Vec<&str> = crate::schema::COLUMNS.iter().map(|(n, _)| *n).collect();
        let mapped: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut a = schema.clone();
        a.sort();
        let mut b = mapped.clone();
        b.sort();
        assert_eq!(a, b, "index template fields vs schema::COLUMNS");
        use crate::schema::ColumnType as C;
        for (name, ty) in crate::schema::COLUMNS {
            let mt = props[*name]["type"].as_str().unwrap();
            let ok: &[&str] = match ty {
                C::TimestampMs => &["date"],
                C::Utf8 => &["keyword", "text", "ip"],
                C::Int16 => &["short", "integer", "long"],
                C::Int64 => &["long"],
                C::Float64 => &["double"],
                C::StringMap => &["flat_object"],
            };
            assert!(ok.contains(&mt), "{name}: {mt}");
        }
        assert_eq!(t["template"]["mappings"]["dynamic"], "false");
        let ds = index_template(&SearchOptions {
            data_stream: Some("logs-shop".into()),
            ..SearchOptions::default()
        })
        .unwrap();
        assert_eq!(ds["index_patterns"], json!(["logs-shop"]));
        assert_eq!(ds["data_stream"]["timestamp_field"]["name"], "ts");
    }

    #[test]
    fn documents_fit_the_template_types() {
        // Every field a document can carry is mapped, with a JSON type its
        // mapping accepts.
        let t = index_template(&SearchOptions::default()).unwrap();
        let props = t["template"]["mappings"]["properties"].clone();
        let mut r = rec(Some(Level::Warn), Some(404));
        r.ts = Some(TS);
        r.latency_ms = Some(12.5);
        r.bytes_sent = Some(512);
        r.amount = Some(19.99);
        for f in TextField::ALL {
            if r.get(f).is_none() {
                r.set(f, Cow::Borrowed("x"));
            }
        }
        let mut out = Vec::new();
        write_doc(&r, TS, SourceFormat::Alb, "s3://b/k", 7, &mut out);
        let doc: Value = serde_json::from_slice(&out).unwrap();
        for (k, v) in doc.as_object().unwrap() {
            let ty = props[k]["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{k} unmapped"));
            let fits = match ty {
                "keyword" | "text" | "ip" | "date" => v.is_string(),
                "short" | "long" => v.is_i64(),
                "double" => v.is_number(),
                "flat_object" => v.is_object(),
                _ => false,
            };
            assert!(fits, "{k}: {v} does not fit {ty}");
        }
        assert_eq!(doc.as_object().unwrap().len(), crate::schema::COLUMNS.len());
    }

    #[test]
    fn ism_policy_renders() {
        let p = ism_policy(&SearchOptions::default(), 14, "30gb").unwrap();
        let states = p["policy"]["states"].as_array().unwrap();
        assert_eq!(states[0]["actions"], json!([]));
        assert_eq!(
            states[0]["transitions"][0]["conditions"]["min_index_age"],
            "14d"
        );
        assert_eq!(
            p["policy"]["ism_template"][0]["index_patterns"],
            json!(["logs-*"])
        );
        let ds = ism_policy(
            &SearchOptions {
                data_stream: Some("logs-shop".into()),
                ..SearchOptions::default()
            },
            7,
            "30gb",
        )
        .unwrap();
        assert_eq!(
            ds["policy"]["states"][0]["actions"][0]["rollover"]["min_size"],
            "30gb"
        );
        assert!(ism_policy(&SearchOptions::default(), 0, "1gb").is_err());
        assert!(render("${nope}", &[]).is_err());
        assert_eq!(render("a${x}b", &[("x", "1".into())]).unwrap(), "a1b");
    }
}
