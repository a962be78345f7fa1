//! Where outputs go: one trait for the object store, with a local filesystem
//! implementation (the CLI's lake) and an in-memory one (tests). The S3
//! implementation lives in `loglake-aws`.
//!
//! An output is written through [`OutputFile`] and becomes visible only when
//! committed, so a crash or an error never leaves half a file under a real
//! key, and writing a key again replaces it whole.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A file being written. Dropped without [`OutputFile::commit`], it leaves
/// nothing behind.
pub trait OutputFile: Write + Send {
    /// Make the object visible under its key; returns its size in bytes.
    fn commit(self: Box<Self>) -> io::Result<u64>;
}

/// An object store keyed by `/`-separated relative keys.
pub trait OutputStore: Send + Sync {
    fn create(&self, key: &str) -> io::Result<Box<dyn OutputFile>>;
    /// A small object (a manifest), or `None` if there is none.
    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Remove an object; removing a missing one is not an error.
    fn delete(&self, key: &str) -> io::Result<()>;
    /// A URI naming the key, for people and manifests.
    fn uri(&self, key: &str) -> String;
}

/// A lake in a local directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl LocalStore {
    /// Use (and create) `root` as the lake directory.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid object key {key:?}"),
            ));
        }
        Ok(self.root.join(key))
    }
}

#[derive(Debug)]
struct LocalFile {
    tmp: PathBuf,
    dest: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Write for LocalFile {
    #[expect(
        clippy::disallowed_methods,
        reason = "implementing write: a short write is passed on to the caller"
    )]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.as_mut().map_or(Ok(0), |o| o.write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.write_all(buf),
            None => Err(io::Error::other("write after commit")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |o| o.flush())
    }
}

impl OutputFile for LocalFile {
    fn commit(mut self: Box<Self>) -> io::Result<u64> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("committed twice"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        let len = file.metadata()?.len();
        drop(file);
        fs::rename(&self.tmp, &self.dest)?;
        Ok(len)
    }
}

impl Drop for LocalFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl OutputStore for LocalStore {
    fn create(&self, key: &str) -> io::Result<Box<dyn OutputFile>> {
        let dest = self.path(key)?;
        let dir = dest.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        // A hidden temporary beside the destination, so the rename is atomic
        // and query engines skip it (DuckDB and Athena ignore dot-files).
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let f = File::create(&tmp)?;
        Ok(Box::new(LocalFile {
            tmp,
            dest,
            out: Some(BufWriter::with_capacity(256 * 1024, f)),
        }))
    }

    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn uri(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

/// Keeps nothing: for a pass whose outputs exist already (re-indexing a
/// source the lake holds) or that only feeds a sink (`loglake search bulk`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullStore;

#[derive(Debug)]
struct NullFile(u64);

impl Write for NullFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl OutputFile for NullFile {
    fn commit(self: Box<Self>) -> io::Result<u64> {
        Ok(self.0)
    }
}

impl OutputStore for NullStore {
    fn create(&self, _: &str) -> io::Result<Box<dyn OutputFile>> {
        Ok(Box::new(NullFile(0)))
    }
    fn get(&self, _: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn delete(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn uri(&self, key: &str) -> String {
        format!("null:{key}")
    }
}

/// An in-memory store for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemoryStore {
    /// A copy of every committed object.
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[derive(Debug)]
struct MemoryFile {
    key: String,
    buf: Vec<u8>,
    objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl OutputFile for MemoryFile {
    fn commit(self: Box<Self>) -> io::Result<u64> {
        let len = self.buf.len() as u64;
        self.objects
            .lock()
            .map_err(|_| io::Error::other("store poisoned"))?
            .insert(self.key, self.buf);
        Ok(len)
    }
}

impl OutputStore for MemoryStore {
    fn create(&self, key: &str) -> io::Result<Box<dyn OutputFile>> {
        Ok(Box::new(MemoryFile {
            key: key.to_string(),
            buf: Vec::new(),
            objects: self.objects.clone(),
        }))
    }

    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .objects
            .lock()
            .map_err(|_| io::Error::other("store poisoned"))?
            .get(key)
            .cloned())
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        self.objects
            .lock()
            .map_err(|_| io::Error::other("store poisoned"))?
            .remove(key);
        Ok(())
    }

    fn uri(&self, key: &str) -> String {
        format!("memory://{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_commit_is_atomic_and_abort_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path()).unwrap();
        let mut f = s.create("a/b/c.txt").unwrap();
        f.write_all(b"hello").unwrap();
        assert_eq!(s.get("a/b/c.txt").unwrap(), None);
        assert_eq!(f.commit().unwrap(), 5);
        assert_eq!(s.get("a/b/c.txt").unwrap().unwrap(), b"hello");

        let mut f = s.create("a/b/c.txt").unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(s.get("a/b/c.txt").unwrap().unwrap(), b"hello");
        assert_eq!(fs::read_dir(dir.path().join("a/b")).unwrap().count(), 1);

        s.delete("a/b/c.txt").unwrap();
        s.delete("a/b/c.txt").unwrap();
        assert!(s.create("../escape").is_err());
        assert!(s.create("a//b").is_err());
    }
}
