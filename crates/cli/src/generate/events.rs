//! The per-line generator: picks a level and a service, fills that
//! service's event template (one function per service), adds the fields
//! every line has (timestamp, host, status, latency, ids, client), and turns
//! the configured fraction of lines into the malformed kinds.

use super::Run;
use super::encode::{find, push_datetime, push_json_str, push_padded, push_u64, replace_once};
use super::pools::{
    AUTH, CART, CATALOG, CATEGORIES, CHECKOUT, COUNTRIES, DEBUG, DEBUG_MSGS, DECLINES, ERROR,
    INVENTORY, LANGS, LEVELS, ORDER, ORDER_STATES, PAYMENT, PAYMENT_METHODS, PAYMENT_OK, Pools,
    RECO_SLOTS, SEARCH, SEARCH_TERMS, STATUS_ERR, STATUS_OK, STATUS_WARN, WAREHOUSES, WARN,
};
use super::rng::Rng;

pub(super) struct Generator {
    rng: Rng,
    p: Pools,
    b: Bufs,
    /// Most lines share their second with the previous line; formatting the
    /// date once per second is the cheap part of the line.
    ts_sec: i64,
    ts_prefix: Vec<u8>,
}

/// Scratch buffers reused for every line so the hot loop never allocates.
struct Bufs {
    msg: Vec<u8>,
    path: Vec<u8>,
    extra: Vec<u8>,
    tmp: Vec<u8>,
}

impl Bufs {
    fn clear(&mut self) {
        self.msg.clear();
        self.path.clear();
        self.extra.clear();
        self.tmp.clear();
    }

    /// `(msg, path, extra, tmp)`: a tuple rather than a `Bufs { .. }`
    /// pattern so each event function takes its buffers in one line
    /// (rustfmt spreads a four-field struct pattern over several).
    fn parts(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>) {
        (
            &mut self.msg,
            &mut self.path,
            &mut self.extra,
            &mut self.tmp,
        )
    }
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

/// catalog-api: a product page (70%) or a category listing.
fn catalog(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, _) = b.parts();
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

/// search-api: a query from `SEARCH_TERMS` with its hit count (none for
/// at least 6%); 30% of the `query` fields are escaped ASCII-only.
fn search(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, _) = b.parts();
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

/// cart-api: an item added to a cart (75%, `POST`) or removed (`DELETE`).
fn cart(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, tmp) = b.parts();
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

/// auth-api: a login (55%; refused when the line is WARN or ERROR), a
/// token refresh (30%) or a profile fetch.
fn auth(rng: &mut Rng, p: &Pools, b: &mut Bufs, failing: bool) -> &'static str {
    let (msg, path, _, _) = b.parts();
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

/// order-api: an order created (60%, with its amount) or a status lookup.
fn order(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, tmp) = b.parts();
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

/// checkout-web: one step of checkout: cart (40%), shipping (30%) or
/// confirm, which carries the order, amount and payment method.
fn checkout(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, tmp) = b.parts();
    // Drawn for every step though only confirm uses them; drawing them
    // only there would change every later byte for a given seed.
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

/// payment-api: a capture; its message is a decline or a gateway retry
/// when the line is WARN or ERROR.
fn payment(rng: &mut Rng, p: &Pools, b: &mut Bufs, failing: bool) -> &'static str {
    let (msg, path, extra, tmp) = b.parts();
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

/// inventory-api: a stock reservation, reporting low stock below 5 units.
fn inventory(rng: &mut Rng, p: &Pools, b: &mut Bufs) -> &'static str {
    let (msg, path, extra, _) = b.parts();
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

/// recommendation-api: recommendations served for a user and page slot.
fn recommendation(rng: &mut Rng, b: &mut Bufs) -> &'static str {
    let (msg, path, _, _) = b.parts();
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

impl Generator {
    pub(super) fn new(rng: Rng, p: Pools) -> Self {
        Self {
            rng,
            p,
            b: Bufs {
                msg: Vec::with_capacity(256),
                path: Vec::with_capacity(128),
                extra: Vec::with_capacity(2048),
                tmp: Vec::with_capacity(256),
            },
            ts_sec: i64::MIN,
            ts_prefix: Vec::with_capacity(24),
        }
    }

    /// Fills `path`, `msg` (raw UTF-8) and `extra` (ready JSON
    /// `,"key":value` pairs) for one request to `svc`; returns the method.
    fn event(&mut self, svc: usize, level: usize) -> &'static str {
        let Self { rng, p, b, .. } = self;
        b.clear();
        let failing = level == WARN || level == ERROR;
        match svc {
            CATALOG => catalog(rng, p, b),
            SEARCH => search(rng, p, b),
            CART => cart(rng, p, b),
            AUTH => auth(rng, p, b, failing),
            ORDER => order(rng, p, b),
            CHECKOUT => checkout(rng, p, b),
            PAYMENT => payment(rng, p, b, failing),
            INVENTORY => inventory(rng, p, b),
            _ => recommendation(rng, b),
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
    pub(super) fn line(&mut self, i: u64, run: &Run, buf: &mut Vec<u8>) {
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
            self.b.tmp.clear();
            self.b.tmp.extend_from_slice(pre.as_bytes());
            rng.push_hex(&mut self.b.tmp, 8);
            self.b.tmp.extend_from_slice(post.as_bytes());
            self.b.tmp.extend_from_slice(b" | ");
            self.b.tmp.extend_from_slice(&self.b.msg);
            std::mem::swap(&mut self.b.msg, &mut self.b.tmp);
        }
        if level == ERROR {
            // Any service may hit any error kind, as in the Python script.
            let st = &self.p.stacks[rng.idx(self.p.stacks.len())];
            self.b.msg.clear();
            self.b.msg.extend_from_slice(b"request failed: ");
            self.b.msg.extend_from_slice(st.first_line.as_bytes());
            if rng.f64() < 0.7 {
                self.b.extra.extend_from_slice(b",\"error_type\":");
                self.b.extra.extend_from_slice(&st.etype_json);
                self.b.extra.extend_from_slice(b",\"stack_trace\":");
                self.b.extra.extend_from_slice(&st.trace_json);
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
        push_json_str(buf, &self.b.msg, rng.f64() < 0.25);
        buf.extend_from_slice(b",\"method\":\"");
        buf.extend_from_slice(method.as_bytes());
        buf.extend_from_slice(b"\",\"path\":");
        push_json_str(buf, &self.b.path, false);
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
        buf.extend_from_slice(&self.b.extra);
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
