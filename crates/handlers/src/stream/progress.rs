//! What a batch that failed part-way leaves for its retry: which Firehose
//! records after its first failed Kinesis record were taken all the same
//! (Lambda retries from that record, and would forward them again), and
//! how much time to keep after the put for what follows it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEventRecord;
use loglake_core::OutputStore;
use loglake_core::ingest::source::source_id;
use tracing::warn;

use super::{StreamError, shard_of, stream_of};

/// Where a batch that failed part-way notes which Firehose records after
/// its first failed Kinesis record were taken all the same, so the retry
/// that starts there forwards only the others (curated bucket; expired by a
/// lifecycle rule after the stream's retention).
pub const STREAM_PROGRESS_PREFIX: &str = "stream-progress";

/// The note a retry starting at `r` reads.
fn progress_key(r: &KinesisEventRecord) -> String {
    format!(
        "{STREAM_PROGRESS_PREFIX}/{}/{}/{}.json",
        stream_of(r),
        shard_of(r),
        r.kinesis.sequence_number
    )
}

/// A Firehose record as the note names it: the Kinesis record it came
/// from and a hash of its bytes (normalizing a record is deterministic, so
/// a retry makes the same bytes).
pub(super) fn record_mark(r: &KinesisEventRecord, bytes: &[u8]) -> String {
    format!(
        "{}:{}",
        r.kinesis.sequence_number,
        source_id(&String::from_utf8_lossy(bytes))
    )
}

/// Time kept after the Firehose put for what follows it (dead letters of
/// what was not taken, the progress note, window items, the index's
/// settling): 1 s, plus 1 s per 4 MiB of records, plus 100 ms per 25
/// window items, at most half the time left.
pub fn after_put(record_bytes: usize, window_items: usize, left: Duration) -> Duration {
    let need = Duration::from_secs(1)
        + Duration::from_secs_f64(record_bytes as f64 / f64::from(4u32 << 20))
        + Duration::from_millis(100 * window_items.div_ceil(25) as u64);
    need.min(left / 2)
}

/// The Firehose records an earlier, partly failed attempt of a batch
/// starting at `first` had taken (none when there was no such attempt, or
/// the note cannot be read for a passing reason: then some may be forwarded
/// twice, and their event ids make the duplicates removable). A read the
/// role is not allowed is an error: it would never succeed, and every
/// partial put would double its rows unseen.
pub(super) async fn taken_before(
    curated: &Arc<dyn OutputStore>,
    first: &KinesisEventRecord,
) -> Result<HashSet<String>, StreamError> {
    let store = curated.clone();
    let key = progress_key(first);
    let k = key.clone();
    let read = tokio::task::spawn_blocking(move || store.get(&k)).await;
    let marks = match read {
        Ok(Ok(Some(bytes))) => serde_json::from_slice::<Vec<String>>(&bytes).unwrap_or_else(|e| {
            warn!(key, error = %e, "progress note unreadable; ignored");
            Vec::new()
        }),
        Ok(Ok(None)) => Vec::new(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(StreamError::ProgressNote(format!(
                "{}: {e}",
                curated.uri(&key)
            )));
        }
        Ok(Err(e)) => {
            warn!(key, error = %e, "progress note not read; a retry may forward records twice");
            Vec::new()
        }
        Err(e) => {
            warn!(key, error = %e, "progress note not read");
            Vec::new()
        }
    };
    Ok(marks.into_iter().collect())
}

/// Note which Firehose records of the Kinesis records from `failed` on
/// were taken, for the retry that starts at `failed`. Best effort: a
/// failure only costs duplicates, which event ids make removable.
pub(super) async fn note_taken(
    curated: &Arc<dyn OutputStore>,
    failed: &KinesisEventRecord,
    records: &[KinesisEventRecord],
    out: &[(usize, Vec<u8>)],
    accepted: &HashSet<usize>,
) {
    let mut marks: Vec<String> = accepted
        .iter()
        .map(|&i| record_mark(&records[out[i].0], &out[i].1))
        .collect();
    marks.sort();
    let store = curated.clone();
    let key = progress_key(failed);
    let k = key.clone();
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut f = store.create(&k)?;
        serde_json::to_writer(&mut f, &marks).map_err(std::io::Error::other)?;
        f.commit().map(drop)
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(key, error = %e, "progress note not written; the retry may forward records twice")
        }
        Err(e) => warn!(key, error = %e, "progress note not written"),
    }
}
