//! fn-alerts: the scheduled evaluator. This crate reads the settings and
//! builds the AWS clients once; each minute's evaluation is
//! [`loglake_handlers::alerts::evaluate`], followed by the hourly summary
//! ([`loglake_handlers::alerts::summary`]) when `SUMMARY_BUCKET` is set.

use std::sync::Arc;

use loglake_handlers::alerts::AlertConfig;
use loglake_handlers::alerts::evaluate::Evaluator;
use loglake_handlers::alerts::summary::{Scheduled, Summarizer};
use loglake_handlers::config::{ConfigError, Vars};

/// Settings, read once from the environment at start-up: the rules
/// (`ALERT_RULES` inline or `ALERT_RULES_FILE`), `ALERT_WINDOWS_TABLE`,
/// `ALERT_STATE_TABLE` and `ALERT_TOPIC_ARN`, all required here, and
/// `SUMMARY_BUCKET` (the curated bucket), optional.
#[derive(Debug, Clone)]
pub struct Config {
    pub alerts: AlertConfig,
    /// Where the hourly summary files go; none without it.
    pub summary_bucket: Option<String>,
}

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
        let summary_bucket = vars.parse_with("SUMMARY_BUCKET", |b| {
            let ok = (3..=63).contains(&b.len())
                && b.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.'
                });
            if ok {
                Ok(b.to_string())
            } else {
                Err("is not an S3 bucket name (3 to 63 of a-z, 0-9, '-', '.')".into())
            }
        })?;
        Ok(Config {
            alerts: c,
            summary_bucket,
        })
    }
}

/// The evaluator and the summary: clients built once from the shared AWS
/// configuration.
pub fn app(aws: &aws_config::SdkConfig, config: Config) -> Result<Scheduled, ConfigError> {
    let sink = loglake_aws::alert_sink(aws, config.alerts);
    let windows = sink
        .windows
        .ok_or_else(|| ConfigError::missing("ALERT_WINDOWS_TABLE", "is required and not set"))?;
    let summary = match config.summary_bucket {
        Some(bucket) => {
            tracing::info!(bucket, "hourly summary on");
            let store = loglake_aws::summary::S3Summary {
                client: loglake_aws::s3_client(aws),
                bucket,
            };
            Some(Summarizer::new(
                windows.clone(),
                Arc::new(store),
                sink.rules.clone(),
            ))
        }
        None => {
            tracing::info!("SUMMARY_BUCKET is not set: no hourly summary");
            None
        }
    };
    Ok(Scheduled {
        evaluator: Evaluator {
            rules: sink.rules,
            windows,
            state: sink.state,
            publisher: sink.publisher,
        },
        summary,
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use loglake_handlers::alerts::RulesSpec;

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

    fn loaded(c: &Config) -> &loglake_core::sinks::alerts::Rules {
        match &c.alerts.rules {
            RulesSpec::Loaded(rules) => rules,
            RulesSpec::Object(o) => panic!("rules from {}", o.uri()),
        }
    }

    #[test]
    fn rules_come_inline_from_a_file_or_from_s3_and_every_table_is_required() {
        let inline = config(&[[("ALERT_RULES", RULES)].as_slice(), &TABLES].concat()).unwrap();
        assert_eq!(loaded(&inline).rules.len(), 1);
        assert_eq!(inline.summary_bucket, None);

        let path = std::env::temp_dir().join(format!("fn-alerts-{}.toml", std::process::id()));
        std::fs::write(&path, RULES).unwrap();
        let p = path.to_str().unwrap();
        let file = config(&[[("ALERT_RULES_FILE", p)].as_slice(), &TABLES].concat()).unwrap();
        assert_eq!(loaded(&file).rules[0].name, "any-fatal");

        let uri = "s3://acme-curated/_config/alerts.toml";
        let object = config(&[[("ALERT_RULES_URI", uri)].as_slice(), &TABLES].concat()).unwrap();
        match &object.alerts.rules {
            RulesSpec::Object(o) => {
                assert_eq!((o.uri().as_str(), o.refresh.as_secs()), (uri, 60));
            }
            RulesSpec::Loaded(_) => panic!("read at start"),
        }
        let every = [("ALERT_RULES_URI", uri), ("ALERT_RULES_REFRESH_S", "5")];
        let c = config(&[every.as_slice(), &TABLES].concat()).unwrap();
        assert!(matches!(&c.alerts.rules, RulesSpec::Object(o) if o.refresh.as_secs() == 5));
        let bad = [("ALERT_RULES_URI", "acme-curated/alerts.toml")];
        let err = config(&[bad.as_slice(), &TABLES].concat()).unwrap_err();
        assert!(err.to_string().contains("ALERT_RULES_URI"), "{err}");

        let both = [("ALERT_RULES", RULES), ("ALERT_RULES_FILE", p)];
        let err = config(&[both.as_slice(), &TABLES].concat()).unwrap_err();
        assert!(
            err.to_string()
                .contains("not ALERT_RULES and ALERT_RULES_FILE"),
            "{err}"
        );
        let both = [("ALERT_RULES_FILE", p), ("ALERT_RULES_URI", uri)];
        let err = config(&[both.as_slice(), &TABLES].concat()).unwrap_err();
        assert!(
            err.to_string()
                .contains("not ALERT_RULES_FILE and ALERT_RULES_URI"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();

        let err = config(&TABLES).unwrap_err();
        assert!(err.to_string().contains("ALERT_RULES"), "{err}");
        let err = config(&[("ALERT_RULES", RULES), TABLES[1], TABLES[2]]).unwrap_err();
        assert!(err.to_string().contains("ALERT_WINDOWS_TABLE"), "{err}");
        let err = config(&[("ALERT_RULES", RULES), TABLES[0], TABLES[2]]).unwrap_err();
        assert!(err.to_string().contains("ALERT_STATE_TABLE"), "{err}");
    }

    #[test]
    fn the_summary_bucket_is_optional_and_must_be_a_bucket_name() {
        let with = |b: &str| {
            config(
                &[
                    [("ALERT_RULES", RULES), ("SUMMARY_BUCKET", b)].as_slice(),
                    &TABLES,
                ]
                .concat(),
            )
        };
        let c = with("acme-curated").unwrap();
        assert_eq!(c.summary_bucket.as_deref(), Some("acme-curated"));
        let err = with("s3://acme-curated/").unwrap_err();
        assert!(err.to_string().contains("SUMMARY_BUCKET"), "{err}");
        assert_eq!(with(" ").unwrap().summary_bucket, None);
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
