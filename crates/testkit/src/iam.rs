//! The functions under their real IAM policies: a local AWS that enforces
//! IAM (`tests/iam_moto.py`, one per test process), and per test an IAM
//! user holding exactly a function's policy as Terraform renders it from
//! `infra/policies/`. A handler built with [`Role::aws`] makes every call
//! as that user, so a grant the policy lacks fails the test with the
//! service's AccessDenied.
//!
//! What moto can check: S3 calls against the object or bucket ARN and SQS
//! calls against the queue ARN, exactly as AWS does; DynamoDB, SNS,
//! Kinesis, Firehose and KMS calls only against `*`, so [`function_policy`]
//! widens the resources of statements on those services to `*` (their
//! actions are still checked). Conditions are not evaluated.
//!
//! Every authorization decision is recorded. When `LOGLAKE_IAM_CALLS` names
//! a directory, a [`Role`] writes its function's policy and the decisions
//! made for it there when dropped; `tests/test_security.py` lists each
//! policy's grants against the calls the code made.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::{Value, json};

use crate::chaos::Endpoint;
use crate::opensearch::{python, repo_root};

/// The account and region moto answers for.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// Services whose calls moto authorizes against `*` only.
const UNSCOPED_IN_MOTO: [&str; 6] = [
    "dynamodb",
    "sns",
    "kinesis",
    "firehose",
    "kms",
    "codedeploy",
];

/// The IAM-enforcing server of this test process.
#[derive(Debug)]
pub struct Enforced {
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    _child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    admin: (String, String),
}

static SERVER: OnceLock<Enforced> = OnceLock::new();

/// The server, started at the first call; it stops when this process exits
/// (its stdin closes).
pub fn server() -> &'static Enforced {
    SERVER.get_or_init(Enforced::start)
}

impl Enforced {
    fn start() -> Enforced {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/iam_moto.py"))
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start tests/iam_moto.py");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Vec<&str> = line.split_whitespace().collect();
        let [word, url, key, secret] = ready[..] else {
            panic!("tests/iam_moto.py said {line:?}");
        };
        assert_eq!(word, "READY", "tests/iam_moto.py said {line:?}");
        Enforced {
            url: url.to_string(),
            admin: (key.to_string(), secret.to_string()),
            io: Mutex::new((stdin, stdout)),
            _child: child,
        }
    }

    fn ask(&self, request: Value) -> Value {
        let answer = self.try_ask(&request).unwrap_or_else(|e| panic!("{e}"));
        assert!(answer.get("error").is_none(), "{answer}");
        answer
    }

    fn try_ask(&self, request: &Value) -> Result<Value, String> {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(io.0, "{request}").map_err(|e| e.to_string())?;
        io.0.flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        io.1.read_line(&mut line).map_err(|e| e.to_string())?;
        serde_json::from_str(&line).map_err(|e| format!("tests/iam_moto.py answered {line:?}: {e}"))
    }

    /// `base` (the shared configuration) pointed at this server with an IAM
    /// user's keys and no session token.
    fn config(
        &self,
        base: &aws_config::SdkConfig,
        key: &str,
        secret: &str,
    ) -> aws_config::SdkConfig {
        base.to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                key, secret, None, None, "iam-test",
            )))
            .endpoint_url(&self.url)
            .service_config(Endpoint(self.url.clone()))
            .build()
    }

    /// The configuration of the admin user (`*`): for setting up a test and
    /// reading back what the function wrote.
    pub fn admin(&self, base: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        self.config(base, &self.admin.0, &self.admin.1)
    }

    /// A new user `name` holding exactly `policy`.
    pub fn role(
        &self,
        base: &aws_config::SdkConfig,
        function: &str,
        name: &str,
        policy: Value,
    ) -> Role {
        static USERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = USERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = self.ask(json!({"user": format!("{name}-{n}"), "policy": policy}));
        let key = answer["key"].as_str().unwrap().to_string();
        let secret = answer["secret"].as_str().unwrap();
        Role {
            function: function.to_string(),
            aws: self.config(base, &key, secret),
            key,
            secret: secret.to_string(),
            policy,
            recorded: true,
        }
    }

    /// Every authorization decision made for `key`, each once.
    pub fn decisions(&self, key: &str) -> Vec<Decision> {
        let answer = self.ask(json!({"calls": key}));
        answer["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Decision {
                action: c[0].as_str().unwrap().to_string(),
                resource: c[1].as_str().unwrap().to_string(),
                allowed: c[2].as_bool().unwrap(),
            })
            .collect()
    }
}

/// One authorization moto decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: String,
    pub resource: String,
    pub allowed: bool,
}

/// A function's role in one test.
#[derive(Debug)]
pub struct Role {
    /// `fn-ingest`, `fn-stream`, `fn-alerts`.
    pub function: String,
    /// The configuration making calls as this role.
    pub aws: aws_config::SdkConfig,
    /// Its access key id and secret.
    pub key: String,
    pub secret: String,
    /// The policy it holds, as given to moto.
    pub policy: Value,
    recorded: bool,
}

impl Role {
    /// Keep no record of this role's calls (its policy is not the
    /// function's: a test that takes a grant away).
    pub fn unrecorded(mut self) -> Self {
        self.recorded = false;
        self
    }

    /// What this role was allowed and refused so far.
    pub fn decisions(&self) -> Vec<Decision> {
        server().decisions(&self.key)
    }

    /// The calls refused so far.
    pub fn denied(&self) -> Vec<Decision> {
        self.decisions()
            .into_iter()
            .filter(|d| !d.allowed)
            .collect()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // A failed test says why itself, and which calls were refused; its
        // calls are not a record.
        if std::thread::panicking() {
            if let Ok(answer) = server().try_ask(&json!({"calls": self.key}))
                && let Some(calls) = answer["calls"].as_array()
            {
                for c in calls.iter().filter(|c| c[2] == false) {
                    eprintln!("{} was refused {} on {}", self.function, c[0], c[1]);
                }
            }
            return;
        }
        let Ok(dir) = std::env::var("LOGLAKE_IAM_CALLS") else {
            return;
        };
        if !self.recorded {
            return;
        }

        let calls: Vec<Value> = self
            .decisions()
            .into_iter()
            .map(|d| json!([d.action, d.resource, d.allowed]))
            .collect();
        let record = json!({"function": self.function, "policy": self.policy, "calls": calls});
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join(format!("{}-{}.json", self.function, self.key)),
            record.to_string(),
        )
        .unwrap();
    }
}

/// `infra/policies/{template}` rendered as Terraform's `templatefile()`
/// renders it (plain `${name}` placeholders), every placeholder given.
pub fn render(template: &str, values: &[(&str, &str)]) -> Value {
    let path = repo_root().join("infra/policies").join(template);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    assert!(
        !text.contains("${"),
        "{template}: a placeholder was not given: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{template} rendered: {e}"))
}

/// The policy documents `parts` as one (their statements in order, as
/// `modules/lambda` concatenates a function's own policy with the search
/// and alert writers'), with the resources of statements on services moto
/// checks only against `*` widened to `*`.
pub fn function_policy(parts: &[Value]) -> Value {
    let mut statements = Vec::new();
    for part in parts {
        for st in part["Statement"].as_array().unwrap() {
            let mut st = st.clone();
            let unscoped = st["Action"].as_array().unwrap().iter().all(|a| {
                let service = a.as_str().unwrap().split(':').next().unwrap();
                UNSCOPED_IN_MOTO.contains(&service)
            });
            if unscoped {
                st["Resource"] = json!("*");
            }
            statements.push(st);
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// ARNs of the local resources, as Terraform would pass them.
pub fn s3_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}
pub fn sqs_arn(queue: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
}
pub fn table_arn(table: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
}
pub fn stream_arn(stream: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}")
}
pub fn firehose_arn(name: &str) -> String {
    format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}")
}
/// The data key: moto does not encrypt, so no call names it.
pub fn key_arn() -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000")
}

/// The search and alert writers `modules/lambda` appends to fn-ingest's and
/// fn-stream's policies when those sinks are on (both on here). The tables
/// and topic are named by pattern: moto checks those calls against `*`.
fn writers() -> [Value; 2] {
    [
        render(
            "search-writer.json.tftpl",
            &[(
                "domain_arn",
                &format!("arn:aws:es:{REGION}:{ACCOUNT}:domain/loglake"),
            )],
        ),
        render(
            "alerts-writer.json.tftpl",
            &[
                ("windows_table_arn", &table_arn("windows-*")),
                ("state_table_arn", &table_arn("state-*")),
                (
                    "topic_arn",
                    &format!("arn:aws:sns:{REGION}:{ACCOUNT}:alerts-*"),
                ),
                ("rules_object_arn", &rules_object_arn("curated-*")),
            ],
        ),
    ]
}

/// fn-ingest's policy as `modules/ingest` and `modules/lambda` render it,
/// for the raw and curated buckets and the queue it reads.
pub fn ingest_policy(raw: &str, curated: &str, queue: &str) -> Vec<Value> {
    let own = render(
        "fn-ingest.json.tftpl",
        &[
            ("queue_arn", &sqs_arn(queue)),
            ("raw_bucket_arn", &s3_arn(raw)),
            ("curated_bucket_arn", &s3_arn(curated)),
            ("kms_key_arn", &key_arn()),
        ],
    );
    let logs = aws_logs_bucket(raw);
    let aws_logs = render(
        "fn-ingest-aws-logs.json.tftpl",
        &[
            (
                "aws_log_object_arns",
                &json!([format!("{}/{AWS_LOGS_PREFIX}*", s3_arn(&logs))]).to_string(),
            ),
            ("aws_log_bucket_arns", &json!([s3_arn(&logs)]).to_string()),
            (
                "aws_log_prefixes",
                &json!([format!("{AWS_LOGS_PREFIX}*")]).to_string(),
            ),
        ],
    );
    let aws_log_keys = render(
        "fn-ingest-aws-log-keys.json.tftpl",
        &[
            ("aws_log_key_arns", &json!([key_arn()]).to_string()),
            ("region", REGION),
        ],
    );
    let [search, alerts] = writers();
    vec![own, aws_logs, aws_log_keys, search, alerts]
}

/// fn-canary's policy as `modules/deploy` renders it: the deployment
/// group `fn-ingest` of CodeDeploy application `app`, fn-ingest's
/// versions, the canary prefix of the raw and curated buckets.
pub fn canary_policy(raw: &str, curated: &str, app: &str) -> Vec<Value> {
    vec![render(
        "fn-canary.json.tftpl",
        &[
            (
                "deployment_group_arns",
                &json!([format!(
                    "arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{app}/fn-ingest"
                )])
                .to_string(),
            ),
            (
                "ingest_function_arn",
                &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:shop-fn-ingest"),
            ),
            ("raw_bucket_arn", &s3_arn(raw)),
            ("curated_bucket_arn", &s3_arn(curated)),
            ("curated_prefix", ""),
            ("kms_key_arn", &key_arn()),
        ],
    )]
}

/// The prefix of the one `aws_log_sources` entry fn-ingest's test policy
/// has: a CloudTrail trail's.
pub const AWS_LOGS_PREFIX: &str = "AWSLogs/123456789012/CloudTrail/";

/// The bucket of that entry, beside a test's raw bucket (tests that read
/// from it create it).
pub fn aws_logs_bucket(raw: &str) -> String {
    format!("{raw}-awslogs")
}

/// fn-stream's policy as `modules/stream` and `modules/lambda` render it.
pub fn stream_policy(stream: &str, delivery: &str, curated: &str, failures: &str) -> Vec<Value> {
    let own = render(
        "fn-stream.json.tftpl",
        &[
            ("stream_arn", &stream_arn(stream)),
            ("firehose_arn", &firehose_arn(delivery)),
            ("curated_bucket_arn", &s3_arn(curated)),
            ("failure_queue_arn", &sqs_arn(failures)),
            ("kms_key_arn", &key_arn()),
        ],
    );
    let [search, alerts] = writers();
    vec![own, search, alerts]
}

/// fn-collect's policy as `modules/collect` renders it: put on (and
/// describe) its stream.
pub fn collect_policy(stream: &str) -> Vec<Value> {
    vec![render(
        "fn-collect.json.tftpl",
        &[
            ("stream_arn", &stream_arn(stream)),
            ("stream_key_arn", &key_arn()),
        ],
    )]
}

/// fn-alerts's policy as `modules/alerts` renders it, with `curated` the
/// bucket its hourly summary goes to.
pub fn alerts_policy(windows: &str, state: &str, topic_arn: &str, curated: &str) -> Vec<Value> {
    vec![render(
        "fn-alerts.json.tftpl",
        &[
            ("windows_table_arn", &table_arn(windows)),
            ("state_table_arn", &table_arn(state)),
            ("topic_arn", topic_arn),
            ("curated_bucket_arn", &s3_arn(curated)),
            ("rules_object_arn", &rules_object_arn(curated)),
            ("kms_key_arn", &key_arn()),
        ],
    )]
}

/// The alert rules object Terraform uploads into the curated bucket
/// (`modules/alerts`): `ALERT_RULES_URI`.
pub const RULES_KEY: &str = "_config/alerts.toml";

/// ARN of the rules object in `curated` (a pattern like `curated-*` too).
pub fn rules_object_arn(curated: &str) -> String {
    format!("{}/{RULES_KEY}", s3_arn(curated))
}
