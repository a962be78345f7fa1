//! Amazon S3 server access logs: space-separated fields, the time in
//! brackets, the request line, referrer and user agent quoted, `-` for none.
//! Every field the documentation lists, up to `source_region`; fields AWS
//! adds after those are kept as `extra_1`, `extra_2`, ... rather than
//! failing the line.
//!
//! ```text
//! 79a59df9...ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df9...ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrF...= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1
//! ```

use super::clf::{
    attr_opt, count, extra_key, level_for_status, malformed, next_field, split_request,
};
use crate::record::{Record, Reject, TextField as T};
use crate::time::parse_clf;

/// The fields after the time, in the documented order.
const FIELDS: [&str; 24] = [
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
];

/// The first fields up to the time: owner, bucket, `[time]`, and the rest.
fn head(line: &str) -> Option<(&str, &str, &str, &str)> {
    let (owner, s) = line.trim_start().split_once(' ')?;
    let (bucket, s) = s.trim_start().split_once(' ')?;
    let s = s.trim_start().strip_prefix('[')?;
    let (time, rest) = s.split_once(']')?;
    Some((owner, bucket, time, rest))
}

/// Whether `line` has the shape of an S3 server access log record.
pub fn looks_like(line: &str) -> bool {
    match head(line) {
        Some((owner, bucket, time, rest)) => {
            !owner.is_empty()
                && !owner.contains(['[', '"'])
                && !bucket.is_empty()
                && parse_clf(time).is_some()
                && rest.split_ascii_whitespace().count() >= 14
        }
        None => false,
    }
}

/// Parse one record into `rec` (cleared).
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
    let (owner, bucket, time, mut rest) =
        head(line.trim_end()).ok_or_else(|| malformed("not an S3 access log record"))?;
    rec.ts = Some(parse_clf(time).ok_or_else(|| {
        Reject::InvalidTimestamp(format!("unparsable time {:?}", super::clip(time, 64)))
    })?);
    rec.set(T::Service, "s3");
    attr_opt(rec, "bucket_owner", owner);
    attr_opt(rec, "bucket", bucket);
    let mut i = 0;
    let (mut operation, mut key, mut error) = ("-", "-", "-");
    while let Some((v, _quoted, r)) = next_field(rest)? {
        rest = r;
        let name = FIELDS.get(i).copied();
        i += 1;
        match name {
            Some("remote_ip") => rec.set_opt(T::ClientIp, v),
            Some("requester") => rec.set_opt(T::UserId, v),
            Some("request_id") => rec.set_opt(T::RequestId, v),
            Some("operation") => {
                operation = v;
                rec.set_opt(T::EventType, v);
            }
            Some("request_uri") => match split_request(v) {
                Some((method, path, version)) => {
                    rec.set_opt(T::HttpMethod, method);
                    rec.set_opt(T::HttpPath, path);
                    attr_opt(rec, "http_version", version);
                }
                None => attr_opt(rec, "request_uri", v),
            },
            Some("http_status") => {
                let s = super::clf::optional_status(v)?;
                rec.http_status = s;
                if let Some(s) = s {
                    rec.level = Some(level_for_status(s));
                }
            }
            Some("error_code") => {
                error = v;
                rec.set_opt(T::ErrorType, v);
            }
            Some("bytes_sent") => rec.bytes_sent = count(v, "bytes_sent")?,
            Some("total_time") => {
                rec.latency_ms = count(v, "latency_ms")?.map(|n| n as f64);
            }
            Some("user_agent") => rec.set_opt(T::UserAgent, v),
            Some("host_header") => rec.set_opt(T::Host, v),
            Some(k) => {
                if k == "key" {
                    key = v;
                }
                attr_opt(rec, k, v);
            }
            None => attr_opt(rec, extra_key(i - FIELDS.len()), v),
        }
    }
    let needed = FIELDS
        .iter()
        .position(|f| *f == "user_agent")
        .map_or(0, |p| p + 1);
    if i < needed {
        return Err(malformed(
            "an S3 access log record ends before its user agent",
        ));
    }
    let mut m = format!("{operation} {bucket}");
    if key != "-" {
        m.push('/');
        m.push_str(key);
    }
    if let Some(s) = rec.http_status {
        m.push_str(&format!(" {s}"));
    }
    if error != "-" {
        m.push(' ');
        m.push_str(error);
    }
    rec.set(T::Message, m);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    const OWNER: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

    fn line(tail: &str) -> String {
        format!(
            "{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {OWNER} 3E57427F3EXAMPLE {tail}"
        )
    }

    #[test]
    fn documented_record() {
        let l = line(
            r#"REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1"#,
        );
        assert!(looks_like(&l));
        let mut r = Record::default();
        parse(&l, &mut r).unwrap();
        assert_eq!(r.ts, parse_clf("06/Feb/2019:00:00:38 +0000"));
        assert_eq!(r.get(T::Service), Some("s3"));
        assert_eq!(r.get(T::ClientIp), Some("192.0.2.3"));
        assert_eq!(r.get(T::UserId), Some(OWNER));
        assert_eq!(r.get(T::RequestId), Some("3E57427F3EXAMPLE"));
        assert_eq!(r.get(T::EventType), Some("REST.GET.VERSIONING"));
        assert_eq!(r.get(T::HttpMethod), Some("GET"));
        assert_eq!(r.get(T::HttpPath), Some("/amzn-s3-demo-bucket1?versioning"));
        assert_eq!(r.http_status, Some(200));
        assert_eq!(r.bytes_sent, Some(113));
        assert_eq!(r.latency_ms, Some(7.0));
        assert_eq!(r.get(T::UserAgent), Some("S3Console/0.4"));
        assert_eq!(
            r.get(T::Host),
            Some("amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com")
        );
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.attribute("bucket"), Some("amzn-s3-demo-bucket1"));
        assert_eq!(r.attribute("bucket_owner"), Some(OWNER));
        assert_eq!(r.attribute("signature_version"), Some("SigV4"));
        assert_eq!(r.attribute("tls_version"), Some("TLSV1.2"));
        assert_eq!(r.attribute("acl_required"), Some("Yes"));
        assert_eq!(r.attribute("source_region"), Some("us-east-1"));
        assert_eq!(r.attribute("turn_around_time"), None, "- is no value");
        assert_eq!(
            r.get(T::Message),
            Some("REST.GET.VERSIONING amzn-s3-demo-bucket1 200")
        );
    }

    #[test]
    fn errors_older_and_newer_records() {
        // An older record, ending after the host id, for a missing key.
        let l = line(
            r#"REST.GET.OBJECT photos/2019/08/puppy.jpg "GET /amzn-s3-demo-bucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1" 404 NoSuchKey 243 - 12 - "-" "aws-sdk-java/1.11.28" - hostid="#,
        );
        let mut r = Record::default();
        parse(&l, &mut r).unwrap();
        assert_eq!(r.http_status, Some(404));
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.get(T::ErrorType), Some("NoSuchKey"));
        assert_eq!(r.attribute("key"), Some("photos/2019/08/puppy.jpg"));
        assert_eq!(
            r.get(T::Message),
            Some("REST.GET.OBJECT amzn-s3-demo-bucket1/photos/2019/08/puppy.jpg 404 NoSuchKey")
        );
        // A field AWS adds later is kept, by position.
        let l = line(
            r#"REST.PUT.OBJECT k "PUT /b/k HTTP/1.1" 503 SlowDown - 10 5 4 "-" "ua" - h SigV4 c AuthHeader b.s3.amazonaws.com TLSv1.3 - - eu-west-1 new-field"#,
        );
        let mut r = Record::default();
        parse(&l, &mut r).unwrap();
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.attribute("extra_1"), Some("new-field"));
        // Cut before the user agent: not a record.
        let cut = line(r#"REST.GET.OBJECT k "GET /b/k HTTP/1.1" 200 -"#);
        assert!(matches!(
            parse(&cut, &mut Record::default()),
            Err(Reject::Malformed(_))
        ));
        assert!(!looks_like(&cut));
        let clf = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "curl/8""#;
        assert!(!looks_like(clf));
    }
}
