//! The Kinesis events in `events/` deserialize as Lambda delivers them and
//! decode to the lines they carry.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use aws_lambda_events::event::kinesis::KinesisEvent;
use loglake_core::ingest::format::parse_line;
use loglake_core::record::Record;
use loglake_core::triggers::kinesis::{RecordData, decode_record};

fn load(name: &str) -> KinesisEvent {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// (lines, of which parse) per record.
fn decoded(name: &str) -> Vec<Option<(usize, usize)>> {
    load(name)
        .records
        .iter()
        .map(|r| match decode_record(&r.kinesis.data.0) {
            Ok(RecordData::Control) => None,
            Ok(RecordData::Lines(lines)) => Some((
                lines.len(),
                lines
                    .iter()
                    .filter(|l| {
                        std::str::from_utf8(&l.bytes).ok().is_some_and(|t| {
                            parse_line(t, &mut Record::default(), &Default::default()).is_ok()
                        })
                    })
                    .count(),
            )),
            Err(_) => Some((1, 0)),
        })
        .collect()
}

#[test]
fn kinesis_fixtures() {
    assert_eq!(decoded("kinesis-json.json"), [Some((1, 1)), Some((2, 2))]);
    assert_eq!(decoded("kinesis-cwlogs.json"), [Some((3, 3)), None]);
    assert_eq!(
        decoded("kinesis-mixed.json"),
        [Some((1, 1)), Some((1, 0)), Some((1, 1))]
    );
    let e = load("kinesis-json.json");
    assert!(
        e.records[0]
            .event_source_arn
            .as_deref()
            .unwrap()
            .ends_with("stream/loglake-logs")
    );
}
