//! The scheduled evaluation (fn-alerts): each minute, sum the window
//! contributions for the minutes the rules need, evaluate every window
//! rule, and publish each state change (ok -> firing, firing -> resolved)
//! once: the change is a conditional write, and only the run that made it
//! publishes, so two evaluators at once, or a retried one, never send a
//! duplicate.

use std::collections::HashSet;
use std::sync::Arc;

use loglake_core::sinks::alerts::{
    Evaluation, GroupKey, Rules, Transition, evaluate, minutes_needed, notify,
};
use loglake_core::time::{MINUTE_MS, floor_minute, format_rfc3339_ms};
use tracing::{info, warn};

use super::AlertError;
use crate::effects::{Publisher, StateStore, WindowStore};

/// What the evaluator reads and writes.
#[derive(Clone)]
pub struct Evaluator {
    pub rules: Arc<Rules>,
    pub windows: Arc<dyn WindowStore>,
    pub state: Arc<dyn StateStore>,
    pub publisher: Arc<dyn Publisher>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("rules", &self.rules.rules.len())
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
}

impl Evaluator {
    /// Evaluate the windows ending `evaluation_delay_minutes` before
    /// `now_ms` (late files still arrive) and publish what changed.
    pub async fn evaluate(&self, now_ms: i64) -> Result<Report, AlertError> {
        let rules = &self.rules;
        let delay = i64::from(rules.settings.evaluation_delay_minutes) * MINUTE_MS;
        let end = floor_minute(now_ms) - delay;
        let sums = self.windows.load(&minutes_needed(rules, end)).await?;
        let evals = evaluate(rules, &sums, end);
        let mut report = Report {
            window_end: format_rfc3339_ms(end),
            evaluated: evals.len(),
            breaching: evals.iter().filter(|e| e.breaching).count(),
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
            "alerts evaluated"
        );
        Ok(report)
    }

    async fn apply(
        &self,
        e: &Evaluation,
        t: Transition,
        now_ms: i64,
        report: &mut Report,
    ) -> Result<(), AlertError> {
        let Some(rule) = self.rules.get(&e.rule) else {
            return Ok(());
        };
        if !self.state.transition(rule, &e.group, t, now_ms).await? {
            return Ok(());
        }
        let n = notify(rule, e, t, &self.rules.settings);
        if let Err(err) = self.publisher.publish(&n).await {
            warn!(rule = rule.name, error = %err, "notification not sent; the transition is undone for the next run");
            self.state.undo(rule, &e.group, t, now_ms).await?;
            return Err(err);
        }
        let label = format!("{} {}={}", rule.name, e.group.field, e.group.value);
        match t {
            Transition::Firing => report.fired.push(label),
            Transition::Resolved => report.resolved.push(label),
        }
        Ok(())
    }
}
