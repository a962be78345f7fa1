//! Alerts in the functions: the settings, the observer that watches a
//! source's rows (window contributions and instant matches), delivering
//! what it saw to the window and state stores, and the scheduled
//! evaluation ([`evaluate`]).
//!
//! - A source's window contributions are one item per (minute, source): a
//!   redelivered source overwrites its own items instead of adding to the
//!   sums, so the counts stay exact under at-least-once delivery.
//! - Instant alerts are claimed once per (rule, group, minute) with a
//!   conditional write, whoever sees the record first, and the claim is
//!   given back when the notification cannot be sent.

pub mod evaluate;
pub mod summary;

use std::collections::BTreeMap;
use std::sync::Arc;

use loglake_core::ingest::{Observer, Origin};
use loglake_core::metrics::{ServiceFigures, emf_services};
use loglake_core::record::{Level, Record, SourceFormat};
use loglake_core::sinks::alerts::{
    InstantKey, Notification, Rules, Stats, Windows, instant_key, notify_instant,
};
use loglake_core::summary::GROUP_FIELD;
use tracing::{info, warn};

use crate::config::{ConfigError, Vars};
pub use crate::effects::AlertError;
use crate::effects::{Publisher, StateStore, WindowStore};
use crate::live::{ConfigObject, Live, Spec};

/// The alert rules in force ([`Live`]); refresh them at the start of each
/// invocation.
pub type LiveRules = Live<Rules>;

/// The rules kept in an S3 object, read through `reader`, with the Glue
/// database Terraform created (`ALERT_ATHENA_DATABASE`) applied to each
/// version.
pub fn rules_object(
    object: ConfigObject,
    reader: Arc<dyn crate::effects::ConfigReader>,
    athena_database: Option<String>,
) -> LiveRules {
    Live::object("alert rules", object, reader, move |text| {
        let rules = Rules::parse(text).map_err(|e| e.to_string())?;
        Ok(in_database(rules, athena_database.as_deref()))
    })
}

/// `rules` naming the Glue database Terraform created
/// (`ALERT_ATHENA_DATABASE`) in their Athena query, when there is one: the
/// rules' own `athena_database` is a default.
fn in_database(mut rules: Rules, database: Option<&str>) -> Rules {
    if let Some(db) = database {
        rules.settings.athena_database = db.to_string();
    }
    rules
}

/// Where a function's rules come from: `ALERT_RULES` (the TOML of
/// `alerts.toml`, inline) or `ALERT_RULES_FILE` (a path to it), read once
/// at start; or `ALERT_RULES_URI` (`s3://bucket/key`, where Terraform
/// uploads `alerts.toml`), read on the first invocation, then again when it
/// changed, checked at most every `ALERT_RULES_REFRESH_S` (default 60).
pub type RulesSpec = Spec<Arc<Rules>>;

/// The alert settings of a function.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub rules: RulesSpec,
    /// `ALERT_ATHENA_DATABASE`: the Glue database Terraform created, for the
    /// Athena query in each notification (the rules' `athena_database` is
    /// a default).
    pub athena_database: Option<String>,
    /// `ALERT_WINDOWS_TABLE`: window contributions (the ingest functions
    /// write, fn-alerts reads).
    pub windows_table: Option<String>,
    /// `ALERT_STATE_TABLE`: alert state and instant-alert deduplication.
    pub state_table: String,
    /// `ALERT_TOPIC_ARN`: where notifications go.
    pub topic_arn: String,
}

impl AlertConfig {
    /// The settings in `vars`; `None` when none of `ALERT_RULES`,
    /// `ALERT_RULES_FILE` and `ALERT_RULES_URI` is set (alerts off).
    pub fn from_vars(vars: Vars<'_>) -> Result<Option<AlertConfig>, ConfigError> {
        let Some(way) = vars.one_of(&[
            ("ALERT_RULES", "the rules inline"),
            ("ALERT_RULES_FILE", "a path"),
            ("ALERT_RULES_URI", "an S3 object"),
        ])?
        else {
            return Ok(None);
        };
        let athena_database = vars.parse_with("ALERT_ATHENA_DATABASE", |db| {
            if db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Ok(db.to_string())
            } else {
                Err("is not a Glue database name (letters, digits, _)".into())
            }
        })?;
        let with_database = |rules: Rules| {
            RulesSpec::Loaded(Arc::new(in_database(rules, athena_database.as_deref())))
        };
        let rules = match way {
            "ALERT_RULES" => {
                with_database(Rules::parse(&vars.require("ALERT_RULES")?).map_err(|e| {
                    ConfigError {
                        variable: "ALERT_RULES".into(),
                        value: None,
                        reason: e.to_string(),
                    }
                })?)
            }
            "ALERT_RULES_FILE" => {
                let path = vars.require("ALERT_RULES_FILE")?;
                with_database(
                    Rules::from_file(std::path::Path::new(&path)).map_err(|e| {
                        ConfigError::invalid("ALERT_RULES_FILE", &path, e.to_string())
                    })?,
                )
            }
            _ => {
                let refresh = vars.number("ALERT_RULES_REFRESH_S", 60u64, 0..=86_400)?;
                let uri = vars.require("ALERT_RULES_URI")?;
                RulesSpec::Object(
                    ConfigObject::parse(&uri, std::time::Duration::from_secs(refresh))
                        .map_err(|reason| ConfigError::invalid("ALERT_RULES_URI", &uri, reason))?,
                )
            }
        };
        let need = |k: &str| {
            vars.get(k)
                .ok_or_else(|| ConfigError::missing(k, "alert rules are set, so it must be too"))
        };
        Ok(Some(AlertConfig {
            rules,
            athena_database,
            windows_table: vars.get("ALERT_WINDOWS_TABLE"),
            state_table: need("ALERT_STATE_TABLE")?,
            topic_arn: need("ALERT_TOPIC_ARN")?,
        }))
    }
}

/// The alert sink of a function: the rules and the stores they write to.
#[derive(Clone)]
pub struct AlertSink {
    /// The rules in force; [`refresh`](Live::refresh) them at the start
    /// of each invocation.
    pub rules: LiveRules,
    /// Absent without a windows table: instant rules only.
    pub windows: Option<Arc<dyn WindowStore>>,
    pub state: Arc<dyn StateStore>,
    pub publisher: Arc<dyn Publisher>,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink")
            .field("rules", &self.rules)
            .field("windows", &self.windows.is_some())
            .finish()
    }
}

/// Read a function's rules when they are due (each invocation starts so):
/// fails only while a sink never had rules.
pub async fn refresh(sink: Option<&AlertSink>) -> Result<(), String> {
    match sink {
        Some(sink) => sink.rules.refresh().await.map(drop),
        None => Ok(()),
    }
}

/// What delivering one source's alert data did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    pub window_items: u64,
    pub instant_alerts: u64,
}

impl AlertSink {
    /// An observer for one source, written (or arrived) at `source_ms`
    /// (now when unknown). Without a windows table nothing is counted:
    /// only instant rules are watched.
    pub fn observer(&self, counting: WindowCounting, source_ms: Option<i64>) -> AlertObserver {
        let counting = if self.windows.is_some() {
            counting
        } else {
            WindowCounting::None
        };
        AlertObserver::at(
            self.rules.get(),
            counting,
            source_ms.unwrap_or_else(crate::now_ms),
        )
    }

    /// Write a source's windows and send its instant alerts (each at most
    /// once per rule, group and minute, whoever else saw it too).
    pub async fn deliver(
        &self,
        source_id: &str,
        observed: AlertObserver,
    ) -> Result<Delivered, AlertError> {
        let mut done = Delivered::default();
        if let (true, Some(store)) = (observed.counting != WindowCounting::None, &self.windows) {
            let contributions = observed.windows.contributions();
            if !contributions.is_empty() {
                done.window_items = store.put(source_id, &contributions).await?;
            }
        }
        for ((rule, group, minute), n) in observed.instants {
            if !self.state.claim_instant(&rule, &group, minute).await? {
                continue;
            }
            if let Err(e) = self.publisher.publish(&n).await {
                if let Err(release) = self.state.release_instant(&rule, &group, minute).await {
                    warn!(rule, group, error = %release, "an instant-alert claim could not be released");
                }
                return Err(e);
            }
            info!(rule, group, "instant alert published");
            done.instant_alerts += 1;
        }
        Ok(done)
    }
}

/// Instant alerts kept per source: at most this many distinct (rule, group,
/// minute); beyond it, a storm is already one notification per minute.
const MAX_INSTANTS: usize = 1000;

/// Which records an [`AlertObserver`] counts in the windows. Instant rules
/// see every record in every mode: their notifications are claimed once
/// per (rule, group, minute), whoever sees the record first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowCounting {
    /// Every record (fn-stream: each Kinesis record is counted there, once).
    All,
    /// Every record but those fn-stream already counted
    /// ([`Record::is_forwarded`]): fn-ingest.
    SkipForwarded,
    /// None: instant rules only.
    None,
}

/// Watches a source's records for alerts: window contributions and instant
/// matches (deduplicated per rule, group and minute before any call).
pub struct AlertObserver {
    pub windows: Windows,
    pub instants: BTreeMap<InstantKey, Notification>,
    rules: Arc<Rules>,
    counting: WindowCounting,
    over_limit: u64,
    /// Records before this are not counted.
    oldest_ms: i64,
    too_old: u64,
}

impl std::fmt::Debug for AlertObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertObserver")
            .field("instants", &self.instants.len())
            .field("counting", &self.counting)
            .finish()
    }
}

impl AlertObserver {
    pub fn new(rules: Arc<Rules>, counting: WindowCounting) -> Self {
        Self::at(rules, counting, crate::now_ms())
    }

    /// An observer for a source written at `source_ms`: records older than
    /// the window items are kept before it (`retention_hours`) are neither
    /// counted nor alerted on. No evaluation would read them, and a source
    /// whose times span years would otherwise write an item for every
    /// minute of them.
    pub fn at(rules: Arc<Rules>, counting: WindowCounting, source_ms: i64) -> Self {
        let oldest_ms = source_ms - i64::from(rules.settings.retention_hours) * 3_600_000;
        AlertObserver {
            // The service groups keep the summary's figures too: fn-alerts
            // materialises the hourly summary from these items.
            windows: Windows::with_summary(rules.clone()),
            instants: BTreeMap::new(),
            rules,
            counting,
            over_limit: 0,
            oldest_ms,
            too_old: 0,
        }
    }

    /// Count one record in the windows (not instant rules), as
    /// [`Observer::observe`] would: for re-counting what was forwarded.
    pub fn count(&mut self, rec: &Record<'_>, ts: i64) {
        if ts >= self.oldest_ms {
            self.windows.observe(rec, ts);
        }
    }

    /// Records too old to count (see [`AlertObserver::at`]).
    pub fn too_old(&self) -> u64 {
        self.too_old
    }

    /// The business EMF lines of what the windows counted (none when they
    /// count nothing): per service, every minute summed
    /// ([`loglake_core::metrics::emf_services`]).
    pub fn business_emf(&self, function: &str, now_ms: i64) -> Vec<String> {
        if self.counting == WindowCounting::None {
            return Vec::new();
        }
        let per = service_figures(&self.windows);
        if per.is_empty() {
            return Vec::new();
        }
        emf_services(function, &per, now_ms)
    }
}

/// What `windows` saw per service, its minutes summed, by service name.
pub fn service_figures(windows: &Windows) -> Vec<(String, ServiceFigures)> {
    let mut per: BTreeMap<String, Stats> = BTreeMap::new();
    for c in windows.contributions() {
        for (k, s) in c.groups {
            if k.field != GROUP_FIELD {
                continue;
            }
            match per.get_mut(&k.value) {
                Some(acc) => acc.merge(&s),
                None => {
                    per.insert(k.value, s);
                }
            }
        }
    }
    let level = |s: &Stats, l: Level| s.by_level.get(l as usize).copied().unwrap_or(0);
    per.into_iter()
        .map(|(name, s)| {
            let figures = ServiceFigures {
                records: s.total,
                errors: level(&s, Level::Error).saturating_add(level(&s, Level::Fatal)),
                latency: s.latency.representatives().collect(),
            };
            (name, figures)
        })
        .collect()
}

impl Observer for AlertObserver {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, _: SourceFormat, _: &Origin<'_>) {
        if ts < self.oldest_ms {
            self.too_old += 1;
            return;
        }
        match self.counting {
            WindowCounting::All => self.windows.observe(rec, ts),
            WindowCounting::SkipForwarded if !rec.is_forwarded() => self.windows.observe(rec, ts),
            WindowCounting::SkipForwarded | WindowCounting::None => {}
        }
        for rule in self.windows.instant_matches(rec) {
            let key = instant_key(rule, rec, ts);
            if self.instants.len() >= MAX_INSTANTS && !self.instants.contains_key(&key) {
                self.over_limit += 1;
                if self.over_limit == 1 {
                    warn!(
                        rule = rule.name,
                        "over {MAX_INSTANTS} distinct instant alerts in one source; later ones are not sent"
                    );
                }
                continue;
            }
            self.instants
                .entry(key)
                .or_insert_with(|| notify_instant(rule, rec, ts, &self.rules.settings));
        }
    }
}
