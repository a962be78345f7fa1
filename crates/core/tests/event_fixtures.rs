//! Every real-shaped event in `events/` decodes to the object it names, the
//! way fn-ingest will see it (and `cargo lambda invoke --data-file` sends it).
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use loglake_core::triggers::objects::{Invocation, Skip, Work, classify, work_in_body};

fn load(name: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The work an event asks for, looking through SQS bodies.
fn work(name: &str) -> Vec<Work> {
    match classify(&load(name)).expect("a known event shape") {
        Invocation::Sqs(msgs) => msgs
            .iter()
            .flat_map(|m| work_in_body(&m.body).expect("a known message body"))
            .collect(),
        Invocation::Direct(w) => w,
    }
}

const KEY: &str = "checkout-web/2024/03/15/app log #1.ndjson.gz";

#[test]
fn every_notification_shape_names_the_same_object() {
    for name in [
        "s3-put.json",
        "sqs-s3-put.json",
        "sqs-sns-s3-put.json",
        "eventbridge-object-created.json",
        "sqs-eventbridge-object-created.json",
    ] {
        let w = work(name);
        assert_eq!(w.len(), 1, "{name}");
        let Work::Ingest(o) = &w[0] else {
            panic!("{name}: {w:?}")
        };
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("loglake-raw", KEY),
            "{name}"
        );
        assert_eq!(o.size, Some(1024), "{name}");
        assert_eq!(
            o.etag.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e"),
            "{name}"
        );
    }
    assert!(
        matches!(classify(&load("sqs-s3-put.json")).unwrap(), Invocation::Sqs(m) if m.len() == 1)
    );
}

#[test]
fn test_events_and_replays() {
    assert_eq!(
        work("sqs-s3-test-event.json"),
        vec![Work::Skip(Skip::TestEvent)]
    );
    let replay = work("replay.json");
    assert!(matches!(&replay[..], [Work::Ingest(o)] if o.key == KEY));
    let list = work("replay-list.json");
    assert_eq!(list.len(), 2);
    assert!(matches!(&list[1], Work::Ingest(o) if o.key.starts_with("cloudfront/")));
}
