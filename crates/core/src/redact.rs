//! PII redaction, applied to every [`Record`] after parsing and before any
//! sink sees it (Parquet rows, search index, NDJSON output).
//!
//! # What is redacted, and where
//!
//! | kind | default | columns | attributes |
//! |---|---|---|---|
//! | payment cards | **on** | `message`, `http_path`, `user_agent`, `error_type` | every value, except keys that name an identifier (`span_id`, `parentId`, `uuid`, `sku`, ...) |
//! | e-mail addresses | off | `message`, `http_path`, `user_agent`, `error_type`, `user_id` | every value |
//! | client IPs | off | `client_ip` | values of client-address keys (`x_forwarded_for`, `client_ip`, `remote_addr`, `ip`, `source_ip`, `true_client_ip`, `x_real_ip`, `cf_connecting_ip`, ...; case-insensitive, `_`/`-`/`.` and camelCase all match, also as the last segment of a dotted key such as `headers.X-Forwarded-For`) |
//!
//! Per column:
//!
//! * `message`, `error_type`: free text written by applications, where card
//!   numbers and addresses end up in error messages.
//! * `http_path`: path and query string; forms and redirects put both in
//!   query strings (`?email=jane%40example.com`).
//! * `user_agent`: free text sent by the client, so anything can be in it.
//! * `user_id`: e-mails only (many systems use the address as the user id);
//!   numeric user ids are ids, not cards.
//! * `client_ip`: IPs only.
//! * Never scanned: `trace_id`, `request_id`, `session_id`, `order_id`, `sku`
//!   (identifiers, where a 16-digit run is an id and masking it would break
//!   joins), and `service`, `host`, `region`, `http_method`, `event_type`,
//!   `currency` (set by the system, not by users).
//!
//! * **Cards** are masked to `*` per digit keeping the separators and the
//!   last four digits: `4111-1111-1111-1111` -> `****-****-****-1111`.
//! * **E-mails** keep the first character of the local part and the whole
//!   domain: `jane.doe@example.com` -> `j***@example.com`; the URL-encoded
//!   form `jane.doe%40example.com` becomes `j***%40example.com`.
//! * **IPs** are truncated: IPv4 to /24 (`203.0.113.77` -> `203.0.113.0`),
//!   IPv6 to /48, IPv4-mapped IPv6 to the IPv4 /24. Lists (X-Forwarded-For)
//!   are truncated element-wise; values that are not addresses are kept.
//!   IPs inside free text (messages, paths) are not touched.
//!
//! # Trade-offs
//!
//! * Masking e-mails in `user_id` merges distinct users: `jane@example.com`
//!   and `jack@example.com` both become `j***@example.com`, so unique-user
//!   counts (and per-user drill-downs) undercount when user ids are e-mails.
//!   That is why e-mails are off by default.
//! * Truncating IPs merges every client of a /24 (/48): per-client rate or
//!   abuse analysis is no longer possible, geo lookup still works.
//! * Cards: a digit run is only masked when it has 13-19 digits, passes Luhn
//!   and has a plausible issuer prefix (see [`mask_cards`]). About 1 in 10
//!   random digit runs passes Luhn, so the other rules carry the weight:
//!   identifiers inside longer tokens (hex trace ids, `order_4111...`), UUIDs
//!   (groups of more than 6 digits), decimal fractions (`0.4111...`), phone
//!   numbers (`+49 ...`), epoch timestamps (start with `1` until 2033) and
//!   compact timestamps (`20261122045620123`: `2` only counts for the
//!   Mastercard/Mir ranges `2200-2204`, `2221-2720`, never for years) are
//!   kept. What is still masked by accident is a decimal id that looks like
//!   a card, and a hex id that happens to be all digits: about 1 in 2,000
//!   16-hex ids is, and 1 in 25 of those passes Luhn and the issuer rule.
//!   That is why identifier columns and attributes are not scanned for
//!   cards (all-digit `span_id`s were 37 of the 42 false positives in 1.76M
//!   bench lines scanned whole); the other 5 were 16-hex cart ids in
//!   `http_path` (`/v1/carts/************8750/items`, about 3 per million
//!   records), which we accept rather than leave card numbers in paths.
//! * The quarantine keeps the raw bytes of lines that could not be parsed;
//!   they are not records and are not redacted here.
//!
//! # Cost
//!
//! Every value gets one vectorized pass over its bytes that counts ASCII
//! digits and looks for `@`/`%`; a value with fewer than 13 digits cannot
//! hold a card and one without `@` or `%` cannot hold an e-mail, so most
//! values are left after that pass. A value with 13+ digits gets a second
//! vectorized pass (digits between digits, spaces or dashes) that rejects
//! user agents and version strings before the byte-by-byte card scan.
//! Nothing is allocated unless something is masked: unchanged values stay
//! borrowed. A typical record without PII (118-byte message, path, user
//! agent, three attributes) costs about 50 ns with the default options.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::record::{Record, TextField};

/// What to redact. Default: cards only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedactOptions {
    pub cards: bool,
    pub emails: bool,
    pub ips: bool,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            cards: true,
            emails: false,
            ips: false,
        }
    }
}

impl RedactOptions {
    /// Everything off.
    pub const NONE: RedactOptions = RedactOptions {
        cards: false,
        emails: false,
        ips: false,
    };
    /// Everything on.
    pub const ALL: RedactOptions = RedactOptions {
        cards: true,
        emails: true,
        ips: true,
    };

    /// Parse a comma-separated list: `"cards,emails,ips"` in any order and
    /// case, spaces allowed, singular forms (`card`, `email`, `ip`) accepted.
    /// `"none"` or `""` turn everything off, `"all"` turns everything on.
    /// `none` cannot be combined with other words.
    pub fn parse(spec: &str) -> Result<RedactOptions, String> {
        const VALID: &str = "cards, emails, ips, all, none";
        let mut opts = RedactOptions::NONE;
        let mut words = 0usize;
        let mut none = false;
        for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            words += 1;
            let is = |a: &str| word.eq_ignore_ascii_case(a);
            if is("cards") || is("card") {
                opts.cards = true;
            } else if is("emails") || is("email") {
                opts.emails = true;
            } else if is("ips") || is("ip") {
                opts.ips = true;
            } else if is("all") {
                opts = RedactOptions::ALL;
            } else if is("none") {
                none = true;
            } else {
                return Err(format!("unknown redaction kind `{word}` (valid: {VALID})"));
            }
        }
        if none && words > 1 {
            return Err(format!(
                "`none` cannot be combined with other redaction kinds in `{spec}` (valid: {VALID})"
            ));
        }
        Ok(opts)
    }

    /// True when nothing is redacted.
    pub fn is_off(&self) -> bool {
        !self.cards && !self.emails && !self.ips
    }
}

/// How many values were redacted (goes into the manifest as `redacted`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedactCounts {
    /// Card numbers masked.
    pub cards: u64,
    /// E-mail addresses masked.
    pub emails: u64,
    /// IP addresses truncated (each element of a list counts).
    pub ips: u64,
}

impl RedactCounts {
    pub fn total(&self) -> u64 {
        self.cards
            .saturating_add(self.emails)
            .saturating_add(self.ips)
    }

    pub fn add(&mut self, other: &RedactCounts) {
        self.cards = self.cards.saturating_add(other.cards);
        self.emails = self.emails.saturating_add(other.emails);
        self.ips = self.ips.saturating_add(other.ips);
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The fewest digits a card number has.
const CARD_MIN: usize = 13;
/// The most digits a card number has.
const CARD_MAX: usize = 19;

/// Fewer "interior" card digits than this (see [`card_interior_digits`]):
/// no card.
const CARD_MIN_INTERIOR: usize = CARD_MIN - 2;

/// One pass over a value: how many ASCII digits, and whether it contains `@`
/// or `%` (a necessary condition for an e-mail, plain or `%40`). Written
/// without early exits and with byte-sized counters per block so that it
/// vectorizes (about 10x faster than a `usize` counter per byte).
#[inline]
fn hints(b: &[u8]) -> (usize, bool) {
    let mut digits = 0usize;
    let mut at = 0u8;
    for block in b.chunks(128) {
        let mut d = 0u8;
        let mut a = 0u8;
        for &c in block {
            d += u8::from(c.wrapping_sub(b'0') < 10);
            a |= u8::from(c == b'@') | u8::from(c == b'%');
        }
        digits += usize::from(d);
        at |= a;
    }
    (digits, at != 0)
}

/// Digits whose neighbours on both sides are digits, spaces or dashes. Every
/// digit of a card but its first and last is one, so a value with fewer than
/// [`CARD_MIN_INTERIOR`] cannot hold a card. This is the second filter, for
/// values with 13+ digits that are not cards: user agents
/// (`Chrome/122.0.6261.105`), version strings, dotted numbers.
fn card_interior_digits(b: &[u8]) -> usize {
    #[inline]
    fn cardish(c: u8) -> u8 {
        u8::from(c.wrapping_sub(b'0') < 10) | u8::from(c == b' ') | u8::from(c == b'-')
    }
    let n = b.len();
    let (Some(left), Some(mid), Some(right)) = (
        b.get(..n.saturating_sub(2)),
        b.get(1..n.saturating_sub(1)),
        b.get(2..),
    ) else {
        return 0;
    };
    let mut total = 0usize;
    for ((l, m), r) in left.chunks(128).zip(mid.chunks(128)).zip(right.chunks(128)) {
        let mut d = 0u8;
        for ((&x, &y), &z) in l.iter().zip(m).zip(r) {
            d += cardish(x) & u8::from(y.wrapping_sub(b'0') < 10) & cardish(z);
        }
        total += usize::from(d);
    }
    total
}

/// The cheap filters: can `b`, with `digits` ASCII digits, hold a card?
#[inline]
fn may_hold_card(b: &[u8], digits: usize) -> bool {
    digits >= CARD_MIN && card_interior_digits(b) >= CARD_MIN_INTERIOR
}

/// The byte at `i`, or 0 past either end.
#[inline]
fn byte_at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
#[inline]
fn byte_before(b: &[u8], i: usize) -> u8 {
    match i.checked_sub(1) {
        Some(j) => byte_at(b, j),
        None => 0,
    }
}

/// Part of an alphanumeric token (ASCII letter, digit or `_`). Non-ASCII
/// characters are *not* token characters: CJK text puts no spaces around
/// numbers, and the token rule exists for ASCII identifiers (hex ids,
/// `order_123...`).
#[inline]
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Append `s[a..b]`. The callers only pass positions next to ASCII bytes or
/// from `char_indices`, so this never drops anything; it is written without
/// slicing so that a mistake could not panic.
#[inline]
fn push_range(out: &mut String, s: &str, a: usize, b: usize) {
    if let Some(t) = s.get(a..b) {
        out.push_str(t);
    }
}

// ---------------------------------------------------------------------------
// Cards
// ---------------------------------------------------------------------------

/// Mask payment card numbers.
///
/// A card is a run of 13-19 digits, either unseparated or in groups of 3-6
/// digits separated by a single space or a single dash (the same separator
/// throughout: `4111 1111 1111 1111`, `3782-822463-10005`), that
///
/// * is not part of a longer token: no ASCII letter, digit or `_` right
///   before or after it (`order_41111111111111110`, hex trace ids and
///   20-digit runs are kept); a `+` before it (phone number) and a
///   `<digit>.` before it or `.<digit>` after it (a decimal number such as
///   `0.4111111111111111`) also disqualify it;
/// * passes the Luhn check;
/// * has a plausible issuer prefix for its length. First digit `4`, `5` or
///   `6` (Visa, Mastercard, Maestro, Discover, UnionPay, RuPay) at any length;
///   `3` only for Amex (`34`, `37`; 15 digits), Diners (`300-305`, `309`,
///   `36`, `38`, `39`; 14-19) and JCB (`3528-3589`; 16-19); `2` only for Mir
///   (`2200-2204`; 16-19) and Mastercard (`2221-2720`; 16). Other first digits
///   (`0`, `1`, `7`, `8`, `9`: epoch timestamps, phone numbers, UATP/RuPay
///   `8x` cards) are never masked. Narrowing `2` keeps compact timestamps
///   such as `20261122045620123` (17 digits, `2026...`), which would
///   otherwise be masked whenever they happen to pass Luhn.
///
/// The last four digits and the separators are kept, every other digit
/// becomes `*`. Returns `None` when nothing changed, else the new string and
/// the number of cards masked.
pub fn mask_cards(s: &str) -> Option<(String, u64)> {
    let b = s.as_bytes();
    if !may_hold_card(b, hints(b).0) {
        return None;
    }
    mask_cards_scan(s)
}

/// [`mask_cards`] without the prefilters.
fn mask_cards_scan(s: &str) -> Option<(String, u64)> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0usize;
    let mut n = 0u64;
    let mut i = 0usize;
    // Invariant: when `b[i]` is a digit, `b[i - 1]` is not (we skip whole
    // digit groups), so `i` is the start of a group.
    while i < b.len() {
        if !byte_at(b, i).is_ascii_digit() {
            i += 1;
            continue;
        }
        if let Some(end) = card_at(b, i) {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            push_range(o, s, last, i);
            mask_digits(o, b.get(i..end).unwrap_or_default());
            last = end;
            n += 1;
            i = end;
        } else {
            while byte_at(b, i).is_ascii_digit() {
                i += 1;
            }
        }
    }
    let mut o = out?;
    push_range(&mut o, s, last, s.len());
    Some((o, n))
}

/// The end of the longest card starting at the digit group at `start`.
fn card_at(b: &[u8], start: usize) -> Option<usize> {
    let before = byte_before(b, start);
    if is_token(before) || before == b'+' {
        return None;
    }
    // `<digit>.` before: the fraction of a decimal number (`0.4111...`).
    if before == b'.' && byte_before(b, start.saturating_sub(1)).is_ascii_digit() {
        return None;
    }
    let mut digits = [0u8; CARD_MAX];
    let mut nd = 0usize;
    let mut groups = 0usize;
    // All groups so far have 3..=6 digits (required when there are several).
    let mut groups_ok = true;
    let mut sep: Option<u8> = None;
    let mut best = None;
    let mut i = start;
    loop {
        let group_start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            // More than 19 digits: no longer candidate from this start.
            let Some(slot) = digits.get_mut(nd) else {
                return best;
            };
            *slot = c - b'0';
            nd += 1;
            i += 1;
        }
        groups += 1;
        if !(3..=6).contains(&(i - group_start)) {
            groups_ok = false;
        }
        let d = digits.get(..nd).unwrap_or_default();
        if nd >= CARD_MIN
            && (groups == 1 || groups_ok)
            && card_end_ok(b, i)
            && plausible_issuer(d)
            && luhn(d)
        {
            best = Some(i);
        }
        // Extend over a single separator to the next group?
        let s = byte_at(b, i);
        if !(s == b' ' || s == b'-') || !byte_at(b, i + 1).is_ascii_digit() || !groups_ok {
            break;
        }
        match sep {
            Some(prev) if prev != s => break,
            _ => sep = Some(s),
        }
        i += 1;
    }
    best
}

/// A card may end at `i`: no token character follows, and it is not the
/// integer part of a decimal number.
#[inline]
fn card_end_ok(b: &[u8], i: usize) -> bool {
    let c = byte_at(b, i);
    !(is_token(c) || (c == b'.' && byte_at(b, i + 1).is_ascii_digit()))
}

/// Issuer prefix plausible for the length (see [`mask_cards`]).
fn plausible_issuer(d: &[u8]) -> bool {
    let len = d.len();
    let [a, b, c, e, ..] = *d else {
        return false;
    };
    let p2 = u32::from(a) * 10 + u32::from(b);
    let p3 = p2 * 10 + u32::from(c);
    let p4 = p3 * 10 + u32::from(e);
    match a {
        4..=6 => (CARD_MIN..=CARD_MAX).contains(&len),
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p3 == 309 || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len))
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
        }
        2 => {
            ((2200..=2204).contains(&p4) && (16..=19).contains(&len))
                || ((2221..=2720).contains(&p4) && len == 16)
        }
        _ => false,
    }
}

/// The Luhn (mod 10) check over digit values.
fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &x) in d.iter().rev().enumerate() {
        let x = u32::from(x);
        sum += if k % 2 == 1 {
            let y = x * 2;
            if y > 9 { y - 9 } else { y }
        } else {
            x
        };
    }
    sum.is_multiple_of(10)
}

/// Push a card with every digit but the last four as `*`.
fn mask_digits(out: &mut String, card: &[u8]) {
    let total = card.iter().filter(|c| c.is_ascii_digit()).count();
    let keep_from = total.saturating_sub(4);
    let mut k = 0usize;
    for &c in card {
        if c.is_ascii_digit() {
            out.push(if k < keep_from { '*' } else { char::from(c) });
            k += 1;
        } else {
            out.push(char::from(c));
        }
    }
}

// ---------------------------------------------------------------------------
// E-mails
// ---------------------------------------------------------------------------

/// "TLDs" that are really file extensions: `logo@2x.png` in a path is an
/// asset, not an address. None of these is a delegated top-level domain.
const FILE_EXTENSIONS: [&str; 16] = [
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "css", "js", "map", "json",
    "html", "htm", "txt",
];

/// Mask e-mail addresses, keeping the first character of the local part and
/// the whole domain: `jane.doe@example.com` -> `j***@example.com`.
///
/// * Local part: `[A-Za-z0-9._%+-]`, `'` (`o'brien@example.com` is masked
///   whole, not as `o'b***`) and non-ASCII letters and digits
///   (internationalized addresses such as `kenji.garcía53@yahoo.co.jp` are
///   masked whole); leading dots and quotes (`'jane@example.com'`) are not
///   part of it; at least one letter or digit.
/// * Domain: labels of `[A-Za-z0-9-]` separated by single dots, at least two
///   labels, the last one (the TLD) 2+ ASCII letters and not a file extension
///   (`logo@2x.png`, `@types/node`, `lodash@4.17.21`, `user@localhost`,
///   `a@b` are kept).
/// * `%40` is recognised as an `@` (`/account?email=jane.doe%40example.com`
///   -> `/account?email=j***%40example.com`); inside the local part a
///   percent-escape of a character that cannot be in an address (`%3D`,
///   `%2C`, ...) ends it.
/// * JSON-escaped text: `\"`, `\n`, `\t`, ... before the address end the
///   local part, `\u00ed` escapes of non-ASCII letters are part of it.
///   `\u0040` is not recognised as an `@` (no common encoder writes it).
///
/// Returns `None` when nothing changed, else the new string and the number of
/// addresses masked.
pub fn mask_emails(s: &str) -> Option<(String, u64)> {
    if !hints(s.as_bytes()).1 {
        return None;
    }
    mask_emails_scan(s)
}

/// [`mask_emails`] without the precheck.
fn mask_emails_scan(s: &str) -> Option<(String, u64)> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0usize;
    let mut n = 0u64;
    let mut i = 0usize;
    while let Some(off) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'@' || c == b'%'))
    {
        let at = i + off;
        let sep_len = if byte_at(b, at) == b'@' {
            1
        } else if byte_at(b, at + 1) == b'4' && byte_at(b, at + 2) == b'0' {
            3
        } else {
            i = at + 1;
            continue;
        };
        let found = domain_end(b, at + sep_len)
            .and_then(|dom_end| local_start(s, at, last).map(|ls| (ls, dom_end)));
        let Some((local, dom_end)) = found else {
            i = at + 1;
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        push_range(o, s, last, local);
        o.push_str(first_char(s, local));
        o.push_str("***");
        push_range(o, s, at, dom_end);
        last = dom_end;
        n += 1;
        i = dom_end;
    }
    let mut o = out?;
    push_range(&mut o, s, last, s.len());
    Some((o, n))
}

/// The first character of the local part starting at `local`, as kept by the
/// mask: a letter or digit, or a `\u00e9` escape of one; else nothing.
fn first_char(s: &str, local: usize) -> &str {
    let Some(rest) = s.get(local..) else {
        return "";
    };
    if rest.starts_with("\\u") {
        return rest.get(..6).unwrap_or("");
    }
    match rest.chars().next() {
        Some(c) if c.is_alphanumeric() => rest.get(..c.len_utf8()).unwrap_or(""),
        _ => "",
    }
}

/// The end of a valid domain starting at `start`, if there is one.
fn domain_end(b: &[u8], start: usize) -> Option<usize> {
    let rest = b.get(start..)?;
    let mut len = rest
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
        .unwrap_or(rest.len());
    // An empty label ends the domain.
    if let Some(dd) = rest
        .get(..len)
        .and_then(|d| d.windows(2).position(|w| w == b".."))
    {
        len = dd;
    }
    let mut dom = rest.get(..len)?;
    while let [head @ .., b'.'] = dom {
        dom = head;
    }
    if dom.first().is_none_or(|&c| c == b'.' || c == b'-') {
        return None;
    }
    // Drop trailing labels until the last one is a TLD.
    loop {
        let dot = dom.iter().rposition(|&c| c == b'.')?;
        let tld = dom.get(dot + 1..)?;
        if tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic)
            && !FILE_EXTENSIONS
                .iter()
                .any(|e| e.as_bytes().eq_ignore_ascii_case(tld))
        {
            return Some(start + dom.len());
        }
        dom = dom.get(..dot)?;
    }
}

/// A character of the local part (before percent- and JSON-escape rules).
#[inline]
fn is_local_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric()
        || matches!(ch, '.' | '_' | '%' | '+' | '-' | '\'')
        || (!ch.is_ascii() && ch.is_alphanumeric())
}

/// The value of 2 or 4 hex digits.
fn hex_value(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + char::from(c).to_digit(16)?;
    }
    Some(v)
}

/// Where the local part of an address whose `@` (or `%40`) is at `at`
/// starts, not before `floor` (the end of the previous match).
fn local_start(s: &str, at: usize, floor: usize) -> Option<usize> {
    let b = s.as_bytes();
    let head = s.get(floor..at)?;
    let mut start = at;
    for (idx, ch) in head.char_indices().rev() {
        let abs = floor + idx;
        if ch == '%' {
            match b.get(abs + 1..abs + 3).and_then(hex_value) {
                // An escaped character that cannot be in an address (`%3D`
                // for `=`, `%2C` for `,`): the local part starts after it.
                Some(v) if !char::from_u32(v).is_some_and(is_local_char) => {
                    start = start.max(abs + 3).min(at);
                    break;
                }
                _ => start = abs,
            }
        } else if is_local_char(ch) {
            start = abs;
        } else if ch == '\\' {
            // Count the backslashes: an even run is escaped backslashes,
            // the local part starts right after them.
            let run = b
                .get(floor..=abs)
                .map_or(1, |h| h.iter().rev().take_while(|&&c| c == b'\\').count());
            if run.is_multiple_of(2) {
                break;
            }
            if byte_at(b, abs + 1) == b'u' {
                let v = b.get(abs + 2..abs + 6).and_then(hex_value);
                if let Some(v) = v
                    && v >= 0x80
                    && char::from_u32(v).is_some_and(char::is_alphanumeric)
                {
                    // `\u00ed`: an escaped letter of the local part.
                    start = abs;
                    continue;
                }
                start = start.max(abs + 6).min(at);
            } else {
                // `\n`, `\t`, ...: skip the escape letter.
                start = start.max(abs + 2).min(at);
            }
            break;
        } else {
            break;
        }
    }
    // A local part does not start with a dot; a leading `'` is a quote.
    while matches!(byte_at(b, start), b'.' | b'\'') && start < at {
        start += 1;
    }
    let local = s.get(start..at)?;
    local.chars().any(char::is_alphanumeric).then_some(start)
}

// ---------------------------------------------------------------------------
// IPs
// ---------------------------------------------------------------------------

/// Truncate an IP address: IPv4 to /24 (`203.0.113.77` -> `203.0.113.0`),
/// IPv6 to /48 (`2001:db8:85a3:8d3:1319:8a2e:370:7348` -> `2001:db8:85a3::`),
/// IPv4-mapped IPv6 (`::ffff:203.0.113.77`) to the IPv4 /24 written as IPv4.
/// An address with a port (`203.0.113.77:443`, `[2001:db8::1]:443`) keeps
/// its port. A comma-separated list (X-Forwarded-For) is truncated element by
/// element, keeping the separators and the elements that are not addresses
/// (`unknown`, `-`). Returns `None` when nothing changed, including an
/// address that is already truncated.
pub fn truncate_ip(s: &str) -> Option<String> {
    truncate_ip_counted(s).map(|(o, _)| o)
}

/// [`truncate_ip`] and how many addresses it truncated.
fn truncate_ip_counted(s: &str) -> Option<(String, u64)> {
    let mut out: Option<String> = None;
    let mut last = 0usize;
    let mut n = 0u64;
    let mut pos = 0usize;
    for part in s.split(',') {
        let lead = part.len() - part.trim_start().len();
        let t = part.trim();
        let start = pos + lead;
        pos += part.len() + 1;
        let Some(new) = truncate_one(t) else {
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        push_range(o, s, last, start);
        o.push_str(&new);
        last = start + t.len();
        n += 1;
    }
    let mut o = out?;
    push_range(&mut o, s, last, s.len());
    Some((o, n))
}

/// Truncate one address (possibly with a port), `None` if it is not one or
/// is already truncated.
fn truncate_one(t: &str) -> Option<String> {
    let first = *t.as_bytes().first()?;
    if t.len() > 64 || !(first.is_ascii_hexdigit() || first == b':' || first == b'[') {
        return None;
    }
    match t.parse::<IpAddr>() {
        // The common case without the formatting machinery: a parsed IPv4
        // address is canonical (no leading zeros), so its /24 is the text up
        // to the last dot, then `0`.
        Ok(IpAddr::V4(v4)) => {
            let [.., last] = v4.octets();
            if last == 0 {
                return None;
            }
            let dot = t.rfind('.')?;
            let mut o = String::with_capacity(dot + 2);
            o.push_str(t.get(..=dot)?);
            o.push('0');
            return Some(o);
        }
        Ok(ip) => return truncate_addr(ip).map(|ip| ip.to_string()),
        Err(_) => {}
    }
    let sa = t.parse::<SocketAddr>().ok()?;
    truncate_addr(sa.ip()).map(|ip| SocketAddr::new(ip, sa.port()).to_string())
}

/// The truncated address, `None` if truncating changes nothing.
fn truncate_addr(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            (d != 0).then(|| IpAddr::V4(Ipv4Addr::new(a, b, c, 0)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                let [a, b, c, _] = v4.octets();
                // Written as IPv4 even when the last octet was already 0.
                return Some(IpAddr::V4(Ipv4Addr::new(a, b, c, 0)));
            }
            let [s0, s1, s2, ..] = v6.segments();
            let t = Ipv6Addr::new(s0, s1, s2, 0, 0, 0, 0, 0);
            (t != v6).then_some(IpAddr::V6(t))
        }
    }
}

// ---------------------------------------------------------------------------
// Attribute keys
// ---------------------------------------------------------------------------

/// Client-address keys, lowercase with `_`, `-` and `.` removed.
const IP_KEYS: [&str; 16] = [
    "xforwardedfor",
    "forwardedfor",
    "clientip",
    "clientaddr",
    "clientaddress",
    "remoteaddr",
    "remoteaddress",
    "remoteip",
    "ip",
    "ipaddress",
    "sourceip",
    "srcip",
    "trueclientip",
    "xrealip",
    "realip",
    "cfconnectingip",
];

/// Room for the longest name in [`IP_KEYS`].
const IP_KEY_MAX: usize = 16;

/// `key` lowercased without `_`, `-` and `.`, in `buf`; `None` when longer
/// than any name in [`IP_KEYS`].
fn normalize_key<'b>(key: &str, buf: &'b mut [u8; IP_KEY_MAX]) -> Option<&'b [u8]> {
    let mut n = 0usize;
    for c in key.bytes() {
        if matches!(c, b'_' | b'-' | b'.') {
            continue;
        }
        *buf.get_mut(n)? = c.to_ascii_lowercase();
        n += 1;
    }
    buf.get(..n)
}

/// A key naming a client address: the whole key (`client.ip`,
/// `X-Forwarded-For`, `remoteAddr`) or its last dotted segment
/// (`headers.x-forwarded-for`).
fn is_ip_key(key: &str) -> bool {
    let mut buf = [0u8; IP_KEY_MAX];
    let matches =
        |norm: Option<&[u8]>| norm.is_some_and(|k| IP_KEYS.iter().any(|n| n.as_bytes() == k));
    if matches(normalize_key(key, &mut buf)) {
        return true;
    }
    match key.rsplit_once('.') {
        Some((_, last)) => matches(normalize_key(last, &mut buf)),
        None => false,
    }
}

/// A key naming an identifier, whose value is not scanned for cards: its
/// last dotted segment is `id`, `uuid`, `guid` or `sku`, or ends in `_id`,
/// `-id`, `_sku` or camelCase `Id`/`ID` (`span_id`, `parentId`, `traceID`,
/// `product_sku`). `paid` or `valid` do not count.
fn is_id_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).as_bytes();
    let ends_ci = |suffix: &[u8]| {
        last.len() >= suffix.len()
            && last
                .get(last.len() - suffix.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
    };
    if [&b"id"[..], b"uuid", b"guid", b"sku"]
        .iter()
        .any(|w| last.eq_ignore_ascii_case(w))
    {
        return true;
    }
    if ends_ci(b"_id") || ends_ci(b"-id") || ends_ci(b"_sku") || ends_ci(b"-sku") {
        return true;
    }
    // camelCase: a lowercase letter or digit, then `Id` or `ID`.
    match *last {
        [.., p, b'I', b'd' | b'D'] => p.is_ascii_lowercase() || p.is_ascii_digit(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Redactor
// ---------------------------------------------------------------------------

/// Free-text columns scanned for cards and e-mails. `user_id` is scanned for
/// e-mails only; identifier and system columns are never scanned (see the
/// module documentation).
const FREE_TEXT: [TextField; 4] = [
    TextField::Message,
    TextField::HttpPath,
    TextField::UserAgent,
    TextField::ErrorType,
];

/// Applies the options to records and counts what it changed.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    opts: RedactOptions,
    counts: RedactCounts,
}

impl Redactor {
    pub fn new(opts: RedactOptions) -> Self {
        Redactor {
            opts,
            counts: RedactCounts::default(),
        }
    }

    pub fn options(&self) -> RedactOptions {
        self.opts
    }

    /// What has been redacted so far.
    pub fn counts(&self) -> RedactCounts {
        self.counts
    }

    /// Redact one record in place (see the module documentation for which
    /// column gets what). Values that are not changed stay borrowed.
    pub fn apply(&mut self, rec: &mut Record<'_>) {
        if self.opts.is_off() {
            return;
        }
        let RedactOptions { cards, emails, ips } = self.opts;
        let counts = &mut self.counts;
        if cards || emails {
            for f in FREE_TEXT {
                if let Some(Some(v)) = rec.text.get_mut(f as usize) {
                    scan(v, cards, emails, None, counts);
                }
            }
            if emails && let Some(Some(v)) = rec.text.get_mut(TextField::UserId as usize) {
                scan(v, false, true, None, counts);
            }
        }
        if ips && let Some(Some(v)) = rec.text.get_mut(TextField::ClientIp as usize) {
            truncate_in_place(v, counts);
        }
        for (k, v) in &mut rec.attributes {
            if cards || emails {
                scan(v, cards, emails, Some(k), counts);
            }
            if ips && is_ip_key(k) {
                truncate_in_place(v, counts);
            }
        }
    }
}

/// Mask cards and/or e-mails in one value, replacing it only when changed.
/// `key` is the attribute key, if the value is an attribute (identifier keys
/// are not scanned for cards; checked only when the value could hold one).
#[inline]
fn scan(
    v: &mut Cow<'_, str>,
    cards: bool,
    emails: bool,
    key: Option<&str>,
    counts: &mut RedactCounts,
) {
    let (digits, maybe_email) = hints(v.as_bytes());
    if cards
        && may_hold_card(v.as_bytes(), digits)
        && !key.is_some_and(is_id_key)
        && let Some((new, n)) = mask_cards_scan(v)
    {
        *v = Cow::Owned(new);
        counts.cards = counts.cards.saturating_add(n);
    }
    if emails
        && maybe_email
        && let Some((new, n)) = mask_emails_scan(v)
    {
        *v = Cow::Owned(new);
        counts.emails = counts.emails.saturating_add(n);
    }
}

/// Truncate the address(es) in one value, replacing it only when changed.
#[inline]
fn truncate_in_place(v: &mut Cow<'_, str>, counts: &mut RedactCounts) {
    if let Some((new, n)) = truncate_ip_counted(v) {
        *v = Cow::Owned(new);
        counts.ips = counts.ips.saturating_add(n);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cards(s: &str) -> String {
        mask_cards(s).map_or_else(|| s.to_string(), |(o, _)| o)
    }

    fn emails(s: &str) -> String {
        mask_emails(s).map_or_else(|| s.to_string(), |(o, _)| o)
    }

    #[test]
    fn options_parse() {
        let o = |c, e, i| RedactOptions {
            cards: c,
            emails: e,
            ips: i,
        };
        for (spec, want) in [
            ("", o(false, false, false)),
            ("none", o(false, false, false)),
            (" NONE ", o(false, false, false)),
            ("all", o(true, true, true)),
            ("cards", o(true, false, false)),
            ("Emails, cards", o(true, true, false)),
            ("ips,emails,cards", o(true, true, true)),
            (" ip , email ", o(false, true, true)),
            ("cards,", o(true, false, false)),
            ("all,cards", o(true, true, true)),
        ] {
            assert_eq!(RedactOptions::parse(spec), Ok(want), "{spec:?}");
        }
        let err = RedactOptions::parse("cards,phones").unwrap_err();
        assert!(
            err.contains("`phones`") && err.contains("cards, emails, ips"),
            "{err}"
        );
        assert!(RedactOptions::parse("none,cards").is_err());
        assert_eq!(RedactOptions::default(), o(true, false, false));
        assert!(RedactOptions::parse("none").unwrap().is_off());
        assert!(!RedactOptions::default().is_off());
    }

    #[test]
    fn counts_add_and_total() {
        let mut a = RedactCounts {
            cards: 1,
            emails: 2,
            ips: 3,
        };
        a.add(&RedactCounts {
            cards: 10,
            emails: 20,
            ips: 30,
        });
        assert_eq!(
            a,
            RedactCounts {
                cards: 11,
                emails: 22,
                ips: 33
            }
        );
        assert_eq!(a.total(), 66);
        let mut m = RedactCounts {
            cards: u64::MAX,
            ..Default::default()
        };
        m.add(&a);
        assert_eq!(m.total(), u64::MAX);
    }

    #[test]
    fn cards_masked() {
        for (input, want) in [
            // Visa, Mastercard (5- and 2-series), Amex, Discover, Diners, JCB, UnionPay.
            ("4111111111111111", "************1111"),
            ("4012888888881881", "************1881"),
            ("4222222222222", "*********2222"),
            ("5555555555554444", "************4444"),
            ("5105105105105100", "************5100"),
            ("2223003122003222", "************3222"),
            ("378282246310005", "***********0005"),
            ("371449635398431", "***********8431"),
            ("6011111111111117", "************1117"),
            ("6011000990139424", "************9424"),
            ("30569309025904", "**********5904"),
            ("3530111333300000", "************0000"),
            ("6200000000000005", "************0005"),
            // Separators.
            ("4111 1111 1111 1111", "**** **** **** 1111"),
            ("4111-1111-1111-1111", "****-****-****-1111"),
            ("3782 822463 10005", "**** ****** *0005"),
            ("5555-5555-5555-4444", "****-****-****-4444"),
            // In context.
            (
                "payment failed for card 4111 1111 1111 1111, retrying",
                "payment failed for card **** **** **** 1111, retrying",
            ),
            (
                r#"{"card":"4111111111111111","cvv":"123"}"#,
                r#"{"card":"************1111","cvv":"123"}"#,
            ),
            (
                r#"{\"card\":\"5555555555554444\"}"#,
                r#"{\"card\":\"************4444\"}"#,
            ),
            (
                "/v1/pay?card=4111111111111111&exp=12/28",
                "/v1/pay?card=************1111&exp=12/28",
            ),
            ("card=4111111111111111.", "card=************1111."),
            ("(4111111111111111)", "(************1111)"),
            ("4111111111111111-2024", "************1111-2024"),
            // A card followed by another number group is still found.
            ("4111 1111 1111 1111 2024", "**** **** **** 1111 2024"),
            // Unicode around (non-ASCII is never part of a token).
            (
                "カード番号：4111111111111111です",
                "カード番号：************1111です",
            ),
            (
                "Zahlung mit 4111-1111-1111-1111 für €12",
                "Zahlung mit ****-****-****-1111 für €12",
            ),
            ("💳4111111111111111💳", "💳************1111💳"),
        ] {
            assert_eq!(cards(input), want, "{input:?}");
        }
    }

    #[test]
    fn two_cards_counted() {
        let (out, n) = mask_cards("a 4111111111111111 b 5555-5555-5555-4444 c").unwrap();
        assert_eq!(out, "a ************1111 b ****-****-****-4444 c");
        assert_eq!(n, 2);
        let (out, n) = mask_cards("4111111111111111,378282246310005").unwrap();
        assert_eq!(out, "************1111,***********0005");
        assert_eq!(n, 2);
    }

    #[test]
    fn cards_kept() {
        // Check the premises of the Luhn cases.
        assert!(luhn(&digits_of("4111111111111111")));
        assert!(!luhn(&digits_of("4111111111111112")));
        // Compact timestamps (yyyyMMddHHmmssSSS): the brief's example fails
        // Luhn anyway; a neighbour passes it and is kept by the issuer rule.
        assert!(!luhn(&digits_of("20261122045620123")));
        let ts = "20261122045620121";
        assert!(luhn(&digits_of(ts)), "premise: {ts} passes Luhn");
        // An epoch-ms / epoch-us value that passes Luhn.
        let epoch_us = (1_763_000_000_000_000u64..).find(|n| luhn(&digits_of(&n.to_string())));
        let epoch_us = epoch_us.unwrap().to_string();
        // A 16-hex span id that is all digits and passes Luhn.
        let hex_all_digits = "4000000000000002";
        assert!(luhn(&digits_of(hex_all_digits)));
        for input in [
            // Luhn failures.
            "4111111111111112",
            "4111 1111 1111 1112",
            "5555555555554445",
            // Too short / too long.
            "411111111111",
            "41111111111111111110",
            // Part of longer tokens.
            "order_41111111111111110",
            "order_4111111111111111",
            "id=a4111111111111111",
            "4111111111111111x",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "4111111111111111abcdef",
            // Timestamps and epochs.
            ts,
            "20261122045620123",
            "at 20261122045620121 done",
            "20261122045620",
            &epoch_us,
            "1731234567890",
            "2024-03-14T20:59:59.985Z 2024-03-14T20:59:59.985Z",
            // Decimal fractions and phone numbers.
            "score=0.4111111111111111",
            "4111111111111111.5",
            "call +4111111111111111",
            "+49 151 2345 6789",
            "+1 (555) 123-4567",
            // Plausible lengths but implausible issuer.
            "9111111111111111",
            "3111111111111117",
            "1111111111111111",
            // Groups of more than 6 digits, mixed separators, double spaces.
            "4111-1111 1111-1111",
            "4111  1111  1111  1111",
            // UUID with all-digit groups.
            "12345678-1234-5678-1234-567812345678",
            // Already masked.
            "****-****-****-1111",
            "",
            "no digits here",
        ] {
            assert_eq!(mask_cards(input), None, "{input:?}");
        }
    }

    fn digits_of(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|c| c - b'0')
            .collect()
    }

    #[test]
    fn emails_masked() {
        for (input, want) in [
            ("jane.doe@example.com", "j***@example.com"),
            ("JANE.DOE@EXAMPLE.COM", "J***@EXAMPLE.COM"),
            ("a@example.io", "a***@example.io"),
            (
                "jane+tag@mail.eu.example.co.uk",
                "j***@mail.eu.example.co.uk",
            ),
            ("x_y-z%1@ex-ample.org", "x***@ex-ample.org"),
            (
                "user login succeeded for anna.nguyen31@example.org",
                "user login succeeded for a***@example.org",
            ),
            (
                "mail <jane@example.com>, thanks.",
                "mail <j***@example.com>, thanks.",
            ),
            ("contact jane@example.com.", "contact j***@example.com."),
            (
                r#"{"email":"jane.doe@example.com","id":1}"#,
                r#"{"email":"j***@example.com","id":1}"#,
            ),
            (
                r#"{\"email\":\"jane.doe@example.com\"}"#,
                r#"{\"email\":\"j***@example.com\"}"#,
            ),
            (r"line1\njane@example.com", r"line1\nj***@example.com"),
            (r"C:\\jane@example.com", r"C:\\j***@example.com"),
            (r"kenji.garc\u00eda53@yahoo.co.jp", r"k***@yahoo.co.jp"),
            (r"x\u0022jane@example.com", r"x\u0022j***@example.com"),
            ("kenji.garcía53@yahoo.co.jp", "k***@yahoo.co.jp"),
            ("élodie@exemple.fr", "é***@exemple.fr"),
            (
                "/account?email=jane.doe%40example.com",
                "/account?email=j***%40example.com",
            ),
            (
                "/u?next=%2Fa&email=jane%2Btag%40example.com&x=1",
                "/u?next=%2Fa&email=j***%40example.com&x=1",
            ),
            (
                "/u?q=email%3Djane%40example.com",
                "/u?q=email%3Dj***%40example.com",
            ),
            (
                "https://user:secret@example.com/x",
                "https://user:s***@example.com/x",
            ),
            ("...jane@example.com", "...j***@example.com"),
            ("o'brien.smith3@example.org", "o***@example.org"),
            (
                "user 'jane@example.com' logged in",
                "user 'j***@example.com' logged in",
            ),
            (
                r#"user \"jos\u00e9.m\u00fcller36@gmail.com\""#,
                r#"user \"j***@gmail.com\""#,
            ),
            (r"\u00f3lafur.tanaka98@web.de", r"\u00f3***@web.de"),
            (
                "メール: jane@example.com です",
                "メール: j***@example.com です",
            ),
        ] {
            assert_eq!(emails(input), want, "{input:?}");
        }
    }

    #[test]
    fn several_emails_counted() {
        let (out, n) =
            mask_emails("from a@example.com to bob@example.org, cc c.d@x.example.net").unwrap();
        assert_eq!(
            out,
            "from a***@example.com to b***@example.org, cc c***@x.example.net"
        );
        assert_eq!(n, 3);
        let (out, n) = mask_emails("?to=a%40b.com%2Cc%40d.com").unwrap();
        assert_eq!(out, "?to=a***%40b.com%2Cc***%40d.com");
        assert_eq!(n, 2);
        let (out, n) = mask_emails("a@example.com,b@example.com").unwrap();
        assert_eq!(out, "a***@example.com,b***@example.com");
        assert_eq!(n, 2);
    }

    #[test]
    fn emails_kept() {
        for input in [
            "user@localhost",
            "@handle",
            "a@b",
            "ping @alice please",
            "a@b.c",
            "jane@example",
            "jane@.com",
            "jane@-x.com",
            "@types/node",
            "lodash@4.17.21",
            "/static/logo@2x.png",
            "image@sha256:abcdef",
            "100%",
            "50% off, 40% more",
            "%40example.com",
            "j***@example.com",
            "..@example.com",
            "",
        ] {
            assert_eq!(mask_emails(input), None, "{input:?}");
        }
    }

    #[test]
    fn ips_truncated() {
        for (input, want) in [
            ("203.0.113.77", Some("203.0.113.0")),
            ("203.0.113.0", None),
            (
                "2001:db8:85a3:8d3:1319:8a2e:370:7348",
                Some("2001:db8:85a3::"),
            ),
            ("2001:db8:85a3::", None),
            ("2a02:123a:5ca8::5b65", Some("2a02:123a:5ca8::")),
            ("::1", Some("::")),
            ("::ffff:203.0.113.77", Some("203.0.113.0")),
            ("::ffff:cb00:714d", Some("203.0.113.0")),
            ("1.2.3.4, 5.6.7.8", Some("1.2.3.0, 5.6.7.0")),
            ("1.2.3.4,5.6.7.8", Some("1.2.3.0,5.6.7.0")),
            ("unknown, 10.0.0.7", Some("unknown, 10.0.0.0")),
            ("10.0.0.0, 2001:db8::1", Some("10.0.0.0, 2001:db8::")),
            (" 198.51.100.23 ", Some(" 198.51.100.0 ")),
            ("203.0.113.77:443", Some("203.0.113.0:443")),
            ("[2001:db8:1:2::1]:8443", Some("[2001:db8:1::]:8443")),
            ("unknown", None),
            ("-", None),
            ("", None),
            (",", None),
            ("1.2.3", None),
            ("999.1.1.1", None),
            ("1.2.3.4.5", None),
            ("h.example.com", None),
            ("fe80::1%eth0", None),
            ("dead:beef", None),
        ] {
            assert_eq!(truncate_ip(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn key_rules() {
        for k in [
            "x_forwarded_for",
            "X-Forwarded-For",
            "x.forwarded.for",
            "client_ip",
            "clientIp",
            "client.ip",
            "remote_addr",
            "remoteAddr",
            "IP",
            "source_ip",
            "True-Client-IP",
            "true_client_ip",
            "headers.x-forwarded-for",
            "http.client_ip",
        ] {
            assert!(is_ip_key(k), "{k}");
        }
        for k in ["ship", "zip", "description", "ip_country", "client_port"] {
            assert!(!is_ip_key(k), "{k}");
        }
        for k in [
            "span_id",
            "parent-id",
            "spanId",
            "traceID",
            "id",
            "ID",
            "uuid",
            "otel.span_id",
            "product_sku",
            "span2Id",
        ] {
            assert!(is_id_key(k), "{k}");
        }
        for k in ["paid", "valid", "card", "message", "payment", "Id2", ""] {
            assert!(!is_id_key(k), "{k}");
        }
    }

    fn is_borrowed(c: &Option<Cow<'_, str>>) -> bool {
        matches!(c, Some(Cow::Borrowed(_)))
    }

    #[test]
    fn apply_record() {
        let line = String::from(
            "checkout failed for jane@example.com card 4111 1111 1111 1111 trace 4bf92f3577b34da6",
        );
        let mut rec = Record::default();
        rec.set(TextField::Message, line.as_str());
        rec.set(
            TextField::HttpPath,
            "/v1/pay?email=bob%40example.org&card=5555555555554444",
        );
        rec.set(
            TextField::UserAgent,
            "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
        );
        rec.set(TextField::UserId, "carol@example.net");
        rec.set(TextField::ClientIp, "203.0.113.77");
        rec.set(TextField::TraceId, "4111111111111111");
        rec.set(TextField::OrderId, "4111111111111111");
        rec.set(TextField::Service, "pay@example.com");
        rec.attr("note", "card 378282246310005 on file");
        rec.attr("span_id", "4000000000000002");
        rec.attr("X-Forwarded-For", "198.51.100.23, 10.0.0.7");
        rec.attr("quantity", "2");
        let original = rec.clone();

        // Options off: nothing changes, everything stays borrowed.
        let mut off = Redactor::new(RedactOptions::parse("none").unwrap());
        let mut r = original.clone();
        off.apply(&mut r);
        assert_eq!(r, original);
        assert!(
            r.text
                .iter()
                .flatten()
                .all(|c| matches!(c, Cow::Borrowed(_)))
        );
        assert_eq!(off.counts(), RedactCounts::default());

        // Default: cards only.
        let mut red = Redactor::default();
        assert_eq!(red.options(), RedactOptions::default());
        let mut r = original.clone();
        red.apply(&mut r);
        assert_eq!(
            r.get(TextField::Message),
            Some(
                "checkout failed for jane@example.com card **** **** **** 1111 trace 4bf92f3577b34da6"
            )
        );
        assert_eq!(
            r.get(TextField::HttpPath),
            Some("/v1/pay?email=bob%40example.org&card=************4444")
        );
        assert_eq!(r.get(TextField::UserId), Some("carol@example.net"));
        assert_eq!(r.get(TextField::TraceId), Some("4111111111111111"));
        assert_eq!(r.get(TextField::OrderId), Some("4111111111111111"));
        assert_eq!(r.get(TextField::ClientIp), Some("203.0.113.77"));
        assert_eq!(r.attributes[0].1, "card ***********0005 on file");
        assert_eq!(
            r.attributes[1].1, "4000000000000002",
            "identifier attribute"
        );
        assert!(is_borrowed(&r.text[TextField::UserAgent as usize]));
        assert!(is_borrowed(&r.text[TextField::UserId as usize]));
        assert!(is_borrowed(&r.text[TextField::ClientIp as usize]));
        assert!(matches!(r.attributes[2].1, Cow::Borrowed(_)));
        assert_eq!(
            red.counts(),
            RedactCounts {
                cards: 3,
                emails: 0,
                ips: 0
            }
        );

        // Everything.
        let mut all = Redactor::new(RedactOptions::ALL);
        let mut r = original.clone();
        all.apply(&mut r);
        assert_eq!(
            r.get(TextField::Message),
            Some(
                "checkout failed for j***@example.com card **** **** **** 1111 trace 4bf92f3577b34da6"
            )
        );
        assert_eq!(
            r.get(TextField::HttpPath),
            Some("/v1/pay?email=b***%40example.org&card=************4444")
        );
        assert_eq!(r.get(TextField::UserId), Some("c***@example.net"));
        assert_eq!(r.get(TextField::Service), Some("pay@example.com"));
        assert_eq!(r.get(TextField::ClientIp), Some("203.0.113.0"));
        assert_eq!(r.attributes[2].1, "198.51.100.0, 10.0.0.0");
        assert!(is_borrowed(&r.text[TextField::UserAgent as usize]));
        assert!(matches!(r.attributes[3].1, Cow::Borrowed(_)));
        let c = all.counts();
        assert_eq!(
            c,
            RedactCounts {
                cards: 3,
                emails: 3,
                ips: 3
            }
        );
        // Counts accumulate over records.
        let mut r = original.clone();
        all.apply(&mut r);
        assert_eq!(all.counts().total(), 2 * c.total());
        // Redacting twice changes nothing more.
        let before = r.clone();
        let mut again = Redactor::new(RedactOptions::ALL);
        again.apply(&mut r);
        assert_eq!(r, before);
        assert_eq!(again.counts().total(), 0);
    }

    #[test]
    fn never_panics() {
        // Every prefix/suffix split of tricky inputs, including cuts inside
        // multi-byte characters avoided by char boundaries.
        let inputs = [
            "a@b.cd%40ef.gh\\u00e9@x.io %4 %z@a.bc \\ \\u12 4111 1111 1111 1111 1",
            "é@é.é ü4111111111111111ü 🎉@🎉.com +4111-1111-1111-1111 .4111111111111111",
            "%%%@@@...---   4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\\\\\\u00@a.bc",
            "::ffff:1.2.3.4,,, [::1]:99999, 1.2.3.4:, [1.2.3.4]:5",
        ];
        for s in inputs {
            for (i, _) in s.char_indices() {
                for part in [&s[..i], &s[i..]] {
                    let _ = mask_cards(part);
                    let _ = mask_emails(part);
                    let _ = truncate_ip(part);
                    let _ = mask_cards_scan(part);
                    let _ = mask_emails_scan(part);
                }
            }
        }
        let long_digits = "4".repeat(10_000);
        assert_eq!(mask_cards(&long_digits), None);
        let many_at = "@".repeat(10_000);
        assert_eq!(mask_emails(&many_at), None);
    }
}
