//! The fault-injecting proxy (`tests/chaos_proxy.py`) for Rust tests: put in
//! front of the local AWS, it answers a share of S3, SQS, Kinesis, Firehose
//! and DynamoDB calls with throttling, 500s, resets, lost answers (the call
//! took effect, the answer never came) and slow answers. Started per test on
//! a free loopback port, stopped on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use serde_json::Value;

use crate::opensearch::{python, repo_root};

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    addr: String,
}

impl Proxy {
    /// Start a proxy to `upstream` faulting a share `rate` of the calls,
    /// the dice seeded with `seed`.
    pub fn start(upstream: &str, rate: f64, seed: u64) -> Proxy {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/chaos_proxy.py"))
            .args(["--upstream", upstream, "--port", "0", "--exit-on-stdin-eof"])
            .args(["--rate", &rate.to_string(), "--seed", &seed.to_string()])
            .args(["--slow", "0.5"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start tests/chaos_proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the proxy said {line:?}"))
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        Proxy { child, url, addr }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Value {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    /// Calls and faults so far: service -> {calls, throttle, error, reset,
    /// lost, slow}.
    pub fn stats(&self) -> Value {
        self.call("GET", "/__chaos/stats", "")
    }

    /// Fault a share `rate` of the calls from now on (0: none).
    pub fn set_rate(&self, rate: f64) {
        self.call("POST", "/__chaos/rate", &rate.to_string());
    }

    /// The shared configuration `aws` with every call going through the
    /// proxy. (An `AWS_ENDPOINT_URL` in the environment outranks the shared
    /// configuration's endpoint, so the proxy answers that lookup too.)
    pub fn config(&self, aws: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        aws.to_builder()
            .endpoint_url(&self.url)
            .service_config(Endpoint(self.url.clone()))
            .build()
    }
}

/// Service configuration naming one endpoint for every service.
#[derive(Debug)]
pub(crate) struct Endpoint(pub(crate) String);

impl LoadServiceConfig for Endpoint {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        (key.env().starts_with("AWS_ENDPOINT_URL") || key.profile() == "endpoint_url")
            .then(|| self.0.clone())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Closing its stdin stops it; kill in case it hangs.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
