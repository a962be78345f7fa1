//! `loglake`: the local CLI. It only parses arguments and dispatches; the
//! work is in `loglake-core` (ingest) and `generate`.

mod alerts;
mod args;
mod formats;
mod generate;
mod ingest;
mod lake;
mod load;
mod replay;
mod report;
mod search;
mod serve;
mod sources;
mod summary;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "loglake",
    version,
    about = "Raw logs in, a partitioned Parquet lake out"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Ingest log files into a local Parquet lake
    Ingest(ingest::Args),
    /// Write realistic e-commerce service logs (NDJSON, or plain text with
    /// --kind text), deterministic per seed
    Generate(GenerateArgs),
    /// Send a log file, or generated logs, to a Kinesis or Firehose stream
    Replay(replay::Args),
    /// Set up an OpenSearch cluster for loglake, or index files into it
    #[command(subcommand)]
    Search(search::Cmd),
    /// Evaluate alert rules over a local lake, or check a rules file
    #[command(subcommand)]
    Alerts(alerts::Cmd),
    /// Check user-defined log formats (formats.toml) against a log file
    #[command(subcommand)]
    Formats(formats::Cmd),
    /// Rebuild the lake's per-minute service summary (summary/dt=/hr=/) from its rows
    Summary(summary::Args),
    /// Write one self-contained HTML page of charts over a local lake
    /// (records, errors, latency, status mix, top errors, alerts)
    Report(report::Args),
    /// Take events over HTTP (POST /v1/events, as fn-collect does) into a
    /// local lake or onto a Kinesis stream
    Serve(serve::Args),
    /// Load-test an HTTP collector with realistic events and report
    /// throughput, latency percentiles and errors
    Load(load::Args),
    /// Print the lake's table definition: Athena DDL with partition projection
    /// (Terraform creates the table; this is for a lake without it)
    Schema {
        /// Table name
        #[arg(long, default_value = "logs")]
        table: String,
        /// Where the lake's `logs/` prefix lives, e.g. s3://my-curated-bucket/logs/
        #[arg(long, value_name = "S3_URI")]
        location: String,
    },
    /// Print a shell completion script (e.g. loglake completions bash > /etc/bash_completion.d/loglake)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. loglake man | man -l -
    Man,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Number of lines to write
    #[arg(long, conflicts_with = "bytes")]
    lines: Option<u64>,
    /// Stop at the first line boundary at or past this many uncompressed bytes (e.g. 64MiB, 1GiB)
    #[arg(long, value_parser = generate::parse_size)]
    bytes: Option<u64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fraction of lines made malformed (truncated JSON, plain text, wrong types, empty)
    #[arg(long, default_value_t = 0.0)]
    malformed: f64,
    /// First timestamp, RFC 3339 (default 2024-03-14T21:00:00Z)
    #[arg(long)]
    start: Option<String>,
    /// Hours the timestamps span
    #[arg(long, default_value_t = 6.0)]
    span_hours: f64,
    /// Add fixed incidents (an error burst, a latency spike, a FATAL line, a
    /// login-failure burst, a silent service) for the rules in alerts.toml
    #[arg(long)]
    incidents: bool,
    /// Output file, gzip-compressed when it ends in .gz; standard output when absent or -
    #[arg(long)]
    out: Option<PathBuf>,
    /// json, or text: server logs in the layouts of log4j, Python, syslog,
    /// Apache, nginx, klog, Go and Tomcat, with stack traces
    #[arg(long, value_enum, default_value_t)]
    kind: generate::Kind,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Ingest(args) => ingest::run(args),
        Cmd::Replay(args) => replay::run(args),
        Cmd::Search(cmd) => search::run(cmd),
        Cmd::Alerts(cmd) => alerts::run(cmd),
        Cmd::Formats(cmd) => formats::run(cmd),
        Cmd::Summary(args) => summary::run(args),
        Cmd::Report(args) => report::run(args),
        Cmd::Serve(args) => serve::run(args),
        Cmd::Load(args) => load::run(args),
        Cmd::Generate(args) => run_generate(args).map(|()| ExitCode::SUCCESS),
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "loglake", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut io::stdout())
                .map(|()| ExitCode::SUCCESS)
                .map_err(anyhow::Error::from)
        }
        Cmd::Schema { table, location } => {
            print!("{}", loglake_core::schema::athena_ddl(&table, &location));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loglake: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_generate(a: GenerateArgs) -> anyhow::Result<()> {
    let mut opts = generate::GenOptions {
        lines: a.lines,
        bytes: a.bytes,
        seed: a.seed,
        malformed: a.malformed,
        span_hours: a.span_hours,
        incidents: a.incidents,
        kind: a.kind,
        ..Default::default()
    };
    if let Some(s) = &a.start {
        opts.start_ms = loglake_core::time::parse_iso8601(s)
            .ok_or_else(|| anyhow::anyhow!("--start {s:?} is not an RFC 3339 time"))?;
    }
    let started = std::time::Instant::now();
    let stats = match &a.out {
        Some(p) if p.as_os_str() != "-" => {
            let f = std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", p.display()))?;
            let f = io::BufWriter::with_capacity(1 << 20, f);
            let s = if p.extension().is_some_and(|e| e == "gz") {
                let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::new(6));
                let s = generate::generate(&opts, &mut gz)?;
                gz.finish()?.flush()?;
                s
            } else {
                let mut f = f;
                let s = generate::generate(&opts, &mut f)?;
                f.flush()?;
                s
            };
            // A log file was last written at its last line: ingest reads
            // the year of syslog and klog times from the file's time.
            if let Some(ms) = s.last_ms.and_then(|ms| u64::try_from(ms).ok()) {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
                std::fs::File::options()
                    .write(true)
                    .open(p)?
                    .set_modified(t)?;
            }
            s
        }
        _ => {
            let mut out = io::stdout().lock();
            let s = generate::generate(&opts, &mut out)?;
            out.flush()?;
            s
        }
    };
    eprintln!(
        "wrote {} lines, {} uncompressed bytes in {:.1} s",
        stats.lines,
        stats.bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
