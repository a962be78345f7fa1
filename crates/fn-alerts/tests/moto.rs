//! Alerts end to end on a local AWS (moto): fn-ingest writes window
//! contributions to DynamoDB and publishes instant alerts; fn-alerts sums
//! the windows, moves alert state with conditional writes and publishes to
//! SNS, read back through an SQS subscription. The local AWS enforces IAM:
//! each function runs as a user holding exactly its policy.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::time::Duration;

use fn_alerts::Config;
use loglake_core::record::{Level, Record, TextField};
use loglake_core::sinks::alerts::{Contribution, Rules, Windows, minutes_needed};
use loglake_handlers::alerts::AlertConfig;
use loglake_handlers::alerts::evaluate::Evaluator;
use loglake_handlers::alerts::summary::{HOUR_MS, Scheduled};
use loglake_handlers::ingest::{Ingest, IngestSettings};
use loglake_testkit::LocalAws;
use loglake_testkit::alerts::{AlertAws, subjects};
use loglake_testkit::iam::{self, Role};
use serde_json::{Value, json};

/// 2026-11-21T10:00:00Z
/// The hour before the current one: the windows keep `retention_hours`
/// (48) of minutes, so the traffic must be recent.
/// Taken once, so the whole test sees one hour.
static T0: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    let now = loglake_handlers::now_ms();
    now - now.rem_euclid(3_600_000) - 3_600_000
});
const MIN: i64 = 60_000;

const RULES: &str = r#"
[settings]
evaluation_delay_minutes = 2

[[rule]]
name = "checkout-error-rate"
kind = "error_rate"
group_by = "service"
window_minutes = 5
percent = 10.0
min_total = 20
groups = ["checkout"]
severity = "critical"
cooldown_minutes = 10

[[rule]]
name = "any-fatal"
kind = "instant"
level = "FATAL"
severity = "critical"
"#;

struct Env {
    local: LocalAws,
    /// fn-ingest's and fn-alerts's roles.
    ingest_role: Role,
    alerts_role: Role,
    raw: String,
    curated: String,
    infra: AlertAws,
    alerts: AlertConfig,
}

async fn env(name: &str) -> Env {
    let local = LocalAws::enforced(name).await;
    let raw = local.bucket("raw").await;
    let curated = local.bucket("curated").await;
    let infra = AlertAws::create(&local.aws, &local.id).await;
    let alerts = infra.config(RULES);
    let ingest_role = local.role(
        "fn-ingest",
        &iam::ingest_policy(&raw, &curated, &format!("ingest-{}", local.id)),
    );
    let alerts_role = local.role(
        "fn-alerts",
        &iam::alerts_policy(&infra.windows, &infra.state, &infra.topic, &curated),
    );
    Env {
        local,
        ingest_role,
        alerts_role,
        raw,
        curated,
        infra,
        alerts,
    }
}

impl Env {
    fn ingest_app(&self) -> Ingest {
        self.ingest_app_with(self.alerts.clone())
    }

    /// fn-ingest under its role, with these alert settings.
    fn ingest_app_with(&self, alerts: AlertConfig) -> Ingest {
        let mut app = self.local.through(self.ingest_role.aws.clone()).ingest(
            &self.curated,
            IngestSettings {
                memory_budget_mb: 16,
                ..IngestSettings::default()
            },
        );
        app.alerts = Some(loglake_aws::alert_sink(&self.ingest_role.aws, alerts));
        app
    }

    /// The rules object, as Terraform uploads it.
    async fn put_rules(&self, text: &str) {
        let body = text.as_bytes().to_vec();
        self.local.put(&self.curated, iam::RULES_KEY, body).await;
    }

    /// One raw object through `app`.
    async fn ingest_with(&self, app: &Ingest, key: &str, body: String) -> Value {
        self.local.put(&self.raw, key, body.into_bytes()).await;
        app.handle(json!({ "source_uri": format!("s3://{}/{key}", self.raw) }))
            .await
            .unwrap()
    }

    /// fn-alerts as its Lambda builds it: the evaluation, then the summary
    /// into the curated bucket.
    fn app(&self) -> Scheduled {
        let mut vars: Vec<(&str, String)> = self.infra.vars(RULES).into_iter().collect();
        vars.push(("SUMMARY_BUCKET", self.curated.clone()));
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = loglake_testkit::settings(&pairs, Config::from_vars);
        fn_alerts::app(&self.alerts_role.aws, config).unwrap()
    }

    fn evaluator(&self) -> Evaluator {
        self.app().evaluator
    }

    async fn ingest(&self, key: &str, body: String) -> Value {
        self.ingest_with(&self.ingest_app(), key, body).await
    }
}

/// Thirty minutes of checkout and cart traffic, 40 lines a minute each;
/// checkout fails 30% of the time in minutes 10..15; one FATAL at minute 20.
fn traffic() -> String {
    let mut s = String::new();
    for m in 0..30i64 {
        for i in 0..40i64 {
            let ts = *T0 + m * MIN + i * 1000;
            let bad = (10..15).contains(&m) && i % 10 < 3;
            let level = if bad { "ERROR" } else { "INFO" };
            s.push_str(&format!(
                "{{\"ts\":{ts},\"level\":\"{level}\",\"service\":\"checkout\",\"msg\":\"order {m}-{i}\",\"status\":{},\"latency_ms\":{}}}\n",
                if bad { 502 } else { 200 },
                20 + i
            ));
            s.push_str(&format!(
                "{{\"ts\":{ts},\"level\":\"INFO\",\"service\":\"cart\",\"msg\":\"view {m}-{i}\",\"status\":200}}\n"
            ));
        }
        if m == 20 {
            s.push_str(&format!(
                "{{\"ts\":{},\"level\":\"FATAL\",\"service\":\"payment\",\"msg\":\"out of memory\"}}\n",
                *T0 + m * MIN + 500
            ));
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_survive_redelivery_and_each_transition_is_published_once() {
    let e = env("alerts").await;
    let first = e.ingest("shop/traffic.ndjson", traffic()).await;
    assert!(
        first["objects"][0]["alerts"]["window_items"]
            .as_u64()
            .unwrap()
            >= 30,
        "{first}"
    );

    // The FATAL line: one instant alert, and not again when the same
    // object is delivered twice.
    let fatal = e.infra.inbox().await;
    assert_eq!(fatal.len(), 1, "{fatal:?}");
    assert!(fatal[0]["Subject"].as_str().unwrap().contains("any-fatal"));
    assert_eq!(fatal[0]["MessageAttributes"]["rule"]["Value"], "any-fatal");
    assert_eq!(
        fatal[0]["MessageAttributes"]["severity"]["Value"],
        "critical"
    );

    let store = e.evaluator().windows;
    let rules = Rules::parse(RULES).unwrap();
    let rules = &rules;
    let end = *T0 + 30 * MIN;
    let minutes: Vec<i64> = (0..30).map(|m| *T0 + m * MIN).collect();
    let before = format!("{:?}", store.load(&minutes).await.unwrap());
    let again = e.ingest("shop/traffic.ndjson", traffic()).await;
    assert_eq!(again["objects"][0]["alerts"]["instant_alerts"], 0);
    let after = format!("{:?}", store.load(&minutes).await.unwrap());
    assert_eq!(
        before, after,
        "a redelivered source must not add to the sums"
    );
    assert!(e.infra.inbox().await.is_empty());
    assert!(!minutes_needed(rules, end).is_empty());

    // Two evaluators of the same minute, during the incident: one
    // notification. (The window ends two minutes before "now".) They run
    // one after the other: moto does not make a conditional write atomic
    // against a concurrent one, as DynamoDB does, so running them at once
    // here would test moto's race, not ours.
    let now = *T0 + 16 * MIN + 5_000;
    let (a, b) = (e.evaluator(), e.evaluator());
    let (ra, rb) = (a.evaluate(now).await, b.evaluate(now).await);
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.fired.len() + rb.fired.len(), 1, "{ra:?} {rb:?}");
    // A retry of the same run publishes nothing new.
    assert!(a.evaluate(now).await.unwrap().fired.is_empty());
    let firing = e.infra.inbox().await;
    assert_eq!(subjects(&firing).len(), 1, "{firing:?}");
    let subject = firing[0]["Subject"].as_str().unwrap();
    assert!(
        subject.contains("checkout-error-rate") && subject.contains("checkout"),
        "{subject}"
    );
    assert!(subject.chars().count() <= 100);
    let body: Value = serde_json::from_str(firing[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["rule"], "checkout-error-rate");
    assert!(
        body["athena_query"].as_str().unwrap().contains("dt"),
        "{body}"
    );
    assert!(body["observed"].as_f64().unwrap() >= 10.0, "{body}");
    assert_eq!(
        firing[0]["MessageAttributes"]["service"]["Value"],
        "checkout"
    );

    // A late run, evaluating an earlier moment than the one that fired (its
    // windows before the incident), must not resolve it.
    let stale = a.evaluate(*T0 + 12 * MIN + 5_000).await.unwrap();
    assert!(stale.resolved.is_empty(), "{stale:?}");
    assert!(e.infra.inbox().await.is_empty());

    // After the incident: resolved, once, even with two evaluators.
    let later = *T0 + 24 * MIN;
    let (ra, rb) = (a.evaluate(later).await, b.evaluate(later).await);
    assert_eq!(ra.unwrap().resolved.len() + rb.unwrap().resolved.len(), 1);
    let resolved = e.infra.inbox().await;
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert!(
        resolved[0]["Subject"]
            .as_str()
            .unwrap()
            .contains("RESOLVED")
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// `n` records a minute of `service` in minutes `minutes` of `hour`, every
/// fourth an ERROR: the contributions a writer's windows make.
fn contributions(
    rules: &std::sync::Arc<Rules>,
    hour: i64,
    minutes: std::ops::Range<i64>,
    service: &str,
    n: i64,
) -> Vec<Contribution> {
    let mut w = Windows::with_summary(rules.clone());
    for m in minutes {
        for i in 0..n {
            let mut r = Record::default();
            r.set(TextField::Service, service.to_string());
            r.level = Some(if i % 4 == 0 {
                Level::Error
            } else {
                Level::Info
            });
            r.latency_ms = Some(5.0 + i as f64);
            w.observe(&r, hour + m * MIN + i * 10);
        }
    }
    w.contributions()
}

/// Records per service in a summary file.
fn records_per_service(parquet: &[u8]) -> std::collections::BTreeMap<String, i64> {
    use arrow_array::{Int64Array, StringArray};
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(parquet.to_vec()),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
        let service = col("service");
        let service = service.as_any().downcast_ref::<StringArray>().unwrap();
        let records = col("records");
        let records = records.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..batch.num_rows() {
            *out.entry(service.value(i).to_string()).or_insert(0) += records.value(i);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_summary_is_written_once_closed_and_rebuilt_for_late_items() {
    let e = env("summary").await;
    let now = loglake_handlers::now_ms();
    let app = e.app();
    let summary = app.summary.clone().unwrap();
    // An hour long closed, within the first run's reach.
    let hour = summary.closed_hour(now) - HOUR_MS;
    // The writers' window store, under fn-ingest's role (BatchWriteItem
    // only): its contributions, and the late markers it leaves.
    let writer = loglake_aws::alert_sink(&e.ingest_role.aws, e.alerts.clone())
        .windows
        .unwrap();
    let rules = std::sync::Arc::new(Rules::parse(RULES).unwrap());
    let mut first = contributions(&rules, hour, 0..3, "checkout", 10);
    first.extend(contributions(&rules, hour, 10..12, "cart", 5));
    first.sort_by_key(|c| c.minute_ms);
    writer.put("source-a", &first).await.unwrap();

    let out = app.run(now).await.unwrap();
    let report = out.summary.unwrap();
    let key = loglake_core::summary::hour_key(hour);
    assert!(
        report
            .written
            .contains(&loglake_core::time::format_rfc3339_ms(hour)),
        "{report:?}"
    );
    let files = e.local.objects(&e.curated, "summary/").await;
    assert_eq!(files.keys().collect::<Vec<_>>(), [&key], "{files:?}");
    let before = files[&key].clone();
    assert_eq!(
        records_per_service(&before),
        [("cart".to_string(), 10), ("checkout".to_string(), 30)].into()
    );
    // The writer wrote to a closed hour: its marker was handled and cleared.
    let admin = loglake_aws::alert_sink(&e.local.aws, e.alerts.clone())
        .windows
        .unwrap();
    assert!(admin.late_hours().await.unwrap().is_empty());
    assert_eq!(
        admin.summary_progress().await.unwrap(),
        Some(summary.closed_hour(now))
    );

    // A late source adds to that hour: the writer marks it, the next run
    // rebuilds it with the late items and clears the marker.
    writer
        .put(
            "source-late",
            &contributions(&rules, hour, 30..31, "search", 7),
        )
        .await
        .unwrap();
    let late = admin.late_hours().await.unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].0, hour);
    let again = app.run(now + MIN).await.unwrap().summary.unwrap();
    assert_eq!(again.late.len(), 1, "{again:?}");
    let after = e.local.objects(&e.curated, "summary/").await[&key].clone();
    assert_ne!(before, after);
    assert_eq!(
        records_per_service(&after),
        [
            ("cart".to_string(), 10),
            ("checkout".to_string(), 30),
            ("search".to_string(), 7)
        ]
        .into()
    );
    assert!(admin.late_hours().await.unwrap().is_empty());
    // A run within the same hour writes nothing new.
    let quiet = app.run(now + 2 * MIN).await.unwrap().summary.unwrap();
    assert!(quiet.written.is_empty(), "{quiet:?}");

    // Every call was made under fn-alerts' own policy, with the grants
    // the summary needs.
    assert!(
        e.alerts_role.denied().is_empty(),
        "{:?}",
        e.alerts_role.denied()
    );
    let used: std::collections::BTreeSet<String> = e
        .alerts_role
        .decisions()
        .into_iter()
        .map(|d| d.action)
        .collect();
    for action in [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "s3:PutObject",
    ] {
        assert!(used.contains(action), "{action} not used: {used:?}");
    }
    assert!(
        e.ingest_role.denied().is_empty(),
        "{:?}",
        e.ingest_role.denied()
    );
}

/// The rules as Terraform delivers them: an object in the curated bucket
/// (`ALERT_RULES_URI`), read by fn-ingest and fn-alerts under exactly
/// their policies, re-read when it changes, and a broken change refused
/// while the rules before stay in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_kept_in_s3_are_read_under_iam_and_read_again_when_changed() {
    use loglake_handlers::effects::{ConfigFetched, ConfigObject, ConfigReader};

    let e = env("rules-s3").await;
    e.put_rules(RULES).await;
    let uri = format!("s3://{}/{}", e.curated, iam::RULES_KEY);
    let vars = e.infra.object_vars(&uri, 0);
    let get = |k: &str| vars.get(k).cloned();
    let object_config = AlertConfig::from_vars(loglake_handlers::config::Vars::new(&get))
        .unwrap()
        .unwrap();

    // A conditional read: the object, then "not modified" for its ETag.
    let reader = loglake_aws::config_object::S3ConfigObjects {
        client: loglake_aws::s3_client(&e.alerts_role.aws),
    };
    let object = ConfigObject::parse(&uri, Duration::ZERO).unwrap();
    let ConfigFetched::Changed { etag, text } = reader.read(&object, None).await.unwrap() else {
        panic!("first read");
    };
    assert_eq!(text, RULES);
    assert_eq!(
        reader.read(&object, Some(&etag)).await.unwrap(),
        ConfigFetched::Unchanged
    );

    // fn-ingest reads them on its first invocation: the FATAL line alerts.
    let app = e.ingest_app_with(object_config.clone());
    let fatal = |n: i64| {
        format!(
            "{{\"ts\":{},\"level\":\"FATAL\",\"service\":\"payment\",\"msg\":\"out of memory {n}\"}}\n",
            *T0 + n * MIN
        )
    };
    e.ingest_with(&app, "shop/a.ndjson", fatal(1)).await;
    let sent = e.infra.inbox().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["MessageAttributes"]["rule"]["Value"], "any-fatal");

    // The object changes: the next invocation alerts under the new rule.
    e.put_rules(&RULES.replace("\"any-fatal\"", "\"payment-fatal\""))
        .await;
    e.ingest_with(&app, "shop/b.ndjson", fatal(2)).await;
    let sent = e.infra.inbox().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0]["MessageAttributes"]["rule"]["Value"],
        "payment-fatal"
    );

    // A change that does not parse is refused: the rules before stay.
    e.put_rules("[[rule]]\nname = \"broken\"\nkind = \"nonsense\"\n")
        .await;
    let out = e.ingest_with(&app, "shop/c.ndjson", fatal(3)).await;
    assert_eq!(out["objects"][0]["alerts"]["instant_alerts"], 1, "{out}");
    let sent = e.infra.inbox().await;
    assert_eq!(
        sent[0]["MessageAttributes"]["rule"]["Value"],
        "payment-fatal"
    );

    // fn-alerts as its Lambda builds it from the same variables: a run
    // reads them under its own role (refused rules fail no run once read).
    e.put_rules(RULES).await;
    let mut pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("SUMMARY_BUCKET", &e.curated));
    let config = loglake_testkit::settings(&pairs, Config::from_vars);
    let scheduled = fn_alerts::app(&e.alerts_role.aws, config).unwrap();
    scheduled.run(*T0 + 40 * MIN).await.unwrap();
    assert_eq!(scheduled.evaluator.rules.get().rules.len(), 2);

    // A function whose rules cannot be read counts nothing: it fails.
    let missing = AlertConfig {
        rules: loglake_handlers::alerts::RulesSpec::Object(
            // A bucket the grant covers, without the object: no such bucket.
            ConfigObject::parse(
                &format!("s3://curated-missing-{}/{}", e.local.id, iam::RULES_KEY),
                Duration::ZERO,
            )
            .unwrap(),
        ),
        ..object_config
    };
    let app = e.ingest_app_with(missing);
    e.local
        .put(&e.raw, "shop/d.ndjson", fatal(4).into_bytes())
        .await;
    let err = app
        .handle(json!({ "source_uri": format!("s3://{}/shop/d.ndjson", e.raw) }))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("alert rules s3://curated-missing-"),
        "{err}"
    );
}
