//! fn-alerts: the scheduled evaluator. This crate reads the settings and
//! builds the AWS clients once; each minute's evaluation is
//! [`loglake_handlers::alerts::evaluate`].

use loglake_handlers::alerts::AlertConfig;
use loglake_handlers::alerts::evaluate::Evaluator;
use loglake_handlers::config::{ConfigError, Vars};

/// Settings, read once from the environment at start-up: the rules
/// (`ALERT_RULES` inline or `ALERT_RULES_FILE`), `ALERT_WINDOWS_TABLE`,
/// `ALERT_STATE_TABLE` and `ALERT_TOPIC_ARN`, all required here.
#[derive(Debug, Clone)]
pub struct Config(pub AlertConfig);

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(Vars::new(&loglake_handlers::config::env))
    }

    /// fn-alerts has nothing to do without rules and the windows table.
    pub fn from_vars(vars: Vars<'_>) -> Result<Config, ConfigError> {
        let c = AlertConfig::from_vars(vars)?.ok_or_else(|| {
            ConfigError::missing("ALERT_RULES", "is required (or ALERT_RULES_FILE)")
        })?;
        if c.windows_table.is_none() {
            return Err(ConfigError::missing(
                "ALERT_WINDOWS_TABLE",
                "is required and not set",
            ));
        }
        Ok(Config(c))
    }
}

/// The evaluator: clients built once from the shared AWS configuration.
pub fn app(aws: &aws_config::SdkConfig, config: Config) -> Result<Evaluator, ConfigError> {
    let sink = loglake_aws::alert_sink(aws, config.0);
    let windows = sink
        .windows
        .ok_or_else(|| ConfigError::missing("ALERT_WINDOWS_TABLE", "is required and not set"))?;
    Ok(Evaluator {
        rules: sink.rules,
        windows,
        state: sink.state,
        publisher: sink.publisher,
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    const RULES: &str = r#"
[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
"#;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(Vars::new(&loglake_testkit::vars(vars)))
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
