//! `loglake serve`: the HTTP collector of fn-collect (the same handler,
//! [`loglake_handlers::collect`]) as a local server, for development and for
//! running outside Lambda (a container): events go to a Kinesis stream
//! (`--stream`, as fn-collect puts them) or straight into a local lake
//! (`--lake`, micro-batches; see [`lake`]). SIGTERM or ctrl-c stops taking
//! connections, answers the requests in flight and writes the last batch
//! before the process exits.

pub mod lake;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use loglake_core::IngestOptions;
use loglake_handlers::collect::{CollectSettings, Collector, Origins};
use loglake_handlers::effects::EventSink;
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port, printed at start)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Put events on this Kinesis stream, as fn-collect does
    #[arg(long, conflicts_with = "lake", required_unless_present = "lake")]
    stream: Option<String>,
    /// Write events into this local lake, in micro-batches
    #[arg(long)]
    lake: Option<PathBuf>,
    /// Cut a batch after this many seconds (--lake)
    #[arg(long, default_value_t = 1.0)]
    batch_seconds: f64,
    /// ... or as soon as this many events wait (--lake)
    #[arg(long, default_value_t = 50_000)]
    batch_events: usize,
    /// The lake `service` of collected events
    #[arg(long, default_value = "events")]
    service: String,
    /// The region written on every row (default: AWS_REGION, if set)
    #[arg(long)]
    region: Option<String>,
    /// The largest body, compressed or decoded
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Browser origins allowed to POST (CORS): * or comma-separated origins
    #[arg(long, default_value = "")]
    allowed_origins: String,
    #[command(flatten)]
    redact: crate::args::RedactArg,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !(1024..=64 << 20).contains(&a.max_body_bytes) {
        bail!("--max-body-bytes must be from 1024 to {}", 64 << 20);
    }
    if !(a.batch_seconds > 0.0 && a.batch_seconds <= 3600.0) || a.batch_events == 0 {
        bail!("--batch-seconds must be above 0 and at most 3600, --batch-events at least 1");
    }
    let redact = a.redact.options()?;
    let settings = CollectSettings {
        max_body_bytes: a.max_body_bytes,
        service: a.service.clone(),
        region: a
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .filter(|r| !r.is_empty()),
        origins: Origins::parse(&a.allowed_origins)
            .map_err(|e| anyhow::anyhow!("--allowed-origins: {e}"))?,
        redact,
        ..CollectSettings::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    match (&a.lake, &a.stream) {
        (Some(dir), _) => {
            let opts = IngestOptions {
                redact,
                ..IngestOptions::default()
            };
            let batching = lake::Batching {
                every: Duration::from_secs_f64(a.batch_seconds),
                events: a.batch_events,
                summary_every: Duration::from_secs(5),
            };
            let (sink, batcher) = lake::LakeSink::start(dir, opts, batching)?;
            let served = rt.block_on(serve(a.listen, sink.clone(), settings));
            eprintln!("loglake serve: writing the last batch");
            sink.close(batcher);
            served?;
        }
        (None, Some(stream)) => {
            let sink = rt.block_on(async {
                let aws = loglake_aws::load_config().await;
                loglake_aws::collect::KinesisEvents::new(
                    aws_sdk_kinesis::Client::new(&aws),
                    stream.clone(),
                )
            });
            rt.block_on(serve(a.listen, Arc::new(sink), settings))?;
        }
        (None, None) => bail!("give --lake DIR or --stream NAME"),
    }
    eprintln!("loglake serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serve until SIGTERM or ctrl-c, then let the requests in flight finish.
async fn serve(
    addr: SocketAddr,
    sink: Arc<dyn EventSink>,
    settings: CollectSettings,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let limit = settings.max_body_bytes;
    let collector = Arc::new(Collector::new(sink.clone(), settings));
    eprintln!(
        "loglake serve: listening on http://{} ({})",
        listener.local_addr()?,
        sink.name()
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("loglake serve: accept: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let collector = collector.clone();
                let svc = service_fn(move |req| answer(collector.clone(), req, peer, limit));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut stop => break,
        }
    }
    drop(listener);
    eprintln!("loglake serve: stopping: no new connections; answering the requests in flight");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("loglake serve: connections still open after 30 s; closing them");
    }
    Ok(())
}

async fn answer(
    collector: Arc<Collector>,
    req: http::Request<Incoming>,
    peer: SocketAddr,
    limit: usize,
) -> Result<http::Response<Full<Bytes>>, std::convert::Infallible> {
    let received = loglake_handlers::now_ms();
    let (parts, body) = req.into_parts();
    #[expect(
        clippy::disallowed_methods,
        reason = "bounded by Limited: at most max_body_bytes"
    )]
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, msg) = if too_large {
                (413, format!("the body is larger than {limit} bytes"))
            } else {
                (400, format!("the body could not be read: {e}"))
            };
            let mut r = http::Response::new(Full::new(Bytes::from(
                serde_json::json!({ "error": msg }).to_string(),
            )));
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
            return Ok(r);
        }
    };
    let ip = peer.ip().to_string();
    let (resp, _) = collector
        .handle(http::Request::from_parts(parts, body), Some(&ip), received)
        .await;
    Ok(resp.map(Full::new))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
