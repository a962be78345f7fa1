//! What is ingested: a source's identity and bytes, the short id and file
//! stem its outputs are named by, the keys they live under, and whether the
//! lake already holds a complete ingest of it.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::manifest::{Manifest, Outcome};
use super::options::IngestOptions;
use crate::error::Error;
use crate::store::OutputStore;

/// A source to ingest: its identity and a stream of its (possibly
/// compressed) bytes.
pub struct Source {
    /// Where it came from, recorded in every row (`source_uri`).
    pub uri: String,
    /// What makes two deliveries of this source the same: for a local file,
    /// its path, size and modification time; for S3, bucket, key and version
    /// or ETag. Output names derive from it, so ingesting it again overwrites.
    pub identity: String,
    /// A short readable name for output files (usually the file name).
    pub name: String,
    pub size: Option<u64>,
    /// Last modification, UTC ms: the quarantine's `dt`, and the upper bound
    /// for plausible event times.
    pub modified_ms: Option<i64>,
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("uri", &self.uri)
            .field("identity", &self.identity)
            .finish()
    }
}

/// A short, stable hash of an identity string.
pub fn source_id(identity: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(identity.as_bytes());
    // Once per Kinesis record in fn-stream: nibbles by table, not `write!`.
    let mut id = String::with_capacity(16);
    for b in &d[..8] {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

/// A file-name-safe stem of a source name: compression suffixes dropped,
/// anything but `[A-Za-z0-9._-]` replaced, at most 48 bytes.
pub fn name_stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let base = [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, 'x');
    }
    s
}

/// Where checkpoints of paused ingests are kept in the output store (a
/// lifecycle rule expires those of ingests that never finished).
pub const CHECKPOINT_PREFIX: &str = "_checkpoints";

/// The keys one source's outputs live under.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `{stem}-{id}`: the start of every output file name.
    pub name: String,
    pub manifest: String,
    pub quarantine: String,
    /// Where a paused ingest of the source keeps its checkpoint.
    pub checkpoint: String,
}

impl Keys {
    pub fn new(opts: &IngestOptions, name: &str, identity: &str, modified_ms: Option<i64>) -> Keys {
        let name = format!("{}-{}", name_stem(name), source_id(identity));
        Keys {
            manifest: format!("{}/{name}.json", opts.manifest_prefix),
            quarantine: crate::ingest::quarantine::key(&opts.quarantine_prefix, modified_ms, &name),
            checkpoint: format!("{CHECKPOINT_PREFIX}/{name}.json"),
            name,
        }
    }
}

/// Keys listed by an earlier manifest of the same source: outputs the new run
/// does not rewrite are removed, so a re-run never leaves a stale chunk.
///
/// A manifest that cannot be read (access denied, the store failing) is an
/// error, never "no manifest": taking it for none would leave the earlier
/// run's chunks beside the new ones, every row twice. A manifest that reads
/// but does not parse lists nothing (it was not written by this code).
pub fn previous_outputs(store: &dyn OutputStore, key: &str) -> Result<Vec<String>, Error> {
    #[derive(serde::Deserialize)]
    struct Listed {
        outputs: Vec<ListedOutput>,
    }
    #[derive(serde::Deserialize)]
    struct ListedOutput {
        key: String,
    }
    let bytes = store
        .get(key)
        .map_err(|e| Error::read(&store.uri(key), e))?;
    Ok(bytes
        .and_then(|b| serde_json::from_slice::<Listed>(&b).ok())
        .map(|m| m.outputs.into_iter().map(|o| o.key).collect())
        .unwrap_or_default())
}

/// Whether the lake holds a complete ingest of exactly this source: its
/// manifest is written last, after every output was committed. A manifest
/// that cannot be read is an error (see [`previous_outputs`]).
pub fn lake_complete(
    store: &dyn OutputStore,
    manifest_key: &str,
    identity: &str,
) -> Result<bool, Error> {
    let bytes = store
        .get(manifest_key)
        .map_err(|e| Error::read(&store.uri(manifest_key), e))?;
    Ok(bytes
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .is_some_and(|m| m.source.identity == identity && m.outcome == Outcome::Complete))
}

/// The identity of an S3 object: its URI and version id, or its ETag when
/// the bucket keeps no versions (a suspended bucket reports version `null`
/// for every upload, which names none). The same object delivered twice has
/// the same identity, so its outputs are overwritten, not doubled; two
/// uploads of one key have two.
pub fn object_identity(uri: &str, version_id: Option<&str>, etag: Option<&str>) -> String {
    let version_id = version_id.filter(|v| *v != "null" && !v.is_empty());
    let version = match (version_id, etag) {
        (Some(v), _) => format!("version={v}"),
        (None, Some(e)) => format!("etag={e}"),
        (None, None) => String::new(),
    };
    format!("{uri}#{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_are_the_first_eight_bytes_of_the_sha256_in_hex() {
        for identity in [
            "",
            "s3://bucket/key#v1",
            "kinesis://logs/shardId-000000000000/4963",
        ] {
            let want: String = Sha256::digest(identity.as_bytes())[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(source_id(identity), want);
        }
        // Pinned: every lake file name and event id is made from it.
        assert_eq!(source_id(""), "e3b0c44298fc1c14");
    }
}
