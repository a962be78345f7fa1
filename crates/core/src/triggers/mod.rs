//! What invokes loglake, decoded: events that name S3 objects ([`objects`]:
//! S3 notifications direct or in SQS or SNS, EventBridge, replays) and
//! Kinesis records ([`kinesis`]). No I/O: bytes and JSON in, work out.
//!
//! May import: the crate's vocabulary only.

pub mod kinesis;
pub mod objects;
