//! The engine behind `loglake generate`: deterministic synthetic e-commerce
//! service logs as newline-delimited JSON.
//!
//! This module owns everything the generator needs and nothing else: its own
//! PRNG (no `rand` dependency), the value pools, the per-service event
//! templates, JSON string escaping, UTC timestamp formatting, malformed-line
//! injection and the `--bytes` size parser. Argument parsing, progress bars
//! and gzip belong to the caller, which hands us any `Write`.
//!
//! It is a port of `bench/gen_logs.py`: the same services and weights, fields,
//! field order, distributions and malformed kinds. The PRNG differs, so the
//! bytes differ from the Python script's, but the same seed and options always
//! give the same bytes here.

use std::io::{self, Write};

/// 2024-03-14T21:00:00Z: evening UTC, so the default span crosses midnight
/// into a second `dt=` partition.
const DEFAULT_START_MS: i64 = 1_710_450_000_000;
const DEFAULT_SPAN_HOURS: f64 = 6.0;
const DEFAULT_LINES: u64 = 1000;
/// Average line length, used to estimate the line count in `--bytes` mode so
/// the timestamps still spread over the whole span.
const AVG_LINE_BYTES: u64 = 610;
/// Large writes keep the per-call cost of a gzip encoder or file negligible.
const FLUSH_AT: usize = 1 << 20;

/// What to generate. `lines` and `bytes` are alternatives; when both are
/// given the first limit reached wins and `lines` drives the timestamp
/// spacing; when neither is given, 1000 lines.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    pub lines: Option<u64>,
    /// Stop at the first line boundary at or past this many uncompressed bytes.
    pub bytes: Option<u64>,
    pub seed: u64,
    /// Fraction of lines, 0.0..=1.0, replaced by one of the malformed kinds.
    pub malformed: f64,
    /// First timestamp, milliseconds since the Unix epoch, UTC.
    pub start_ms: i64,
    pub span_hours: f64,
    /// Add the incidents of [`Incidents`] (for demos of the alert rules);
    /// the ordinary lines stay exactly as without.
    pub incidents: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            lines: None,
            bytes: None,
            seed: 42,
            malformed: 0.0,
            start_ms: DEFAULT_START_MS,
            span_hours: DEFAULT_SPAN_HOURS,
            incidents: false,
        }
    }
}

/// What was written: lines (each ending in `\n`) and uncompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenStats {
    pub lines: u64,
    pub bytes: u64,
}

/// Writes the log lines to `out` and reports how much was written.
///
/// Fails with `InvalidInput` for a malformed fraction outside `0..=1` or a
/// negative or non-finite span, and with whatever error `out` returns.
pub fn generate(opts: &GenOptions, out: &mut dyn Write) -> io::Result<GenStats> {
    if !(0.0..=1.0).contains(&opts.malformed) {
        return Err(invalid(format!(
            "malformed fraction must be between 0 and 1, got {}",
            opts.malformed
        )));
    }
    if !opts.span_hours.is_finite() || opts.span_hours < 0.0 {
        return Err(invalid(format!(
            "span must be a non-negative number of hours, got {}",
            opts.span_hours
        )));
    }
    let line_limit = match (opts.lines, opts.bytes) {
        (None, None) => Some(DEFAULT_LINES),
        (lines, _) => lines,
    };
    let total = match (line_limit, opts.bytes) {
        (Some(n), _) => n.max(1),
        (None, Some(b)) => (b / AVG_LINE_BYTES).max(1),
        (None, None) => DEFAULT_LINES,
    };
    let run = Run {
        total,
        start_ms: opts.start_ms,
        span_ms: (opts.span_hours * 3_600_000.0) as i64,
        malformed: opts.malformed,
    };

    let mut rng = Rng::new(opts.seed);
    let pools = Pools::build(&mut rng);
    let mut g = Generator::new(rng, pools);
    let mut incidents = opts.incidents.then(|| Incidents::new(opts.seed, &run));
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let mut flushed: u64 = 0;
    let mut lines: u64 = 0;
    let mut written: u64 = 0;
    loop {
        if line_limit.is_some_and(|n| lines >= n) {
            break;
        }
        if opts.bytes.is_some_and(|b| flushed + buf.len() as u64 >= b) {
            break;
        }
        let start = buf.len();
        g.line(lines, &run, &mut buf);
        buf.push(b'\n');
        written += 1;
        if let Some(inc) = incidents.as_mut() {
            written = written.saturating_add_signed(inc.after_line(lines, &run, &mut buf, start));
        }
        lines += 1;
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            flushed += buf.len() as u64;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        out.write_all(&buf)?;
        flushed += buf.len() as u64;
    }
    Ok(GenStats {
        lines: written,
        bytes: flushed,
    })
}

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
pub struct Incidents {
    rng: Rng,
    at: [i64; 5],
    fatal_done: bool,
}

const MINUTE: i64 = 60_000;

impl Incidents {
    fn new(seed: u64, run: &Run) -> Self {
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
    fn after_line(&mut self, i: u64, run: &Run, buf: &mut Vec<u8>, start: usize) -> i64 {
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

/// Parses a size such as `1GiB`, `500MB`, `64k`, `1.5m` or `123` into bytes.
/// Single-letter suffixes are binary (`k` = 1024), as in the Python script.
pub fn parse_size(s: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 10] = [
        ("kib", 1 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("kb", 1_000),
        ("mb", 1_000_000),
        ("gb", 1_000_000_000),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
        ("b", 1),
    ];
    let lower = s.trim().to_ascii_lowercase();
    // Longest suffix first so "kb" is not read as "k" + stray "b".
    let (num, mult) = UNITS
        .iter()
        .find_map(|(u, m)| lower.strip_suffix(u).map(|n| (n.trim(), *m)))
        .unwrap_or((lower.as_str(), 1));
    let bad = || {
        format!(
            "invalid size {s:?}: expected a number with an optional unit (KiB MiB GiB KB MB GB k m g)"
        )
    };
    if num.is_empty() {
        return Err(bad());
    }
    // Integers stay exact; only fractional sizes go through f64.
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("size {s:?} is too large"));
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    let v = f * mult as f64;
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

// ------------------------------------------------------------------ constants

const SERVICES: [(&str, f64, usize); 9] = [
    // name, weight, host count
    ("catalog-api", 22.0, 12),
    ("search-api", 18.0, 10),
    ("cart-api", 14.0, 8),
    ("auth-api", 12.0, 6),
    ("order-api", 9.0, 6),
    ("checkout-web", 8.0, 8),
    ("payment-api", 6.0, 4),
    ("inventory-api", 6.0, 4),
    ("recommendation-api", 5.0, 6),
];
const CATALOG: usize = 0;
const SEARCH: usize = 1;
const CART: usize = 2;
const AUTH: usize = 3;
const ORDER: usize = 4;
const CHECKOUT: usize = 5;
const PAYMENT: usize = 6;
const INVENTORY: usize = 7;

const REGIONS: [(&str, f64); 6] = [
    ("us-east-1", 45.0),
    ("us-west-2", 20.0),
    ("eu-west-1", 20.0),
    ("eu-central-1", 8.0),
    ("ap-northeast-1", 5.0),
    ("sa-east-1", 2.0),
];

const CURRENCIES: [(&str, f64); 6] = [
    ("USD", 55.0),
    ("EUR", 25.0),
    ("GBP", 10.0),
    ("JPY", 5.0),
    ("BRL", 3.0),
    ("CHF", 2.0),
];

const PAYMENT_METHODS: [&str; 6] = [
    "card",
    "paypal",
    "apple_pay",
    "google_pay",
    "klarna",
    "bank_transfer",
];

/// Deliberately awkward for parsers: unicode in several scripts, an astral
/// emoji, quotes, a backslash and a tab.
const SEARCH_TERMS: [&str; 31] = [
    "running shoes",
    "wireless earbuds",
    "4k tv 55\"",
    "café au lait mug",
    "naïve art print",
    "über soft blanket",
    "日本茶 セット",
    "кроссовки",
    "lego star wars",
    "iphone 15 case",
    "usb-c cable 2m",
    "crème brûlée torch",
    "\"organic\" coffee beans",
    "kid's backpack",
    "50% off jackets",
    "smörgåsbord plates",
    "señor frog t-shirt",
    "🎧 headphones",
    "ps5",
    "back\\slash adapter",
    "tab\tseparated",
    "garden hose 25ft",
    "yoga mat",
    "protein powder",
    "mechanical keyboard",
    "standing desk",
    "air fryer",
    "北京 烤鸭 pan",
    "bicicleta",
    "naturkosmetik",
    "große tasche",
];

const USER_AGENTS: [(&str, f64); 12] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        22.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
        14.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Mobile/15E148 Safari/604.1",
        18.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.105 Mobile Safari/537.36",
        14.0,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
        6.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.66",
        7.0,
    ),
    (
        "ShopApp/5.12.0 (iOS 17.3; iPhone14,2) CFNetwork/1490.0.4 Darwin/23.2.0",
        9.0,
    ),
    ("ShopApp/5.11.3 (Android 13; SM-S911B) okhttp/4.12.0", 6.0),
    ("okhttp/4.12.0", 2.0),
    ("python-requests/2.31.0", 1.0),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", 1.0),
    ("curl/8.5.0", 0.5),
];

const LEVELS: [(&str, f64); 4] = [
    ("INFO", 78.0),
    ("DEBUG", 11.0),
    ("WARN", 8.0),
    ("ERROR", 3.0),
];
const DEBUG: usize = 1;
const WARN: usize = 2;
const ERROR: usize = 3;

struct ErrorKind {
    etype: &'static str,
    emsg: &'static str,
    /// `{svc}` is replaced by the service name without dashes.
    frames: &'static [&'static str],
}

const ERRORS: [ErrorKind; 6] = [
    ErrorKind {
        etype: "java.net.SocketTimeoutException",
        emsg: "Read timed out after 5000 ms",
        frames: &[
            "at java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
            "at okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders(Http1ExchangeCodec.kt:180)",
            "at com.shop.{svc}.client.UpstreamClient.call(UpstreamClient.java:88)",
            "at com.shop.{svc}.handler.RequestHandler.handle(RequestHandler.java:142)",
        ],
    },
    ErrorKind {
        etype: "org.postgresql.util.PSQLException",
        emsg: "ERROR: deadlock detected\n  Detail: Process 4121 waits for ShareLock on transaction 99812",
        frames: &[
            "at org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2676)",
            "at com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeUpdate(HikariProxyPreparedStatement.java)",
            "at com.shop.{svc}.repo.OrderRepository.save(OrderRepository.java:57)",
        ],
    },
    ErrorKind {
        etype: "NullPointerException",
        emsg: "Cannot invoke \"String.length()\" because \"sku\" is null",
        frames: &[
            "at com.shop.{svc}.service.PriceService.lookup(PriceService.java:203)",
            "at com.shop.{svc}.service.CartService.addItem(CartService.java:77)",
        ],
    },
    ErrorKind {
        etype: "TypeError",
        emsg: "Cannot read properties of undefined (reading 'total')",
        frames: &[
            "at CheckoutSummary.render (/app/dist/server.js:18211:42)",
            "at renderWithHooks (/app/node_modules/react-dom/cjs/react-dom-server.node.js:5662:16)",
            "at async handler (/app/dist/server.js:201:5)",
        ],
    },
    ErrorKind {
        etype: "redis.exceptions.ConnectionError",
        emsg: "Error 111 connecting to cache-01:6379. Connection refused.",
        frames: &[
            "File \"/app/{svc}/cache.py\", line 42, in get",
            "    return self._client.get(key)",
            "File \"/usr/local/lib/python3.11/site-packages/redis/connection.py\", line 707, in connect",
        ],
    },
    ErrorKind {
        etype: "PaymentGatewayError",
        emsg: "gateway returned 502: upstream “acquirer” unavailable",
        frames: &[
            "at PaymentGateway.capture (payment/gateway.go:311)",
            "at main.(*Server).handleCapture (payment/server.go:129)",
        ],
    },
];

/// Repeated values stand in for weights: 200 dominates successes, 404 client
/// errors, 500/503 server errors.
const STATUS_OK: [u16; 23] = [
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200,
    200, 201, 204, 304,
];
const STATUS_WARN: [u16; 9] = [400, 401, 403, 404, 404, 404, 409, 422, 429];
const STATUS_ERR: [u16; 6] = [500, 500, 502, 503, 503, 504];

/// (text before the hex key, text after it).
const DEBUG_MSGS: [(&str, &str); 5] = [
    ("cache hit for key ", ""),
    ("cache miss for key ", ""),
    ("feature flag evaluated: ", ""),
    ("db query took ", " ms"),
    ("retrying upstream call (", ")"),
];

const CATEGORIES: [&str; 6] = [
    "shoes",
    "electronics",
    "home-garden",
    "toys",
    "beauty",
    "sports",
];
const LANGS: [&str; 5] = ["en", "de", "ja", "es", "fr"];
const ORDER_STATES: [&str; 5] = ["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"];
const COUNTRIES: [&str; 7] = ["US", "DE", "GB", "JP", "BR", "FR", "ES"];
const DECLINES: [&str; 4] = [
    "card declined: insufficient funds",
    "card declined: do_not_honor",
    "3-D Secure challenge failed",
    "gateway timeout, will retry (attempt 2/3)",
];
const PAYMENT_OK: [&str; 3] = ["payment authorized", "payment captured", "refund issued"];
const WAREHOUSES: [&str; 4] = ["FRA1", "IAD2", "PDX1", "NRT1"];
const RECO_SLOTS: [&str; 3] = ["home", "pdp", "cart"];
const IP_FIRST_OCTETS: [u64; 10] = [3, 18, 34, 52, 54, 81, 92, 100, 185, 203];
const SKU_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const FIRST_NAMES: [&str; 8] = [
    "anna", "li", "josé", "mohammed", "ólafur", "sara", "kenji", "o'brien",
];
const LAST_NAMES: [&str; 6] = ["smith", "müller", "garcía", "nguyen", "kowalski", "tanaka"];
const MAIL_DOMAINS: [&str; 4] = ["gmail.com", "example.org", "web.de", "yahoo.co.jp"];

// ----------------------------------------------------------------------- PRNG

/// xoshiro256** seeded through SplitMix64: fast, small, and stable across
/// platforms and Rust versions, which is what determinism per seed needs.
#[derive(Debug, Clone)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Self {
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
    fn below(&mut self, n: u64) -> u64 {
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

    fn idx(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..hi`, like Python's `randrange(lo, hi)`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo)) as i64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.idx(items.len())]
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box-Muller; only used while building pools, so
    /// discarding the second variate costs nothing that matters.
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1], keeps ln finite
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// `n` random lowercase hex digits, like Python's `"%0*x" % (n, getrandbits(4 * n))`.
    fn push_hex(&mut self, out: &mut Vec<u8>, n: usize) {
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
fn weighted_table(rng: &mut Rng, weights: &[f64], size: usize) -> Vec<u8> {
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

// ------------------------------------------------------------ output helpers

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_padded(out, v, 1);
}

/// Decimal, zero-padded to at least `width` digits (`"%0*d"`).
fn push_padded(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let i = i.min(tmp.len().saturating_sub(width));
    out.extend_from_slice(&tmp[i..]);
}

/// Minimal-width lowercase hex (`"%x"`).
fn push_hex_u64(out: &mut Vec<u8>, v: u64) {
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for j in (0..digits).rev() {
        out.push(HEX[((v >> (4 * j)) & 15) as usize]);
    }
}

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 15) as usize]);
    }
}

/// Decodes the scalar value starting at `s[0]`, a UTF-8 lead byte >= 0x80.
/// Input always comes from `&str`s, so it is valid; on a broken tail this
/// degrades instead of panicking.
fn decode_utf8(s: &[u8]) -> (u32, usize) {
    let b0 = u32::from(s[0]);
    let cont = |k: usize| u32::from(s.get(k).copied().unwrap_or(0x80) & 0x3F);
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// Appends `s` (UTF-8) as a JSON string literal, escaping exactly as Python's
/// `json.dumps`: `\"`, `\\`, short forms for `\b \f \n \r \t`, `\u00XX` for
/// other control characters, and with `ascii_only` every non-ASCII scalar as
/// `\uXXXX` (surrogate pairs above U+FFFF) plus DEL. Real producers emit both
/// forms, so the pipeline must read both.
fn push_json_str(out: &mut Vec<u8>, s: &[u8], ascii_only: bool) {
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let plain = if b >= 0x80 {
            !ascii_only
        } else {
            b >= 0x20 && b != b'"' && b != b'\\' && !(ascii_only && b == 0x7F)
        };
        if plain {
            i += 1;
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                _ => push_u_escape(out, u32::from(b)),
            }
            i += 1;
        } else {
            let (cp, len) = decode_utf8(&s[i..]);
            if cp >= 0x1_0000 {
                let v = cp - 0x1_0000;
                push_u_escape(out, 0xD800 | (v >> 10));
                push_u_escape(out, 0xDC00 | (v & 0x3FF));
            } else {
                push_u_escape(out, cp);
            }
            i = (i + len).min(s.len());
        }
        run = i;
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d),
/// valid for negative days too.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u64, d as u64)
}

/// `YYYY-MM-DD<sep>HH:MM:SS` in UTC.
fn push_datetime(out: &mut Vec<u8>, secs: i64, sep: u8) {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    if y < 0 {
        out.push(b'-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, mo, 2);
    out.push(b'-');
    push_padded(out, d, 2);
    out.push(sep);
    push_padded(out, sod / 3600, 2);
    out.push(b':');
    push_padded(out, sod / 60 % 60, 2);
    out.push(b':');
    push_padded(out, sod % 60, 2);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace_once(v: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    if let Some(p) = find(v, from) {
        v.splice(p..p + from.len(), to.iter().copied());
    }
}

// ---------------------------------------------------------------- pools

/// Many short byte strings in one allocation, so per-line lookups stay in a
/// few cache-friendly arrays instead of thousands of small heap blocks.
#[derive(Debug, Default)]
struct Pool {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Pool {
    fn count(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    fn push_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.data);
        self.ends.push(self.data.len());
    }

    fn push_json(&mut self, s: &[u8], ascii_only: bool) {
        self.push_with(|d| push_json_str(d, s, ascii_only));
    }
}

struct Stack {
    etype_json: Vec<u8>,
    trace_json: Vec<u8>,
    first_line: &'static str,
}

/// Every value that can be encoded once is encoded up front, as in the
/// Python script: per line we only draw indices and copy bytes.
struct Pools {
    users: Pool,
    sessions: Pool,
    ips: Pool,
    uas: Pool,
    ua_tab: Vec<u8>,
    regions: Pool,
    region_tab: Vec<u8>,
    currencies: Pool,
    cur_tab: Vec<u8>,
    level_tab: Vec<u8>,
    /// Raw (unquoted); SKUs are plain ASCII so they need no escaping.
    skus: Pool,
    hosts: Vec<Pool>,
    services: Pool,
    svc_tab: Vec<u8>,
    latency: Vec<u32>,
    bytes_sent: Vec<u64>,
    /// Raw decimal text with two places.
    amounts: Pool,
    /// Raw UTF-8; they go into messages, which are escaped per line.
    emails: Pool,
    stacks: Vec<Stack>,
    /// `[non-ASCII-preserving, ASCII-only]` encodings of `SEARCH_TERMS`.
    search: [Pool; 2],
}

impl Pools {
    fn build(r: &mut Rng) -> Self {
        let mut tmp = Vec::new();

        let mut users = Pool::default();
        for _ in 0..20_000 {
            tmp.clear();
            tmp.extend_from_slice(b"u_");
            push_padded(&mut tmp, r.below(100_000_000), 8);
            users.push_json(&tmp, false);
        }

        let mut sessions = Pool::default();
        for _ in 0..40_000 {
            tmp.clear();
            r.push_hex(&mut tmp, 24);
            sessions.push_json(&tmp, false);
        }

        let mut ips = Pool::default();
        for _ in 0..15_000 {
            tmp.clear();
            push_u64(&mut tmp, IP_FIRST_OCTETS[r.idx(IP_FIRST_OCTETS.len())]);
            tmp.push(b'.');
            push_u64(&mut tmp, r.below(256));
            tmp.push(b'.');
            push_u64(&mut tmp, r.below(256));
            tmp.push(b'.');
            push_u64(&mut tmp, 1 + r.below(254));
            ips.push_json(&tmp, false);
        }
        // a few IPv6 clients
        for _ in 0..1_500 {
            tmp.clear();
            tmp.extend_from_slice(b"2a02:");
            push_hex_u64(&mut tmp, r.below(65_536));
            tmp.push(b':');
            push_hex_u64(&mut tmp, r.below(65_536));
            tmp.extend_from_slice(b"::");
            push_hex_u64(&mut tmp, r.below(65_536));
            ips.push_json(&tmp, false);
        }

        let mut uas = Pool::default();
        for (ua, _) in USER_AGENTS {
            uas.push_json(ua.as_bytes(), false);
        }
        let ua_tab = weighted_table(r, &USER_AGENTS.map(|(_, w)| w), 4096);

        let mut regions = Pool::default();
        for (x, _) in REGIONS {
            regions.push_json(x.as_bytes(), false);
        }
        let region_tab = weighted_table(r, &REGIONS.map(|(_, w)| w), 4096);

        let mut currencies = Pool::default();
        for (x, _) in CURRENCIES {
            currencies.push_json(x.as_bytes(), false);
        }
        let cur_tab = weighted_table(r, &CURRENCIES.map(|(_, w)| w), 4096);

        let level_tab = weighted_table(r, &LEVELS.map(|(_, w)| w), 8192);

        let mut skus = Pool::default();
        for _ in 0..5_000 {
            let letter = SKU_LETTERS[r.idx(SKU_LETTERS.len())];
            let n = r.below(100_000);
            skus.push_with(|d| {
                d.extend_from_slice(b"SKU-");
                d.extend_from_slice(&[letter, letter, b'-']);
                push_padded(d, n, 5);
            });
        }

        let mut hosts = Vec::with_capacity(SERVICES.len());
        for (name, _, n) in SERVICES {
            let mut pool = Pool::default();
            for _ in 0..n {
                tmp.clear();
                tmp.extend_from_slice(name.as_bytes());
                tmp.push(b'-');
                r.push_hex(&mut tmp, 9);
                tmp.push(b'-');
                r.push_hex(&mut tmp, 5);
                pool.push_json(&tmp, false);
            }
            hosts.push(pool);
        }

        let mut services = Pool::default();
        for (name, _, _) in SERVICES {
            services.push_json(name.as_bytes(), false);
        }
        let svc_tab = weighted_table(r, &SERVICES.map(|(_, w, _)| w), 8192);

        // Long-tailed latency: a log-normal body (median ~27 ms) plus a 1%
        // heavy tail for GC pauses and timeouts.
        let latency = (0..65_536)
            .map(|_| {
                let mut v = r.lognormal(3.3, 0.9);
                if r.f64() < 0.01 {
                    v *= 10.0 + 190.0 * r.f64();
                }
                (v as i64).clamp(1, 30_000) as u32
            })
            .collect();
        let bytes_sent = (0..8192).map(|_| r.lognormal(7.5, 1.2) as u64).collect();

        let mut amounts = Pool::default();
        for _ in 0..8192 {
            let v = r.lognormal(4.0, 1.0);
            amounts.push_with(|d| d.extend_from_slice(format!("{v:.2}").as_bytes()));
        }

        let mut emails = Pool::default();
        for _ in 0..3_000 {
            let first = r.pick(&FIRST_NAMES);
            let last = r.pick(&LAST_NAMES);
            let n = r.below(100);
            let domain = r.pick(&MAIL_DOMAINS);
            emails.push_with(|d| {
                d.extend_from_slice(first.as_bytes());
                d.push(b'.');
                d.extend_from_slice(last.as_bytes());
                push_u64(d, n);
                d.push(b'@');
                d.extend_from_slice(domain.as_bytes());
            });
        }

        let mut stacks = Vec::with_capacity(ERRORS.len() * SERVICES.len());
        for e in &ERRORS {
            for (name, _, _) in SERVICES {
                let svc = name.replace('-', "");
                let frames: Vec<String> =
                    e.frames.iter().map(|f| f.replace("{svc}", &svc)).collect();
                let trace = format!("{}: {}\n\t{}", e.etype, e.emsg, frames.join("\n\t"));
                let mut etype_json = Vec::new();
                push_json_str(&mut etype_json, e.etype.as_bytes(), false);
                let mut trace_json = Vec::new();
                push_json_str(&mut trace_json, trace.as_bytes(), false);
                stacks.push(Stack {
                    etype_json,
                    trace_json,
                    first_line: e.emsg.split('\n').next().unwrap_or(e.emsg),
                });
            }
        }

        let mut search = [Pool::default(), Pool::default()];
        for (mode, pool) in search.iter_mut().enumerate() {
            for q in SEARCH_TERMS {
                pool.push_json(q.as_bytes(), mode == 1);
            }
        }

        Self {
            users,
            sessions,
            ips,
            uas,
            ua_tab,
            regions,
            region_tab,
            currencies,
            cur_tab,
            level_tab,
            skus,
            hosts,
            services,
            svc_tab,
            latency,
            bytes_sent,
            amounts,
            emails,
            stacks,
            search,
        }
    }
}

// ------------------------------------------------------------- generator

/// Per-run constants for the timestamp and malformed decisions.
struct Run {
    total: u64,
    start_ms: i64,
    span_ms: i64,
    malformed: f64,
}

struct Generator {
    rng: Rng,
    p: Pools,
    // Scratch buffers reused for every line so the hot loop never allocates.
    msg: Vec<u8>,
    path: Vec<u8>,
    extra: Vec<u8>,
    tmp: Vec<u8>,
    /// Most lines share their second with the previous line; formatting the
    /// date once per second is the cheap part of the line.
    ts_sec: i64,
    ts_prefix: Vec<u8>,
}

fn push_sku_field(extra: &mut Vec<u8>, sku: &[u8]) {
    extra.extend_from_slice(b",\"sku\":\"");
    extra.extend_from_slice(sku);
    extra.push(b'"');
}

fn push_order_id(out: &mut Vec<u8>, rng: &mut Rng) {
    out.extend_from_slice(b"ord_");
    push_padded(out, rng.below(10_000_000_000), 10);
}

fn push_order_field(extra: &mut Vec<u8>, oid: &[u8]) {
    extra.extend_from_slice(b",\"order_id\":\"");
    extra.extend_from_slice(oid);
    extra.push(b'"');
}

fn push_money(extra: &mut Vec<u8>, rng: &mut Rng, p: &Pools) {
    extra.extend_from_slice(b",\"amount\":");
    extra.extend_from_slice(p.amounts.get(rng.idx(p.amounts.count())));
    extra.extend_from_slice(b",\"currency\":");
    let c = p.cur_tab[rng.idx(p.cur_tab.len())] as usize;
    extra.extend_from_slice(p.currencies.get(c));
}

fn push_payment_method(extra: &mut Vec<u8>, pm: &str) {
    extra.extend_from_slice(b",\"payment_method\":\"");
    extra.extend_from_slice(pm.as_bytes());
    extra.push(b'"');
}

impl Generator {
    fn new(rng: Rng, p: Pools) -> Self {
        Self {
            rng,
            p,
            msg: Vec::with_capacity(256),
            path: Vec::with_capacity(128),
            extra: Vec::with_capacity(2048),
            tmp: Vec::with_capacity(256),
            ts_sec: i64::MIN,
            ts_prefix: Vec::with_capacity(24),
        }
    }

    /// Fills `path`, `msg` (raw UTF-8) and `extra` (ready JSON
    /// `,"key":value` pairs) for one request to `svc`; returns the method.
    fn event(&mut self, svc: usize, level: usize) -> &'static str {
        let Self {
            rng,
            p,
            msg,
            path,
            extra,
            tmp,
            ..
        } = self;
        msg.clear();
        path.clear();
        extra.clear();
        tmp.clear();
        let failing = level == WARN || level == ERROR;
        match svc {
            CATALOG => {
                let s = p.skus.get(rng.idx(p.skus.count()));
                if rng.f64() < 0.7 {
                    path.extend_from_slice(b"/v1/products/");
                    path.extend_from_slice(s);
                    msg.extend_from_slice(b"product detail served sku=");
                    msg.extend_from_slice(s);
                    push_sku_field(extra, s);
                } else {
                    let cat = rng.pick(&CATEGORIES);
                    path.extend_from_slice(b"/v1/categories/");
                    path.extend_from_slice(cat.as_bytes());
                    path.extend_from_slice(b"/products?page=");
                    push_u64(path, 1 + rng.below(39));
                    msg.extend_from_slice(b"category listing rendered: ");
                    msg.extend_from_slice(cat.as_bytes());
                }
                "GET"
            }
            SEARCH => {
                let qi = rng.idx(SEARCH_TERMS.len());
                let q = SEARCH_TERMS[qi];
                let n = if rng.f64() > 0.06 { rng.below(480) } else { 0 };
                let ascii = usize::from(rng.f64() < 0.3);
                extra.extend_from_slice(b",\"query\":");
                extra.extend_from_slice(p.search[ascii].get(qi));
                extra.extend_from_slice(b",\"results\":");
                push_u64(extra, n);
                msg.extend_from_slice(b"search q=\"");
                msg.extend_from_slice(q.as_bytes());
                if n > 0 {
                    msg.extend_from_slice(b"\" returned ");
                    push_u64(msg, n);
                    msg.extend_from_slice(b" hits");
                } else {
                    msg.extend_from_slice(b"\" returned no results");
                }
                path.extend_from_slice(b"/v1/search?q=");
                path.extend(q.bytes().map(|b| if b == b' ' { b'+' } else { b }));
                path.extend_from_slice(b"&lang=");
                path.extend_from_slice(rng.pick(&LANGS).as_bytes());
                "GET"
            }
            CART => {
                let s = p.skus.get(rng.idx(p.skus.count()));
                rng.push_hex(tmp, 16); // cart id
                let qty = if rng.f64() < 0.8 { 1 } else { 2 + rng.below(4) };
                path.extend_from_slice(b"/v1/carts/");
                path.extend_from_slice(tmp);
                path.extend_from_slice(b"/items");
                if rng.f64() < 0.75 {
                    msg.extend_from_slice(b"added ");
                    push_u64(msg, qty);
                    msg.extend_from_slice(b" x ");
                    msg.extend_from_slice(s);
                    msg.extend_from_slice(b" to cart");
                    push_sku_field(extra, s);
                    extra.extend_from_slice(b",\"quantity\":");
                    push_u64(extra, qty);
                    "POST"
                } else {
                    path.push(b'/');
                    path.extend_from_slice(s);
                    msg.extend_from_slice(b"removed ");
                    msg.extend_from_slice(s);
                    msg.extend_from_slice(b" from cart");
                    push_sku_field(extra, s);
                    "DELETE"
                }
            }
            AUTH => {
                let x = rng.f64();
                if x < 0.55 {
                    let e = p.emails.get(rng.idx(p.emails.count()));
                    path.extend_from_slice(b"/v1/auth/login");
                    if failing {
                        msg.extend_from_slice(b"invalid credentials for user \"");
                        msg.extend_from_slice(e);
                        msg.push(b'"');
                    } else {
                        msg.extend_from_slice(b"user login succeeded for ");
                        msg.extend_from_slice(e);
                    }
                    "POST"
                } else if x < 0.85 {
                    path.extend_from_slice(b"/v1/auth/token/refresh");
                    msg.extend_from_slice(b"access token refreshed (ttl=900s)");
                    "POST"
                } else {
                    path.extend_from_slice(b"/v1/users/u_");
                    push_padded(path, rng.below(100_000_000), 8);
                    path.extend_from_slice(b"/profile");
                    msg.extend_from_slice(b"profile fetched");
                    "GET"
                }
            }
            ORDER => {
                push_order_id(tmp, rng);
                push_order_field(extra, tmp);
                if rng.f64() < 0.6 {
                    let n = 1 + rng.below(7);
                    path.extend_from_slice(b"/v1/orders");
                    msg.extend_from_slice(b"order ");
                    msg.extend_from_slice(tmp);
                    msg.extend_from_slice(b" created with ");
                    push_u64(msg, n);
                    msg.extend_from_slice(if n > 1 { b" line items" } else { b" line item" });
                    push_money(extra, rng, p);
                    "POST"
                } else {
                    path.extend_from_slice(b"/v1/orders/");
                    path.extend_from_slice(tmp);
                    msg.extend_from_slice(b"order status lookup: ");
                    msg.extend_from_slice(rng.pick(&ORDER_STATES).as_bytes());
                    "GET"
                }
            }
            CHECKOUT => {
                push_order_id(tmp, rng);
                let pm = rng.pick(&PAYMENT_METHODS);
                let step = rng.f64();
                if step < 0.4 {
                    path.extend_from_slice(b"/checkout/cart");
                    msg.extend_from_slice(b"checkout started");
                    "GET"
                } else if step < 0.7 {
                    path.extend_from_slice(b"/checkout/shipping");
                    msg.extend_from_slice(b"shipping address validated (country=");
                    msg.extend_from_slice(rng.pick(&COUNTRIES).as_bytes());
                    msg.push(b')');
                    "POST"
                } else {
                    path.extend_from_slice(b"/checkout/confirm");
                    msg.extend_from_slice("checkout completed ✔ order=".as_bytes());
                    msg.extend_from_slice(tmp);
                    push_order_field(extra, tmp);
                    push_money(extra, rng, p);
                    push_payment_method(extra, pm);
                    "POST"
                }
            }
            PAYMENT => {
                path.extend_from_slice(b"/v1/payments/pay_");
                rng.push_hex(path, 20);
                path.extend_from_slice(b"/capture");
                push_order_id(tmp, rng);
                let text = if failing {
                    rng.pick(&DECLINES)
                } else {
                    rng.pick(&PAYMENT_OK)
                };
                msg.extend_from_slice(text.as_bytes());
                push_order_field(extra, tmp);
                push_money(extra, rng, p);
                push_payment_method(extra, rng.pick(&PAYMENT_METHODS));
                "POST"
            }
            INVENTORY => {
                let s = p.skus.get(rng.idx(p.skus.count()));
                let left = rng.below(500);
                if left < 5 {
                    msg.extend_from_slice(b"low stock for ");
                    msg.extend_from_slice(s);
                    msg.extend_from_slice(b": ");
                    push_u64(msg, left);
                    msg.extend_from_slice(b" units left in warehouse ");
                    msg.extend_from_slice(rng.pick(&WAREHOUSES).as_bytes());
                } else {
                    msg.extend_from_slice(b"stock reserved for ");
                    msg.extend_from_slice(s);
                }
                path.extend_from_slice(b"/v1/inventory/");
                path.extend_from_slice(s);
                path.extend_from_slice(b"/reserve");
                push_sku_field(extra, s);
                extra.extend_from_slice(b",\"quantity\":");
                push_u64(extra, 1 + rng.below(3));
                "PUT"
            }
            _ => {
                path.extend_from_slice(b"/v1/recommendations?user=u_");
                push_padded(path, rng.below(100_000_000), 8);
                path.extend_from_slice(b"&slot=");
                path.extend_from_slice(rng.pick(&RECO_SLOTS).as_bytes());
                msg.extend_from_slice(b"served ");
                push_u64(msg, 4 + rng.below(20));
                msg.extend_from_slice(b" recommendations (model=v");
                push_u64(msg, 1 + rng.below(3));
                msg.push(b'.');
                push_u64(msg, rng.below(10));
                msg.push(b')');
                "GET"
            }
        }
    }

    fn push_timestamp(&mut self, out: &mut Vec<u8>, t_ms: i64) {
        let sec = t_ms.div_euclid(1000);
        if sec != self.ts_sec {
            self.ts_sec = sec;
            self.ts_prefix.clear();
            push_datetime(&mut self.ts_prefix, sec, b'T');
        }
        out.push(b'"');
        out.extend_from_slice(&self.ts_prefix);
        out.push(b'.');
        push_padded(out, t_ms.rem_euclid(1000) as u64, 3);
        out.extend_from_slice(b"Z\"");
    }

    /// Appends line `i` (without its newline) to `buf`.
    fn line(&mut self, i: u64, run: &Run, buf: &mut Vec<u8>) {
        // Monotone base plus small jitter; ~0.5% of lines arrive late (up to
        // 90 s), as records do when a producer retries or buffers.
        let offset = i128::from(i) * i128::from(run.span_ms) / i128::from(run.total);
        let mut t = run.start_ms.saturating_add(offset as i64) + self.rng.range(-40, 40);
        if self.rng.f64() < 0.005 {
            t -= self.rng.range(1000, 90_000);
        }
        let level = self.p.level_tab[self.rng.idx(self.p.level_tab.len())] as usize;
        let svc = self.p.svc_tab[self.rng.idx(self.p.svc_tab.len())] as usize;
        let method = self.event(svc, level);

        let rng = &mut self.rng;
        let status = match level {
            ERROR if rng.f64() < 0.85 => STATUS_ERR[rng.idx(STATUS_ERR.len())],
            ERROR => STATUS_WARN[rng.idx(STATUS_WARN.len())],
            WARN if rng.f64() < 0.8 => STATUS_WARN[rng.idx(STATUS_WARN.len())],
            _ => STATUS_OK[rng.idx(STATUS_OK.len())],
        };
        if level == DEBUG {
            let (pre, post) = DEBUG_MSGS[rng.idx(DEBUG_MSGS.len())];
            self.tmp.clear();
            self.tmp.extend_from_slice(pre.as_bytes());
            rng.push_hex(&mut self.tmp, 8);
            self.tmp.extend_from_slice(post.as_bytes());
            self.tmp.extend_from_slice(b" | ");
            self.tmp.extend_from_slice(&self.msg);
            std::mem::swap(&mut self.msg, &mut self.tmp);
        }
        if level == ERROR {
            // Any service may hit any error kind, as in the Python script.
            let st = &self.p.stacks[rng.idx(self.p.stacks.len())];
            self.msg.clear();
            self.msg.extend_from_slice(b"request failed: ");
            self.msg.extend_from_slice(st.first_line.as_bytes());
            if rng.f64() < 0.7 {
                self.extra.extend_from_slice(b",\"error_type\":");
                self.extra.extend_from_slice(&st.etype_json);
                self.extra.extend_from_slice(b",\"stack_trace\":");
                self.extra.extend_from_slice(&st.trace_json);
            }
        }
        let mut latency = u64::from(self.p.latency[rng.idx(self.p.latency.len())]);
        if status >= 500 {
            // Server errors include the time spent waiting on what failed.
            latency += 100 + rng.below(4900);
        }

        let start = buf.len();
        buf.extend_from_slice(b"{\"timestamp\":");
        self.push_timestamp(buf, t);
        let rng = &mut self.rng;
        let p = &self.p;
        buf.extend_from_slice(b",\"level\":\"");
        buf.extend_from_slice(LEVELS[level].0.as_bytes());
        buf.extend_from_slice(b"\",\"service\":");
        buf.extend_from_slice(p.services.get(svc));
        buf.extend_from_slice(b",\"host\":");
        let hosts = &p.hosts[svc];
        buf.extend_from_slice(hosts.get(rng.idx(hosts.count())));
        buf.extend_from_slice(b",\"message\":");
        push_json_str(buf, &self.msg, rng.f64() < 0.25);
        buf.extend_from_slice(b",\"method\":\"");
        buf.extend_from_slice(method.as_bytes());
        buf.extend_from_slice(b"\",\"path\":");
        push_json_str(buf, &self.path, false);
        buf.extend_from_slice(b",\"status\":");
        push_u64(buf, u64::from(status));
        buf.extend_from_slice(b",\"latency_ms\":");
        push_u64(buf, latency);
        buf.extend_from_slice(b",\"bytes_sent\":");
        push_u64(buf, p.bytes_sent[rng.idx(p.bytes_sent.len())]);
        buf.extend_from_slice(b",\"user_id\":");
        if rng.f64() > 0.08 {
            buf.extend_from_slice(p.users.get(rng.idx(p.users.count())));
        } else {
            buf.extend_from_slice(b"null");
        }
        buf.extend_from_slice(b",\"session_id\":");
        buf.extend_from_slice(p.sessions.get(rng.idx(p.sessions.count())));
        buf.extend_from_slice(b",\"trace_id\":\"");
        rng.push_hex(buf, 32);
        buf.extend_from_slice(b"\",\"span_id\":\"");
        rng.push_hex(buf, 16);
        buf.extend_from_slice(b"\",\"ip\":");
        buf.extend_from_slice(p.ips.get(rng.idx(p.ips.count())));
        buf.extend_from_slice(b",\"user_agent\":");
        buf.extend_from_slice(p.uas.get(p.ua_tab[rng.idx(p.ua_tab.len())] as usize));
        buf.extend_from_slice(b",\"region\":");
        buf.extend_from_slice(
            p.regions
                .get(p.region_tab[rng.idx(p.region_tab.len())] as usize),
        );
        buf.extend_from_slice(&self.extra);
        buf.push(b'}');

        if run.malformed > 0.0 && rng.f64() < run.malformed {
            self.corrupt(buf, start, run);
        }
    }

    /// Turns the good line at `buf[start..]` into one of the kinds of bad
    /// input real log pipelines receive.
    fn corrupt(&mut self, buf: &mut Vec<u8>, start: usize, run: &Run) {
        let rng = &mut self.rng;
        // The Python script pins these to 20000 s after its default start;
        // we follow the configured start so they stay near the real data.
        let base_sec = run.start_ms.div_euclid(1000);
        match rng.below(6) {
            0 => {
                // Truncated JSON: a Firehose record split or a crash mid-write.
                // Cut on a char boundary so the line stays valid UTF-8: this
                // kind is about JSON, invalid UTF-8 is a different failure.
                let len = buf.len() - start;
                let cut = rng.range(1, (len as i64 - 1).max(2)) as usize;
                let mut end = start + cut;
                while end > start + 1 && buf[end] & 0xC0 == 0x80 {
                    end -= 1;
                }
                buf.truncate(end);
            }
            1 => {
                // Plain text from a non-JSON logger.
                buf.truncate(start);
                push_datetime(buf, base_sec + rng.range(0, 20_000), b' ');
                buf.extend_from_slice(
                    b" ERROR [main] c.s.Application - Unhandled exception in worker-",
                );
                push_u64(buf, rng.below(16));
            }
            2 => {
                // A stack-trace continuation line from a multi-line logger.
                buf.truncate(start);
                buf.extend_from_slice(b"\tat com.shop.Worker.run(Worker.java:");
                push_u64(buf, rng.below(1000));
                buf.push(b')');
            }
            3 => {
                // Wrong types: status as a string, latency as text.
                let mut line = buf.split_off(start);
                replace_once(&mut line, b"\"status\":", b"\"status\":\"");
                replace_once(&mut line, b",\"latency_ms\":", b"\",\"latency_ms\":\"slow-");
                replace_once(&mut line, b",\"bytes_sent\"", b"\",\"bytes_sent\"");
                buf.extend_from_slice(&line);
            }
            4 => {
                // Wrong type: timestamp as an epoch number.
                let key = b"\"timestamp\":";
                if let Some(k) = find(&buf[start..], key) {
                    let i = start + k + key.len();
                    if let Some(e) = buf[i..].iter().position(|&b| b == b',') {
                        let mut num = Vec::with_capacity(12);
                        let epoch = base_sec + rng.range(0, 20_000);
                        if epoch < 0 {
                            num.push(b'-');
                        }
                        push_u64(&mut num, epoch.unsigned_abs());
                        buf.splice(i..i + e, num);
                    }
                }
            }
            _ => buf.truncate(start), // empty line
        }
    }
}

// ------------------------------------------------------------------ tests

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    const FIELDS: [&str; 17] = [
        "timestamp",
        "level",
        "service",
        "host",
        "message",
        "method",
        "path",
        "status",
        "latency_ms",
        "bytes_sent",
        "user_id",
        "session_id",
        "trace_id",
        "span_id",
        "ip",
        "user_agent",
        "region",
    ];

    fn run(opts: &GenOptions) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(opts, &mut out).unwrap();
        assert_eq!(stats.bytes, out.len() as u64);
        assert_eq!(
            stats.lines,
            out.iter().filter(|&&b| b == b'\n').count() as u64
        );
        (out, stats)
    }

    fn lines_of(opts: &GenOptions) -> Vec<String> {
        let (out, _) = run(opts);
        let text = String::from_utf8(out).unwrap();
        let body = text.strip_suffix('\n').unwrap_or(&text);
        if body.is_empty() && text.is_empty() {
            return Vec::new();
        }
        body.split('\n').map(str::to_owned).collect()
    }

    fn n_lines(n: u64, seed: u64) -> GenOptions {
        GenOptions {
            lines: Some(n),
            seed,
            ..GenOptions::default()
        }
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Independent of the module's formatter, so a formatting bug shows up.
    fn parse_ts(s: &str) -> i64 {
        let b = s.as_bytes();
        assert_eq!(b.len(), 24, "{s}");
        assert_eq!(
            (b[4], b[7], b[10], b[13], b[16], b[19], b[23]),
            (b'-', b'-', b'T', b':', b':', b'.', b'Z'),
            "{s}"
        );
        let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
        let (mo, d, h, mi, se) = (n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
        assert!(
            (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && se < 60,
            "{s}"
        );
        (days_from_civil(n(0..4), mo, d) * 86_400 + h * 3600 + mi * 60 + se) * 1000 + n(20..23)
    }

    /// A complete object of the good shape: every always-present field with
    /// its type, optional fields with theirs, and the Python field order.
    fn good_shape(line: &str) -> bool {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        let str_fields = FIELDS
            .iter()
            .filter(|f| !matches!(**f, "status" | "latency_ms" | "bytes_sent" | "user_id"));
        let ok = str_fields
            .clone()
            .all(|f| m.get(*f).is_some_and(Value::is_string))
            && m["status"].is_u64()
            && m["latency_ms"].is_number()
            && m["bytes_sent"].is_u64()
            && (m["user_id"].is_string() || m["user_id"].is_null());
        if !ok {
            return false;
        }
        for (k, v) in &m {
            let typed = match k.as_str() {
                "amount" => v.is_f64() || v.is_u64(),
                "results" | "quantity" => v.is_u64(),
                "order_id" | "currency" | "sku" | "payment_method" | "query" | "error_type"
                | "stack_trace" => v.is_string(),
                _ => FIELDS.contains(&k.as_str()),
            };
            if !typed {
                return false;
            }
        }
        // Keys are never found inside string values: a quote there is always
        // escaped, so `"key":` only matches real keys.
        let positions: Vec<usize> = FIELDS
            .iter()
            .map(|f| line.find(&format!("\"{f}\":")).unwrap())
            .collect();
        line.starts_with("{\"timestamp\":\"") && positions.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn good_lines_have_fields_types_and_order() {
        let lines = lines_of(&n_lines(5000, 7));
        assert_eq!(lines.len(), 5000);
        for l in &lines {
            assert!(good_shape(l), "bad line: {l}");
            let v: Value = serde_json::from_str(l).unwrap();
            parse_ts(v["timestamp"].as_str().unwrap());
            assert!(SERVICES.iter().any(|s| s.0 == v["service"]));
            assert!(LEVELS.iter().any(|s| s.0 == v["level"]));
            assert!(
                v["host"]
                    .as_str()
                    .unwrap()
                    .starts_with(v["service"].as_str().unwrap())
            );
            assert_eq!(v["trace_id"].as_str().unwrap().len(), 32);
            assert_eq!(v["span_id"].as_str().unwrap().len(), 16);
        }
    }

    #[test]
    fn events_statuses_and_latency_look_like_the_python_generator() {
        let lines = lines_of(&n_lines(20_000, 3));
        let mut seen_fields = std::collections::BTreeSet::new();
        let mut latencies = Vec::new();
        let mut nulls = 0;
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let m = v.as_object().unwrap();
            seen_fields.extend(m.keys().cloned());
            let status = v["status"].as_u64().unwrap();
            match v["level"].as_str().unwrap() {
                "ERROR" => {
                    assert!(status >= 400, "{l}");
                    assert!(
                        v["message"]
                            .as_str()
                            .unwrap()
                            .starts_with("request failed: "),
                        "{l}"
                    );
                }
                "WARN" => assert!(
                    STATUS_WARN.contains(&(status as u16)) || STATUS_OK.contains(&(status as u16))
                ),
                "DEBUG" => {
                    assert!(STATUS_OK.contains(&(status as u16)));
                    assert!(v["message"].as_str().unwrap().contains(" | "), "{l}");
                }
                _ => assert!(STATUS_OK.contains(&(status as u16))),
            }
            if status >= 500 {
                assert!(v["latency_ms"].as_u64().unwrap() >= 101);
            }
            if let Some(q) = v.get("query") {
                assert!(SEARCH_TERMS.contains(&q.as_str().unwrap()), "{l}");
            }
            if v["user_id"].is_null() {
                nulls += 1;
            }
            latencies.push(v["latency_ms"].as_u64().unwrap());
        }
        for f in [
            "order_id",
            "amount",
            "currency",
            "sku",
            "quantity",
            "payment_method",
            "query",
            "results",
            "error_type",
            "stack_trace",
        ] {
            assert!(
                seen_fields.contains(f),
                "optional field {f} never generated"
            );
        }
        latencies.sort_unstable();
        let median = latencies[latencies.len() / 2];
        assert!((15..=45).contains(&median), "median latency {median}");
        assert!(*latencies.last().unwrap() > 1000, "no long tail");
        let null_share = f64::from(nulls) / lines.len() as f64;
        assert!(
            (0.05..0.11).contains(&null_share),
            "user_id null share {null_share}"
        );
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = run(&n_lines(3000, 42)).0;
        let b = run(&n_lines(3000, 42)).0;
        let c = run(&n_lines(3000, 43)).0;
        assert_eq!(a, b);
        assert_ne!(a, c);
        let bad = |seed| GenOptions {
            malformed: 0.1,
            ..n_lines(2000, seed)
        };
        assert_eq!(run(&bad(9)).0, run(&bad(9)).0);
    }

    #[test]
    fn lines_option_gives_exactly_n_lines() {
        for n in [0, 1, 7, 2500, 5000] {
            let (out, stats) = run(&n_lines(n, 1));
            assert_eq!(stats.lines, n);
            assert!(out.is_empty() || out.ends_with(b"\n"));
        }
        // Empty malformed lines still count as lines.
        let (_, stats) = run(&GenOptions {
            malformed: 1.0,
            ..n_lines(999, 1)
        });
        assert_eq!(stats.lines, 999);
        assert_eq!(run(&GenOptions::default()).1.lines, DEFAULT_LINES);
    }

    #[test]
    fn bytes_option_stops_at_first_line_boundary_at_or_past_limit() {
        assert_eq!(
            run(&GenOptions {
                bytes: Some(0),
                ..GenOptions::default()
            })
            .1,
            GenStats::default()
        );
        // Limits below, at and above the internal flush size.
        for limit in [
            1,
            610,
            100_000,
            FLUSH_AT as u64,
            FLUSH_AT as u64 + 3,
            3 << 20,
        ] {
            let opts = GenOptions {
                bytes: Some(limit),
                ..GenOptions::default()
            };
            let (out, stats) = run(&opts);
            assert!(stats.bytes >= limit, "{} < {limit}", stats.bytes);
            assert_eq!(*out.last().unwrap(), b'\n');
            let last_start = out[..out.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            assert!(
                (last_start as u64) < limit,
                "a line boundary before the last line was already past {limit}"
            );
        }
        // An exact boundary stops right there.
        let (lines_out, _) = run(&n_lines(10, 42));
        let (bytes_out, _) = run(&GenOptions {
            bytes: Some(lines_out.len() as u64),
            lines: Some(10),
            ..GenOptions::default()
        });
        assert_eq!(lines_out, bytes_out);
    }

    #[test]
    fn bytes_mode_still_spreads_timestamps_over_the_span() {
        let opts = GenOptions {
            bytes: Some(4 << 20),
            ..GenOptions::default()
        };
        let lines = lines_of(&opts);
        let tail: Vec<i64> = lines[lines.len() - 50..]
            .iter()
            .map(|l| {
                parse_ts(
                    serde_json::from_str::<Value>(l).unwrap()["timestamp"]
                        .as_str()
                        .unwrap(),
                )
            })
            .collect();
        let span = 6 * 3_600_000;
        let end = DEFAULT_START_MS + span;
        let last = *tail.iter().max().unwrap();
        assert!(
            (last - end).abs() < span / 10,
            "last timestamp {last} is far from the end of the span {end}"
        );
    }

    #[derive(Debug, Default, PartialEq)]
    struct Kinds {
        good: usize,
        truncated: usize,
        plain_text: usize,
        continuation: usize,
        wrong_types: usize,
        epoch_ts: usize,
        empty: usize,
    }

    fn classify(lines: &[String]) -> Kinds {
        let mut k = Kinds::default();
        for l in lines {
            if l.is_empty() {
                k.empty += 1;
            } else if l.starts_with("\tat com.shop.Worker.run(Worker.java:") && l.ends_with(')') {
                k.continuation += 1;
            } else if l.len() > 19
                && l.as_bytes()[10] == b' '
                && l.contains(" ERROR [main] c.s.Application - Unhandled exception in worker-")
            {
                let secs = parse_ts(&format!("{}T{}.000Z", &l[..10], &l[11..19])) / 1000;
                assert!((1_710_450_000..1_710_470_000).contains(&secs), "{l}");
                k.plain_text += 1;
            } else if good_shape(l) {
                k.good += 1;
            } else {
                match serde_json::from_str::<Value>(l) {
                    Ok(v) if v["timestamp"].is_i64() => {
                        assert!(v["status"].is_u64());
                        k.epoch_ts += 1;
                    }
                    Ok(v)
                        if v["status"].is_string()
                            && v["latency_ms"].as_str().unwrap().starts_with("slow-") =>
                    {
                        assert!(v["bytes_sent"].is_u64());
                        k.wrong_types += 1;
                    }
                    Ok(_) => panic!("unexpected valid JSON: {l}"),
                    Err(_) => {
                        assert!(l.starts_with('{'), "{l}");
                        k.truncated += 1;
                    }
                }
            }
        }
        k
    }

    #[test]
    fn malformed_fraction_produces_every_kind() {
        let lines = lines_of(&GenOptions {
            malformed: 0.2,
            ..n_lines(5000, 11)
        });
        assert_eq!(lines.len(), 5000);
        let k = classify(&lines);
        for (name, n) in [
            ("truncated", k.truncated),
            ("plain text", k.plain_text),
            ("continuation", k.continuation),
            ("wrong types", k.wrong_types),
            ("epoch timestamp", k.epoch_ts),
            ("empty", k.empty),
        ] {
            assert!(n >= 80, "only {n} {name} lines: {k:?}");
        }
        let bad = (5000 - k.good) as f64 / 5000.0;
        assert!((0.17..0.23).contains(&bad), "bad share {bad}: {k:?}");

        let clean = classify(&lines_of(&n_lines(2000, 11)));
        assert_eq!(
            clean,
            Kinds {
                good: 2000,
                ..Kinds::default()
            }
        );
    }

    #[test]
    fn invalid_options_are_rejected() {
        for opts in [
            GenOptions {
                malformed: 1.5,
                ..GenOptions::default()
            },
            GenOptions {
                malformed: f64::NAN,
                ..GenOptions::default()
            },
            GenOptions {
                span_hours: -1.0,
                ..GenOptions::default()
            },
            GenOptions {
                span_hours: f64::INFINITY,
                ..GenOptions::default()
            },
        ] {
            let err = generate(&opts, &mut Vec::new()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn timestamps_cover_the_span_and_stay_near_monotone() {
        let n = 20_000;
        let lines = lines_of(&n_lines(n, 5));
        let span = 6 * 3_600_000;
        let ts: Vec<i64> = lines
            .iter()
            .map(|l| {
                parse_ts(
                    serde_json::from_str::<Value>(l).unwrap()["timestamp"]
                        .as_str()
                        .unwrap(),
                )
            })
            .collect();
        let start = DEFAULT_START_MS;
        assert!(
            (start - 91_000..=start + 40).contains(&ts[0]),
            "first {}",
            ts[0]
        );
        let end = start + span;
        assert!(
            (end - 93_000..=end).contains(&ts[n as usize - 1]),
            "last {}",
            ts[n as usize - 1]
        );

        let mut late = 0;
        let mut running_max = i64::MIN;
        for (i, &t) in ts.iter().enumerate() {
            let expected = start + i as i64 * span / n as i64;
            assert!(
                (expected - 90_040..expected + 40).contains(&t),
                "line {i}: {t} vs {expected}"
            );
            if t < expected - 40 {
                late += 1;
            }
            running_max = running_max.max(t);
            assert!(
                running_max - t <= 120_000,
                "line {i} is {} ms behind",
                running_max - t
            );
        }
        assert!(
            (40..=200).contains(&late),
            "{late} late lines, expected ~100"
        );
        // The default span crosses midnight into 2024-03-15.
        assert!(lines[0].contains("\"2024-03-14T2"));
        assert!(lines.last().unwrap().contains("\"2024-03-15T02:"));
    }

    #[test]
    fn datetime_formatting_matches_known_instants() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00"),
            (-1, "1969-12-31T23:59:59"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_710_450_000, "2024-03-14T21:00:00"),
            (1_709_251_199, "2024-02-29T23:59:59"),
            (4_102_444_800, "2100-01-01T00:00:00"),
        ] {
            let mut out = Vec::new();
            push_datetime(&mut out, secs, b'T');
            assert_eq!(String::from_utf8(out).unwrap(), want);
            assert_eq!(parse_ts(&format!("{want}.000Z")), secs * 1000);
        }
    }

    #[test]
    fn escaping_round_trips_in_both_modes() {
        let s = "tab\there \\ \"q\" 🎧 é ✔ \u{1}\u{7f}\r\n";
        let mut ascii = Vec::new();
        push_json_str(&mut ascii, s.as_bytes(), true);
        assert!(ascii.is_ascii());
        // Python: json.dumps(s, ensure_ascii=True)
        assert_eq!(
            std::str::from_utf8(&ascii).unwrap(),
            r#""tab\there \\ \"q\" \ud83c\udfa7 \u00e9 \u2714 \u0001\u007f\r\n""#
        );
        let mut raw = Vec::new();
        push_json_str(&mut raw, s.as_bytes(), false);
        assert_eq!(
            std::str::from_utf8(&raw).unwrap(),
            "\"tab\\there \\\\ \\\"q\\\" 🎧 é ✔ \\u0001\u{7f}\\r\\n\""
        );
        for enc in [&ascii, &raw] {
            assert_eq!(serde_json::from_slice::<String>(enc).unwrap(), s);
        }
        for term in SEARCH_TERMS {
            for mode in [false, true] {
                let mut enc = Vec::new();
                push_json_str(&mut enc, term.as_bytes(), mode);
                assert_eq!(serde_json::from_slice::<String>(&enc).unwrap(), term);
            }
        }
    }

    #[test]
    fn generated_lines_use_both_escaping_modes() {
        let lines = lines_of(&n_lines(20_000, 8));
        let emoji_ascii = lines
            .iter()
            .any(|l| l.contains(r#""query":"\ud83c\udfa7 headphones""#));
        let emoji_raw = lines
            .iter()
            .any(|l| l.contains("\"query\":\"🎧 headphones\""));
        let tab_query = lines
            .iter()
            .any(|l| l.contains(r#""query":"tab\tseparated""#));
        let msg_ascii = lines
            .iter()
            .any(|l| l.contains(r#"checkout completed \u2714"#));
        let msg_raw = lines.iter().any(|l| l.contains("checkout completed ✔"));
        assert!(emoji_ascii && emoji_raw && tab_query && msg_ascii && msg_raw);
    }

    #[test]
    fn services_follow_their_weights() {
        let lines = lines_of(&n_lines(20_000, 21));
        let mut counts = [0usize; SERVICES.len()];
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let i = SERVICES.iter().position(|s| s.0 == v["service"]).unwrap();
            counts[i] += 1;
        }
        let total_w: f64 = SERVICES.iter().map(|s| s.1).sum();
        for (i, (name, w, _)) in SERVICES.iter().enumerate() {
            let share = counts[i] as f64 / lines.len() as f64;
            let want = w / total_w;
            assert!(
                (share - want).abs() < 0.025,
                "{name}: {share:.3} vs {want:.3}"
            );
        }
    }

    #[test]
    fn parse_size_accepts_units() {
        for (s, want) in [
            ("1GiB", 1 << 30),
            ("500MB", 500_000_000),
            ("64k", 65_536),
            ("123", 123),
            ("1.5KiB", 1536),
            (" 2 MiB ", 2 << 20),
            ("3kb", 3000),
            ("7b", 7),
            ("1G", 1 << 30),
            ("0", 0),
        ] {
            assert_eq!(parse_size(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "GiB",
            "abc",
            "-1",
            "1.2.3MB",
            "1e400",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(s).is_err(), "{s}");
        }
    }
}
