//! The search sink: its settings, the indexer that sends bulk bodies through
//! the [`BulkSend`](crate::effects::BulkSend) effect ([`index`]), and the
//! session that runs one source's or batch's indexing from the first row to
//! its dead letters ([`session`]), the same in fn-ingest, fn-stream and the
//! CLI.

pub mod index;
pub mod session;

use std::time::Duration;

use loglake_core::record::Level;
use loglake_core::sinks::search::SearchOptions;

use crate::config::{ConfigError, Vars};
pub use crate::effects::{Reply, SearchError};
pub use index::{IndexOptions, IndexReport, MAX_DEAD_LETTERS, index_all, index_bulk};
pub use session::{Indexed, SearchSink, Session};

/// The search sink's settings, shared by the functions (from the
/// environment) and the CLI (from flags).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    /// `SEARCH_ENDPOINT`: `https://...` of the domain or collection.
    pub endpoint: String,
    /// `SEARCH_AUTH`: `sigv4` (default), `basic` (`SEARCH_USERNAME`,
    /// `SEARCH_PASSWORD`) or `none`.
    pub auth: AuthKind,
    /// `SEARCH_SERVICE`: the SigV4 service, `es` or `aoss` (default: `aoss`
    /// for `*.aoss.amazonaws.com` endpoints, else `es`).
    pub service: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `SEARCH_INDEX_PREFIX` (default `logs-`), `SEARCH_DATA_STREAM`,
    /// `SEARCH_MIN_LEVEL`, `SEARCH_MAX_REQUEST_BYTES` (default 5 MiB).
    pub options: SearchOptions,
    /// `SEARCH_CONCURRENCY` (default 2): bulk requests in flight.
    pub concurrency: usize,
    /// `SEARCH_DLQ_PREFIX` (default `search-dlq`): refused documents, in the
    /// curated bucket (or the local lake).
    pub dead_letter_prefix: String,
    /// `SEARCH_TIMEOUT_SECS` (default 30): one request's limit.
    pub timeout: Duration,
    /// `SEARCH_MAX_ATTEMPTS` (default 8): tries per document or request.
    pub max_attempts: u32,
    /// `SEARCH_MAX_WAIT_SECS` (default 10): how long, in all, parsing may
    /// wait for a cluster that does not keep up; after that the source's
    /// documents become dead letters (`not_indexed`) and the lake goes on.
    pub max_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    SigV4,
    Basic,
    None,
}

impl SearchConfig {
    /// The settings in `vars`; `None` when `SEARCH_ENDPOINT` is unset or
    /// empty (search off).
    pub fn from_vars(vars: Vars<'_>) -> Result<Option<SearchConfig>, ConfigError> {
        let Some(endpoint) = vars.get("SEARCH_ENDPOINT") else {
            return Ok(None);
        };
        let auth = vars
            .parse_with("SEARCH_AUTH", |v| match v {
                "sigv4" => Ok(AuthKind::SigV4),
                "basic" => Ok(AuthKind::Basic),
                "none" => Ok(AuthKind::None),
                _ => Err("is not sigv4, basic or none".into()),
            })?
            .unwrap_or(AuthKind::SigV4);
        let service = vars
            .parse_with("SEARCH_SERVICE", |v| match v {
                "es" | "aoss" => Ok(v.to_string()),
                _ => Err("is not es or aoss".into()),
            })?
            .unwrap_or_else(|| {
                if endpoint.contains(".aoss.") {
                    "aoss".into()
                } else {
                    "es".into()
                }
            });
        if auth != AuthKind::None && !encrypted_or_local(&endpoint) {
            return Err(ConfigError::invalid(
                "SEARCH_ENDPOINT",
                &endpoint,
                "is plain http with credentials (SEARCH_AUTH=basic or sigv4): the password, or \
                 signed requests and the session token, would cross the network unencrypted; \
                 use https:// (http:// is accepted for loopback hosts only)",
            ));
        }
        let (user, password) = (vars.get("SEARCH_USERNAME"), vars.get("SEARCH_PASSWORD"));
        if auth == AuthKind::Basic {
            for (name, v) in [("SEARCH_USERNAME", &user), ("SEARCH_PASSWORD", &password)] {
                if v.is_none() {
                    return Err(ConfigError::missing(name, "SEARCH_AUTH=basic needs it"));
                }
            }
        }
        let mut options = SearchOptions {
            data_stream: vars.get("SEARCH_DATA_STREAM"),
            max_request_bytes: vars.number(
                "SEARCH_MAX_REQUEST_BYTES",
                5 << 20,
                1 << 10..=100 << 20,
            )?,
            ..Default::default()
        };
        if let Some(p) = vars.get("SEARCH_INDEX_PREFIX") {
            options.index_prefix = p;
        }
        options.min_level = vars.parse_with("SEARCH_MIN_LEVEL", |l| {
            Level::parse(l)
                .ok_or_else(|| "is not a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)".into())
        })?;
        if let Err(reason) = options.validate() {
            let (variable, value) = if reason.starts_with("max request") {
                (
                    "SEARCH_MAX_REQUEST_BYTES",
                    options.max_request_bytes.to_string(),
                )
            } else if let Some(ds) = &options.data_stream {
                ("SEARCH_DATA_STREAM", ds.clone())
            } else {
                ("SEARCH_INDEX_PREFIX", options.index_prefix.clone())
            };
            return Err(ConfigError::invalid(variable, &value, reason));
        }
        Ok(Some(SearchConfig {
            endpoint,
            auth,
            service,
            user,
            password,
            options,
            concurrency: vars.number("SEARCH_CONCURRENCY", 2, 1..=64)?,
            dead_letter_prefix: vars
                .get("SEARCH_DLQ_PREFIX")
                .unwrap_or_else(|| "search-dlq".into()),
            timeout: Duration::from_secs(vars.number("SEARCH_TIMEOUT_SECS", 30, 1..=900)?),
            max_attempts: vars.number("SEARCH_MAX_ATTEMPTS", 8u32, 1..=100)?,
            max_wait: Duration::from_secs(vars.number("SEARCH_MAX_WAIT_SECS", 10, 0..=900)?),
        }))
    }

    pub fn index_options(&self) -> IndexOptions {
        IndexOptions {
            concurrency: self.concurrency,
            max_attempts: self.max_attempts,
            ..IndexOptions::default()
        }
    }
}

/// Whether requests to `endpoint` are encrypted (`https://`), or stay on
/// this machine (`http://` to `localhost` or a loopback address).
fn encrypted_or_local(endpoint: &str) -> bool {
    let lower = endpoint.trim().to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://") else {
        return true;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
