//! Where sinks attach to the ingest path: every record that becomes a row is
//! shown, final, to an [`Observer`] together with its [`Origin`].

use crate::record::{Record, SourceFormat};

/// Where a record came from, for sinks that need to name it: the source's
/// identity and URI, its line, and a position that is unique within the
/// identity (a byte offset in a file; a line index in a stream record).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub identity: &'a str,
    pub uri: &'a str,
    pub line: u64,
    pub position: u64,
}

/// Where the search index and the alert windows attach: every record that
/// becomes a row passes here once, final (time resolved, redacted), in
/// source order, on the thread that parses.
pub trait Observer: Send {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>);
}

/// Nothing attached.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _: &Record<'_>, _: i64, _: SourceFormat, _: &Origin<'_>) {}
}

/// Every observer in turn.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        self.0.observe(rec, ts, fmt, origin);
        self.1.observe(rec, ts, fmt, origin);
    }
}

/// An observer that may be off.
impl<O: Observer> Observer for Option<O> {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        if let Some(o) = self {
            o.observe(rec, ts, fmt, origin);
        }
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, fmt: SourceFormat, origin: &Origin<'_>) {
        (**self).observe(rec, ts, fmt, origin);
    }
}
