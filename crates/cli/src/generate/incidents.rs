//! `--incidents`: the extra lines (and the silence) that make the shipped
//! alert rules fire at known points of the span, interleaved with the
//! ordinary lines without changing them.

use std::io::Write;

use super::Run;
use super::rng::Rng;

/// Incidents at fixed points of the span, for the shipped `alerts.toml` to
/// find (`loglake generate --incidents`, used by `make demo`). They come
/// from their own random stream, so the ordinary lines do not change:
///
/// - at 15% of the span, 10 minutes of checkout-web failing (502, "payment
///   gateway timeout while confirming order"): `checkout-error-rate`;
/// - at 35%, 10 minutes of slow payment-api captures (6-9 s) and gateway
///   timeouts: `payment-latency-p99`, `payment-gateway-errors`;
/// - at 50%, one FATAL line from payment-api: `any-fatal`;
/// - at 60%, 5 minutes of failed logins at auth-api: `auth-failures-spike`;
/// - at 80%, order-api silent for 15 minutes: `service-silent`.
#[derive(Debug)]
pub(super) struct Incidents {
    rng: Rng,
    at: [i64; 5],
    fatal_done: bool,
}

const MINUTE: i64 = 60_000;

impl Incidents {
    pub(super) fn new(seed: u64, run: &Run) -> Self {
        let at = |f: f64| run.start_ms + (run.span_ms as f64 * f) as i64;
        Incidents {
            rng: Rng::new(seed ^ 0x1c1d_e475),
            at: [at(0.15), at(0.35), at(0.5), at(0.6), at(0.8)],
            fatal_done: false,
        }
    }

    /// After ordinary line `i` (at `buf[start..]`): maybe drop it (a silent
    /// service), maybe add incident lines. Returns the lines added, minus
    /// one if the ordinary line was dropped.
    pub(super) fn after_line(&mut self, i: u64, run: &Run, buf: &mut Vec<u8>, start: usize) -> i64 {
        let t = run.start_ms.saturating_add(
            (i128::from(i) * i128::from(run.span_ms) / i128::from(run.total)) as i64,
        );
        let within = |from: i64, minutes: i64| t >= from && t < from + minutes * MINUTE;
        let mut added: i64 = 0;
        if within(self.at[4], 15) && contains(&buf[start..], b"\"service\":\"order-api\"") {
            buf.truncate(start);
            added -= 1;
        }
        if within(self.at[0], 10) && self.rng.f64() < 0.15 {
            self.push(
                buf,
                t,
                "ERROR",
                "checkout-web",
                "payment gateway timeout while confirming order",
                "POST",
                "/checkout/confirm",
                502,
                5000,
            );
            added += 1;
        }
        if within(self.at[1], 10) && self.rng.f64() < 0.12 {
            let ms = 6000 + self.rng.below(3000);
            if self.rng.f64() < 0.3 {
                self.push(
                    buf,
                    t,
                    "ERROR",
                    "payment-api",
                    "gateway timeout after 5000 ms",
                    "POST",
                    "/v1/payments/capture",
                    504,
                    ms,
                );
            } else {
                self.push(
                    buf,
                    t,
                    "INFO",
                    "payment-api",
                    "payment captured",
                    "POST",
                    "/v1/payments/capture",
                    200,
                    ms,
                );
            }
            added += 1;
        }
        if t >= self.at[2] && !self.fatal_done {
            self.push(
                buf,
                t,
                "FATAL",
                "payment-api",
                "out of memory: capture worker killed",
                "POST",
                "/v1/payments/capture",
                500,
                0,
            );
            self.fatal_done = true;
            added += 1;
        }
        if within(self.at[3], 5) && self.rng.f64() < 0.06 {
            self.push(
                buf,
                t,
                "WARN",
                "auth-api",
                "login failed: invalid credentials",
                "POST",
                "/v1/login",
                401,
                40,
            );
            added += 1;
        }
        added
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        buf: &mut Vec<u8>,
        t: i64,
        level: &str,
        service: &str,
        message: &str,
        method: &str,
        path: &str,
        status: u16,
        latency: u64,
    ) {
        let ts = loglake_core::time::format_rfc3339_ms(t + self.rng.range(-500, 500));
        let user = self.rng.below(50_000);
        let _ = write!(
            buf,
            "{{\"timestamp\":\"{ts}\",\"level\":\"{level}\",\"service\":\"{service}\",\"host\":\"{service}-incident\",\"message\":\"{message}\",\"method\":\"{method}\",\"path\":\"{path}\",\"status\":{status},\"latency_ms\":{latency},\"user_id\":\"u{user:06}\",\"trace_id\":\""
        );
        self.rng.push_hex(buf, 32);
        buf.extend_from_slice(b"\"}\n");
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
