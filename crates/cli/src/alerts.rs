//! `loglake alerts eval`: the alert rules over a local lake, minute by
//! minute, with the arithmetic the functions use (core's `alerts`): what
//! would have fired, when, and when it resolved.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use loglake_core::ingest::scan;
use loglake_core::sinks::alerts::{
    GroupKey, InstantKey, Notification, Rules, Transition, WindowSums, Windows, evaluate,
    instant_key, notify, notify_instant,
};
use loglake_core::time::floor_minute;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Evaluate the rules over a local lake and print what would fire
    Eval(EvalArgs),
    /// Check a rules file and print its rules
    Check {
        /// The rules file
        #[arg(long, default_value = "alerts.toml")]
        rules: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The lake directory
    #[arg(long, default_value = "./lake")]
    lake: PathBuf,
    /// The rules file
    #[arg(long, default_value = "alerts.toml")]
    rules: PathBuf,
    /// First minute to evaluate, RFC 3339 (default: the lake's first record)
    #[arg(long)]
    from: Option<String>,
    /// End of the range, RFC 3339, exclusive (default: after the last record)
    #[arg(long)]
    to: Option<String>,
    /// Print the notifications (SNS subject and JSON body) as JSON lines
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Check { rules } => {
            let r = Rules::from_file(&rules)?;
            println!("{}: {} rules", rules.display(), r.rules.len());
            for rule in &r.rules {
                println!(
                    "  {:<32} {:<10} {:<8} cooldown {} min",
                    rule.name,
                    rule.kind.as_str(),
                    rule.severity.as_str(),
                    rule.cooldown_minutes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Eval(a) => eval(a),
    }
}

fn time_arg(s: &Option<String>, what: &str) -> anyhow::Result<Option<i64>> {
    s.as_deref()
        .map(|t| {
            loglake_core::time::parse_iso8601(t)
                .with_context(|| format!("--{what} {t:?} is not an RFC 3339 time"))
        })
        .transpose()
}

fn eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let rules = Arc::new(Rules::from_file(&a.rules)?);
    let from = time_arg(&a.from, "from")?.unwrap_or(i64::MIN / 4);
    let to = time_arg(&a.to, "to")?.unwrap_or(i64::MAX / 4);
    if from >= to {
        bail!("--from must be before --to");
    }
    let files = scan::lake_files(&a.lake, from, to)?;
    if files.is_empty() {
        bail!(
            "no Parquet files in {} for that range (ingest something first: loglake ingest FILE --lake {})",
            a.lake.display(),
            a.lake.display()
        );
    }
    // One pass over the rows: the same accumulation fn-ingest does per
    // source, here over the whole range.
    let mut windows = Windows::new(rules.clone());
    let mut instants: BTreeMap<InstantKey, serde_json::Value> = BTreeMap::new();
    let mut instant_counts: HashMap<String, u64> = HashMap::new();
    let (mut first, mut last, mut rows) = (i64::MAX, i64::MIN, 0u64);
    for f in &files {
        rows += scan::scan_file(f, from, to, &mut |rec, ts| {
            first = first.min(ts);
            last = last.max(ts);
            windows.observe(rec, ts);
            for rule in windows.instant_matches(rec) {
                *instant_counts.entry(rule.name.clone()).or_insert(0) += 1;
                instants
                    .entry(instant_key(rule, rec, ts))
                    .or_insert_with(|| {
                        let n = notify_instant(rule, rec, ts, &rules.settings);
                        serde_json::json!({"subject": n.subject, "body": n.body, "attributes": n.attributes})
                    });
            }
        })?;
    }
    if rows == 0 {
        bail!("no rows in that range");
    }
    let mut sums = WindowSums::new();
    for c in windows.contributions() {
        sums.add(&c);
    }
    println!(
        "{} rows from {} files, {} .. {}; {} rules",
        rows,
        files.len(),
        loglake_core::time::format_rfc3339_ms(first),
        loglake_core::time::format_rfc3339_ms(last),
        rules.rules.len()
    );
    let mut fired = 0;
    for c in timeline(&rules, &sums, first, last) {
        let n = &c.notification;
        fired += usize::from(matches!(c.to, Transition::Firing));
        if a.json {
            println!(
                "{}",
                serde_json::json!({"at": loglake_core::time::format_rfc3339_ms(c.at_ms),
                    "subject": n.subject, "body": n.body, "attributes": n.attributes})
            );
        } else {
            println!(
                "{}  {}",
                &loglake_core::time::format_rfc3339_ms(c.at_ms)[..16],
                n.subject
            );
            if matches!(c.to, Transition::Firing) {
                println!("      {}", c.detail);
            }
        }
    }
    for ((rule, group, minute), n) in &instants {
        if a.json {
            println!("{n}");
        } else {
            println!(
                "{}  {}  ({} matching lines for {rule}, group {group})",
                &loglake_core::time::format_rfc3339_ms(*minute)[..16],
                n["subject"].as_str().unwrap_or_default(),
                instant_counts.get(rule).copied().unwrap_or(0)
            );
        }
    }
    if !a.json {
        println!(
            "{fired} window alerts fired, {} instant alerts (one per rule, group and minute)",
            instants.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A state change the rules make, as fn-alerts would make it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The evaluation minute.
    pub at_ms: i64,
    pub rule: String,
    pub group: GroupKey,
    pub to: Transition,
    pub notification: Notification,
    /// What breached (firing changes).
    pub detail: String,
}

/// Every state change over data from `first` to `last` (ms), minute by
/// minute as fn-alerts runs: state per (rule, group) and cooldowns. It
/// starts once the longest window is full of data: before that, every
/// absence rule would see silence that is only the start of the data.
pub fn timeline(rules: &Rules, sums: &WindowSums, first: i64, last: i64) -> Vec<Change> {
    #[derive(Default)]
    struct State {
        firing: bool,
        resolved_at: Option<i64>,
    }
    let start = floor_minute(first) + i64::from(rules.max_window_minutes().max(1)) * 60_000;
    let end = floor_minute(last) + 2 * 60_000;
    let mut state: HashMap<(String, GroupKey), State> = HashMap::new();
    let mut out = Vec::new();
    let mut t = start;
    while t <= end {
        for e in evaluate(rules, sums, t) {
            let Some(rule) = rules.get(&e.rule) else {
                continue;
            };
            let s = state.entry((e.rule.clone(), e.group.clone())).or_default();
            let change = if e.breaching && !s.firing {
                let cooled = s
                    .resolved_at
                    .is_none_or(|r| t - r >= i64::from(rule.cooldown_minutes) * 60_000);
                cooled.then_some(Transition::Firing)
            } else if !e.breaching && s.firing {
                Some(Transition::Resolved)
            } else {
                None
            };
            let Some(change) = change else { continue };
            match change {
                Transition::Firing => s.firing = true,
                Transition::Resolved => {
                    s.firing = false;
                    s.resolved_at = Some(t);
                }
            }
            out.push(Change {
                at_ms: t,
                rule: e.rule.clone(),
                group: e.group.clone(),
                to: change,
                notification: notify(rule, &e, change, &rules.settings),
                detail: e.detail.clone(),
            });
        }
        t += 60_000;
    }
    out
}
