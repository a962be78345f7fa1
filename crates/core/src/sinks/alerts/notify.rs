//! Notifications: an inbox-readable subject, a JSON body with everything a
//! responder needs (including a ready-to-run Athena query), and message
//! attributes for SNS filter policies.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::eval::{Evaluation, trim_num};
use super::rules::{Condition, Filter, Kind, Rule, Settings, StatusValue};
use super::window::{GroupKey, MAX_EXAMPLE_BYTES, NO_VALUE, OTHER_VALUE};
use crate::ingest::format::clip;
use crate::record::{Level, Record, TextField};
use crate::time::{self, floor_minute};

/// SNS wants subjects of fewer than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Firing,
    Resolved,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Firing => "firing",
            Transition::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// At most [`MAX_SUBJECT_CHARS`] characters, no control characters.
    pub subject: String,
    pub body: Value,
    /// `severity`, `service`, `rule`: never empty.
    pub attributes: BTreeMap<String, String>,
}

/// The notification for a window rule's transition.
pub fn notify(rule: &Rule, e: &Evaluation, t: Transition, settings: &Settings) -> Notification {
    let tag = match t {
        Transition::Firing => rule.severity.as_str().to_ascii_uppercase(),
        Transition::Resolved => "RESOLVED".to_owned(),
    };
    let mins = e.window_end_ms.saturating_sub(e.window_start_ms) / MINUTE_MS;
    let obs = fmt_value(e.observed, e.unit);
    let thr = fmt_value(e.threshold, e.unit);
    let cmp = if e.breaching { ">=" } else { "<" };
    let g = &e.group.value;
    // Not breaching although the value is over the threshold: too few
    // records to judge (min_total, min_count), which the detail says.
    let too_few = !e.breaching && e.observed >= e.threshold;
    let what = match &rule.kind {
        Kind::Absence { .. } if e.breaching => format!("{g} no records for {mins} min"),
        Kind::Absence { .. } => format!("{g} records again"),
        _ if too_few => format!("{g} {obs}, {} ({mins} min)", e.detail),
        Kind::Latency { percentile, .. } => {
            format!(
                "{g} p{} {obs} {cmp} {thr} ({mins} min)",
                trim_num(*percentile)
            )
        }
        Kind::Threshold { .. } => format!("{g} {obs} {cmp} {thr} in {mins} min"),
        _ => format!("{g} {obs} {cmp} {thr} ({mins} min)"),
    };
    let subject = subject(&format!("[{tag}] {}: {what}", rule.name));
    let query = athena_query(rule, &e.group, e.window_start_ms, e.window_end_ms, settings);
    let body = json!({
        "rule": rule.name,
        "kind": rule.kind.as_str(),
        "severity": rule.severity.as_str(),
        "state": t.as_str(),
        "group": {"field": e.group.field, "value": e.group.value},
        "window": {
            "start": time::format_rfc3339_ms(e.window_start_ms),
            "end": time::format_rfc3339_ms(e.window_end_ms),
        },
        "observed": finite(e.observed),
        "threshold": finite(e.threshold),
        "unit": e.unit,
        "detail": e.detail,
        "labels": rule.labels,
        "description": rule.description,
        "examples": e.examples.iter().take(5).collect::<Vec<_>>(),
        "athena_query": query,
    });
    let service = if e.group.field == TextField::Service.column() {
        e.group.value.clone()
    } else {
        "(any)".to_owned()
    };
    Notification {
        subject,
        body,
        attributes: attributes(rule, service),
    }
}

/// The notification for an instant rule's match.
pub fn notify_instant(
    rule: &Rule,
    rec: &Record<'_>,
    ts_ms: i64,
    settings: &Settings,
) -> Notification {
    let field = rule.group_by();
    let group = GroupKey::new(field, rec.get(field).unwrap_or(NO_VALUE));
    let level = rec.level.map_or("", Level::as_str);
    let msg = rec.get(TextField::Message).unwrap_or("");
    let mut what = group.value.clone();
    if !level.is_empty() {
        what.push(' ');
        what.push_str(level);
    }
    if !msg.is_empty() {
        what.push_str(": ");
        what.push_str(clip(msg, 200));
    }
    let tag = rule.severity.as_str().to_ascii_uppercase();
    let subject = subject(&format!("[{tag}] {}: {what}", rule.name));
    let start = floor_minute(ts_ms);
    let end = start.saturating_add(MINUTE_MS);
    let query = athena_query(rule, &group, start, end, settings);
    let record = json!({
        "ts": time::format_rfc3339_ms(ts_ms),
        "level": rec.level.map(Level::as_str),
        "service": rec.get(TextField::Service),
        "host": rec.get(TextField::Host),
        "message": clip(msg, 4 * MAX_EXAMPLE_BYTES),
        "http_status": rec.http_status,
        "latency_ms": rec.latency_ms.filter(|v| v.is_finite()),
        "trace_id": rec.get(TextField::TraceId),
        "request_id": rec.get(TextField::RequestId),
        "error_type": rec.get(TextField::ErrorType),
    });
    let body = json!({
        "rule": rule.name,
        "kind": rule.kind.as_str(),
        "severity": rule.severity.as_str(),
        "state": Transition::Firing.as_str(),
        "group": {"field": group.field, "value": group.value},
        "window": {
            "start": time::format_rfc3339_ms(start),
            "end": time::format_rfc3339_ms(end),
        },
        "observed": 1,
        "threshold": 1,
        "unit": "count",
        "detail": "a record matched",
        "labels": rule.labels,
        "description": rule.description,
        "examples": if msg.is_empty() { vec![] } else { vec![clip(msg, MAX_EXAMPLE_BYTES)] },
        "record": record,
        "athena_query": query,
    });
    let service = rec
        .get(TextField::Service)
        .filter(|s| !s.is_empty())
        .unwrap_or("(any)")
        .to_owned();
    Notification {
        subject,
        body,
        attributes: attributes(rule, service),
    }
}

fn attributes(rule: &Rule, service: String) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("severity".to_owned(), rule.severity.as_str().to_owned());
    let service = if service.is_empty() {
        "(any)".to_owned()
    } else {
        service
    };
    a.insert("service".to_owned(), service);
    a.insert("rule".to_owned(), rule.name.clone());
    a
}

fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{}%", trim_num((v * 10.0).round() / 10.0)),
        "ms" if v >= 100.0 => format!("{v:.0} ms"),
        "ms" => format!("{} ms", trim_num(v)),
        "minutes" => format!("{} min", trim_num(v)),
        _ => trim_num(v),
    }
}

/// One line, no control characters, at most [`MAX_SUBJECT_CHARS`]
/// characters (an ellipsis marks a cut).
fn subject(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= MAX_SUBJECT_CHARS {
        return clean;
    }
    let mut out: String = clean.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    out.push('…');
    out
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts_lit(ms: i64) -> String {
    // Athena's timestamp literal: 'YYYY-MM-DD HH:MM:SS.mmm' (no T, no Z).
    let s = time::format_rfc3339_ms(ms);
    format!(
        "TIMESTAMP '{}'",
        s.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

fn dt_hr(ms: i64) -> (String, String) {
    let (y, m, d, h) = time::date_hour(ms);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{h:02}"))
}

/// Partition predicate for [start, end): `dt`/`hr` are zero-padded strings,
/// so string comparison is time order and Athena prunes on it.
fn partition_filter(start: i64, end: i64) -> String {
    let (d1, h1) = dt_hr(start);
    let (d2, h2) = dt_hr(end.saturating_sub(1).max(start));
    if d1 == d2 {
        if h1 == h2 {
            format!("dt = {} AND hr = {}", lit(&d1), lit(&h1))
        } else {
            format!(
                "dt = {} AND hr BETWEEN {} AND {}",
                lit(&d1),
                lit(&h1),
                lit(&h2)
            )
        }
    } else {
        format!(
            "dt BETWEEN {d1q} AND {d2q} AND (dt > {d1q} OR hr >= {h1q}) AND (dt < {d2q} OR hr <= {h2q})",
            d1q = lit(&d1),
            d2q = lit(&d2),
            h1q = lit(&h1),
            h2q = lit(&h2),
        )
    }
}

const ERROR_SQL: &str = "(level IN ('ERROR', 'FATAL') OR (level IS NULL AND http_status >= 500))";

fn levels_at_least(min: Level) -> String {
    let all = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];
    let names: Vec<String> = all
        .iter()
        .filter(|l| **l >= min)
        .map(|l| lit(l.as_str()))
        .collect();
    format!("level IN ({})", names.join(", "))
}

fn in_list(col: &str, values: &[String]) -> String {
    let v: Vec<String> = values.iter().map(|s| lit(s)).collect();
    if v.len() == 1 {
        format!("{col} = {}", v.join(""))
    } else {
        format!("{col} IN ({})", v.join(", "))
    }
}

fn filter_sql(f: &Filter) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = f.level_at_least {
        out.push(levels_at_least(l));
    }
    if !f.services.is_empty() {
        out.push(in_list("service", &f.services));
    }
    for c in &f.conditions {
        out.push(match c {
            Condition::Text { field, values } => in_list(field.column(), values),
            Condition::Level(levels) => {
                let v: Vec<String> = levels.iter().map(|l| l.as_str().to_owned()).collect();
                in_list("level", &v)
            }
            Condition::HttpStatus(vals) => {
                let parts: Vec<String> = vals
                    .iter()
                    .map(|v| match v {
                        StatusValue::Exact(n) => format!("http_status = {n}"),
                        StatusValue::Class(c) => format!(
                            "http_status BETWEEN {} AND {}",
                            u32::from(*c) * 100,
                            u32::from(*c) * 100 + 99
                        ),
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
            Condition::Attribute { key, values } => {
                in_list(&format!("element_at(attributes, {})", lit(key)), values)
            }
        });
    }
    if !f.message_contains.is_empty() {
        let parts: Vec<String> = f
            .message_contains
            .iter()
            .map(|s| format!("strpos(lower(message), {}) > 0", lit(&s.to_lowercase())))
            .collect();
        out.push(format!("({})", parts.join(" OR ")));
    }
    if let Some(re) = &f.message_regex {
        out.push(format!("regexp_like(message, {})", lit(re.as_str())));
    }
    out
}

/// A ready-to-run Athena query for the records behind an alert: the
/// window's `dt`/`hr` partitions, `ts` within [start, end), the group, and
/// the rule's condition, ordered by time.
pub fn athena_query(
    rule: &Rule,
    group: &GroupKey,
    start_ms: i64,
    end_ms: i64,
    settings: &Settings,
) -> String {
    let (mut start, end) = (start_ms, end_ms.max(start_ms));
    let mut conds = Vec::new();
    let mut order = "ts";
    match &rule.kind {
        Kind::Instant { filter, .. } | Kind::Threshold { filter, .. } => {
            conds.extend(filter_sql(filter));
        }
        Kind::ErrorRate { .. } => conds.push(ERROR_SQL.to_owned()),
        Kind::Latency { ms, .. } => {
            conds.push(format!("latency_ms >= {}", trim_num(*ms)));
        }
        Kind::Absence { .. } => {
            // The window is empty by definition: show the last records
            // before it instead.
            start = start.saturating_sub(end.saturating_sub(start));
            order = "ts DESC";
        }
    }
    let group_cond = if group.value == NO_VALUE {
        Some(format!("{} IS NULL", group.field))
    } else if group.value == OTHER_VALUE {
        None
    } else if is_column(&group.field) {
        Some(format!("{} = {}", group.field, lit(&group.value)))
    } else {
        None
    };
    let mut wheres = vec![
        partition_filter(start, end),
        format!("ts >= {} AND ts < {}", ts_lit(start), ts_lit(end)),
    ];
    wheres.extend(group_cond);
    wheres.extend(conds);
    format!(
        "SELECT ts, level, service, host, http_method, http_path, http_status, latency_ms, message, trace_id, request_id\n\
         FROM \"{}\".\"{}\"\n\
         WHERE {}\n\
         ORDER BY {order}\n\
         LIMIT 100",
        settings.athena_database,
        settings.athena_table,
        wheres.join("\n  AND "),
    )
}

fn is_column(name: &str) -> bool {
    TextField::ALL.iter().any(|f| f.column() == name)
}
