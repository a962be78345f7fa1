//! loglake-core: everything loglake decides, with no AWS SDK, no Lambda and
//! no network. Raw log bytes in; partitioned Parquet, a quarantine and a
//! manifest out, through the [`store::OutputStore`] trait.
//!
//! The entry point is [`pipeline::ingest`].

pub mod alerts;
pub mod error;
pub mod events;
pub mod format;
pub mod input;
pub mod lake;
pub mod manifest;
pub mod metrics;
pub mod pipeline;
pub mod quarantine;
pub mod record;
pub mod redact;
pub mod rows;
pub mod scan;
pub mod schema;
pub mod search;
pub mod store;
pub mod stream;
pub mod time;

pub use error::Error;
pub use format::Format;
pub use manifest::Manifest;
pub use pipeline::{IngestOptions, Source, ingest, ingest_observed};
pub use store::{LocalStore, MemoryStore, NullStore, OutputStore};
