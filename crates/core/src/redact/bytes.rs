//! Byte-level helpers shared by the detectors: the one vectorized pass
//! over a value that every detector's prefilter reads ([`hints`]), and
//! bounds-safe byte access and appending that cannot panic.

/// One pass over a value: how many ASCII digits, whether it contains `@`
/// or `%` (a necessary condition for an e-mail, plain or `%40`), and the
/// bytes the secret rules need (`=`/`:` after a key, `J` of a JWT's `eyJ`,
/// `I` of an `AKIA`/`ASIA` key id). Written without early exits and with
/// byte-sized counters per block so that it vectorizes (about 10x faster
/// than a `usize` counter per byte).
#[inline]
pub(super) fn hints(b: &[u8]) -> Hints {
    let mut digits = 0usize;
    let (mut at, mut secret, mut jwt) = (0u8, 0u8, 0u8);
    for block in b.chunks(128) {
        let mut d = 0u8;
        for &c in block {
            d += u8::from(c.wrapping_sub(b'0') < 10);
            at |= u8::from(c == b'@') | u8::from(c == b'%');
            secret |= u8::from(c == b'=') | u8::from(c == b':') | u8::from(c == b'I');
            jwt |= u8::from(c == b'J');
        }
        digits += usize::from(d);
    }
    Hints {
        digits,
        maybe_email: at != 0,
        maybe_secret: secret | jwt != 0,
        jwt: jwt != 0,
    }
}

/// What [`hints`] found.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hints {
    pub digits: usize,
    pub maybe_email: bool,
    /// A `=`, `:`, `I` (as in `AKIA`) or `J`.
    pub maybe_secret: bool,
    /// A `J` (as in a JWT's `eyJ`).
    pub jwt: bool,
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
