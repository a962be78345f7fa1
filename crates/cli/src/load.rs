//! `loglake load`: a load generator for the HTTP collector (`loglake
//! serve`, fn-collect behind its API). `--concurrency` workers POST the
//! generator's clickstream events, one per request or `--batch` per
//! request, as fast as answered or at `--rate` requests per second in all
//! (then latency counts from when a request was due, not when it went out,
//! so a stalled server cannot hide its queue). Reports requests/s,
//! events/s, latency percentiles from an HDR histogram, and errors by
//! status; exits non-zero above `--max-error-rate`. With `--check-lake`, it
//! waits for the server to write what it accepted and counts this run's
//! rows in the lake, which must equal the events accepted.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::generate::Clicks;

/// The most of a collector's answer read (its JSON is a few hundred bytes).
const ANSWER_LIMIT: usize = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The collector: its base URL (http://127.0.0.1:8080) or the events URL
    #[arg(long)]
    url: String,
    /// Requests per second in all; 0: as fast as the server answers
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Requests in flight at once
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Seconds to run
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Events per request (a JSON array when above 1)
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Send bodies gzip-compressed
    #[arg(long)]
    gzip: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fail (exit 1) when more than this fraction of requests fail
    #[arg(long, default_value_t = 0.01)]
    max_error_rate: f64,
    /// After the run, count this run's rows in this lake (the server's
    /// --lake): they must equal the events accepted
    #[arg(long, value_name = "DIR")]
    check_lake: Option<PathBuf>,
    /// Seconds to wait for the server to write what it accepted
    #[arg(long, default_value_t = 120.0)]
    wait: f64,
    /// Print one JSON object instead of the human report
    #[arg(long)]
    json: bool,
}

/// What one worker saw.
struct Tally {
    latency_us: Histogram<u64>,
    requests: u64,
    events_accepted: u64,
    events_rejected: u64,
    by_status: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            requests: 0,
            events_accepted: 0,
            events_rejected: 0,
            by_status: BTreeMap::new(),
        })
    }

    fn merge(&mut self, o: &Tally) -> anyhow::Result<()> {
        self.latency_us.add(&o.latency_us)?;
        self.requests += o.requests;
        self.events_accepted += o.events_accepted;
        self.events_rejected += o.events_rejected;
        for (k, v) in &o.by_status {
            *self.by_status.entry(k.clone()).or_default() += v;
        }
        Ok(())
    }
}

fn base_and_events(url: &str) -> anyhow::Result<(String, String)> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("http://") {
        bail!("--url must be an http:// URL (the load generator speaks plain HTTP/1.1)");
    }
    Ok(match url.strip_suffix("/v1/events") {
        Some(base) => (base.to_string(), url.to_string()),
        None => (url.to_string(), format!("{url}/v1/events")),
    })
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if a.concurrency == 0
        || a.batch == 0
        || a.duration.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        bail!("--concurrency, --batch and --duration must be above 0");
    }
    let (base, events_url) = base_and_events(&a.url)?;
    let run_id = format!("load-{}-{}", loglake_handlers::now_ms(), std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(a.duration);
    let interval =
        (a.rate > 0).then(|| Duration::from_secs_f64(a.concurrency as f64 / a.rate as f64));
    let tallies = rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..a.concurrency {
            let client = client.clone();
            let url = events_url.clone();
            let run = run_id.clone();
            let (batch, gzip, seed) = (a.batch, a.gzip, a.seed.wrapping_add(w as u64));
            tasks.push(tokio::spawn(async move {
                worker(client, url, run, w, batch, gzip, seed, until, interval).await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.context("a worker failed")??);
        }
        Ok::<_, anyhow::Error>(out)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut total = Tally::new()?;
    for t in &tallies {
        total.merge(t)?;
    }
    let failed: u64 = total
        .by_status
        .iter()
        .filter(|(s, _)| s.as_str() != "202")
        .map(|(_, n)| n)
        .sum();
    let error_rate = failed as f64 / total.requests.max(1) as f64;
    let q = |p: f64| total.latency_us.value_at_quantile(p) as f64 / 1000.0;
    let mut report = json!({
        "url": events_url,
        "run": run_id,
        "concurrency": a.concurrency,
        "batch": a.batch,
        "duration_s": elapsed,
        "requests": total.requests,
        "requests_per_s": total.requests as f64 / elapsed,
        "events_accepted": total.events_accepted,
        "events_rejected": total.events_rejected,
        "events_per_s": total.events_accepted as f64 / elapsed,
        "latency_ms": {"p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": total.latency_us.max() as f64 / 1000.0},
        "by_status": total.by_status,
        "error_rate": error_rate,
    });
    let mut ok = error_rate <= a.max_error_rate;
    if let Some(lake) = &a.check_lake {
        let health = rt.block_on(wait_written(
            &client,
            &base,
            Duration::from_secs_f64(a.wait),
        ))?;
        let rows = count_rows(lake, &run_id)?;
        report["lake_rows"] = json!(rows);
        report["freshness_ms"] = json!({
            "p50": health["sink_stats"]["freshness_p50_ms"],
            "p95": health["sink_stats"]["freshness_p95_ms"],
        });
        if rows != total.events_accepted {
            ok = false;
            report["lake_check"] = json!(format!(
                "{rows} rows of this run in the lake, {} events accepted",
                total.events_accepted
            ));
        } else {
            report["lake_check"] = json!("every accepted event is a row");
        }
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report)?;
    }
    if !ok {
        eprintln!(
            "loglake load: failed: error rate {:.4} (limit {}){}",
            error_rate,
            a.max_error_rate,
            report
                .get("lake_check")
                .map(|c| format!("; {c}"))
                .unwrap_or_default()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
    run: String,
    w: usize,
    batch: usize,
    gzip: bool,
    seed: u64,
    until: Instant,
    interval: Option<Duration>,
) -> anyhow::Result<Tally> {
    let mut clicks = Clicks::new(seed);
    let mut tally = Tally::new()?;
    let mut body = Vec::with_capacity(batch * 400);
    // Workers start spread over one interval, not all at once.
    let mut due =
        Instant::now() + interval.map_or(Duration::ZERO, |i| i.mul_f64((w % 64) as f64 / 64.0));
    let mut n = 0u64;
    while Instant::now() < until {
        if interval.is_some() {
            tokio::time::sleep_until(due.into()).await;
        } else {
            due = Instant::now();
        }
        body.clear();
        let now = loglake_handlers::now_ms();
        if batch > 1 {
            body.push(b'[');
        }
        for k in 0..batch {
            if k > 0 {
                body.push(b',');
            }
            clicks.next(now, &run, &mut body);
        }
        if batch > 1 {
            body.push(b']');
        }
        let payload = if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&body)?;
            gz.finish()?
        } else {
            body.clone()
        };
        let mut req = http::Request::post(url.as_str())
            .header("content-type", "application/json")
            .header("idempotency-key", format!("{run}-{w}-{n}"));
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        let req = req.body(Full::new(Bytes::from(payload)))?;
        n += 1;
        let status = match client.request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                #[expect(
                    clippy::disallowed_methods,
                    reason = "bounded by Limited: a collector's answer is small JSON"
                )]
                let bytes = Limited::new(resp.into_body(), ANSWER_LIMIT)
                    .collect()
                    .await
                    .map(|b| b.to_bytes());
                if let (202, Ok(b)) = (status, &bytes)
                    && let Ok(v) = serde_json::from_slice::<Value>(b)
                {
                    tally.events_accepted += v["accepted"].as_u64().unwrap_or(0);
                    tally.events_rejected += v["rejected"].as_array().map_or(0, |r| r.len() as u64);
                }
                status.to_string()
            }
            Err(e) => {
                let kind = if e.is_connect() { "connect" } else { "io" };
                format!("error:{kind}")
            }
        };
        let us = due.elapsed().as_micros().max(1) as u64;
        tally.latency_us.saturating_record(us);
        tally.requests += 1;
        *tally.by_status.entry(status).or_default() += 1;
        if let Some(i) = interval {
            due += i;
        }
    }
    Ok(tally)
}

/// Wait until the server's `/healthz` says nothing is pending.
async fn wait_written(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    limit: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let req = http::Request::get(format!("{base}/healthz")).body(Full::new(Bytes::new()))?;
        let resp = client.request(req).await.context("GET /healthz")?;
        #[expect(
            clippy::disallowed_methods,
            reason = "bounded by Limited: /healthz answers small JSON"
        )]
        let body = Limited::new(resp.into_body(), ANSWER_LIMIT)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("GET /healthz: {e}"))?
            .to_bytes();
        let v: Value = serde_json::from_slice(&body).context("/healthz is not JSON")?;
        let pending = v["sink_stats"]["pending"].as_u64();
        match pending {
            None => bail!(
                "the server's /healthz has no sink_stats.pending: is it `loglake serve --lake`?"
            ),
            Some(0) => return Ok(v),
            Some(_) if Instant::now() > deadline => {
                bail!("events still pending after {} s: {v}", limit.as_secs())
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Rows of the lake with `attributes.load_run = run`.
fn count_rows(lake: &std::path::Path, run: &str) -> anyhow::Result<u64> {
    let files = loglake_core::ingest::scan::lake_files(lake, i64::MIN + 1, i64::MAX)?;
    let mut n = 0u64;
    for f in files {
        loglake_core::ingest::scan::scan_columns(
            &f,
            i64::MIN,
            i64::MAX,
            &["ts", "attributes"],
            &mut |rec, _| {
                if rec
                    .attributes
                    .iter()
                    .any(|(k, v)| k == "load_run" && v == run)
                {
                    n += 1;
                }
            },
        )?;
    }
    Ok(n)
}

fn print_report(out: &mut impl std::io::Write, r: &Value) -> std::io::Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    writeln!(
        out,
        "{} requests in {:.1} s ({} at a time, {} event(s) each): {:.0} requests/s, {:.0} events/s",
        r["requests"],
        f(&r["duration_s"]),
        r["concurrency"],
        r["batch"],
        f(&r["requests_per_s"]),
        f(&r["events_per_s"])
    )?;
    let l = &r["latency_ms"];
    writeln!(
        out,
        "latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        f(&l["p50"]),
        f(&l["p95"]),
        f(&l["p99"]),
        f(&l["max"])
    )?;
    writeln!(
        out,
        "events accepted {}, rejected {}; by status {}; error rate {:.4}",
        r["events_accepted"],
        r["events_rejected"],
        r["by_status"],
        f(&r["error_rate"])
    )?;
    if let Some(rows) = r.get("lake_rows") {
        let fr = &r["freshness_ms"];
        writeln!(
            out,
            "lake: {rows} rows of this run ({}); event to row p50 {:.0} ms, p95 {:.0} ms",
            r["lake_check"].as_str().unwrap_or(""),
            f(&fr["p50"]),
            f(&fr["p95"])
        )?;
    }
    Ok(())
}
