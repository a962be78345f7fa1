//! Alerts end to end on a local AWS (moto): fn-ingest writes window
//! contributions to DynamoDB and publishes instant alerts; fn-alerts sums
//! the windows, moves alert state with conditional writes and publishes to
//! SNS, read back through an SQS subscription. `make test` starts moto.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use fn_alerts::{App, Config};
use loglake_aws::alerts::{AlertConfig, AlertStore};
use loglake_core::alerts::{Rules, minutes_needed};
use serde_json::{Value, json};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// 2026-11-21T10:00:00Z
const T0: i64 = 1_795_255_200_000;
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

#[path = "../../../tests/support/alerts.rs"]
mod alerts_aws;

use alerts_aws::{AlertAws, subjects};

struct Env {
    aws: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    raw: String,
    curated: String,
    infra: AlertAws,
    alerts: AlertConfig,
}

async fn env(name: &str) -> Env {
    assert!(
        std::env::var("LOGLAKE_TEST_ENDPOINT").is_ok(),
        "these tests need the local AWS: run them with `make test`"
    );
    let aws = loglake_aws::load_config().await;
    let id = format!(
        "{name}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let s3 = loglake_aws::s3_client(&aws);
    let (raw, curated) = (format!("raw-{id}"), format!("curated-{id}"));
    for b in [&raw, &curated] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let infra = AlertAws::create(&aws, &id).await;
    let alerts = infra.config(RULES);
    Env {
        aws,
        s3,
        raw,
        curated,
        infra,
        alerts,
    }
}

impl Env {
    fn ingest_app(&self) -> fn_ingest::App {
        let config = fn_ingest::Config {
            curated_bucket: self.curated.clone(),
            curated_prefix: String::new(),
            format_by_prefix: vec![],
            service_from_key: true,
            memory_budget_mb: 16,
            max_line_bytes: 1 << 20,
            redact: Default::default(),
            search: None,
            alerts: Some(self.alerts.clone()),
        };
        fn_ingest::App::new(&self.aws, config).unwrap()
    }

    fn evaluator(&self) -> App {
        let vars = self.infra.vars(RULES);
        App::new(
            &self.aws,
            Config::from_lookup(|k| vars.get(k).cloned()).unwrap(),
        )
    }

    async fn ingest(&self, key: &str, body: String) -> Value {
        self.s3
            .put_object()
            .bucket(&self.raw)
            .key(key)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .unwrap();
        self.ingest_app()
            .handle(json!({ "source_uri": format!("s3://{}/{key}", self.raw) }))
            .await
            .unwrap()
    }
}

/// Thirty minutes of checkout and cart traffic, 40 lines a minute each;
/// checkout fails 30% of the time in minutes 10..15; one FATAL at minute 20.
fn traffic() -> String {
    let mut s = String::new();
    for m in 0..30i64 {
        for i in 0..40i64 {
            let ts = T0 + m * MIN + i * 1000;
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
                T0 + m * MIN + 500
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

    let store = AlertStore::new(&e.aws, e.alerts.clone());
    let rules: &Rules = &e.alerts.rules;
    let end = T0 + 30 * MIN;
    let minutes: Vec<i64> = (0..30).map(|m| T0 + m * MIN).collect();
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

    // Two evaluators at the same moment, during the incident: one
    // notification. (The window ends two minutes before "now".)
    let now = T0 + 16 * MIN + 5_000;
    let (a, b) = (e.evaluator(), e.evaluator());
    let (ra, rb) = tokio::join!(a.evaluate(now), b.evaluate(now));
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

    // After the incident: resolved, once, even with two evaluators.
    let later = T0 + 24 * MIN;
    let (ra, rb) = tokio::join!(a.evaluate(later), b.evaluate(later));
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
