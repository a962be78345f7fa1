//! Per-source accumulation: what each group did in each minute, as one
//! [`Contribution`] per minute.
//!
//! The windows table holds one item per (minute, source identity), written
//! with a plain put: a redelivered source overwrites its own item instead of
//! adding to it, so the sums the evaluator builds stay exact under
//! at-least-once delivery. Adding the same contribution twice to
//! [`super::WindowSums`] does double count; the table's key is what prevents it.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rules::{Kind, Rule, Rules};
use super::sketch::{Histogram, Hll, bucket_of, hash64};
use crate::ingest::format::clip;
use crate::ingest::{Observer, Origin};
use crate::record::{Level, Record, SourceFormat, TextField};
use crate::time::floor_minute;

/// The group value of records that have none for the group_by field.
pub const NO_VALUE: &str = "(none)";
/// The group value that collects the values past [`MAX_GROUPS`].
pub const OTHER_VALUE: &str = "(other)";
/// Distinct values of one group_by field kept per minute per source; the
/// rest are summed under [`OTHER_VALUE`], bounding the item size.
pub const MAX_GROUPS: usize = 64;
/// Examples kept per group and minute.
pub const MAX_EXAMPLES: usize = 5;
/// Example messages are cut to this many bytes (on a char boundary).
pub const MAX_EXAMPLE_BYTES: usize = 240;

const MINUTE_MS: i64 = 60_000;

/// What an instant alert is deduplicated by: (rule, group value, minute).
pub type InstantKey = (String, String, i64);

/// The [`InstantKey`] of an instant rule's match on `rec` at `ts_ms`.
pub fn instant_key(rule: &Rule, rec: &Record<'_>, ts_ms: i64) -> InstantKey {
    let group = rec.get(rule.group_by()).unwrap_or(NO_VALUE);
    (rule.name.clone(), group.to_owned(), floor_minute(ts_ms))
}

/// What one group did in one minute. All fields merge by addition (sketches
/// by their merge).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(rename = "t", default)]
    pub total: u64,
    /// Level ERROR or FATAL, or no level and http_status >= 500.
    #[serde(rename = "e", default)]
    pub errors: u64,
    /// Per level, in [`Level`] order TRACE..FATAL.
    #[serde(rename = "l", default)]
    pub by_level: [u64; 6],
    /// Per status class 1xx..5xx.
    #[serde(rename = "s", default)]
    pub status: [u64; 5],
    #[serde(rename = "lat", default, skip_serializing_if = "Histogram::is_empty")]
    pub latency: Histogram,
    /// Distinct user_id.
    #[serde(rename = "u", default, skip_serializing_if = "Hll::is_empty")]
    pub users: Hll,
    /// Per threshold rule name: records matching its filter.
    #[serde(rename = "m", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matches: BTreeMap<String, u64>,
    /// At most [`MAX_EXAMPLES`] messages of error or matching records,
    /// already redacted by the caller; the first ones seen.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// The summary's figures, kept for the `service` groups of a
    /// [`Windows::with_summary`] only (empty elsewhere, and then not stored).
    #[serde(rename = "y", default, skip_serializing_if = "Business::is_empty")]
    pub business: Business,
}

/// What the per-minute summary needs beyond the alert figures: the exact
/// latency sum (for the average), distinct sessions, orders, revenue per
/// currency and records per event type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Business {
    /// Sum of the finite `latency_ms` values (the average is this over
    /// `latency.count()`).
    #[serde(rename = "ls", default)]
    pub latency_sum: f64,
    /// Distinct session_id.
    #[serde(rename = "ss", default, skip_serializing_if = "Hll::is_empty")]
    pub sessions: Hll,
    /// Records that are an order: an `order_id` and an `amount`, and not an
    /// error (level below ERROR, status below 400).
    #[serde(rename = "o", default)]
    pub orders: u64,
    /// Sum of `amount` of the orders, per currency ([`NO_VALUE`] without one).
    #[serde(rename = "r", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revenue: BTreeMap<String, f64>,
    /// Records per `event_type`: at most [`MAX_GROUPS`] types per minute
    /// and source, the rest under [`OTHER_VALUE`].
    #[serde(rename = "ev", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, u64>,
}

impl Business {
    pub fn is_empty(&self) -> bool {
        self.latency_sum == 0.0
            && self.sessions.is_empty()
            && self.orders == 0
            && self.revenue.is_empty()
            && self.events.is_empty()
    }

    pub fn merge(&mut self, o: &Business) {
        self.latency_sum += o.latency_sum;
        self.sessions.merge(&o.sessions);
        self.orders = self.orders.saturating_add(o.orders);
        for (k, v) in &o.revenue {
            *self.revenue.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.events {
            let n = self.events.entry(k.clone()).or_default();
            *n = n.saturating_add(*v);
        }
    }

    fn observe(&mut self, rec: &Record<'_>, error: bool) {
        if let Some(ms) = rec.latency_ms.filter(|v| v.is_finite()) {
            self.latency_sum += ms;
        }
        if let Some(s) = rec.get(TextField::SessionId) {
            self.sessions.add(s);
        }
        if let (Some(_), Some(amount)) = (rec.get(TextField::OrderId), rec.amount)
            && !error
            && rec.http_status.is_none_or(|s| s < 400)
            && amount.is_finite()
        {
            self.orders += 1;
            let currency = rec.get(TextField::Currency).unwrap_or(NO_VALUE);
            match self.revenue.get_mut(currency) {
                Some(sum) => *sum += amount,
                None => {
                    self.revenue.insert(currency.to_owned(), amount);
                }
            }
        }
        if let Some(t) = rec.get(TextField::EventType) {
            let key = if self.events.len() >= MAX_GROUPS && !self.events.contains_key(t) {
                OTHER_VALUE
            } else {
                t
            };
            match self.events.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    self.events.insert(key.to_owned(), 1);
                }
            }
        }
    }
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        // Saturating: items read back from the table are not trusted.
        self.total = self.total.saturating_add(o.total);
        self.errors = self.errors.saturating_add(o.errors);
        for (a, b) in self.by_level.iter_mut().zip(o.by_level) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.status.iter_mut().zip(o.status) {
            *a = a.saturating_add(b);
        }
        self.latency.merge(&o.latency);
        self.users.merge(&o.users);
        for (k, v) in &o.matches {
            match self.matches.get_mut(k) {
                Some(n) => *n = n.saturating_add(*v),
                None => {
                    self.matches.insert(k.clone(), *v);
                }
            }
        }
        for x in &o.examples {
            if self.examples.len() >= MAX_EXAMPLES {
                break;
            }
            self.examples.push(x.clone());
        }
        self.business.merge(&o.business);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    /// Column name, e.g. "service".
    pub field: String,
    pub value: String,
}

impl GroupKey {
    pub fn new(field: TextField, value: impl Into<String>) -> Self {
        GroupKey {
            field: field.column().to_owned(),
            value: value.into(),
        }
    }
}

/// One source's contribution to one minute: every group it saw. Serialized
/// (compact JSON) as one item of the windows table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contribution {
    /// Start of the minute, UTC ms.
    pub minute_ms: i64,
    pub groups: Vec<(GroupKey, Stats)>,
}

const CONTRIBUTION_VERSION: u32 = 1;

#[derive(Serialize)]
struct ContributionOut<'a> {
    v: u32,
    minute_ms: i64,
    groups: &'a [(GroupKey, Stats)],
}

#[derive(Deserialize)]
struct ContributionIn {
    #[serde(default = "default_version")]
    v: u32,
    minute_ms: i64,
    groups: Vec<(GroupKey, Stats)>,
}

fn default_version() -> u32 {
    CONTRIBUTION_VERSION
}

impl Contribution {
    pub fn to_json(&self) -> String {
        let out = ContributionOut {
            v: CONTRIBUTION_VERSION,
            minute_ms: self.minute_ms,
            groups: &self.groups,
        };
        // Serializing plain structs of numbers, strings and maps cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// The contribution as JSON documents of at most `max_bytes` each (a
    /// DynamoDB item holds 400 KB): the groups split across as many parts
    /// as needed, each part a contribution of its own, so summing the
    /// parts sums the whole. A group too big alone (examples, then the
    /// distinct-user sketch, then the latency histogram) is trimmed.
    pub fn to_json_parts(&self, max_bytes: usize) -> Vec<String> {
        let whole = self.to_json();
        if whole.len() <= max_bytes {
            return vec![whole];
        }
        let empty = Contribution {
            minute_ms: self.minute_ms,
            groups: Vec::new(),
        };
        let overhead = empty.to_json().len();
        let size = |g: &(GroupKey, Stats)| serde_json::to_string(g).map_or(0, |j| j.len()) + 1;
        let mut parts = Vec::new();
        let mut part = empty.clone();
        let mut len = overhead;
        for g in &self.groups {
            let mut g = g.clone();
            let mut n = size(&g);
            for trim in [trim_examples, trim_users, trim_latency] {
                if overhead + n <= max_bytes {
                    break;
                }
                trim(&mut g.1);
                n = size(&g);
            }
            if !part.groups.is_empty() && len + n > max_bytes {
                parts.push(part.to_json());
                part.groups.clear();
                len = overhead;
            }
            part.groups.push(g);
            len += n;
        }
        if !part.groups.is_empty() {
            parts.push(part.to_json());
        }
        parts
    }

    pub fn from_json(s: &str) -> Result<Contribution, String> {
        let c: ContributionIn =
            serde_json::from_str(s).map_err(|e| format!("invalid window contribution: {e}"))?;
        if c.v != CONTRIBUTION_VERSION {
            return Err(format!(
                "window contribution version {} is not supported (expected {CONTRIBUTION_VERSION})",
                c.v
            ));
        }
        if c.minute_ms.rem_euclid(MINUTE_MS) != 0 {
            return Err(format!(
                "window contribution minute {} is not minute-aligned",
                c.minute_ms
            ));
        }
        Ok(Contribution {
            minute_ms: c.minute_ms,
            groups: c.groups,
        })
    }
}

fn trim_examples(s: &mut Stats) {
    s.examples.clear();
}

fn trim_users(s: &mut Stats) {
    s.users = Hll::default();
}

fn trim_latency(s: &mut Stats) {
    s.latency = Histogram::default();
    s.business.latency_sum = 0.0;
}

// ------------------------------------------------------------- accumulation

/// FxHash-style hasher for the small per-minute group tables: the keys are
/// capped in number ([`MAX_GROUPS`]), so flooding is not a concern and speed is.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(26);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0 ^ u64::from(i)).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The groups of one group_by field in one minute.
#[derive(Debug, Default)]
struct GroupTable {
    index: FastMap<String, usize>,
    groups: Vec<(String, Stats)>,
}

impl GroupTable {
    fn slot(&mut self, value: &str) -> &mut Stats {
        let i = match self.index.get(value) {
            Some(&i) => i,
            None => {
                let value = if self.groups.len() >= MAX_GROUPS {
                    OTHER_VALUE
                } else {
                    value
                };
                match self.index.get(value) {
                    Some(&i) => i,
                    None => {
                        self.index.insert(value.to_owned(), self.groups.len());
                        self.groups.push((value.to_owned(), Stats::default()));
                        self.groups.len() - 1
                    }
                }
            }
        };
        &mut self.groups[i].1
    }
}

impl std::fmt::Debug for FastHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastHasher")
    }
}

#[derive(Debug)]
struct Minute {
    minute_ms: i64,
    /// One table per tracked field, in `Windows::fields` order.
    tables: Vec<GroupTable>,
}

/// What a record is, computed once and applied to each of its groups.
struct Facts {
    error: bool,
    level: Option<usize>,
    status: Option<usize>,
    latency: Option<Option<i32>>,
    user: Option<u64>,
}

/// Accumulates a source's records, per minute and group, for the rules'
/// group_by fields.
#[derive(Debug)]
pub struct Windows {
    rules: Arc<Rules>,
    /// The distinct group_by fields of the window rules (service first when
    /// an absence rule needs it).
    fields: Vec<TextField>,
    /// Threshold rules: (index in rules, index in fields).
    thresholds: Vec<(usize, usize)>,
    instants: Vec<usize>,
    /// Sorted by minute.
    minutes: Vec<Minute>,
    /// The minute the last record went to: records mostly come in order.
    last: usize,
    /// Scratch: the thresholds the current record matched.
    matched: Vec<usize>,
    /// The index in `fields` of `service` when the summary's figures are
    /// kept ([`Windows::with_summary`]).
    summary: Option<usize>,
}

impl Windows {
    pub fn new(rules: Arc<Rules>) -> Windows {
        let mut fields: Vec<TextField> = Vec::new();
        let mut thresholds = Vec::new();
        let mut instants = Vec::new();
        for (i, r) in rules.rules.iter().enumerate() {
            if let Kind::Instant { .. } = r.kind {
                instants.push(i);
                continue;
            }
            let f = r.group_by();
            let fi = match fields.iter().position(|x| *x == f) {
                Some(p) => p,
                None => {
                    fields.push(f);
                    fields.len() - 1
                }
            };
            if let Kind::Threshold { .. } = r.kind {
                thresholds.push((i, fi));
            }
        }
        Windows {
            rules,
            fields,
            thresholds,
            instants,
            minutes: Vec::new(),
            last: 0,
            matched: Vec::new(),
            summary: None,
        }
    }

    /// Windows that also keep, per minute and `service`, what the summary
    /// table needs ([`Business`]); with no rules, only that.
    pub fn with_summary(rules: Arc<Rules>) -> Windows {
        let mut w = Windows::new(rules);
        let fi = match w.fields.iter().position(|f| *f == TextField::Service) {
            Some(p) => p,
            None => {
                w.fields.push(TextField::Service);
                w.fields.len() - 1
            }
        };
        w.summary = Some(fi);
        w
    }

    pub fn rules(&self) -> &Arc<Rules> {
        &self.rules
    }

    /// Called once per finished record (after redaction), with its event
    /// time. Records with no value for a group_by field are grouped under
    /// [`NO_VALUE`].
    pub fn observe(&mut self, rec: &Record<'_>, ts_ms: i64) {
        if self.fields.is_empty() {
            return;
        }
        let minute_ms = floor_minute(ts_ms);
        let mi = self.minute_index(minute_ms);

        let level = rec.level;
        let status = rec
            .http_status
            .and_then(|s| usize::try_from(s / 100 - 1).ok())
            .filter(|c| *c < 5);
        let facts = Facts {
            error: match level {
                Some(l) => l >= Level::Error,
                None => rec.http_status.is_some_and(|s| s >= 500),
            },
            level: level.map(|l| l as usize),
            status,
            latency: rec.latency_ms.map(bucket_of),
            user: rec.get(TextField::UserId).map(|u| hash64(u.as_bytes())),
        };
        self.matched.clear();
        for (ti, &(ri, _)) in self.thresholds.iter().enumerate() {
            if let Some(Rule {
                kind: Kind::Threshold { filter, .. },
                ..
            }) = self.rules.rules.get(ri)
                && filter.matches(rec)
            {
                self.matched.push(ti);
            }
        }

        let Some(minute) = self.minutes.get_mut(mi) else {
            return;
        };
        for (fi, &field) in self.fields.iter().enumerate() {
            let Some(table) = minute.tables.get_mut(fi) else {
                continue;
            };
            let value = rec.get(field).unwrap_or(NO_VALUE);
            let st = table.slot(value);
            st.total += 1;
            if facts.error {
                st.errors += 1;
            }
            if let Some(l) = facts.level {
                st.by_level[l] += 1;
            }
            if let Some(c) = facts.status {
                st.status[c] += 1;
            }
            if let Some(b) = facts.latency {
                st.latency.add_bucket(b, 1);
            }
            if let Some(h) = facts.user {
                st.users.add_hash(h);
            }
            if self.summary == Some(fi) {
                st.business.observe(rec, facts.error);
            }
            let mut matched_here = false;
            for &ti in &self.matched {
                let Some(&(ri, tfi)) = self.thresholds.get(ti) else {
                    continue;
                };
                if tfi != fi {
                    continue;
                }
                matched_here = true;
                let Some(rule) = self.rules.rules.get(ri) else {
                    continue;
                };
                match st.matches.get_mut(rule.name.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        st.matches.insert(rule.name.clone(), 1);
                    }
                }
            }
            if (facts.error || matched_here)
                && st.examples.len() < MAX_EXAMPLES
                && let Some(m) = rec.get(TextField::Message)
            {
                st.examples.push(clip(m, MAX_EXAMPLE_BYTES).to_owned());
            }
        }
    }

    fn minute_index(&mut self, minute_ms: i64) -> usize {
        if self
            .minutes
            .get(self.last)
            .is_some_and(|m| m.minute_ms == minute_ms)
        {
            return self.last;
        }
        let i = match self
            .minutes
            .binary_search_by_key(&minute_ms, |m| m.minute_ms)
        {
            Ok(i) => i,
            Err(i) => {
                let tables = self.fields.iter().map(|_| GroupTable::default()).collect();
                self.minutes.insert(i, Minute { minute_ms, tables });
                i
            }
        };
        self.last = i;
        i
    }

    /// Instant rules this record matches (the caller dedups and publishes).
    pub fn instant_matches<'r>(&'r self, rec: &Record<'_>) -> Vec<&'r Rule> {
        self.instants
            .iter()
            .filter_map(|&i| self.rules.rules.get(i))
            .filter(|r| match &r.kind {
                Kind::Instant { filter, .. } => filter.matches(rec),
                _ => false,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// The accumulated minutes, in order; groups sorted by key.
    pub fn contributions(&self) -> Vec<Contribution> {
        self.minutes
            .iter()
            .map(|m| {
                let mut groups = Vec::new();
                for (fi, table) in m.tables.iter().enumerate() {
                    let Some(field) = self.fields.get(fi) else {
                        continue;
                    };
                    for (value, st) in &table.groups {
                        groups.push((GroupKey::new(*field, value.as_str()), st.clone()));
                    }
                }
                groups.sort_by(|a, b| a.0.cmp(&b.0));
                Contribution {
                    minute_ms: m.minute_ms,
                    groups,
                }
            })
            .collect()
    }

    /// Forget what was accumulated (the rules stay).
    pub fn clear(&mut self) {
        self.minutes.clear();
        self.last = 0;
    }
}

impl Observer for Windows {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, _: SourceFormat, _: &Origin<'_>) {
        Windows::observe(self, rec, ts);
    }
}
