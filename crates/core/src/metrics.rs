//! CloudWatch Embedded Metric Format: one JSON log line per source that
//! CloudWatch turns into metrics, with no API call from the function.

use serde_json::json;

use crate::ingest::manifest::Manifest;

/// The EMF line for one ingested source, in namespace `loglake`.
pub fn emf(function: &str, m: &Manifest, timestamp_ms: i64) -> String {
    let metrics = [
        ("LinesIn", "Count"),
        ("RowsOut", "Count"),
        ("Quarantined", "Count"),
        ("Merged", "Count"),
        ("CorruptMembers", "Count"),
        ("BytesIn", "Bytes"),
        ("BytesDecoded", "Bytes"),
        ("DurationMs", "Milliseconds"),
    ];
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "loglake",
                // Per format for the dashboard, per function for the alarms.
                "Dimensions": [["function", "format"], ["function"]],
                "Metrics": metrics.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        },
        "function": function,
        "format": m.format,
        "source": m.source.uri,
        "outcome": m.outcome,
        "LinesIn": m.lines_in,
        "RowsOut": m.rows_out,
        "Quarantined": m.quarantined,
        "Merged": m.merged,
        "CorruptMembers": m.corrupt_members,
        "BytesIn": m.bytes_in,
        "BytesDecoded": m.bytes_decoded,
        "DurationMs": m.duration_ms,
    })
    .to_string()
}

/// An EMF line of plain counts for `function` (dimension `function` only),
/// in namespace `loglake`: for events that are not a whole source (fn-stream's
/// dead letters).
pub fn emf_counts(function: &str, counts: &[(&str, u64)], timestamp_ms: i64) -> String {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "loglake",
                "Dimensions": [["function"]],
                "Metrics": counts.iter().map(|(n, _)| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "function": function,
    });
    for (n, v) in counts {
        doc[*n] = json!(v);
    }
    doc.to_string()
}
