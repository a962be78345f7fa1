//! `loglake generate --kind text`: plain-text server logs, deterministic per
//! seed, each line written the way its layout's documentation describes it.
//!
//! The output is a run of segments, as if the log files of several servers
//! had been concatenated: each segment is 500 to 4,000 events of one layout
//! (a few thousand lines), so format sniffing and stack traces meet what they
//! meet in real files; interleaving layouts line by line would not be
//! realistic. Every round of segments visits each layout once, in an order
//! drawn per round. An event is one line, or a line and its continuation
//! lines (a Java stack trace, a Python traceback, a Go panic). Times rise
//! monotonically over the span: line `i` is at `start + i * span / total`
//! (continuation lines share their event's time), all in UTC without a zone
//! where the layout writes none.
//!
//! The layouts, one file per family:
//!
//! - [`java`]: log4j/logback and Tomcat, with Java stack traces;
//! - [`python`]: Python `logging`, with tracebacks;
//! - [`system`]: syslog RFC 3164 and RFC 5424;
//! - [`web`]: Apache httpd and nginx error logs;
//! - [`golang`]: klog (Kubernetes) and Go's `log` package, with a panic now
//!   and then.
//!
//! Syslog and klog times carry no year: `loglake ingest` takes it from the
//! file's modification time, so [`GenStats::last_ms`] reports the last
//! line's time for the caller to set it.

mod golang;
mod java;
mod python;
mod system;
#[cfg(test)]
mod tests;
mod web;

use std::io::{self, Write};

use super::encode::{civil_from_days, push_padded, push_u64};
use super::pools::{IPV4_COUNT, Pool, Pools, SERVICES};
use super::rng::Rng;
use super::{DEFAULT_LINES, FLUSH_AT, GenOptions, GenStats, invalid};

/// Average line length, to estimate the line count in `--bytes` mode so the
/// times still spread over the whole span (measured over 64 MiB).
const AVG_LINE_BYTES: u64 = 150;

/// The layouts of [`Gen::event`], in the order of a round before shuffling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Log4j,
    Python,
    Syslog,
    Syslog5424,
    Apache,
    Nginx,
    Klog,
    GoLog,
    Tomcat,
}

const LAYOUTS: [Layout; 9] = [
    Layout::Log4j,
    Layout::Python,
    Layout::Syslog,
    Layout::Syslog5424,
    Layout::Apache,
    Layout::Nginx,
    Layout::Klog,
    Layout::GoLog,
    Layout::Tomcat,
];

/// Writes the text log lines to `out` and reports how much was written.
///
/// Fails with `InvalidInput` for the JSON-only options (malformed lines,
/// incidents), and with whatever error `out` returns.
pub(super) fn generate(opts: &GenOptions, out: &mut dyn Write) -> io::Result<GenStats> {
    if opts.malformed > 0.0 || opts.incidents {
        return Err(invalid(
            "--malformed and --incidents apply to --kind json only".into(),
        ));
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
    let start_us = opts.start_ms.saturating_mul(1000);
    let span_us = (opts.span_hours * 3_600_000_000.0) as i64;

    let at_line = |i: u64| {
        let offset = i128::from(i) * i128::from(span_us) / i128::from(total);
        start_us.saturating_add(offset as i64)
    };

    let mut rng = Rng::new(opts.seed);
    let pools = Pools::build(&mut rng);
    let mut g = Gen::new(rng, pools);
    // One event (a line and its continuation lines), handed out line by line
    // so the line and byte limits stop at a line boundary as for JSON.
    let mut ev: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut at = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let mut flushed: u64 = 0;
    let mut lines: u64 = 0;
    let mut last_us = None;
    loop {
        if line_limit.is_some_and(|n| lines >= n) {
            break;
        }
        if opts.bytes.is_some_and(|b| flushed + buf.len() as u64 >= b) {
            break;
        }
        if at == ev.len() {
            ev.clear();
            at = 0;
            // Anywhere before the next line's share of the span: monotone,
            // with the sub-millisecond digits real clocks have.
            let (t0, t1) = (at_line(lines), at_line(lines + 1));
            let t = t0 + g.r.below(t1.saturating_sub(t0).max(1) as u64) as i64;
            g.c.set(t);
            g.event(&mut ev);
            ev.push(b'\n');
            last_us = Some(t);
        }
        let end = ev[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(ev.len(), |n| at + n + 1);
        buf.extend_from_slice(&ev[at..end]);
        at = end;
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
        lines,
        bytes: flushed,
        last_ms: last_us.map(|t: i64| t.div_euclid(1000)),
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The current event's time and its civil fields (UTC), recomputed only
/// when the second changes; the layouts write it from these.
#[derive(Debug)]
struct Clock {
    sec: i64,
    /// Microseconds within the second.
    us: u64,
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
    weekday: usize,
}

impl Clock {
    fn set(&mut self, t_us: i64) {
        let sec = t_us.div_euclid(1_000_000);
        self.us = t_us.rem_euclid(1_000_000) as u64;
        if sec == self.sec {
            return;
        }
        self.sec = sec;
        let days = sec.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let sod = sec.rem_euclid(86_400) as u64;
        self.year = y.unsigned_abs();
        self.month = m;
        self.day = d;
        self.hour = sod / 3600;
        self.minute = sod / 60 % 60;
        self.second = sod % 60;
        // 1970-01-01 was a Thursday.
        self.weekday = (days + 4).rem_euclid(7) as usize;
    }

    /// `YYYY<sep>MM<sep>DD`.
    fn date(&self, out: &mut Vec<u8>, sep: u8) {
        push_padded(out, self.year, 4);
        out.push(sep);
        push_padded(out, self.month, 2);
        out.push(sep);
        push_padded(out, self.day, 2);
    }

    /// `HH:MM:SS`.
    fn time(&self, out: &mut Vec<u8>) {
        push_padded(out, self.hour, 2);
        out.push(b':');
        push_padded(out, self.minute, 2);
        out.push(b':');
        push_padded(out, self.second, 2);
    }

    /// `<sep>` and the fraction of the second in 3 or 6 digits.
    fn frac(&self, out: &mut Vec<u8>, sep: u8, digits: usize) {
        out.push(sep);
        if digits == 6 {
            push_padded(out, self.us, 6);
        } else {
            push_padded(out, self.us / 1000, 3);
        }
    }

    fn month_name(&self) -> &'static [u8] {
        MONTHS[(self.month as usize).clamp(1, 12) - 1].as_bytes()
    }

    fn weekday_name(&self) -> &'static [u8] {
        WEEKDAYS[self.weekday].as_bytes()
    }

    /// The time, microseconds since the epoch.
    fn micros(&self) -> i64 {
        self.sec * 1_000_000 + self.us as i64
    }
}

/// What stays the same through a segment: one server's file.
#[derive(Debug)]
struct Segment {
    layout: Layout,
    /// Events left in this segment.
    left: u64,
    /// Events written so far (Tomcat starts its file with the startup).
    step: u64,
    /// A service of [`SERVICES`], the program the file is from.
    svc: usize,
    pid: u64,
    tids: [u64; 3],
    /// A per-layout choice for the whole file (Go's flags, syslog's
    /// facility, RFC 5424's fraction digits).
    variant: u64,
    /// A counter the layout numbers its lines with (nginx connections,
    /// RFC 5424 sequence ids).
    counter: u64,
    /// When the machine booted, for the kernel's uptime stamps (µs).
    boot_us: i64,
    host: Vec<u8>,
}

/// The generator's state: the PRNG every choice draws from, the shared
/// pools, the clock of the current event and the current segment.
struct Gen {
    r: Rng,
    p: Pools,
    c: Clock,
    s: Segment,
    order: [Layout; 9],
    next: usize,
}

impl Gen {
    fn new(r: Rng, p: Pools) -> Self {
        Gen {
            r,
            p,
            c: Clock {
                sec: i64::MIN,
                us: 0,
                year: 0,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                weekday: 0,
            },
            s: Segment {
                layout: Layout::Log4j,
                left: 0,
                step: 0,
                svc: 0,
                pid: 1,
                tids: [1; 3],
                variant: 0,
                counter: 0,
                boot_us: 0,
                host: Vec::new(),
            },
            order: LAYOUTS,
            next: 0,
        }
    }

    /// Appends one event at the clock's time, without its final newline;
    /// continuation lines are preceded by `\n`.
    fn event(&mut self, out: &mut Vec<u8>) {
        if self.s.left == 0 {
            self.next_segment();
        }
        self.s.left -= 1;
        match self.s.layout {
            Layout::Log4j => java::log4j(self, out),
            Layout::Tomcat => java::tomcat(self, out),
            Layout::Python => python::line(self, out),
            Layout::Syslog => system::rfc3164(self, out),
            Layout::Syslog5424 => system::rfc5424(self, out),
            Layout::Apache => web::apache(self, out),
            Layout::Nginx => web::nginx(self, out),
            Layout::Klog => golang::klog(self, out),
            Layout::GoLog => golang::golog(self, out),
        }
        self.s.step += 1;
    }

    fn next_segment(&mut self) {
        if self.next == 0 {
            // Fisher-Yates: every layout once per round, in a drawn order.
            for i in (1..self.order.len()).rev() {
                let j = self.r.idx(i + 1);
                self.order.swap(i, j);
            }
        }
        let layout = self.order[self.next];
        self.next = (self.next + 1) % self.order.len();
        let r = &mut self.r;
        let svc = r.idx(SERVICES.len());
        let mut host = Vec::with_capacity(32);
        match layout {
            // A pod's name: the service's deployment hash and a suffix.
            Layout::Syslog5424 | Layout::Klog => host.extend_from_slice(unquote(
                self.p.hosts[svc].get(r.idx(self.p.hosts[svc].count())),
            )),
            _ => {
                host.extend_from_slice(b"web-");
                push_u64(&mut host, 1 + r.below(12));
            }
        }
        self.s = Segment {
            layout,
            left: 500 + r.below(3_500),
            step: 0,
            svc,
            pid: 300 + r.below(60_000),
            tids: [
                139_900_000_000_000 + r.below(1 << 32),
                139_900_000_000_000 + r.below(1 << 32),
                139_900_000_000_000 + r.below(1 << 32),
            ],
            variant: r.below(8),
            counter: 1 + r.below(100_000),
            boot_us: (self.c.sec - 3_600 - r.range(0, 40 * 86_400)) * 1_000_000,
            host,
        };
    }

    // ---------------------------------------------------------- values

    /// A level index of [`super::pools::LEVELS`] (INFO, DEBUG, WARN, ERROR),
    /// with the JSON kind's weights.
    fn level(&mut self) -> usize {
        self.p.level_tab[self.r.idx(self.p.level_tab.len())] as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.r.f64() < p
    }

    fn pick(&mut self, items: &[&'static str]) -> &'static str {
        self.r.pick(items)
    }

    fn put(&mut self, out: &mut Vec<u8>, items: &[&str]) {
        out.extend_from_slice(items[self.r.idx(items.len())].as_bytes());
    }

    /// A number in `lo..hi`.
    fn num(&mut self, out: &mut Vec<u8>, lo: u64, hi: u64) {
        push_u64(out, lo + self.r.below(hi - lo));
    }

    /// `text` with every `#` replaced by a number in `lo..hi`.
    fn fill(&mut self, out: &mut Vec<u8>, text: &str, lo: u64, hi: u64) {
        for (k, part) in text.split('#').enumerate() {
            if k > 0 {
                self.num(out, lo, hi);
            }
            out.extend_from_slice(part.as_bytes());
        }
    }

    fn pooled(&mut self, out: &mut Vec<u8>, pool: fn(&Pools) -> &Pool, quoted: bool) {
        let pool = pool(&self.p);
        let v = pool.get(self.r.idx(pool.count()));
        out.extend_from_slice(if quoted { unquote(v) } else { v });
    }

    fn ip4(&mut self, out: &mut Vec<u8>) {
        let i = self.r.idx(IPV4_COUNT.min(self.p.ips.count()));
        out.extend_from_slice(unquote(self.p.ips.get(i)));
    }

    /// A client port from the ephemeral range.
    fn port(&mut self, out: &mut Vec<u8>) {
        self.num(out, 32_768, 61_000);
    }

    /// An address of the private network the services run in.
    fn private_ip(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"10.0.");
        self.num(out, 1, 4);
        out.push(b'.');
        self.num(out, 5, 60);
    }

    fn user(&mut self, out: &mut Vec<u8>) {
        self.pooled(out, |p| &p.users, true);
    }

    fn sku(&mut self, out: &mut Vec<u8>) {
        self.pooled(out, |p| &p.skus, false);
    }

    fn email(&mut self, out: &mut Vec<u8>) {
        self.pooled(out, |p| &p.emails, false);
    }

    /// `12.34 EUR`.
    fn money(&mut self, out: &mut Vec<u8>) {
        self.pooled(out, |p| &p.amounts, false);
        out.push(b' ');
        let c = self.p.cur_tab[self.r.idx(self.p.cur_tab.len())] as usize;
        out.extend_from_slice(unquote(self.p.currencies.get(c)));
    }

    fn order_id(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"ord_");
        push_padded(out, self.r.below(10_000_000_000), 10);
    }

    fn hex(&mut self, out: &mut Vec<u8>, n: usize) {
        self.r.push_hex(out, n);
    }

    /// A random (version 4) UUID.
    fn uuid(&mut self, out: &mut Vec<u8>) {
        self.r.push_hex(out, 8);
        out.push(b'-');
        self.r.push_hex(out, 4);
        out.extend_from_slice(b"-4");
        self.r.push_hex(out, 3);
        out.push(b'-');
        out.push(b"89ab"[self.r.idx(4)]);
        self.r.push_hex(out, 3);
        out.push(b'-');
        self.r.push_hex(out, 12);
    }

    /// A request latency in milliseconds, from the JSON kind's distribution.
    fn latency(&mut self) -> u64 {
        u64::from(self.p.latency[self.r.idx(self.p.latency.len())])
    }

    /// A pod of the segment's service: `catalog-api-5d8f9c7b4-x2k4p`.
    fn pod(&mut self, out: &mut Vec<u8>) {
        let hosts = &self.p.hosts[self.s.svc];
        out.extend_from_slice(unquote(hosts.get(self.r.idx(hosts.count()))));
    }

    fn service(&self) -> &'static str {
        SERVICES[self.s.svc].0
    }
}

/// A pooled JSON string without its quotes; the pools used here hold no
/// escapes.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// Decimal digits of `v`, for space-padded numbers (`%7d`).
fn digits(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}
