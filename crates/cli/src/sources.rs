//! The CLI's sources: local files, directories walked in name order, and
//! standard input, each with the identity that makes a second ingest of the
//! same unchanged input overwrite its outputs.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;
use loglake_core::Source;
use sha2::{Digest, Sha256};

/// One input, resolved before any work starts.
#[derive(Debug)]
pub struct InputFile {
    pub path: Option<PathBuf>,
    pub display: String,
    pub size: Option<u64>,
}

/// Files as given, directories walked in name order (hidden entries
/// skipped), `-` as standard input.
pub fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.as_os_str() == "-" {
            out.push(InputFile {
                path: None,
                display: "<stdin>".into(),
                size: None,
            });
            continue;
        }
        let meta = fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out).with_context(|| format!("cannot list {}", p.display()))?;
        } else {
            out.push(InputFile {
                path: Some(p.clone()),
                display: p.display().to_string(),
                size: Some(meta.len()),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<InputFile>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        let meta = fs::metadata(&p)?;
        if meta.is_dir() {
            walk(&p, out)?;
        } else if meta.is_file() {
            out.push(InputFile {
                display: p.display().to_string(),
                path: Some(p),
                size: Some(meta.len()),
            });
        }
    }
    Ok(())
}

/// The source for one input.
pub fn open(f: &InputFile) -> anyhow::Result<Source> {
    match &f.path {
        Some(p) => file_source(p),
        None => stdin_source(),
    }
}

/// A local file's identity is its absolute path, size and modification
/// time: the same unchanged file ingested again overwrites its outputs.
pub fn file_source(p: &Path) -> anyhow::Result<Source> {
    let abs = fs::canonicalize(p).with_context(|| format!("cannot resolve {}", p.display()))?;
    let file = File::open(&abs).with_context(|| format!("cannot open {}", p.display()))?;
    let meta = file.metadata()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let uri = format!("file://{}", abs.display());
    Ok(Source {
        identity: format!(
            "{uri}?size={}&mtime_ns={}",
            meta.len(),
            mtime.map_or(0, |d| d.as_nanos())
        ),
        name: abs
            .file_name()
            .map_or_else(|| "input".into(), |n| n.to_string_lossy().into_owned()),
        size: Some(meta.len()),
        modified_ms: mtime.map(|d| d.as_millis() as i64),
        uri,
        reader: Box::new(file),
    })
}

/// Standard input has no name or time, so its identity is its content:
/// spooled to a temporary file (bounded memory) while hashing.
fn stdin_source() -> anyhow::Result<Source> {
    let mut spool = tempfile::tempfile().context("cannot create a temporary file for stdin")?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    let mut stdin = io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("cannot read standard input"),
        };
        hash.update(&buf[..n]);
        spool.write_all(&buf[..n])?;
        size += n as u64;
    }
    spool.rewind()?;
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Source {
        uri: format!("stdin://sha256/{digest}"),
        identity: format!("sha256:{digest}"),
        name: "stdin".into(),
        size: Some(size),
        modified_ms: None,
        reader: Box::new(spool),
    })
}
