//! Where rows go besides the lake: search documents and bulk bodies
//! ([`search`]), loglake's normalized NDJSON for Firehose ([`forward`]), and
//! the alert windows and notifications ([`alerts`]). Each is fed through
//! the ingest path's [`Observer`](crate::ingest::Observer).
//!
//! May import: the crate's vocabulary and `ingest` (the observer, the
//! formats). Never `triggers`.

pub mod alerts;
pub mod forward;
pub mod search;
