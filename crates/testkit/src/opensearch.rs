//! The strict OpenSearch test server (`tests/opensearch_mock.py`) for Rust
//! tests: started per test on a free loopback port, stopped on drop (and
//! when the test process dies, through its stdin).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running test server.
#[derive(Debug)]
pub struct Mock {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    addr: String,
}

pub(crate) fn repo_root() -> PathBuf {
    let mut p = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !p.join("tests/opensearch_mock.py").exists() {
        assert!(
            p.pop(),
            "tests/opensearch_mock.py not found above the crate"
        );
    }
    p
}

/// The Python with botocore: `LOGLAKE_PYTHON`, else the project's venv.
pub(crate) fn python() -> PathBuf {
    if let Ok(p) = std::env::var("LOGLAKE_PYTHON") {
        return p.into();
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the OpenSearch test server needs the project's Python: run `make test` (or set LOGLAKE_PYTHON)"
    );
    venv
}

impl Mock {
    /// Start a server; `args` e.g. `["--sigv4", "AK:SK:us-east-1:es"]`.
    pub fn start(args: &[&str]) -> Mock {
        let root = repo_root();
        let mut child = Command::new(python())
            .arg(root.join("tests/opensearch_mock.py"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start tests/opensearch_mock.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the test server said {line:?}"))
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        Mock { child, url, addr }
    }

    /// One plain request (no auth); the status and the body as JSON (or
    /// `Null` when the body is empty or not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let text = String::from_utf8_lossy(&resp);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// Replace the injected faults (see tests/opensearch_mock.py).
    pub fn faults(&self, faults: Value) {
        let (st, _) = self.call("POST", "/_mock/faults", Some(&faults));
        assert_eq!(st, 200);
    }

    pub fn stats(&self) -> Value {
        self.call("GET", "/_mock/stats", None).1
    }

    /// Documents in the indices matching `pattern`.
    pub fn count(&self, pattern: &str) -> u64 {
        let (st, v) = self.call("GET", &format!("/{pattern}/_count"), None);
        assert_eq!(st, 200, "{v}");
        v["count"].as_u64().unwrap()
    }

    /// Up to `size` documents matching a query, as `_source`s.
    pub fn search(&self, pattern: &str, query: Value, size: usize) -> Vec<Value> {
        let body = serde_json::json!({ "query": query, "size": size });
        let (st, v) = self.call("POST", &format!("/{pattern}/_search"), Some(&body));
        assert_eq!(st, 200, "{v}");
        v["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_source"].clone())
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
