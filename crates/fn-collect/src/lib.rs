//! fn-collect: events POSTed over HTTP, through an API Gateway HTTP API or
//! a Lambda function URL (both send payload format 2.0), validated, named
//! and put on the Kinesis stream fn-stream reads. This crate reads the
//! settings, builds the client once and translates the payload; what each
//! request gets is [`loglake_handlers::collect`].

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use loglake_aws::collect::KinesisEvents;
use loglake_core::redact::RedactOptions;
use loglake_handlers::collect::{CollectSettings, Collector, Origins, Outcome};
use loglake_handlers::config::{ConfigError, Vars};
use serde::{Deserialize, Serialize};

/// Settings, read once from the environment at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `STREAM_NAME`: the Kinesis data stream events are put on.
    pub stream_name: String,
    /// `EVENT_SERVICE` (default `events`), `MAX_BODY_BYTES` (default
    /// 1048576, compressed or decoded), `ALLOWED_ORIGINS` (`*` or
    /// comma-separated origins; default none), `REDACT` (default
    /// `cards,emails,secrets`); the region (every row's `region`) is
    /// Lambda's `AWS_REGION`.
    pub collect: CollectSettings,
    /// `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda: the metrics carry it.
    pub function_name: String,
}

/// The largest body API Gateway and Lambda pass (6 MB, synchronous).
pub const MAX_BODY_BYTES_LIMIT: usize = 6 << 20;

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(Vars::new(&loglake_handlers::config::env))
    }

    pub fn from_vars(vars: Vars<'_>) -> Result<Config, ConfigError> {
        Ok(Config {
            stream_name: vars.require("STREAM_NAME")?,
            collect: CollectSettings {
                max_body_bytes: vars.number(
                    "MAX_BODY_BYTES",
                    1 << 20,
                    1024..=MAX_BODY_BYTES_LIMIT,
                )?,
                service: vars.get("EVENT_SERVICE").unwrap_or_else(|| "events".into()),
                region: vars.get("AWS_REGION"),
                origins: vars
                    .parse_with("ALLOWED_ORIGINS", Origins::parse)?
                    .unwrap_or_default(),
                redact: vars
                    .parse_with("REDACT", RedactOptions::parse)?
                    .unwrap_or_default(),
                ..CollectSettings::default()
            },
            function_name: vars
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "fn-collect".into()),
        })
    }
}

/// The function: the collector over the stream, built once.
#[derive(Debug)]
pub struct App {
    pub collector: Collector,
    pub function_name: String,
}

pub fn app(aws: &aws_config::SdkConfig, config: Config) -> App {
    let sink = KinesisEvents::new(aws_sdk_kinesis::Client::new(aws), config.stream_name);
    App {
        collector: Collector::new(Arc::new(sink), config.collect),
        function_name: config.function_name,
    }
}

/// An HTTP request as API Gateway's HTTP API (payload format 2.0) and a
/// function URL deliver it; only the fields the collector reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpEvent {
    pub raw_path: String,
    /// Lower-case names; repeated headers joined by commas.
    pub headers: BTreeMap<String, String>,
    pub request_context: RequestContext,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestContext {
    pub http: HttpContext,
    pub time_epoch: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpContext {
    pub method: String,
    pub path: String,
    pub source_ip: Option<String>,
}

/// The answer, in payload format 2.0.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

/// The event as an `http` request; a body that is not valid base64 when
/// it says it is, is the caller's error.
pub fn to_request(e: &HttpEvent) -> Result<http::Request<Bytes>, String> {
    let path = if e.raw_path.is_empty() {
        e.request_context.http.path.as_str()
    } else {
        e.raw_path.as_str()
    };
    let body = match (&e.body, e.is_base64_encoded) {
        (None, _) => Bytes::new(),
        (Some(b), false) => Bytes::copy_from_slice(b.as_bytes()),
        (Some(b), true) => Bytes::from(
            B64.decode(b)
                .map_err(|err| format!("the base64 body cannot be decoded: {err}"))?,
        ),
    };
    let mut req = http::Request::builder()
        .method(e.request_context.http.method.as_str())
        .uri(if path.is_empty() { "/" } else { path });
    for (k, v) in &e.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    req.body(body)
        .map_err(|err| format!("the request cannot be read: {err}"))
}

/// Answer one invocation; never an invocation error (API Gateway would
/// turn it into a bare 500): a request that cannot be read gets 400.
pub async fn handle(app: &App, e: HttpEvent) -> HttpResponse {
    let received = e
        .request_context
        .time_epoch
        .unwrap_or_else(loglake_handlers::now_ms);
    let (resp, outcome) = match to_request(&e) {
        Ok(req) => {
            app.collector
                .handle(req, e.request_context.http.source_ip.as_deref(), received)
                .await
        }
        Err(message) => {
            let mut r = http::Response::new(Bytes::from(
                serde_json::json!({ "error": message }).to_string(),
            ));
            *r.status_mut() = http::StatusCode::BAD_REQUEST;
            (
                r,
                Outcome {
                    status: 400,
                    ..Outcome::default()
                },
            )
        }
    };
    // Rejections and refusals as metrics (what the alarms watch);
    // API Gateway counts requests and statuses itself.
    if outcome.rejected > 0 || outcome.refused > 0 {
        println!(
            "{}",
            loglake_core::metrics::emf_counts(
                &app.function_name,
                &[
                    ("EventsAccepted", outcome.accepted),
                    ("EventsRejected", outcome.rejected),
                    ("EventsRefused", outcome.refused),
                ],
                loglake_handlers::now_ms(),
            )
        );
    }
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let status_code = resp.status().as_u16();
    HttpResponse {
        status_code,
        headers,
        body: String::from_utf8_lossy(resp.body()).into_owned(),
        is_base64_encoded: false,
    }
}

#[cfg(test)]
mod tests;
