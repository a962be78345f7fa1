//! The ingest path: one source's bytes to rows. Decode and frame
//! ([`input`]), sniff and parse ([`format`]), finish each record's time and
//! defaults ([`finish`]), join multiline events ([`multiline`]), buffer rows per partition ([`rows`]), write Parquet
//! ([`lake`]), quarantine what cannot be a row ([`quarantine`]) and account
//! for every line ([`manifest`]); [`pipeline`] runs those stages (`stage`
//! parses), [`resume`] pauses and resumes them at segment boundaries, and
//! [`observe`] is where the sinks attach.
//!
//! May import: the crate's vocabulary (`record`, `time`, `schema`, `store`,
//! `error`) and `redact`. Never `sinks` or `triggers`: they build on this.

pub mod expand;
pub mod finish;
pub mod format;
pub mod gzip;
pub mod input;
pub mod lake;
pub mod manifest;
pub mod multiline;
pub mod observe;
pub mod options;
pub mod pipeline;
pub mod quarantine;
pub mod resume;
pub mod rows;
pub mod scan;
pub mod source;
mod stage;

pub use finish::Finisher;
pub use format::Format;
pub use manifest::Manifest;
pub use observe::{NoObserver, Observer, Origin};
pub use options::IngestOptions;
pub use pipeline::{ingest, ingest_observed, ingest_resumable};
pub use resume::{Checkpoint, Progress};
pub use source::{Keys, Source};
