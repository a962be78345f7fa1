//! The summary table in AWS (fn-alerts): once an hour has closed, its
//! window items are summed per (minute, service) and written as one Parquet
//! file, `summary/dt=YYYY-MM-DD/hr=HH/summary.parquet` in the curated
//! bucket ([`loglake_core::summary`]).
//!
//! - An hour is closed when its end plus the rules' evaluation delay has
//!   passed (late files still arrive within the delay). Each run writes the
//!   hours after the last one done (its progress item), at most
//!   [`MAX_HOURS_PER_RUN`], so a function that was stopped for a while
//!   catches up over a few runs without one run taking long; with no
//!   progress yet it starts [`FIRST_RUN_HOURS`] back.
//! - A writer that adds to an hour after it may already have been read
//!   leaves a late marker (`loglake_aws::dynamo`); the hour is rebuilt from
//!   all its items and the marker cleared only if it still holds the time
//!   this run saw, so a marker refreshed meanwhile is handled next run.
//! - The file of an hour is a function of its window items only: the same
//!   contributions give the same bytes, whichever run or retry writes it.
//! - The summary never holds up the alerts: [`Scheduled::run`] evaluates
//!   and publishes first, then writes the summary; a summary failure is
//!   logged and fails the invocation afterwards.

use std::sync::Arc;

use loglake_core::summary::{self, floor_hour};
use loglake_core::time::{MINUTE_MS, format_rfc3339_ms};
use tracing::{Instrument, error, info, info_span};

use super::AlertError;
use super::LiveRules;
use super::evaluate::{Evaluator, Report};
use crate::effects::{SummaryStore, WindowStore};

/// One hour, in ms.
pub const HOUR_MS: i64 = 3_600_000;
/// Hours written per run at most (catching up happens over later runs).
pub const MAX_HOURS_PER_RUN: usize = 3;
/// Closed hours the first run (no progress yet) writes.
pub const FIRST_RUN_HOURS: i64 = 3;

/// What the materialiser reads and writes.
#[derive(Clone)]
pub struct Summarizer {
    pub windows: Arc<dyn WindowStore>,
    pub store: Arc<dyn SummaryStore>,
    /// The rules in force: an hour is closed `evaluation_delay_minutes`
    /// after its end.
    pub rules: LiveRules,
}

impl std::fmt::Debug for Summarizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summarizer")
            .field("delay_ms", &self.delay_ms())
            .finish()
    }
}

/// What one run of the materialiser did; hours as RFC 3339.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct SummaryReport {
    /// Hours whose file this run wrote, in order (late ones included).
    pub written: Vec<String>,
    /// Hours done with no rows: no file.
    pub empty: Vec<String>,
    /// Hours rebuilt for a late marker.
    pub late: Vec<String>,
    /// The last hour done, after this run.
    pub progress: Option<String>,
}

impl Summarizer {
    /// The materialiser over `windows` and `store`, with `rules`' delay.
    pub fn new(
        windows: Arc<dyn WindowStore>,
        store: Arc<dyn SummaryStore>,
        rules: LiveRules,
    ) -> Summarizer {
        Summarizer {
            windows,
            store,
            rules,
        }
    }

    /// The rules' evaluation delay, in ms.
    pub fn delay_ms(&self) -> i64 {
        i64::from(self.rules.get().settings.evaluation_delay_minutes) * MINUTE_MS
    }

    /// The last closed hour at `now_ms`: the last whose end plus the delay
    /// has passed.
    pub fn closed_hour(&self, now_ms: i64) -> i64 {
        floor_hour(now_ms - self.delay_ms()) - HOUR_MS
    }

    /// Write the closed hours not written yet (a few per run), then rebuild
    /// the hours with a late marker that are done.
    pub async fn run(&self, now_ms: i64) -> Result<SummaryReport, AlertError> {
        let closed = self.closed_hour(now_ms);
        let mut done = self.windows.summary_progress().await?;
        let first = match done {
            Some(p) => floor_hour(p) + HOUR_MS,
            None => closed - (FIRST_RUN_HOURS - 1) * HOUR_MS,
        };
        let mut report = SummaryReport::default();
        let mut hour = first;
        for _ in 0..MAX_HOURS_PER_RUN {
            if hour > closed {
                break;
            }
            self.write_hour(hour, &mut report).await?;
            self.windows.set_summary_progress(hour).await?;
            done = Some(hour);
            hour += HOUR_MS;
        }
        if let Some(done) = done {
            let mut late = self.windows.late_hours().await?;
            late.sort_unstable();
            // An hour not done yet keeps its marker: it is written in full
            // when its turn comes, and the marker is cleared after.
            for (hour, at) in late.into_iter().filter(|(h, _)| *h <= done) {
                self.write_hour(hour, &mut report).await?;
                self.windows.clear_late(hour, at).await?;
                report.late.push(format_rfc3339_ms(hour));
            }
        }
        report.progress = done.map(format_rfc3339_ms);
        info!(
            written = report.written.len(),
            empty = report.empty.len(),
            late = report.late.len(),
            progress = report.progress.as_deref().unwrap_or("none"),
            "summary written"
        );
        Ok(report)
    }

    /// Sum the hour's 60 minutes and write its file (none when it has no
    /// rows).
    async fn write_hour(&self, hour_ms: i64, report: &mut SummaryReport) -> Result<(), AlertError> {
        let minutes: Vec<i64> = (0..60).map(|m| hour_ms + m * MINUTE_MS).collect();
        let sums = self.windows.load(&minutes).await?;
        let rows = summary::rows(&sums);
        if rows.is_empty() {
            report.empty.push(format_rfc3339_ms(hour_ms));
            return Ok(());
        }
        let key = summary::hour_key(hour_ms);
        let body = summary::parquet_bytes(&rows).map_err(|e| AlertError::Summary {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.store.put(&key, body).await?;
        report.written.push(format_rfc3339_ms(hour_ms));
        Ok(())
    }
}

/// One scheduled invocation of fn-alerts: the evaluation, then the summary
/// (when configured).
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub evaluator: Evaluator,
    pub summary: Option<Summarizer>,
}

/// What an invocation did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Outcome {
    /// Absent when the evaluation failed; its fields are the response's
    /// own (`fired`, `resolved`, ...), as before the summary existed.
    #[serde(flatten)]
    pub alerts: Option<Report>,
    /// Absent when there is no summary, or it failed.
    pub summary: Option<SummaryReport>,
}

impl Outcome {
    /// The run's counts as an EMF line (namespace `loglake`, dimension
    /// `function`): rules evaluated and breaching, alerts fired, resolved
    /// and announced late, notifications that failed, summary hours
    /// written (late ones included).
    pub fn emf(&self, function: &str, now_ms: i64) -> String {
        let a = self.alerts.as_ref();
        let n = |v: Option<usize>| v.unwrap_or(0) as u64;
        loglake_core::metrics::emf_counts(
            function,
            &[
                ("RulesEvaluated", n(a.map(|a| a.evaluated))),
                ("RulesBreaching", n(a.map(|a| a.breaching))),
                ("AlertsFired", n(a.map(|a| a.fired.len()))),
                ("AlertsResolved", n(a.map(|a| a.resolved.len()))),
                ("AlertsAnnouncedLate", n(a.map(|a| a.announced_late.len()))),
                ("NotificationsFailed", n(a.map(|a| a.failed.len()))),
                (
                    "SummaryHoursWritten",
                    n(self.summary.as_ref().map(|s| s.written.len())),
                ),
            ],
            now_ms,
        )
    }
}

/// An invocation that must fail (so the errors alarm sees it), with what
/// it did all the same.
#[derive(Debug, thiserror::Error)]
#[error("{}", .reasons.join("; "))]
pub struct Failed {
    pub outcome: Outcome,
    pub reasons: Vec<String>,
}

impl Scheduled {
    /// Evaluate and publish, then write the summary: a summary failure
    /// never keeps an alert from going out, and an evaluation failure does
    /// not stop the summary. Either fails the invocation, after both ran.
    pub async fn run(&self, now_ms: i64) -> Result<Outcome, Failed> {
        let mut reasons = Vec::new();
        let mut outcome = Outcome::default();
        // Rules kept in S3 are read now when they are due (the summary
        // shares them); without any rules there is nothing to evaluate.
        if let Err(e) = self.evaluator.rules.refresh().await {
            error!(error = %e, "no alert rules");
            return Err(Failed {
                outcome,
                reasons: vec![e],
            });
        }
        let evaluating = self.evaluator.evaluate(now_ms);
        match evaluating.instrument(info_span!("evaluate")).await {
            // The rest went out; a failed notification fails the
            // invocation (its change was undone, and the retry or the next
            // run makes and announces it again).
            Ok(report) => {
                if !report.failed.is_empty() {
                    reasons.push(format!(
                        "notifications not sent: {}",
                        report.failed.join(", ")
                    ));
                }
                outcome.alerts = Some(report);
            }
            Err(e) => {
                error!(error = %e, "alerts not evaluated");
                reasons.push(format!("alerts: {e}"));
            }
        }
        if let Some(s) = &self.summary {
            match s.run(now_ms).instrument(info_span!("summary")).await {
                Ok(r) => outcome.summary = Some(r),
                Err(e) => {
                    error!(error = %e, "summary not written; the next run tries again");
                    reasons.push(format!("summary: {e}"));
                }
            }
        }
        if reasons.is_empty() {
            Ok(outcome)
        } else {
            Err(Failed { outcome, reasons })
        }
    }
}
