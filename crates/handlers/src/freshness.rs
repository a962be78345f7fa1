//! Freshness: how long after it happened an event became a row (forwarded
//! by fn-stream, written by fn-ingest). Each record's lag from a reference
//! time (when the batch or object started) goes into a log-scale histogram;
//! when the rows are out, the time since the reference is added, so the
//! quantiles are those of (written - event time) without keeping a time
//! per row.

use loglake_core::ingest::{Observer, Origin};
use loglake_core::record::{Record, SourceFormat};
use loglake_core::sinks::alerts::Histogram;

/// Lags of one batch or object.
#[derive(Debug, Clone)]
pub struct Freshness {
    start_ms: i64,
    lags: Histogram,
}

impl Freshness {
    /// Lags measured from `start_ms` (now, as the batch starts).
    pub fn new(start_ms: i64) -> Self {
        Freshness {
            start_ms,
            lags: Histogram::new(),
        }
    }

    /// Records seen.
    pub fn count(&self) -> u64 {
        self.lags.count()
    }

    /// (p50, p95) of the lag to `written_ms`, in milliseconds; `None` when
    /// no record was seen.
    pub fn quantiles(&self, written_ms: i64) -> Option<(f64, f64)> {
        let shift = (written_ms - self.start_ms).max(0) as f64;
        Some((
            self.lags.quantile(0.5)? + shift,
            self.lags.quantile(0.95)? + shift,
        ))
    }

    /// The EMF line for `function`, when any record was seen.
    pub fn emf(&self, function: &str, written_ms: i64) -> Option<String> {
        let (p50, p95) = self.quantiles(written_ms)?;
        Some(loglake_core::metrics::emf_freshness(
            function, p50, p95, written_ms,
        ))
    }
}

impl Observer for Freshness {
    fn observe(&mut self, _: &Record<'_>, ts: i64, _: SourceFormat, _: &Origin<'_>) {
        // An event from the future (a client's clock ahead) is fresh: 0.
        self.lags.add((self.start_ms - ts).max(0) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_of_written_minus_event_time() {
        let origin = Origin {
            identity: "i",
            uri: "u",
            line: 1,
            position: 0,
        };
        let mut f = Freshness::new(100_000);
        assert_eq!(f.quantiles(100_000), None);
        // Events 10 s, 20 s, ... 100 s old when the batch started.
        for age in 1..=10 {
            f.observe(
                &Record::default(),
                100_000 - age * 10_000,
                SourceFormat::Json,
                &origin,
            );
        }
        // Written 5 s later.
        let (p50, p95) = f.quantiles(105_000).unwrap();
        assert!((p50 - 55_000.0).abs() <= 55_000.0 * 0.011, "{p50}");
        assert!((p95 - 105_000.0).abs() <= 105_000.0 * 0.011, "{p95}");
        let emf: serde_json::Value =
            serde_json::from_str(&f.emf("fn-stream", 105_000).unwrap()).unwrap();
        assert_eq!(emf["function"], "fn-stream");
        assert!(emf["FreshnessP95Ms"].as_f64().unwrap() > 100_000.0);
    }
}
