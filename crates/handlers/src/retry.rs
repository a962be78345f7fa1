//! Retries with exponential backoff and full jitter, shared by every effect
//! that is retried record by record or item by item.

use std::time::Duration;

/// How retries back off.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

pub fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t | 1
}

/// Full jitter: uniform in [0, min(cap, base * 2^attempt)].
pub fn jitter(rng: &mut u64, b: Backoff, attempt: u32) -> Duration {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let ceiling = b.base.saturating_mul(1u32 << attempt.min(16)).min(b.cap);
    ceiling.mul_f64((*rng >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut rng = 42;
        for attempt in 0..40 {
            let d = jitter(&mut rng, Backoff::default(), attempt);
            assert!(d <= Duration::from_secs(5));
        }
    }
}
