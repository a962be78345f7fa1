//! Arguments several subcommands share, as closed sets clap knows (so
//! `--help` lists the values, a typo gets a suggestion, and the shell can
//! complete them): the PII to mask, and the search settings' kinds.

use loglake_core::redact::RedactOptions;

/// One kind of PII to mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Redact {
    Cards,
    Emails,
    Secrets,
    Ips,
    /// Every kind
    All,
    /// Nothing (not with other kinds)
    None,
}

impl Redact {
    fn word(self) -> &'static str {
        match self {
            Redact::Cards => "cards",
            Redact::Emails => "emails",
            Redact::Secrets => "secrets",
            Redact::Ips => "ips",
            Redact::All => "all",
            Redact::None => "none",
        }
    }
}

/// `--redact`, comma-separated.
#[derive(Debug, Clone, clap::Args)]
pub struct RedactArg {
    /// PII to mask before anything is written or sent
    #[arg(
        long = "redact",
        value_enum,
        value_delimiter = ',',
        default_value = "cards,emails,secrets",
        value_name = "KIND,..."
    )]
    kinds: Vec<Redact>,
}

impl RedactArg {
    /// The options core applies (`none` with another kind is refused).
    pub fn options(&self) -> anyhow::Result<RedactOptions> {
        let spec: Vec<&str> = self.kinds.iter().map(|k| k.word()).collect();
        RedactOptions::parse(&spec.join(",")).map_err(|e| anyhow::anyhow!("--redact: {e}"))
    }
}

/// How to authenticate to the search cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchAuth {
    /// AWS SigV4 (Amazon OpenSearch Service or Serverless)
    Sigv4,
    /// HTTP basic auth (SEARCH_USERNAME, SEARCH_PASSWORD)
    Basic,
    /// No authentication (a local cluster)
    None,
}

impl SearchAuth {
    pub fn word(self) -> &'static str {
        match self {
            SearchAuth::Sigv4 => "sigv4",
            SearchAuth::Basic => "basic",
            SearchAuth::None => "none",
        }
    }
}

/// The SigV4 service of the search endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchService {
    /// Amazon OpenSearch Service (a domain)
    Es,
    /// Amazon OpenSearch Serverless (a collection)
    Aoss,
}

impl SearchService {
    pub fn word(self) -> &'static str {
        match self {
            SearchService::Es => "es",
            SearchService::Aoss => "aoss",
        }
    }
}

/// A log level, for thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelArg {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LevelArg {
    pub fn word(self) -> &'static str {
        match self {
            LevelArg::Trace => "TRACE",
            LevelArg::Debug => "DEBUG",
            LevelArg::Info => "INFO",
            LevelArg::Warn => "WARN",
            LevelArg::Error => "ERROR",
            LevelArg::Fatal => "FATAL",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        redact: RedactArg,
    }

    #[test]
    fn redact_kinds_are_a_closed_comma_list() {
        let opts = |args: &[&str]| {
            Cli::try_parse_from([&["x"], args].concat()).map(|c| c.redact.options())
        };
        assert_eq!(opts(&[]).unwrap().unwrap(), RedactOptions::default());
        let o = opts(&["--redact", "cards,ips"]).unwrap().unwrap();
        assert!(o.cards && o.ips && !o.emails);
        assert!(opts(&["--redact", "none"]).unwrap().unwrap().is_off());
        assert!(opts(&["--redact", "none,cards"]).unwrap().is_err());
        let e = opts(&["--redact", "card"]).unwrap_err().to_string();
        assert!(
            e.contains("cards"),
            "a typo is answered with the values: {e}"
        );
    }
}
