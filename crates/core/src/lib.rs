//! loglake-core: everything loglake decides, with no AWS SDK, no Lambda and
//! no network. Raw log bytes in; partitioned Parquet, a quarantine and a
//! manifest out, through the [`store::OutputStore`] trait.
//!
//! The crate is layered; a module imports only from the layers above it:
//!
//! 1. vocabulary: [`record`] (the one record), [`time`], [`schema`] (the one
//!    column list), [`store`] (where outputs go), [`error`];
//! 2. [`redact`]: PII masking of a record;
//! 3. [`ingest`]: one source's bytes to rows, the manifest and the
//!    quarantine; the entry point is [`ingest::ingest`];
//! 4. [`sinks`]: search documents, forwarded NDJSON, alert windows;
//!    [`triggers`]: decoding the events that invoke the functions;
//!    [`metrics`]: CloudWatch EMF lines;
//! 5. [`summary`]: the per-minute service summary table, from the alert
//!    windows' figures.

pub mod error;
pub mod hash;
pub mod ingest;
pub mod metrics;
pub mod record;
pub mod redact;
pub mod schema;
pub mod sinks;
pub mod store;
pub mod summary;
pub mod time;
pub mod triggers;

pub use error::Error;
pub use ingest::{
    Checkpoint, Format, IngestOptions, Manifest, Progress, Source, ingest, ingest_observed,
    ingest_resumable,
};
pub use store::{LocalStore, MemoryStore, NullStore, OutputStore};
