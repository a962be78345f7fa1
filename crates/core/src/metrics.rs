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

/// An EMF line of the lag from event time to row (forwarded by fn-stream,
/// written by fn-ingest) over one batch or object: its median and 95th
/// percentile in milliseconds, dimension `function`, namespace `loglake`
/// (the freshness alarms read `FreshnessP95Ms`).
pub fn emf_freshness(function: &str, p50_ms: f64, p95_ms: f64, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "loglake",
                "Dimensions": [["function"]],
                "Metrics": [
                    {"Name": "FreshnessP50Ms", "Unit": "Milliseconds"},
                    {"Name": "FreshnessP95Ms", "Unit": "Milliseconds"},
                ],
            }],
        },
        "function": function,
        "FreshnessP50Ms": p50_ms.round(),
        "FreshnessP95Ms": p95_ms.round(),
    })
    .to_string()
}

/// One service's figures for [`emf_services`], summed over the minutes a
/// source or batch touched (from the alert windows' per-service stats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceFigures {
    pub records: u64,
    /// Level ERROR or FATAL.
    pub errors: u64,
    /// The latency histogram as (value, count), by value: its buckets'
    /// representatives (`Histogram::representatives`).
    pub latency: Vec<(f64, u64)>,
}

impl ServiceFigures {
    /// Both services' figures as one (the latency histograms merged).
    pub fn merge(&mut self, o: &ServiceFigures) {
        self.records = self.records.saturating_add(o.records);
        self.errors = self.errors.saturating_add(o.errors);
        self.latency.extend_from_slice(&o.latency);
        self.latency.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.latency.dedup_by(|b, a| {
            let same = a.0.to_bits() == b.0.to_bits();
            if same {
                a.1 = a.1.saturating_add(b.1);
            }
            same
        });
    }

    /// At most [`MAX_LATENCY_VALUES`] values standing for the latencies:
    /// every value when there are that few, else the quantiles at
    /// (i + 0.5) / 100, i in 0..100 (each the value at rank ⌈q·n⌉).
    pub fn latency_values(&self) -> Vec<f64> {
        let n: u64 = self.latency.iter().map(|v| v.1).sum();
        let max = MAX_LATENCY_VALUES as u64;
        let ranks: Vec<u64> = if n <= max {
            (1..=n).collect()
        } else {
            (0..max)
                .map(|i| ((2 * i + 1) * n).div_ceil(2 * max).clamp(1, n))
                .collect()
        };
        let mut out = Vec::with_capacity(ranks.len());
        let mut values = self.latency.iter();
        let (mut seen, mut current) = (0u64, None);
        for rank in ranks {
            while seen < rank {
                let Some(&(v, c)) = values.next() else { break };
                seen = seen.saturating_add(c);
                current = Some(v);
            }
            if let Some(v) = current {
                out.push(v);
            }
        }
        out
    }
}

/// Distinct services one call emits at most; the rest are summed under
/// [`OTHER_SERVICE`], bounding the metrics' cardinality.
pub const MAX_SERVICES: usize = 50;
/// The values of one `ServiceLatency` (CloudWatch takes 100 per metric).
pub const MAX_LATENCY_VALUES: usize = 100;
/// The service the names past [`MAX_SERVICES`], and those that are not a
/// plain name, are folded into.
pub const OTHER_SERVICE: &str = "(other)";

/// A service name that may be a metric dimension: `[A-Za-z0-9._-]{1,64}`.
fn plain_service(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The business EMF lines of one source or batch, one per service, in
/// namespace `loglake` with dimension `service` (the business dashboard's
/// metrics): records, errors (level ERROR or FATAL) and the latency
/// distribution (at most 100 values; no metric without latencies). Names
/// that are not plain, and every one past the first [`MAX_SERVICES`]
/// distinct, are summed under [`OTHER_SERVICE`], after the others.
pub fn emf_services(
    function: &str,
    per_service: &[(String, ServiceFigures)],
    timestamp_ms: i64,
) -> Vec<String> {
    let mut kept: Vec<(&str, ServiceFigures)> = Vec::new();
    let mut other: Option<ServiceFigures> = None;
    for (name, f) in per_service {
        if plain_service(name) {
            if let Some((_, acc)) = kept.iter_mut().find(|(n, _)| n == name) {
                acc.merge(f);
                continue;
            }
            if kept.len() < MAX_SERVICES {
                kept.push((name, f.clone()));
                continue;
            }
        }
        match &mut other {
            Some(acc) => acc.merge(f),
            None => other = Some(f.clone()),
        }
    }
    kept.into_iter()
        .chain(other.map(|o| (OTHER_SERVICE, o)))
        .map(|(service, f)| service_line(function, service, &f, timestamp_ms))
        .collect()
}

fn service_line(function: &str, service: &str, f: &ServiceFigures, timestamp_ms: i64) -> String {
    let latency = f.latency_values();
    let metrics = [
        ("ServiceRecords", "Count"),
        ("ServiceErrors", "Count"),
        ("ServiceLatency", "Milliseconds"),
    ];
    let emitted = if latency.is_empty() {
        &metrics[..2]
    } else {
        &metrics[..]
    };
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "loglake",
                "Dimensions": [["service"]],
                "Metrics": emitted.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        },
        "function": function,
        "service": service,
        "ServiceRecords": f.records,
        "ServiceErrors": f.errors,
    });
    if !latency.is_empty() {
        doc["ServiceLatency"] = json!(latency);
    }
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::sinks::alerts::Histogram;

    fn figures(records: u64, errors: u64, latencies: &[f64]) -> ServiceFigures {
        let mut h = Histogram::new();
        for &l in latencies {
            h.add(l);
        }
        ServiceFigures {
            records,
            errors,
            latency: h.representatives().collect(),
        }
    }

    fn parse(lines: &[String]) -> Vec<Value> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn one_line_per_service_in_the_dashboards_shape() {
        let lines = emf_services(
            "fn-ingest",
            &[
                ("cart".into(), figures(10, 2, &[5.0, 10.0, 20.0])),
                ("checkout".into(), figures(3, 0, &[])),
            ],
            1_700_000_000_000,
        );
        let docs = parse(&lines);
        assert_eq!(docs.len(), 2);
        let cart = &docs[0];
        let cw = &cart["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cart["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(cw["Namespace"], "loglake");
        assert_eq!(cw["Dimensions"], serde_json::json!([["service"]]));
        let names: Vec<&str> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ServiceRecords", "ServiceErrors", "ServiceLatency"]);
        assert_eq!(cw["Metrics"][2]["Unit"], "Milliseconds");
        assert_eq!(cart["service"], "cart");
        assert_eq!(cart["function"], "fn-ingest");
        assert_eq!(cart["ServiceRecords"], 10);
        assert_eq!(cart["ServiceErrors"], 2);
        let lat: Vec<f64> = cart["ServiceLatency"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(lat.len(), 3);
        for (got, want) in lat.iter().zip([5.0, 10.0, 20.0]) {
            assert!((got - want).abs() <= want * 0.01, "{lat:?}");
        }
        // No latency: no latency metric, errors still there as 0.
        let checkout = &docs[1];
        assert_eq!(checkout["ServiceErrors"], 0);
        assert!(checkout.get("ServiceLatency").is_none(), "{checkout}");
        assert_eq!(
            checkout["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn odd_names_and_names_past_fifty_are_folded_into_other() {
        let mut per: Vec<(String, ServiceFigures)> = (0..55)
            .map(|i| (format!("svc-{i:02}"), figures(1, 1, &[10.0])))
            .collect();
        per.push(("has space".into(), figures(7, 0, &[])));
        per.push(("x".repeat(65), figures(100, 0, &[])));
        per.push(("".into(), figures(1000, 0, &[])));
        // A name seen again among the first fifty is summed into itself.
        per.push(("svc-03".into(), figures(4, 0, &[30.0])));
        let docs = parse(&emf_services("fn-stream", &per, 0));
        assert_eq!(docs.len(), MAX_SERVICES + 1);
        assert_eq!(docs[3]["service"], "svc-03");
        assert_eq!(docs[3]["ServiceRecords"], 5);
        assert_eq!(docs[3]["ServiceLatency"].as_array().unwrap().len(), 2);
        let other = docs.last().unwrap();
        assert_eq!(other["service"], OTHER_SERVICE);
        // svc-50..svc-54 (5 x 1), then 7 + 100 + 1000.
        assert_eq!(other["ServiceRecords"], 5 + 7 + 100 + 1000);
        assert_eq!(other["ServiceErrors"], 5);
        assert_eq!(other["ServiceLatency"].as_array().unwrap().len(), 5);
        let names: std::collections::HashSet<&str> = docs
            .iter()
            .map(|d| d["service"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), docs.len());
        assert!(
            names
                .iter()
                .all(|n| *n == OTHER_SERVICE || plain_service(n))
        );
    }

    #[test]
    fn latency_is_at_most_a_hundred_values_spread_over_the_distribution() {
        // 100 values: each one.
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let f = figures(100, 0, &hundred);
        let v = f.latency_values();
        assert_eq!(v.len(), 100);
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        // 10 000 values 1..=10000: 100 quantiles, the i-th at (i + 0.5)%.
        let many: Vec<f64> = (1..=10_000).map(f64::from).collect();
        let f = figures(10_000, 0, &many);
        let v = f.latency_values();
        assert_eq!(v.len(), MAX_LATENCY_VALUES);
        let mut h = Histogram::new();
        for &l in &many {
            h.add(l);
        }
        for (i, got) in v.iter().enumerate() {
            let q = (i as f64 + 0.5) / 100.0;
            assert_eq!(Some(*got), h.quantile(q), "quantile {q}");
            let exact = (q * 10_000.0 - 1e-9).ceil();
            assert!((got - exact).abs() <= exact * 0.01, "{got} vs {exact}");
        }
        let line = &parse(&emf_services("f", &[("a".into(), f)], 0))[0];
        assert_eq!(line["ServiceLatency"].as_array().unwrap().len(), 100);
        // Zero latencies count, as 0.
        let z = figures(3, 0, &[0.0, 0.0, 5.0]);
        assert_eq!(z.latency_values()[..2], [0.0, 0.0]);
    }
}
