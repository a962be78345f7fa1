//! The quarantine: every line that could not become a row, with where it came
//! from, why, and its raw bytes, as gzip NDJSON beside the lake.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::ingest::input::{Line, LineKind};
use crate::ingest::lake::{Output, OutputKind};
use crate::record::Reject;
use crate::redact::{RedactCounts, RedactOptions, Redactor};
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
    /// The line, masked (cards, e-mails, secrets, as the settings say).
    /// A line that is not valid UTF-8 is kept as its lossy text (invalid
    /// bytes as U+FFFD), masked, when redaction is on; left out when its
    /// masking cannot be proven (a card or secret that only appears once
    /// the invalid bytes are taken out of it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<&'a str>,
    /// The line's bytes in base64, when it is not valid UTF-8 and nothing
    /// is redacted (`REDACT=none`, or IPs only): unmasked bytes are never
    /// kept otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
    /// SHA-256 (hex) of the line's bytes, when they are not valid UTF-8 and
    /// are not kept: to find the line in the source.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_sha256: Option<String>,
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
    redactor: Redactor,
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
            redactor: Redactor::new(RedactOptions::NONE),
        }
    }

    /// Mask cards, e-mails and secrets (as `opts` says) in the kept text
    /// of each line and in its detail.
    pub fn redacting(mut self, opts: RedactOptions) -> Self {
        self.redactor = Redactor::new(opts);
        self
    }

    /// What redaction masked in quarantined lines.
    pub fn redacted(&self) -> RedactCounts {
        self.redactor.counts()
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
        let text: Cow<'_, str> = match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            // Cutting a line may split its last character: that is not bad
            // UTF-8, so keep the text up to the cut.
            Err(e) if cut && e.error_len().is_none() => Cow::Borrowed(
                std::str::from_utf8(raw.get(..e.valid_up_to()).unwrap_or_default())
                    .unwrap_or_default(),
            ),
            Err(_) => return self.add_invalid(source_uri, line, raw, reject),
        };
        let masked = self.redactor.mask_text(&text);
        let detail = reject.detail();
        let masked_detail = detail.and_then(|d| self.redactor.mask_text(d));
        let raw_len = match line.kind {
            LineKind::Oversized { len } => len,
            _ => raw.len() as u64,
        };
        let rec = QuarantineRecord {
            source_uri: source_uri.unwrap_or(&self.source_uri),
            line: line.number,
            offset: line.offset,
            reason: &reason,
            detail: masked_detail.as_deref().or(detail),
            raw: Some(masked.as_deref().unwrap_or(&text)),
            raw_base64: None,
            raw_sha256: None,
            raw_len,
        };
        let line = serialize(&mut self.buf, &rec).map_err(|e| Error::write(&self.key, e))?;
        self.emit(line, reason.into_owned())
    }

    /// A line that is not valid UTF-8. With nothing to redact, its bytes
    /// are kept as base64. Otherwise its lossy text is masked and kept,
    /// unless the text with the invalid bytes taken out holds more to mask
    /// (a card split by a stray byte): then only its hash and length are.
    fn add_invalid(
        &mut self,
        source_uri: Option<&str>,
        line: &Line,
        raw: &[u8],
        reject: &Reject,
    ) -> Result<(), Error> {
        let reason = reject.reason();
        let opts = self.redactor.options();
        let redacting = opts.cards || opts.emails || opts.secrets;
        let lossy = String::from_utf8_lossy(raw);
        let (kept, b64, sha) = if redacting {
            let before = self.redactor.counts().total();
            let masked = self.redactor.mask_text(&lossy);
            let found = self.redactor.counts().total() - before;
            let joined: String = lossy
                .chars()
                .filter(|c| *c != char::REPLACEMENT_CHARACTER)
                .collect();
            let mut probe = Redactor::new(opts);
            let _ = probe.mask_text(&joined);
            let proven = probe.counts().total() <= found;
            let sha = hex(&Sha256::digest(raw));
            (
                proven.then(|| masked.unwrap_or_else(|| lossy.into_owned())),
                None,
                Some(sha),
            )
        } else {
            (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(raw)),
                None,
            )
        };
        let detail = reject.detail();
        let masked_detail = detail.and_then(|d| self.redactor.mask_text(d));
        let rec = QuarantineRecord {
            source_uri: source_uri.unwrap_or(&self.source_uri),
            line: line.number,
            offset: line.offset,
            reason: &reason,
            detail: masked_detail.as_deref().or(detail),
            raw: kept.as_deref(),
            raw_base64: b64,
            raw_sha256: sha,
            raw_len: match line.kind {
                LineKind::Oversized { len } => len,
                _ => raw.len() as u64,
            },
        };
        let line = serialize(&mut self.buf, &rec).map_err(|e| Error::write(&self.key, e))?;
        self.emit(line, reason.into_owned())
    }

    /// Append one serialized record, creating the file at the first.
    fn emit(&mut self, line: Vec<u8>, reason: String) -> Result<(), Error> {
        if self.out.is_none() {
            let f = self
                .store
                .create(&self.key)
                .map_err(|e| Error::write(&self.key, e))?;
            self.out = Some(GzEncoder::new(f, flate2::Compression::default()));
        }
        let written = match self.out.as_mut() {
            Some(out) => out.write_all(&line),
            None => Ok(()),
        };
        self.buf = line;
        written.map_err(|e| Error::write(&self.key, e))?;
        self.count += 1;
        *self.by_reason.entry(reason).or_insert(0) += 1;
        Ok(())
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

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `rec` as one NDJSON line, in `buf`'s allocation (taken; given back by
/// [`Quarantine::emit`]).
fn serialize(buf: &mut Vec<u8>, rec: &QuarantineRecord<'_>) -> std::io::Result<Vec<u8>> {
    let mut out = std::mem::take(buf);
    out.clear();
    serde_json::to_writer(&mut out, rec)?;
    out.push(b'\n');
    Ok(out)
}
