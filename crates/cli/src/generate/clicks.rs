//! Clickstream events for the HTTP collector (`loglake load`): the shop's
//! users and sessions, products, searches and orders from the same pools
//! as the logs, as the JSON objects a browser or a service would POST.

use std::io::Write;

use super::pools::{Pools, SEARCH_TERMS};
use super::rng::Rng;

/// (event type, weight): mostly page views, a few orders.
const TYPES: [(&str, u32); 7] = [
    ("page_view", 50),
    ("product_view", 20),
    ("search", 10),
    ("add_to_cart", 10),
    ("remove_from_cart", 3),
    ("checkout_started", 4),
    ("order_completed", 3),
];

/// A source of realistic events, deterministic per seed.
pub struct Clicks {
    rng: Rng,
    pools: Pools,
    orders: u64,
}

impl std::fmt::Debug for Clicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clicks")
            .field("orders", &self.orders)
            .finish()
    }
}

impl Clicks {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let pools = Pools::build(&mut rng);
        Clicks {
            rng,
            pools,
            orders: 0,
        }
    }

    /// Append one event, timed `ts_ms`, tagged with `run` (an attribute a
    /// load test counts its rows by).
    pub fn next(&mut self, ts_ms: i64, run: &str, out: &mut Vec<u8>) {
        let total: u32 = TYPES.iter().map(|t| t.1).sum();
        let mut pick = self.rng.below(u64::from(total)) as u32;
        let mut kind = TYPES[0].0;
        for (t, w) in TYPES {
            if pick < w {
                kind = t;
                break;
            }
            pick -= w;
        }
        let p = &self.pools;
        let user = p.users.get(self.rng.idx(p.users.count()));
        let session = p.sessions.get(self.rng.idx(p.sessions.count()));
        let sku = p.skus.get(self.rng.idx(p.skus.count()));
        let sku = std::str::from_utf8(sku).unwrap_or("SKU");
        let _ = write!(
            out,
            "{{\"event_type\":\"{kind}\",\"timestamp\":{ts_ms},\"user_id\":"
        );
        out.extend_from_slice(user);
        out.extend_from_slice(b",\"session_id\":");
        out.extend_from_slice(session);
        let _ = write!(out, ",\"url\":\"https://shop.example/");
        match kind {
            "search" => {
                let q = SEARCH_TERMS[self.rng.idx(SEARCH_TERMS.len())];
                let q: String = q.chars().filter(|c| c.is_alphanumeric()).collect();
                let _ = write!(out, "search?q={q}\"");
            }
            "page_view" => out.extend_from_slice(b"\""),
            _ => {
                let _ = write!(out, "p/{sku}\",\"properties\":{{\"sku\":\"{sku}\"");
                if kind == "order_completed" {
                    self.orders += 1;
                    let amount = p.amounts.get(self.rng.idx(p.amounts.count()));
                    let c = p.cur_tab[self.rng.idx(p.cur_tab.len())] as usize;
                    let _ = write!(
                        out,
                        ",\"order_id\":\"o-{}-{}\",\"revenue\":",
                        self.orders,
                        self.rng.below(1 << 30)
                    );
                    out.extend_from_slice(amount);
                    out.extend_from_slice(b",\"currency\":");
                    out.extend_from_slice(p.currencies.get(c));
                }
                out.push(b'}');
            }
        }
        let _ = write!(out, ",\"load_run\":\"{run}\"}}");
    }
}
