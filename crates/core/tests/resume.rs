//! An ingest paused at segment boundaries and resumed from its checkpoints,
//! one segment per run, writes byte for byte what a single pass writes:
//! Parquet, quarantine files and the manifest; every row is observed once.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use loglake_core::ingest::resume::{read_checkpoint, write_checkpoint};
use loglake_core::ingest::{Keys, Observer, Origin, Progress, ingest_resumable};
use loglake_core::record::{Record, SourceFormat};
use loglake_core::{IngestOptions, Manifest, MemoryStore, OutputStore};
use support::{DAY0, HOUR, T21, gzip, json_line, options, source};

/// Counts what it is shown, and each event id once.
#[derive(Default)]
struct Seen {
    rows: u64,
    positions: BTreeMap<u64, u32>,
}

impl Observer for Seen {
    fn observe(&mut self, _: &Record<'_>, _: i64, _: SourceFormat, o: &Origin<'_>) {
        self.rows += 1;
        *self.positions.entry(o.position).or_insert(0) += 1;
    }
}

/// Java-style application log: stack traces, blank lines, a line that is
/// not UTF-8, one with no time at all, over a few hours.
fn text_log() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..900i64 {
        let h = i / 300;
        let s = i % 60;
        let level = ["INFO", "WARN", "ERROR", "DEBUG"][(i % 4) as usize];
        out.extend(
            format!("2024-03-14 {:02}:{:02}:{s:02}.{:03} {level} [worker-{}] com.shop.Cart - item {i} added for user u{}\n",
                20 + h, i % 60, i % 1000, i % 7, i % 31)
                .as_bytes(),
        );
        if i % 37 == 0 {
            out.extend_from_slice(b"java.lang.IllegalStateException: cart closed\n");
            for f in 0..(i % 5 + 1) {
                out.extend(format!("\tat com.shop.Cart.add(Cart.java:{f})\n").as_bytes());
            }
            out.extend_from_slice(b"\t... 12 more\n");
        }
        if i % 101 == 0 {
            out.extend_from_slice(b"\n\n");
        }
        if i % 211 == 0 {
            out.extend_from_slice(b"\xff\xfe not text \xc3\x28\n");
        }
    }
    out
}

/// JSON lines over many hours, with broken lines among them.
fn json_log() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..3000i64 {
        out.extend(json_line(
            i,
            DAY0 + (i % 17) * HOUR + i,
            &"x".repeat((i % 40) as usize),
        ));
        if i % 293 == 0 {
            out.extend_from_slice(b"{\"ts\": broken\n");
        }
    }
    out
}

/// A CloudFront log: its header names the fields, and must be known to the
/// segments after the first.
fn cloudfront_log() -> Vec<u8> {
    let mut out = b"#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query\n".to_vec();
    for i in 0..1500 {
        out.extend(
            format!(
                "2024-03-14\t21:{:02}:{:02}\tSFO5-C1\t{}\t192.0.2.{}\tGET\td111111abcdef8.cloudfront.net\t/p/{i}\t{}\t-\tMozilla/5.0\t-\n",
                i / 60 % 60,
                i % 60,
                100 + i,
                i % 250,
                if i % 9 == 0 { 404 } else { 200 }
            )
            .as_bytes(),
        );
    }
    out
}

/// Two gzip members, as Firehose and `cat a.gz b.gz` write them.
/// A CloudTrail document (one line, as CloudTrail writes it), one record
/// with a time that is not one.
fn cloudtrail_document() -> Vec<u8> {
    let records: Vec<String> = (0..1500)
        .map(|i| {
            let time = if i == 700 {
                "yesterday".to_string()
            } else {
                format!("2024-03-14T21:{:02}:{:02}Z", i / 60 % 60, i % 60)
            };
            format!(
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{i}"}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.{}","requestID":"r{i}","eventID":"e{i}"}}"#,
                i % 250
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

fn two_members(data: &[u8]) -> Vec<u8> {
    let cut = data.len() / 2;
    let cut = cut + data[cut..].iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut out = gzip(&data[..cut]);
    out.extend(gzip(&data[cut..]));
    out
}

fn segmented(pipelined: bool, segment_bytes: u64) -> IngestOptions {
    IngestOptions {
        segment_bytes,
        memory_budget: 64 << 10,
        row_group_bytes: 16 << 10,
        ..options(pipelined)
    }
}

/// Every object, manifests without their one timing field.
fn normalized(store: &MemoryStore) -> BTreeMap<String, Vec<u8>> {
    store
        .objects()
        .into_iter()
        .map(|(k, v)| {
            if k.starts_with("_manifests/") {
                let mut m: Manifest = serde_json::from_slice(&v).unwrap();
                m.duration_ms = 0;
                (k, serde_json::to_vec_pretty(&m).unwrap())
            } else {
                (k, v)
            }
        })
        .collect()
}

/// Resume until done, one segment per run (the deadline has passed),
/// keeping each checkpoint in the store as a function would.
fn in_paused_runs(
    name: &str,
    input: &[u8],
    opts: &IngestOptions,
) -> (MemoryStore, Manifest, u32, Seen) {
    let store = MemoryStore::default();
    let mut opts = opts.clone();
    opts.stop_by = Some(Instant::now() - Duration::from_secs(1));
    let src = || source(name, input, Some(T21));
    let keys = Keys::new(&opts, name, &src().identity, Some(T21));
    let mut seen = Seen::default();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 1000, "no progress");
        let cp = read_checkpoint(&store, &keys.checkpoint, &src().identity, &opts).unwrap();
        assert_eq!(cp.is_some(), runs > 1, "run {runs}");
        match ingest_resumable(src(), &store, &opts, &mut seen, cp.as_ref()).unwrap() {
            Progress::Paused(cp) => {
                assert!(store.get(&keys.manifest).unwrap().is_none());
                write_checkpoint(&store, &keys.checkpoint, &cp).unwrap();
            }
            Progress::Done(m) => {
                assert!(
                    store.get(&keys.checkpoint).unwrap().is_none(),
                    "the last run removes the checkpoint"
                );
                return (store, m, runs, seen);
            }
        }
    }
}

#[test]
fn paused_runs_write_what_one_pass_writes() {
    let cases: [(&str, Vec<u8>, u64); 6] = [
        ("app.log", text_log(), 9_000),
        ("app.log.gz", two_members(&text_log()), 7_000),
        ("events.ndjson", json_log(), 20_000),
        ("events.ndjson.gz", gzip(&json_log()), 50_000),
        ("E2ABC.2024-03-14-21.cf.log", cloudfront_log(), 16_000),
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/14/t.json.gz",
            gzip(&cloudtrail_document()),
            40_000,
        ),
    ];
    for (name, input, segment) in &cases {
        for pipelined in [false, true] {
            let opts = segmented(pipelined, *segment);
            let one = MemoryStore::default();
            let mut seen_once = Seen::default();
            let single = match ingest_resumable(
                source(name, input, Some(T21)),
                &one,
                &opts,
                &mut seen_once,
                None,
            )
            .unwrap()
            {
                Progress::Done(m) => m,
                Progress::Paused(_) => panic!("no deadline, no pause"),
            };
            assert!(single.balanced(), "{name}");
            assert!(single.quarantined > 0 || name.contains("cf"), "{name}");

            let (paused, resumed, runs, seen) = in_paused_runs(name, input, &opts);
            let segments = single.bytes_decoded.div_ceil(*segment);
            assert!(
                runs >= 3 && u64::from(runs) <= segments,
                "{name}: {runs} runs, {segments} segments"
            );

            let (a, b) = (normalized(&one), normalized(&paused));
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{name}"
            );
            for (k, v) in &a {
                assert!(b[k] == *v, "{name} pipelined={pipelined}: {k} differs");
            }
            let mut r = resumed.clone();
            r.duration_ms = single.duration_ms;
            assert_eq!(r, single, "{name}");
            // Each row shown to the sinks once, in one run or another.
            assert_eq!(seen.rows, single.rows_out, "{name}");
            assert_eq!(seen.positions, seen_once.positions, "{name}");
            assert!(seen.positions.values().all(|n| *n == 1));
        }
    }
}

#[test]
fn segments_end_files_and_quarantine_on_their_own() {
    let input = text_log();
    let store = MemoryStore::default();
    let opts = segmented(true, 9_000);
    let m = loglake_core::ingest(source("app.log", &input, Some(T21)), &store, &opts).unwrap();
    let quarantine: Vec<&str> = m
        .outputs
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| k.starts_with("quarantine/"))
        .collect();
    assert!(quarantine.len() > 1, "{quarantine:?}");
    assert!(
        quarantine.iter().any(|k| k.contains("-s0")),
        "{quarantine:?}"
    );
    let q: u64 = m
        .outputs
        .iter()
        .filter(|o| o.key.starts_with("quarantine/"))
        .map(|o| o.rows)
        .sum();
    assert_eq!(q, m.quarantined);
    // Without segments inside the input, one file per partition.
    let whole = MemoryStore::default();
    let big = segmented(true, 1 << 30);
    let w = loglake_core::ingest(source("app.log", &input, Some(T21)), &whole, &big).unwrap();
    // The same lines; a stack trace cut by a boundary is two events.
    assert_eq!(w.lines_in, m.lines_in);
    assert!(w.balanced() && m.balanced());
    assert!(m.merged <= w.merged && m.merged + 3 >= w.merged);
    assert!(w.outputs.len() < m.outputs.len());
}

#[test]
fn a_checkpoint_of_other_settings_or_another_upload_is_not_resumed() {
    let input = json_log();
    let opts = segmented(true, 20_000);
    let (store, _, _, _) = in_paused_runs("events.ndjson", &input, &opts);
    // Leave a checkpoint behind: pause once more.
    let mut first = opts.clone();
    first.stop_by = Some(Instant::now() - Duration::from_secs(1));
    let src = source("events.ndjson", &input, Some(T21));
    let identity = src.identity.clone();
    let keys = Keys::new(&first, "events.ndjson", &identity, Some(T21));
    let Progress::Paused(cp) =
        ingest_resumable(src, &store, &first, &mut Seen::default(), None).unwrap()
    else {
        panic!("expected a pause");
    };
    write_checkpoint(&store, &keys.checkpoint, &cp).unwrap();
    assert!(
        read_checkpoint(&store, &keys.checkpoint, &identity, &opts)
            .unwrap()
            .is_some()
    );
    assert!(
        read_checkpoint(&store, &keys.checkpoint, "id:other upload", &opts)
            .unwrap()
            .is_none()
    );
    let mut other = opts.clone();
    other.segment_bytes = 30_000;
    assert!(
        read_checkpoint(&store, &keys.checkpoint, &identity, &other)
            .unwrap()
            .is_none()
    );
    other = opts.clone();
    other.redact.emails = !other.redact.emails;
    assert!(
        read_checkpoint(&store, &keys.checkpoint, &identity, &other)
            .unwrap()
            .is_none()
    );
    // stop_by is not a setting: any deadline resumes.
    other = opts.clone();
    other.stop_by = None;
    assert!(
        read_checkpoint(&store, &keys.checkpoint, &identity, &other)
            .unwrap()
            .is_some()
    );
}
