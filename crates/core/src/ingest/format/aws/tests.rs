//! Records written from the field lists and examples of each service's
//! documentation.

use super::*;

fn parse(f: AwsJson, line: &str) -> Record<'_> {
    let mut r = Record::default();
    assert_eq!(f.parse(line, &mut r), Ok(Line::Row), "{line}");
    r
}

const START_INSTANCES: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA6ON6E4XEGIEXAMPLE","arn":"arn:aws:iam::888888888888:user/Mary","accountId":"888888888888","userName":"Mary"},"eventTime":"2023-07-19T21:17:28Z","eventSource":"ec2.amazonaws.com","eventName":"StartInstances","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.0","userAgent":"aws-cli/2.13.5 Python/3.11.4","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-EXAMPLE56126103cb"}]}},"responseElements":{"requestId":"e4336db0-149f-4a6b-844d-EXAMPLEb9d16"},"requestID":"e4336db0-149f-4a6b-844d-EXAMPLEb9d16","eventID":"e755e09c-42f9-4c5c-9064-EXAMPLE228c7","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"888888888888","eventCategory":"Management"}"#;

#[test]
fn cloudtrail_api_call() {
    let r = parse(AwsJson::CloudTrail, START_INSTANCES);
    assert_eq!(r.ts, crate::time::parse_timestamp("2023-07-19T21:17:28Z"));
    assert_eq!(r.get(T::Service), Some("ec2.amazonaws.com"));
    assert_eq!(r.get(T::EventType), Some("StartInstances"));
    assert_eq!(
        r.get(T::UserId),
        Some("arn:aws:iam::888888888888:user/Mary")
    );
    assert_eq!(r.get(T::ClientIp), Some("192.0.2.0"));
    assert_eq!(r.get(T::Region), Some("us-east-1"));
    assert_eq!(r.get(T::UserAgent), Some("aws-cli/2.13.5 Python/3.11.4"));
    assert_eq!(
        r.get(T::RequestId),
        Some("e4336db0-149f-4a6b-844d-EXAMPLEb9d16")
    );
    assert_eq!(r.level, Some(Level::Info));
    assert_eq!(r.get(T::ErrorType), None);
    assert_eq!(
        r.get(T::Message),
        Some("ec2.amazonaws.com StartInstances by IAMUser arn:aws:iam::888888888888:user/Mary")
    );
    // CloudTrail's own eventType is an attribute, not our event_type.
    assert_eq!(r.attribute("eventType"), Some("AwsApiCall"));
    assert_eq!(r.attribute("userIdentity.accountId"), Some("888888888888"));
    assert_eq!(
        r.attribute("requestParameters.instancesSet.items"),
        Some(r#"[{"instanceId":"i-EXAMPLE56126103cb"}]"#)
    );
    assert_eq!(r.attribute("readOnly"), Some("false"));
}

#[test]
fn cloudtrail_denied_console_login_and_service_calls() {
    let denied = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:dev","arn":"arn:aws:sts::111122223333:assumed-role/Dev/dev","accountId":"111122223333"},"eventTime":"2024-05-02T08:00:01Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"console.amazonaws.com","errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/Dev/dev is not authorized to perform: iam:CreateUser","requestParameters":null,"responseElements":null,"requestID":"r1","eventID":"e1","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}"#;
    let r = parse(AwsJson::CloudTrail, denied);
    assert_eq!(r.level, Some(Level::Warn));
    assert_eq!(r.get(T::ErrorType), Some("AccessDenied"));
    assert!(
        r.get(T::Message).unwrap().starts_with(
            "iam.amazonaws.com CreateUser by AssumedRole arn:aws:sts::111122223333:assumed-role/Dev/dev: AccessDenied: User: "
        ),
        "{:?}",
        r.get(T::Message)
    );
    // null members are absent, as in any JSON log.
    assert_eq!(r.attribute("requestParameters"), None);

    let login = r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2023-07-19T21:44:40Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.0","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/","MobileVersion":"No","MFAUsed":"No"},"eventID":"e2","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#;
    let r = parse(AwsJson::CloudTrail, login);
    assert_eq!(r.get(T::EventType), Some("ConsoleLogin"));
    assert_eq!(r.attribute("additionalEventData.MFAUsed"), Some("No"));
    assert_eq!(
        r.attribute("responseElements.ConsoleLogin"),
        Some("Success")
    );
    assert_eq!(r.attribute("userIdentity.type"), Some("Root"));
    assert_eq!(
        r.get(T::Message),
        Some("signin.amazonaws.com ConsoleLogin by Root arn:aws:iam::111122223333:root")
    );

    let by_service = r#"{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"},"eventTime":"2023-07-19T21:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetBucketAcl","awsRegion":"us-east-1","sourceIPAddress":"cloudtrail.amazonaws.com","userAgent":"cloudtrail.amazonaws.com","eventType":"AwsApiCall"}"#;
    let r = parse(AwsJson::CloudTrail, by_service);
    assert_eq!(r.get(T::UserId), Some("cloudtrail.amazonaws.com"));
    assert_eq!(r.get(T::ClientIp), Some("cloudtrail.amazonaws.com"));

    let mut r = Record::default();
    assert_eq!(
        AwsJson::CloudTrail.parse(r#"  "Records":"#, &mut r),
        Ok(Line::Header)
    );
    assert!(matches!(
        AwsJson::CloudTrail.parse("7", &mut r),
        Err(Reject::Malformed(_))
    ));
}

const WAF: &str = r#"{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-southeast-2:111122223333:regional/webacl/STMTest/1EXAMPLE-2ARN-3ARN-4ARN-123456EXAMPLE","terminatingRuleId":"STMTest_SQLi_XSS","terminatingRuleType":"REGULAR","action":"BLOCK","terminatingRuleMatchDetails":[{"conditionType":"SQL_INJECTION","sensitivityLevel":"HIGH","location":"HEADER","matchedData":["10","AND","1"]}],"httpSourceName":"-","httpSourceId":"-","ruleGroupList":[],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{"clientIp":"1.1.1.1","country":"AU","headers":[{"name":"Host","value":"localhost:1989"},{"name":"User-Agent","value":"curl/7.61.1"},{"name":"Accept","value":"*/*"},{"name":"x-stm-test","value":"10 AND 1=1"}],"uri":"/myUri","args":"","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"rid"},"labels":[{"name":"value"}]}"#;

#[test]
fn waf_block() {
    let r = parse(AwsJson::Waf, WAF);
    assert_eq!(r.ts, Some(1_576_280_412_771));
    assert_eq!(r.level, Some(Level::Warn));
    assert_eq!(r.get(T::EventType), Some("BLOCK"));
    assert_eq!(r.get(T::Service), Some("waf"));
    assert_eq!(r.get(T::ClientIp), Some("1.1.1.1"));
    assert_eq!(r.get(T::HttpMethod), Some("GET"));
    assert_eq!(r.get(T::HttpPath), Some("/myUri"));
    assert_eq!(r.get(T::Host), Some("localhost:1989"));
    assert_eq!(r.get(T::UserAgent), Some("curl/7.61.1"));
    assert_eq!(r.get(T::RequestId), Some("rid"));
    assert_eq!(r.http_status, None);
    assert_eq!(
        r.get(T::Message),
        Some("BLOCK GET /myUri by STMTest_SQLi_XSS")
    );
    assert_eq!(r.attribute("terminatingRuleId"), Some("STMTest_SQLi_XSS"));
    assert_eq!(r.attribute("httpRequest.country"), Some("AU"));
    assert!(
        r.attribute("httpRequest.headers")
            .unwrap()
            .contains("x-stm-test")
    );

    let allowed = WAF
        .replace(r#""action":"BLOCK""#, r#""action":"ALLOW""#)
        .replace(r#""responseCodeSent":null"#, r#""responseCodeSent":200"#);
    let r = parse(AwsJson::Waf, &allowed);
    assert_eq!(r.level, Some(Level::Info));
    assert_eq!(r.http_status, Some(200));
}

#[test]
fn resolver_queries() {
    let ok = r#"{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-00000000000000000","query_timestamp":"2021-02-04T17:51:55Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"203.0.113.22","Type":"A","Class":"IN"}],"srcaddr":"192.0.2.17","srcport":"56067","transport":"UDP","srcids":{"instance":"i-0d15cd0d3f8b7c0bb"}}"#;
    let r = parse(AwsJson::Resolver, ok);
    assert_eq!(r.ts, crate::time::parse_timestamp("2021-02-04T17:51:55Z"));
    assert_eq!(r.get(T::ClientIp), Some("192.0.2.17"));
    assert_eq!(r.get(T::Host), Some("i-0d15cd0d3f8b7c0bb"));
    assert_eq!(r.get(T::Region), Some("us-east-1"));
    assert_eq!(r.get(T::EventType), Some("A"));
    assert_eq!(r.get(T::ErrorType), None);
    assert_eq!(r.get(T::Service), Some("route53-resolver"));
    assert_eq!(r.get(T::Message), Some("A example.com. NOERROR"));
    assert_eq!(r.level, Some(Level::Info));
    let failed = ok.replace("NOERROR", "SERVFAIL");
    let r = parse(AwsJson::Resolver, &failed);
    assert_eq!(r.get(T::ErrorType), Some("SERVFAIL"));
    assert_eq!(r.level, Some(Level::Warn));
}

#[test]
fn network_firewall_alert() {
    let alert = r#"{"firewall_name":"test-firewall","availability_zone":"us-east-1b","event_timestamp":"1602627001","event":{"timestamp":"2020-10-13T22:10:01.006481+0000","flow_id":1582438383425873,"event_type":"alert","src_ip":"203.0.113.4","src_port":55555,"dest_ip":"192.0.2.16","dest_port":111,"proto":"TCP","alert":{"action":"blocked","signature_id":5,"rev":0,"signature":"test_tcp","category":"","severity":1}}}"#;
    let r = parse(AwsJson::Firewall, alert);
    assert_eq!(r.ts, Some(1_602_627_001_006));
    assert_eq!(r.get(T::Host), Some("test-firewall"));
    assert_eq!(r.get(T::ClientIp), Some("203.0.113.4"));
    assert_eq!(r.get(T::EventType), Some("alert"));
    assert_eq!(r.level, Some(Level::Warn));
    assert_eq!(
        r.get(T::Message),
        Some("alert blocked TCP 203.0.113.4:55555 -> 192.0.2.16:111 test_tcp")
    );
    assert_eq!(r.attribute("event_timestamp"), Some("1602627001"));
}

#[test]
fn detection() {
    assert_eq!(AwsJson::detect(START_INSTANCES), Some(AwsJson::CloudTrail));
    assert_eq!(AwsJson::detect(WAF), Some(AwsJson::Waf));
    assert_eq!(
        AwsJson::detect(r#"{"query_timestamp":"x","query_name":"a."}"#),
        Some(AwsJson::Resolver)
    );
    assert_eq!(
        AwsJson::detect(r#"{"firewall_name":"f","event":{}}"#),
        Some(AwsJson::Firewall)
    );
    assert_eq!(AwsJson::detect(r#"{"level":"info","msg":"x"}"#), None);
}
