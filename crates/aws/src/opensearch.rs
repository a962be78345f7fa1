//! OpenSearch over HTTP(S): a small client on the same hyper/rustls stack
//! the AWS SDK uses, signed with the SDK's SigV4 signer for Amazon
//! OpenSearch Service (`es`) and Serverless (`aoss`), or with basic auth for
//! self-managed clusters. It is the [`BulkSend`] effect of the search sink;
//! the indexer and the session are `loglake_handlers::search`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use loglake_handlers::effects::{BoxFuture, BulkSend};
use loglake_handlers::search::{AuthKind, Reply, SearchConfig, SearchError};

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
        self.request_with_headers(method, path, body, &[]).await
    }

    /// [`request`](Self::request) with more headers (signed with the rest).
    pub async fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        headers: &[(&str, &str)],
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
        for (k, v) in headers {
            req = req.header(*k, *v);
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
            #[expect(
                clippy::disallowed_methods,
                reason = "a _bulk answer is bounded by its request (max_request_docs items); the other endpoints answer small JSON"
            )]
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

/// Where Amazon OpenSearch Service serves the OpenSearch Dashboards saved
/// objects import, on the domain's endpoint and with its auth; `overwrite`
/// replaces objects with the same type and id, so importing again is
/// harmless.
pub const DASHBOARDS_IMPORT_PATH: &str = "/_dashboards/api/saved_objects/_import?overwrite=true";

/// The multipart boundary of [`dashboards_multipart`]; a file containing it
/// is refused rather than sent broken.
const BOUNDARY: &str = "loglake-saved-objects-6b1f0c9e2d7a4e85";

/// What a saved objects import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedObjectsImport {
    /// `(type, id, title)` of every object imported, in the file's order.
    pub objects: Vec<(String, String, String)>,
    /// How many of them replaced an object that was already there.
    pub overwritten: usize,
}

/// Why a saved objects import failed.
#[derive(Debug, thiserror::Error)]
pub enum DashboardsError {
    #[error(transparent)]
    Request(#[from] SearchError),
    #[error("{0} contains the multipart boundary {BOUNDARY:?}; it cannot be sent")]
    Boundary(String),
    #[error("POST {url}: HTTP {status}: {excerpt}")]
    Status {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("POST {url}: the answer is not a saved objects import result: {excerpt}")]
    Answer { url: String, excerpt: String },
    #[error("POST {url}: not every saved object was imported: {}", .failures.join("; "))]
    Objects { url: String, failures: Vec<String> },
}

/// A `multipart/form-data` body with one part, `file`, named `filename`,
/// holding `ndjson`, as the Dashboards import API reads it; and its
/// content type. Built by hand, with a fixed boundary, so the bytes signed
/// are the bytes sent.
pub fn dashboards_multipart(
    filename: &str,
    ndjson: &[u8],
) -> Result<(Vec<u8>, String), DashboardsError> {
    if ndjson
        .windows(BOUNDARY.len())
        .any(|w| w == BOUNDARY.as_bytes())
    {
        return Err(DashboardsError::Boundary(filename.to_string()));
    }
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/ndjson\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(ndjson);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Ok((body, format!("multipart/form-data; boundary={BOUNDARY}")))
}

impl SearchClient {
    /// Import OpenSearch Dashboards saved objects (an export's NDJSON) with
    /// overwrite, into the global tenant when the domain has multi-tenancy
    /// (so every Dashboards user sees them). An error names the endpoint and
    /// says what the answer was: a status other than 2xx with an excerpt of
    /// the body, or, for `success: false`, each failed object's type, id and
    /// error type (and the references a `missing_references` lacks).
    pub async fn import_saved_objects(
        &self,
        filename: &str,
        ndjson: &[u8],
    ) -> Result<SavedObjectsImport, DashboardsError> {
        let (body, content_type) = dashboards_multipart(filename, ndjson)?;
        let reply = self
            .request_with_headers(
                "POST",
                DASHBOARDS_IMPORT_PATH,
                Some((body, &content_type)),
                &[("osd-xsrf", "true"), ("securitytenant", "global")],
            )
            .await?;
        let url = format!("{}{DASHBOARDS_IMPORT_PATH}", self.inner.base);
        import_result(&url, &reply)
    }
}

/// Read the import API's answer (see [`SearchClient::import_saved_objects`]).
pub fn import_result(url: &str, reply: &Reply) -> Result<SavedObjectsImport, DashboardsError> {
    if !reply.is_success() {
        return Err(DashboardsError::Status {
            url: url.to_string(),
            status: reply.status,
            excerpt: reply.excerpt(),
        });
    }
    let answer = || DashboardsError::Answer {
        url: url.to_string(),
        excerpt: reply.excerpt(),
    };
    let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| answer())?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    match v["success"].as_bool() {
        Some(true) => {}
        Some(false) => {
            let failures = v["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| {
                            let mut what = text(&e["error"]["type"]);
                            if let Some(refs) = e["error"]["references"].as_array() {
                                let refs: Vec<String> = refs
                                    .iter()
                                    .map(|r| format!("{} {}", text(&r["type"]), text(&r["id"])))
                                    .collect();
                                what.push_str(&format!(", missing: {}", refs.join(", ")));
                            }
                            format!("{} {} ({what})", text(&e["type"]), text(&e["id"]))
                        })
                        .collect::<Vec<_>>()
                })
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| vec![reply.excerpt()]);
            return Err(DashboardsError::Objects {
                url: url.to_string(),
                failures,
            });
        }
        None => return Err(answer()),
    }
    let results = v["successResults"].as_array().map_or(&[][..], |r| r);
    Ok(SavedObjectsImport {
        objects: results
            .iter()
            .map(|r| (text(&r["type"]), text(&r["id"]), text(&r["meta"]["title"])))
            .collect(),
        overwritten: results
            .iter()
            .filter(|r| r["overwrite"] == serde_json::Value::Bool(true))
            .count(),
    })
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

impl BulkSend for SearchClient {
    fn send_bulk(&self, body: Vec<u8>) -> BoxFuture<'_, Result<Reply, SearchError>> {
        Box::pin(self.request("POST", "/_bulk", Some((body, "application/x-ndjson"))))
    }
}

/// A client for `cfg`; SigV4 uses `aws`'s credentials and region.
pub fn search_client(
    cfg: &SearchConfig,
    aws: &aws_config::SdkConfig,
) -> Result<SearchClient, SearchError> {
    let auth = match cfg.auth {
        AuthKind::None => Auth::None,
        AuthKind::Basic => Auth::Basic {
            user: cfg.user.clone().unwrap_or_default(),
            password: cfg.password.clone().unwrap_or_default(),
        },
        AuthKind::SigV4 => Auth::SigV4 {
            service: cfg.service.clone(),
            region: aws
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| SearchError::Signing("no AWS region is set (AWS_REGION)".into()))?,
            credentials: aws
                .credentials_provider()
                .ok_or_else(|| SearchError::Signing("no AWS credentials provider".into()))?,
        },
    };
    SearchClient::new(&cfg.endpoint, auth, cfg.timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multipart_body_has_one_file_part() {
        let (body, ct) = dashboards_multipart("dashboards.ndjson", b"{\"a\":1}\n").unwrap();
        assert_eq!(ct, format!("multipart/form-data; boundary={BOUNDARY}"));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dashboards.ndjson\"\r\n\
                 Content-Type: application/ndjson\r\n\r\n{{\"a\":1}}\n\r\n--{BOUNDARY}--\r\n"
            )
        );
        let inside = format!("x{BOUNDARY}x");
        assert!(matches!(
            dashboards_multipart("f.ndjson", inside.as_bytes()),
            Err(DashboardsError::Boundary(_))
        ));
    }

    #[test]
    fn import_answers_are_read_strictly() {
        let url = "https://d.example/_dashboards/api/saved_objects/_import?overwrite=true";
        let reply = |status: u16, body: &str| Reply {
            status,
            body: Bytes::from(body.to_string()),
        };
        let ok = import_result(
            url,
            &reply(
                200,
                r#"{"successCount":2,"success":true,"successResults":[
                    {"type":"index-pattern","id":"p","meta":{"title":"logs-*","icon":"indexPatternApp"},"overwrite":true},
                    {"type":"dashboard","id":"d","meta":{"title":"D","icon":"dashboardApp"}}]}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok.objects.len(), 2);
        assert_eq!(ok.objects[1], ("dashboard".into(), "d".into(), "D".into()));
        assert_eq!(ok.overwritten, 1);

        let failed = import_result(
            url,
            &reply(
                200,
                r#"{"successCount":1,"success":false,"errors":[
                    {"id":"d","type":"dashboard","title":"D","error":{"type":"missing_references",
                     "references":[{"type":"visualization","id":"v"}]}},
                    {"id":"s","type":"search","title":"S","error":{"type":"conflict"}}]}"#,
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(failed.contains(url), "{failed}");
        assert!(
            failed.contains(
                "dashboard d (missing_references, missing: visualization v); search s (conflict)"
            ),
            "{failed}"
        );

        let status = import_result(
            url,
            &reply(
                400,
                r#"{"statusCode":400,"error":"Bad Request","message":"Request must contain a osd-xsrf header."}"#,
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(status.contains("HTTP 400") && status.contains("osd-xsrf") && status.contains(url));
        let html = import_result(url, &reply(200, "<html>login</html>"))
            .unwrap_err()
            .to_string();
        assert!(html.contains("not a saved objects import result") && html.contains("<html>"));
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
