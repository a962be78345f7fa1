//! Byte-level helpers shared by the detectors: the one vectorized pass
//! over a value that every detector's prefilter reads ([`hints`]), and
//! bounds-safe byte access and appending that cannot panic.

/// One pass over a value: how many ASCII digits, whether it contains `@`
/// or `%` (a necessary condition for an e-mail, plain or `%40`), and the
/// bytes the secret rules need (`=`/`:` after a key, `J` of a JWT's `eyJ`,
/// `I` of an `AKIA`/`ASIA` key id).
///
/// Sixteen bytes at a time, the last block padded with zeros (which match
/// nothing): a loop of a fixed sixteen without early exits becomes vector
/// compares on x86-64 and on arm64. Each of the sixteen lanes keeps its own
/// counts, summed once at the end (every [`LANE_BLOCKS`] blocks for the
/// digits, before a lane's `u8` could overflow): summing across the lanes
/// after every block cost more than the compares on long free text.
#[inline]
pub(super) fn hints(b: &[u8]) -> Hints {
    let mut lanes = Lanes::default();
    let mut digits = 0usize;
    let mut chunks = b.chunks_exact(16);
    let mut blocks = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 16];
        w.copy_from_slice(c);
        lanes.add(&w);
        blocks += 1;
        if blocks == LANE_BLOCKS {
            digits += lanes.take_digits();
            blocks = 0;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 16];
        if let Some(head) = w.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        lanes.add(&w);
    }
    digits += lanes.take_digits();
    let any = |l: [u8; 16]| l.iter().fold(0, |a, &x| a | x) != 0;
    Hints {
        digits,
        maybe_email: any(lanes.at),
        sep: any(lanes.sep),
        key_id: any(lanes.key_id),
        jwt: any(lanes.jwt),
    }
}

/// Blocks a lane's digit count may take before it is summed: 255 digits
/// fit in a `u8`.
const LANE_BLOCKS: usize = 255;

/// What [`hints`] has seen so far, per byte position in a block.
#[derive(Default)]
struct Lanes {
    digits: [u8; 16],
    at: [u8; 16],
    sep: [u8; 16],
    key_id: [u8; 16],
    jwt: [u8; 16],
}

impl Lanes {
    #[inline(always)]
    fn add(&mut self, w: &[u8; 16]) {
        for (k, &c) in w.iter().enumerate() {
            self.digits[k] += u8::from(c.wrapping_sub(b'0') < 10);
            self.at[k] |= u8::from(c == b'@') | u8::from(c == b'%');
            self.sep[k] |= u8::from(c == b'=') | u8::from(c == b':');
            self.key_id[k] |= u8::from(c == b'I');
            self.jwt[k] |= u8::from(c == b'J');
        }
    }

    /// The digits counted so far, the lanes' counts reset.
    #[inline(always)]
    fn take_digits(&mut self) -> usize {
        let n = self.digits.iter().map(|&d| usize::from(d)).sum();
        self.digits = [0; 16];
        n
    }
}

/// What [`hints`] found.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hints {
    pub digits: usize,
    pub maybe_email: bool,
    /// A `=` or `:`.
    pub sep: bool,
    /// An `I` (as in `AKIA`).
    pub key_id: bool,
    /// A `J` (as in a JWT's `eyJ`).
    pub jwt: bool,
}

impl Hints {
    /// A `=`, `:`, `I` (as in `AKIA`) or `J`: the bytes a secret needs.
    pub fn maybe_secret(&self) -> bool {
        self.sep || self.key_id || self.jwt
    }
}

/// The byte at `i`, or 0 past either end.
#[inline]
pub(super) fn byte_at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
#[inline]
pub(super) fn byte_before(b: &[u8], i: usize) -> u8 {
    match i.checked_sub(1) {
        Some(j) => byte_at(b, j),
        None => 0,
    }
}

/// Append `s[a..b]`. The callers only pass positions next to ASCII bytes or
/// from `char_indices`, so this never drops anything; it is written without
/// slicing so that a mistake could not panic.
#[inline]
pub(super) fn push_range(out: &mut String, s: &str, a: usize, b: usize) {
    if let Some(t) = s.get(a..b) {
        out.push_str(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time definition.
    /// What [`hints`] says, in the order of [`naive`].
    fn seen(b: &[u8]) -> (usize, bool, bool, bool, bool, bool) {
        let h = hints(b);
        (
            h.digits,
            h.maybe_email,
            h.maybe_secret(),
            h.sep,
            h.key_id,
            h.jwt,
        )
    }

    fn naive(b: &[u8]) -> (usize, bool, bool, bool, bool, bool) {
        let has = |set: &[u8]| b.iter().any(|c| set.contains(c));
        (
            b.iter().filter(|c| c.is_ascii_digit()).count(),
            has(b"@%"),
            has(b"=:IJ"),
            has(b"=:"),
            has(b"I"),
            has(b"J"),
        )
    }

    #[test]
    fn hints_match_the_byte_loop_at_every_length_and_position() {
        // Every byte value at each end of a value and of a 16-byte block,
        // in values up to 80 bytes long, over letters and over digits.
        for len in 0..=80usize {
            for background in [b'x', b'7'] {
                let ends = [0, 1, 14, 15, 16, 17, 31, 32, 33, len.saturating_sub(1)];
                for pos in ends.into_iter().filter(|p| *p < len.max(1)) {
                    for v in 0..=255u8 {
                        let mut b = vec![background; len];
                        if let Some(c) = b.get_mut(pos) {
                            *c = v;
                        }
                        assert_eq!(seen(&b), naive(&b), "len {len} pos {pos} byte {v}");
                    }
                }
            }
        }
        // A long value with digits in every block.
        let long: Vec<u8> = (0..10_000u32).map(|i| b"a1@=J9 "[i as usize % 7]).collect();
        assert_eq!(seen(&long), naive(&long));
    }

    #[test]
    fn a_lane_never_counts_past_its_byte() {
        // Only digits, past the blocks a lane's count is summed after, at
        // every length around that point: a `u8` lane that overflowed would
        // panic here (tests build with overflow checks) or miscount.
        for len in (LANE_BLOCKS * 16 - 20)..(LANE_BLOCKS * 16 + 40) {
            let b = vec![b'7'; len];
            assert_eq!(hints(&b).digits, len, "len {len}");
        }
        let b = vec![b'7'; 3 * LANE_BLOCKS * 16 + 5];
        assert_eq!(hints(&b).digits, b.len());
    }
}
