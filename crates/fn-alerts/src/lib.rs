//! fn-alerts: the scheduled evaluator. Each minute it sums the window
//! contributions the ingest function wrote for the minutes the rules need,
//! evaluates every window rule, and publishes each state change (ok ->
//! firing, firing -> resolved) once: the change is a conditional write, and
//! only the run that made it publishes, so two evaluators at once, or a
//! retried one, never send a duplicate.

use std::collections::HashSet;

use loglake_aws::alerts::{AlertConfig, AlertError, AlertStore};
use loglake_core::alerts::{
    Evaluation, GroupKey, Transition, evaluate, floor_minute, minutes_needed, notify,
};
use tracing::{info, warn};

/// Settings, read once from the environment at start-up: the rules
/// (`ALERT_RULES` inline or `ALERT_RULES_FILE`), `ALERT_WINDOWS_TABLE`,
/// `ALERT_STATE_TABLE` and `ALERT_TOPIC_ARN`, all required here.
#[derive(Debug, Clone)]
pub struct Config(pub AlertConfig);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid alert settings: {0}")]
    Invalid(String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::required(AlertConfig::from_env())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Self::required(AlertConfig::from_lookup(get))
    }

    /// fn-alerts has nothing to do without rules and the windows table.
    fn required(c: Result<Option<AlertConfig>, String>) -> Result<Config, ConfigError> {
        let c = c
            .map_err(ConfigError::Invalid)?
            .ok_or(ConfigError::Missing("ALERT_RULES (or ALERT_RULES_FILE)"))?;
        if c.windows_table.is_none() {
            return Err(ConfigError::Missing("ALERT_WINDOWS_TABLE"));
        }
        Ok(Config(c))
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
        App {
            store: AlertStore::new(aws, c.0),
        }
    }

    /// Evaluate the windows ending `evaluation_delay_minutes` before
    /// `now_ms` (late files still arrive) and publish what changed.
    pub async fn evaluate(&self, now_ms: i64) -> Result<Report, AlertError> {
        let rules = self.store.cfg.rules.clone();
        let delay = i64::from(rules.settings.evaluation_delay_minutes) * 60_000;
        let end = floor_minute(now_ms) - delay;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const RULES: &str = r#"
[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
"#;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    const TABLES: [(&str, &str); 3] = [
        ("ALERT_WINDOWS_TABLE", "w"),
        ("ALERT_STATE_TABLE", "s"),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
    ];

    #[test]
    fn rules_come_inline_or_from_a_file_and_every_table_is_required() {
        let inline = config(&[[("ALERT_RULES", RULES)].as_slice(), &TABLES].concat()).unwrap();
        assert_eq!(inline.0.rules.rules.len(), 1);

        let path = std::env::temp_dir().join(format!("fn-alerts-{}.toml", std::process::id()));
        std::fs::write(&path, RULES).unwrap();
        let p = path.to_str().unwrap();
        let file = config(&[[("ALERT_RULES_FILE", p)].as_slice(), &TABLES].concat()).unwrap();
        assert_eq!(file.0.rules.rules[0].name, "any-fatal");

        let both = [("ALERT_RULES", RULES), ("ALERT_RULES_FILE", p)];
        let err = config(&[both.as_slice(), &TABLES].concat()).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        std::fs::remove_file(&path).unwrap();

        let err = config(&TABLES).unwrap_err();
        assert!(err.to_string().contains("ALERT_RULES"), "{err}");
        let err = config(&[("ALERT_RULES", RULES), TABLES[1], TABLES[2]]).unwrap_err();
        assert!(err.to_string().contains("ALERT_WINDOWS_TABLE"), "{err}");
        let err = config(&[("ALERT_RULES", RULES), TABLES[0], TABLES[2]]).unwrap_err();
        assert!(err.to_string().contains("ALERT_STATE_TABLE"), "{err}");
    }

    #[test]
    fn a_rules_file_with_a_typo_is_refused_naming_the_rule_and_field() {
        let typo = "[[rule]]\nname = \"slow\"\nkind = \"latency\"\npercentile = 95\nms = 100\nwindow_minuts = 5\n";
        let err = config(&[[("ALERT_RULES", typo)].as_slice(), &TABLES].concat()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("slow") && msg.contains("window_minuts"),
            "{msg}"
        );

        let missing = std::env::temp_dir().join("fn-alerts-no-such-rules.toml");
        let err = config(
            &[
                [("ALERT_RULES_FILE", missing.to_str().unwrap())].as_slice(),
                &TABLES,
            ]
            .concat(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
