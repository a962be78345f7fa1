//! Field formats: JSON records (one per line, or a document's array) and
//! values named by a header line, mapped with `fields`; what they refuse.

use super::*;
use crate::ingest::format::{Parsed, Parser};
use crate::record::SourceFormat;

const FILE: &str = r##"
[[format]]
name = "config-snapshot"
json = true
expand = "configurationItems"
fields = { configurationItemCaptureTime = "ts", resourceType = "event_type", awsRegion = "region", resourceId = "host", "configuration.state.name" = "message" }
service = "aws-config"
sources = ["AWSLogs/*/Config/*"]

[[format]]
name = "zeek-conn"
header = "#fields"
separator = "\t"
fields = { "id.orig_h" = "client_ip", duration = "latency_s", service = "event_type" }
service = "zeek"

[[format]]
name = "csv-orders"
header = ""
separator = ","
fields = { placed = "ts", total = "amount" }
time_layout = "%Y-%m-%d %H:%M:%S"
"##;

fn formats() -> Formats {
    Formats::from_toml(FILE).unwrap()
}

/// Every line through a parser, as (parsed, service, ts, text columns named).
fn run(f: &CustomFormat, lines: &[&str], cols: &[TextField]) -> Vec<String> {
    let mut p = Parser::custom(f.clone(), ctx());
    lines
        .iter()
        .map(|l| {
            let mut r = Record::default();
            match p.parse(l, &mut r) {
                Ok(Parsed::Header) => "header".to_owned(),
                Ok(Parsed::Row(fmt)) => {
                    assert_eq!(fmt, SourceFormat::Custom);
                    let mut out = vec![r.ts.map_or("-".into(), format_rfc3339_ms)];
                    out.extend(cols.iter().map(|c| r.get(*c).unwrap_or("-").to_owned()));
                    out.extend(r.attributes.iter().map(|(k, v)| format!("{k}={v}")));
                    if let Some(a) = r.amount {
                        out.push(format!("amount={a}"));
                    }
                    if let Some(l) = r.latency_ms {
                        out.push(format!("latency_ms={l}"));
                    }
                    out.join(" ")
                }
                Err(e) => format!("rejected {}", e.reason()),
            }
        })
        .collect()
}

#[test]
fn json_records_of_a_document() {
    let fs = formats();
    let f =
        fs.for_source("AWSLogs/111122223333/Config/us-east-1/2024/5/2/ConfigSnapshot/x.json.gz");
    let f = f.unwrap();
    assert!(f.is_fields());
    assert_eq!(
        f.expand(),
        Some(crate::ingest::expand::Expand::Key(
            "configurationItems".into()
        ))
    );
    let lines = [
        r#" "fileVersion":"1.0""#,
        r#""configurationItems":"#,
        r#"{"configurationItemCaptureTime":"2024-05-02T08:00:00.000Z","resourceType":"AWS::EC2::Instance","resourceId":"i-0abc","awsRegion":"us-east-1","configuration":{"state":{"name":"running"}},"tags":{"team":"shop"}}"#,
        r#"{"resourceType":"AWS::S3::Bucket","resourceId":"assets","configurationItemCaptureTime":"yesterday"}"#,
        "7",
    ];
    let cols = [
        TextField::Service,
        TextField::EventType,
        TextField::Host,
        TextField::Region,
        TextField::Message,
    ];
    assert_eq!(
        run(f, &lines, &cols),
        [
            "header",
            "header",
            "2024-05-02T08:00:00.000Z aws-config AWS::EC2::Instance i-0abc us-east-1 running tags.team=shop",
            "rejected invalid_timestamp",
            "rejected malformed",
        ]
    );
    assert_eq!(
        f.captures(),
        [
            ("awsRegion", "region".to_owned()),
            ("configuration.state.name", "message".to_owned()),
            ("configurationItemCaptureTime", "ts".to_owned()),
            ("resourceId", "host".to_owned()),
            ("resourceType", "event_type".to_owned()),
        ]
    );
}

#[test]
fn values_named_by_a_header() {
    let fs = formats();
    let zeek = fs.get("zeek-conn").unwrap();
    let lines = [
        "#separator \\x09",
        "1714636800.123\tCx1\t10.0.0.5\t51234\t192.0.2.9\t443\ttcp\tssl\t0.25",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration",
        "1714636800.123\tCx1\t10.0.0.5\t51234\t192.0.2.9\t443\ttcp\tssl\t0.25",
        "1714636801\tCx2\t10.0.0.6\t-\t192.0.2.9\t53\tudp\tdns\t-\tnew-column",
    ];
    let cols = [
        TextField::Service,
        TextField::ClientIp,
        TextField::EventType,
    ];
    assert_eq!(
        run(zeek, &lines, &cols),
        [
            "rejected malformed",
            "rejected malformed",
            "header",
            "2024-05-02T08:00:00.123Z zeek 10.0.0.5 ssl uid=Cx1 id.orig_p=51234 id.resp_h=192.0.2.9 id.resp_p=443 proto=tcp latency_ms=250",
            "2024-05-02T08:00:01.000Z zeek 10.0.0.6 dns uid=Cx2 id.resp_h=192.0.2.9 id.resp_p=53 proto=udp extra_1=new-column",
        ]
    );
    // Recognized by its header line, without sources.
    let sample = ["#separator \\x09", lines[2], lines[3]];
    assert_eq!(
        crate::ingest::format::detect_custom(&fs, sample, &ctx()).map(|f| f.name().to_owned()),
        Some("zeek-conn".into())
    );
    // A JSON field format is never guessed from content.
    let json = [r#"{"configurationItemCaptureTime":"2024-05-02T08:00:00Z"}"#];
    assert!(crate::ingest::format::detect_custom(&fs, json, &ctx()).is_none());

    let csv = fs.get("csv-orders").unwrap();
    let lines = [
        "placed,order_id,total,currency",
        "2024-05-02 08:00:00,o-1,19.99,EUR",
        "2024-05-02 08:00:05,o-2,5,EUR",
    ];
    let cols = [TextField::OrderId, TextField::Currency];
    assert_eq!(
        run(csv, &lines, &cols),
        [
            "header",
            "2024-05-02T08:00:00.000Z o-1 EUR amount=19.99",
            "2024-05-02T08:00:05.000Z o-2 EUR amount=5",
        ]
    );
}

#[test]
fn field_formats_refuse_what_does_not_fit() {
    let error = |toml: &str| Formats::from_toml(toml).unwrap_err().to_string();
    for (toml, want) in [
        (
            "[[format]]\nname = \"a\"\n",
            "field regex: missing: a format is a regex with named captures, JSON records (json = true) or values named by a header line",
        ),
        (
            "[[format]]\nname = \"a\"\njson = true\nheader = \"#\"\n",
            "field header: a JSON format's records name their fields themselves",
        ),
        (
            "[[format]]\nname = \"a\"\nheader = \"#\"\nexpand = \"Records\"\n",
            "field expand: applies to JSON formats",
        ),
        (
            "[[format]]\nname = \"a\"\njson = true\nfields = { x = \"source_uri\" }\n",
            "\"x\" = \"source_uri\": a column loglake fills itself",
        ),
        (
            "[[format]]\nname = \"a\"\njson = true\nfields = { x = \"colour\" }\n",
            "\"x\" = \"colour\": no such column",
        ),
        (
            "[[format]]\nname = \"a\"\nheader = \"\"\nseparator = \"::\"\n",
            "field separator: one character",
        ),
        (
            "[[format]]\nname = \"a\"\nregex = '(?P<message>.*)'\njson = true\n",
            "field json: belongs to a format without a regex",
        ),
        (
            "[[format]]\nname = \"a\"\njson = true\nmultiline_start = 'x'\n",
            "field multiline_start: applies to regex formats",
        ),
    ] {
        let got = error(toml);
        assert!(got.contains(want), "{toml:?}: {got}");
    }
}
