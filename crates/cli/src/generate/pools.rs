//! What the lines are made of: the constant vocabularies (services and
//! their weights, regions, currencies, user agents, levels, error kinds with
//! their stack traces, statuses, search terms, ...) and [`Pools`], every
//! value that can be encoded once, built from them at the start of a run.

use super::encode::{push_hex_u64, push_json_str, push_padded, push_u64};
use super::rng::{Rng, weighted_table};

pub(super) const SERVICES: [(&str, f64, usize); 9] = [
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
pub(super) const CATALOG: usize = 0;
pub(super) const SEARCH: usize = 1;
pub(super) const CART: usize = 2;
pub(super) const AUTH: usize = 3;
pub(super) const ORDER: usize = 4;
pub(super) const CHECKOUT: usize = 5;
pub(super) const PAYMENT: usize = 6;
pub(super) const INVENTORY: usize = 7;

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

pub(super) const PAYMENT_METHODS: [&str; 6] = [
    "card",
    "paypal",
    "apple_pay",
    "google_pay",
    "klarna",
    "bank_transfer",
];

/// Deliberately awkward for parsers: unicode in several scripts, an astral
/// emoji, quotes, a backslash and a tab.
pub(super) const SEARCH_TERMS: [&str; 31] = [
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

pub(super) const LEVELS: [(&str, f64); 4] = [
    ("INFO", 78.0),
    ("DEBUG", 11.0),
    ("WARN", 8.0),
    ("ERROR", 3.0),
];
pub(super) const DEBUG: usize = 1;
pub(super) const WARN: usize = 2;
pub(super) const ERROR: usize = 3;

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
pub(super) const STATUS_OK: [u16; 23] = [
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200,
    200, 201, 204, 304,
];
pub(super) const STATUS_WARN: [u16; 9] = [400, 401, 403, 404, 404, 404, 409, 422, 429];
pub(super) const STATUS_ERR: [u16; 6] = [500, 500, 502, 503, 503, 504];

/// (text before the hex key, text after it).
pub(super) const DEBUG_MSGS: [(&str, &str); 5] = [
    ("cache hit for key ", ""),
    ("cache miss for key ", ""),
    ("feature flag evaluated: ", ""),
    ("db query took ", " ms"),
    ("retrying upstream call (", ")"),
];

pub(super) const CATEGORIES: [&str; 6] = [
    "shoes",
    "electronics",
    "home-garden",
    "toys",
    "beauty",
    "sports",
];
pub(super) const LANGS: [&str; 5] = ["en", "de", "ja", "es", "fr"];
pub(super) const ORDER_STATES: [&str; 5] = ["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"];
pub(super) const COUNTRIES: [&str; 7] = ["US", "DE", "GB", "JP", "BR", "FR", "ES"];
pub(super) const DECLINES: [&str; 4] = [
    "card declined: insufficient funds",
    "card declined: do_not_honor",
    "3-D Secure challenge failed",
    "gateway timeout, will retry (attempt 2/3)",
];
pub(super) const PAYMENT_OK: [&str; 3] =
    ["payment authorized", "payment captured", "refund issued"];
pub(super) const WAREHOUSES: [&str; 4] = ["FRA1", "IAD2", "PDX1", "NRT1"];
pub(super) const RECO_SLOTS: [&str; 3] = ["home", "pdp", "cart"];
/// The first this many `ips` are IPv4, the rest IPv6.
pub(super) const IPV4_COUNT: usize = 15_000;
const IP_FIRST_OCTETS: [u64; 10] = [3, 18, 34, 52, 54, 81, 92, 100, 185, 203];
const SKU_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const FIRST_NAMES: [&str; 8] = [
    "anna", "li", "josé", "mohammed", "ólafur", "sara", "kenji", "o'brien",
];
const LAST_NAMES: [&str; 6] = ["smith", "müller", "garcía", "nguyen", "kowalski", "tanaka"];
const MAIL_DOMAINS: [&str; 4] = ["gmail.com", "example.org", "web.de", "yahoo.co.jp"];

// ---------------------------------------------------------------- pools

/// Many short byte strings in one allocation, so per-line lookups stay in a
/// few cache-friendly arrays instead of thousands of small heap blocks.
#[derive(Debug, Default)]
pub(super) struct Pool {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Pool {
    pub(super) fn count(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn get(&self, i: usize) -> &[u8] {
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

pub(super) struct Stack {
    pub(super) etype_json: Vec<u8>,
    pub(super) trace_json: Vec<u8>,
    pub(super) first_line: &'static str,
}

/// Every value that can be encoded once is encoded up front, as in the
/// Python script: per line we only draw indices and copy bytes.
pub(super) struct Pools {
    pub(super) users: Pool,
    pub(super) sessions: Pool,
    pub(super) ips: Pool,
    pub(super) uas: Pool,
    pub(super) ua_tab: Vec<u8>,
    pub(super) regions: Pool,
    pub(super) region_tab: Vec<u8>,
    pub(super) currencies: Pool,
    pub(super) cur_tab: Vec<u8>,
    pub(super) level_tab: Vec<u8>,
    /// Raw (unquoted); SKUs are plain ASCII so they need no escaping.
    pub(super) skus: Pool,
    pub(super) hosts: Vec<Pool>,
    pub(super) services: Pool,
    pub(super) svc_tab: Vec<u8>,
    pub(super) latency: Vec<u32>,
    pub(super) bytes_sent: Vec<u64>,
    /// Raw decimal text with two places.
    pub(super) amounts: Pool,
    /// Raw UTF-8; they go into messages, which are escaped per line.
    pub(super) emails: Pool,
    pub(super) stacks: Vec<Stack>,
    /// `[non-ASCII-preserving, ASCII-only]` encodings of `SEARCH_TERMS`.
    pub(super) search: [Pool; 2],
}

impl Pools {
    pub(super) fn build(r: &mut Rng) -> Self {
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
        for _ in 0..IPV4_COUNT {
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
