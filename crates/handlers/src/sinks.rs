//! The sinks a function feeds besides its own output, read from the same
//! settings in every function: the search index (`SEARCH_*`) and the
//! alerts (`ALERT_*`), each off when its main variable is unset.

use crate::alerts::{AlertConfig, AlertSink};
use crate::config::{ConfigError, Vars};
use crate::search::{SearchConfig, SearchSink};

/// The settings of a function's sinks.
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    /// `SEARCH_ENDPOINT` and the other `SEARCH_*` settings: index every row
    /// into OpenSearch as well (off when unset).
    pub search: Option<SearchConfig>,
    /// `ALERT_RULES` (or `ALERT_RULES_FILE`), `ALERT_WINDOWS_TABLE`,
    /// `ALERT_STATE_TABLE`, `ALERT_TOPIC_ARN`: window contributions for
    /// fn-alerts and instant alerts (off when no rules are set).
    pub alerts: Option<AlertConfig>,
}

impl SinkConfig {
    pub fn from_vars(vars: Vars<'_>) -> Result<SinkConfig, ConfigError> {
        Ok(SinkConfig {
            search: SearchConfig::from_vars(vars)?,
            alerts: AlertConfig::from_vars(vars)?,
        })
    }
}

/// A function's sinks, built.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    pub search: Option<SearchSink>,
    pub alerts: Option<AlertSink>,
}
