//! `loglake report`: one self-contained HTML page over a local lake, for
//! people to look at: records per minute by level, error rate and p95
//! latency per service, the HTTP status mix, the top error messages grouped
//! by template, and the alerts `loglake alerts eval` would raise, drawn on
//! the timeline. The figures are the summary's (the same window arithmetic
//! the functions use); the page is `template.html` with the data inlined
//! as JSON, drawn as SVG by its own script: nothing is fetched when it is
//! opened.

mod errors;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use loglake_core::ingest::scan;
use loglake_core::record::Level;
use loglake_core::sinks::alerts::{
    InstantKey, Rules, Stats, Transition, WindowSums, Windows, instant_key, notify_instant,
};
use loglake_core::time::{floor_minute, format_rfc3339_ms};
use serde_json::{Value, json};

use crate::alerts::timeline;
use crate::lake;

const TEMPLATE: &str = include_str!("template.html");
const PLACEHOLDER: &str = "/*LOGLAKE_REPORT_DATA*/null";
const MINUTE_MS: i64 = 60_000;
/// More minutes than this are refused: the page draws every minute.
const MAX_MINUTES: i64 = 14 * 24 * 60;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The local lake
    #[arg(long, default_value = "lake")]
    lake: PathBuf,
    /// Alert rules drawn on the timeline (default: ./alerts.toml when it exists)
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Start of the range: RFC 3339 time or date (default: the lake's first record)
    #[arg(long)]
    from: Option<String>,
    /// End of the range, exclusive (default: after the lake's last record)
    #[arg(long)]
    to: Option<String>,
    /// The HTML file to write (default: LAKE/report.html)
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The columns the report reads.
const COLUMNS: &[&str] = &[
    "ts",
    "level",
    "service",
    "message",
    "host",
    "http_method",
    "http_path",
    "http_status",
    "latency_ms",
    "user_id",
    "session_id",
    "event_type",
    "order_id",
    "amount",
    "currency",
    "error_type",
];

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let rules = match &a.rules {
        Some(p) => Rules::from_file(p)?,
        None if Path::new("alerts.toml").exists() => Rules::from_file(Path::new("alerts.toml"))?,
        None => Rules::default(),
    };
    let from = a
        .from
        .as_deref()
        .map(|s| lake::parse_time("--from", s))
        .transpose()?;
    let to =
        a.to.as_deref()
            .map(|s| lake::parse_time("--to", s))
            .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        bail!("--from must be before --to");
    }
    let data = build(&a.lake, Arc::new(rules), from, to)?;
    let out = a.out.unwrap_or_else(|| a.lake.join("report.html"));
    std::fs::write(&out, render(&data))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "report: {} minutes, {} records, {} alerts -> {}",
        data["totals"]["minutes"],
        data["totals"]["records"],
        data["totals"]["alerts"],
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The page: the template with the data inlined. `<` is escaped in the
/// JSON, so no value can close the script element.
pub fn render(data: &Value) -> String {
    let json = data.to_string().replace('<', "\\u003c");
    TEMPLATE.replacen(PLACEHOLDER, &json, 1)
}

/// The report's data over `[from, to)` of the lake (its whole time range
/// by default).
pub fn build(
    lake_dir: &Path,
    rules: Arc<Rules>,
    from: Option<i64>,
    to: Option<i64>,
) -> anyhow::Result<Value> {
    let hours = lake::hours(lake_dir, "logs")?;
    let (Some(&first_hour), Some(&last_hour)) = (hours.first(), hours.last()) else {
        bail!(
            "no rows in {} (ingest something first: loglake ingest FILE --lake {})",
            lake_dir.display(),
            lake_dir.display()
        );
    };
    let from = from.unwrap_or(first_hour);
    let to = to.unwrap_or(last_hour + lake::HOUR_MS);

    let mut windows = Windows::with_summary(rules.clone());
    let mut errors = errors::TopErrors::default();
    let mut instants: BTreeMap<InstantKey, (String, String)> = BTreeMap::new();
    let (mut first, mut last, mut records) = (i64::MAX, i64::MIN, 0u64);
    for file in scan::lake_files(lake_dir, from, to)? {
        records += scan::scan_columns(&file, from, to, COLUMNS, &mut |rec, ts| {
            first = first.min(ts);
            last = last.max(ts);
            windows.observe(rec, ts);
            errors.observe(rec, ts);
            for rule in windows.instant_matches(rec) {
                instants
                    .entry(instant_key(rule, rec, ts))
                    .or_insert_with(|| {
                        let n = notify_instant(rule, rec, ts, &rules.settings);
                        (rule.severity.as_str().to_string(), n.subject)
                    });
            }
        })?;
    }
    let mut sums = WindowSums::new();
    for c in windows.contributions() {
        sums.add(&c);
    }
    let (start, end) = if records == 0 {
        (floor_minute(from), floor_minute(from))
    } else {
        (floor_minute(first), floor_minute(last) + MINUTE_MS)
    };
    if (end - start) / MINUTE_MS > MAX_MINUTES {
        bail!(
            "the range holds {} minutes; a report draws at most {MAX_MINUTES} (14 days): narrow it with --from/--to",
            (end - start) / MINUTE_MS
        );
    }
    let minutes: Vec<i64> = (start..end).step_by(MINUTE_MS as usize).collect();
    let index: HashMap<i64, usize> = minutes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let n = minutes.len();

    // Per service and minute: the service groups of the windows.
    let mut services: BTreeMap<&str, Vec<Option<&Stats>>> = BTreeMap::new();
    for (m, key, st) in sums.iter() {
        if key.field != "service" {
            continue;
        }
        if let Some(&i) = index.get(&m) {
            services
                .entry(key.value.as_str())
                .or_insert_with(|| vec![None; n])[i] = Some(st);
        }
    }
    let level_names = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let mut levels = vec![vec![0u64; n]; level_names.len() + 1];
    let mut status = vec![vec![0u64; n]; 5];
    let mut total_errors = 0u64;
    let mut per_service = Vec::new();
    for (name, by_minute) in &services {
        let mut rec = Vec::with_capacity(n);
        let mut err = Vec::with_capacity(n);
        let mut pct = Vec::with_capacity(n);
        let mut p95 = Vec::with_capacity(n);
        let mut sum = 0u64;
        for (i, st) in by_minute.iter().enumerate() {
            let Some(st) = st else {
                rec.push(json!(0));
                err.push(json!(0));
                pct.push(Value::Null);
                p95.push(Value::Null);
                continue;
            };
            let e = st.by_level[Level::Error as usize] + st.by_level[Level::Fatal as usize];
            for (l, v) in st.by_level.iter().enumerate() {
                levels[l][i] += v;
            }
            levels[level_names.len()][i] += st.total - st.by_level.iter().sum::<u64>();
            for (c, v) in st.status.iter().enumerate() {
                status[c][i] += v;
            }
            sum += st.total;
            total_errors += e;
            rec.push(json!(st.total));
            err.push(json!(e));
            pct.push(json!(round2(e as f64 * 100.0 / st.total.max(1) as f64)));
            p95.push(
                st.latency
                    .quantile(0.95)
                    .map_or(Value::Null, |v| json!(round2(v))),
            );
        }
        per_service.push((
            sum,
            json!({"name": name, "records": rec, "errors": err, "error_pct": pct, "p95_ms": p95}),
        ));
    }
    per_service.sort_by_key(|b| std::cmp::Reverse(b.0));

    let mut alerts = alert_intervals(&rules, &sums, first, last, records);
    for ((rule, group, minute), (severity, subject)) in &instants {
        alerts.push(json!({
            "rule": rule, "kind": "instant", "severity": severity, "group": format!("service={group}"),
            "from": format_rfc3339_ms(*minute), "to": format_rfc3339_ms(minute + MINUTE_MS),
            "summary": subject,
        }));
    }
    let mut level_map = serde_json::Map::new();
    for (i, name) in level_names.iter().chain(["(none)"].iter()).enumerate() {
        level_map.insert((*name).to_string(), json!(levels[i]));
    }
    let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    let status_map: serde_json::Map<String, Value> = classes
        .iter()
        .zip(&status)
        .map(|(c, v)| ((*c).to_string(), json!(v)))
        .collect();
    let alert_count = alerts.len();
    Ok(json!({
        "title": "loglake report",
        "lake": lake_dir.display().to_string(),
        "from": format_rfc3339_ms(start).replace(".000Z", "Z"),
        "to": format_rfc3339_ms(end).replace(".000Z", "Z"),
        "generated_at": format_rfc3339_ms(now_ms()).replace(".000Z", "Z"),
        "minutes": minutes.iter().map(|m| format_rfc3339_ms(*m).replace(".000Z", "Z")).collect::<Vec<_>>(),
        "levels": level_map,
        "status": status_map,
        "services": per_service.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "top_errors": errors.top(20),
        "alerts": alerts,
        "totals": {"records": records, "errors": total_errors, "services": services.len(),
                   "minutes": n, "alerts": alert_count},
    }))
}

/// The intervals during which each window rule fired.
fn alert_intervals(
    rules: &Rules,
    sums: &WindowSums,
    first: i64,
    last: i64,
    records: u64,
) -> Vec<Value> {
    if records == 0 {
        return Vec::new();
    }
    let mut open: HashMap<(String, String), (i64, String, String, String)> = HashMap::new();
    let mut out = Vec::new();
    let interval = |rule: &str, group: &str, v: &(i64, String, String, String), to: Value| {
        json!({"rule": rule, "kind": v.1, "severity": v.2, "group": group,
               "from": format_rfc3339_ms(v.0).replace(".000Z", "Z"), "to": to, "summary": v.3})
    };
    for c in timeline(rules, sums, first, last) {
        let group = format!("{}={}", c.group.field, c.group.value);
        let key = (c.rule.clone(), group.clone());
        match c.to {
            Transition::Firing => {
                let (kind, severity) = rules
                    .get(&c.rule)
                    .map(|r| (r.kind.as_str(), r.severity.as_str()))
                    .unwrap_or(("", ""));
                let summary = if c.detail.is_empty() {
                    c.notification.subject.clone()
                } else {
                    c.detail.clone()
                };
                open.insert(
                    key,
                    (c.at_ms, kind.to_string(), severity.to_string(), summary),
                );
            }
            Transition::Resolved => {
                if let Some(v) = open.remove(&key) {
                    let to = json!(format_rfc3339_ms(c.at_ms).replace(".000Z", "Z"));
                    out.push(interval(&c.rule, &group, &v, to));
                }
            }
        }
    }
    let mut still: Vec<_> = open.into_iter().collect();
    still.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.0.cmp(&b.0)));
    for ((rule, group), v) in still {
        out.push(interval(&rule, &group, &v, Value::Null));
    }
    out.sort_by(|a, b| a["from"].as_str().cmp(&b["from"].as_str()));
    out
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
