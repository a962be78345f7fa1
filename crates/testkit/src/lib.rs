//! loglake-testkit: what the integration tests of every crate share, so no
//! test file copies an environment and no crate depends on another's tests.
//!
//! - [`LocalAws`]: the local AWS that `make test` starts (moto on loopback),
//!   with a fresh name per test for every bucket, queue, stream and table;
//! - [`alerts::AlertAws`]: the alert tables, the topic and an inbox queue;
//! - [`opensearch::Mock`]: the strict OpenSearch test server;
//! - [`chaos::Proxy`]: the fault-injecting proxy in front of the local AWS;
//! - [`iam`]: a local AWS enforcing IAM, and a function's role per test
//!   holding exactly its policy from `infra/policies/`
//!   ([`LocalAws::enforced`], [`LocalAws::role`]);
//! - builders for the handlers wired to the local AWS ([`LocalAws::ingest`]).
//!
//! Only a dev-dependency: nothing here ships.

pub mod alerts;
pub mod chaos;
pub mod iam;
pub mod opensearch;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use loglake_handlers::config::Vars;
use loglake_handlers::ingest::{Ingest, IngestSettings};
use serde_json::{Value, json};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A lookup over `pairs`, as a function's settings would be read from its
/// environment: `vars(&[...])` then `Config::from_vars(Vars::new(&lookup))`.
pub fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// Parse settings from `pairs` with a function's `from_vars`.
pub fn settings<T, E: std::fmt::Debug>(
    pairs: &[(&str, &str)],
    from_vars: impl FnOnce(Vars<'_>) -> Result<T, E>,
) -> T {
    let get = vars(pairs);
    from_vars(Vars::new(&get)).expect("valid test settings")
}

/// The local AWS for one test: the shared configuration, an S3 client, and
/// an id unique to this test run and call.
#[derive(Debug, Clone)]
pub struct LocalAws {
    pub aws: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    /// `{name}-{pid}-{n}`: the suffix of every resource this test creates.
    pub id: String,
    /// On the IAM-enforcing server ([`LocalAws::enforced`]), as its admin.
    enforced: bool,
}

impl LocalAws {
    /// Connect to the local AWS; `name` names this test's resources.
    pub async fn new(name: &str) -> LocalAws {
        assert!(
            std::env::var("LOGLAKE_TEST_ENDPOINT").is_ok(),
            "these tests need the local AWS: run them with `make test` (or `make up` and export AWS_ENDPOINT_URL and LOGLAKE_TEST_ENDPOINT)"
        );
        let aws = loglake_aws::load_config().await;
        Self::with(name, aws, false)
    }

    /// The local AWS that enforces IAM ([`iam`]), as its admin (who may do
    /// anything): set up with this, run the function as [`LocalAws::role`].
    pub async fn enforced(name: &str) -> LocalAws {
        let base = loglake_aws::load_config().await;
        Self::with(name, iam::server().admin(&base), true)
    }

    fn with(name: &str, aws: aws_config::SdkConfig, enforced: bool) -> LocalAws {
        let s3 = loglake_aws::s3_client(&aws);
        let id = format!(
            "{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        LocalAws {
            aws,
            s3,
            id,
            enforced,
        }
    }

    /// `function`'s role for this test: a user holding exactly the policy
    /// `parts` make (see [`iam::function_policy`]). Only on
    /// [`LocalAws::enforced`].
    pub fn role(&self, function: &str, parts: &[Value]) -> iam::Role {
        assert!(self.enforced, "roles exist only on LocalAws::enforced");
        iam::server().role(
            &self.aws,
            function,
            &format!("{function}-{}", self.id),
            iam::function_policy(parts),
        )
    }

    /// Point a command (the CLI) at the same local AWS with the same
    /// credentials as this.
    pub async fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        if self.enforced {
            use aws_credential_types::provider::ProvideCredentials;
            let creds = self
                .aws
                .credentials_provider()
                .unwrap()
                .provide_credentials()
                .await
                .unwrap();
            cmd.env("AWS_ENDPOINT_URL", &iam::server().url)
                .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
                .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
                .env_remove("AWS_SESSION_TOKEN");
        }
        cmd
    }

    /// A new bucket `{role}-{id}`.
    pub async fn bucket(&self, role: &str) -> String {
        let b = format!("{role}-{}", self.id);
        self.s3.create_bucket().bucket(&b).send().await.unwrap();
        b
    }

    /// Put an object.
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    /// Key -> body of every object under `prefix`.
    pub async fn objects(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        self.objects_with_time(bucket, prefix)
            .await
            .into_iter()
            .map(|(k, (_, body))| (k, body))
            .collect()
    }

    /// Key -> (last modified, body) of every object under `prefix`.
    pub async fn objects_with_time(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BTreeMap<String, (String, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for o in page.unwrap().contents() {
                let key = o.key().unwrap().to_string();
                let got = self
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
                let modified = got
                    .last_modified()
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                #[expect(clippy::disallowed_methods, reason = "test objects are small")]
                let body = got.body.collect().await.unwrap().into_bytes().to_vec();
                out.insert(key, (modified, body));
            }
        }
        out
    }

    /// The same resources, reached with the configuration `aws` (through a
    /// [`chaos::Proxy`], say).
    pub fn through(&self, aws: aws_config::SdkConfig) -> LocalAws {
        LocalAws {
            s3: loglake_aws::s3_client(&aws),
            aws,
            id: self.id.clone(),
            enforced: self.enforced,
        }
    }

    /// fn-ingest's handler reading from S3 and writing the lake to
    /// `curated`, with `settings` and no search or alert sink (set them on
    /// the result). Call within the runtime.
    pub fn ingest(&self, curated: &str, settings: IngestSettings) -> Ingest {
        Ingest {
            objects: Arc::new(loglake_aws::S3Objects {
                client: self.s3.clone(),
            }),
            lake: Arc::new(loglake_aws::S3Store::new(
                self.s3.clone(),
                curated,
                "",
                tokio::runtime::Handle::current(),
            )),
            settings,
            search: None,
            alerts: None,
            requeue: None,
        }
    }
}

/// The SQS message AWS delivers for an `ObjectCreated:Put` of `key` in
/// `bucket` (S3 notification inside an SQS batch of one).
pub fn sqs_s3_event(bucket: &str, key: &str) -> Value {
    let body = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
        "awsRegion": "us-east-1", "eventTime": "2026-11-21T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": 1, "sequencer": "1"}}}]});
    json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "h", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"
    }]})
}

/// One SQS message of a Lambda SQS event, with `id` and `body`.
pub fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id, "receiptHandle": "handle", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"
    })
}

/// An S3 notification as AWS writes it: the key URL-encoded, spaces as `+`.
pub fn s3_notification(bucket: &str, key: &str, size: usize, etag: &str) -> String {
    let mut enc = String::new();
    for b in key.bytes() {
        match b {
            b' ' => enc.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                enc.push(b as char)
            }
            _ => enc.push_str(&format!("%{b:02X}")),
        }
    }
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-03-15T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": enc, "size": size, "eTag": etag, "sequencer": "1"}}}]})
    .to_string()
}
