//! The rules file's model: [`Rules`], each [`Rule`] with its [`Kind`] and
//! [`Severity`], the [`Settings`], the record [`Filter`]s rules use and the
//! [`RulesError`] a file that cannot be used is refused with.
//!
//! Reading a file is `reader.rs` ([`Rules::parse`], [`Rules::from_file`]):
//! it validates every field and names the rule, the field and the line in
//! its errors; `fields.rs` reads single TOML values for it. Neither is
//! imported here: the model does not depend on how it is read.

mod fields;
mod reader;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::record::{Level, Record, TextField};

/// Window lengths a windowed rule may use, in minutes.
pub const WINDOW_MINUTES: [u32; 3] = [1, 5, 15];
/// The longest silence an absence rule may wait for (one day).
pub const MAX_ABSENCE_MINUTES: u32 = 1440;

/// A validated rules file (the default: no rules, default settings).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Minutes between the end of an evaluated window and now, for late data (default 2).
    pub evaluation_delay_minutes: u32,
    /// For the Athena query in notifications (defaults "loglake", "logs").
    pub athena_database: String,
    pub athena_table: String,
    /// Items in the windows table expire after this many hours (default 48).
    pub retention_hours: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            evaluation_delay_minutes: 2,
            athena_database: "loglake".into(),
            athena_table: "logs".into(),
            retention_hours: 48,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub kind: Kind,
    pub severity: Severity,
    /// Minutes after a notification before the same (rule, group) notifies
    /// again (default 15).
    pub cooldown_minutes: u32,
    pub labels: BTreeMap<String, String>,
    pub description: Option<String>,
}

impl Rule {
    /// The field this rule groups by (`service` for absence).
    pub fn group_by(&self) -> TextField {
        match &self.kind {
            Kind::Instant { group_by, .. }
            | Kind::Threshold { group_by, .. }
            | Kind::ErrorRate { group_by, .. }
            | Kind::Latency { group_by, .. } => *group_by,
            Kind::Absence { .. } => TextField::Service,
        }
    }

    /// The minutes of data one evaluation reads (0 for instant rules).
    pub fn window_minutes(&self) -> u32 {
        match &self.kind {
            Kind::Instant { .. } => 0,
            Kind::Threshold { window_minutes, .. }
            | Kind::ErrorRate { window_minutes, .. }
            | Kind::Latency { window_minutes, .. } => *window_minutes,
            Kind::Absence { minutes, .. } => *minutes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A single matching record alerts right away.
    Instant { filter: Filter, group_by: TextField },
    /// Matching records of a group in the window >= `count`.
    Threshold {
        filter: Filter,
        group_by: TextField,
        window_minutes: u32,
        count: u64,
    },
    /// errors / total of a group in the window >= `percent`, when total >= `min_total`.
    ErrorRate {
        group_by: TextField,
        window_minutes: u32,
        percent: f64,
        min_total: u64,
        groups: Option<Vec<String>>,
    },
    /// The `percentile` of `latency_ms` of a group in the window >= `ms`,
    /// when at least `min_count` records carry a latency.
    Latency {
        group_by: TextField,
        window_minutes: u32,
        percentile: f64,
        ms: f64,
        min_count: u64,
        groups: Option<Vec<String>>,
    },
    /// No records at all from a listed service for `minutes`.
    Absence { services: Vec<String>, minutes: u32 },
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Instant { .. } => "instant",
            Kind::Threshold { .. } => "threshold",
            Kind::ErrorRate { .. } => "error_rate",
            Kind::Latency { .. } => "latency",
            Kind::Absence { .. } => "absence",
        }
    }
}

/// An HTTP status to compare with: exact, or a class (`"5xx"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusValue {
    Exact(i16),
    /// 1..=5
    Class(u8),
}

impl StatusValue {
    fn matches(self, s: i16) -> bool {
        match self {
            StatusValue::Exact(v) => s == v,
            StatusValue::Class(c) => s / 100 == i16::from(c),
        }
    }
}

/// One equality condition of a filter's `where` table: the record's field
/// equals any of the values.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Text {
        field: TextField,
        values: Vec<String>,
    },
    Level(Vec<Level>),
    HttpStatus(Vec<StatusValue>),
    Attribute {
        key: String,
        values: Vec<String>,
    },
}

impl Condition {
    fn matches(&self, rec: &Record<'_>) -> bool {
        match self {
            Condition::Text { field, values } => rec
                .get(*field)
                .is_some_and(|v| values.iter().any(|x| x == v)),
            Condition::Level(levels) => rec.level.is_some_and(|l| levels.contains(&l)),
            Condition::HttpStatus(vals) => rec
                .http_status
                .is_some_and(|s| vals.iter().any(|v| v.matches(s))),
            Condition::Attribute { key, values } => rec
                .attributes
                .iter()
                .any(|(k, v)| k == key && values.iter().any(|x| x == v)),
        }
    }
}

/// Which records a rule looks at. Every condition given must hold; an
/// empty filter matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The record's level is at least this one.
    pub level_at_least: Option<Level>,
    /// The record's service is one of these (any when empty).
    pub services: Vec<String>,
    /// Equalities from the `where` table.
    pub conditions: Vec<Condition>,
    /// The message contains one of these, ignoring case.
    pub message_contains: Vec<String>,
    /// The message matches this regular expression.
    pub message_regex: Option<Regex>,
    /// `message_contains` compiled once: a case-insensitive alternation of
    /// escaped literals, which the regex crate searches with a prefilter.
    contains_re: Option<Regex>,
}

impl Filter {
    pub fn matches(&self, rec: &Record<'_>) -> bool {
        if let Some(min) = self.level_at_least
            && rec.level.is_none_or(|l| l < min)
        {
            return false;
        }
        if !self.services.is_empty() {
            let Some(s) = rec.get(TextField::Service) else {
                return false;
            };
            if !self.services.iter().any(|x| x == s) {
                return false;
            }
        }
        if !self.conditions.iter().all(|c| c.matches(rec)) {
            return false;
        }
        if self.contains_re.is_some() || self.message_regex.is_some() {
            let msg = rec.get(TextField::Message).unwrap_or("");
            if let Some(re) = &self.contains_re
                && !re.is_match(msg)
            {
                return false;
            }
            if let Some(re) = &self.message_regex
                && !re.is_match(msg)
            {
                return false;
            }
        }
        true
    }

    /// True when the filter has no condition at all.
    pub fn is_empty(&self) -> bool {
        self.level_at_least.is_none()
            && self.services.is_empty()
            && self.conditions.is_empty()
            && self.message_contains.is_empty()
            && self.message_regex.is_none()
    }
}

/// A rules file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// The file, when read from one.
    pub path: Option<PathBuf>,
    /// The rule's name (or `#n` when it has none), when the problem is in a rule.
    pub rule: Option<String>,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        if let Some(r) = &self.rule {
            write!(f, "rule {r:?}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(l) = self.line {
            write!(f, " (line {l})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// The column name of every text field a rule can name.
pub fn field_by_name(name: &str) -> Option<TextField> {
    TextField::ALL.iter().copied().find(|f| f.column() == name)
}

impl Rules {
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The largest window any rule needs, in minutes (absence included).
    pub fn max_window_minutes(&self) -> u32 {
        self.rules
            .iter()
            .map(Rule::window_minutes)
            .max()
            .unwrap_or(0)
    }
}
