//! `loglake replay`: the producer. Sends a log file, or generated logs on the
//! fly, to a Kinesis stream (one line per record) or straight to a Firehose
//! delivery stream, at a target rate or as fast as the stream takes them.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use loglake_aws::put::{Firehose, Kinesis};
use loglake_core::sinks::forward::{
    FIREHOSE_MAX_BATCH_BYTES, FIREHOSE_MAX_BATCH_RECORDS, FIREHOSE_MAX_RECORD,
};
use loglake_handlers::effects::Forwarder;
use loglake_handlers::forward::{PutStats, put_all};
use loglake_handlers::retry::Backoff;

use crate::generate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log file to send (plain, gzip or zstd); omit with --generate
    input: Option<PathBuf>,
    /// Send this many generated e-commerce log lines instead of a file
    #[arg(long, conflicts_with = "input")]
    generate: Option<u64>,
    /// With --generate: the generator's seed
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Kinesis data stream to put records on
    #[arg(
        long,
        required_unless_present = "firehose",
        conflicts_with = "firehose"
    )]
    stream: Option<String>,
    /// Firehose delivery stream to put records on directly
    #[arg(long)]
    firehose: Option<String>,
    /// Target lines per second (default: as fast as possible)
    #[arg(long)]
    rate: Option<f64>,
    /// Never draw a progress bar
    #[arg(long)]
    no_progress: bool,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

/// What a replay did.
#[derive(Debug, Default, serde::Serialize)]
struct ReplaySummary {
    sent: u64,
    retried: u64,
    failed: u64,
    calls: u64,
    skipped_oversized: u64,
    seconds: f64,
    lines_per_s: f64,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(r) = a.rate
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate must be a positive number of lines per second");
    }
    let input: Box<dyn Read + Send> = match (&a.input, a.generate) {
        (Some(p), _) => {
            let f =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            loglake_core::ingest::input::decode(f)
                .with_context(|| format!("cannot read {}", p.display()))?
                .1
        }
        (None, Some(n)) => {
            // Generated on the fly through a pipe: constant memory for any N.
            let (reader, mut writer) = io::pipe()?;
            let opts = generate::GenOptions {
                lines: Some(n),
                seed: a.seed,
                ..Default::default()
            };
            std::thread::spawn(move || generate::generate(&opts, &mut writer));
            Box::new(reader)
        }
        (None, None) => bail!("give a file to replay, or --generate N"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let summary = rt.block_on(async {
        let aws = loglake_aws::load_config().await;
        match (&a.stream, &a.firehose) {
            (Some(s), _) => {
                let sink = Kinesis {
                    client: aws_sdk_kinesis::Client::new(&aws),
                    stream: s.clone(),
                    partition_prefix: "",
                };
                send(&sink, input, &a, 1 << 20).await
            }
            (None, Some(f)) => {
                let sink = Firehose {
                    client: aws_sdk_firehose::Client::new(&aws),
                    stream: f.clone(),
                };
                send(&sink, input, &a, FIREHOSE_MAX_RECORD).await
            }
            (None, None) => bail!("give --stream or --firehose"),
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "sent {} lines in {:.1} s ({:.0} lines/s) in {} calls; retried {}, failed {}{}",
            summary.sent,
            summary.seconds,
            summary.lines_per_s,
            summary.calls,
            summary.retried,
            summary.failed,
            if summary.skipped_oversized > 0 {
                format!(
                    ", {} lines over the record size skipped",
                    summary.skipped_oversized
                )
            } else {
                String::new()
            }
        );
    }
    Ok(if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn send(
    sink: &dyn Forwarder,
    input: Box<dyn Read + Send>,
    a: &Args,
    max_record: usize,
) -> anyhow::Result<ReplaySummary> {
    let progress =
        (!a.no_progress && !a.json && io::IsTerminal::is_terminal(&io::stderr())).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {pos} lines sent, {per_sec}, {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
    let mut s = ReplaySummary::default();
    let started = Instant::now();
    let mut lines = BufReader::with_capacity(1 << 20, input);
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0;
    let mut line = Vec::new();
    // At a target rate, send in small steps rather than 500-record bursts.
    let max_batch = a.rate.map_or(FIREHOSE_MAX_BATCH_RECORDS, |r| {
        ((r / 4.0) as usize).clamp(1, FIREHOSE_MAX_BATCH_RECORDS)
    });
    loop {
        line.clear();
        let n = lines.read_until(b'\n', &mut line)?;
        let eof = n == 0;
        if !eof {
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if line.len() > max_record {
                s.skipped_oversized += 1;
                continue;
            }
            bytes += line.len();
            batch.push(line.clone());
        }
        let full =
            batch.len() >= max_batch || bytes + max_record.min(1 << 16) > FIREHOSE_MAX_BATCH_BYTES;
        if (full || eof) && !batch.is_empty() {
            let deadline = Instant::now() + Duration::from_secs(120);
            match put_all(sink, &batch, deadline, Backoff::default()).await {
                Ok(PutStats { calls, retried }) => {
                    s.calls += calls;
                    s.retried += retried;
                    s.sent += batch.len() as u64;
                }
                Err(e) => {
                    s.failed += e.failed as u64;
                    s.sent += (batch.len() - e.failed) as u64;
                    eprintln!("loglake: warning: {e}");
                }
            }
            if let Some(pb) = &progress {
                pb.set_position(s.sent);
            }
            batch.clear();
            bytes = 0;
            if let Some(rate) = a.rate {
                let due = Duration::from_secs_f64((s.sent + s.failed) as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        if eof {
            break;
        }
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    s.seconds = started.elapsed().as_secs_f64();
    s.lines_per_s = s.sent as f64 / s.seconds.max(1e-9);
    Ok(s)
}
