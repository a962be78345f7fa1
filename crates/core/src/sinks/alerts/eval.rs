//! Evaluation: sum the contributions of the minutes a window covers and
//! compare each group with its rule. The same arithmetic serves fn-alerts
//! (contributions from DynamoDB) and `loglake alerts eval` (from a lake).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::rules::{Kind, Rule, Rules, Severity};
use super::window::{Contribution, GroupKey, MAX_EXAMPLES, Stats};
use crate::record::TextField;
use crate::time::floor_minute;

const MINUTE_MS: i64 = 60_000;

/// Sum of contributions per (minute, group).
///
/// Adding the same contribution twice counts it twice: exactness comes from
/// the windows table holding one item per (minute, source), which a
/// redelivered source overwrites.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowSums {
    minutes: BTreeMap<i64, BTreeMap<GroupKey, Stats>>,
}

impl WindowSums {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, c: &Contribution) {
        let minute = self.minutes.entry(c.minute_ms).or_default();
        for (k, s) in &c.groups {
            match minute.get_mut(k) {
                Some(acc) => acc.merge(s),
                None => {
                    minute.insert(k.clone(), s.clone());
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// Every (minute, group, summed stats), by minute then group.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &GroupKey, &Stats)> {
        self.minutes
            .iter()
            .flat_map(|(m, groups)| groups.iter().map(move |(k, s)| (*m, k, s)))
    }

    /// The summed stats of one group in one minute.
    pub fn get(&self, minute_ms: i64, key: &GroupKey) -> Option<&Stats> {
        self.minutes.get(&minute_ms)?.get(key)
    }

    /// The groups of one minute with their summed stats, in key order.
    pub fn groups(&self, minute_ms: i64) -> impl Iterator<Item = (&GroupKey, &Stats)> + '_ {
        self.minutes.get(&minute_ms).into_iter().flatten()
    }

    /// The minutes that have any data, in order.
    pub fn minutes(&self) -> impl Iterator<Item = i64> + '_ {
        self.minutes.keys().copied()
    }

    /// Every group value of `field` in [start, end), with its stats summed.
    fn window(&self, field: &str, start: i64, end: i64) -> BTreeMap<&str, Stats> {
        let mut out: BTreeMap<&str, Stats> = BTreeMap::new();
        for (_, groups) in self.minutes.range(start..end) {
            for (k, s) in groups.iter().filter(|(k, _)| k.field == field) {
                match out.get_mut(k.value.as_str()) {
                    Some(acc) => acc.merge(s),
                    None => {
                        out.insert(k.value.as_str(), s.clone());
                    }
                }
            }
        }
        out
    }
}

/// The outcome of one rule for one group over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub rule: String,
    pub severity: Severity,
    pub group: GroupKey,
    pub breaching: bool,
    pub observed: f64,
    pub threshold: f64,
    /// "count" | "%" | "ms" | "minutes"
    pub unit: &'static str,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// At most 5 example messages.
    pub examples: Vec<String>,
    /// E.g. "errors 37 of 412".
    pub detail: String,
}

/// Evaluate every window rule (not instant) for the window ending at
/// `end_ms` (exclusive; floored to the minute). The caller passes now minus
/// the evaluation delay.
///
/// One [`Evaluation`] per (rule, group) with data in the window, and for
/// absence rules one per listed service. A group that had data in an
/// earlier window and none in this one gets no evaluation: the caller
/// decides what that means for an alert that is firing.
pub fn evaluate(rules: &Rules, sums: &WindowSums, end_ms: i64) -> Vec<Evaluation> {
    let end = floor_minute(end_ms);
    let mut cache: HashMap<(TextField, u32), BTreeMap<&str, Stats>> = HashMap::new();
    let mut out = Vec::new();
    for rule in &rules.rules {
        let minutes = rule.window_minutes();
        let start = end.saturating_sub(i64::from(minutes) * MINUTE_MS);
        let field = rule.group_by();
        let base = |breaching: bool, value: &str, observed: f64, threshold: f64, unit| Evaluation {
            rule: rule.name.clone(),
            severity: rule.severity,
            group: GroupKey::new(field, value),
            breaching,
            observed,
            threshold,
            unit,
            window_start_ms: start,
            window_end_ms: end,
            examples: Vec::new(),
            detail: String::new(),
        };
        if let Kind::Absence { services, minutes } = &rule.kind {
            for svc in services {
                let key = GroupKey::new(TextField::Service, svc.as_str());
                // Trailing minutes of the window with no record.
                let mut quiet = 0u32;
                let mut t = end.saturating_sub(MINUTE_MS);
                while quiet < *minutes && sums.get(t, &key).is_none_or(|s| s.total == 0) {
                    quiet += 1;
                    t = t.saturating_sub(MINUTE_MS);
                }
                let mut e = base(
                    quiet >= *minutes,
                    svc,
                    f64::from(quiet),
                    f64::from(*minutes),
                    "minutes",
                );
                e.detail = if quiet >= *minutes {
                    format!("no records for {minutes} min")
                } else if quiet == 0 {
                    "records in the last minute".into()
                } else {
                    format!("last record {quiet} min before the window end")
                };
                out.push(e);
            }
            continue;
        }
        if matches!(rule.kind, Kind::Instant { .. }) {
            continue;
        }
        let groups = cache
            .entry((field, minutes))
            .or_insert_with(|| sums.window(field.column(), start, end));
        for (value, st) in groups.iter() {
            if let Some(e) = evaluate_group(rule, value, st, base) {
                out.push(e);
            }
        }
    }
    out
}

fn evaluate_group(
    rule: &Rule,
    value: &str,
    st: &Stats,
    base: impl Fn(bool, &str, f64, f64, &'static str) -> Evaluation,
) -> Option<Evaluation> {
    let allowed =
        |groups: &Option<Vec<String>>| groups.as_ref().is_none_or(|g| g.iter().any(|x| x == value));
    let examples = || st.examples.iter().take(MAX_EXAMPLES).cloned().collect();
    let e = match &rule.kind {
        Kind::Threshold { count, .. } => {
            let n = st.matches.get(&rule.name).copied().unwrap_or(0);
            let mut e = base(n >= *count, value, n as f64, *count as f64, "count");
            e.detail = format!("{n} matching of {} records", st.total);
            if n > 0 {
                e.examples = examples();
            }
            e
        }
        Kind::ErrorRate {
            percent,
            min_total,
            groups,
            ..
        } => {
            if !allowed(groups) {
                return None;
            }
            let rate = if st.total == 0 {
                0.0
            } else {
                st.errors as f64 * 100.0 / st.total as f64
            };
            let enough = st.total >= *min_total;
            let mut e = base(enough && rate >= *percent, value, rate, *percent, "%");
            e.detail = format!("errors {} of {}", st.errors, st.total);
            if !enough {
                e.detail
                    .push_str(&format!(" (below min_total {min_total})"));
            }
            if st.errors > 0 {
                e.examples = examples();
            }
            e
        }
        Kind::Latency {
            percentile,
            ms,
            min_count,
            groups,
            ..
        } => {
            if !allowed(groups) {
                return None;
            }
            let n = st.latency.count();
            let p = st.latency.quantile(percentile / 100.0).unwrap_or(0.0);
            let enough = n >= *min_count;
            let mut e = base(enough && p >= *ms, value, p, *ms, "ms");
            e.detail = format!("p{} of {n} latencies", trim_num(*percentile));
            if !enough {
                e.detail
                    .push_str(&format!(" (below min_count {min_count})"));
            }
            if st.errors > 0 {
                e.examples = examples();
            }
            e
        }
        Kind::Instant { .. } | Kind::Absence { .. } => return None,
    };
    Some(e)
}

/// A number without a needless fraction: 99 -> "99", 99.9 -> "99.9".
pub(crate) fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// The minutes (start ms) [`evaluate`] reads for a window ending at
/// `end_ms`: what the evaluator must load.
pub fn minutes_needed(rules: &Rules, end_ms: i64) -> Vec<i64> {
    let end = floor_minute(end_ms);
    let longest = rules
        .rules
        .iter()
        .filter(|r| !matches!(r.kind, Kind::Instant { .. }))
        .map(Rule::window_minutes)
        .max()
        .unwrap_or(0);
    (1..=i64::from(longest))
        .rev()
        .map(|k| end.saturating_sub(k * MINUTE_MS))
        .collect()
}
