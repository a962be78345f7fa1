//! `loglake ingest`: local files, directories or standard input into a local
//! lake, with a human or JSON summary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use loglake_core::ingest::format::custom::Formats;
use loglake_core::ingest::lake::OutputKind;
use loglake_core::ingest::multiline::MultilineLimits;
use loglake_core::ingest::options::{MAX_LINE_BYTES_RANGE, MEMORY_BUDGET_MB_RANGE};
use loglake_core::redact::RedactCounts;
use loglake_core::sinks::search::SearchCounts;
use loglake_core::{Format, IngestOptions, LocalStore, Manifest, Source};
use loglake_handlers::search::Indexed;

use crate::search::Sink;
use crate::sources::{InputFile, expand};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories (read recursively) or - for standard input
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The lake directory
    #[arg(long, default_value = "./lake")]
    lake: PathBuf,
    /// auto, json, combined, alb, cloudfront, vpcflow, cloudtrail, waf,
    /// s3access, cwlogs, route53resolver, networkfirewall, text, or a format
    /// of --formats
    #[arg(long, default_value = "auto")]
    format: String,
    /// 1: one thread per file; 2 or more: decode, parse and encode overlap,
    /// and with 4 or more, several files are ingested at once
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Print one JSON object instead of the human summary
    #[arg(long)]
    json: bool,
    /// Lines longer than this are quarantined
    #[arg(long, default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Memory for rows (buffered across partitions, and the row group
    /// being encoded), in MiB
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
    /// Service of records that name none
    #[arg(long)]
    service: Option<String>,
    /// Zone of text-log times written without one: an IANA name
    /// (Europe/Berlin), UTC, or an offset (+01:00)
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// User-defined formats (a formats.toml): a format whose `sources`
    /// match a file is used for it, else one most of its first lines
    /// parse as; `--format NAME` may name one of them
    #[arg(long, value_name = "FILE")]
    formats: Option<PathBuf>,
    /// Lines one multiline event (a stack trace) may hold; 1 turns joining
    /// continuation lines off
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    multiline_max_lines: u32,
    /// Bytes one multiline event may hold
    #[arg(long, default_value_t = 256 << 10, value_parser = clap::value_parser!(u32).range(1..=64 << 20))]
    multiline_max_bytes: u32,
    /// zstd level of the Parquet files (0: uncompressed)
    #[arg(long, default_value_t = 1)]
    zstd_level: i32,
    /// Never draw a progress bar
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    redact: crate::args::RedactArg,
    /// Also index every row into OpenSearch (see `loglake search --help`)
    #[command(flatten)]
    search: crate::search::SearchArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if a.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let (lines, memory) = (MAX_LINE_BYTES_RANGE, MEMORY_BUDGET_MB_RANGE);
    if !memory.contains(&a.memory_mib) {
        bail!(
            "--memory-mib must be from {} to {} (got {})",
            memory.start(),
            memory.end(),
            a.memory_mib
        );
    }
    if !lines.contains(&a.max_line_bytes) {
        bail!(
            "--max-line-bytes must be from {} to {} (got {})",
            lines.start(),
            lines.end(),
            a.max_line_bytes
        );
    }
    let formats = match &a.formats {
        Some(path) => Formats::load(path).map_err(anyhow::Error::msg)?,
        None => Formats::default(),
    };
    let (format, custom) = match a.format.as_str() {
        "auto" => (None, None),
        f => match formats.get(f) {
            Some(c) => (None, Some(c.clone())),
            None => (
                Some(f.parse::<Format>().map_err(|e| {
                    anyhow::anyhow!("--format: {e}, or a format of the --formats file")
                })?),
                None,
            ),
        },
    };
    let mut opts = IngestOptions {
        format,
        custom,
        formats,
        max_line_bytes: a.max_line_bytes,
        memory_budget: a.memory_mib << 20,
        row_group_bytes: IngestOptions::row_group_for(a.memory_mib << 20),
        pipelined: a.threads >= 2,
        default_service: a.service.clone(),
        redact: a.redact.options()?,
        timezone: a
            .timezone
            .parse()
            .map_err(|e| anyhow::anyhow!("--timezone: {e}"))?,
        multiline: MultilineLimits {
            max_lines: a.multiline_max_lines as usize,
            max_bytes: a.multiline_max_bytes as usize,
        },
        ..IngestOptions::default()
    };
    let sink = a.search.config()?.map(Sink::new).transpose()?;
    opts.lake.zstd_level = a.zstd_level;
    let store = LocalStore::new(&a.lake)
        .with_context(|| format!("cannot create the lake directory {}", a.lake.display()))?;

    let files = expand(&a.inputs)?;
    let started = Instant::now();
    let total: u64 = files.iter().filter_map(|f| f.size).sum();
    let progress = (!a.no_progress && !a.json && io::stderr().is_terminal() && total > 64 << 20)
        .then(|| {
            let pb = ProgressBar::new(total);
            pb.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });

    // Several files at once only when there are threads to spare: each
    // pipelined file already keeps two cores busy.
    let concurrency = if a.threads >= 4 { a.threads / 2 } else { 1 };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, anyhow::Result<Ingested>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(files.len()).max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = ingest_one(f, &store, &opts, progress.as_ref(), sink.as_ref());
                    if let Ok(mut v) = results.lock() {
                        v.push((i, r));
                    }
                }
            });
        }
    });
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let elapsed = started.elapsed();

    let mut manifests = Vec::new();
    let mut indexed = Vec::new();
    let mut failed = 0;
    for (i, r) in results {
        match r {
            Ok((m, ix)) => {
                if let Some(ix) = ix {
                    failed += usize::from(ix.failure.is_some());
                    indexed.push((m.source.uri.clone(), ix));
                }
                manifests.push(m);
            }
            Err(e) => {
                failed += 1;
                eprintln!("loglake: error: {}: {e:#}", files[i].display);
            }
        }
    }
    let mut summary = IngestSummary::of(&manifests, &a.lake, elapsed);
    // The summary table of every hour this run wrote rows to.
    let hours: BTreeSet<i64> = manifests
        .iter()
        .flat_map(|m| m.partitions.keys())
        .filter_map(|p| partition_hour(p))
        .collect();
    summary.summary_hours = crate::summary::rebuild_with(&a.lake, &hours, a.threads)
        .context("cannot update the summary table")?
        .len();
    if sink.is_some() {
        let mut c = SearchCounts::default();
        for (_, ix) in &indexed {
            c.add(&ix.counts);
        }
        summary.search = Some(c);
    }
    let mut out = io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        summary.print(&mut out, failed)?;
    }
    for (uri, ix) in &indexed {
        if let Some(p) = &ix.dead_letters {
            eprintln!("loglake: warning: {uri}: documents refused by the search cluster: {p}");
        }
        if let Some(f) = &ix.failure {
            eprintln!("loglake: error: {uri}: not every row was indexed: {f}");
        }
    }
    for m in manifests.iter().filter(|m| m.error.is_some()) {
        eprintln!(
            "loglake: warning: {}: {}",
            m.source.uri,
            m.error.as_deref().unwrap_or_default()
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One source's manifest, and what indexing it did when a search sink is on.
type Ingested = (Manifest, Option<Indexed>);

fn ingest_one(
    f: &InputFile,
    store: &LocalStore,
    opts: &IngestOptions,
    progress: Option<&ProgressBar>,
    sink: Option<&Sink>,
) -> anyhow::Result<Ingested> {
    let source = crate::sources::open(f)?;
    let source = match progress {
        Some(pb) => Source {
            reader: Box::new(pb.wrap_read(source.reader)),
            ..source
        },
        None => source,
    };
    match sink {
        Some(sink) => {
            let (m, ix) = sink.ingest(source, store, std::sync::Arc::new(store.clone()), opts)?;
            Ok((m, Some(ix)))
        }
        None => Ok((loglake_core::ingest(source, store, opts)?, None)),
    }
}

/// What one `loglake ingest` did, over all its sources.
#[derive(Debug, serde::Serialize)]
struct IngestSummary {
    sources: usize,
    lines_in: u64,
    rows_out: u64,
    quarantined: u64,
    quarantined_by_reason: BTreeMap<String, u64>,
    /// Lines joined into the multiline event before them.
    merged: u64,
    skipped_blank: u64,
    skipped_header: u64,
    bytes_in: u64,
    bytes_decoded: u64,
    duration_ms: u64,
    mb_per_s: f64,
    partitions: Vec<PartitionRows>,
    errors_by_service: BTreeMap<String, u64>,
    redacted: RedactCounts,
    outputs: Vec<String>,
    manifests: Vec<ManifestRef>,
    /// Hours of the summary table rebuilt.
    summary_hours: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<SearchCounts>,
}

/// The hour of a `dt=YYYY-MM-DD/hr=HH` partition path.
pub(crate) fn partition_hour(p: &str) -> Option<i64> {
    let (dt, hr) = p.split_once('/')?;
    let (date, hour) = (dt.strip_prefix("dt=")?, hr.strip_prefix("hr=")?);
    loglake_core::time::parse_iso8601(&format!("{date}T{hour}:00:00Z"))
}

#[derive(Debug, serde::Serialize)]
struct PartitionRows {
    path: String,
    rows: u64,
}

#[derive(Debug, serde::Serialize)]
struct ManifestRef {
    source: String,
    format: String,
    outcome: loglake_core::ingest::manifest::Outcome,
    lines_in: u64,
    rows_out: u64,
    quarantined: u64,
    merged: u64,
}

impl IngestSummary {
    fn of(ms: &[Manifest], lake: &Path, elapsed: Duration) -> IngestSummary {
        let mut s = IngestSummary {
            sources: ms.len(),
            lines_in: 0,
            rows_out: 0,
            quarantined: 0,
            quarantined_by_reason: BTreeMap::new(),
            merged: 0,
            skipped_blank: 0,
            skipped_header: 0,
            bytes_in: 0,
            bytes_decoded: 0,
            duration_ms: elapsed.as_millis() as u64,
            mb_per_s: 0.0,
            partitions: Vec::new(),
            errors_by_service: BTreeMap::new(),
            redacted: RedactCounts::default(),
            outputs: Vec::new(),
            manifests: Vec::new(),
            summary_hours: 0,
            search: None,
        };
        let mut parts: BTreeMap<String, u64> = BTreeMap::new();
        for m in ms {
            s.lines_in += m.lines_in;
            s.rows_out += m.rows_out;
            s.quarantined += m.quarantined;
            s.merged += m.merged;
            s.skipped_blank += m.skipped_blank;
            s.skipped_header += m.skipped_header;
            s.bytes_in += m.bytes_in;
            s.bytes_decoded += m.bytes_decoded;
            s.redacted.add(&m.redacted);
            for (r, n) in &m.quarantined_by_reason {
                *s.quarantined_by_reason.entry(r.clone()).or_insert(0) += n;
            }
            for (svc, n) in &m.errors_by_service {
                *s.errors_by_service.entry(svc.clone()).or_insert(0) += n;
            }
            for o in &m.outputs {
                if let (OutputKind::Parquet, Some(p)) = (o.kind, &o.partition) {
                    *parts.entry(p.clone()).or_insert(0) += o.rows;
                }
                s.outputs.push(lake.join(&o.key).display().to_string());
            }
            s.manifests.push(ManifestRef {
                source: m.source.uri.clone(),
                format: m.format.clone(),
                outcome: m.outcome,
                lines_in: m.lines_in,
                rows_out: m.rows_out,
                quarantined: m.quarantined,
                merged: m.merged,
            });
        }
        s.partitions = parts
            .into_iter()
            .map(|(p, rows)| PartitionRows {
                path: format!("logs/{p}"),
                rows,
            })
            .collect();
        let secs = elapsed.as_secs_f64().max(1e-6);
        s.mb_per_s = (s.bytes_decoded as f64 / 1e6 / secs * 10.0).round() / 10.0;
        s
    }

    fn print(&self, out: &mut impl Write, failed: usize) -> io::Result<()> {
        writeln!(
            out,
            "ingested {} source{}{} in {:.2} s ({:.1} MB/s uncompressed)",
            self.sources,
            if self.sources == 1 { "" } else { "s" },
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            },
            self.duration_ms as f64 / 1000.0,
            self.mb_per_s
        )?;
        writeln!(out, "  lines in     {:>12}", self.lines_in)?;
        writeln!(out, "  rows out     {:>12}", self.rows_out)?;
        writeln!(out, "  quarantined  {:>12}", self.quarantined)?;
        for (r, n) in &self.quarantined_by_reason {
            writeln!(out, "    {r:<28} {n:>8}")?;
        }
        if self.merged > 0 {
            writeln!(
                out,
                "  merged       {:>12}  (continuation lines joined into multiline events)",
                self.merged
            )?;
        }
        if self.skipped_blank + self.skipped_header > 0 {
            writeln!(
                out,
                "  skipped      {:>12}  (blank {}, header {})",
                self.skipped_blank + self.skipped_header,
                self.skipped_blank,
                self.skipped_header
            )?;
        }
        let r = &self.redacted;
        if r.total() > 0 {
            writeln!(
                out,
                "  redacted     {:>12}  (cards {}, e-mails {}, ips {})",
                r.total(),
                r.cards,
                r.emails,
                r.ips
            )?;
        }
        if let Some(c) = &self.search {
            writeln!(
                out,
                "  indexed      {:>12}  (already indexed {}, dead letters {}, failed {}, filtered {})",
                c.indexed, c.already_indexed, c.dead_lettered, c.failed, c.filtered
            )?;
        }
        writeln!(out, "  partitions   {:>12}", self.partitions.len())?;
        for p in &self.partitions {
            writeln!(out, "    {:<34} {:>10} rows", p.path, p.rows)?;
        }
        if self.summary_hours > 0 {
            writeln!(
                out,
                "  summary      {:>12}  hours of summary/ (minute x service) updated",
                self.summary_hours
            )?;
        }
        if !self.errors_by_service.is_empty() {
            writeln!(out, "  errors by service")?;
            let mut v: Vec<_> = self.errors_by_service.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (svc, n) in v {
                writeln!(out, "    {svc:<28} {n:>8}")?;
            }
        }
        for m in self
            .manifests
            .iter()
            .filter(|m| m.quarantined > 0 || m.format != "json")
        {
            writeln!(
                out,
                "  {}: {} format, {} rows, {} quarantined, {} merged, {:?}",
                m.source, m.format, m.rows_out, m.quarantined, m.merged, m.outcome
            )?;
        }
        Ok(())
    }
}
