//! Mergeable sketches for window statistics: a log-scale latency histogram
//! (percentiles with bounded relative error) and a HyperLogLog (distinct
//! users). Both merge exactly, so contributions from many sources and
//! minutes add up to the sketch of all their data.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest relative error of any quantile the [`Histogram`] returns, for
/// values at or above [`MIN_TRACKED_MS`].
pub const RELATIVE_ERROR: f64 = 0.01;

/// Values below this (including zero, negatives and NaN) land in the zero
/// bucket and are reported as 0: 10 µs is below any latency worth alerting on.
pub const MIN_TRACKED_MS: f64 = 0.01;

/// γ = (1 + α) / (1 - α): a bucket [γ^i, γ^(i+1)) represented by
/// 2γ^(i+1)/(γ+1) is within α of every value in it.
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// Bucket indexes are clamped to this range (γ^±4000 is far beyond any f64
/// latency that matters), so a hostile value cannot make an absurd index.
const MAX_INDEX: i32 = 4000;

fn ln_gamma() -> f64 {
    GAMMA.ln()
}

/// The bucket of a value, `None` for the zero bucket.
pub(crate) fn bucket_of(ms: f64) -> Option<i32> {
    // NaN fails this comparison too, so it goes to the zero bucket.
    if ms.is_nan() || ms < MIN_TRACKED_MS {
        return None;
    }
    let i = (ms.ln() / ln_gamma()).floor();
    Some(i.clamp(-f64::from(MAX_INDEX), f64::from(MAX_INDEX)) as i32)
}

/// The value reported for every item of bucket `i`.
fn representative(i: i32) -> f64 {
    2.0 * GAMMA.powi(i.saturating_add(1)) / (GAMMA + 1.0)
}

/// The 1-based rank of quantile `q` among `n` sorted values: `ceil(q * n)`,
/// at least 1. Both [`Histogram::quantile`] and any exact check must use it.
pub fn quantile_rank(q: f64, n: u64) -> u64 {
    let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
    // The small epsilon keeps 0.99 * 100 from becoming rank 100 through
    // floating-point noise.
    let r = (q * n as f64 - 1e-9).ceil();
    (r.max(1.0) as u64).min(n.max(1))
}

/// Log-scale histogram of latencies in milliseconds. Sparse: only buckets
/// that hold a value are stored, sorted by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    zero: u64,
    /// (bucket index, count), sorted by index, no zero counts.
    buckets: Vec<(i32, u64)>,
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, ms: f64) {
        self.add_bucket(bucket_of(ms), 1);
    }

    pub(crate) fn add_bucket(&mut self, b: Option<i32>, n: u64) {
        let Some(i) = b else {
            self.zero = self.zero.saturating_add(n);
            return;
        };
        // Appending in order is the common case for a fresh histogram.
        if let Some(last) = self.buckets.last_mut() {
            if last.0 == i {
                last.1 = last.1.saturating_add(n);
                return;
            }
            if last.0 < i {
                self.buckets.push((i, n));
                return;
            }
        }
        match self.buckets.binary_search_by_key(&i, |b| b.0) {
            Ok(p) => {
                if let Some(b) = self.buckets.get_mut(p) {
                    b.1 = b.1.saturating_add(n);
                }
            }
            Err(p) => self.buckets.insert(p, (i, n)),
        }
    }

    /// Bucket-wise sum: the histogram of both data sets, exactly.
    pub fn merge(&mut self, o: &Histogram) {
        self.zero = self.zero.saturating_add(o.zero);
        if o.buckets.is_empty() {
            return;
        }
        if self.buckets.is_empty() {
            self.buckets.clone_from(&o.buckets);
            return;
        }
        let mut out = Vec::with_capacity(self.buckets.len() + o.buckets.len());
        let (mut a, mut b) = (self.buckets.iter().peekable(), o.buckets.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    out.push((x.0, x.1.saturating_add(y.1)));
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    out.push(**x);
                    a.next();
                }
                (Some(_), Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (Some(x), None) => {
                    out.push(**x);
                    a.next();
                }
                (None, Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = out;
    }

    pub fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(self.zero, |n, b| n.saturating_add(b.1))
    }

    pub fn is_empty(&self) -> bool {
        self.zero == 0 && self.buckets.is_empty()
    }

    /// Every (representative value, count) the histogram holds, by value
    /// (the zero bucket as 0): what [`Histogram::quantile`] picks from.
    pub fn representatives(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let zero = (self.zero > 0).then_some((0.0, self.zero));
        zero.into_iter()
            .chain(self.buckets.iter().map(|&(i, c)| (representative(i), c)))
    }

    /// The value at rank [`quantile_rank`]`(q, count)`, within
    /// [`RELATIVE_ERROR`] of the exact one; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = quantile_rank(q, n);
        if rank <= self.zero {
            return Some(0.0);
        }
        let mut seen = self.zero;
        for &(i, c) in &self.buckets {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(representative(i));
            }
        }
        self.buckets.last().map(|&(i, _)| representative(i))
    }
}

/// Serialized compactly as `{"z":zero,"b":[[index,count],...]}`.
#[derive(Serialize, Deserialize)]
struct HistogramRepr {
    #[serde(default, skip_serializing_if = "is_zero")]
    z: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    b: Vec<(i32, u64)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Serialize for Histogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HistogramRepr {
            z: self.zero,
            b: self.buckets.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = HistogramRepr::deserialize(d)?;
        // Normalize rather than trust the order: a hand-edited or foreign
        // item still merges correctly.
        let mut h = Histogram {
            zero: r.z,
            buckets: Vec::new(),
        };
        let mut b = r.b;
        b.sort_unstable_by_key(|x| x.0);
        for (i, c) in b {
            if c > 0 {
                h.add_bucket(Some(i.clamp(-MAX_INDEX, MAX_INDEX)), c);
            }
        }
        Ok(h)
    }
}

// ------------------------------------------------------------------- hashing

pub use crate::hash::hash64;

// --------------------------------------------------------------- hyperloglog

const HLL_P: u32 = 10;
const HLL_M: usize = 1 << HLL_P;

/// Distinct values counted exactly (their 64-bit hashes) up to this many;
/// past it the sketch becomes registers. A minute of one service usually
/// sees fewer, so the summary's unique users are exact where they are small.
const EXACT_MAX: usize = 128;

/// HyperLogLog with precision 10: 1024 one-byte registers, standard error
/// 1.04/√1024 ≈ 3.25%, with linear counting for small cardinalities; below
/// [`EXACT_MAX`] distinct values it keeps their hashes and is exact (bar
/// 64-bit hash collisions). Nothing is allocated before the first value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hll {
    /// Empty, or exactly `HLL_M` registers.
    regs: Vec<u8>,
    /// Sorted distinct hashes, while `regs` is empty.
    exact: Vec<u64>,
}

impl Hll {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, v: &str) {
        self.add_hash(hash64(v.as_bytes()));
    }

    pub(crate) fn add_hash(&mut self, h: u64) {
        if self.regs.is_empty() {
            match self.exact.binary_search(&h) {
                Ok(_) => return,
                Err(i) if self.exact.len() < EXACT_MAX => {
                    self.exact.insert(i, h);
                    return;
                }
                Err(_) => self.spill_to_registers(),
            }
        }
        self.add_register(h);
    }

    fn spill_to_registers(&mut self) {
        self.regs = vec![0; HLL_M];
        for h in std::mem::take(&mut self.exact) {
            self.add_register(h);
        }
    }

    fn add_register(&mut self, h: u64) {
        let idx = (h >> (64 - HLL_P)) as usize;
        // The remaining 54 bits; the sentinel bit bounds the rank at 55.
        let w = (h << HLL_P) | (1 << (HLL_P - 1));
        let rank = (w.leading_zeros() + 1) as u8;
        if let Some(r) = self.regs.get_mut(idx)
            && *r < rank
        {
            *r = rank;
        }
    }

    /// The sketch of the union.
    pub fn merge(&mut self, o: &Hll) {
        for &h in &o.exact {
            self.add_hash(h);
        }
        if o.regs.is_empty() {
            return;
        }
        if self.regs.is_empty() {
            let exact = std::mem::take(&mut self.exact);
            self.regs.clone_from(&o.regs);
            for h in exact {
                self.add_register(h);
            }
            return;
        }
        for (a, b) in self.regs.iter_mut().zip(&o.regs) {
            *a = (*a).max(*b);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.regs.iter().all(|&r| r == 0)
    }

    /// Estimated number of distinct values added.
    pub fn estimate(&self) -> f64 {
        if self.regs.is_empty() {
            return self.exact.len() as f64;
        }
        let m = HLL_M as f64;
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for &r in &self.regs {
            sum += 1.0 / (1u64 << r.min(63)) as f64;
            if r == 0 {
                zeros += 1;
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        }
    }
}

/// Serialized as a string: `""` when empty; `"h"` + base64 of the exact
/// hashes (u64 big-endian); `"s"` + base64 of (index u16 big-endian,
/// register) triples when few registers are set, else `"d"` + base64 of
/// the 1024 registers.
impl Serialize for Hll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.regs.is_empty() {
            if self.exact.is_empty() {
                return s.serialize_str("");
            }
            let bytes: Vec<u8> = self.exact.iter().flat_map(|h| h.to_be_bytes()).collect();
            return s.serialize_str(&format!("h{}", B64.encode(bytes)));
        }
        let set = self.regs.iter().filter(|&&r| r != 0).count();
        if set == 0 {
            return s.serialize_str("");
        }
        if set * 3 < HLL_M {
            let mut bytes = Vec::with_capacity(set * 3);
            for (i, &r) in self.regs.iter().enumerate() {
                if r != 0 {
                    bytes.extend_from_slice(&(i as u16).to_be_bytes());
                    bytes.push(r);
                }
            }
            s.serialize_str(&format!("s{}", B64.encode(bytes)))
        } else {
            s.serialize_str(&format!("d{}", B64.encode(&self.regs)))
        }
    }
}

impl<'de> Deserialize<'de> for Hll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hll::decode(&s).map_err(serde::de::Error::custom)
    }
}

impl Hll {
    fn decode(s: &str) -> Result<Hll, String> {
        let Some(kind) = s.chars().next() else {
            return Ok(Hll::default());
        };
        let bytes = B64
            .decode(&s[kind.len_utf8()..])
            .map_err(|e| format!("hll: bad base64: {e}"))?;
        if kind == 'h' && bytes.len() % 8 == 0 && !bytes.is_empty() {
            let mut h = Hll::default();
            for c in bytes.chunks_exact(8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                h.add_hash(u64::from_be_bytes(w));
            }
            return Ok(h);
        }
        let mut regs = vec![0u8; HLL_M];
        match kind {
            'd' if bytes.len() == HLL_M => regs.copy_from_slice(&bytes),
            's' if bytes.len() % 3 == 0 => {
                for t in bytes.chunks_exact(3) {
                    let i = usize::from(u16::from_be_bytes([t[0], t[1]]));
                    let r = regs
                        .get_mut(i)
                        .ok_or_else(|| format!("hll: register {i} out of range"))?;
                    *r = (*r).max(t[2]);
                }
            }
            _ => {
                return Err(format!(
                    "hll: bad encoding {kind:?} of {} bytes",
                    bytes.len()
                ));
            }
        }
        if regs.iter().any(|&r| r > 64) {
            return Err("hll: register value out of range".into());
        }
        Ok(Hll {
            regs,
            exact: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG so the distributions are reproducible.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.next(), self.next());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[quantile_rank(q, sorted.len() as u64) as usize - 1]
    }

    #[test]
    fn merged_histogram_quantiles_are_within_the_relative_error() {
        let mut r = Lcg(7);
        let lognormal: Vec<f64> = (0..50_000)
            .map(|_| (3.3 + 0.9 * r.normal()).exp())
            .collect();
        let bimodal: Vec<f64> = (0..30_000)
            .map(|i| {
                if i % 10 == 0 {
                    800.0 + 400.0 * r.next()
                } else {
                    20.0 + 30.0 * r.next()
                }
            })
            .collect();
        let constant = vec![42.0; 1000];
        let heavy: Vec<f64> = (0..20_000)
            .map(|_| {
                let v = (3.3 + 0.9 * r.normal()).exp();
                if r.next() < 0.01 { v * 150.0 } else { v }
            })
            .collect();
        let integers: Vec<f64> = (0..10_000).map(|i| f64::from(1 + i % 997)).collect();
        for (name, data) in [
            ("lognormal", &lognormal),
            ("bimodal", &bimodal),
            ("constant", &constant),
            ("heavy tail", &heavy),
            ("integers", &integers),
        ] {
            // Split across three "sources", merged.
            let mut parts = [Histogram::new(), Histogram::new(), Histogram::new()];
            for (i, v) in data.iter().enumerate() {
                parts[i % 3].add(*v);
            }
            let mut merged = Histogram::new();
            for p in &parts {
                merged.merge(p);
            }
            let mut whole = Histogram::new();
            data.iter().for_each(|v| whole.add(*v));
            assert_eq!(merged, whole, "{name}: merge is not exact");
            assert_eq!(merged.count(), data.len() as u64);
            let mut sorted = data.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.5, 0.95, 0.99, 0.999, 0.0, 1.0] {
                let want = exact(&sorted, q);
                let got = merged.quantile(q).unwrap();
                let err = (got - want).abs() / want;
                assert!(
                    err <= RELATIVE_ERROR + 1e-9,
                    "{name} q={q}: got {got}, exact {want}, error {err}"
                );
            }
        }
    }

    #[test]
    fn histogram_edge_values() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        for v in [0.0, -5.0, f64::NAN, 1e-9] {
            h.add(v);
        }
        h.add(f64::INFINITY);
        h.add(1e300);
        assert_eq!(h.count(), 6);
        assert_eq!(h.quantile(0.5), Some(0.0));
        assert!(h.quantile(1.0).unwrap().is_finite());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Histogram>(&json).unwrap(), h);
        // Unsorted, duplicated input is normalized.
        let h2: Histogram = serde_json::from_str(r#"{"b":[[5,1],[3,2],[5,1],[4,0]]}"#).unwrap();
        assert_eq!(h2.count(), 4);
        assert_eq!(
            serde_json::to_string(&h2).unwrap(),
            r#"{"b":[[3,2],[5,2]]}"#
        );
    }

    #[test]
    fn quantile_rank_is_ceil_q_n() {
        for (q, n, want) in [
            (0.5, 10, 5),
            (0.5, 11, 6),
            (0.99, 100, 99),
            (0.95, 20, 19),
            (0.0, 7, 1),
            (1.0, 7, 7),
            (0.999, 1000, 999),
        ] {
            assert_eq!(quantile_rank(q, n), want, "q={q} n={n}");
        }
    }

    #[test]
    fn hll_estimates_within_three_standard_errors() {
        let se = 1.04 / (HLL_M as f64).sqrt();
        for n in [10_000u32, 100_000] {
            let mut h = Hll::new();
            for i in 0..n {
                h.add(&format!("u_{i:08}"));
            }
            let e = h.estimate();
            let err = (e - f64::from(n)).abs() / f64::from(n);
            assert!(err < 3.0 * se, "n={n}: estimate {e}, error {err}");
        }
        // Small cardinalities (linear counting) are close to exact.
        let mut h = Hll::new();
        for i in 0..50 {
            h.add(&format!("user-{i}"));
            h.add(&format!("user-{i}")); // duplicates do not count
        }
        assert!((h.estimate() - 50.0).abs() < 3.0, "{}", h.estimate());
        assert_eq!(Hll::new().estimate(), 0.0);
    }

    #[test]
    fn hll_is_exact_while_small_and_merges_across_modes() {
        let (mut a, mut b, mut whole) = (Hll::new(), Hll::new(), Hll::new());
        for i in 0..EXACT_MAX as u32 {
            a.add(&format!("v{i}"));
            whole.add(&format!("v{i}"));
        }
        assert_eq!(a.estimate(), EXACT_MAX as f64);
        for i in 0..1000u32 {
            b.add(&format!("w{i}"));
            whole.add(&format!("w{i}"));
        }
        // Exact into registers and registers into exact: the same sketch.
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, whole);
        assert_eq!(ba, whole);
        // One more distinct value turns an exact sketch into registers.
        a.add("one more");
        assert!(a.exact.is_empty() && a.regs.len() == HLL_M);
    }

    #[test]
    fn hll_merge_of_halves_is_the_whole() {
        let (mut a, mut b, mut whole) = (Hll::new(), Hll::new(), Hll::new());
        for i in 0..20_000 {
            let v = format!("session-{i}");
            if i % 2 == 0 {
                a.add(&v)
            } else {
                b.add(&v)
            }
            whole.add(&v);
        }
        a.merge(&b);
        assert_eq!(a, whole);
        let mut empty = Hll::new();
        empty.merge(&whole);
        assert_eq!(empty, whole);
    }

    #[test]
    fn hll_serializes_sparse_and_dense() {
        let mut small = Hll::new();
        for i in 0..40 {
            small.add(&format!("u{i}"));
        }
        let js = serde_json::to_string(&small).unwrap();
        assert!(js.starts_with("\"h") && js.len() < 450, "{js}");
        assert_eq!(serde_json::from_str::<Hll>(&js).unwrap(), small);
        assert_eq!(small.estimate(), 40.0);
        let mut sparse = Hll::new();
        for i in 0..200 {
            sparse.add(&format!("u{i}"));
        }
        let jsp = serde_json::to_string(&sparse).unwrap();
        assert!(jsp.starts_with("\"s") && jsp.len() < 900, "{jsp}");
        assert_eq!(serde_json::from_str::<Hll>(&jsp).unwrap(), sparse);
        let mut big = Hll::new();
        for i in 0..5000 {
            big.add(&format!("u{i}"));
        }
        let jb = serde_json::to_string(&big).unwrap();
        assert!(jb.starts_with("\"d") && jb.len() < 1400, "{}", jb.len());
        assert_eq!(serde_json::from_str::<Hll>(&jb).unwrap(), big);
        assert_eq!(serde_json::to_string(&Hll::new()).unwrap(), "\"\"");
        for bad in ["\"x\"", "\"d!!\"", "\"dAAAA\"", "\"s/w//\"", "\"hAAAA\""] {
            assert!(serde_json::from_str::<Hll>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_is_stable_and_spreads() {
        // Pinned: a change here breaks merging with sketches already stored.
        assert_eq!(hash64(b""), hash64(b""));
        assert_ne!(hash64(b"a"), hash64(b"b"));
        assert_ne!(hash64(b"abcdefgh"), hash64(b"abcdefgh\0"));
        let pinned = [hash64(b""), hash64(b"u_00000001"), hash64(b"checkout-web")];
        assert_eq!(pinned, PINNED);
        // Top 10 bits spread evenly over 1024 registers.
        let mut hits = vec![0u32; HLL_M];
        for i in 0..102_400 {
            hits[(hash64(format!("k{i}").as_bytes()) >> 54) as usize] += 1;
        }
        let (lo, hi) = (hits.iter().min().unwrap(), hits.iter().max().unwrap());
        assert!(*lo > 50 && *hi < 160, "{lo}..{hi}");
    }

    const PINNED: [u64; 3] = [
        4_870_315_401_550_313_391,
        11_361_134_392_731_572_657,
        4_285_622_991_546_297_498,
    ];
}
