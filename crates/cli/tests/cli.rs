//! The `loglake` binary end to end: generate -> ingest -> read back, bad input
//! of every kind, idempotency, exit codes.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loglake"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Ingest `inputs` into `lake` with `--json`; returns the summary.
fn ingest(lake: &Path, inputs: &[&Path], extra: &[&str]) -> Value {
    let out = run(bin()
        .arg("ingest")
        .args(inputs)
        .arg("--lake")
        .arg(lake)
        .arg("--json")
        .args(extra));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn manifests(lake: &Path) -> Vec<Value> {
    let mut v: Vec<Value> = fs::read_dir(lake.join("_manifests"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    v.sort_by_key(|m| m["source"]["uri"].as_str().unwrap().to_string());
    v
}

fn only_manifest(lake: &Path) -> Value {
    let mut m = manifests(lake);
    assert_eq!(m.len(), 1);
    m.remove(0)
}

/// The accounting every ingest must satisfy.
fn assert_balanced(m: &Value) {
    let n = |k: &str| m[k].as_u64().unwrap();
    assert_eq!(
        n("lines_in"),
        n("rows_out") + n("quarantined") + n("merged"),
        "{m:#}"
    );
    assert_eq!(
        n("lines_total"),
        n("lines_in") + n("skipped_blank") + n("skipped_header"),
        "{m:#}"
    );
    let by_reason: u64 = m["quarantined_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_reason, n("quarantined"));
    let parts: u64 = m["partitions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(parts, n("rows_out"));
}

fn reason(m: &Value, r: &str) -> u64 {
    m["quarantined_by_reason"][r].as_u64().unwrap_or(0)
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(files_under(&p, ext));
            } else if p.to_string_lossy().ends_with(ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_parquet(p: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(fs::File::open(p).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn quarantine_records(lake: &Path) -> Vec<Value> {
    let mut v = Vec::new();
    for p in files_under(&lake.join("quarantine"), ".ndjson.gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(fs::File::open(p).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        v.extend(s.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn line(ts: &str, svc: &str, msg: &str) -> String {
    format!(r#"{{"timestamp":"{ts}","level":"INFO","service":"{svc}","message":"{msg}"}}"#)
}

#[test]
fn round_trip_generate_ingest_read_back() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("shop.ndjson.gz");
    run(bin()
        .args(["generate", "--lines", "20000", "--seed", "3", "--out"])
        .arg(&src));
    let lake = d.path().join("lake");
    // Cards only (the old default): the e-mails the generator writes stay,
    // so every field can be compared with the source.
    let summary = ingest(&lake, &[&src], &["--redact", "cards"]);
    let m = only_manifest(&lake);
    assert_balanced(&m);
    assert_eq!(m["rows_out"], 20000);
    assert_eq!(m["quarantined"], 0);
    assert_eq!(m["format"], "json");
    assert_eq!(m["compression"], "gzip");
    assert_eq!(summary["rows_out"], 20000);

    // Rows per partition in the files equal the manifest.
    let mut per_part: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_line: BTreeMap<i64, (RecordBatch, usize)> = BTreeMap::new();
    for f in files_under(&lake.join("logs"), ".parquet") {
        let rel = f.strip_prefix(lake.join("logs")).unwrap();
        let part = rel.parent().unwrap().to_string_lossy().into_owned();
        for b in read_parquet(&f) {
            *per_part.entry(part.clone()).or_insert(0) += b.num_rows() as u64;
            let lines = b
                .column_by_name("source_line")
                .unwrap()
                .as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                if lines.value(i) <= 50 {
                    by_line.insert(lines.value(i), (b.clone(), i));
                }
            }
        }
    }
    let want: BTreeMap<String, u64> = m["partitions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(per_part, want);

    // Spot-check the first 50 input lines against their rows.
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(&src).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    for (n, l) in text.lines().take(50).enumerate() {
        let j: Value = serde_json::from_str(l).unwrap();
        let (b, i) = &by_line[&(n as i64 + 1)];
        let s = |c: &str| {
            let a = b.column_by_name(c).unwrap().as_string::<i32>();
            (!a.is_null(*i)).then(|| a.value(*i).to_string())
        };
        let ts = b
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>()
            .value(*i);
        assert_eq!(
            loglake_core::time::format_rfc3339_ms(ts),
            j["timestamp"].as_str().unwrap()
        );
        assert_eq!(s("level").as_deref(), j["level"].as_str());
        assert_eq!(s("service").as_deref(), j["service"].as_str());
        assert_eq!(s("message").as_deref(), j["message"].as_str());
        assert_eq!(s("http_method").as_deref(), j["method"].as_str());
        assert_eq!(s("http_path").as_deref(), j["path"].as_str());
        assert_eq!(s("client_ip").as_deref(), j["ip"].as_str());
        assert_eq!(s("user_id").as_deref(), j["user_id"].as_str());
        assert_eq!(s("trace_id").as_deref(), j["trace_id"].as_str());
        assert_eq!(s("source_format").as_deref(), Some("json"));
        let status = b
            .column_by_name("http_status")
            .unwrap()
            .as_primitive::<Int16Type>();
        assert_eq!(i64::from(status.value(*i)), j["status"].as_i64().unwrap());
        let lat = b
            .column_by_name("latency_ms")
            .unwrap()
            .as_primitive::<Float64Type>();
        assert_eq!(lat.value(*i), j["latency_ms"].as_f64().unwrap());
        let attrs = b.column_by_name("attributes").unwrap().as_map();
        let entry = attrs.value(*i);
        let keys = entry.column(0).as_string::<i32>();
        let vals = entry.column(1).as_string::<i32>();
        let span = (0..keys.len())
            .find(|k| keys.value(*k) == "span_id")
            .unwrap();
        assert_eq!(vals.value(span), j["span_id"].as_str().unwrap());
    }
}

/// `generate --kind text` -> `ingest`: every line a row or part of one, none quarantined,
/// and the year-less syslog and klog times in the year of the others,
/// because the file's time is its last line's.
#[test]
fn generated_text_logs_ingest_whole_in_their_own_time() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("servers.log.gz");
    run(bin()
        .args(["generate", "--kind", "text", "--lines", "60000", "--out"])
        .arg(&src));
    let lake = d.path().join("lake");
    ingest(&lake, &[&src], &[]);
    let m = only_manifest(&lake);
    assert_balanced(&m);
    assert_eq!(m["format"], "text");
    assert_eq!(m["quarantined"], 0, "{m:#}");
    assert_eq!(m["lines_total"], 60000);
    // Continuation lines (stack traces, tracebacks, goroutine dumps) join
    // the event before them, which has its own time.
    assert!(m["merged"].as_u64().unwrap() > 1000, "{m:#}");
    assert!(
        m["ts_inferred"].as_u64().unwrap() * 100 < m["rows_out"].as_u64().unwrap(),
        "{m:#}"
    );
    for part in m["partitions"].as_object().unwrap().keys() {
        assert!(
            part.starts_with("dt=2024-03-14/") || part.starts_with("dt=2024-03-15/"),
            "{part} is outside the generated span"
        );
    }
}

#[test]
fn malformed_lines_are_quarantined_with_reasons() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("bad.ndjson");
    run(bin()
        .args(["generate", "--lines", "5000", "--malformed", "0.1", "--out"])
        .arg(&src));
    let lake = d.path().join("lake");
    // Cards only: quarantined lines compare equal to the source's.
    ingest(&lake, &[&src], &["--redact", "cards"]);
    let m = only_manifest(&lake);
    assert_balanced(&m);
    assert!(m["quarantined"].as_u64().unwrap() > 50, "{m:#}");
    assert!(reason(&m, "invalid_json") > 0);
    assert!(reason(&m, "wrong_type:latency_ms") > 0);
    assert!(m["skipped_blank"].as_u64().unwrap() > 0);
    // Plain-text lines in a JSON log become text rows, not losses.
    assert!(m["ts_inferred"].as_u64().unwrap() > 0);
    let q = quarantine_records(&lake);
    assert_eq!(q.len() as u64, m["quarantined"].as_u64().unwrap());
    let text = fs::read_to_string(&src).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    for r in &q {
        let n = r["line"].as_u64().unwrap() as usize;
        assert_eq!(r["raw"].as_str().unwrap(), lines[n - 1]);
        let off = r["offset"].as_u64().unwrap() as usize;
        assert!(text[off..].starts_with(lines[n - 1]));
    }
}

#[test]
fn truncated_gzip_keeps_the_lines_before_the_cut() {
    let d = tempfile::tempdir().unwrap();
    let full = d.path().join("full.ndjson.gz");
    run(bin()
        .args(["generate", "--lines", "3000", "--out"])
        .arg(&full));
    let bytes = fs::read(&full).unwrap();
    let cut = d.path().join("cut.ndjson.gz");
    fs::write(&cut, &bytes[..bytes.len() * 3 / 5]).unwrap();

    // What an independent decoder can recover from the cut file.
    let mut recovered = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(&bytes[..bytes.len() * 3 / 5])
        .read_to_end(&mut recovered);
    let complete = recovered.iter().filter(|b| **b == b'\n').count() as u64;
    assert!(complete > 1000);

    let lake = d.path().join("lake");
    let out = bin()
        .args(["ingest", "--json", "--lake"])
        .arg(&lake)
        .arg(&cut)
        .output()
        .unwrap();
    assert!(out.status.success(), "every line is accounted for: exit 0");
    assert!(String::from_utf8_lossy(&out.stderr).contains("input ended early"));
    let m = only_manifest(&lake);
    assert_balanced(&m);
    assert_eq!(m["outcome"], "truncated");
    assert!(m["error"].as_str().unwrap().contains("input ended early"));
    assert!(m["rows_out"].as_u64().unwrap() >= complete - 1);
    assert!(reason(&m, "truncated_input") <= 1);
}

#[test]
fn garbage_and_encoding_problems() {
    let d = tempfile::tempdir().unwrap();
    // Binary garbage: a deterministic byte soup with some newlines.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let g = d.path().join("garbage.bin");
    fs::write(&g, &garbage).unwrap();

    // Invalid UTF-8 inside an otherwise fine JSON log, BOM + CRLF, a 5 MB line.
    let mut mixed = b"\xEF\xBB\xBF".to_vec();
    mixed.extend(line("2024-03-14T21:00:00Z", "cart", "first").as_bytes());
    mixed.extend(b"\r\n");
    mixed.extend(b"{\"timestamp\":\"2024-03-14T21:00:01Z\",\"message\":\"caf\xE9\"}\r\n");
    mixed.extend(b"{\"timestamp\":\"2024-03-14T21:00:02Z\",\"message\":\"");
    mixed.extend(std::iter::repeat_n(b'x', 5 << 20));
    mixed.extend(b"\"}\r\n");
    mixed.extend(line("2024-03-14T21:00:03Z", "cart", "last").as_bytes());
    mixed.extend(b"\r\n");
    let m_path = d.path().join("mixed.ndjson");
    fs::write(&m_path, &mixed).unwrap();

    let lake = d.path().join("lake");
    ingest(&lake, &[&g, &m_path], &["--threads", "1"]);
    let ms = manifests(&lake);
    assert_eq!(ms.len(), 2);
    for m in &ms {
        assert_balanced(m);
    }
    let garbage_m = ms
        .iter()
        .find(|m| {
            m["source"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("garbage.bin")
        })
        .unwrap();
    assert!(reason(garbage_m, "invalid_utf8") > 0, "{garbage_m:#}");
    assert!(garbage_m["lines_in"].as_u64().unwrap() > 100);

    let m = ms
        .iter()
        .find(|m| {
            m["source"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("mixed.ndjson")
        })
        .unwrap();
    assert_eq!(m["lines_in"], 4);
    assert_eq!(m["rows_out"], 2);
    assert_eq!(reason(m, "invalid_utf8"), 1);
    assert_eq!(reason(m, "oversized_line"), 1);
    let q = quarantine_records(&lake);
    let bad_utf8 = q
        .iter()
        .find(|r| r["reason"] == "invalid_utf8" && r["line"] == 2)
        .unwrap();
    // Redaction is on by default: masked lossy text and a hash, no bytes.
    assert!(bad_utf8["raw"].is_string() && bad_utf8["raw_sha256"].is_string());
    assert!(bad_utf8.get("raw_base64").is_none());
    let big = q.iter().find(|r| r["reason"] == "oversized_line").unwrap();
    assert_eq!(big["line"], 3);
    let prefix = r#"{"timestamp":"2024-03-14T21:00:02Z","message":""#;
    assert_eq!(
        big["raw_len"].as_u64().unwrap(),
        (prefix.len() + (5 << 20) + 2) as u64
    );
    assert_eq!(big["raw"].as_str().unwrap().len(), 1 << 20);
    // The BOM is not part of the first record, and no CR survives.
    let mut messages = Vec::new();
    let mixed_files = files_under(&lake.join("logs"), ".parquet")
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mixed")
        });
    for f in mixed_files {
        for b in read_parquet(&f) {
            let a = b.column_by_name("message").unwrap().as_string::<i32>();
            messages.extend(a.iter().flatten().map(str::to_string));
        }
    }
    messages.sort();
    assert_eq!(messages, ["first", "last"]);
}

#[test]
fn empty_blank_and_odd_json() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.log");
    fs::write(&empty, b"").unwrap();
    let blank = d.path().join("blank.log");
    fs::write(&blank, b"\n\n   \n\t\n\r\n").unwrap();
    let odd = d.path().join("odd.ndjson");
    let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    let lines = [
        r#"{"timestamp":"2024-03-14T21:00:00Z","status":"teapot","message":"wrong type"}"#
            .to_string(),
        r#"{"timestamp":"2024-03-14T21:00:00Z","latency_ms":[1,2],"message":"wrong type"}"#
            .to_string(),
        format!(r#"{{"timestamp":"2024-03-14T21:00:00Z","nested":{deep}}}"#),
        r#"{"timestamp":"1970-01-02T00:00:00Z","message":"far past"}"#.to_string(),
        r#"{"timestamp":"2999-01-01T00:00:00Z","message":"far future"}"#.to_string(),
        r#"{"timestamp":"not a time","message":"bad time"}"#.to_string(),
        r#"{"timestamp":"2024-03-14T21:00:00Z","status":"503","message":"coerced"}"#.to_string(),
    ];
    fs::write(&odd, lines.join("\n")).unwrap();
    let lake = d.path().join("lake");
    ingest(&lake, &[&empty, &blank, &odd], &[]);
    let ms = manifests(&lake);
    let by = |name: &str| {
        ms.iter()
            .find(|m| m["source"]["uri"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    for m in &ms {
        assert_balanced(m);
    }
    assert_eq!(by("empty.log")["lines_total"], 0);
    assert_eq!(by("empty.log")["outputs"].as_array().unwrap().len(), 0);
    assert_eq!(by("blank.log")["lines_in"], 0);
    assert_eq!(by("blank.log")["skipped_blank"], 5);
    let m = by("odd.ndjson");
    assert_eq!(m["rows_out"], 1);
    assert_eq!(reason(m, "wrong_type:http_status"), 1);
    assert_eq!(reason(m, "wrong_type:latency_ms"), 1);
    assert_eq!(reason(m, "nesting_too_deep"), 1);
    assert_eq!(reason(m, "timestamp_out_of_range"), 2);
    assert_eq!(reason(m, "invalid_timestamp"), 1);
}

#[test]
fn same_input_twice_gives_the_same_files() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("app.ndjson.gz");
    run(bin()
        .args([
            "generate",
            "--lines",
            "8000",
            "--malformed",
            "0.02",
            "--out",
        ])
        .arg(&src));
    let lake = d.path().join("lake");
    let snapshot = |lake: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        let mut all = files_under(lake, "");
        all.retain(|p| !p.starts_with(lake.join("_manifests")));
        all.into_iter()
            .map(|p| {
                (
                    p.strip_prefix(lake).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    ingest(&lake, &[&src], &["--threads", "2"]);
    let first = snapshot(&lake);
    let m1 = only_manifest(&lake);
    ingest(&lake, &[&src], &["--threads", "1"]);
    let second = snapshot(&lake);
    let m2 = only_manifest(&lake);
    assert!(first.len() > 3);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    assert!(first == second, "outputs differ between runs");
    assert_eq!(m1["outputs"], m2["outputs"]);
}

#[test]
fn multi_member_gzip_zstd_stdin_and_directories() {
    let d = tempfile::tempdir().unwrap();
    let a = line("2024-03-14T21:00:00Z", "a", "one") + "\n";
    let b = line("2024-03-14T22:00:00Z", "b", "two") + "\n";
    let dir = d.path().join("in/nested");
    fs::create_dir_all(&dir).unwrap();
    let mut members = gzip(a.as_bytes());
    members.extend(gzip(b.as_bytes()));
    fs::write(dir.join("multi.gz"), &members).unwrap();
    let z = zstd_frames(&[a.as_bytes(), b.as_bytes()]);
    fs::write(d.path().join("in/z.log.zst"), z).unwrap();
    fs::write(d.path().join("in/.hidden"), "ignored").unwrap();

    let lake = d.path().join("lake");
    ingest(&lake, &[&d.path().join("in")], &[]);
    let ms = manifests(&lake);
    assert_eq!(ms.len(), 2);
    for m in &ms {
        assert_balanced(m);
        assert_eq!(m["rows_out"], 2, "{m:#}");
    }

    let mut child = bin()
        .args(["ingest", "-", "--json", "--lake"])
        .arg(d.path().join("lake2"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&members).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["rows_out"], 2);
    let m = only_manifest(&d.path().join("lake2"));
    assert!(
        m["source"]["identity"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

fn zstd_frames(parts: &[&[u8]]) -> Vec<u8> {
    // The zstd crate is a dependency of core only; frames are simple enough
    // to produce with the CLI's own generator, so shell out to nothing and
    // use raw (uncompressed) zstd blocks instead.
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
        // Frame header: single segment, 1-byte content size.
        assert!(p.len() < 256);
        out.push(0x20);
        out.push(p.len() as u8);
        // One last raw block: header = last(1) | raw(0 << 1) | size << 3.
        let h = 1u32 | ((p.len() as u32) << 3);
        out.extend_from_slice(&h.to_le_bytes()[..3]);
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn fatal_errors_exit_non_zero_with_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["ingest", "--lake"])
        .arg(d.path().join("lake"))
        .arg(d.path().join("missing.log"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.log"));

    let src = d.path().join("a.log");
    fs::write(&src, line("2024-03-14T21:00:00Z", "a", "x")).unwrap();
    let file_as_lake = d.path().join("not-a-dir");
    fs::write(&file_as_lake, "").unwrap();
    let out = bin()
        .args(["ingest", "--lake"])
        .arg(&file_as_lake)
        .arg(&src)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lake"));

    let out = bin()
        .args(["ingest", "--format", "xml"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format"));
}

#[test]
fn access_log_formats_are_detected() {
    let d = tempfile::tempdir().unwrap();
    let clf = d.path().join("access.log");
    fs::write(
        &clf,
        concat!(
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n",
            "::1 - - [10/Oct/2000:13:55:37 -0700] \"POST /api?q=\\\"x\\\" HTTP/1.1\" 503 - \"-\" \"curl/8\"\n",
        ),
    )
    .unwrap();
    let lake = d.path().join("lake");
    ingest(&lake, &[&clf], &[]);
    let m = only_manifest(&lake);
    assert_balanced(&m);
    assert_eq!(m["format"], "combined");
    assert_eq!(m["rows_out"], 2);
    assert_eq!(m["partitions"]["dt=2000-10-10/hr=20"], 2);
}

#[test]
fn user_defined_formats_by_file_name_and_by_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let formats = root.join("examples/formats.toml");
    let formats = formats.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Named so that no `sources` pattern matches: --format chooses.
    let log = dir.path().join("edge.log");
    fs::copy(root.join("examples/formats/nginx-timed.log"), &log).unwrap();
    let lake = dir.path().join("lake");
    let s = ingest(
        &lake,
        &[&log],
        &["--formats", formats, "--format", "nginx-timed"],
    );
    assert_eq!(s["rows_out"], 5, "{s}");
    let m = only_manifest(&lake);
    assert_eq!(m["format"], "custom:nginx-timed");
    assert_balanced(&m);
    // A name that is neither built in nor in the file is refused, saying so.
    let out = bin()
        .args(["ingest", "--format", "nginx-custom", "--formats", formats])
        .arg(&log)
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--formats file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `formats test` shows the chosen format and the time it read.
    let out = run(bin().args(["formats", "test"]).arg(&log).args([
        "--formats",
        formats,
        "--format",
        "nginx-timed",
        "--lines",
        "2",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nginx-timed"), "{text}");
    assert!(text.contains("2024-03-14T21:00:01.000Z"), "{text}");
}
