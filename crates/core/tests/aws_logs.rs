//! AWS's own logs through the whole pipeline, written from each service's
//! documented fields and examples: CloudTrail documents (one row per
//! record, by key layout and by content, several documents, cut short),
//! WAF, S3 server access logs and CloudWatch Logs exports.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::{MemoryStore, ingest};
use support::{all_rows, gzip, options, quarantine_records, reasons, source};

/// A CloudTrail record as the user guide shows them.
fn trail_record(i: usize, name: &str, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| {
        format!(r#""errorCode":"{e}","errorMessage":"User: arn:aws:iam::111122223333:user/dev{i} is not authorized","#)
    });
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE{i}","arn":"arn:aws:iam::111122223333:user/dev{i}","accountId":"111122223333","userName":"dev{i}"}},"eventTime":"2024-05-02T08:{m:02}:{s:02}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.{ip}","userAgent":"aws-cli/2.15.0",{error}"requestParameters":{{"userName":"new{i}"}},"responseElements":null,"requestID":"req-{i}","eventID":"evt-{i}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#,
        m = (i / 60) % 60,
        s = i % 60,
        ip = i % 250,
    )
}

fn trail_document(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

const TRAIL_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/02/111122223333_CloudTrail_us-east-1_20240502T0800Z_a1b2c3.json.gz";

#[test]
fn a_cloudtrail_document_is_one_row_per_record() {
    let records: Vec<String> = (0..5)
        .map(|i| {
            let error = (i == 3).then_some("AccessDenied");
            trail_record(i, if i == 3 { "CreateUser" } else { "GetUser" }, error)
        })
        .collect();
    let doc = gzip(trail_document(&records).as_bytes());
    // By its key (what CloudTrail writes), and by content under any name.
    for name in [TRAIL_KEY, "uploads/trail.json.gz"] {
        let store = MemoryStore::default();
        let m = ingest(source(name, &doc, None), &store, &options(true)).unwrap();
        assert!(m.balanced(), "{name}");
        assert_eq!(m.format, "cloudtrail", "{name}");
        assert_eq!(
            (m.rows_out, m.skipped_header, m.quarantined),
            (5, 1, 0),
            "{name}"
        );
        assert_eq!(m.partitions, reasons(&[("dt=2024-05-02/hr=08", 5)]));
        let rows = all_rows(&store, &m);
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6],
            "the document's header line is line 1"
        );
        let r = &rows[3];
        assert_eq!(r.ts, 1_714_636_803_000, "2024-05-02T08:00:03Z");
        assert_eq!(r.format, "cloudtrail");
        assert_eq!(r.service.as_deref(), Some("iam.amazonaws.com"));
        assert_eq!(r.col("event_type"), Some("CreateUser"));
        assert_eq!(r.col("error_type"), Some("AccessDenied"));
        assert_eq!(r.col("level"), Some("WARN"));
        assert_eq!(
            r.col("user_id"),
            Some("arn:aws:iam::111122223333:user/dev3")
        );
        assert_eq!(r.col("client_ip"), Some("203.0.113.3"));
        assert_eq!(r.col("region"), Some("us-east-1"));
        assert_eq!(r.col("request_id"), Some("req-3"));
        assert_eq!(r.attr("eventID"), Some("evt-3"));
        assert_eq!(r.attr("requestParameters.userName"), Some("new3"));
        assert_eq!(rows[0].col("level"), Some("INFO"));
        assert!(
            r.message
                .as_deref()
                .unwrap()
                .starts_with("iam.amazonaws.com CreateUser by IAMUser arn:aws:iam::111122223333:user/dev3: AccessDenied"),
            "{:?}",
            r.message
        );
    }
}

#[test]
fn several_documents_and_one_cut_short_lose_nothing() {
    let a: Vec<String> = (0..3).map(|i| trail_record(i, "GetUser", None)).collect();
    let b: Vec<String> = (3..5).map(|i| trail_record(i, "GetUser", None)).collect();
    // Two gzip members, one document each (objects concatenated).
    let mut two = gzip(trail_document(&a).as_bytes());
    two.extend(gzip(trail_document(&b).as_bytes()));
    let store = MemoryStore::default();
    let m = ingest(source(TRAIL_KEY, &two, None), &store, &options(false)).unwrap();
    assert_eq!((m.rows_out, m.skipped_header, m.quarantined), (5, 2, 0));

    // A document whose upload broke off inside its third record.
    let whole = trail_document(&a);
    let cut = &whole.as_bytes()[..whole.len() - 200];
    let store = MemoryStore::default();
    let m = ingest(source(TRAIL_KEY, &gzip(cut), None), &store, &options(false)).unwrap();
    assert!(m.balanced());
    assert_eq!((m.rows_out, m.quarantined), (2, 1));
    assert_eq!(m.quarantined_by_reason, reasons(&[("invalid_json", 1)]));
    let q = m
        .outputs
        .iter()
        .find(|o| o.kind == loglake_core::ingest::lake::OutputKind::Quarantine)
        .unwrap();
    let q = quarantine_records(&store.objects()[&q.key]);
    assert_eq!(q[0]["line"], 4);
    // Offsets are the document's own: the record starts there.
    assert_eq!(q[0]["offset"], whole.find(&a[2]).unwrap());
    assert!(
        q[0]["raw"]
            .as_str()
            .unwrap()
            .starts_with(r#"{"eventVersion""#)
    );
}

#[test]
fn waf_logs_by_content() {
    let line = |ts: u64, action: &str, ip: &str| {
        format!(
            r#"{{"timestamp":{ts},"formatVersion":1,"webaclId":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/shop/1a2b","terminatingRuleId":"{rule}","terminatingRuleType":"MANAGED_RULE_GROUP","action":"{action}","ruleGroupList":[],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"httpRequest":{{"clientIp":"{ip}","country":"DE","headers":[{{"name":"Host","value":"shop.example.com"}},{{"name":"user-agent","value":"sqlmap/1.7"}}],"uri":"/search","args":"q=1%27%20OR%201=1","httpVersion":"HTTP/2.0","httpMethod":"GET","requestId":"Root=1-abc"}}}}"#,
            rule = if action == "BLOCK" {
                "AWS-AWSManagedRulesSQLiRuleSet"
            } else {
                "Default_Action"
            }
        )
    };
    let input = [
        line(1_714_636_800_000, "BLOCK", "198.51.100.7"),
        line(1_714_636_801_000, "ALLOW", "198.51.100.8"),
    ]
    .join("\n");
    let name = "AWSLogs/111122223333/WAFLogs/us-east-1/shop/2024/05/02/08/00/111122223333_waflogs_us-east-1_shop_20240502T0800Z_x.log.gz";
    for name in [name, "waf.log"] {
        let store = MemoryStore::default();
        let m = ingest(
            source(name, input.as_bytes(), None),
            &store,
            &options(false),
        )
        .unwrap();
        assert_eq!((m.format.as_str(), m.rows_out), ("waf", 2), "{name}");
        let rows = all_rows(&store, &m);
        assert_eq!(rows[0].col("level"), Some("WARN"));
        assert_eq!(rows[1].col("level"), Some("INFO"));
        assert_eq!(rows[0].col("client_ip"), Some("198.51.100.7"));
        assert_eq!(rows[0].col("host"), Some("shop.example.com"));
        assert_eq!(rows[0].col("user_agent"), Some("sqlmap/1.7"));
        assert_eq!(rows[0].col("event_type"), Some("BLOCK"));
        assert_eq!(rows[0].service.as_deref(), Some("waf"));
        assert_eq!(
            rows[0].attr("terminatingRuleId"),
            Some("AWS-AWSManagedRulesSQLiRuleSet")
        );
        assert_eq!(rows[0].ts, 1_714_636_800_000);
    }
}

#[test]
fn s3_access_logs_and_cloudwatch_exports_by_content() {
    let owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
    let access = format!(
        "{owner} shop-assets [02/May/2024:08:00:01 +0000] 192.0.2.3 {owner} 3E57427F3EXAMPLE REST.GET.OBJECT img/a.png \"GET /shop-assets/img/a.png HTTP/1.1\" 200 - 2662992 3462992 70 10 \"-\" \"curl/8.5\" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader shop-assets.s3.us-west-1.amazonaws.com TLSv1.2 - - us-west-1\n\
         {owner} shop-assets [02/May/2024:08:00:02 +0000] 192.0.2.4 - 891CE47D2EXAMPLE REST.GET.OBJECT img/b.png \"GET /shop-assets/img/b.png HTTP/1.1\" 403 AccessDenied 243 - 8 - \"-\" \"curl/8.5\" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader shop-assets.s3.us-west-1.amazonaws.com TLSv1.2 - - us-west-1\n"
    );
    let store = MemoryStore::default();
    let m = ingest(
        source(
            "s3-access/2024-05-02-08-00-01-ABCDEF",
            access.as_bytes(),
            None,
        ),
        &store,
        &options(false),
    )
    .unwrap();
    assert_eq!((m.format.as_str(), m.rows_out), ("s3access", 2));
    let rows = all_rows(&store, &m);
    assert_eq!(rows[1].col("error_type"), Some("AccessDenied"));
    assert_eq!(rows[1].col("level"), Some("WARN"));
    assert_eq!(rows[1].col("user_id"), None, "- is an anonymous request");
    assert_eq!(rows[0].attr("key"), Some("img/a.png"));
    assert_eq!(rows[0].service.as_deref(), Some("s3"));

    let export = "2024-05-02T08:00:00.123Z {\"level\":\"error\",\"msg\":\"payment declined\",\"service\":\"checkout\"}\n\
                  2024-05-02T08:00:01.000Z {\"level\":\"info\",\"msg\":\"ok\",\"service\":\"checkout\"}\n";
    let store = MemoryStore::default();
    let m = ingest(
        source(
            "exports/5f3c/checkout/000000.gz",
            &gzip(export.as_bytes()),
            None,
        ),
        &store,
        &options(false),
    )
    .unwrap();
    assert_eq!((m.format.as_str(), m.rows_out), ("cwlogs", 2));
    let rows = all_rows(&store, &m);
    assert_eq!(rows[0].ts, 1_714_636_800_123);
    assert_eq!(rows[0].col("level"), Some("ERROR"));
    assert_eq!(rows[0].message.as_deref(), Some("payment declined"));
}
