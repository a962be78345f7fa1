//! Per-record cost of what runs beside the lake, on real-shaped records
//! (`make bench` runs it on the reference input):
//!
//! - bulk body encoding: loglake's search [`Feed`] against building the same
//!   NDJSON naively with serde_json (a `Value` per action and document);
//! - PII redaction with the default options (cards) and with all on.
//!
//! usage: sink_bench INPUT.ndjson[.gz] [LINES]

use std::io::{BufRead, BufReader};
use std::time::Instant;

use loglake_core::ingest::format::{Parsed, Parser};
use loglake_core::ingest::{Finisher, Origin};
use loglake_core::record::{Record, SourceFormat, TextField};
use loglake_core::redact::{RedactOptions, Redactor};
use loglake_core::sinks::alerts::{Rules, Windows};
use loglake_core::sinks::search::{Feed, SearchOptions};
use loglake_core::{Format, IngestOptions};
use serde_json::{Map, Value, json};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: sink_bench INPUT [LINES]");
    let want: usize = args
        .next()
        .map_or(300_000, |n| n.parse().expect("a record count"));
    let rules_path = args.next().unwrap_or_else(|| "alerts.toml".into());
    let file = std::fs::File::open(&path).expect("the input file");
    let reader: Box<dyn std::io::Read> = if path.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let lines: Vec<String> = BufReader::new(reader)
        .lines()
        .take(want)
        .map(Result::unwrap)
        .collect();

    // Parse once; every measurement below starts from finished records,
    // not yet redacted (the redaction figures would otherwise re-scan
    // values already masked).
    let opts = IngestOptions {
        redact: RedactOptions::NONE,
        ..IngestOptions::default()
    };
    let mut finisher = Finisher::new(&opts, None);
    let mut parser = Parser::new(Format::Json, Default::default());
    let mut recs: Vec<(Record<'_>, i64)> = Vec::with_capacity(lines.len());
    for l in &lines {
        let mut r = Record::default();
        if let Ok(Parsed::Row(_)) = parser.parse(l, &mut r)
            && let Ok(ts) = finisher.finish(&mut r)
        {
            recs.push((r, ts));
        }
    }
    let n = recs.len();
    println!("{n} records from {path}");

    let best = |f: &mut dyn FnMut() -> usize| -> (f64, usize) {
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..3 {
            let t = Instant::now();
            bytes = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        (best, bytes)
    };

    let (ours, ours_bytes) = best(&mut || {
        let mut bytes = 0;
        let mut feed = Feed::new(SearchOptions::default(), |b| bytes += b.body.len());
        for (i, (r, ts)) in recs.iter().enumerate() {
            let origin = Origin {
                identity: "s3://raw/checkout/2026/11/22/app.ndjson.gz#etag=abc",
                uri: "s3://raw/checkout/2026/11/22/app.ndjson.gz",
                line: i as u64 + 1,
                position: i as u64 * 200,
            };
            feed.add(r, *ts, SourceFormat::Json, &origin);
        }
        feed.finish();
        bytes
    });
    let (naive, naive_bytes) = best(&mut || {
        let mut body = Vec::new();
        let mut bytes = 0;
        for (i, (r, ts)) in recs.iter().enumerate() {
            let mut id = String::new();
            loglake_core::record::event_id("0123456789abcdef", i as u64 * 200, &mut id);
            let index = SearchOptions::default().index_for(*ts);
            let action = json!({"create": {"_index": index, "_id": id}});
            let doc = naive_doc(r, *ts, i as u64 + 1);
            body.extend_from_slice(action.to_string().as_bytes());
            body.push(b'\n');
            body.extend_from_slice(doc.to_string().as_bytes());
            body.push(b'\n');
            if body.len() > 5 << 20 {
                bytes += body.len();
                body.clear();
            }
        }
        bytes + body.len()
    });
    println!(
        "bulk encoding: loglake {:.0} docs/s ({:.0} MB/s), naive serde_json {:.0} docs/s: {:.2}x",
        n as f64 / ours,
        ours_bytes as f64 / 1e6 / ours,
        n as f64 / naive,
        naive / ours
    );
    let _ = naive_bytes;

    for (name, spec) in [
        ("cards", "cards"),
        ("cards,emails", "cards,emails"),
        ("cards,secrets", "cards,secrets"),
        ("cards,emails,secrets (default)", "cards,emails,secrets"),
        ("all: cards,emails,secrets,ips", "all"),
    ] {
        let opts = RedactOptions::parse(spec).expect("a redaction spec");
        let (t, masked) = best(&mut || {
            let mut red = Redactor::new(opts);
            for (r, _) in &recs {
                let mut r = r.clone();
                red.apply(&mut r);
            }
            red.counts().total() as usize
        });
        let (clone_only, _) = best(&mut || {
            let mut k = 0;
            for (r, _) in &recs {
                let r = r.clone();
                k += r.attributes.len();
            }
            k
        });
        println!(
            "redaction {name}: {:.0} ns/record ({masked} values masked)",
            (t - clone_only).max(0.0) / n as f64 * 1e9
        );
    }
    alerts(&lines, &rules_path);
}

/// Alert accumulation: every record into the per-minute windows of the
/// rules, plus the instant-rule check, as fn-ingest does: right after the
/// record is parsed (so it is in cache), measured as the difference between
/// parsing with and without it.
fn alerts(lines: &[String], rules_path: &str) {
    let rules = std::sync::Arc::new(
        Rules::from_file(std::path::Path::new(rules_path)).expect("the rules file"),
    );
    let run = |with: bool| -> (f64, usize) {
        let mut best = f64::MAX;
        let mut items = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let opts = IngestOptions::default();
            let mut finisher = Finisher::new(&opts, None);
            let mut parser = Parser::new(Format::Json, Default::default());
            let mut w = Windows::new(rules.clone());
            let mut r = Record::default();
            let mut instant = 0;
            for l in lines {
                r.clear();
                if let Ok(Parsed::Row(_)) = parser.parse(l, &mut r)
                    && let Ok(ts) = finisher.finish(&mut r)
                    && with
                {
                    w.observe(&r, ts);
                    instant += w.instant_matches(&r).len();
                }
            }
            items = w.contributions().len() + instant;
            best = best.min(t.elapsed().as_secs_f64());
        }
        (best, items)
    };
    let (without, _) = run(false);
    let (with, items) = run(true);
    let ns = (with - without).max(0.0) / lines.len() as f64 * 1e9;
    println!(
        "alert windows and instant rules: {ns:.0} ns/record on top of parsing ({:.0} ns/record; {items} minute items)",
        without / lines.len() as f64 * 1e9
    );
    println!("alerts_ns_per_record {ns:.1}");
}

/// The document as a generic JSON tree, the way a naive sink builds it.
fn naive_doc(r: &Record<'_>, ts: i64, line: u64) -> Value {
    let mut m = Map::new();
    m.insert(
        "ts".into(),
        json!(loglake_core::time::format_rfc3339_ms(ts)),
    );
    if let Some(l) = r.level {
        m.insert("level".into(), json!(l.as_str()));
    }
    for f in TextField::ALL {
        if let Some(v) = r.get(f) {
            m.insert(f.column().into(), json!(v));
        }
    }
    if let Some(v) = r.http_status {
        m.insert("http_status".into(), json!(v));
    }
    if let Some(v) = r.latency_ms {
        m.insert("latency_ms".into(), json!(v));
    }
    if let Some(v) = r.bytes_sent {
        m.insert("bytes_sent".into(), json!(v));
    }
    if let Some(v) = r.amount {
        m.insert("amount".into(), json!(v));
    }
    let attrs: Map<String, Value> = r
        .attributes
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if !attrs.is_empty() {
        m.insert("attributes".into(), Value::Object(attrs));
    }
    m.insert("source_format".into(), json!("json"));
    m.insert(
        "source_uri".into(),
        json!("s3://raw/checkout/2026/11/22/app.ndjson.gz"),
    );
    m.insert("source_line".into(), json!(line));
    Value::Object(m)
}
