//! The scheduled evaluation (fn-alerts): each minute, sum the window
//! contributions for the minutes the rules need, evaluate every window
//! rule, and publish each state change (ok -> firing, firing -> resolved)
//! once: the change is a conditional write, and only the run that made it
//! publishes, so two evaluators at once, or a retried one, never send a
//! duplicate. A change stays pending until its notification is sent: the
//! next run announces what a run that stopped in between left unannounced
//! (the outbox). One notification that cannot be sent fails alone; the
//! others of the run go out.

use std::collections::HashSet;
use std::sync::Arc;

use loglake_core::sinks::alerts::{
    Evaluation, GroupKey, Transition, evaluate, minutes_needed, notify,
};
use loglake_core::time::{MINUTE_MS, floor_minute, format_rfc3339_ms};
use tracing::{info, warn};

use super::AlertError;
use super::LiveRules;
use crate::effects::{Publisher, StateStore, WindowStore};

/// What the evaluator reads and writes.
#[derive(Clone)]
pub struct Evaluator {
    pub rules: LiveRules,
    pub windows: Arc<dyn WindowStore>,
    pub state: Arc<dyn StateStore>,
    pub publisher: Arc<dyn Publisher>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("rules", &self.rules)
            .finish()
    }
}

/// What one evaluation did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    /// The end of the evaluated windows (exclusive), RFC 3339.
    pub window_end: String,
    pub evaluated: usize,
    pub breaching: usize,
    /// Notifications this run published: transitions it made.
    pub fired: Vec<String>,
    pub resolved: Vec<String>,
    /// Changes an earlier run made but did not announce, announced now.
    pub announced_late: Vec<String>,
    /// Notifications that could not be sent (their change is undone, so
    /// the next run makes and announces it again).
    pub failed: Vec<String>,
}

/// The moment a scheduled invocation stands for: the EventBridge event's
/// `time` (so a retried run evaluates the same windows as the first try,
/// and never counts as newer than the run after it), else `now_ms`.
pub fn scheduled_ms(event: &serde_json::Value, now_ms: i64) -> i64 {
    event
        .get("time")
        .and_then(serde_json::Value::as_str)
        .and_then(loglake_core::time::parse_timestamp)
        .filter(|t| (now_ms - 15 * MINUTE_MS..=now_ms + MINUTE_MS).contains(t))
        .unwrap_or(now_ms)
}

/// How long a change may stay unannounced before the next run announces
/// it: longer than one run takes.
pub const OUTBOX_GRACE_MS: i64 = 2 * MINUTE_MS;

impl Evaluator {
    /// Evaluate the windows ending `evaluation_delay_minutes` before
    /// `now_ms` (late files still arrive) and publish what changed.
    pub async fn evaluate(&self, now_ms: i64) -> Result<Report, AlertError> {
        let rules = &self.rules.get();
        let mut report_late = Vec::new();
        let delay = i64::from(rules.settings.evaluation_delay_minutes) * MINUTE_MS;
        let end = floor_minute(now_ms) - delay;
        self.announce_pending(now_ms, &mut report_late).await?;
        let sums = self.windows.load(&minutes_needed(rules, end)).await?;
        let evals = evaluate(rules, &sums, end);
        let mut report = Report {
            window_end: format_rfc3339_ms(end),
            evaluated: evals.len(),
            breaching: evals.iter().filter(|e| e.breaching).count(),
            announced_late: std::mem::take(&mut report_late),
            ..Report::default()
        };
        let mut seen: HashSet<(String, GroupKey)> = HashSet::new();
        for e in &evals {
            seen.insert((e.rule.clone(), e.group.clone()));
            let t = if e.breaching {
                Transition::Firing
            } else {
                Transition::Resolved
            };
            self.apply(e, t, now_ms, &mut report).await?;
        }
        // A group that sends nothing any more has no evaluation: what was
        // firing for it is over.
        for (name, group) in self.state.firing().await? {
            let Some(rule) = rules.get(&name) else {
                continue;
            };
            if seen.contains(&(name.clone(), group.clone())) {
                continue;
            }
            let quiet = Evaluation {
                rule: name,
                severity: rule.severity,
                group,
                breaching: false,
                observed: 0.0,
                threshold: 0.0,
                unit: "count",
                window_start_ms: end,
                window_end_ms: end,
                examples: Vec::new(),
                detail: "no records in the window".into(),
            };
            self.apply(&quiet, Transition::Resolved, now_ms, &mut report)
                .await?;
        }
        info!(
            window_end = report.window_end,
            evaluated = report.evaluated,
            breaching = report.breaching,
            fired = report.fired.len(),
            resolved = report.resolved.len(),
            announced_late = report.announced_late.len(),
            failed = report.failed.len(),
            "alerts evaluated"
        );
        Ok(report)
    }

    /// The outbox: announce the changes an earlier run made but never
    /// confirmed sent (it timed out or crashed between the two).
    async fn announce_pending(
        &self,
        now_ms: i64,
        late: &mut Vec<String>,
    ) -> Result<(), AlertError> {
        let rules = self.rules.get();
        for p in self.state.unannounced(now_ms - OUTBOX_GRACE_MS).await? {
            let Some(rule) = rules.get(&p.rule) else {
                continue;
            };
            let e = Evaluation {
                rule: p.rule.clone(),
                severity: rule.severity,
                group: p.group.clone(),
                breaching: p.to == Transition::Firing,
                observed: 0.0,
                threshold: 0.0,
                unit: "count",
                window_start_ms: p.at_ms,
                window_end_ms: p.at_ms,
                examples: Vec::new(),
                detail: format!(
                    "changed at {} by a run that stopped before announcing it",
                    format_rfc3339_ms(p.at_ms)
                ),
            };
            let n = notify(rule, &e, p.to, &rules.settings);
            match self.publisher.publish(&n).await {
                Ok(()) => {
                    self.state.confirm(rule, &p.group, p.at_ms).await?;
                    late.push(format!("{} {}={}", rule.name, p.group.field, p.group.value));
                }
                // Still pending: the next run tries again.
                Err(err) => warn!(rule = rule.name, error = %err, "late notification not sent"),
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        e: &Evaluation,
        t: Transition,
        now_ms: i64,
        report: &mut Report,
    ) -> Result<(), AlertError> {
        let rules = self.rules.get();
        let Some(rule) = rules.get(&e.rule) else {
            return Ok(());
        };
        if !self.state.transition(rule, &e.group, t, now_ms).await? {
            return Ok(());
        }
        let n = notify(rule, e, t, &rules.settings);
        let label = format!("{} {}={}", rule.name, e.group.field, e.group.value);
        if let Err(err) = self.publisher.publish(&n).await {
            // This alert only: the others of the run still go out.
            warn!(rule = rule.name, error = %err, "notification not sent; the transition is undone for the next run");
            self.state.undo(rule, &e.group, t, now_ms).await?;
            report.failed.push(label);
            return Ok(());
        }
        self.state.confirm(rule, &e.group, now_ms).await?;
        match t {
            Transition::Firing => report.fired.push(label),
            Transition::Resolved => report.resolved.push(label),
        }
        Ok(())
    }
}
