//! The rules file: parsing, validation with errors that name the rule, the
//! field and the line, and the record filters rules use.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use toml::{Spanned, Value};

use crate::record::{Level, Record, TextField};

/// Window lengths a windowed rule may use, in minutes.
pub const WINDOW_MINUTES: [u32; 3] = [1, 5, 15];
/// The longest silence an absence rule may wait for (one day).
pub const MAX_ABSENCE_MINUTES: u32 = 1440;

/// A validated rules file.
#[derive(Debug, Clone)]
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
    /// Parse and validate a rules file.
    pub fn parse(toml_text: &str) -> Result<Rules, RulesError> {
        Parser::new(toml_text).parse()
    }

    pub fn from_file(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            path: Some(path.to_path_buf()),
            rule: None,
            line: None,
            message: format!("cannot read the rules file: {e}"),
        })?;
        Rules::parse(&text).map_err(|mut e| {
            e.path = Some(path.to_path_buf());
            e
        })
    }

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

// ------------------------------------------------------------------ parsing

type RawRule = BTreeMap<Spanned<String>, Spanned<Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: Option<BTreeMap<Spanned<String>, Spanned<Value>>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "severity",
    "cooldown_minutes",
    "labels",
    "description",
];
const FILTER_KEYS: &[&str] = &[
    "level",
    "service",
    "message_contains",
    "message_regex",
    "where",
];
const KINDS: &[&str] = &["instant", "threshold", "error_rate", "latency", "absence"];
const SETTINGS_KEYS: &[&str] = &[
    "evaluation_delay_minutes",
    "athena_database",
    "athena_table",
    "retention_hours",
];

fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "instant" => &["group_by"],
        "threshold" => &["group_by", "window_minutes", "count"],
        "error_rate" => &[
            "group_by",
            "window_minutes",
            "percent",
            "min_total",
            "groups",
        ],
        "latency" => &[
            "group_by",
            "window_minutes",
            "percentile",
            "ms",
            "min_count",
            "groups",
        ],
        "absence" => &["services", "minutes"],
        _ => &[],
    }
}

fn takes_filter(kind: &str) -> bool {
    matches!(kind, "instant" | "threshold")
}

/// The closest known name, for "did you mean".
fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .into_iter()
        .filter_map(|k| {
            // A truncated name ("windw" for "window_minutes") is close to
            // the known name's prefix.
            let prefix: String = k.chars().take(word.chars().count() + 1).collect();
            let d = distance(word, k).min(distance(word, &prefix) + 1);
            let other_start = word.chars().next() != k.chars().next();
            (d <= 2.max(word.chars().count() / 3)).then_some((d, other_start, k))
        })
        .min()
        .map(|(_, _, k)| k)
}

struct Parser<'t> {
    text: &'t str,
}

/// Errors inside one rule, before the rule's context is attached.
struct FieldError {
    offset: Option<usize>,
    message: String,
}

type FResult<T> = Result<T, FieldError>;

fn ferr(v: &Spanned<Value>, message: String) -> FieldError {
    FieldError {
        offset: Some(v.span().start),
        message,
    }
}

fn type_name(v: &Value) -> &'static str {
    v.type_str()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Boolean(b) => b.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser { text }
    }

    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, rule: Option<String>, offset: Option<usize>, message: String) -> RulesError {
        RulesError {
            path: None,
            rule,
            line: offset.map(|o| self.line_of(o)),
            message,
        }
    }

    fn parse(&self) -> Result<Rules, RulesError> {
        let raw: RawFile = toml::from_str(self.text).map_err(|e| {
            let line = e.span().map(|s| self.line_of(s.start));
            // toml's own message repeats the source line with a caret; the
            // first line is the reason.
            let msg = e.message().lines().next().unwrap_or("invalid TOML").trim();
            RulesError {
                path: None,
                rule: None,
                line,
                message: format!("invalid TOML: {msg}"),
            }
        })?;
        let settings = match &raw.settings {
            Some(s) => self
                .settings(s)
                .map_err(|e| self.error(None, e.offset, format!("settings: {}", e.message)))?,
            None => Settings::default(),
        };
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let start = r.span().start;
            let table = r.get_ref();
            let name = match table.get("name").map(|v| (v, v.get_ref())) {
                Some((_, Value::String(s))) => s.clone(),
                Some((v, other)) => {
                    return Err(self.error(
                        Some(format!("#{}", i + 1)),
                        Some(v.span().start),
                        format!("name must be a string (got {})", type_name(other)),
                    ));
                }
                None => {
                    return Err(self.error(
                        Some(format!("#{}", i + 1)),
                        Some(start),
                        "missing field \"name\"".into(),
                    ));
                }
            };
            let rule = self
                .rule(&name, table)
                .map_err(|e| self.error(Some(name.clone()), e.offset.or(Some(start)), e.message))?;
            if let Some(first) = seen.insert(name.clone(), start) {
                return Err(self.error(
                    Some(name),
                    Some(start),
                    format!(
                        "duplicate rule name (first defined on line {})",
                        self.line_of(first)
                    ),
                ));
            }
            rules.push(rule);
        }
        let rules = Rules { rules, settings };
        let needed = rules.max_window_minutes() + rules.settings.evaluation_delay_minutes;
        if u64::from(needed) + 60 > u64::from(rules.settings.retention_hours) * 60 {
            return Err(self.error(
                None,
                None,
                format!(
                    "settings: retention_hours {} is too short: rules need {needed} minutes of \
                     windows plus an hour of margin",
                    rules.settings.retention_hours
                ),
            ));
        }
        Ok(rules)
    }

    fn settings(&self, t: &BTreeMap<Spanned<String>, Spanned<Value>>) -> FResult<Settings> {
        let mut s = Settings::default();
        for (k, v) in t {
            match k.get_ref().as_str() {
                "evaluation_delay_minutes" => {
                    s.evaluation_delay_minutes =
                        int_in(v, "evaluation_delay_minutes", 0, 60)? as u32;
                }
                "athena_database" => s.athena_database = identifier(v, "athena_database")?,
                "athena_table" => s.athena_table = identifier(v, "athena_table")?,
                "retention_hours" => {
                    s.retention_hours = int_in(v, "retention_hours", 1, 24 * 30)? as u32;
                }
                other => {
                    return Err(FieldError {
                        offset: Some(k.span().start),
                        message: unknown_field(other, SETTINGS_KEYS.iter().copied()),
                    });
                }
            }
        }
        Ok(s)
    }

    fn rule(&self, name: &str, t: &RawRule) -> FResult<Rule> {
        let name_v = t.get("name");
        if name.trim().is_empty()
            || name.chars().any(char::is_control)
            || name.chars().count() > 200
        {
            return Err(FieldError {
                offset: name_v.map(|v| v.span().start),
                message: "name must be 1 to 200 characters with no control characters".into(),
            });
        }
        let kind_v = t.get("kind").ok_or_else(|| FieldError {
            offset: None,
            message: format!("missing field \"kind\" (one of {})", KINDS.join(", ")),
        })?;
        let kind = str_of(kind_v, "kind")?;
        if !KINDS.contains(&kind) {
            let hint = suggest(kind, KINDS.iter().copied())
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            return Err(ferr(
                kind_v,
                format!(
                    "unknown kind {kind:?} (expected one of {}{hint})",
                    KINDS.join(", ")
                ),
            ));
        }
        // Every key must be known for this kind; a key of another kind gets
        // a clearer message than "unknown".
        for k in t.keys() {
            let key = k.get_ref().as_str();
            let allowed = COMMON_KEYS.contains(&key)
                || kind_keys(kind).contains(&key)
                || (takes_filter(kind) && FILTER_KEYS.contains(&key));
            if allowed {
                continue;
            }
            let anywhere =
                KINDS.iter().any(|kd| kind_keys(kd).contains(&key)) || FILTER_KEYS.contains(&key);
            let message = if anywhere {
                format!("field {key:?} does not apply to kind {kind:?}")
            } else {
                let mut known: BTreeSet<&str> = COMMON_KEYS.iter().copied().collect();
                known.extend(kind_keys(kind));
                if takes_filter(kind) {
                    known.extend(FILTER_KEYS);
                }
                unknown_field(key, known)
            };
            return Err(FieldError {
                offset: Some(k.span().start),
                message,
            });
        }

        let severity = match t.get("severity") {
            None => Severity::Warning,
            Some(v) => {
                let s = str_of(v, "severity")?;
                Severity::parse(s).ok_or_else(|| {
                    ferr(
                        v,
                        format!(
                            "severity must be \"info\", \"warning\" or \"critical\" (got {s:?})"
                        ),
                    )
                })?
            }
        };
        let cooldown_minutes = match t.get("cooldown_minutes") {
            None => 15,
            Some(v) => int_in(v, "cooldown_minutes", 0, 7 * 1440)? as u32,
        };
        let labels = match t.get("labels") {
            None => BTreeMap::new(),
            Some(v) => {
                let Value::Table(tab) = v.get_ref() else {
                    return Err(ferr(
                        v,
                        format!(
                            "labels must be a table of strings (got {})",
                            type_name(v.get_ref())
                        ),
                    ));
                };
                let mut out = BTreeMap::new();
                for (k, lv) in tab {
                    let Value::String(s) = lv else {
                        return Err(ferr(
                            v,
                            format!("labels.{k} must be a string (got {})", type_name(lv)),
                        ));
                    };
                    out.insert(k.clone(), s.clone());
                }
                out
            }
        };
        let description = t
            .get("description")
            .map(|v| str_of(v, "description").map(str::to_owned))
            .transpose()?;

        let group_by = match t.get("group_by") {
            None => TextField::Service,
            Some(v) => {
                let s = str_of(v, "group_by")?;
                match field_by_name(s) {
                    Some(f) if f != TextField::Message => f,
                    _ => {
                        let names = TextField::ALL
                            .iter()
                            .filter(|f| **f != TextField::Message)
                            .map(|f| f.column());
                        let hint = suggest(s, names.clone())
                            .map(|x| format!("did you mean {x:?}?"))
                            .unwrap_or_else(|| {
                                format!("expected one of {}", names.collect::<Vec<_>>().join(", "))
                            });
                        return Err(ferr(v, format!("group_by: unknown field {s:?} ({hint})")));
                    }
                }
            }
        };
        let window_minutes = || -> FResult<u32> {
            match t.get("window_minutes") {
                None => Ok(5),
                Some(v) => {
                    let n = int_of(v, "window_minutes")?;
                    WINDOW_MINUTES
                        .iter()
                        .copied()
                        .find(|w| i64::from(*w) == n)
                        .ok_or_else(|| {
                            ferr(v, format!("window_minutes must be 1, 5 or 15 (got {n})"))
                        })
                }
            }
        };
        let groups = || -> FResult<Option<Vec<String>>> {
            t.get("groups").map(|v| strings(v, "groups")).transpose()
        };
        let required = |key: &str| {
            t.get(key).ok_or_else(|| FieldError {
                offset: None,
                message: format!("missing field {key:?} (required for kind {kind:?})"),
            })
        };

        let kind = match kind {
            "instant" => {
                let filter = self.filter(t)?;
                if filter.is_empty() {
                    return Err(FieldError {
                        offset: None,
                        message: "an instant rule needs a filter (level, service, \
                                  message_contains, message_regex or where); it would \
                                  alert on every record"
                            .into(),
                    });
                }
                Kind::Instant { filter, group_by }
            }
            "threshold" => Kind::Threshold {
                filter: self.filter(t)?,
                group_by,
                window_minutes: window_minutes()?,
                count: int_in(required("count")?, "count", 1, i64::MAX)? as u64,
            },
            "error_rate" => {
                let v = required("percent")?;
                let percent = float_of(v, "percent")?;
                if !(percent > 0.0 && percent <= 100.0) {
                    return Err(ferr(
                        v,
                        format!("percent must be above 0 and at most 100 (got {percent})"),
                    ));
                }
                Kind::ErrorRate {
                    group_by,
                    window_minutes: window_minutes()?,
                    percent,
                    min_total: match t.get("min_total") {
                        None => 20,
                        Some(v) => int_in(v, "min_total", 1, i64::MAX)? as u64,
                    },
                    groups: groups()?,
                }
            }
            "latency" => {
                let pv = required("percentile")?;
                let percentile = float_of(pv, "percentile")?;
                if !(50.0..=99.9).contains(&percentile) {
                    return Err(ferr(
                        pv,
                        format!("percentile must be between 50 and 99.9 (got {percentile})"),
                    ));
                }
                let mv = required("ms")?;
                let ms = float_of(mv, "ms")?;
                if !(ms > 0.0 && ms.is_finite()) {
                    return Err(ferr(mv, format!("ms must be a positive number (got {ms})")));
                }
                Kind::Latency {
                    group_by,
                    window_minutes: window_minutes()?,
                    percentile,
                    ms,
                    min_count: match t.get("min_count") {
                        None => 20,
                        Some(v) => int_in(v, "min_count", 1, i64::MAX)? as u64,
                    },
                    groups: groups()?,
                }
            }
            _ => {
                let services = strings(required("services")?, "services")?;
                let minutes = int_in(
                    required("minutes")?,
                    "minutes",
                    1,
                    i64::from(MAX_ABSENCE_MINUTES),
                )? as u32;
                Kind::Absence { services, minutes }
            }
        };
        Ok(Rule {
            name: name.to_owned(),
            kind,
            severity,
            cooldown_minutes,
            labels,
            description,
        })
    }

    fn filter(&self, t: &RawRule) -> FResult<Filter> {
        let mut f = Filter::default();
        if let Some(v) = t.get("level") {
            let s = str_of(v, "level")?;
            f.level_at_least = Some(parse_level(v, s, "level")?);
        }
        if let Some(v) = t.get("service") {
            f.services = strings(v, "service")?;
        }
        if let Some(v) = t.get("message_contains") {
            f.message_contains = strings(v, "message_contains")?;
            let alternation: Vec<String> = f
                .message_contains
                .iter()
                .map(|s| regex::escape(s))
                .collect();
            let pattern = format!("(?i)(?:{})", alternation.join("|"));
            f.contains_re =
                Some(compile(&pattern).map_err(|e| ferr(v, format!("message_contains: {e}")))?);
        }
        if let Some(v) = t.get("message_regex") {
            let s = str_of(v, "message_regex")?;
            f.message_regex = Some(compile(s).map_err(|e| ferr(v, format!("message_regex: {e}")))?);
        }
        if let Some(v) = t.get("where") {
            let Value::Table(tab) = v.get_ref() else {
                return Err(ferr(
                    v,
                    format!(
                        "where must be a table of field = value (got {})",
                        type_name(v.get_ref())
                    ),
                ));
            };
            for (key, val) in tab {
                let wrap = |message: String| ferr(v, format!("where.{key}: {message}"));
                let vals = scalar_strings(val).map_err(wrap)?;
                let cond = if key == "level" {
                    let mut levels = Vec::new();
                    for s in &vals {
                        levels.push(
                            Level::parse(s).ok_or_else(|| wrap(format!("unknown level {s:?}")))?,
                        );
                    }
                    Condition::Level(levels)
                } else if key == "http_status" {
                    let mut out = Vec::new();
                    for s in &vals {
                        out.push(parse_status(s).ok_or_else(|| {
                            wrap(format!("expected a status such as 503 or a class such as \"5xx\" (got {s:?})"))
                        })?);
                    }
                    Condition::HttpStatus(out)
                } else if let Some(attr) = key.strip_prefix("attributes.") {
                    if attr.is_empty() {
                        return Err(wrap("empty attribute name".into()));
                    }
                    Condition::Attribute {
                        key: attr.to_owned(),
                        values: vals,
                    }
                } else if let Some(field) = field_by_name(key) {
                    Condition::Text {
                        field,
                        values: vals,
                    }
                } else {
                    let mut names: Vec<&str> = TextField::ALL.iter().map(|f| f.column()).collect();
                    names.extend(["level", "http_status"]);
                    let hint = suggest(key, names.iter().copied())
                        .map(|x| format!(" (did you mean {x:?}?)"))
                        .unwrap_or_else(|| {
                            " (a column name, level, http_status or attributes.KEY)".into()
                        });
                    return Err(ferr(v, format!("where: unknown field {key:?}{hint}")));
                };
                f.conditions.push(cond);
            }
        }
        Ok(f)
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    // Bounded so a rules file cannot make init build a huge automaton.
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(2 << 20)
        .build()
}

fn unknown_field<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(key, known) {
        Some(s) => format!("unknown field {key:?} (did you mean {s:?}?)"),
        None => format!("unknown field {key:?}"),
    }
}

fn parse_level(v: &Spanned<Value>, s: &str, field: &str) -> FResult<Level> {
    Level::parse(s).ok_or_else(|| {
        ferr(
            v,
            format!("{field}: unknown level {s:?} (TRACE, DEBUG, INFO, WARN, ERROR or FATAL)"),
        )
    })
}

fn parse_status(s: &str) -> Option<StatusValue> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    if let Some(c) = lower.strip_suffix("xx") {
        let c: u8 = c.parse().ok()?;
        return (1..=5).contains(&c).then_some(StatusValue::Class(c));
    }
    let n: i16 = s.parse().ok()?;
    (100..=599).contains(&n).then_some(StatusValue::Exact(n))
}

fn str_of<'v>(v: &'v Spanned<Value>, field: &str) -> FResult<&'v str> {
    match v.get_ref() {
        Value::String(s) => Ok(s),
        other => Err(ferr(
            v,
            format!("{field} must be a string (got {})", type_name(other)),
        )),
    }
}

fn int_of(v: &Spanned<Value>, field: &str) -> FResult<i64> {
    match v.get_ref() {
        Value::Integer(n) => Ok(*n),
        other => Err(ferr(
            v,
            format!("{field} must be an integer (got {})", show(other)),
        )),
    }
}

fn int_in(v: &Spanned<Value>, field: &str, lo: i64, hi: i64) -> FResult<i64> {
    let n = int_of(v, field)?;
    if n < lo || n > hi {
        let range = if hi == i64::MAX {
            format!("at least {lo}")
        } else {
            format!("between {lo} and {hi}")
        };
        return Err(ferr(v, format!("{field} must be {range} (got {n})")));
    }
    Ok(n)
}

fn float_of(v: &Spanned<Value>, field: &str) -> FResult<f64> {
    match v.get_ref() {
        Value::Integer(n) => Ok(*n as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        other => Err(ferr(
            v,
            format!("{field} must be a number (got {})", show(other)),
        )),
    }
}

/// A non-empty string, or a non-empty array of non-empty strings.
fn strings(v: &Spanned<Value>, field: &str) -> FResult<Vec<String>> {
    let bad = || {
        ferr(
            v,
            format!("{field} must be a non-empty string or array of non-empty strings"),
        )
    };
    let out: Vec<String> = match v.get_ref() {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad()),
            })
            .collect::<FResult<_>>()?,
        _ => return Err(bad()),
    };
    if out.is_empty() || out.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(out)
}

/// `where` values: a string or integer, or an array of them.
fn scalar_strings(v: &Value) -> Result<Vec<String>, String> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        other => Err(format!(
            "expected a string or integer (got {})",
            type_name(other)
        )),
    };
    let out = match v {
        Value::Array(a) => a.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        x => vec![one(x)?],
    };
    if out.is_empty() {
        return Err("expected at least one value".into());
    }
    Ok(out)
}

fn identifier(v: &Spanned<Value>, field: &str) -> FResult<String> {
    let s = str_of(v, field)?;
    let ok =
        !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ferr(
            v,
            format!("{field} must be letters, digits and underscores (got {s:?})"),
        ));
    }
    Ok(s.to_owned())
}
