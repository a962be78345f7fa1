//! The last step of every parsed record, from a file or a stream, before any
//! sink sees it: its event time (inherited when the line has none), the
//! range check, the default service, and PII redaction.

use super::options::{DEFAULT_MAX_TS_MS, IngestOptions};
use crate::record::{Record, Reject, TextField};
use crate::redact::{RedactCounts, Redactor};

/// The last step of every parsed record, from a file or a stream: its event
/// time (inherited when the line has none), the range check, the default
/// service, and PII redaction.
#[derive(Debug, Clone)]
pub struct Finisher {
    max_future_ms: i64,
    redactor: Redactor,
    /// Records whose time was inherited.
    ts_inferred: u64,
    min_ts: i64,
    max_ts: i64,
    default_service: Option<String>,
    /// The last accepted explicit time, inherited by lines that have none.
    last_ts: Option<i64>,
    /// The time of the object or stream record the lines came in.
    container_ts: Option<i64>,
    /// The source is loglake's forwarded NDJSON ([`IngestOptions::forwarded`]).
    forwarded: bool,
}

impl Finisher {
    /// `container_ms`: when the object was last modified (or the stream
    /// record arrived): the fallback time, and the upper bound's reference.
    pub fn new(opts: &IngestOptions, container_ms: Option<i64>) -> Self {
        Finisher {
            max_future_ms: opts.max_future_ms,
            redactor: Redactor::new(opts.redact),
            ts_inferred: 0,
            min_ts: opts.min_ts_ms,
            max_ts: container_ms
                .map_or(DEFAULT_MAX_TS_MS, |m| m.saturating_add(opts.max_future_ms)),
            default_service: opts.default_service.clone(),
            last_ts: None,
            container_ts: container_ms,
            forwarded: opts.forwarded,
        }
    }

    /// Start a new container (the next stream record): its lines inherit
    /// times from each other, never from the record before.
    pub fn restart(&mut self, container_ms: Option<i64>) {
        self.max_ts =
            container_ms.map_or(DEFAULT_MAX_TS_MS, |m| m.saturating_add(self.max_future_ms));
        self.last_ts = None;
        self.container_ts = container_ms;
    }

    /// Values masked so far, by kind.
    pub fn redacted(&self) -> RedactCounts {
        self.redactor.counts()
    }

    /// Records so far whose time was inherited (`ts_inferred`).
    pub fn ts_inferred(&self) -> u64 {
        self.ts_inferred
    }

    /// Resolve `rec`'s event time and defaults and mask its PII; the time,
    /// or why the record cannot be a row.
    pub fn finish(&mut self, rec: &mut Record<'_>) -> Result<i64, Reject> {
        // Only where the source says so is a `source_format` in the content
        // loglake's own mark; anywhere else it is a field like any other, or
        // anyone who writes a log line could hide it from the alerts.
        if !self.forwarded {
            if let Some(f) = rec.source_format.take() {
                rec.attr("source_format", f.as_str());
            }
            if let Some(id) = rec.event_id.take() {
                rec.attr("event_id", id);
            }
        }
        let ts = self.resolve(rec)?;
        self.redactor.apply(rec);
        Ok(ts)
    }

    fn resolve(&mut self, rec: &mut Record<'_>) -> Result<i64, Reject> {
        let ts = match rec.ts {
            Some(ts) => ts,
            // A line without a time of its own (a stack-trace continuation, a
            // message from a logger that writes none) happened when the line
            // before it did, or, at the top of the object, when it was written.
            None => {
                let (ts, from) = match (self.last_ts, self.container_ts) {
                    (Some(t), _) => (t, "previous_line"),
                    (None, Some(t)) => (t, "object_time"),
                    (None, None) => return Err(Reject::MissingTimestamp),
                };
                rec.attr("ts_inferred", from);
                ts
            }
        };
        if ts < self.min_ts || ts > self.max_ts {
            return Err(Reject::TimestampOutOfRange);
        }
        // Only a time that was accepted is passed on to the lines after it.
        if rec.ts.is_some() {
            self.last_ts = Some(ts);
        } else {
            self.ts_inferred += 1;
        }
        // A record that arrives already normalized (loglake's NDJSON from
        // the stream path) was finished where it was parsed: a service taken
        // from this object's key (`firehose/...`) would be wrong for it.
        if rec.text[TextField::Service as usize].is_none()
            && !rec.is_forwarded()
            && let Some(s) = &self.default_service
        {
            rec.set(TextField::Service, s.clone());
        }
        Ok(ts)
    }
}
