//! The HTTP collector's decisions, shared by fn-collect (API Gateway HTTP
//! API or a function URL) and `loglake serve`: `POST /v1/events` validates
//! each event, names it, hands the batch to an [`EventSink`] (a Kinesis
//! stream, or the local lake) and answers 202 only once the sink took all
//! of it; `GET /healthz` reports the sink's health from a cached check.
//!
//! Statuses: 202 (some or all events accepted), 400 (not JSON, no events,
//! none valid, a bad `Idempotency-Key`), 404, 405, 413 (over the body
//! limit, compressed or decoded), 415 (content type or encoding), 503 with
//! `Retry-After` (the sink refused after its retries: nothing may be
//! assumed kept, the client retries with the same key).

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use loglake_core::redact::RedactOptions;
use serde_json::json;

pub mod body;
pub mod event;

pub use event::{Accepted, Received, RequestKey};

use crate::effects::EventSink;

/// The route events are POSTed to.
pub const EVENTS_PATH: &str = "/v1/events";
/// The health check.
pub const HEALTH_PATH: &str = "/healthz";
/// The largest event once normalized: a Kinesis record holds at most 1 MiB
/// with its partition key.
pub const MAX_EVENT_BYTES: usize = 1_000_000;

/// Browser origins allowed to POST events (CORS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origins {
    /// No CORS headers: browsers on other origins cannot send.
    #[default]
    None,
    /// `*`: any origin.
    Any,
    List(Vec<String>),
}

impl Origins {
    /// `*`, or origins separated by commas (`https://shop.example`).
    pub fn parse(s: &str) -> Result<Origins, String> {
        let list: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect();
        if list.iter().any(|o| o == "*") {
            return Ok(Origins::Any);
        }
        if let Some(bad) = list
            .iter()
            .find(|o| !(o.starts_with("https://") || o.starts_with("http://")))
        {
            return Err(format!(
                "{bad:?} is not an origin: write scheme://host[:port], or *"
            ));
        }
        Ok(if list.is_empty() {
            Origins::None
        } else {
            Origins::List(list)
        })
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::None => false,
            Origins::Any => true,
            Origins::List(l) => l.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// How the collector answers.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// The largest body, compressed or decoded (default 1 MiB).
    pub max_body_bytes: usize,
    /// The lake `service` of collected events.
    pub service: String,
    /// The region that collects (every row's `region`).
    pub region: Option<String>,
    pub origins: Origins,
    pub redact: RedactOptions,
    /// What a 503 tells the client to wait, in seconds.
    pub retry_after_s: u32,
    /// How long a health check's answer is reused.
    pub health_ttl: Duration,
}

impl Default for CollectSettings {
    fn default() -> Self {
        CollectSettings {
            max_body_bytes: 1 << 20,
            service: "events".into(),
            region: None,
            origins: Origins::None,
            redact: RedactOptions::default(),
            retry_after_s: 1,
            health_ttl: Duration::from_secs(10),
        }
    }
}

/// What one request did, for the caller's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    pub accepted: u64,
    pub rejected: u64,
    /// Events of a retried request that were already accepted.
    pub duplicates: u64,
    /// Events the sink refused (a 503).
    pub refused: u64,
}

/// Totals since start, for `/healthz`.
#[derive(Debug, Default)]
struct Totals {
    accepted: AtomicU64,
    rejected: AtomicU64,
    refused: AtomicU64,
}

/// The collector: one per process, shared by every request.
pub struct Collector {
    sink: Arc<dyn EventSink>,
    settings: CollectSettings,
    started: Instant,
    totals: Totals,
    health: Mutex<Option<(Instant, Result<(), String>)>>,
    recent: Mutex<Recent>,
    ids: RandomState,
    requests: AtomicU64,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("sink", &self.sink.name())
            .field("settings", &self.settings)
            .finish()
    }
}

fn reply(status: u16, body: serde_json::Value) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: u16, message: impl Into<String>) -> Response<Bytes> {
    reply(status, json!({ "error": message.into() }))
}

fn header_str(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Collector {
    pub fn new(sink: Arc<dyn EventSink>, settings: CollectSettings) -> Self {
        Collector {
            sink,
            settings,
            started: Instant::now(),
            totals: Totals::default(),
            health: Mutex::new(None),
            recent: Mutex::new(Recent::new(1 << 18)),
            ids: RandomState::new(),
            requests: AtomicU64::new(0),
        }
    }

    pub fn settings(&self) -> &CollectSettings {
        &self.settings
    }

    /// Answer one request. `client_ip` is the caller's address as the
    /// front door saw it (API Gateway's `sourceIp`, the socket's peer).
    pub async fn handle(
        &self,
        req: http::Request<Bytes>,
        client_ip: Option<&str>,
        received_ms: i64,
    ) -> (Response<Bytes>, Outcome) {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        let (mut resp, outcome) = match (path, &parts.method) {
            (EVENTS_PATH, &Method::POST) => {
                self.events(&parts.headers, &body, client_ip, received_ms)
                    .await
            }
            (EVENTS_PATH, &Method::OPTIONS) => (self.preflight(&parts.headers), Outcome::default()),
            (HEALTH_PATH, &Method::GET | &Method::HEAD) => {
                (self.healthz().await, Outcome::default())
            }
            (EVENTS_PATH | HEALTH_PATH, _) => {
                let allow = if path == EVENTS_PATH {
                    "POST, OPTIONS"
                } else {
                    "GET, HEAD"
                };
                let mut r = error(405, format!("{} is not allowed on {path}", parts.method));
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                (r, Outcome::default())
            }
            _ => (
                error(
                    404,
                    format!("no route {path}: POST events to {EVENTS_PATH}"),
                ),
                Outcome::default(),
            ),
        };
        self.cors(&parts.headers, resp.headers_mut());
        let status = resp.status().as_u16();
        (resp, Outcome { status, ..outcome })
    }

    async fn events(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        client_ip: Option<&str>,
        received_ms: i64,
    ) -> (Response<Bytes>, Outcome) {
        let limit = self.settings.max_body_bytes;
        let items = match body::layout(header_str(headers, header::CONTENT_TYPE))
            .and_then(|l| {
                body::decode(body, header_str(headers, header::CONTENT_ENCODING), limit)
                    .map(|b| (l, b))
            })
            .and_then(|(l, b)| body::split(&b, l))
        {
            Ok(items) => items,
            Err(e) => return (error(e.status(), e.message()), Outcome::default()),
        };
        let key = match header_str(headers, "idempotency-key").map(str::trim) {
            Some(k) if valid_key(k) => RequestKey::Client(k),
            Some(_) => {
                return (
                    error(
                        400,
                        format!(
                            "Idempotency-Key must be 1 to {} visible ASCII characters",
                            event::MAX_ID_BYTES
                        ),
                    ),
                    Outcome::default(),
                );
            }
            None => RequestKey::Generated(self.random_key()),
        };
        let rx = Received {
            at_ms: received_ms,
            service: &self.settings.service,
            region: self.settings.region.as_deref(),
            client_ip,
            user_agent: header_str(headers, header::USER_AGENT),
            key,
            redact: self.settings.redact,
        };
        let mut accepted = Vec::with_capacity(items.len());
        let mut rejected = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|v| event::accept(v, i, &rx))
            {
                Ok(a) if a.line.len() > MAX_EVENT_BYTES => rejected.push(json!({
                    "index": i,
                    "reason": format!("the event is larger than {MAX_EVENT_BYTES} bytes"),
                })),
                Ok(a) => accepted.push(a),
                Err(reason) => rejected.push(json!({ "index": i, "reason": reason })),
            }
        }
        let mut outcome = Outcome {
            rejected: rejected.len() as u64,
            ..Outcome::default()
        };
        self.totals
            .rejected
            .fetch_add(outcome.rejected, Ordering::Relaxed);
        if accepted.is_empty() {
            return (
                reply(400, json!({ "accepted": 0, "rejected": rejected })),
                outcome,
            );
        }
        // A retry of a request (same key) or of an event (same event_id)
        // this collector already handed to its sink: not sent again.
        let named = !matches!(key, RequestKey::Generated(_))
            || items
                .iter()
                .any(|v| matches!(v, Ok(o) if o.get("event_id").is_some()));
        let total = accepted.len() as u64;
        let fresh: Vec<Accepted> = if named {
            let seen = self.recent.lock().map(|r| r.filter(&self.ids, &accepted));
            match seen {
                Ok(fresh) => accepted
                    .into_iter()
                    .zip(fresh)
                    .filter(|(_, f)| *f)
                    .map(|(a, _)| a)
                    .collect(),
                Err(_) => accepted,
            }
        } else {
            accepted
        };
        outcome.duplicates = total - fresh.len() as u64;
        if !fresh.is_empty() {
            if let Err(e) = self.sink.put(&fresh).await {
                outcome.refused = fresh.len() as u64;
                self.totals
                    .refused
                    .fetch_add(outcome.refused, Ordering::Relaxed);
                self.note_health(Err(e.clone()));
                tracing::error!(error = %e, events = fresh.len(), "the sink refused a batch; answered 503");
                let mut r = reply(
                    503,
                    json!({
                        "error": format!("events not accepted, retry later: {e}"),
                        "accepted": 0,
                        "rejected": rejected,
                    }),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(self.settings.retry_after_s),
                );
                return (r, outcome);
            }
            self.note_health(Ok(()));
            if named && let Ok(mut r) = self.recent.lock() {
                r.remember(&self.ids, &fresh);
            }
        }
        outcome.accepted = total;
        self.totals.accepted.fetch_add(total, Ordering::Relaxed);
        let mut body = json!({ "accepted": total, "rejected": rejected });
        if outcome.duplicates > 0 {
            body["duplicates"] = json!(outcome.duplicates);
        }
        (reply(202, body), outcome)
    }

    fn random_key(&self) -> u128 {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let hi = self.ids.hash_one((n, crate::now_ms()));
        let lo = RandomState::new().hash_one(n);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    fn note_health(&self, r: Result<(), String>) {
        if let Ok(mut h) = self.health.lock() {
            *h = Some((Instant::now(), r));
        }
    }

    /// The sink's health, checked at most once per `health_ttl` (a request
    /// the sink answered counts as a check).
    async fn sink_health(&self) -> Result<(), String> {
        let cached = self.health.lock().ok().and_then(|h| {
            h.as_ref()
                .filter(|(at, _)| at.elapsed() < self.settings.health_ttl)
                .map(|(_, r)| r.clone())
        });
        if let Some(r) = cached {
            return r;
        }
        let r = self.sink.check().await;
        self.note_health(r.clone());
        r
    }

    async fn healthz(&self) -> Response<Bytes> {
        let health = self.sink_health().await;
        let mut body = json!({
            "status": if health.is_ok() { "ok" } else { "unavailable" },
            "sink": self.sink.name(),
            "uptime_s": self.started.elapsed().as_secs(),
            "accepted": self.totals.accepted.load(Ordering::Relaxed),
            "rejected": self.totals.rejected.load(Ordering::Relaxed),
            "refused": self.totals.refused.load(Ordering::Relaxed),
        });
        if let Err(e) = &health {
            body["error"] = json!(e);
        }
        if let Some(extra) = self.sink.stats() {
            body["sink_stats"] = extra;
        }
        reply(if health.is_ok() { 200 } else { 503 }, body)
    }

    fn preflight(&self, req: &HeaderMap) -> Response<Bytes> {
        let mut r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let allowed =
            header_str(req, header::ORIGIN).is_some_and(|o| self.settings.origins.allows(o));
        if allowed {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, GET, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "content-type, content-encoding, idempotency-key, authorization",
                ),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
        r
    }

    fn cors(&self, req: &HeaderMap, out: &mut HeaderMap) {
        let Some(origin) = header_str(req, header::ORIGIN) else {
            return;
        };
        if !self.settings.origins.allows(origin) {
            return;
        }
        let value = match self.settings.origins {
            Origins::Any => HeaderValue::from_static("*"),
            _ => match HeaderValue::from_str(origin) {
                Ok(v) => v,
                Err(_) => return,
            },
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        out.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= event::MAX_ID_BYTES && k.bytes().all(|b| b.is_ascii_graphic())
}

/// The event ids this collector handed to its sink recently, so a client's
/// retry is not sent twice: two generations of hashes, the older dropped
/// when the newer fills (bounded memory: 2 x `cap` x 8 bytes).
#[derive(Debug)]
struct Recent {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    cap: usize,
}

impl Recent {
    fn new(cap: usize) -> Self {
        Recent {
            current: HashSet::new(),
            previous: HashSet::new(),
            cap,
        }
    }

    /// Per event: true when it was not seen.
    fn filter(&self, ids: &RandomState, events: &[Accepted]) -> Vec<bool> {
        events
            .iter()
            .map(|e| {
                let h = ids.hash_one(&e.event_id);
                !self.current.contains(&h) && !self.previous.contains(&h)
            })
            .collect()
    }

    fn remember(&mut self, ids: &RandomState, events: &[Accepted]) {
        for e in events {
            if self.current.len() >= self.cap {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(ids.hash_one(&e.event_id));
        }
    }
}

#[cfg(test)]
mod tests;
