//! Record times: lines without one inherit the previous accepted time or
//! the object's, or are quarantined; times out of the accepted range are
//! quarantined, and never passed on.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::{MemoryStore, ingest};
use support::{DAY, T21, all_rows, join, options, quarantined_lines, reasons, source};

#[test]
fn missing_timestamps_are_inferred_or_quarantined() {
    let lines: Vec<&[u8]> = vec![
        br#"{"msg":"no time yet","service":"a"}"#,
        br#"{"ts":"2024-03-14T21:00:00Z","msg":"timed"}"#,
        br#"{"msg":"after"}"#,
    ];
    let (input, _) = join(&lines, "\n");
    let modified = T21 + 30 * 60_000;
    // (modified_ms, quarantined lines, rows as (line, ts, ts_inferred))
    type Want = (Option<i64>, Vec<u64>, Vec<(i64, i64, Option<&'static str>)>);
    let cases: Vec<Want> = vec![
        (
            None,
            vec![1],
            vec![(2, T21, None), (3, T21, Some("previous_line"))],
        ),
        (
            Some(modified),
            vec![],
            vec![
                (1, modified, Some("object_time")),
                (2, T21, None),
                (3, T21, Some("previous_line")),
            ],
        ),
    ];
    for (modified_ms, quarantined, want_rows) in cases {
        let store = MemoryStore::default();
        let m = ingest(
            source("ts.log", &input, modified_ms),
            &store,
            &options(false),
        )
        .unwrap();
        assert!(m.balanced());
        let want_reasons: Vec<(&str, u64)> = if quarantined.is_empty() {
            vec![]
        } else {
            vec![("missing_timestamp", quarantined.len() as u64)]
        };
        assert_eq!(
            m.quarantined_by_reason,
            reasons(&want_reasons),
            "{modified_ms:?}"
        );
        assert_eq!(
            m.ts_inferred,
            want_rows.iter().filter(|r| r.2.is_some()).count() as u64
        );
        assert_eq!(
            quarantined_lines(&store, &m),
            quarantined,
            "{modified_ms:?}"
        );
        let rows = all_rows(&store, &m);
        let got: Vec<(i64, i64, Option<&str>)> = rows
            .iter()
            .map(|r| (r.line, r.ts, r.attr("ts_inferred")))
            .collect();
        assert_eq!(got, want_rows, "{modified_ms:?}");
    }
}

#[test]
fn timestamps_out_of_range_are_quarantined() {
    const Y2000: i64 = 946_684_800_000;
    const Y2100: i64 = 4_102_444_800_000;
    let modified = T21;
    // (modified_ms, [(ts, in range)])
    type Case = (Option<i64>, Vec<(i64, bool)>);
    let cases: Vec<Case> = vec![
        (
            None,
            vec![
                (Y2000 - 1, false),
                (Y2000, true),
                (T21, true),
                (Y2100, true),
                (Y2100 + 1, false),
                (0, false),
            ],
        ),
        (
            Some(modified),
            vec![
                (Y2000 - 1000, false),
                (Y2000, true),
                (modified - 30 * DAY, true),
                (modified + DAY, true),
                (modified + DAY + 1, false),
                (modified + 365 * DAY, false),
            ],
        ),
    ];
    for (modified_ms, stamps) in cases {
        // Epoch milliseconds, so the boundaries are exact.
        let input: Vec<u8> = stamps
            .iter()
            .map(|(ts, _)| format!("{{\"ts\":{ts},\"msg\":\"m\"}}\n"))
            .collect::<String>()
            .into_bytes();
        let store = MemoryStore::default();
        let m = ingest(
            source("range.log", &input, modified_ms),
            &store,
            &options(false),
        )
        .unwrap();
        assert!(m.balanced());
        let bad: Vec<u64> = (1..)
            .zip(&stamps)
            .filter(|(_, (_, ok))| !ok)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            m.quarantined_by_reason,
            reasons(&[("timestamp_out_of_range", bad.len() as u64)]),
            "{modified_ms:?}"
        );
        assert_eq!(quarantined_lines(&store, &m), bad, "{modified_ms:?}");
        let mut got: Vec<i64> = all_rows(&store, &m).iter().map(|r| r.ts).collect();
        got.sort();
        let mut want: Vec<i64> = stamps.iter().filter(|s| s.1).map(|s| s.0).collect();
        want.sort();
        assert_eq!(got, want, "{modified_ms:?}");
    }
}

#[test]
fn lines_without_time_inherit_only_an_accepted_time() {
    // Line 2 is out of range; line 3 has no time and must take line 1's,
    // not line 2's (which would be quarantined along with it).
    let input = format!(
        "{{\"ts\":{T21},\"msg\":\"ok\"}}\n{{\"ts\":1,\"msg\":\"1970\"}}\nplain continuation\n"
    );
    let store = MemoryStore::default();
    let m = ingest(
        source("inherit.log", input.as_bytes(), None),
        &store,
        &options(false),
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(
        m.quarantined_by_reason,
        reasons(&[("timestamp_out_of_range", 1)])
    );
    let rows = all_rows(&store, &m);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].line, rows[1].ts), (3, T21));
    assert_eq!(rows[1].attr("ts_inferred"), Some("previous_line"));
}
