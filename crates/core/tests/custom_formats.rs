//! User-defined formats (`formats.toml`) through the whole ingest path: the
//! shipped examples, chosen by a file's name or by its first lines, a
//! multiline format's stack trace as one row, and the accounting.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::ingest::format::custom::Formats;
use loglake_core::time::format_rfc3339_ms;
use loglake_core::{IngestOptions, Manifest, MemoryStore, ingest};
use support::{Row, all_rows, options, source};

const FORMATS: &str = include_str!("../../../examples/formats.toml");
const NGINX: &str = include_str!("../../../examples/formats/nginx-timed.log");
const SPRING: &str = include_str!("../../../examples/formats/spring-boot.log");
/// 2024-03-15T00:00:00Z: when the samples were written.
const WRITTEN: i64 = 1_710_460_800_000;

fn run(name: &str, text: &str, opts: &IngestOptions) -> (Manifest, Vec<Row>) {
    let store = MemoryStore::default();
    let m = ingest(source(name, text.as_bytes(), Some(WRITTEN)), &store, opts).unwrap();
    assert!(m.balanced(), "{m:?}");
    let mut rows = all_rows(&store, &m);
    rows.sort_by_key(|r| r.line);
    (m, rows)
}

fn with_formats(pipelined: bool) -> IngestOptions {
    IngestOptions {
        formats: Formats::from_toml(FORMATS).unwrap(),
        ..options(pipelined)
    }
}

#[test]
fn a_file_named_by_a_format_s_sources_is_parsed_with_it() {
    for pipelined in [false, true] {
        let (m, rows) = run("/var/log/nginx/access.log", NGINX, &with_formats(pipelined));
        assert_eq!(m.format, "custom:nginx-timed");
        assert_eq!((m.rows_out, m.quarantined), (5, 0));
        let r = &rows[1];
        assert_eq!(format_rfc3339_ms(r.ts), "2024-03-14T21:00:02.000Z");
        assert_eq!(r.format, "custom");
        assert_eq!(r.service.as_deref(), Some("nginx"));
        assert_eq!(r.attr("upstream_connect_time"), Some("0.002, 0.001"));
    }
}

#[test]
fn without_a_matching_name_the_first_lines_choose_the_format() {
    let (m, rows) = run("app-7.log", SPRING, &with_formats(false));
    assert_eq!(m.format, "custom:spring-boot");
    // The stack trace (and the blank lines around it) joined its event.
    let trace = rows
        .iter()
        .find(|r| {
            r.message
                .as_deref()
                .is_some_and(|m| m.contains("at com.example.shop.payment"))
        })
        .unwrap();
    assert_eq!(format_rfc3339_ms(trace.ts), "2024-03-14T21:00:04.250Z");
    assert!(m.merged >= 7, "{m:?}");
    assert_eq!(m.lines_in, m.rows_out + m.quarantined + m.merged);
    assert_eq!(trace.attr("thread"), Some("nio-8080-exec-3"));
    // No formats file: the same lines are text, each with its own time.
    let (m, _) = run("app-7.log", SPRING, &options(false));
    assert_eq!(m.format, "text");
}

#[test]
fn a_line_the_format_does_not_match_is_quarantined_with_the_format_s_name() {
    let text = format!("{NGINX}this is not an access log line\n");
    let (m, rows) = run("nginx/access.log", &text, &with_formats(false));
    assert_eq!((m.rows_out, m.quarantined), (5, 1));
    assert_eq!(m.quarantined_by_reason.get("malformed"), Some(&1));
    assert_eq!(rows.len(), 5);
}

#[test]
fn field_formats_expand_a_document_and_read_a_header() {
    let toml = r##"
[[format]]
name = "config-snapshot"
json = true
expand = "configurationItems"
fields = { configurationItemCaptureTime = "ts", resourceType = "event_type", resourceId = "host" }
sources = ["AWSLogs/*/Config/*"]

[[format]]
name = "zeek-conn"
header = "#fields"
separator = "\t"
fields = { "id.orig_h" = "client_ip" }
"##;
    let opts = IngestOptions {
        formats: Formats::from_toml(toml).unwrap(),
        ..options(true)
    };
    let items: Vec<String> = (0..4)
        .map(|i| format!(r#"{{"configurationItemCaptureTime":"2024-05-02T08:00:0{i}.000Z","resourceType":"AWS::EC2::Instance","resourceId":"i-{i}","configuration":{{"state":{{"name":"running"}}}}}}"#))
        .collect();
    let doc = format!(
        "{{\n  \"fileVersion\": \"1.0\",\n  \"configSnapshotId\": \"s-1\",\n  \"configurationItems\": [\n    {}\n  ]\n}}\n",
        items.join(",\n    ")
    );
    let store = MemoryStore::default();
    let m = ingest(
        source(
            "AWSLogs/111122223333/Config/us-east-1/2024/5/2/ConfigSnapshot/s.json.gz",
            &support::gzip(doc.as_bytes()),
            None,
        ),
        &store,
        &opts,
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(m.format, "custom:config-snapshot");
    // The document's own members (fileVersion, configSnapshotId, the
    // array's key) are header lines.
    assert_eq!((m.rows_out, m.skipped_header, m.quarantined), (4, 3, 0));
    let rows = all_rows(&store, &m);
    assert_eq!(rows[3].col("host"), Some("i-3"));
    assert_eq!(rows[3].col("event_type"), Some("AWS::EC2::Instance"));
    assert_eq!(rows[3].attr("configuration.state.name"), Some("running"));
    assert_eq!(format_rfc3339_ms(rows[3].ts), "2024-05-02T08:00:03.000Z");

    let zeek = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n1710450000.5\tC1\t10.0.0.5\n1710450001.5\tC2\t10.0.0.6\n";
    let (m, rows) = run("conn.log", zeek, &opts);
    assert_eq!(m.format, "custom:zeek-conn");
    // `#separator` and `#types` are not the header: with no field names
    // in force, or no JSON, they are quarantined rather than guessed.
    assert_eq!((m.rows_out, m.skipped_header), (2, 1), "{m:?}");
    assert_eq!(rows[1].col("client_ip"), Some("10.0.0.6"));
    assert_eq!(rows[1].attr("uid"), Some("C2"));
}
