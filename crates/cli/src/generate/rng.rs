//! The generator's PRNG: xoshiro256** with the draws the templates need
//! (uniform integers, ranges, picks, floats, log-normals, hex digits), and
//! weighted lookup tables built from it.

use super::encode::HEX;

/// xoshiro256** seeded through SplitMix64: fast, small, and stable across
/// platforms and Rust versions, which is what determinism per seed needs.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    pub(super) fn idx(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..hi`, like Python's `randrange(lo, hi)`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo)) as i64
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.idx(items.len())]
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub(super) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box-Muller; only used while building pools, so
    /// discarding the second variate costs nothing that matters.
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1], keeps ln finite
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub(super) fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// `n` random lowercase hex digits, like Python's `"%0*x" % (n, getrandbits(4 * n))`.
    pub(super) fn push_hex(&mut self, out: &mut Vec<u8>, n: usize) {
        let mut left = n;
        while left > 0 {
            let k = left.min(16);
            let v = self.next_u64();
            for j in (0..k).rev() {
                out.push(HEX[((v >> (4 * j)) & 15) as usize]);
            }
            left -= k;
        }
    }
}

/// A lookup table of indices drawn with the given weights, so a weighted
/// choice per line is one `below` and one load.
pub(super) fn weighted_table(rng: &mut Rng, weights: &[f64], size: usize) -> Vec<u8> {
    debug_assert!(weights.len() <= 256);
    let total: f64 = weights.iter().sum();
    (0..size)
        .map(|_| {
            let x = rng.f64() * total;
            let mut acc = 0.0;
            for (i, w) in weights.iter().enumerate() {
                acc += w;
                if x < acc {
                    return i as u8;
                }
            }
            (weights.len() - 1) as u8
        })
        .collect()
}
