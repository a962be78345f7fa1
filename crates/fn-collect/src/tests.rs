//! Settings, and the payload format 2.0 translation over the fixtures in
//! `events/` (API Gateway HTTP API and function URL requests), against an
//! in-memory stream.

use std::path::PathBuf;
use std::sync::Mutex;

use loglake_handlers::collect::Accepted;
use loglake_handlers::effects::{BoxFuture, EventSink};
use serde_json::Value;

use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(Vars::new(&loglake_testkit::vars(pairs)))
}

#[test]
fn settings_and_their_errors() {
    let c = config(&[
        ("STREAM_NAME", "events"),
        ("AWS_REGION", "eu-central-1"),
        ("ALLOWED_ORIGINS", "https://shop.example"),
    ])
    .unwrap();
    assert_eq!(c.stream_name, "events");
    assert_eq!(c.collect.region.as_deref(), Some("eu-central-1"));
    assert_eq!(c.collect.service, "events");
    assert_eq!(c.collect.max_body_bytes, 1 << 20);
    assert_eq!(config(&[]).unwrap_err().variable, "STREAM_NAME");
    for (var, value) in [
        ("MAX_BODY_BYTES", "7000000"),
        ("MAX_BODY_BYTES", "1MiB"),
        ("ALLOWED_ORIGINS", "shop.example"),
        ("REDACT", "everything"),
    ] {
        let e = config(&[("STREAM_NAME", "s"), (var, value)]).unwrap_err();
        assert_eq!(
            (e.variable.as_str(), e.value.as_deref()),
            (var, Some(value)),
            "{e}"
        );
    }
}

#[derive(Default)]
struct Memory(Mutex<Vec<Accepted>>);

impl EventSink for Memory {
    fn put<'a>(&'a self, events: &'a [Accepted]) -> BoxFuture<'a, Result<(), String>> {
        self.0.lock().unwrap().extend_from_slice(events);
        Box::pin(async { Ok(()) })
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn name(&self) -> String {
        "memory".into()
    }
}

fn fixture(name: &str) -> HttpEvent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn app(sink: Arc<Memory>) -> App {
    App {
        collector: Collector::new(
            sink,
            CollectSettings {
                region: Some("us-east-1".into()),
                ..CollectSettings::default()
            },
        ),
        function_name: "fn-collect".into(),
    }
}

#[tokio::test]
async fn api_gateway_and_function_url_requests() {
    let sink = Arc::new(Memory::default());
    let app = app(sink.clone());
    let mut bodies = Vec::new();
    for name in [
        "apigw-v2-post-events.json",
        "apigw-v2-post-events-gzip.json",
        "function-url-post-events.json",
    ] {
        let before = sink.0.lock().unwrap().len();
        let r = handle(&app, fixture(name)).await;
        assert_eq!(r.status_code, 202, "{name}: {}", r.body);
        assert_eq!(r.headers["content-type"], "application/json");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert!(v["accepted"].as_u64().unwrap() >= 1, "{name}: {v}");
        let rows: Vec<Value> = sink.0.lock().unwrap()[before..]
            .iter()
            .map(|e| serde_json::from_slice(&e.line).unwrap())
            .collect();
        for row in &rows {
            assert_eq!(row["source_format"], "http");
            assert_eq!(row["region"], "us-east-1");
            assert!(row["client_ip"].is_string(), "{row}");
        }
        bodies.push(rows);
    }
    // The gzip fixture is the plain one compressed: the same rows.
    let strip = |rows: &[Value]| -> Vec<Value> {
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("event_id");
                r
            })
            .collect()
    };
    assert_eq!(strip(&bodies[0]), strip(&bodies[1]));
    let r = handle(&app, fixture("apigw-v2-healthz.json")).await;
    assert_eq!(r.status_code, 200, "{}", r.body);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["sink"],
        "memory"
    );
}

#[tokio::test]
async fn a_body_that_says_base64_and_is_not_gets_400() {
    let mut e = fixture("apigw-v2-post-events.json");
    e.is_base64_encoded = true;
    e.body = Some("%%%".into());
    let r = handle(&app(Arc::default()), e).await;
    assert_eq!(r.status_code, 400);
    assert!(r.body.contains("base64"));
}
