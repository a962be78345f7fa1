//! What goes into a source's rows: services (their own, the default, or
//! none for normalized records), CloudFront header lines skipped, and PII
//! masked in rows, the quarantine and what observers see.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::ingest::input::Compression;
use loglake_core::ingest::lake::OutputKind;
use loglake_core::{IngestOptions, MemoryStore, ingest};
use support::{T21, all_rows, gzip, join, options, quarantine_records, reasons, source};

#[test]
fn normalized_records_keep_their_own_service_or_none() {
    // loglake's NDJSON, as Firehose lands it: the key's service must not stick.
    let input = format!(
        "{{\"ts\":\"2024-03-14T21:00:00.000Z\",\"message\":\"no service\",\"source_format\":\"cwlogs\"}}\n\
         {{\"ts\":\"2024-03-14T21:00:01.000Z\",\"service\":\"cart\",\"message\":\"m\",\"source_format\":\"json\"}}\n\
         {{\"ts\":{T21},\"message\":\"raw line\"}}\n"
    );
    let run = |forwarded: bool| {
        let store = MemoryStore::default();
        let opts = IngestOptions {
            default_service: Some("firehose".into()),
            forwarded,
            ..options(false)
        };
        let m = ingest(source("norm.log", input.as_bytes(), None), &store, &opts).unwrap();
        all_rows(&store, &m)
            .into_iter()
            .map(|r| {
                let mark = r.attr("source_format").map(String::from);
                (r.service, r.format, mark)
            })
            .collect::<Vec<_>>()
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        run(true),
        [
            (None, "cwlogs".into(), None),
            (s("cart"), "json".into(), None),
            (s("firehose"), "json".into(), None)
        ]
    );
    // The same lines in an object that is not known to be forwarded: the
    // content's word is a field like any other, the record is an ordinary
    // JSON record (counted for alerts, indexed), and the key's service
    // applies.
    assert_eq!(
        run(false),
        [
            (s("firehose"), "json".into(), s("cwlogs")),
            (s("cart"), "json".into(), s("json")),
            (s("firehose"), "json".into(), None)
        ]
    );
}

#[test]
fn default_service_fills_only_missing_services() {
    let lines: Vec<&[u8]> = vec![
        br#"{"ts":"2024-03-14T21:00:00Z","service":"web","msg":"own"}"#,
        br#"{"ts":"2024-03-14T21:00:01Z","msg":"none"}"#,
        br#"{"ts":"2024-03-14T21:00:02Z","app":"cart","msg":"alias"}"#,
        br#"{"ts":"2024-03-14T21:00:03Z","level":"error","msg":"none, failing"}"#,
        br#"{"ts":"2024-03-14T21:00:04Z","service":"","msg":"empty string is a service"}"#,
    ];
    let (input, _) = join(&lines, "\n");
    for default in [None, Some("checkout")] {
        let store = MemoryStore::default();
        let mut o = options(false);
        o.default_service = default.map(String::from);
        let m = ingest(source("svc.log", &input, None), &store, &o).unwrap();
        let got: Vec<(i64, Option<String>)> = all_rows(&store, &m)
            .into_iter()
            .map(|r| (r.line, r.service))
            .collect();
        let d = default.map(String::from);
        assert_eq!(
            got,
            vec![
                (1, Some("web".into())),
                (2, d.clone()),
                (3, Some("cart".into())),
                (4, d.clone()),
                (5, Some(String::new())),
            ],
            "{default:?}"
        );
        let svc = default.unwrap_or("(no service)");
        assert_eq!(m.errors_by_service, reasons(&[(svc, 1)]), "{default:?}");
    }
}

#[test]
fn cloudfront_headers_are_skipped_and_counted() {
    // From the AWS documentation's example log file (standard-logs-reference).
    const VERSION: &str = "#Version: 1.0";
    const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";
    const HIT: &str = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-";
    const CURL: &str = "2019-12-13\t22:37:02\tSEA19-C2\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/\t502\t-\tcurl/7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example.com\thttp\t387\t0.103\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t12644\t0.103\tOriginDnsError\ttext/html\t507\t-\t-";
    for (name, terminator, compress) in [("lf", "\n", false), ("crlf.gz", "\r\n", true)] {
        let lines: Vec<&[u8]> = vec![
            VERSION.as_bytes(),
            FIELDS.as_bytes(),
            HIT.as_bytes(),
            b"",
            CURL.as_bytes(),
            b"#a comment line later on",
        ];
        let (mut input, _) = join(&lines, terminator);
        if compress {
            input = gzip(&input);
        }
        let store = MemoryStore::default();
        let m = ingest(source(name, &input, None), &store, &options(false)).unwrap();
        assert!(m.balanced(), "{name}");
        assert_eq!(m.format, "cloudfront");
        assert_eq!(
            m.compression,
            if compress {
                Compression::Gzip
            } else {
                Compression::None
            }
        );
        assert_eq!(
            (m.lines_total, m.skipped_header, m.skipped_blank, m.lines_in),
            (6, 3, 1, 2),
            "{name}"
        );
        assert_eq!(
            m.lines_total,
            m.lines_in + m.skipped_blank + m.skipped_header
        );
        assert_eq!((m.rows_out, m.quarantined), (2, 0), "{name}");
        let rows = all_rows(&store, &m);
        let got: Vec<(i64, i64, &str)> = rows
            .iter()
            .map(|r| (r.line, r.ts, r.format.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 1_575_493_351_000, "cloudfront"),
                (5, 1_576_276_622_000, "cloudfront"),
            ],
            "{name}"
        );
        assert_eq!(
            m.partitions,
            reasons(&[("dt=2019-12-04/hr=21", 1), ("dt=2019-12-13/hr=22", 1)])
        );
    }
}

#[test]
fn vpc_flow_logs_by_their_header_keep_every_record_and_newer_fields() {
    // A custom (version 5) format as S3 delivery writes it, its header first,
    // with a field this parser does not know at the end; the records follow
    // the field list and examples of the VPC Flow Logs user guide.
    const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status region flow-direction some-future-field";
    let lines: Vec<&[u8]> = vec![
        HEADER.as_bytes(),
        b"5 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK us-east-1 ingress x1",
        b"5 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK us-east-1 ingress -",
        b"5 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA us-east-1 - -",
        b"5 123456789010 eni-1235b8ca123456789 172.31.9.69",
    ];
    let (input, _) = join(&lines, "\n");
    let store = MemoryStore::default();
    let m = ingest(source("flow.log", &input, None), &store, &options(false)).unwrap();
    assert!(m.balanced());
    assert_eq!(m.format, "vpcflow");
    assert_eq!((m.skipped_header, m.rows_out, m.quarantined), (1, 3, 1));
    let rows = all_rows(&store, &m);
    let got: Vec<(i64, i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.line, r.ts, r.format.as_str(), r.message.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                2,
                1_418_530_010_000,
                "vpcflow",
                Some("ACCEPT tcp 172.31.16.139:20641 -> 172.31.16.21:22")
            ),
            (
                3,
                1_418_530_010_000,
                "vpcflow",
                Some("REJECT tcp 172.31.9.69:49761 -> 172.31.9.12:3389")
            ),
            (4, 1_431_280_876_000, "vpcflow", Some("NODATA")),
        ]
    );
    assert_eq!(rows[0].service.as_deref(), Some("vpc-flow-logs"));
    assert_eq!(rows[0].attr("some_future_field"), Some("x1"));
    assert_eq!(rows[0].attr("flow_direction"), Some("ingress"));
    assert_eq!(rows[1].attr("some_future_field"), None, "- is no value");
}

#[test]
fn pii_is_masked_in_rows_quarantine_and_observers_and_counted() {
    let input = "{\"ts\":\"2024-03-14T21:00:00Z\",\"msg\":\"paid with 4111 1111 1111 1111\",\"email\":\"jane.doe@example.com\",\"client_ip\":\"203.0.113.77\"}\n\
                 {\"ts\":\"2024-03-14T21:00:01Z\",\"msg\":\"order 4111111111111112 (fails Luhn)\"}\n\
                 {\"ts\":\"2024-03-14T21:00:02Z\",\"msg\":\"card 5555-5555-5555-4444 in a broken line\"\n";
    struct Seen(Vec<String>);
    impl loglake_core::ingest::Observer for Seen {
        fn observe(
            &mut self,
            rec: &loglake_core::record::Record<'_>,
            _: i64,
            _: loglake_core::record::SourceFormat,
            _: &loglake_core::ingest::Origin<'_>,
        ) {
            self.0.push(
                rec.get(loglake_core::record::TextField::Message)
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    for (spec, cards, emails, ips) in [("cards", 2, 0, 0), ("all", 2, 1, 1), ("none", 0, 0, 0)] {
        let store = MemoryStore::default();
        let opts = IngestOptions {
            redact: loglake_core::redact::RedactOptions::parse(spec).unwrap(),
            ..options(false)
        };
        let mut seen = Seen(Vec::new());
        let m = loglake_core::ingest_observed(
            source("pii.log", input.as_bytes(), None),
            &store,
            &opts,
            &mut seen,
        )
        .unwrap();
        assert_eq!(
            (m.redacted.cards, m.redacted.emails, m.redacted.ips),
            (cards, emails, ips),
            "{spec}"
        );
        let rows = all_rows(&store, &m);
        let masked = spec != "none";
        assert_eq!(
            rows[0].message.as_deref(),
            Some(if masked {
                "paid with **** **** **** 1111"
            } else {
                "paid with 4111 1111 1111 1111"
            })
        );
        assert_eq!(
            rows[1].message.as_deref(),
            Some("order 4111111111111112 (fails Luhn)")
        );
        assert_eq!(
            seen.0[0],
            rows[0].message.clone().unwrap(),
            "observers see the masked record"
        );
        if spec == "all" {
            assert_eq!(rows[0].attr("email"), Some("j***@example.com"));
        }
        let objects = store.objects();
        let q = m
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Quarantine)
            .unwrap();
        let raw = quarantine_records(&objects[&q.key])[0]["raw"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(raw.contains("5555-5555-5555-4444"), !masked, "{raw}");
        if masked {
            assert!(raw.contains("****-****-****-4444"), "{raw}");
        }
    }
}
