//! End-to-end tests of the alert logic: rules files, incidents injected into
//! generated records, merging across sources, serialization, notifications.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::record::{Level, Record, TextField};

const SHIPPED: &str = include_str!("../../../../../alerts.toml");
/// 2024-03-14T21:00:00Z, like the generator's default start.
const T0: i64 = 1_710_450_000_000;
const MIN: i64 = 60_000;

fn rec(
    service: &str,
    level: Level,
    status: i16,
    latency: f64,
    msg: &str,
    user: &str,
) -> Record<'static> {
    let mut r = Record {
        level: Some(level),
        http_status: Some(status),
        latency_ms: Some(latency),
        ..Record::default()
    };
    r.set(TextField::Service, service.to_owned());
    r.set(TextField::Message, msg.to_owned());
    if !user.is_empty() {
        r.set(TextField::UserId, user.to_owned());
    }
    r
}

// ---------------------------------------------------------------- rules

#[test]
fn shipped_rules_parse() {
    let rules = Rules::parse(SHIPPED).unwrap();
    let kinds: BTreeSet<&str> = rules.rules.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["instant", "threshold", "error_rate", "latency", "absence"])
    );
    let r = rules.get("checkout-error-rate").unwrap();
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(r.labels["team"], "checkout");
    assert!(matches!(
        r.kind,
        Kind::ErrorRate { window_minutes: 5, min_total: 50, ref groups, .. }
            if groups.as_deref() == Some(&["checkout-web".to_owned()][..])
    ));
    assert_eq!(rules.max_window_minutes(), 15);
    assert_eq!(rules.settings, Settings::default());
    assert!(rules.get("nope").is_none());
}

#[test]
fn defaults_apply() {
    let rules = Rules::parse(
        "[[rule]]\nname = \"a\"\nkind = \"error_rate\"\npercent = 10\n\
         [[rule]]\nname = \"b\"\nkind = \"instant\"\nmessage_contains = \"boom\"\n",
    )
    .unwrap();
    let a = rules.get("a").unwrap();
    assert_eq!(a.severity, Severity::Warning);
    assert_eq!(a.cooldown_minutes, 15);
    assert_eq!(a.group_by(), TextField::Service);
    assert!(matches!(
        a.kind,
        Kind::ErrorRate {
            window_minutes: 5,
            min_total: 20,
            groups: None,
            ..
        }
    ));
    assert_eq!(rules.settings.evaluation_delay_minutes, 2);
    assert_eq!(rules.max_window_minutes(), 5);
    assert_eq!(Rules::parse("").unwrap().rules.len(), 0);
}

#[test]
fn broken_rules_are_refused_naming_rule_and_problem() {
    let base = |extra: &str| format!("[[rule]]\nname = \"r1\"\n{extra}\n");
    let cases: Vec<(String, &str)> = vec![
        (
            base("kind = \"error_rate\"\npercent = 5\nwindw = 5"),
            "rule \"r1\": unknown field \"windw\" (did you mean \"window_minutes\"?) (line 5)",
        ),
        (
            base("kind = \"instant\"\nmessage_regex = \"gateway (timeout\""),
            "rule \"r1\": message_regex: regex parse error",
        ),
        (
            base("kind = \"threshold\"\ncount = 3\nwindow_minutes = -5"),
            "rule \"r1\": window_minutes must be 1, 5 or 15 (got -5) (line 5)",
        ),
        (
            base("kind = \"threshold\"\ncount = 3\nwindow_minutes = 10"),
            "window_minutes must be 1, 5 or 15 (got 10)",
        ),
        (
            base("kind = \"threshold\"\ncount = 3\nwindow_minutes = 5.5"),
            "window_minutes must be an integer (got 5.5)",
        ),
        (
            base("kind = \"treshold\""),
            "rule \"r1\": unknown kind \"treshold\" (expected one of instant, threshold, error_rate, latency, absence; did you mean \"threshold\"?)",
        ),
        (base(""), "rule \"r1\": missing field \"kind\""),
        (
            "[[rule]]\nname = \"dup\"\nkind = \"instant\"\nlevel = \"ERROR\"\n\
             [[rule]]\nname = \"dup\"\nkind = \"instant\"\nlevel = \"FATAL\"\n"
                .to_owned(),
            "rule \"dup\": duplicate rule name (first defined on line 1) (line 5)",
        ),
        (
            base("kind = \"error_rate\"\npercent = 5\ngroup_by = \"servce\""),
            "rule \"r1\": group_by: unknown field \"servce\" (did you mean \"service\"?)",
        ),
        (
            base("kind = \"error_rate\"\npercent = 5\ngroup_by = \"message\""),
            "group_by: unknown field \"message\"",
        ),
        (
            base("kind = \"error_rate\"\npercent = 150"),
            "rule \"r1\": percent must be above 0 and at most 100 (got 150)",
        ),
        (
            base("kind = \"error_rate\"\npercent = -1"),
            "percent must be above 0 and at most 100 (got -1)",
        ),
        (base("kind = \"error_rate\""), "rule \"r1\": missing field \"percent\""),
        (
            base("kind = \"instant\""),
            "rule \"r1\": an instant rule needs a filter",
        ),
        (
            base("kind = \"instant\"\nlevel = \"EROR\""),
            "rule \"r1\": level: unknown level \"EROR\"",
        ),
        (
            base("kind = \"latency\"\npercentile = 100\nms = 500"),
            "percentile must be between 50 and 99.9 (got 100)",
        ),
        (
            base("kind = \"latency\"\npercentile = 99\nms = 0"),
            "ms must be a positive number (got 0)",
        ),
        (
            base("kind = \"latency\"\npercentile = 99\nms = 500\ncount = 3"),
            "rule \"r1\": field \"count\" does not apply to kind \"latency\"",
        ),
        (
            base("kind = \"absence\"\nservices = []\nminutes = 10"),
            "services must be a non-empty string or array",
        ),
        (
            base("kind = \"absence\"\nservices = [\"a\"]\nminutes = 0"),
            "minutes must be between 1 and 1440 (got 0)",
        ),
        (
            base("kind = \"instant\"\nlevel = \"ERROR\"\nseverity = \"urgent\""),
            "severity must be \"info\", \"warning\" or \"critical\" (got \"urgent\")",
        ),
        (
            base("kind = \"instant\"\nlevel = \"ERROR\"\ncooldown_minutes = -1"),
            "cooldown_minutes must be between 0 and 10080 (got -1)",
        ),
        (
            base("kind = \"instant\"\nlevel = \"ERROR\"\nlabels = { team = 3 }"),
            "labels.team must be a string (got integer)",
        ),
        (
            base("kind = \"threshold\"\ncount = 0"),
            "count must be at least 1 (got 0)",
        ),
        (
            base("kind = \"instant\"\n[rule.where]\nstatus = \"500\""),
            "rule \"r1\": where: unknown field \"status\"",
        ),
        (
            base("kind = \"instant\"\n[rule.where]\nhttp_status = \"600\""),
            "where.http_status: expected a status such as 503",
        ),
        (
            "[[rule]]\nkind = \"instant\"\nlevel = \"ERROR\"\n".to_owned(),
            "rule \"#1\": missing field \"name\"",
        ),
        (
            "[[rule]]\nname = \"\"\nkind = \"instant\"\nlevel = \"ERROR\"\n".to_owned(),
            "name must be 1 to 200 characters",
        ),
        (
            "[settings]\nevaluation_dealy_minutes = 2\n".to_owned(),
            "settings: unknown field \"evaluation_dealy_minutes\" (did you mean \"evaluation_delay_minutes\"?) (line 2)",
        ),
        (
            "[settings]\nathena_table = \"logs; DROP TABLE x\"\n".to_owned(),
            "settings: athena_table must be letters, digits and underscores",
        ),
        (
            "[settings]\nretention_hours = 1\n[[rule]]\nname = \"q\"\nkind = \"absence\"\nservices = \"a\"\nminutes = 1440\n"
                .to_owned(),
            "retention_hours 1 is too short",
        ),
        ("[[rules]]\nname = \"x\"\n".to_owned(), "unknown field `rules`"),
        ("[[rule]\nname = \"x\"\n".to_owned(), "invalid TOML"),
    ];
    for (text, want) in &cases {
        match Rules::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(want), "for\n{text}\ngot:  {msg}\nwant: {want}");
                assert!(!msg.contains('\n') || want.contains("regex"), "{msg}");
            }
        }
    }
    // A typo names the line; regex errors keep the regex crate's explanation.
    let e = Rules::parse(&cases[0].0).unwrap_err();
    assert_eq!((e.rule.as_deref(), e.line), (Some("r1"), Some(5)));
}

#[test]
fn from_file_names_the_path() {
    let e = Rules::from_file(std::path::Path::new("/nonexistent/alerts.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/alerts.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn filters_match_as_configured() {
    let rules = Rules::parse(
        r#"
[[rule]]
name = "f"
kind = "instant"
level = "WARN"
service = ["payment-api", "checkout-web"]
message_contains = ["Gateway Timeout", "über"]
[rule.where]
http_status = ["5xx", 429]
region = "eu-west-1"
"attributes.payment_method" = "card"

[[rule]]
name = "re"
kind = "instant"
message_regex = '^request failed: .*(deadlock|timed out)'
[rule.where]
level = ["ERROR", "fatal"]
"#,
    )
    .unwrap();
    let Kind::Instant { filter: f, .. } = &rules.get("f").unwrap().kind else {
        panic!()
    };
    let Kind::Instant { filter: re, .. } = &rules.get("re").unwrap().kind else {
        panic!()
    };
    let good = || {
        let mut r = rec(
            "payment-api",
            Level::Error,
            503,
            10.0,
            "upstream GATEWAY TIMEOUT after 5s",
            "",
        );
        r.set(TextField::Region, "eu-west-1");
        r.attributes
            .push((Cow::Borrowed("payment_method"), Cow::Borrowed("card")));
        r
    };
    assert!(f.matches(&good()));
    type Change = Box<dyn Fn(&mut Record<'static>)>;
    let cases: Vec<(&str, Change, bool)> = vec![
        (
            "info level",
            Box::new(|r| r.level = Some(Level::Info)),
            false,
        ),
        ("no level", Box::new(|r| r.level = None), false),
        ("fatal", Box::new(|r| r.level = Some(Level::Fatal)), true),
        (
            "other service",
            Box::new(|r| r.set(TextField::Service, "cart-api")),
            false,
        ),
        (
            "no service",
            Box::new(|r| r.text[TextField::Service as usize] = None),
            false,
        ),
        ("status 429", Box::new(|r| r.http_status = Some(429)), true),
        ("status 404", Box::new(|r| r.http_status = Some(404)), false),
        (
            "unicode case",
            Box::new(|r| r.set(TextField::Message, "ÜBER alles")),
            true,
        ),
        (
            "no message",
            Box::new(|r| r.text[TextField::Message as usize] = None),
            false,
        ),
        (
            "region",
            Box::new(|r| r.set(TextField::Region, "us-east-1")),
            false,
        ),
        ("attribute", Box::new(|r| r.attributes.clear()), false),
    ];
    for (name, change, want) in cases {
        let mut r = good();
        change(&mut r);
        assert_eq!(f.matches(&r), want, "{name}");
    }
    let mut r = rec(
        "order-api",
        Level::Error,
        500,
        1.0,
        "request failed: ERROR: deadlock detected",
        "",
    );
    assert!(re.matches(&r));
    r.level = Some(Level::Warn);
    assert!(!re.matches(&r));
    r.level = Some(Level::Fatal);
    r.set(TextField::Message, "deadlock: request failed");
    assert!(!re.matches(&r));
}

// ------------------------------------------------------------- incidents

const INCIDENT_RULES: &str = r#"
[[rule]]
name = "checkout-error-rate"
kind = "error_rate"
groups = ["checkout-web"]
window_minutes = 5
percent = 5
min_total = 50

[[rule]]
name = "any-error-rate"
kind = "error_rate"
window_minutes = 5
percent = 10
min_total = 50

[[rule]]
name = "payment-p99"
kind = "latency"
groups = ["payment-api"]
window_minutes = 5
percentile = 99
ms = 500
min_count = 50

[[rule]]
name = "auth-401-burst"
kind = "threshold"
service = "auth-api"
message_contains = "invalid credentials"
window_minutes = 5
count = 50
[rule.where]
http_status = 401

[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
severity = "critical"

[[rule]]
name = "inventory-silent"
kind = "absence"
services = ["inventory-api", "catalog-api"]
minutes = 5

[[rule]]
name = "region-volume"
kind = "threshold"
group_by = "region"
window_minutes = 1
count = 1000
"#;

/// 40 minutes of traffic with known incidents:
/// - checkout-web: 100 records/min, 2% errors; 20% in minutes 10-14;
/// - payment-api: 60/min around 50 ms; 5% at 900+ ms in minutes 20-24;
/// - auth-api: 80/min, 2 failed logins (401) a minute; 40 a minute in minutes 5-6;
/// - order-api: one FATAL in minute 17;
/// - inventory-api: 30/min, stops after minute 19;
/// - catalog-api: 200/min, 1% errors, never stops;
/// - gift-api: 5/min with 40% errors: too few to judge.
fn incident_records() -> Vec<(i64, Record<'static>)> {
    let mut out = Vec::new();
    for m in 0..40i64 {
        let t = |i: i64, n: i64| T0 + m * MIN + i * MIN / n;
        for i in 0..100 {
            let bad = if (10..15).contains(&m) {
                i % 5 == 0
            } else {
                i % 50 == 0
            };
            let (lvl, st, msg) = if bad {
                (Level::Error, 502, "request failed: upstream unavailable")
            } else {
                (Level::Info, 200, "checkout started")
            };
            out.push((
                t(i, 100),
                rec("checkout-web", lvl, st, 40.0, msg, &format!("u{}", i % 37)),
            ));
        }
        for i in 0..60 {
            let slow = (20..25).contains(&m) && i % 20 == 0;
            let lat = if slow {
                900.0 + i as f64
            } else {
                30.0 + (i % 41) as f64
            };
            out.push((
                t(i, 60),
                rec("payment-api", Level::Info, 200, lat, "payment captured", ""),
            ));
        }
        let fails = if (5..7).contains(&m) { 40 } else { 2 };
        for i in 0..80 {
            let r = if i < fails {
                rec(
                    "auth-api",
                    Level::Warn,
                    401,
                    12.0,
                    "invalid credentials for user \"x\"",
                    "",
                )
            } else {
                rec(
                    "auth-api",
                    Level::Info,
                    200,
                    12.0,
                    "user login succeeded",
                    "",
                )
            };
            out.push((t(i, 80), r));
        }
        if m == 17 {
            out.push((
                t(7, 10),
                rec("order-api", Level::Fatal, 500, 1.0, "out of memory", ""),
            ));
        }
        if m < 20 {
            for i in 0..30 {
                out.push((
                    t(i, 30),
                    rec("inventory-api", Level::Info, 200, 8.0, "stock reserved", ""),
                ));
            }
        }
        for i in 0..200 {
            let (lvl, msg) = if i % 100 == 0 {
                (Level::Error, "request failed: timeout")
            } else {
                (Level::Info, "product detail served")
            };
            let mut r = rec("catalog-api", lvl, 200, 20.0, msg, "");
            r.set(
                TextField::Region,
                if i % 3 == 0 { "eu-west-1" } else { "us-east-1" },
            );
            out.push((t(i, 200), r));
        }
        for i in 0..5 {
            let lvl = if i < 2 { Level::Error } else { Level::Info };
            out.push((t(i, 5), rec("gift-api", lvl, 200, 5.0, "gift card", "")));
        }
    }
    out
}

fn sums_of(windows: &[Windows]) -> WindowSums {
    let mut sums = WindowSums::new();
    for w in windows {
        for c in w.contributions() {
            // Through the stored form, as the evaluator reads it.
            sums.add(&Contribution::from_json(&c.to_json()).unwrap());
        }
    }
    sums
}

/// The window end minutes (relative to T0) at which (rule, group) breaches.
fn breaching_ends(rules: &Rules, sums: &WindowSums, rule: &str, group: &str) -> Vec<i64> {
    (1..=45)
        .filter(|end| {
            evaluate(rules, sums, T0 + end * MIN)
                .iter()
                .any(|e| e.rule == rule && e.group.value == group && e.breaching)
        })
        .collect()
}

#[test]
fn each_rule_kind_fires_when_it_should_and_not_otherwise() {
    let rules = Arc::new(Rules::parse(INCIDENT_RULES).unwrap());
    let mut w = Windows::new(rules.clone());
    let mut fatal = Vec::new();
    for (ts, r) in &incident_records() {
        w.observe(r, *ts);
        for rule in w.instant_matches(r) {
            fatal.push((
                rule.name.clone(),
                r.get(TextField::Service).map(str::to_owned),
                *ts,
            ));
        }
    }
    assert_eq!(
        fatal,
        vec![(
            "any-fatal".into(),
            Some("order-api".into()),
            T0 + 17 * MIN + 42_000
        )]
    );
    let sums = sums_of(&[w]);
    let range = |a: i64, b: i64| (a..=b).collect::<Vec<_>>();
    let table: Vec<(&str, &str, Vec<i64>)> = vec![
        // Any window overlapping minutes 10-14 reaches 5%.
        ("checkout-error-rate", "checkout-web", range(11, 19)),
        // 10% needs three incident minutes in the window.
        ("any-error-rate", "checkout-web", range(13, 17)),
        ("any-error-rate", "catalog-api", vec![]),
        // 40% errors but only 25 records per window: below min_total.
        ("any-error-rate", "gift-api", vec![]),
        // p99 of 300 values needs 4 slow ones: two incident minutes.
        ("payment-p99", "payment-api", range(22, 28)),
        // 80 failures with both burst minutes in the window, 48 with one.
        ("auth-401-burst", "auth-api", range(7, 10)),
        ("auth-401-burst", "checkout-web", vec![]),
        // Silent from minute 20; then the data ends at minute 40 for all.
        ("inventory-silent", "inventory-api", range(25, 45)),
        ("inventory-silent", "catalog-api", range(45, 45)),
        ("region-volume", "us-east-1", vec![]),
    ];
    for (rule, group, want) in &table {
        assert_eq!(
            &breaching_ends(&rules, &sums, rule, group),
            want,
            "{rule} / {group}"
        );
    }

    // Groups restrict what is evaluated; min_total is reported in the detail.
    let at = |end: i64| evaluate(&rules, &sums, T0 + end * MIN);
    let evs = at(12);
    assert!(
        evs.iter()
            .filter(|e| e.rule == "checkout-error-rate")
            .all(|e| e.group.value == "checkout-web")
    );
    assert!(
        !evs.iter()
            .any(|e| e.rule == "payment-p99" && e.group.value != "payment-api")
    );
    let gift = evs
        .iter()
        .find(|e| e.rule == "any-error-rate" && e.group.value == "gift-api")
        .unwrap();
    assert_eq!(gift.detail, "errors 10 of 25 (below min_total 50)");
    assert!(!gift.breaching && (gift.observed - 40.0).abs() < 1e-9);
    let co = evs
        .iter()
        .find(|e| e.rule == "checkout-error-rate")
        .unwrap();
    assert_eq!(co.detail, "errors 46 of 500");
    assert_eq!(
        (co.window_start_ms, co.window_end_ms),
        (T0 + 7 * MIN, T0 + 12 * MIN)
    );
    assert_eq!(
        (co.unit, co.threshold, co.severity),
        ("%", 5.0, Severity::Warning)
    );
    assert_eq!(co.examples.len(), 5);
    assert!(co.examples.iter().all(|x| x.starts_with("request failed")));
    let auth = at(8)
        .into_iter()
        .find(|e| e.rule == "auth-401-burst" && e.group.value == "auth-api")
        .unwrap();
    assert_eq!((auth.observed, auth.unit), (86.0, "count"));
    assert!(auth.examples[0].starts_with("invalid credentials"));
    let p = at(23)
        .into_iter()
        .find(|e| e.rule == "payment-p99")
        .unwrap();
    assert!(
        p.breaching && (p.observed - 920.0).abs() / 920.0 <= RELATIVE_ERROR + 1e-9,
        "{p:?}"
    );
    let gone = at(30)
        .into_iter()
        .find(|e| e.rule == "inventory-silent" && e.group.value == "inventory-api")
        .unwrap();
    assert_eq!(
        (gone.observed, gone.threshold, gone.unit),
        (5.0, 5.0, "minutes")
    );
    let partly = at(22)
        .into_iter()
        .find(|e| e.rule == "inventory-silent" && e.group.value == "inventory-api")
        .unwrap();
    assert_eq!((partly.observed, partly.breaching), (2.0, false));
    // Instant rules are not evaluated over windows; an unaligned end is floored.
    assert!(!at(20).iter().any(|e| e.rule == "any-fatal"));
    assert_eq!(evaluate(&rules, &sums, T0 + 12 * MIN + 59_999), at(12));
}

#[test]
fn sources_merge_to_the_same_sums_as_one() {
    let rules = Arc::new(Rules::parse(INCIDENT_RULES).unwrap());
    let records = incident_records();
    let mut one = Windows::new(rules.clone());
    let mut three: Vec<Windows> = (0..3).map(|_| Windows::new(rules.clone())).collect();
    for (i, (ts, r)) in records.iter().enumerate() {
        one.observe(r, *ts);
        three[(i * 7 + i / 3) % 3].observe(r, *ts);
    }
    let a = sums_of(&[one]);
    let b = sums_of(&three);
    let minutes: Vec<i64> = a.minutes().collect();
    assert_eq!(minutes, b.minutes().collect::<Vec<_>>());
    assert_eq!(minutes.len(), 40);
    for m in &minutes {
        let strip = |s: &WindowSums| -> Vec<(GroupKey, Stats)> {
            s.groups(*m)
                .map(|(k, st)| {
                    let mut st = st.clone();
                    // Which 5 examples survive depends on the split.
                    assert!(st.examples.len() <= MAX_EXAMPLES);
                    st.examples.clear();
                    (k.clone(), st)
                })
                .collect()
        };
        assert_eq!(strip(&a), strip(&b), "minute {m}");
    }
    for end in [8, 12, 23, 30] {
        let strip = |mut v: Vec<Evaluation>| {
            v.iter_mut().for_each(|e| e.examples.clear());
            v
        };
        assert_eq!(
            strip(evaluate(&rules, &a, T0 + end * MIN)),
            strip(evaluate(&rules, &b, T0 + end * MIN))
        );
    }

    // Adding the same contribution twice double counts: the windows table's
    // one item per (minute, source) is what prevents it.
    let mut w = Windows::new(rules.clone());
    w.observe(&records[0].1, records[0].0);
    let c = &w.contributions()[0];
    let mut twice = WindowSums::new();
    twice.add(c);
    twice.add(c);
    let key = GroupKey::new(TextField::Service, "checkout-web");
    assert_eq!(twice.get(c.minute_ms, &key).unwrap().total, 2);
}

#[test]
fn windows_feed_from_the_ingest_pipeline() {
    use crate::ingest::{IngestOptions, Source, ingest_observed};
    let rules = Arc::new(Rules::parse(SHIPPED).unwrap());
    let lines = "{\"timestamp\":\"2024-03-14T21:00:01.000Z\",\"level\":\"ERROR\",\"service\":\"checkout-web\",\"message\":\"request failed: card 4111 1111 1111 1111 declined\",\"status\":502,\"latency_ms\":812,\"user_id\":\"u_1\"}\n\
                 {\"timestamp\":\"2024-03-14T21:00:02.000Z\",\"level\":\"INFO\",\"service\":\"checkout-web\",\"message\":\"checkout started\",\"status\":200,\"latency_ms\":20,\"user_id\":\"u_2\"}\n\
                 {\"timestamp\":\"2024-03-14T21:01:00.000Z\",\"message\":\"no service\",\"status\":503}\n";
    let src = Source {
        uri: "mem://x".into(),
        identity: "x".into(),
        name: "x".into(),
        size: None,
        modified_ms: Some(T0 + 3_600_000),
        reader: Box::new(std::io::Cursor::new(lines.as_bytes().to_vec())),
    };
    let mut w = Windows::new(rules);
    let opts = IngestOptions {
        pipelined: false,
        ..IngestOptions::default()
    };
    ingest_observed(src, &crate::NullStore, &opts, &mut w).unwrap();
    let cs = w.contributions();
    assert_eq!(cs.len(), 2);
    let (k, st) = &cs[0].groups[0];
    assert_eq!(k, &GroupKey::new(TextField::Service, "checkout-web"));
    assert_eq!(
        (st.total, st.errors, st.status, st.latency.count()),
        (2, 1, [0, 1, 0, 0, 1], 2)
    );
    assert_eq!(st.by_level, [0, 0, 1, 0, 1, 0]);
    assert!((st.users.estimate() - 2.0).abs() < 0.1);
    // Examples come after redaction.
    assert_eq!(st.examples.len(), 1);
    assert!(
        !st.examples[0].contains("4111 1111 1111 1111"),
        "{}",
        st.examples[0]
    );
    // No level and a 5xx status is an error; no service is "(none)".
    let (k, st) = &cs[1].groups[0];
    assert_eq!((k.value.as_str(), st.total, st.errors), (NO_VALUE, 1, 1));
}

#[test]
fn group_values_are_capped() {
    let rules = Arc::new(
        Rules::parse("[[rule]]\nname = \"p\"\nkind = \"error_rate\"\ngroup_by = \"http_path\"\npercent = 5\n")
            .unwrap(),
    );
    let mut w = Windows::new(rules);
    for i in 0..(MAX_GROUPS + 50) {
        let mut r = rec("s", Level::Info, 200, 1.0, "m", "");
        r.set(TextField::HttpPath, format!("/p/{i}"));
        w.observe(&r, T0);
        w.observe(&r, T0 + 1);
    }
    let c = &w.contributions()[0];
    assert_eq!(c.groups.len(), MAX_GROUPS + 1);
    let other = c.groups.iter().find(|g| g.0.value == OTHER_VALUE).unwrap();
    assert_eq!(other.1.total, 100);
    assert!(c.groups.iter().all(|g| g.0.field == "http_path"));
}

// ------------------------------------------------------------ serialization

#[test]
fn a_contribution_at_worst_case_cardinality_splits_into_items_that_fit() {
    // Four group_by columns, each past its group cap, every group with
    // thousands of users, spread latencies and the longest examples.
    let rules = Arc::new(
        Rules::parse(
            "[[rule]]\nname = \"a\"\nkind = \"error_rate\"\ngroup_by = \"http_path\"\npercent = 5\n\
             [[rule]]\nname = \"b\"\nkind = \"error_rate\"\ngroup_by = \"host\"\npercent = 5\n\
             [[rule]]\nname = \"c\"\nkind = \"latency\"\ngroup_by = \"user_agent\"\npercentile = 99\nms = 100\n\
             [[rule]]\nname = \"d\"\nkind = \"error_rate\"\ngroup_by = \"error_type\"\npercent = 5\n",
        )
        .unwrap(),
    );
    let mut w = Windows::new(rules);
    let long = "x".repeat(4 * MAX_EXAMPLE_BYTES);
    for i in 0..40_000u64 {
        let mut r = rec(
            "s",
            Level::Error,
            503,
            1.0 + (i * 7919 % 100_000) as f64 / 7.0,
            &long,
            &format!("user-{i}"),
        );
        let g = i % 80;
        r.set(TextField::HttpPath, format!("/p/{g}"));
        r.set(TextField::Host, format!("host-{g}"));
        r.set(TextField::UserAgent, format!("agent-{g}"));
        r.set(TextField::ErrorType, format!("E{g}"));
        w.observe(&r, T0);
    }
    let c = &w.contributions()[0];
    let max = 380_000;
    let whole = c.to_json();
    let parts = c.to_json_parts(max);
    assert!(whole.len() > max, "not a worst case: {} bytes", whole.len());
    assert!(parts.len() > 1);
    assert!(parts.iter().all(|p| p.len() <= max));
    // Summing the parts sums the whole.
    let mut from_parts = WindowSums::new();
    for p in &parts {
        from_parts.add(&Contribution::from_json(p).unwrap());
    }
    let mut from_whole = WindowSums::new();
    from_whole.add(c);
    assert_eq!(from_parts, from_whole);
    // A group too big alone is trimmed, not refused.
    let tiny = c.to_json_parts(2_000);
    assert!(
        tiny.iter().all(|p| p.len() <= 2_000),
        "{:?}",
        tiny.iter().map(String::len).max()
    );
}

#[test]
fn contribution_round_trips_and_stays_small() {
    let rules = Arc::new(Rules::parse(SHIPPED).unwrap());
    let mut w = Windows::new(rules);
    let long = "request failed: ".to_owned() + &"x".repeat(2000);
    let services: Vec<String> = (0..10).map(|i| format!("service-{i}-api")).collect();
    // A busy minute: 600 records per service, many users, spread latencies,
    // long error messages.
    for (si, svc) in services.iter().enumerate() {
        for i in 0..600 {
            let err = i % 10 == 0;
            let r = rec(
                svc,
                if err { Level::Error } else { Level::Info },
                if err { 503 } else { 200 },
                1.0 + (i * 37 % 5000) as f64 * (1.0 + si as f64 / 10.0),
                if err { &long } else { "ok" },
                &format!("u_{:08}", i * 13 + si),
            );
            w.observe(&r, T0 + i as i64 * 100);
        }
    }
    let cs = w.contributions();
    assert_eq!(cs.len(), 1);
    let json = cs[0].to_json();
    assert!(json.len() < 64 * 1024, "{} bytes", json.len());
    let back = Contribution::from_json(&json).unwrap();
    assert_eq!(back, cs[0]);
    let st = &back.groups[0].1;
    assert_eq!(st.examples.len(), MAX_EXAMPLES);
    assert!(st.examples.iter().all(|x| x.len() <= MAX_EXAMPLE_BYTES));
    assert!((st.users.estimate() - 600.0).abs() < 60.0);
    for bad in [
        "",
        "{}",
        r#"{"v":2,"minute_ms":0,"groups":[]}"#,
        r#"{"v":1,"minute_ms":1,"groups":[]}"#,
        r#"{"v":1,"minute_ms":0,"groups":[[{"field":"service","value":"a"},{"u":"dzz"}]]}"#,
    ] {
        assert!(Contribution::from_json(bad).is_err(), "{bad}");
    }
    // Missing stats fields default, so items stay readable as fields are added.
    let c = Contribution::from_json(
        r#"{"minute_ms":60000,"groups":[[{"field":"service","value":"a"},{"t":3}]]}"#,
    )
    .unwrap();
    assert_eq!(c.groups[0].1.total, 3);
}

// ------------------------------------------------------------ notifications

#[test]
fn notifications_are_readable_and_complete() {
    let rules = Rules::parse(SHIPPED).unwrap();
    let rule = rules.get("checkout-error-rate").unwrap();
    let e = Evaluation {
        rule: rule.name.clone(),
        severity: rule.severity,
        group: GroupKey::new(TextField::Service, "checkout-web"),
        breaching: true,
        observed: 7.2727,
        threshold: 5.0,
        unit: "%",
        window_start_ms: T0 + 3 * 3_600_000 - 5 * MIN,
        window_end_ms: T0 + 3 * 3_600_000,
        examples: vec!["request failed: a".into(); 7],
        detail: "errors 30 of 412".into(),
    };
    let n = notify(rule, &e, Transition::Firing, &rules.settings);
    assert_eq!(
        n.subject,
        "[CRITICAL] checkout-error-rate: checkout-web 7.3% >= 5% (5 min)"
    );
    assert_eq!(n.attributes["severity"], "critical");
    assert_eq!(n.attributes["service"], "checkout-web");
    assert_eq!(n.attributes["rule"], "checkout-error-rate");
    let b = &n.body;
    assert_eq!(b["state"], "firing");
    assert_eq!(b["group"]["value"], "checkout-web");
    assert_eq!(b["window"]["start"], "2024-03-14T23:55:00.000Z");
    assert_eq!(b["window"]["end"], "2024-03-15T00:00:00.000Z");
    assert_eq!(b["labels"]["team"], "checkout");
    assert_eq!(b["examples"].as_array().unwrap().len(), 5);
    assert_eq!(b["detail"], "errors 30 of 412");
    let q = b["athena_query"].as_str().unwrap();
    assert!(q.contains("FROM \"loglake\".\"logs\""), "{q}");
    assert!(q.contains("dt = '2024-03-14' AND hr = '23'"), "{q}");
    assert!(
        q.contains(
            "ts >= TIMESTAMP '2024-03-14 23:55:00.000' AND ts < TIMESTAMP '2024-03-15 00:00:00.000'"
        ),
        "{q}"
    );
    assert!(q.contains("service = 'checkout-web'"), "{q}");
    assert!(q.contains("level IN ('ERROR', 'FATAL')"), "{q}");
    assert!(q.ends_with("ORDER BY ts\nLIMIT 100"), "{q}");

    let resolved = notify(
        rule,
        &Evaluation {
            breaching: false,
            observed: 1.0,
            ..e.clone()
        },
        Transition::Resolved,
        &rules.settings,
    );
    assert_eq!(
        resolved.subject,
        "[RESOLVED] checkout-error-rate: checkout-web 1% < 5% (5 min)"
    );
    assert_eq!(resolved.body["state"], "resolved");
    // Resolved for too little traffic, not a lower rate: never "61.7% < 5%".
    let quiet = notify(
        rule,
        &Evaluation {
            breaching: false,
            observed: 61.7,
            detail: "errors 29 of 47 (below min_total 50)".into(),
            ..e.clone()
        },
        Transition::Resolved,
        &rules.settings,
    );
    assert_eq!(
        quiet.subject,
        "[RESOLVED] checkout-error-rate: checkout-web 61.7%, errors 29 of 47 (below min_total 50) (5 min)"
    );

    // Long unicode names and values stay within the SNS limit, on a char boundary.
    let long = Rule {
        name: "règle-très-longue-".repeat(10),
        ..rule.clone()
    };
    let e2 = Evaluation {
        group: GroupKey::new(TextField::HttpPath, "/v1/búsqueda/日本茶\nセット".repeat(5)),
        ..e.clone()
    };
    let n2 = notify(&long, &e2, Transition::Firing, &rules.settings);
    assert!(
        n2.subject.chars().count() <= MAX_SUBJECT_CHARS,
        "{}",
        n2.subject
    );
    assert!(n2.subject.ends_with('…') && !n2.subject.contains('\n'));
    assert_eq!(n2.attributes["service"], "(any)");

    // Quotes are escaped; a window across midnight filters both days.
    let q = athena_query(
        rule,
        &GroupKey::new(TextField::Service, "o'brien's"),
        T0 + 2 * 3_600_000 + 55 * MIN,
        T0 + 3 * 3_600_000 + 10 * MIN,
        &rules.settings,
    );
    assert!(q.contains("service = 'o''brien''s'"), "{q}");
    assert!(q.contains("dt BETWEEN '2024-03-14' AND '2024-03-15' AND (dt > '2024-03-14' OR hr >= '23') AND (dt < '2024-03-15' OR hr <= '00')"), "{q}");
}

#[test]
fn subjects_for_every_kind() {
    let rules = Rules::parse(INCIDENT_RULES).unwrap();
    let s = Settings::default();
    let ev =
        |rule: &str, group: &str, observed: f64, threshold: f64, unit: &'static str, mins: i64| {
            Evaluation {
                rule: rule.into(),
                severity: Severity::Warning,
                group: GroupKey::new(TextField::Service, group),
                breaching: true,
                observed,
                threshold,
                unit,
                window_start_ms: T0 - mins * MIN,
                window_end_ms: T0,
                examples: vec![],
                detail: String::new(),
            }
        };
    for (e, want) in [
        (
            ev("payment-p99", "payment-api", 912.4, 500.0, "ms", 5),
            "[WARNING] payment-p99: payment-api p99 912 ms >= 500 ms (5 min)",
        ),
        (
            ev("auth-401-burst", "auth-api", 84.0, 50.0, "count", 5),
            "[WARNING] auth-401-burst: auth-api 84 >= 50 in 5 min",
        ),
        (
            ev("inventory-silent", "inventory-api", 5.0, 5.0, "minutes", 5),
            "[WARNING] inventory-silent: inventory-api no records for 5 min",
        ),
    ] {
        let rule = rules.get(&e.rule).unwrap();
        let n = notify(rule, &e, Transition::Firing, &s);
        assert_eq!(n.subject, want);
        assert!(
            n.body["athena_query"]
                .as_str()
                .unwrap()
                .contains("dt = '2024-03-14' AND hr = '20'")
        );
    }
    let q = athena_query(
        rules.get("auth-401-burst").unwrap(),
        &GroupKey::new(TextField::Service, "auth-api"),
        T0,
        T0 + 5 * MIN,
        &s,
    );
    assert!(
        q.contains("service = 'auth-api'")
            && q.contains("(http_status = 401)")
            && q.contains("strpos(lower(message), 'invalid credentials') > 0"),
        "{q}"
    );
    let q = athena_query(
        rules.get("inventory-silent").unwrap(),
        &GroupKey::new(TextField::Service, "inventory-api"),
        T0,
        T0 + 5 * MIN,
        &s,
    );
    assert!(
        q.contains("ts >= TIMESTAMP '2024-03-14 20:55:00.000'") && q.contains("ORDER BY ts DESC"),
        "{q}"
    );
}

#[test]
fn instant_notification_names_the_record() {
    let rules = Rules::parse(SHIPPED).unwrap();
    let rule = rules.get("any-fatal").unwrap();
    let mut r = rec(
        "order-api",
        Level::Fatal,
        500,
        1.0,
        "out of memory: killed\nstack...",
        "u_1",
    );
    r.set(TextField::TraceId, "abc123");
    let n = notify_instant(rule, &r, T0 + 17 * MIN + 3_000, &rules.settings);
    assert_eq!(
        n.subject,
        "[CRITICAL] any-fatal: order-api FATAL: out of memory: killed stack..."
    );
    assert_eq!(n.attributes["service"], "order-api");
    assert_eq!(n.attributes["severity"], "critical");
    assert_eq!(n.body["record"]["trace_id"], "abc123");
    assert_eq!(n.body["window"]["start"], "2024-03-14T21:17:00.000Z");
    let q = n.body["athena_query"].as_str().unwrap();
    assert!(
        q.contains("level IN ('FATAL')") && q.contains("dt = '2024-03-14' AND hr = '21'"),
        "{q}"
    );
    r.text[TextField::Service as usize] = None;
    let n = notify_instant(rule, &r, T0, &rules.settings);
    assert_eq!(n.attributes["service"], "(any)");
    assert!(
        n.body["athena_query"]
            .as_str()
            .unwrap()
            .contains("service IS NULL")
    );
}

#[test]
fn minutes_needed_cover_the_longest_window() {
    let rules = Rules::parse(SHIPPED).unwrap();
    let end = T0 + 30 * MIN + 5;
    let m = minutes_needed(&rules, end);
    assert_eq!(m.len(), 15);
    assert_eq!((m[0], m[14]), (T0 + 15 * MIN, T0 + 29 * MIN));
    assert!(minutes_needed(&Rules::parse("").unwrap(), end).is_empty());
}

#[test]
fn extreme_inputs_do_not_panic() {
    let rules = Arc::new(Rules::parse(INCIDENT_RULES).unwrap());
    let mut w = Windows::new(rules.clone());
    for (ts, status, lat) in [
        (i64::MIN, i16::MIN, f64::NAN),
        (i64::MAX, i16::MAX, f64::INFINITY),
        (0, -1, -5.0),
        (-1, 99, f64::MAX),
        (T0, 600, f64::MIN_POSITIVE),
    ] {
        let mut r = rec("checkout-web", Level::Fatal, status, lat, "ü\u{0}\n", "u");
        r.level = None;
        w.observe(&r, ts);
        let _ = w.instant_matches(&r);
        let n = notify_instant(rules.get("any-fatal").unwrap(), &r, ts, &rules.settings);
        assert!(n.subject.chars().count() <= MAX_SUBJECT_CHARS);
    }
    let cs = w.contributions();
    assert_eq!(cs.len(), 5);
    let mut sums = WindowSums::new();
    for c in &cs {
        sums.add(&Contribution::from_json(&c.to_json()).unwrap());
    }
    let huge = Contribution::from_json(&format!(
        r#"{{"minute_ms":0,"groups":[[{{"field":"service","value":"checkout-web"}},{{"t":{m},"e":{m},"lat":{{"z":{m},"b":[[1,{m}]]}}}}]]}}"#,
        m = u64::MAX
    ))
    .unwrap();
    sums.add(&huge);
    sums.add(&huge);
    for end in [i64::MIN, -1, 0, 60_000, T0, i64::MAX] {
        for e in evaluate(&rules, &sums, end) {
            let rule = rules.get(&e.rule).unwrap();
            for t in [Transition::Firing, Transition::Resolved] {
                let n = notify(rule, &e, t, &rules.settings);
                assert!(n.subject.chars().count() <= MAX_SUBJECT_CHARS);
            }
        }
        let _ = minutes_needed(&rules, end);
    }
}
