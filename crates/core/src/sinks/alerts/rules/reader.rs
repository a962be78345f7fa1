//! Reading a rules file: TOML to a validated [`Rules`], refusing unknown
//! keys, keys of another kind, out-of-range values and duplicate names with
//! a [`RulesError`] that names the rule, the field and the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::{Spanned, Value};

use super::fields::{
    FResult, FieldError, ferr, float_of, identifier, int_in, int_of, parse_level, scalar_strings,
    str_of, strings, suggest, type_name, unknown_field,
};
use super::{
    Condition, Filter, Kind, MAX_ABSENCE_MINUTES, Rule, Rules, RulesError, Settings, Severity,
    StatusValue, WINDOW_MINUTES, field_by_name,
};
use crate::record::{Level, TextField};

impl Rules {
    /// Parse and validate a rules file.
    pub fn parse(toml_text: &str) -> Result<Rules, RulesError> {
        RulesReader::new(toml_text).parse()
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
}

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

struct RulesReader<'t> {
    text: &'t str,
}

impl<'t> RulesReader<'t> {
    fn new(text: &'t str) -> Self {
        RulesReader { text }
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
