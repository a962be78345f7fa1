//! fn-alerts: the scheduled evaluator. Each minute it sums the window
//! contributions the ingest function wrote for the minutes the rules need,
//! evaluates every window rule, and publishes each state change (ok ->
//! firing, firing -> resolved) once: the change is a conditional write, and
//! only the run that made it publishes, so two evaluators at once, or a
//! retried one, never send a duplicate.

use std::collections::HashSet;
use std::sync::Arc;

use loglake_aws::alerts::{AlertConfig, AlertError, AlertStore};
use loglake_core::alerts::{
    Evaluation, GroupKey, Rules, Transition, evaluate, minutes_needed, notify,
};
use tracing::{info, warn};

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ALERT_RULES`: the rules (alerts.toml), inline.
    pub rules: Arc<Rules>,
    /// `ALERT_WINDOWS_TABLE`: the window contributions fn-ingest writes.
    pub windows_table: String,
    /// `ALERT_STATE_TABLE`: alert state per (rule, group).
    pub state_table: String,
    /// `ALERT_TOPIC_ARN`: where notifications go.
    pub topic_arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid environment variable {0}: {1}")]
    Invalid(&'static str, String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let need = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let rules = Rules::parse(&need("ALERT_RULES")?)
            .map_err(|e| ConfigError::Invalid("ALERT_RULES", e.to_string()))?;
        Ok(Config {
            rules: Arc::new(rules),
            windows_table: need("ALERT_WINDOWS_TABLE")?,
            state_table: need("ALERT_STATE_TABLE")?,
            topic_arn: need("ALERT_TOPIC_ARN")?,
        })
    }
}

/// The clients, built once.
#[derive(Debug, Clone)]
pub struct App {
    pub store: AlertStore,
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

impl App {
    pub fn new(aws: &aws_config::SdkConfig, c: Config) -> App {
        let cfg = AlertConfig {
            rules: c.rules,
            windows_table: Some(c.windows_table),
            state_table: c.state_table,
            topic_arn: c.topic_arn,
        };
        App {
            store: AlertStore::new(aws, cfg),
        }
    }

    /// Evaluate the windows ending `evaluation_delay_minutes` before
    /// `now_ms` (late files still arrive) and publish what changed.
    pub async fn evaluate(&self, now_ms: i64) -> Result<Report, AlertError> {
        let rules = self.store.cfg.rules.clone();
        let delay = i64::from(rules.settings.evaluation_delay_minutes) * 60_000;
        let end = now_ms.div_euclid(60_000) * 60_000 - delay;
        let sums = self.store.load(&minutes_needed(&rules, end)).await?;
        let evals = evaluate(&rules, &sums, end);
        let mut report = Report {
            window_end: loglake_core::time::format_rfc3339_ms(end),
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
        for (name, group) in self.store.firing().await? {
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
        let Some(rule) = self.store.cfg.rules.get(&e.rule) else {
            return Ok(());
        };
        if !self.store.transition(rule, &e.group, &t, now_ms).await? {
            return Ok(());
        }
        let firing = matches!(t, Transition::Firing);
        let n = notify(rule, e, t, &self.store.cfg.rules.settings);
        if let Err(err) = self.store.publish(&n).await {
            warn!(rule = rule.name, error = %err, "notification not sent; the transition is undone for the next run");
            self.store.undo(rule, &e.group, &t, now_ms).await?;
            return Err(err);
        }
        let label = format!("{} {}={}", rule.name, e.group.field, e.group.value);
        if firing {
            report.fired.push(label);
        } else {
            report.resolved.push(label);
        }
        Ok(())
    }
}
