//! fn-canary: CodeDeploy's `BeforeAllowTraffic` hook for fn-ingest. This
//! crate reads the settings and builds the AWS clients once; the check is
//! [`loglake_handlers::canary`].

use std::sync::Arc;

use loglake_aws::S3Store;
use loglake_aws::canary::{CodeDeployHooks, LambdaInvoker};
use loglake_handlers::canary::Canary;
use loglake_handlers::config::{ConfigError, Vars};
use tokio::runtime::Handle;

/// Settings, read once at start-up: `CANARY_BUCKET` (the raw bucket, where
/// the canary object is put), `CANARY_PREFIX` (default `_canary/`, as
/// fn-ingest's), `CURATED_BUCKET` and `CURATED_PREFIX` (where fn-ingest
/// writes the canary's manifest, as fn-ingest's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub canary_bucket: String,
    pub canary_prefix: String,
    pub curated_bucket: String,
    pub curated_prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(Vars::new(&loglake_handlers::config::env))
    }

    pub fn from_vars(vars: Vars<'_>) -> Result<Config, ConfigError> {
        let canary_prefix = vars
            .parse_with("CANARY_PREFIX", loglake_handlers::config::canary_prefix)?
            .unwrap_or_else(|| loglake_handlers::canary::DEFAULT_PREFIX.to_string());
        Ok(Config {
            canary_bucket: vars.require("CANARY_BUCKET")?,
            canary_prefix,
            curated_bucket: vars.require("CURATED_BUCKET")?,
            curated_prefix: vars.get("CURATED_PREFIX").unwrap_or_default(),
        })
    }
}

/// The hook: clients built once from the shared AWS configuration. Call
/// within the runtime (the S3 stores block on it from blocking threads).
pub fn app(aws: &aws_config::SdkConfig, config: Config) -> Canary {
    let s3 = loglake_aws::s3_client(aws);
    Canary {
        deployments: Arc::new(CodeDeployHooks::new(aws)),
        invoker: Arc::new(LambdaInvoker::new(aws)),
        bucket: config.canary_bucket.clone(),
        objects: Arc::new(S3Store::new(
            s3.clone(),
            config.canary_bucket,
            config.canary_prefix.clone(),
            Handle::current(),
        )),
        lake: Arc::new(S3Store::new(
            s3,
            config.curated_bucket,
            config.curated_prefix,
            Handle::current(),
        )),
        prefix: config.canary_prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(Vars::new(&loglake_testkit::vars(pairs)))
    }

    #[test]
    fn settings() {
        let c = config(&[("CANARY_BUCKET", "raw"), ("CURATED_BUCKET", "lake")]).unwrap();
        assert_eq!(c.canary_prefix, "_canary/");
        assert_eq!(c.curated_prefix, "");
        assert_eq!(
            config(&[("CURATED_BUCKET", "lake")]).unwrap_err().variable,
            "CANARY_BUCKET"
        );
        let e = config(&[
            ("CANARY_BUCKET", "raw"),
            ("CURATED_BUCKET", "lake"),
            ("CANARY_PREFIX", "canary"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "CANARY_PREFIX");
    }
}
