//! The search sink fed by the ingest path: [`Feed`] turns finished records
//! into bulk bodies (the level filter, the index, the `_id`, the document)
//! and [`SearchCounts`] says what became of them.

use super::bulk::{Bulk, BulkBuilder};
use super::{SearchOptions, write_doc};
use crate::ingest::Origin;
use crate::ingest::source::source_id;
use crate::record::event_id;
use crate::record::{Record, SourceFormat};

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
    /// The last origin's identity and its short id, and the event id.
    identity: String,
    source_id: String,
    id: String,
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
            identity: String::new(),
            source_id: String::new(),
            id: String::new(),
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
        // The event's id is the document's `_id`: the one the lake's row
        // carries, so a document and its row are found by one key.
        match rec.event_id.as_deref() {
            Some(given) => given.clone_into(&mut self.id),
            None => {
                if self.identity != origin.identity {
                    origin.identity.clone_into(&mut self.identity);
                    self.source_id = source_id(origin.identity);
                }
                event_id(&self.source_id, origin.position, &mut self.id);
            }
        }
        self.doc.clear();
        write_doc(
            rec,
            ts,
            fmt,
            origin.uri,
            origin.line,
            &self.id,
            &mut self.doc,
        );
        let index = self.opts.index_for(ts);
        if let Some(b) = self.builder.push(&index, &self.id, &self.doc) {
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

impl<S: FnMut(Bulk) + Send> crate::ingest::Observer for Feed<S> {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        self.add(rec, ts, fmt, origin);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::record::Level;
    use crate::sinks::search::tests::{TS, rec};

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
}
