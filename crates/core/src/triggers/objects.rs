//! Every trigger shape the ingest function accepts, decoded into the S3
//! objects to ingest: S3 notifications (direct, inside SQS, inside SNS inside
//! SQS), EventBridge "Object Created" events, and manual replays
//! `{"source_uri": "s3://bucket/key"}`.
//!
//! S3 keys in notifications are URL-encoded (`+` is a space); they are decoded
//! here and nowhere else.

use serde_json::Value;

/// One S3 object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
}

impl ObjectRef {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// What an event asks for, object by object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Ingest(ObjectRef),
    /// Acknowledged and skipped, with the reason for the log.
    Skip(Skip),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// `s3:TestEvent`, sent when a notification is configured.
    TestEvent,
    /// A `key/` folder marker.
    FolderMarker(String),
    /// A zero-byte object: nothing to ingest.
    Empty(String),
    /// An object AWS writes beside its logs that holds no log records:
    /// CloudTrail's digest files (`CloudTrail-Digest/`, hashes for
    /// integrity validation) and CloudWatch Logs' `aws-logs-write-test`.
    NotLog(String),
    /// A notification for something other than object creation.
    NotCreated(String),
}

/// A Lambda invocation, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// An SQS batch: each message is handled, and can fail, on its own.
    Sqs(Vec<SqsMessage>),
    /// Anything else: the objects it names.
    Direct(Vec<Work>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SqsMessage {
    pub message_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "unrecognized event: expected an SQS batch, an S3 notification, an SNS-wrapped S3 notification, an EventBridge \"Object Created\" event or {{\"source_uri\": \"s3://bucket/key\"}}; got {0}"
    )]
    Unrecognized(String),
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// Classify a whole invocation payload.
pub fn classify(event: &Value) -> Result<Invocation, EventError> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let sqs = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if sqs {
            return records
                .iter()
                .map(|r| {
                    let field = |k: &str| {
                        r.get(k)
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .ok_or_else(|| EventError::Invalid(format!("sqs record without {k}")))
                    };
                    Ok(SqsMessage {
                        message_id: field("messageId")?,
                        body: field("body")?,
                    })
                })
                .collect::<Result<_, _>>()
                .map(Invocation::Sqs);
        }
    }
    work_in(event, 0).map(Invocation::Direct)
}

/// The objects named by one message body (SQS) or one direct event.
pub fn work_in_body(body: &str) -> Result<Vec<Work>, EventError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| EventError::Unrecognized(format!("a body that is not JSON ({e})")))?;
    work_in(&v, 0)
}

fn work_in(v: &Value, depth: usize) -> Result<Vec<Work>, EventError> {
    if depth > 2 {
        return Err(EventError::Invalid("envelopes nested too deep".into()));
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    // s3:TestEvent, sent directly or inside SQS when notifications are set up.
    if s(v, "Event").as_deref() == Some("s3:TestEvent") {
        return Ok(vec![Work::Skip(Skip::TestEvent)]);
    }
    // SNS envelope: the S3 notification is a JSON string in `Message`, either
    // as delivered to SQS, or inside a Lambda SNS record's `Sns`.
    if s(v, "Type").as_deref() == Some("Notification") {
        let msg = s(v, "Message")
            .ok_or_else(|| EventError::Invalid("sns notification without Message".into()))?;
        let inner: Value = serde_json::from_str(&msg)
            .map_err(|e| EventError::Invalid(format!("sns Message is not JSON ({e})")))?;
        return work_in(&inner, depth + 1);
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut out = Vec::new();
        for r in records {
            if let Some(sns) = r.get("Sns") {
                out.extend(work_in(sns, depth + 1)?);
            } else if r.get("s3").is_some() {
                out.push(s3_record(r)?);
            } else {
                return Err(EventError::Unrecognized(
                    "a record with neither s3 nor Sns".into(),
                ));
            }
        }
        return Ok(out);
    }
    if s(v, "source").as_deref() == Some("aws.s3") {
        return eventbridge(v).map(|w| vec![w]);
    }
    if let Some(uri) = v.get("source_uri") {
        let uris: Vec<&str> = match uri {
            Value::String(u) => vec![u.as_str()],
            Value::Array(a) => a
                .iter()
                .map(|u| {
                    u.as_str()
                        .ok_or_else(|| EventError::Invalid("source_uri must hold strings".into()))
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(EventError::Invalid(
                    "source_uri must be a string or a list of strings".into(),
                ));
            }
        };
        return uris
            .into_iter()
            .map(|u| parse_s3_uri(u).map(Work::Ingest))
            .collect();
    }
    Err(EventError::Unrecognized(describe(v)))
}

/// A short description of an unexpected payload, for the error message.
fn describe(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().take(6).map(String::as_str).collect();
            format!("an object with keys {keys:?}")
        }
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        other => format!("{other}"),
    }
}

fn s3_record(r: &Value) -> Result<Work, EventError> {
    let name = r
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let s3 = &r["s3"];
    let bucket = s3["bucket"]["name"]
        .as_str()
        .ok_or_else(|| EventError::Invalid("s3 record without s3.bucket.name".into()))?;
    let raw_key = s3["object"]["key"]
        .as_str()
        .ok_or_else(|| EventError::Invalid("s3 record without s3.object.key".into()))?;
    let key = decode_key(raw_key)?;
    if !name.starts_with("ObjectCreated:") {
        return Ok(Work::Skip(Skip::NotCreated(format!(
            "{name} s3://{bucket}/{key}"
        ))));
    }
    let obj = &s3["object"];
    object_work(ObjectRef {
        bucket: bucket.to_string(),
        key,
        version_id: obj["versionId"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        etag: obj["eTag"].as_str().map(str::to_string),
        size: obj["size"].as_u64(),
    })
}

fn eventbridge(v: &Value) -> Result<Work, EventError> {
    let d = &v["detail"];
    let bucket = d["bucket"]["name"].as_str().ok_or_else(|| {
        EventError::Invalid("eventbridge event without detail.bucket.name".into())
    })?;
    let raw_key = d["object"]["key"]
        .as_str()
        .ok_or_else(|| EventError::Invalid("eventbridge event without detail.object.key".into()))?;
    // EventBridge encodes keys like notifications do.
    let key = decode_key(raw_key)?;
    let kind = v["detail-type"].as_str().unwrap_or_default();
    if kind != "Object Created" {
        return Ok(Work::Skip(Skip::NotCreated(format!(
            "{kind} s3://{bucket}/{key}"
        ))));
    }
    object_work(ObjectRef {
        bucket: bucket.to_string(),
        key,
        version_id: d["object"]["version-id"].as_str().map(str::to_string),
        etag: d["object"]["etag"].as_str().map(str::to_string),
        size: d["object"]["size"].as_u64(),
    })
}

fn object_work(o: ObjectRef) -> Result<Work, EventError> {
    Ok(if o.key.ends_with('/') {
        Work::Skip(Skip::FolderMarker(o.uri()))
    } else if o.size == Some(0) {
        Work::Skip(Skip::Empty(o.uri()))
    } else if is_not_log(&o.key) {
        Work::Skip(Skip::NotLog(o.uri()))
    } else {
        Work::Ingest(o)
    })
}

/// See [`Skip::NotLog`].
fn is_not_log(key: &str) -> bool {
    key.split('/').any(|p| p == "CloudTrail-Digest")
        || key.rsplit('/').next() == Some("aws-logs-write-test")
}

/// `s3://bucket/key` (the key taken literally, as a person typed it).
pub fn parse_s3_uri(uri: &str) -> Result<ObjectRef, EventError> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| EventError::Invalid(format!("{uri:?} is not an s3:// uri")))?;
    let (bucket, key) = rest
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| EventError::Invalid(format!("{uri:?} has no bucket or no key")))?;
    if key.ends_with('/') {
        return Err(EventError::Invalid(format!(
            "{uri:?} names a folder, not an object"
        )));
    }
    Ok(ObjectRef {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: None,
        etag: None,
        size: None,
    })
}

/// Decode an S3 event key: `+` is a space, `%XX` a byte, and the bytes UTF-8.
pub fn decode_key(raw: &str) -> Result<String, EventError> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        EventError::Invalid(format!("bad percent-escape in key {raw:?}"))
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| EventError::Invalid(format!("key {raw:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_event(key: &str, size: u64) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-03-14T21:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "raw",
                   "bucket": {"name": "raw-bucket", "arn": "arn:aws:s3:::raw-bucket"},
                   "object": {"key": key, "size": size, "eTag": "0123abcd", "sequencer": "0A1B"}}
        }]})
    }

    #[test]
    fn keys_are_decoded_in_one_place() {
        for (raw, want) in [
            ("logs/a+b.log", "logs/a b.log"),
            ("logs/a%2Bb.log", "logs/a+b.log"),
            ("logs/caf%C3%A9+%E2%9C%94.gz", "logs/café ✔.gz"),
            ("logs/100%25.log", "logs/100%.log"),
            ("plain", "plain"),
        ] {
            assert_eq!(decode_key(raw).unwrap(), want);
        }
        assert!(decode_key("bad%2").is_err());
        assert!(decode_key("bad%zz").is_err());
        assert!(decode_key("%ff%fe").is_err());
    }

    #[test]
    fn direct_s3_notification() {
        let w = classify(&s3_event("app/2024/x+y.gz", 10)).unwrap();
        assert_eq!(
            w,
            Invocation::Direct(vec![Work::Ingest(ObjectRef {
                bucket: "raw-bucket".into(),
                key: "app/2024/x y.gz".into(),
                version_id: None,
                etag: Some("0123abcd".into()),
                size: Some(10),
            })])
        );
        assert!(matches!(
            classify(&s3_event("folder/", 0)).unwrap(),
            Invocation::Direct(w) if w == vec![Work::Skip(Skip::FolderMarker("s3://raw-bucket/folder/".into()))]
        ));
        assert!(matches!(
            classify(&s3_event("empty.log", 0)).unwrap(),
            Invocation::Direct(w) if matches!(w[0], Work::Skip(Skip::Empty(_)))
        ));
        for key in [
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/02/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240502T080000Z.json.gz",
            "exports/aws-logs-write-test",
        ] {
            assert!(matches!(
                classify(&s3_event(key, 900)).unwrap(),
                Invocation::Direct(w) if matches!(w[0], Work::Skip(Skip::NotLog(_)))
            ));
        }
        let trail = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/02/111122223333_CloudTrail_us-east-1_20240502T0800Z_abc.json.gz";
        assert!(matches!(
            classify(&s3_event(trail, 900)).unwrap(),
            Invocation::Direct(w) if matches!(w[0], Work::Ingest(_))
        ));
        let mut removed = s3_event("x.log", 5);
        removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
        assert!(matches!(
            classify(&removed).unwrap(),
            Invocation::Direct(w) if matches!(w[0], Work::Skip(Skip::NotCreated(_)))
        ));
    }

    #[test]
    fn sqs_bodies_of_every_shape() {
        let sqs = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": s3_event("a.log", 3).to_string()},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": "{\"Event\":\"s3:TestEvent\",\"Bucket\":\"raw\"}"},
        ]});
        let Invocation::Sqs(msgs) = classify(&sqs).unwrap() else {
            panic!("not sqs")
        };
        assert_eq!(msgs.len(), 2);
        assert!(
            matches!(&work_in_body(&msgs[0].body).unwrap()[0], Work::Ingest(o) if o.key == "a.log")
        );
        assert_eq!(
            work_in_body(&msgs[1].body).unwrap(),
            vec![Work::Skip(Skip::TestEvent)]
        );

        let sns = json!({"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                         "Message": s3_event("b%2Bc.log", 3).to_string()});
        assert!(
            matches!(&work_in_body(&sns.to_string()).unwrap()[0], Work::Ingest(o) if o.key == "b+c.log")
        );

        let eb = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                        "detail": {"bucket": {"name": "raw"}, "object": {"key": "d.log", "size": 9, "etag": "e", "version-id": "v1"}}});
        assert_eq!(
            work_in_body(&eb.to_string()).unwrap(),
            vec![Work::Ingest(ObjectRef {
                bucket: "raw".into(),
                key: "d.log".into(),
                version_id: Some("v1".into()),
                etag: Some("e".into()),
                size: Some(9),
            })]
        );
        assert!(matches!(
            work_in_body("not json"),
            Err(EventError::Unrecognized(_))
        ));
        assert!(matches!(
            work_in_body("{\"hello\":1}"),
            Err(EventError::Unrecognized(_))
        ));
    }

    #[test]
    fn replays() {
        let one = classify(&json!({"source_uri": "s3://b/k with space.log"})).unwrap();
        assert!(
            matches!(one, Invocation::Direct(w) if matches!(&w[0], Work::Ingest(o) if o.key == "k with space.log"))
        );
        let two = classify(&json!({"source_uri": ["s3://b/1", "s3://b/2"]})).unwrap();
        assert!(matches!(two, Invocation::Direct(w) if w.len() == 2));
        for bad in [
            json!({"source_uri": "http://x/y"}),
            json!({"source_uri": "s3://b/"}),
            json!({"source_uri": 3}),
        ] {
            assert!(
                matches!(classify(&bad), Err(EventError::Invalid(_))),
                "{bad}"
            );
        }
        let err = classify(&json!([1, 2])).unwrap_err().to_string();
        assert!(err.contains("expected an SQS batch"), "{err}");
    }
}
