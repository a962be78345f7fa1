//! The quarantine: every line that could not become a row, with where it came
//! from, why, and its raw bytes, as gzip NDJSON beside the lake.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;

use crate::error::Error;
use crate::ingest::input::{Line, LineKind};
use crate::ingest::lake::{Output, OutputKind};
use crate::record::Reject;
use crate::redact::{RedactCounts, RedactOptions, mask_cards, mask_emails};
use crate::store::{OutputFile, OutputStore};

/// The key of a quarantine file: `{prefix}/dt=YYYY-MM-DD/{name}.ndjson.gz`,
/// dated by `ms` (the source's modification or arrival time) so a retry of
/// the same source writes the same key.
pub fn key(prefix: &str, ms: Option<i64>, name: &str) -> String {
    let dt = match ms {
        Some(ms) => {
            let (y, m, d, _) = crate::time::date_hour(ms);
            format!("{y:04}-{m:02}-{d:02}")
        }
        None => "unknown".to_string(),
    };
    format!("{prefix}/dt={dt}/{name}.ndjson.gz")
}

/// One quarantined line, as written.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct QuarantineRecord<'a> {
    pub source_uri: &'a str,
    /// 1-based line number in the decoded source.
    pub line: u64,
    /// Byte offset of the line in the decoded source.
    pub offset: u64,
    pub reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<&'a str>,
    /// The line, when it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<&'a str>,
    /// The line's bytes in base64, when it is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
    /// Full length of the line in bytes; more than the raw bytes kept when
    /// the line was oversized.
    pub raw_len: u64,
}

/// Writes one source's quarantine file, created at the first bad line.
pub struct Quarantine<'s> {
    store: &'s dyn OutputStore,
    key: String,
    source_uri: String,
    out: Option<GzEncoder<Box<dyn OutputFile>>>,
    count: u64,
    by_reason: BTreeMap<String, u64>,
    buf: Vec<u8>,
    redact: RedactOptions,
    redacted: RedactCounts,
}

impl std::fmt::Debug for Quarantine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quarantine")
            .field("key", &self.key)
            .field("count", &self.count)
            .finish()
    }
}

impl<'s> Quarantine<'s> {
    pub fn new(store: &'s dyn OutputStore, key: String, source_uri: String) -> Self {
        Quarantine {
            store,
            key,
            source_uri,
            out: None,
            count: 0,
            by_reason: BTreeMap::new(),
            buf: Vec::new(),
            redact: RedactOptions::NONE,
            redacted: RedactCounts::default(),
        }
    }

    /// Mask card numbers and e-mail addresses in the kept text of each line
    /// too (lines that are not UTF-8 are kept as base64, unmasked).
    pub fn redacting(mut self, opts: RedactOptions) -> Self {
        self.redact = opts;
        self
    }

    /// What redaction masked in quarantined lines.
    pub fn redacted(&self) -> RedactCounts {
        self.redacted
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn by_reason(&self) -> &BTreeMap<String, u64> {
        &self.by_reason
    }

    /// Quarantine one line. `raw` is what was kept of it.
    pub fn add(&mut self, line: &Line, raw: &[u8], reject: &Reject) -> Result<(), Error> {
        self.add_from(None, line, raw, reject)
    }

    /// Quarantine one line that came from somewhere more precise than the
    /// file's source (a stream record's coordinates).
    pub fn add_from(
        &mut self,
        source_uri: Option<&str>,
        line: &Line,
        raw: &[u8],
        reject: &Reject,
    ) -> Result<(), Error> {
        let reason = reject.reason();
        let cut = matches!(line.kind, LineKind::Oversized { .. } | LineKind::Truncated);
        let (text, b64) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s), None),
            // Cutting a line may split its last character: that is not bad
            // UTF-8, so keep the text up to the cut.
            Err(e) if cut && e.error_len().is_none() => {
                (std::str::from_utf8(&raw[..e.valid_up_to()]).ok(), None)
            }
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(raw)),
            ),
        };
        let masked = text.and_then(|t| self.mask(t));
        let text = masked.as_deref().or(text);
        let raw_len = match line.kind {
            LineKind::Oversized { len } => len,
            _ => raw.len() as u64,
        };
        let rec = QuarantineRecord {
            source_uri: source_uri.unwrap_or(&self.source_uri),
            line: line.number,
            offset: line.offset,
            reason: &reason,
            detail: reject.detail(),
            raw: text,
            raw_base64: b64,
            raw_len,
        };
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &rec)
            .map_err(|e| Error::write(&self.key, e.into()))?;
        self.buf.push(b'\n');
        if self.out.is_none() {
            let f = self
                .store
                .create(&self.key)
                .map_err(|e| Error::write(&self.key, e))?;
            self.out = Some(GzEncoder::new(f, flate2::Compression::default()));
        }
        if let Some(out) = self.out.as_mut() {
            out.write_all(&self.buf)
                .map_err(|e| Error::write(&self.key, e))?;
        }
        self.count += 1;
        *self.by_reason.entry(reason.into_owned()).or_insert(0) += 1;
        Ok(())
    }

    fn mask(&mut self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        if self.redact.cards
            && let Some((s, n)) = mask_cards(text)
        {
            self.redacted.cards += n;
            out = Some(s);
        }
        if self.redact.emails
            && let Some((s, n)) = mask_emails(out.as_deref().unwrap_or(text))
        {
            self.redacted.emails += n;
            out = Some(s);
        }
        out
    }

    /// Commit the file, if anything was quarantined.
    pub fn finish(self) -> Result<Option<Output>, Error> {
        let Some(out) = self.out else {
            return Ok(None);
        };
        let f = out.finish().map_err(|e| Error::write(&self.key, e))?;
        let bytes = f.commit().map_err(|e| Error::write(&self.key, e))?;
        Ok(Some(Output {
            key: self.key,
            kind: OutputKind::Quarantine,
            partition: None,
            rows: self.count,
            bytes,
        }))
    }
}
