//! OpenSearch over HTTP(S): a small client on the same hyper/rustls stack
//! the AWS SDK uses, signed with the SDK's SigV4 signer for Amazon
//! OpenSearch Service (`es`) and Serverless (`aoss`), or with basic auth for
//! self-managed clusters; and the indexer that sends core's bulk bodies.
//!
//! The indexer reads every response item by item. Documents failing with
//! `429`, `5xx` or a rejected execution are retried alone, with full-jitter
//! backoff, bounded by attempts and the caller's deadline; documents the
//! cluster refuses (mapping and parsing errors) become dead letters; a `413`
//! splits the request in two; a whole request throttled (`429`, `503`) is
//! retried after a backoff. Once a request has failed for good, the rest of
//! the source is counted as failed without being sent, so a cluster that is
//! down never holds up the lake.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use loglake_core::search::{Bulk, ItemOutcome, SearchCounts, dead_letter, parse_bulk_response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{error, warn};

use crate::put::{Backoff, jitter, seed};

/// How requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic {
        user: String,
        password: String,
    },
    /// AWS Signature Version 4 with the function's (or CLI user's)
    /// credentials; `service` is `es` or `aoss`.
    SigV4 {
        service: String,
        region: String,
        credentials: SharedCredentialsProvider,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, ****)"),
            Auth::SigV4 {
                service, region, ..
            } => write!(f, "SigV4({service}, {region})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid search endpoint {0:?}: {1}")]
    Endpoint(String, String),
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: no answer within {timeout:?}")]
    Timeout {
        method: String,
        url: String,
        timeout: Duration,
    },
    #[error("signing the request: {0}")]
    Signing(String),
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body, shortened for an error message.
    pub fn excerpt(&self) -> String {
        let s = String::from_utf8_lossy(&self.body);
        let s = s.trim();
        match s.char_indices().nth(300) {
            Some((i, _)) => format!("{}...", &s[..i]),
            None => s.to_string(),
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An OpenSearch endpoint and how to authenticate to it; cheap to clone.
#[derive(Clone)]
pub struct SearchClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// `scheme://host[:port][/path]`, no trailing slash.
    base: String,
    host: String,
    auth: Auth,
    timeout: Duration,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for SearchClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchClient")
            .field("endpoint", &self.inner.base)
            .field("auth", &self.inner.auth)
            .finish()
    }
}

impl SearchClient {
    /// `endpoint`: `https://search-....es.amazonaws.com` (or `http://` for a
    /// local cluster); a path prefix is kept, a trailing slash dropped.
    pub fn new(endpoint: &str, auth: Auth, timeout: Duration) -> Result<Self, SearchError> {
        let bad = |m: &str| SearchError::Endpoint(endpoint.to_string(), m.to_string());
        let uri: http::Uri = endpoint.trim().parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("https") | Some("http") => {}
            _ => return Err(bad("the URL must start with https:// or http://")),
        }
        let host = uri
            .authority()
            .ok_or_else(|| bad("the URL has no host"))?
            .to_string();
        if uri.query().is_some() {
            return Err(bad("the URL must not have a query"));
        }
        let base = endpoint.trim().trim_end_matches('/').to_string();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| bad(&format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(SearchClient {
            inner: Arc::new(Inner {
                base,
                host,
                auth,
                timeout,
                http,
            }),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// Send one request; `path` starts with `/` and may carry a query.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<Reply, SearchError> {
        let url = format!("{}{path}", self.inner.base);
        let (bytes, content_type) = match body {
            Some((b, ct)) => (b, Some(ct)),
            None => (Vec::new(), None),
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::HOST, &self.inner.host);
        if let Some(ct) = content_type {
            req = req.header(http::header::CONTENT_TYPE, ct);
        }
        let mut req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| SearchError::Signing(e.to_string()))?;
        self.authorize(&mut req, &bytes).await?;
        let (parts, _) = req.into_parts();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(bytes)));
        let transport = |message: String| SearchError::Transport {
            method: method.to_string(),
            url: url.clone(),
            message,
        };
        let send = async {
            let resp = self
                .inner
                .http
                .request(req)
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(error_chain(&e)))?
                .to_bytes();
            Ok(Reply { status, body })
        };
        match tokio::time::timeout(self.inner.timeout, send).await {
            Ok(r) => r,
            Err(_) => Err(SearchError::Timeout {
                method: method.to_string(),
                url,
                timeout: self.inner.timeout,
            }),
        }
    }

    async fn authorize(
        &self,
        req: &mut http::Request<Full<Bytes>>,
        body: &[u8],
    ) -> Result<(), SearchError> {
        match &self.inner.auth {
            Auth::None => Ok(()),
            Auth::Basic { user, password } => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                let v = http::HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|e| SearchError::Signing(e.to_string()))?;
                req.headers_mut().insert(http::header::AUTHORIZATION, v);
                Ok(())
            }
            Auth::SigV4 {
                service,
                region,
                credentials,
            } => {
                let creds = credentials
                    .provide_credentials()
                    .await
                    .map_err(|e| SearchError::Signing(format!("no AWS credentials: {e}")))?;
                sign(req, body, &creds, service, region, SystemTime::now())
            }
        }
    }
}

/// Sign `req` (whose body is `body`) in place: `Authorization`,
/// `X-Amz-Date`, `X-Amz-Content-Sha256` (required by `aoss`), and
/// `X-Amz-Security-Token` for temporary credentials.
pub fn sign<B>(
    req: &mut http::Request<B>,
    body: &[u8],
    creds: &aws_credential_types::Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), SearchError> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign as sigv4,
    };
    use aws_sigv4::sign::v4;
    let err = |e: &dyn std::fmt::Display| SearchError::Signing(e.to_string());
    let identity: aws_smithy_runtime_api::client::identity::Identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| err(&e))?
        .into();
    let uri = req.uri().to_string();
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| err(&e))?;
    let (instructions, _) = sigv4(signable, &params).map_err(|e| err(&e))?.into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Sending one `_bulk` body: what the indexer needs, so tests can fake it.
pub trait BulkSend: Send + Sync + 'static {
    fn send_bulk(&self, body: Vec<u8>) -> impl Future<Output = Result<Reply, SearchError>> + Send;
}

impl BulkSend for SearchClient {
    fn send_bulk(&self, body: Vec<u8>) -> impl Future<Output = Result<Reply, SearchError>> + Send {
        self.request("POST", "/_bulk", Some((body, "application/x-ndjson")))
    }
}

/// How hard the indexer tries.
#[derive(Debug, Clone, Copy)]
pub struct IndexOptions {
    /// `_bulk` requests in flight at once.
    pub concurrency: usize,
    /// Attempts per document (and per whole request) before it counts as failed.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Keep the documents that could not be indexed (in
    /// [`IndexReport::failed_letters`]), for a caller that has no retry of
    /// its own to fall back on (the stream path writes them to S3).
    pub keep_failed: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            concurrency: 2,
            max_attempts: 8,
            keep_failed: false,
            backoff: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(10),
            },
        }
    }
}

/// What indexing one source or batch came to.
#[derive(Debug, Default)]
pub struct IndexReport {
    pub counts: SearchCounts,
    /// Documents the cluster refused, as dead-letter records.
    pub dead_letters: Vec<Value>,
    /// Why documents are still not indexed, when some are not.
    pub failure: Option<String>,
    /// The documents not indexed, as dead-letter records, when
    /// [`IndexOptions::keep_failed`] asked for them.
    pub failed_letters: Vec<Value>,
}

impl IndexReport {
    fn merge(&mut self, o: IndexReport) {
        self.counts.add(&o.counts);
        self.dead_letters.extend(o.dead_letters);
        self.failed_letters.extend(o.failed_letters);
        if self.failure.is_none() {
            self.failure = o.failure;
        }
    }

    /// Every document is accounted for: indexed now or before, or a dead letter.
    pub fn complete(&self) -> bool {
        self.failure.is_none() && self.counts.failed == 0
    }

    /// Count `bulk`'s documents as not indexed, for `reason`.
    fn fail(&mut self, bulk: &Bulk, reason: String, keep: bool) {
        self.counts.failed += bulk.len() as u64;
        if keep {
            for i in 0..bulk.len() {
                self.failed_letters.push(dead_letter(
                    &bulk.items[i],
                    bulk.doc(i),
                    0,
                    "not_indexed",
                    &reason,
                ));
            }
        }
        self.failure.get_or_insert(reason);
    }
}

/// Index one bulk body: per-item retries, splits on 413, backoff on
/// throttling, bounded by `opts.max_attempts` and `deadline`.
pub async fn index_bulk<C: BulkSend>(
    client: &C,
    bulk: Bulk,
    deadline: Instant,
    opts: IndexOptions,
) -> IndexReport {
    let mut report = IndexReport::default();
    let mut rng = seed();
    // (body, attempts so far); a stack, so split halves go in order.
    let mut work: Vec<(Bulk, u32)> = vec![(bulk, 0)];
    while let Some((bulk, attempt)) = work.pop() {
        if bulk.is_empty() {
            continue;
        }
        let n = bulk.len() as u64;
        report.counts.requests += 1;
        let retry_all = match client.send_bulk(bulk.body.clone()).await {
            Err(e) => e.to_string(),
            Ok(r) if r.is_success() => match parse_bulk_response(&r.body, bulk.len()) {
                Err(e) => e,
                Ok(outcomes) => {
                    let mut again = Vec::new();
                    let mut why = String::new();
                    for (i, o) in outcomes.into_iter().enumerate() {
                        match o {
                            ItemOutcome::Indexed => report.counts.indexed += 1,
                            ItemOutcome::AlreadyIndexed => report.counts.already_indexed += 1,
                            ItemOutcome::Retry { status, reason } => {
                                why = format!("HTTP {status}: {reason}");
                                again.push(i);
                            }
                            ItemOutcome::Rejected {
                                status,
                                error_type,
                                reason,
                            } => {
                                report.counts.dead_lettered += 1;
                                report.dead_letters.push(dead_letter(
                                    &bulk.items[i],
                                    bulk.doc(i),
                                    status,
                                    &error_type,
                                    &reason,
                                ));
                            }
                        }
                    }
                    if !again.is_empty() {
                        let retry = bulk.subset(&again);
                        report.counts.retried_items += retry.len() as u64;
                        if let Some(failure) = wait(&mut rng, opts, attempt, deadline, &why).await {
                            report.fail(&retry, failure, opts.keep_failed);
                        } else {
                            work.push((retry, attempt + 1));
                        }
                    }
                    continue;
                }
            },
            Ok(r) if r.status == 413 => {
                match bulk.split() {
                    Some((a, b)) => {
                        report.counts.split_requests += 1;
                        work.push((b, attempt));
                        work.push((a, attempt));
                    }
                    None => {
                        report.counts.dead_lettered += 1;
                        report.dead_letters.push(dead_letter(
                            &bulk.items[0],
                            bulk.doc(0),
                            413,
                            "request_entity_too_large",
                            "the document alone is larger than the cluster accepts in one request",
                        ));
                    }
                }
                continue;
            }
            Ok(r) if r.status == 429 || r.status >= 500 => {
                format!("HTTP {}: {}", r.status, r.excerpt())
            }
            Ok(r) if matches!(r.status, 401 | 403 | 404) => {
                // Credentials, permissions or the endpoint: no retry here
                // helps, and nothing about the documents is wrong.
                let why = format!("HTTP {} from the cluster: {}", r.status, r.excerpt());
                report.fail(&bulk, why, opts.keep_failed);
                continue;
            }
            Ok(r) => {
                // The cluster refused the request as a whole: keep every
                // document, with the reason, rather than retry forever.
                let reason = r.excerpt();
                for i in 0..bulk.len() {
                    report.counts.dead_lettered += 1;
                    report.dead_letters.push(dead_letter(
                        &bulk.items[i],
                        bulk.doc(i),
                        r.status,
                        "request_rejected",
                        &reason,
                    ));
                }
                continue;
            }
        };
        if let Some(failure) = wait(&mut rng, opts, attempt, deadline, &retry_all).await {
            report.fail(&bulk, failure, opts.keep_failed);
        } else {
            report.counts.retried_items += n;
            work.push((bulk, attempt + 1));
        }
    }
    report
}

/// Sleep before attempt `attempt + 1`, or say why there is none.
async fn wait(
    rng: &mut u64,
    opts: IndexOptions,
    attempt: u32,
    deadline: Instant,
    why: &str,
) -> Option<String> {
    if attempt + 1 >= opts.max_attempts {
        return Some(format!("{why} (after {} attempts)", attempt + 1));
    }
    let sleep = jitter(rng, opts.backoff, attempt);
    if Instant::now() + sleep >= deadline {
        return Some(format!("{why} (out of time)"));
    }
    warn!(attempt = attempt + 1, reason = %why, "search request retried");
    tokio::time::sleep(sleep).await;
    None
}

/// Index every bulk that arrives on `bulks`, at most `opts.concurrency` at
/// once, until the sender is dropped. After the first bulk that fails for
/// good, later ones are counted as failed without being sent: the caller
/// (the lake) keeps going, and the source is retried later.
pub async fn index_all<C: BulkSend + Clone>(
    client: C,
    mut bulks: mpsc::Receiver<Bulk>,
    deadline: Instant,
    opts: IndexOptions,
) -> IndexReport {
    let mut report = IndexReport::default();
    let mut running: JoinSet<IndexReport> = JoinSet::new();
    let concurrency = opts.concurrency.max(1);
    loop {
        if running.len() >= concurrency {
            if let Some(r) = running.join_next().await {
                report.merge(joined(r));
            }
            continue;
        }
        let Some(bulk) = bulks.recv().await else {
            break;
        };
        if let Some(f) = &report.failure {
            let reason = format!("not sent after an earlier request failed: {f}");
            report.fail(&bulk, reason, opts.keep_failed);
            continue;
        }
        let c = client.clone();
        running.spawn(async move { index_bulk(&c, bulk, deadline, opts).await });
        // Collect what has finished, so a failure stops the next sends.
        while let Some(r) = running.try_join_next() {
            report.merge(joined(r));
        }
    }
    while let Some(r) = running.join_next().await {
        report.merge(joined(r));
    }
    if report.dead_letters.len() > MAX_DEAD_LETTERS {
        let over = report.dead_letters.len() - MAX_DEAD_LETTERS;
        report.dead_letters.truncate(MAX_DEAD_LETTERS);
        report.counts.dead_lettered -= over as u64;
        report.counts.failed += over as u64;
        report.failure.get_or_insert(format!(
            "the cluster refused more than {MAX_DEAD_LETTERS} documents: its mapping does not match loglake's index template (run `loglake search setup`)"
        ));
    }
    if let Some(f) = &report.failure {
        error!(failed = report.counts.failed, reason = %f, "documents not indexed");
    }
    report
}

fn joined(r: Result<IndexReport, tokio::task::JoinError>) -> IndexReport {
    r.unwrap_or_else(|e| IndexReport {
        failure: Some(format!("an indexing task failed: {e}")),
        ..IndexReport::default()
    })
}

/// Dead letters kept per source before the rest count as failed: a cluster
/// refusing this many documents has a mapping that does not match ours,
/// and holding more would risk the function's memory.
pub const MAX_DEAD_LETTERS: usize = 50_000;

/// The search sink's settings, shared by the functions (from the
/// environment) and the CLI (from flags).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    /// `SEARCH_ENDPOINT`: `https://...` of the domain or collection.
    pub endpoint: String,
    /// `SEARCH_AUTH`: `sigv4` (default), `basic` (`SEARCH_USERNAME`,
    /// `SEARCH_PASSWORD`) or `none`.
    pub auth: AuthKind,
    /// `SEARCH_SERVICE`: the SigV4 service, `es` or `aoss` (default: `aoss`
    /// for `*.aoss.amazonaws.com` endpoints, else `es`).
    pub service: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `SEARCH_INDEX_PREFIX` (default `logs-`), `SEARCH_DATA_STREAM`,
    /// `SEARCH_MIN_LEVEL`, `SEARCH_MAX_REQUEST_BYTES` (default 5 MiB).
    pub options: loglake_core::search::SearchOptions,
    /// `SEARCH_CONCURRENCY` (default 2): bulk requests in flight.
    pub concurrency: usize,
    /// `SEARCH_DLQ_PREFIX` (default `search-dlq`): refused documents, in the
    /// curated bucket (or the local lake).
    pub dead_letter_prefix: String,
    /// `SEARCH_TIMEOUT_SECS` (default 30): one request's limit.
    pub timeout: Duration,
    /// `SEARCH_MAX_ATTEMPTS` (default 8): tries per document or request.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    SigV4,
    Basic,
    None,
}

impl SearchConfig {
    /// The settings in the environment; `None` when `SEARCH_ENDPOINT` is
    /// unset or empty (search off).
    pub fn from_env() -> Result<Option<SearchConfig>, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The same, from any lookup (the CLI overlays its flags).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SearchConfig>, String> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(endpoint) = var("SEARCH_ENDPOINT") else {
            return Ok(None);
        };
        let auth = match var("SEARCH_AUTH").as_deref().unwrap_or("sigv4") {
            "sigv4" => AuthKind::SigV4,
            "basic" => AuthKind::Basic,
            "none" => AuthKind::None,
            other => {
                return Err(format!(
                    "SEARCH_AUTH: {other:?} is not sigv4, basic or none"
                ));
            }
        };
        let service = var("SEARCH_SERVICE").unwrap_or_else(|| {
            if endpoint.contains(".aoss.") {
                "aoss".into()
            } else {
                "es".into()
            }
        });
        if !matches!(service.as_str(), "es" | "aoss") {
            return Err(format!("SEARCH_SERVICE: {service:?} is not es or aoss"));
        }
        let (user, password) = (var("SEARCH_USERNAME"), var("SEARCH_PASSWORD"));
        if auth == AuthKind::Basic && (user.is_none() || password.is_none()) {
            return Err("SEARCH_AUTH=basic needs SEARCH_USERNAME and SEARCH_PASSWORD".into());
        }
        let num = |k: &str, default: usize| -> Result<usize, String> {
            match var(k) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| format!("{k}: {v:?} is not a whole number")),
            }
        };
        let mut options = loglake_core::search::SearchOptions {
            data_stream: var("SEARCH_DATA_STREAM"),
            max_request_bytes: num("SEARCH_MAX_REQUEST_BYTES", 5 << 20)?,
            ..Default::default()
        };
        if let Some(p) = var("SEARCH_INDEX_PREFIX") {
            options.index_prefix = p;
        }
        if let Some(l) = var("SEARCH_MIN_LEVEL") {
            options.min_level = Some(loglake_core::record::Level::parse(&l).ok_or_else(|| {
                format!("SEARCH_MIN_LEVEL: {l:?} is not a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)")
            })?);
        }
        options
            .validate()
            .map_err(|e| format!("search settings: {e}"))?;
        Ok(Some(SearchConfig {
            endpoint,
            auth,
            service,
            user,
            password,
            options,
            concurrency: num("SEARCH_CONCURRENCY", 2)?.max(1),
            dead_letter_prefix: var("SEARCH_DLQ_PREFIX").unwrap_or_else(|| "search-dlq".into()),
            timeout: Duration::from_secs(num("SEARCH_TIMEOUT_SECS", 30)? as u64),
            max_attempts: num("SEARCH_MAX_ATTEMPTS", 8)?.clamp(1, 100) as u32,
        }))
    }

    /// A client for these settings; SigV4 uses `aws`'s credentials and region.
    pub fn client(&self, aws: &aws_config::SdkConfig) -> Result<SearchClient, SearchError> {
        let auth = match self.auth {
            AuthKind::None => Auth::None,
            AuthKind::Basic => Auth::Basic {
                user: self.user.clone().unwrap_or_default(),
                password: self.password.clone().unwrap_or_default(),
            },
            AuthKind::SigV4 => Auth::SigV4 {
                service: self.service.clone(),
                region: aws.region().map(|r| r.to_string()).ok_or_else(|| {
                    SearchError::Signing("no AWS region is set (AWS_REGION)".into())
                })?,
                credentials: aws
                    .credentials_provider()
                    .ok_or_else(|| SearchError::Signing("no AWS credentials provider".into()))?,
            },
        };
        SearchClient::new(&self.endpoint, auth, self.timeout)
    }

    pub fn index_options(&self) -> IndexOptions {
        IndexOptions {
            concurrency: self.concurrency,
            max_attempts: self.max_attempts,
            ..IndexOptions::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers like OpenSearch from a script: per request either a whole
    /// status, or per-item statuses chosen by the document's `n`.
    #[derive(Clone, Default)]
    struct Fake {
        log: Arc<Mutex<Vec<Vec<u64>>>>,
        /// Statuses for the next requests as a whole (then 200s).
        whole: Arc<Mutex<Vec<u16>>>,
        /// `(n, status, times)`: document `n` fails with `status` that many times.
        items: Arc<Mutex<Vec<(u64, u16, u32)>>>,
        max_docs: Option<usize>,
    }

    fn ns(body: &[u8]) -> Vec<u64> {
        body.split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"{\"n\""))
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    impl BulkSend for Fake {
        fn send_bulk(
            &self,
            body: Vec<u8>,
        ) -> impl Future<Output = Result<Reply, SearchError>> + Send {
            let docs = ns(&body);
            self.log.lock().unwrap().push(docs.clone());
            let whole = {
                let mut w = self.whole.lock().unwrap();
                (!w.is_empty()).then(|| w.remove(0))
            };
            let too_big = self.max_docs.is_some_and(|m| docs.len() > m);
            let mut items = Vec::new();
            for n in &docs {
                let mut st = 201;
                for f in self.items.lock().unwrap().iter_mut() {
                    if f.0 == *n && f.2 > 0 {
                        f.2 -= 1;
                        st = f.1;
                    }
                }
                let err = match st {
                    201 => Value::Null,
                    409 => {
                        serde_json::json!({"type": "version_conflict_engine_exception", "reason": "exists"})
                    }
                    429 => {
                        serde_json::json!({"type": "es_rejected_execution_exception", "reason": "queue full"})
                    }
                    _ => {
                        serde_json::json!({"type": "mapper_parsing_exception", "reason": "failed to parse field [x]"})
                    }
                };
                items.push(serde_json::json!({"create": {"_id": n.to_string(), "status": st, "error": err}}));
            }
            async move {
                if let Some(s) = whole {
                    return Ok(Reply {
                        status: s,
                        body: Bytes::from_static(b"{\"error\":\"busy\"}"),
                    });
                }
                if too_big {
                    return Ok(Reply {
                        status: 413,
                        body: Bytes::new(),
                    });
                }
                let body = serde_json::json!({"took": 1, "errors": true, "items": items});
                Ok(Reply {
                    status: 200,
                    body: Bytes::from(body.to_string()),
                })
            }
        }
    }

    fn bulk(n: u64) -> Bulk {
        let mut b = Bulk::default();
        for i in 0..n {
            b.push(
                "logs-x",
                &format!("id{i}"),
                format!("{{\"n\":{i}}}").as_bytes(),
            );
        }
        b
    }

    fn fast() -> IndexOptions {
        IndexOptions {
            backoff: Backoff {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(2),
            },
            ..IndexOptions::default()
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn item_failures_are_retried_alone_and_rejections_kept() {
        let fake = Fake::default();
        *fake.items.lock().unwrap() = vec![(2, 429, 2), (5, 400, 1), (7, 409, 1)];
        let r = index_bulk(&fake, bulk(10), far(), fast()).await;
        let log = fake.log.lock().unwrap().clone();
        assert_eq!(log, vec![(0..10).collect::<Vec<_>>(), vec![2], vec![2]]);
        assert_eq!(r.counts.indexed, 8);
        assert_eq!(r.counts.already_indexed, 1);
        assert_eq!(r.counts.dead_lettered, 1);
        assert_eq!(r.dead_letters[0]["doc"]["n"], 5);
        assert_eq!(r.dead_letters[0]["error_type"], "mapper_parsing_exception");
        assert_eq!(r.counts.retried_items, 2);
        assert!(r.complete());
    }

    #[tokio::test]
    async fn too_large_requests_split_until_they_fit() {
        let fake = Fake {
            max_docs: Some(3),
            ..Fake::default()
        };
        let r = index_bulk(&fake, bulk(10), far(), fast()).await;
        assert_eq!(r.counts.indexed, 10);
        assert!(r.counts.split_requests >= 3);
        let sent: Vec<u64> = fake
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.len() <= 3)
            .flatten()
            .copied()
            .collect();
        assert_eq!(sent, (0..10).collect::<Vec<_>>(), "order kept, each once");
        // One document larger than the cluster accepts is a dead letter.
        let one = Fake {
            max_docs: Some(0),
            ..Fake::default()
        };
        let r = index_bulk(&one, bulk(1), far(), fast()).await;
        assert_eq!(r.counts.dead_lettered, 1);
        assert_eq!(r.dead_letters[0]["status"], 413);
    }

    #[tokio::test]
    async fn throttled_requests_back_off_then_give_up() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503, 429];
        let r = index_bulk(&fake, bulk(4), far(), fast()).await;
        assert_eq!(r.counts.indexed, 4);
        assert_eq!(fake.log.lock().unwrap().len(), 3);

        let down = Fake::default();
        *down.whole.lock().unwrap() = vec![503; 100];
        let r = index_bulk(&down, bulk(4), far(), fast()).await;
        assert_eq!(r.counts.failed, 4);
        assert_eq!(down.log.lock().unwrap().len(), 8, "max_attempts");
        assert!(r.failure.unwrap().contains("HTTP 503"));

        let denied = Fake::default();
        *denied.whole.lock().unwrap() = vec![403];
        let r = index_bulk(&denied, bulk(4), far(), fast()).await;
        assert_eq!((r.counts.failed, denied.log.lock().unwrap().len()), (4, 1));
    }

    #[tokio::test]
    async fn the_deadline_bounds_retries() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503; 100];
        let slow = IndexOptions {
            backoff: Backoff {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(5),
            },
            max_attempts: 100,
            ..IndexOptions::default()
        };
        let started = Instant::now();
        let r = index_bulk(
            &fake,
            bulk(2),
            Instant::now() + Duration::from_millis(50),
            slow,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(r.counts.failed, 2);
    }

    #[tokio::test]
    async fn a_cluster_that_is_down_stops_further_sends() {
        let fake = Fake::default();
        *fake.whole.lock().unwrap() = vec![503; 1000];
        let (tx, rx) = mpsc::channel(2);
        let opts = IndexOptions {
            concurrency: 1,
            ..fast()
        };
        let indexer = tokio::spawn(index_all(fake.clone(), rx, far(), opts));
        for _ in 0..20 {
            tx.send(bulk(5)).await.unwrap();
        }
        drop(tx);
        let r = indexer.await.unwrap();
        assert_eq!(r.counts.failed, 100);
        assert!(fake.log.lock().unwrap().len() < 20 * 8);
        assert!(!r.complete());
    }

    #[test]
    fn sigv4_matches_botocore() {
        // A fixed request, time and credentials. The expected header was
        // computed independently with botocore's SigV4Auth (the strict test
        // server in tests/ also verifies every signed request with it).
        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let body = b"{\"create\":{\"_index\":\"logs-2026.11.22\",\"_id\":\"a\"}}\n{\"n\":1}\n";
        let mut req = http::Request::builder()
            .method("POST")
            .uri("https://search-shop.us-east-1.es.amazonaws.com/_bulk")
            .header("host", "search-shop.us-east-1.es.amazonaws.com")
            .header("content-type", "application/x-ndjson")
            .body(())
            .unwrap();
        // 2026-11-22T04:00:00Z
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_320_000);
        sign(&mut req, body, &creds, "es", "us-east-1", t).unwrap();
        let h = |k: &str| req.headers()[k].to_str().unwrap().to_string();
        assert_eq!(h("x-amz-date"), "20261122T040000Z");
        assert_eq!(
            h("x-amz-content-sha256"),
            "86896575ee350838f77a7bee90900c1dd2b17f106cb6ba2a9f70117e072bc0c5"
        );
        assert_eq!(
            h("authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/es/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, \
             Signature=8cb0d7e8fe17beb9f4283efacdeaf5faf9c36b0e147cb05efcd0fc45475c10f9"
        );
    }
}
