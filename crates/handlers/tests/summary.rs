//! fn-alerts' hourly summary against in-memory stores: which hours a run
//! writes (the last closed ones, a few at a time, nothing twice), late
//! markers rebuilding exactly their hour and cleared only if unchanged,
//! byte-identical files for the same items, and a summary that fails the
//! invocation only after the alerts went out.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use loglake_core::record::{Level, Record, TextField};
use loglake_core::sinks::alerts::{
    Contribution, GroupKey, Notification, Rule, Rules, Transition, WindowSums, Windows,
};
use loglake_core::summary::{self, SummaryRow};
use loglake_handlers::alerts::AlertError;
use loglake_handlers::alerts::LiveRules;
use loglake_handlers::alerts::evaluate::Evaluator;
use loglake_handlers::alerts::summary::{HOUR_MS, Scheduled, Summarizer};
use loglake_handlers::effects::{
    BoxFuture, Pending, Publisher, StateStore, SummaryStore, WindowStore,
};

/// The default delay (2 minutes), and an absence rule that fires with no
/// records of `pay`.
const RULES: &str = r#"
[[rule]]
name = "pay-silent"
kind = "absence"
services = ["pay"]
minutes = 5
"#;

/// 2024-03-14T20:00:00Z, an hour's start.
const H0: i64 = 1_710_446_400_000;
const MIN: i64 = 60_000;
const DELAY: i64 = 2 * MIN;

fn rules() -> Arc<Rules> {
    Arc::new(Rules::parse(RULES).unwrap())
}

/// The window items, progress and late markers of the windows table.
#[derive(Default)]
struct MemWindows {
    items: Mutex<BTreeMap<(i64, String), Contribution>>,
    progress: Mutex<Option<i64>>,
    late: Mutex<BTreeMap<i64, i64>>,
    /// A writer refreshing the marker of (hour, to at) while the hour is
    /// being read: done on the next load of that hour.
    refresh_on_load: Mutex<Option<(i64, i64)>>,
}

impl MemWindows {
    /// A writer's contributions, as `DynamoWindows::put` stores them.
    fn write(&self, source: &str, contributions: &[Contribution]) {
        let mut items = self.items.lock().unwrap();
        for c in contributions {
            items.insert((c.minute_ms, source.to_string()), c.clone());
        }
    }

    /// A writer's late marker.
    fn mark(&self, hour: i64, at: i64) {
        self.late.lock().unwrap().insert(hour, at);
    }
}

impl WindowStore for MemWindows {
    fn put<'a>(
        &'a self,
        source: &'a str,
        c: &'a [Contribution],
    ) -> BoxFuture<'a, Result<u64, AlertError>> {
        Box::pin(async move {
            self.write(source, c);
            Ok(c.len() as u64)
        })
    }

    fn load<'a>(&'a self, minutes: &'a [i64]) -> BoxFuture<'a, Result<WindowSums, AlertError>> {
        Box::pin(async move {
            let mut sums = WindowSums::new();
            for ((m, _), c) in self.items.lock().unwrap().iter() {
                if minutes.contains(m) {
                    sums.add(c);
                }
            }
            let refresh = *self.refresh_on_load.lock().unwrap();
            if let Some((hour, at)) = refresh
                && minutes.contains(&hour)
            {
                self.mark(hour, at);
                *self.refresh_on_load.lock().unwrap() = None;
            }
            Ok(sums)
        })
    }

    fn summary_progress(&self) -> BoxFuture<'_, Result<Option<i64>, AlertError>> {
        Box::pin(async move { Ok(*self.progress.lock().unwrap()) })
    }

    fn set_summary_progress(&self, hour: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        Box::pin(async move {
            *self.progress.lock().unwrap() = Some(hour);
            Ok(())
        })
    }

    fn late_hours(&self) -> BoxFuture<'_, Result<Vec<(i64, i64)>, AlertError>> {
        Box::pin(async move {
            Ok(self
                .late
                .lock()
                .unwrap()
                .iter()
                .map(|(h, a)| (*h, *a))
                .collect())
        })
    }

    fn clear_late(&self, hour: i64, at: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        Box::pin(async move {
            let mut late = self.late.lock().unwrap();
            if late.get(&hour) == Some(&at) {
                late.remove(&hour);
            }
            Ok(())
        })
    }
}

/// The curated bucket: every put kept in order; refuses when `fail`.
#[derive(Default)]
struct MemBucket {
    puts: Mutex<Vec<(String, Vec<u8>)>>,
    fail: Mutex<bool>,
}

impl MemBucket {
    fn keys(&self) -> Vec<String> {
        self.puts
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn latest(&self, key: &str) -> Option<Vec<u8>> {
        self.puts
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, b)| b.clone())
    }
}

impl SummaryStore for MemBucket {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            if *self.fail.lock().unwrap() {
                return Err(AlertError::Summary {
                    key: key.into(),
                    message: "access denied: s3:PutObject".into(),
                });
            }
            self.puts.lock().unwrap().push((key.to_string(), body));
            Ok(())
        })
    }
}

/// `n` records a minute of `service` in minutes `minutes` of `hour`, every
/// fifth an ERROR, with a latency.
fn traffic(hour: i64, minutes: std::ops::Range<i64>, service: &str, n: i64) -> Vec<Contribution> {
    let mut w = Windows::with_summary(rules());
    for m in minutes {
        for i in 0..n {
            let mut r = Record::default();
            r.set(TextField::Service, service.to_string());
            r.level = Some(if i % 5 == 0 {
                Level::Error
            } else {
                Level::Info
            });
            r.latency_ms = Some(10.0 + i as f64);
            w.observe(&r, hour + m * MIN + i * 100);
        }
    }
    w.contributions()
}

fn summarizer(windows: &Arc<MemWindows>, bucket: &Arc<MemBucket>) -> Summarizer {
    Summarizer::new(
        windows.clone(),
        bucket.clone(),
        LiveRules::fixed("alert rules", Rules::clone(&rules())),
    )
}

/// A moment when `hour` is the last closed one.
fn closing(hour: i64) -> i64 {
    hour + HOUR_MS + DELAY + 5_000
}

/// The rows of `hour` as the stores hold them now.
async fn rows_of(windows: &MemWindows, hour: i64) -> Vec<SummaryRow> {
    let minutes: Vec<i64> = (0..60).map(|m| hour + m * MIN).collect();
    summary::rows(&windows.load(&minutes).await.unwrap())
}

fn records(rows: &[SummaryRow], service: &str) -> i64 {
    rows.iter()
        .filter(|r| r.service == service)
        .map(|r| r.records)
        .sum()
}

#[tokio::test]
async fn a_first_run_writes_the_last_closed_hours_and_a_run_in_the_same_hour_nothing() {
    let (windows, bucket) = (
        Arc::new(MemWindows::default()),
        Arc::new(MemBucket::default()),
    );
    // Data three and two hours before H0, none one hour before, and in H0.
    windows.write("a", &traffic(H0 - 3 * HOUR_MS, 0..5, "cart", 4));
    windows.write("a2", &traffic(H0 - 2 * HOUR_MS, 0..10, "cart", 4));
    windows.write("b", &traffic(H0 - 2 * HOUR_MS, 5..8, "pay", 2));
    windows.write("c", &traffic(H0, 0..60, "cart", 3));
    // The current hour (not closed): never written.
    windows.write("d", &traffic(H0 + HOUR_MS, 0..2, "cart", 3));
    let s = summarizer(&windows, &bucket);

    // Not closed yet a minute before the delay has passed.
    assert_eq!(s.closed_hour(H0 + HOUR_MS + DELAY - MIN), H0 - HOUR_MS);
    let r = s.run(closing(H0)).await.unwrap();
    assert_eq!(
        bucket.keys(),
        [summary::hour_key(H0 - 2 * HOUR_MS), summary::hour_key(H0)],
        "{r:?}"
    );
    assert_eq!(r.empty.len(), 1, "{r:?}");
    assert_eq!(*windows.progress.lock().unwrap(), Some(H0));
    assert_eq!(
        r.progress.as_deref(),
        Some("2024-03-14T20:00:00.000Z"),
        "{r:?}"
    );
    // Each file is the hour's rows: records per service and minute.
    let body = bucket.latest(&summary::hour_key(H0 - 2 * HOUR_MS)).unwrap();
    let rows = rows_of(&windows, H0 - 2 * HOUR_MS).await;
    assert_eq!((records(&rows, "cart"), records(&rows, "pay")), (40, 6));
    assert_eq!(rows.len(), 10 + 3);
    assert_eq!(body, summary::parquet_bytes(&rows).unwrap());

    // Later in the same hour: nothing new.
    for later in [closing(H0) + 10 * MIN, H0 + 2 * HOUR_MS + DELAY - 1] {
        let r = s.run(later).await.unwrap();
        assert!(r.written.is_empty() && r.empty.is_empty(), "{r:?}");
    }
    assert_eq!(bucket.keys().len(), 2);
    // The next hour closes: it alone is written.
    s.run(closing(H0 + HOUR_MS)).await.unwrap();
    assert_eq!(bucket.keys().len(), 3);
    assert_eq!(bucket.keys()[2], summary::hour_key(H0 + HOUR_MS));
}

#[tokio::test]
async fn a_run_catches_up_at_most_three_hours() {
    let (windows, bucket) = (
        Arc::new(MemWindows::default()),
        Arc::new(MemBucket::default()),
    );
    for h in 0..10 {
        windows.write(
            &format!("s{h}"),
            &traffic(H0 - h * HOUR_MS, 0..1, "cart", 1),
        );
    }
    *windows.progress.lock().unwrap() = Some(H0 - 10 * HOUR_MS);
    let s = summarizer(&windows, &bucket);
    let r = s.run(closing(H0)).await.unwrap();
    assert_eq!(r.written.len(), 3, "{r:?}");
    assert_eq!(*windows.progress.lock().unwrap(), Some(H0 - 7 * HOUR_MS));
    for _ in 0..3 {
        s.run(closing(H0)).await.unwrap();
    }
    assert_eq!(*windows.progress.lock().unwrap(), Some(H0));
    assert_eq!(bucket.keys().len(), 10);
}

#[tokio::test]
async fn a_late_marker_rebuilds_exactly_its_hour_with_the_late_items_and_is_cleared() {
    let (windows, bucket) = (
        Arc::new(MemWindows::default()),
        Arc::new(MemBucket::default()),
    );
    for h in [H0 - 2 * HOUR_MS, H0 - HOUR_MS, H0] {
        windows.write("early", &traffic(h, 0..3, "cart", 5));
    }
    let s = summarizer(&windows, &bucket);
    s.run(closing(H0)).await.unwrap();
    let key = summary::hour_key(H0 - HOUR_MS);
    let before = bucket.latest(&key).unwrap();
    assert_eq!(bucket.keys().len(), 3);

    // A late file: a new service in that hour, and its writer's marker.
    windows.write("late", &traffic(H0 - HOUR_MS, 30..32, "search", 7));
    windows.mark(H0 - HOUR_MS, closing(H0) + 30_000);
    let r = s.run(closing(H0) + MIN).await.unwrap();
    assert_eq!(r.late.len(), 1, "{r:?}");
    assert_eq!(bucket.keys().len(), 4, "only that hour is written again");
    assert_eq!(bucket.keys()[3], key);
    let after = bucket.latest(&key).unwrap();
    assert_ne!(before, after);
    let rows = rows_of(&windows, H0 - HOUR_MS).await;
    assert_eq!((records(&rows, "cart"), records(&rows, "search")), (15, 14));
    assert_eq!(after, summary::parquet_bytes(&rows).unwrap());
    assert!(windows.late.lock().unwrap().is_empty());

    // A marker for an hour not done yet stays until its turn.
    windows.write("next", &traffic(H0 + HOUR_MS, 0..1, "cart", 1));
    windows.mark(H0 + HOUR_MS, closing(H0) + 2 * MIN);
    s.run(closing(H0) + 3 * MIN).await.unwrap();
    assert_eq!(windows.late.lock().unwrap().len(), 1);
    assert_eq!(bucket.keys().len(), 4);
    let r = s.run(closing(H0 + HOUR_MS)).await.unwrap();
    assert!(windows.late.lock().unwrap().is_empty(), "{r:?}");
}

#[tokio::test]
async fn a_marker_refreshed_while_its_hour_is_read_is_kept_for_the_next_run() {
    let (windows, bucket) = (
        Arc::new(MemWindows::default()),
        Arc::new(MemBucket::default()),
    );
    windows.write("early", &traffic(H0, 0..3, "cart", 5));
    let s = summarizer(&windows, &bucket);
    s.run(closing(H0)).await.unwrap();

    let first_at = closing(H0) + 10_000;
    windows.mark(H0, first_at);
    // Another writer adds to the hour and refreshes the marker after this
    // run read it: the run must not delete the newer marker.
    windows.write("later", &traffic(H0, 40..41, "cart", 2));
    *windows.refresh_on_load.lock().unwrap() = Some((H0, first_at + 5_000));
    s.run(closing(H0) + MIN).await.unwrap();
    assert_eq!(
        windows.late.lock().unwrap().get(&H0),
        Some(&(first_at + 5_000))
    );
    // The next run rebuilds the hour again and clears it.
    let n = bucket.keys().len();
    s.run(closing(H0) + 2 * MIN).await.unwrap();
    assert_eq!(bucket.keys().len(), n + 1);
    assert!(windows.late.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_items_give_the_same_bytes() {
    let parts = [
        ("x", traffic(H0, 0..20, "cart", 6)),
        ("y", traffic(H0, 10..30, "checkout", 3)),
        ("z", traffic(H0, 15..16, "cart", 9)),
    ];
    let mut files = Vec::new();
    for order in [[0, 1, 2], [2, 0, 1]] {
        let (windows, bucket) = (
            Arc::new(MemWindows::default()),
            Arc::new(MemBucket::default()),
        );
        for i in order {
            windows.write(parts[i].0, &parts[i].1);
        }
        let s = summarizer(&windows, &bucket);
        s.run(closing(H0)).await.unwrap();
        // Written again (a late marker with nothing new): the same bytes.
        windows.mark(H0, 1);
        s.run(closing(H0)).await.unwrap();
        let puts = bucket.puts.lock().unwrap().clone();
        assert_eq!(puts.len(), 2);
        assert_eq!(puts[0], puts[1]);
        files.push(puts[0].1.clone());
    }
    assert_eq!(files[0], files[1]);
}

/// A state table where every change is made, and an inbox.
#[derive(Default)]
struct Changes {
    sent: Mutex<Vec<String>>,
    made: Mutex<HashMap<String, bool>>,
}

impl StateStore for Changes {
    fn transition<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        _: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(async move {
            let firing = to == Transition::Firing;
            let k = format!("{}#{}", rule.name, group.value);
            let was = self.made.lock().unwrap().insert(k, firing);
            Ok(was != Some(firing) && (firing || was.is_some()))
        })
    }
    fn undo<'a>(
        &'a self,
        _: &'a Rule,
        _: &'a GroupKey,
        _: Transition,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
    fn confirm<'a>(
        &'a self,
        _: &'a Rule,
        _: &'a GroupKey,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
    fn unannounced(&self, _: i64) -> BoxFuture<'_, Result<Vec<Pending>, AlertError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
    fn firing(&self) -> BoxFuture<'_, Result<Vec<(String, GroupKey)>, AlertError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
    fn claim_instant<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(async move { Ok(true) })
    }
    fn release_instant<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move { Ok(()) })
    }
}

impl Publisher for Changes {
    fn publish<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            self.sent.lock().unwrap().push(n.subject.clone());
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_failing_summary_fails_the_invocation_after_the_alerts_went_out() {
    let (windows, bucket) = (
        Arc::new(MemWindows::default()),
        Arc::new(MemBucket::default()),
    );
    windows.write("a", &traffic(H0, 0..3, "cart", 5));
    *bucket.fail.lock().unwrap() = true;
    let changes = Arc::new(Changes::default());
    let app = Scheduled {
        evaluator: Evaluator {
            rules: LiveRules::fixed("alert rules", Rules::clone(&rules())),
            windows: windows.clone(),
            state: changes.clone(),
            publisher: changes.clone(),
        },
        summary: Some(summarizer(&windows, &bucket)),
    };
    let err = app.run(closing(H0)).await.unwrap_err();
    assert!(err.to_string().contains("summary"), "{err}");
    assert!(err.to_string().contains("s3:PutObject"), "{err}");
    // The alert went out all the same, and the evaluation's report is kept.
    assert_eq!(changes.sent.lock().unwrap().len(), 1);
    assert!(changes.sent.lock().unwrap()[0].contains("pay-silent"));
    assert_eq!(err.outcome.alerts.as_ref().unwrap().fired.len(), 1);
    // The two empty hours before are done; H0 is not: the next run writes it.
    assert_eq!(*windows.progress.lock().unwrap(), Some(H0 - HOUR_MS));
    *bucket.fail.lock().unwrap() = false;
    let ok = app.run(closing(H0) + MIN).await.unwrap();
    assert_eq!(ok.summary.unwrap().written.len(), 1);
    assert_eq!(changes.sent.lock().unwrap().len(), 1);
    // Without a summary the invocation is the evaluation alone.
    let alone = Scheduled {
        summary: None,
        ..app.clone()
    };
    assert!(
        alone
            .run(closing(H0) + 2 * MIN)
            .await
            .unwrap()
            .summary
            .is_none()
    );
}

#[test]
fn the_business_metrics_are_what_the_windows_counted_per_service() {
    use loglake_core::ingest::{Observer, Origin};
    use loglake_core::record::SourceFormat;
    use loglake_handlers::alerts::{AlertObserver, WindowCounting};
    let origin = Origin {
        identity: "id",
        uri: "mem://x",
        line: 1,
        position: 0,
    };
    let watch = |counting| {
        let mut obs = AlertObserver::at(rules(), counting, H0 + HOUR_MS);
        // Two minutes of cart (one FATAL), one of search without latency.
        for (m, service, level, latency) in [
            (0, "cart", Level::Info, Some(10.0)),
            (1, "cart", Level::Fatal, Some(30.0)),
            (1, "search", Level::Warn, None),
        ] {
            let mut r = Record::default();
            r.set(TextField::Service, service);
            r.level = Some(level);
            r.latency_ms = latency;
            obs.observe(&r, H0 + m * MIN, SourceFormat::Json, &origin);
        }
        obs.business_emf("fn-ingest", H0 + HOUR_MS)
    };
    let lines = watch(WindowCounting::All);
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{lines:?}");
    assert_eq!(docs[0]["service"], "cart");
    assert_eq!(docs[0]["ServiceRecords"], 2);
    assert_eq!(docs[0]["ServiceErrors"], 1);
    assert_eq!(docs[0]["ServiceLatency"].as_array().unwrap().len(), 2);
    assert_eq!(docs[1]["service"], "search");
    assert_eq!(docs[1]["ServiceErrors"], 0);
    assert!(docs[1].get("ServiceLatency").is_none());
    // Nothing counted, nothing emitted.
    assert!(watch(WindowCounting::None).is_empty());
}

/// fn-alerts's run as metrics: what the alarms and the dashboard can read.
#[test]
fn an_invocation_outcome_is_one_emf_line() {
    use loglake_handlers::alerts::evaluate::Report;
    use loglake_handlers::alerts::summary::{Outcome, SummaryReport};
    let outcome = Outcome {
        alerts: Some(Report {
            evaluated: 12,
            breaching: 2,
            fired: vec!["checkout-errors".into()],
            ..Report::default()
        }),
        summary: Some(SummaryReport {
            written: vec!["2026-12-02T09:00:00Z".into(), "2026-12-02T10:00:00Z".into()],
            ..SummaryReport::default()
        }),
    };
    let v: serde_json::Value = serde_json::from_str(&outcome.emf("loglake-alerts", 1_000)).unwrap();
    assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "loglake");
    assert_eq!(v["function"], "loglake-alerts");
    assert_eq!(
        (
            v["RulesEvaluated"].as_u64(),
            v["RulesBreaching"].as_u64(),
            v["AlertsFired"].as_u64()
        ),
        (Some(12), Some(2), Some(1))
    );
    assert_eq!(v["SummaryHoursWritten"], 2);
    assert_eq!(v["NotificationsFailed"], 0);
    // A run whose evaluation failed still reports its summary.
    let v: serde_json::Value = serde_json::from_str(&Outcome::default().emf("f", 1)).unwrap();
    assert_eq!(v["RulesEvaluated"], 0);
}
