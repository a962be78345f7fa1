//! fn-alerts' evaluation against in-memory stores that fail the way AWS
//! can: a publish that errors for one alert, and a run that stops between
//! its state change and its notification (a timeout). Nothing announced
//! twice, nothing left unannounced, one failure costs only its alert.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use loglake_core::sinks::alerts::{
    Contribution, GroupKey, Notification, Rule, Rules, Transition, WindowSums,
};
use loglake_handlers::alerts::AlertError;
use loglake_handlers::alerts::LiveRules;
use loglake_handlers::alerts::evaluate::{Evaluator, OUTBOX_GRACE_MS};
use loglake_handlers::effects::{BoxFuture, Pending, Publisher, StateStore, WindowStore};

/// Two absence rules: with no records at all, both fire.
const RULES: &str = r#"
[[rule]]
name = "cart-silent"
kind = "absence"
services = ["cart"]
minutes = 5

[[rule]]
name = "pay-silent"
kind = "absence"
services = ["pay"]
minutes = 5
"#;

const T0: i64 = 1_710_450_000_000;

#[derive(Debug, Clone)]
struct Item {
    firing: bool,
    changed: i64,
    resolved: Option<i64>,
    pending: Option<i64>,
}

/// The state table, with the conditions of loglake_aws::DynamoState, made
/// atomic by one lock (as DynamoDB's conditional writes are).
#[derive(Default)]
struct MemState {
    items: Mutex<HashMap<String, Item>>,
}

fn key(rule: &str, g: &GroupKey) -> String {
    format!("{rule}#{}={}", g.field, g.value)
}

impl StateStore for MemState {
    fn transition<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(async move {
            let mut items = self.items.lock().unwrap();
            let k = key(&rule.name, group);
            let edge = now - i64::from(rule.cooldown_minutes) * 60_000;
            let ok = match (items.get(&k), to) {
                (None, Transition::Firing) => true,
                (Some(i), Transition::Firing) => {
                    !i.firing && i.changed <= now && i.resolved.is_none_or(|r| r <= edge)
                }
                (Some(i), Transition::Resolved) => i.firing && i.changed <= now,
                (None, Transition::Resolved) => false,
            };
            if ok {
                let prev = items.get(&k).cloned();
                items.insert(
                    k,
                    Item {
                        firing: to == Transition::Firing,
                        changed: now,
                        resolved: if to == Transition::Resolved {
                            Some(now)
                        } else {
                            prev.and_then(|p| p.resolved)
                        },
                        pending: Some(now),
                    },
                );
            }
            Ok(ok)
        })
    }

    fn undo<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        at: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let mut items = self.items.lock().unwrap();
            if let Some(i) = items.get_mut(&key(&rule.name, group))
                && i.changed == at
            {
                i.firing = to != Transition::Firing;
                i.pending = None;
                if to == Transition::Resolved {
                    i.resolved = None;
                }
            }
            Ok(())
        })
    }

    fn confirm<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        at: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let mut items = self.items.lock().unwrap();
            if let Some(i) = items.get_mut(&key(&rule.name, group))
                && i.pending == Some(at)
            {
                i.pending = None;
            }
            Ok(())
        })
    }

    fn unannounced(&self, before: i64) -> BoxFuture<'_, Result<Vec<Pending>, AlertError>> {
        Box::pin(async move {
            let items = self.items.lock().unwrap();
            Ok(items
                .iter()
                .filter_map(|(k, i)| {
                    let at = i.pending.filter(|p| *p < before)?;
                    let (rule, g) = k.split_once('#')?;
                    let (field, value) = g.split_once('=')?;
                    Some(Pending {
                        rule: rule.into(),
                        group: GroupKey {
                            field: field.into(),
                            value: value.into(),
                        },
                        to: if i.firing {
                            Transition::Firing
                        } else {
                            Transition::Resolved
                        },
                        at_ms: at,
                    })
                })
                .collect())
        })
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

/// No records anywhere: every absence rule breaches.
struct Quiet;

impl WindowStore for Quiet {
    fn put<'a>(
        &'a self,
        _: &'a str,
        _: &'a [Contribution],
    ) -> BoxFuture<'a, Result<u64, AlertError>> {
        Box::pin(async move { Ok(0) })
    }

    fn load<'a>(&'a self, _: &'a [i64]) -> BoxFuture<'a, Result<WindowSums, AlertError>> {
        Box::pin(async move { Ok(WindowSums::new()) })
    }
}

/// Records subjects; refuses those that contain `refuse`.
#[derive(Default)]
struct Inbox {
    sent: Mutex<Vec<String>>,
    refuse: Mutex<Option<String>>,
}

impl Publisher for Inbox {
    fn publish<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            if let Some(r) = self.refuse.lock().unwrap().as_deref()
                && n.subject.contains(r)
            {
                return Err(AlertError::Publish {
                    topic: "t".into(),
                    message: "throttled".into(),
                });
            }
            self.sent.lock().unwrap().push(n.subject.clone());
            Ok(())
        })
    }
}

fn evaluator() -> (Evaluator, Arc<MemState>, Arc<Inbox>) {
    let state = Arc::new(MemState::default());
    let inbox = Arc::new(Inbox::default());
    let e = Evaluator {
        rules: LiveRules::fixed("alert rules", Rules::parse(RULES).unwrap()),
        windows: Arc::new(Quiet),
        state: state.clone(),
        publisher: inbox.clone(),
    };
    (e, state, inbox)
}

fn sent_for(inbox: &Inbox, rule: &str) -> usize {
    inbox
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.contains(rule))
        .count()
}

#[tokio::test]
async fn one_notification_that_cannot_be_sent_fails_alone() {
    let (e, _, inbox) = evaluator();
    *inbox.refuse.lock().unwrap() = Some("pay-silent".into());
    let r = e.evaluate(T0).await.unwrap();
    assert_eq!(r.fired.len(), 1, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(sent_for(&inbox, "cart-silent"), 1);
    // The failed one was undone: the next run makes it and announces it.
    *inbox.refuse.lock().unwrap() = None;
    let r = e.evaluate(T0 + 60_000).await.unwrap();
    assert_eq!(r.fired.len(), 1, "{r:?}");
    assert_eq!(
        (
            sent_for(&inbox, "pay-silent"),
            sent_for(&inbox, "cart-silent")
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_change_whose_run_stopped_before_announcing_it_is_announced_once() {
    let (e, state, inbox) = evaluator();
    // A run made the change, then timed out before publishing.
    let rules = Rules::parse(RULES).unwrap();
    let rule = rules.get("cart-silent").unwrap();
    let group = GroupKey {
        field: "service".into(),
        value: "cart".into(),
    };
    assert!(
        state
            .transition(rule, &group, Transition::Firing, T0)
            .await
            .unwrap()
    );
    // Within the grace period it may still be on its way: not repeated.
    e.evaluate(T0 + OUTBOX_GRACE_MS / 2).await.unwrap();
    assert_eq!(sent_for(&inbox, "cart-silent"), 0);
    // After it: announced, once, and never again.
    let r = e.evaluate(T0 + OUTBOX_GRACE_MS + 60_000).await.unwrap();
    assert_eq!(r.announced_late.len(), 1, "{r:?}");
    e.evaluate(T0 + OUTBOX_GRACE_MS + 120_000).await.unwrap();
    assert_eq!(sent_for(&inbox, "cart-silent"), 1);
}

#[tokio::test]
async fn concurrent_runs_announce_each_change_once() {
    let (e, _, inbox) = evaluator();
    let (a, b) = (e.clone(), e.clone());
    let (ra, rb) = tokio::join!(a.evaluate(T0), b.evaluate(T0));
    let fired = ra.unwrap().fired.len() + rb.unwrap().fired.len();
    assert_eq!(fired, 2);
    assert_eq!(inbox.sent.lock().unwrap().len(), 2);
}

#[test]
fn records_older_than_the_windows_are_kept_are_not_counted() {
    use loglake_core::ingest::{Observer, Origin};
    use loglake_core::record::{Level, Record, SourceFormat, TextField};
    use loglake_handlers::alerts::{AlertObserver, WindowCounting};
    let rules = Arc::new(Rules::parse(RULES).unwrap());
    let written = T0 + 48 * 3_600_000;
    let mut obs = AlertObserver::at(rules, WindowCounting::All, written);
    let origin = Origin {
        identity: "id",
        uri: "mem://x",
        line: 1,
        position: 0,
    };
    // A source whose times span years: only the last 48 hours count.
    for hours_before in [24 * 365 * 3, 49, 47, 1] {
        let mut r = Record::default();
        r.set(TextField::Service, "cart");
        r.level = Some(Level::Error);
        let ts = written - hours_before * 3_600_000;
        obs.observe(&r, ts, SourceFormat::Json, &origin);
    }
    assert_eq!(obs.too_old(), 2);
    assert_eq!(obs.windows.contributions().len(), 2);
}
