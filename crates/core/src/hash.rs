//! One fast 64-bit hash of bytes for the whole crate: the alert windows'
//! sketches (distinct users) and the redactor's memo tables use it.

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;

fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast 64-bit hash of bytes (wyhash-style multiply-fold rounds and a
/// splitmix64 finalizer), stable across processes, platforms and versions:
/// sketches written by one build merge with those of another.
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut h = P0 ^ (bytes.len() as u64).wrapping_mul(P1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mum(h ^ u64::from_le_bytes(w), P1) ^ h.rotate_left(23);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        if let Some(head) = w.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        h = mum(h ^ u64::from_le_bytes(w), P2) ^ h.rotate_left(23);
    }
    // splitmix64 finalizer: full avalanche for the HLL's index and rank bits.
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
