//! PII redaction, applied to every [`Record`] after parsing and before any
//! sink sees it (Parquet rows, search index, NDJSON output), and to the
//! lines the quarantine keeps.
//!
//! # What is redacted, and where
//!
//! | kind | default | columns | attributes |
//! |---|---|---|---|
//! | payment cards | **on** | free text (`message`, `http_path`, `user_agent`, `error_type`) anywhere in the value; every other column when the whole value is a card number | every value (identifier keys such as `span_id`, `card_id`: when the whole value is a card number) |
//! | e-mail addresses | **on** | free text, `user_id` | every value |
//! | secrets | **on** | free text | every value; the whole value of a key naming a secret (`password`, `*_token`, `X-Api-Key`, `Authorization`, `Cookie`, ...) |
//! | client IPs | off | `client_ip` | values of client-address keys (`x_forwarded_for`, `client_ip`, `remote_addr`, `ip`, `source_ip`, `true_client_ip`, `x_real_ip`, `cf_connecting_ip`, ...; case-insensitive, `_`/`-`/`.` and camelCase all match, also as the last segment of a dotted key such as `headers.X-Forwarded-For`) |
//!
//! Until this release the default was cards only; e-mails and secrets are
//! now on unless `REDACT` (`--redact`) says otherwise.
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
//! * Identifier and system columns (`trace_id`, `request_id`, `session_id`,
//!   `order_id`, `sku`, `service`, `host`, ...): checked for a card only
//!   when the whole value is one (13 to 19 digits, spaces or dashes between
//!   groups, passing Luhn and the issuer rule), whatever the field is
//!   called: a card number logged as `order_id` or `card_id` is masked. A
//!   digit run inside an id (`ord_4111...`, hex) is the id's and is kept.
//!
//! * **Cards** are masked to `*` per digit keeping the separators and the
//!   last four digits: `4111-1111-1111-1111` -> `****-****-****-1111`.
//! * **E-mails** keep the first character of the local part and the whole
//!   domain: `jane.doe@example.com` -> `j***@example.com`; the URL-encoded
//!   form `jane.doe%40example.com` becomes `j***%40example.com`.
//! * **Secrets** (see [`mask_secrets`]): the value after `password=`,
//!   `token=`, `api_key=`, `Authorization: Bearer`, ... becomes `****`;
//!   JWTs, AWS access key ids and secret access keys become `****`.
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
//!   E-mails are on by default all the same: an address in the lake is
//!   personal data for as long as the lake keeps it; turn them off
//!   (`REDACT=cards,secrets`) only where user ids must stay distinct.
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
//!   That is why identifier columns and attributes are only checked when
//!   the whole value is a card (all-digit `span_id`s were 37 of the 42 false
//!   positives in 1.76M bench lines scanned whole, about 1 in 45,000 span
//!   ids, which we accept rather than let a card through an id field); the
//!   other 5 were 16-hex cart ids in
//!   `http_path` (`/v1/carts/************8750/items`, about 3 per million
//!   records), which we accept rather than leave card numbers in paths.
//! * The quarantine keeps the lines that could not be parsed, masked with
//!   [`Redactor::mask_text`] as free text (see `ingest::quarantine`).
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
//!
//! Two things come back on nearly every line of a log: its attribute keys
//! and its few user agents (110 to 250 bytes, with 20 or more digits, so
//! each went through the card pass). The [`Redactor`] keeps the class of
//! the keys it has seen and the user agents it found nothing in, in two
//! small tables (`memo.rs`, 256 slots each, filled from a redactor's
//! second record on, so one made for a single record allocates nothing),
//! and skips the checks for a value it finds there: the answer is the one
//! the checks would give.
//!
//! # Layout
//!
//! This file holds the options, the counts and the [`Redactor`], which
//! applies the detectors column by column. Each detector is a file of its
//! own and never imports this one: `cards.rs` ([`mask_cards`]), `emails.rs`
//! ([`mask_emails`]), `ips.rs` ([`truncate_ip`]), `secrets.rs`
//! ([`mask_secrets`]); `keys.rs` decides which attribute keys name
//! identifiers, client addresses or secrets, `bytes.rs` holds the byte
//! helpers the detectors share, and `memo.rs` the tables of values seen
//! before.

mod bytes;
mod cards;
mod emails;
mod ips;
mod keys;
mod memo;
mod secrets;

use std::borrow::Cow;

use crate::record::{Record, TextField};
use bytes::hints;
use cards::{mask_cards_scan, may_hold_card};
use emails::mask_emails_scan;
use ips::truncate_ip_counted;
use keys::{is_id_key, is_ip_key, is_secret_key};
use memo::Memo;
use secrets::{mask_secrets_scan, mask_whole, may_hold_secret};

pub use cards::mask_cards;
pub use emails::mask_emails;
pub use ips::truncate_ip;
pub use secrets::mask_secrets;

/// What to redact. Default: cards, e-mails and secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedactOptions {
    pub cards: bool,
    pub emails: bool,
    pub ips: bool,
    pub secrets: bool,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            cards: true,
            emails: true,
            ips: false,
            secrets: true,
        }
    }
}

impl RedactOptions {
    /// Everything off.
    pub const NONE: RedactOptions = RedactOptions {
        cards: false,
        emails: false,
        ips: false,
        secrets: false,
    };
    /// Everything on.
    pub const ALL: RedactOptions = RedactOptions {
        cards: true,
        emails: true,
        ips: true,
        secrets: true,
    };

    /// Parse a comma-separated list: `"cards,emails,ips,secrets"` in any
    /// order and case, spaces allowed, singular forms (`card`, `email`,
    /// `ip`, `secret`) accepted. `"none"` or `""` turn everything off,
    /// `"all"` turns everything on. `none` cannot be combined with other
    /// words.
    pub fn parse(spec: &str) -> Result<RedactOptions, String> {
        const VALID: &str = "cards, emails, secrets, ips, all, none";
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
            } else if is("secrets") || is("secret") {
                opts.secrets = true;
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
        !self.cards && !self.emails && !self.ips && !self.secrets
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
    /// Secrets masked (passwords, tokens, keys, JWTs, credentials).
    #[serde(default)]
    pub secrets: u64,
}

impl RedactCounts {
    pub fn total(&self) -> u64 {
        self.cards
            .saturating_add(self.emails)
            .saturating_add(self.ips)
            .saturating_add(self.secrets)
    }

    pub fn add(&mut self, other: &RedactCounts) {
        self.cards = self.cards.saturating_add(other.cards);
        self.emails = self.emails.saturating_add(other.emails);
        self.ips = self.ips.saturating_add(other.ips);
        self.secrets = self.secrets.saturating_add(other.secrets);
    }
}

/// Applies the options to records and counts what it changed.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    opts: RedactOptions,
    counts: RedactCounts,
    /// What the attribute keys seen lately name ([`KeyClass`]).
    keys: Memo<KeyClass>,
    /// User agents seen lately that hold nothing to redact.
    clean_agents: Memo<()>,
    /// Records redacted so far: the tables are filled from the second on,
    /// so a redactor made for one record (an HTTP event) allocates none.
    records: u64,
}

/// What an attribute key names, as [`keys`] decides it.
#[derive(Debug, Clone, Copy)]
struct KeyClass {
    secret: bool,
    id: bool,
    ip: bool,
}

impl KeyClass {
    fn of(key: &str) -> KeyClass {
        KeyClass {
            secret: is_secret_key(key),
            id: is_id_key(key),
            ip: is_ip_key(key),
        }
    }
}

impl Redactor {
    pub fn new(opts: RedactOptions) -> Self {
        Redactor {
            opts,
            ..Redactor::default()
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
        let opts = self.opts;
        let remember = self.records > 0;
        self.records += 1;
        let Redactor {
            counts,
            keys,
            clean_agents,
            ..
        } = self;
        for f in TextField::ALL {
            let Some(Some(v)) = rec.text.get_mut(f as usize) else {
                continue;
            };
            // Free text, scanned anywhere; `user_id` also for e-mails (many
            // systems use the address as the id); `client_ip` for IPs; the
            // rest for a card that is the whole value.
            match f {
                // The same few user agents come back on most lines: one
                // found clean before is clean again.
                TextField::UserAgent => {
                    if clean_agents.get(v).is_none() {
                        let before = *counts;
                        scan(v, opts, Scope::FreeText, counts);
                        if remember && *counts == before {
                            clean_agents.put(v, ());
                        }
                    }
                }
                TextField::Message | TextField::HttpPath | TextField::ErrorType => {
                    scan(v, opts, Scope::FreeText, counts)
                }
                TextField::ClientIp => {
                    if opts.ips {
                        truncate_in_place(v, counts);
                    }
                }
                TextField::UserId => {
                    scan(v, opts, Scope::WholeCard, counts);
                    let emails_only = RedactOptions {
                        emails: opts.emails,
                        ..RedactOptions::NONE
                    };
                    scan(v, emails_only, Scope::FreeText, counts);
                }
                _ => scan(v, opts, Scope::WholeCard, counts),
            }
        }
        for (k, v) in &mut rec.attributes {
            let class = match keys.get(k) {
                Some(c) => c,
                None => {
                    let c = KeyClass::of(k);
                    if remember {
                        keys.put(k, c);
                    }
                    c
                }
            };
            if opts.secrets && class.secret {
                if let Some(masked) = mask_whole(v) {
                    *v = Cow::Owned(masked);
                    counts.secrets = counts.secrets.saturating_add(1);
                }
                continue;
            }
            let scope = if class.id {
                Scope::WholeCard
            } else {
                Scope::FreeText
            };
            scan(v, opts, scope, counts);
            if opts.ips && class.ip {
                truncate_in_place(v, counts);
            }
        }
    }

    /// Mask free text that is not a record (a quarantined line, a detail):
    /// cards, e-mails and secrets, as in a message. `None` when nothing
    /// changed.
    pub fn mask_text(&mut self, text: &str) -> Option<String> {
        let mut v = Cow::Borrowed(text);
        let opts = RedactOptions {
            ips: false,
            ..self.opts
        };
        scan(&mut v, opts, Scope::FreeText, &mut self.counts);
        match v {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        }
    }
}

/// How much of a value is scanned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Anywhere in the value: cards, e-mails, secrets.
    FreeText,
    /// An identifier or system value: a card only when it is the whole
    /// value (digits, with spaces or dashes between groups).
    WholeCard,
}

/// Mask what `opts` asks for in one value, replacing it only when changed.
#[inline]
fn scan(v: &mut Cow<'_, str>, opts: RedactOptions, scope: Scope, counts: &mut RedactCounts) {
    // A whole-value card is 13 to 19 digits and at most 6 separators.
    if scope == Scope::WholeCard && !(13..=25).contains(&v.len()) {
        return;
    }
    let h = hints(v.as_bytes());
    let (digits, maybe_email) = (h.digits, h.maybe_email);
    if opts.cards
        && (scope == Scope::FreeText || is_card_shaped(v.as_bytes(), digits))
        && may_hold_card(v.as_bytes(), digits)
        && let Some((new, n)) = mask_cards_scan(v)
    {
        *v = Cow::Owned(new);
        counts.cards = counts.cards.saturating_add(n);
    }
    if scope == Scope::WholeCard {
        return;
    }
    if opts.emails
        && maybe_email
        && let Some((new, n)) = mask_emails_scan(v)
    {
        *v = Cow::Owned(new);
        counts.emails = counts.emails.saturating_add(n);
    }
    if opts.secrets
        && may_hold_secret(v, h)
        && let Some((new, n)) = mask_secrets_scan(v)
    {
        *v = Cow::Owned(new);
        counts.secrets = counts.secrets.saturating_add(n);
    }
}

/// A whole value that could be one card number: 13 to 19 digits, with
/// nothing but spaces or dashes between them.
fn is_card_shaped(b: &[u8], digits: usize) -> bool {
    (13..=19).contains(&digits)
        && b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_digit)
        && b.iter()
            .all(|c| c.is_ascii_digit() || *c == b' ' || *c == b'-')
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
mod tests;
