//! `loglake serve --lake DIR`: the collector's events straight into the
//! local lake. An accepted event is first appended to a spool file
//! (`DIR/_spool/<batch>.ndjson`, written before the 202 goes out, so a
//! crash of the server loses nothing: the next start ingests what it finds
//! there). Every `batch_seconds`, or as soon as `batch_events` are waiting,
//! the spool file is closed and ingested as one source (its own identity,
//! manifest and Parquet files; the events' ids kept), then removed. The
//! summary table of the hours written is brought up to date at most every
//! few seconds and at shutdown, which flushes the last batch.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use loglake_core::sinks::alerts::Histogram;
use loglake_core::{Format, IngestOptions, LocalStore, Source};
use loglake_handlers::collect::Accepted;
use loglake_handlers::effects::{BoxFuture, EventSink};
use serde_json::json;

/// Where accepted events wait for their batch, inside the lake.
pub const SPOOL_DIR: &str = "_spool";

/// When a batch is cut.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub every: Duration,
    pub events: usize,
    /// How often the summary table is refreshed while serving.
    pub summary_every: Duration,
}

/// The spool file being filled.
#[derive(Debug)]
struct Spool {
    file: File,
    path: PathBuf,
    /// Event times of what it holds (the batch's freshness).
    ts: Vec<i64>,
    seq: u64,
    /// The last write failed: refuse until a new file is opened.
    broken: Option<String>,
}

/// What the batches did, for `/healthz`.
#[derive(Debug, Default)]
struct Stats {
    batches: u64,
    events_written: u64,
    rows_out: u64,
    quarantined: u64,
    failed_batches: u64,
    /// Events of the batch being ingested now.
    in_flight: usize,
    last_error: Option<String>,
    /// Lag from event time to row written, every event so far.
    freshness: Histogram,
    last_batch: Option<serde_json::Value>,
}

/// The sink `loglake serve --lake` hands the collector.
#[derive(Debug)]
pub struct LakeSink {
    lake: PathBuf,
    spool: Mutex<Spool>,
    stats: Arc<Mutex<Stats>>,
    wake: Mutex<Option<mpsc::Sender<()>>>,
    batch_events: usize,
}

/// The batcher thread, joined at shutdown after the last flush.
#[derive(Debug)]
pub struct Batcher {
    handle: JoinHandle<()>,
}

fn spool_name(seq: u64) -> String {
    format!(
        "http-{}-{}-{seq:06}.ndjson",
        loglake_handlers::now_ms(),
        std::process::id()
    )
}

fn open_spool(dir: &Path, seq: u64) -> std::io::Result<(File, PathBuf)> {
    let path = dir.join(spool_name(seq));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    Ok((file, path))
}

impl LakeSink {
    /// Ingest what an earlier run left in the spool, then start batching.
    pub fn start(
        lake: &Path,
        opts: IngestOptions,
        batching: Batching,
    ) -> anyhow::Result<(Arc<LakeSink>, Batcher)> {
        let dir = lake.join(SPOOL_DIR);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let opts = Arc::new(IngestOptions {
            format: Some(Format::Json),
            forwarded: true,
            ..opts
        });
        let stats = Arc::new(Mutex::new(Stats::default()));
        let mut left: Vec<PathBuf> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
            .collect();
        left.sort();
        let mut hours = BTreeSet::new();
        for p in &left {
            if fs::metadata(p).is_ok_and(|m| m.len() == 0) {
                fs::remove_file(p)?;
                continue;
            }
            eprintln!(
                "loglake serve: ingesting {} left by an earlier run",
                p.display()
            );
            ingest_batch(lake, p, &opts, None, &stats, &mut hours)?;
        }
        crate::summary::rebuild(lake, &hours)?;
        let (file, path) = open_spool(&dir, 0)?;
        let (tx, rx) = mpsc::channel();
        let sink = Arc::new(LakeSink {
            lake: lake.to_path_buf(),
            spool: Mutex::new(Spool {
                file,
                path,
                ts: Vec::new(),
                seq: 0,
                broken: None,
            }),
            stats: stats.clone(),
            wake: Mutex::new(Some(tx)),
            batch_events: batching.events,
        });
        let worker = sink.clone();
        let handle = std::thread::Builder::new()
            .name("lake-batcher".into())
            .spawn(move || worker.run(rx, &opts, batching))?;
        Ok((sink, Batcher { handle }))
    }

    /// Stop batching: the last batch is written before this returns.
    pub fn close(&self, batcher: Batcher) {
        if let Ok(mut w) = self.wake.lock() {
            w.take();
        }
        if batcher.handle.join().is_err() {
            eprintln!("loglake serve: the batcher panicked; the spool keeps the unwritten events");
        }
    }

    fn run(&self, rx: mpsc::Receiver<()>, opts: &IngestOptions, b: Batching) {
        let mut hours = BTreeSet::new();
        let mut summarized = Instant::now();
        loop {
            let stop = match rx.recv_timeout(b.every) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => true,
            };
            if let Some((path, ts)) = self.rotate() {
                let r = ingest_batch(&self.lake, &path, opts, Some(ts), &self.stats, &mut hours);
                self.set_in_flight(0);
                if let Err(e) = r {
                    eprintln!(
                        "loglake serve: error: batch {}: {e:#}; kept for the next start",
                        path.display()
                    );
                    if let Ok(mut s) = self.stats.lock() {
                        s.failed_batches += 1;
                        s.last_error = Some(format!("{e:#}"));
                    }
                }
            }
            if !hours.is_empty() && (stop || summarized.elapsed() >= b.summary_every) {
                if let Err(e) = crate::summary::rebuild(&self.lake, &hours) {
                    eprintln!("loglake serve: error: the summary table: {e:#}");
                }
                hours.clear();
                summarized = Instant::now();
            }
            if stop {
                // The file opened after the last batch holds nothing.
                if let Ok(s) = self.spool.lock()
                    && s.ts.is_empty()
                    && s.broken.is_none()
                {
                    let _ = fs::remove_file(&s.path);
                }
                return;
            }
        }
    }

    fn set_in_flight(&self, n: usize) {
        if let Ok(mut s) = self.stats.lock() {
            s.in_flight = n;
        }
    }

    /// Close the spool file if it holds events and open the next one.
    fn rotate(&self) -> Option<(PathBuf, Vec<i64>)> {
        let mut s = self.spool.lock().ok()?;
        if s.ts.is_empty() && s.broken.is_none() {
            return None;
        }
        let seq = s.seq + 1;
        let dir = self.lake.join(SPOOL_DIR);
        match open_spool(&dir, seq) {
            Ok((file, path)) => {
                let old = std::mem::replace(&mut s.file, file);
                drop(old);
                let old_path = std::mem::replace(&mut s.path, path);
                s.seq = seq;
                s.broken = None;
                let ts = std::mem::take(&mut s.ts);
                // Counted as pending until written (the spool lock is held,
                // so no reader sees the events in neither place).
                self.set_in_flight(ts.len());
                (!ts.is_empty()).then_some((old_path, ts))
            }
            Err(e) => {
                s.broken = Some(format!(
                    "cannot open a spool file in {}: {e}",
                    dir.display()
                ));
                None
            }
        }
    }

    fn append(&self, events: &[Accepted]) -> Result<(), String> {
        let mut buf = Vec::with_capacity(events.iter().map(|e| e.line.len()).sum());
        for e in events {
            buf.extend_from_slice(&e.line);
        }
        let mut s = self
            .spool
            .lock()
            .map_err(|_| "the spool lock is poisoned".to_string())?;
        if let Some(b) = &s.broken {
            return Err(b.clone());
        }
        // One write per request: all of its events or (on error) the file
        // is set aside as broken and the request refused.
        if let Err(e) = s.file.write_all(&buf) {
            let msg = format!("cannot append to {}: {e}", s.path.display());
            s.broken = Some(msg.clone());
            return Err(msg);
        }
        s.ts.extend(events.iter().map(|e| e.ts_ms));
        let full = s.ts.len() >= self.batch_events;
        drop(s);
        if full
            && let Ok(w) = self.wake.lock()
            && let Some(tx) = w.as_ref()
        {
            let _ = tx.send(());
        }
        Ok(())
    }
}

/// Ingest one spool file as a source of its own, then remove it.
fn ingest_batch(
    lake: &Path,
    path: &Path,
    opts: &IngestOptions,
    ts: Option<Vec<i64>>,
    stats: &Mutex<Stats>,
    hours: &mut BTreeSet<i64>,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "batch".into(), |n| n.to_string_lossy().into_owned());
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    let uri = format!("collect://{name}");
    let source = Source {
        identity: uri.clone(),
        uri,
        name,
        size: Some(size),
        modified_ms: Some(loglake_handlers::now_ms()),
        reader: Box::new(file),
    };
    let store = LocalStore::new(lake)?;
    let m = loglake_core::ingest(source, &store, opts)?;
    if let Some(e) = &m.error {
        anyhow::bail!("{e}");
    }
    let written = loglake_handlers::now_ms();
    hours.extend(
        m.partitions
            .keys()
            .filter_map(|p| crate::ingest::partition_hour(p)),
    );
    fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    if let Ok(mut s) = stats.lock() {
        s.batches += 1;
        s.events_written += m.lines_in;
        s.rows_out += m.rows_out;
        s.quarantined += m.quarantined;
        if let Some(ts) = ts {
            let mut batch = Histogram::new();
            for t in &ts {
                let lag = (written - t).max(0) as f64;
                batch.add(lag);
                s.freshness.add(lag);
            }
            s.last_batch = Some(json!({
                "events": ts.len(),
                "rows": m.rows_out,
                "freshness_p50_ms": batch.quantile(0.5),
                "freshness_p95_ms": batch.quantile(0.95),
            }));
        }
    }
    Ok(())
}

impl EventSink for LakeSink {
    fn put<'a>(&'a self, events: &'a [Accepted]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.append(events) })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let s = self
                .spool
                .lock()
                .map_err(|_| "the spool lock is poisoned".to_string())?;
            match &s.broken {
                Some(b) => Err(b.clone()),
                None => Ok(()),
            }
        })
    }

    fn name(&self) -> String {
        format!("lake:{}", self.lake.display())
    }

    fn stats(&self) -> Option<serde_json::Value> {
        let pending = self.spool.lock().map_or(0, |s| s.ts.len());
        let s = self.stats.lock().ok()?;
        Some(json!({
            "pending": pending + s.in_flight,
            "batches": s.batches,
            "events_written": s.events_written,
            "rows_out": s.rows_out,
            "quarantined": s.quarantined,
            "failed_batches": s.failed_batches,
            "last_error": s.last_error,
            "freshness_p50_ms": s.freshness.quantile(0.5),
            "freshness_p95_ms": s.freshness.quantile(0.95),
            "last_batch": s.last_batch,
        }))
    }
}
