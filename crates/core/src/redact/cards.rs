//! Payment card numbers: the cheap vectorized prefilters, the scan for
//! 13-19 digit runs that pass the token, Luhn and issuer rules, and the
//! masking that keeps the last four digits (see [`mask_cards`]).

use super::bytes::{byte_at, byte_before, hints, push_range};

/// The fewest digits a card number has.
const CARD_MIN: usize = 13;
/// The most digits a card number has.
const CARD_MAX: usize = 19;

/// Fewer "interior" card digits than this (see [`card_interior_digits`]):
/// no card.
const CARD_MIN_INTERIOR: usize = CARD_MIN - 4;

/// Digits whose two neighbours on each side are digits, spaces or dashes.
/// Every digit of a card but its first two and last two is one (groups have
/// at least three digits), so a value with fewer than [`CARD_MIN_INTERIOR`]
/// cannot hold a card. This is the second filter, for values with 13+ digits
/// that are not cards: hex ids and UUIDs (`5d64c702-0ae1-4cb8`), user agents
/// (`Chrome/122.0.6261.105`), version strings, dates (`2024-03-14 21:00`).
fn card_interior_digits(b: &[u8]) -> usize {
    #[inline]
    fn cardish(c: u8) -> u8 {
        u8::from(c.wrapping_sub(b'0') < 10) | u8::from(c == b' ') | u8::from(c == b'-')
    }
    let Some(len) = b.len().checked_sub(4) else {
        return 0;
    };
    let mut total = 0usize;
    let mut at = 0;
    while at < len {
        // Slices of one length, so the loop below has no bounds checks and
        // vectorizes; at most 128 per block, so a u8 count cannot overflow.
        let k = (len - at).min(128);
        let (l2, l1, m, r1, r2) = (
            &b[at..at + k],
            &b[at + 1..at + 1 + k],
            &b[at + 2..at + 2 + k],
            &b[at + 3..at + 3 + k],
            &b[at + 4..at + 4 + k],
        );
        let mut count = 0u8;
        for j in 0..k {
            count += cardish(l2[j])
                & cardish(l1[j])
                & u8::from(m[j].wrapping_sub(b'0') < 10)
                & cardish(r1[j])
                & cardish(r2[j]);
        }
        total += usize::from(count);
        at += k;
    }
    total
}

/// The cheap filters: can `b`, with `digits` ASCII digits, hold a card?
#[inline]
pub(super) fn may_hold_card(b: &[u8], digits: usize) -> bool {
    digits >= CARD_MIN && card_interior_digits(b) >= CARD_MIN_INTERIOR
}

/// Part of an alphanumeric token (ASCII letter, digit or `_`). Non-ASCII
/// characters are *not* token characters: CJK text puts no spaces around
/// numbers, and the token rule exists for ASCII identifiers (hex ids,
/// `order_123...`).
#[inline]
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

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
    if !may_hold_card(b, hints(b).digits) {
        return None;
    }
    mask_cards_scan(s)
}

/// [`mask_cards`] without the prefilters.
pub(super) fn mask_cards_scan(s: &str) -> Option<(String, u64)> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0usize;
    let mut n = 0u64;
    let mut i = 0usize;
    // Invariant: when `b[i]` is a digit, `b[i - 1]` is not (we skip whole
    // digit groups), so `i` is the start of a group.
    while i < b.len() {
        if !byte_at(b, i).is_ascii_digit() {
            i = next_digit(b, i + 1);
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

/// The index of the first ASCII digit at or after `i`, or `b.len()`: eight
/// bytes at a time, since most of a value is not digits.
#[inline]
fn next_digit(b: &[u8], mut i: usize) -> usize {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // A byte is a digit when it is ASCII and in b'0'..=b'9': its high bit
        // clear, `byte - 0x30` not borrowing and `byte + 0x46` not
        // reaching 0x80. Per byte, with no carry between bytes for ASCII.
        let ascii = !w & HIGH;
        let low7 = w & !HIGH;
        let ge0 = (low7 + (0x80 - 0x30) * LOW) & HIGH;
        let le9 = !(low7 + (0x80 - 0x3a) * LOW) & HIGH;
        let digits = ascii & ge0 & le9;
        if digits != 0 {
            return i + (digits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !b[i].is_ascii_digit() {
        i += 1;
    }
    i
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cards(s: &str) -> String {
        mask_cards(s).map_or_else(|| s.to_string(), |(o, _)| o)
    }

    #[test]
    fn next_digit_matches_a_byte_loop() {
        // Every byte value, digits sparse, at every alignment.
        let mut b: Vec<u8> = (0..=255u8).filter(|c| !c.is_ascii_digit()).collect();
        for (at, d) in [(3, b'0'), (17, b'9'), (40, b'5'), (200, b'1')] {
            b.insert(at, d);
        }
        for i in 0..=b.len() {
            let want = (i..b.len())
                .find(|&j| b[j].is_ascii_digit())
                .unwrap_or(b.len());
            assert_eq!(next_digit(&b, i), want, "from {i}");
        }
    }

    /// A seeded xorshift: `next(n)` is a number below `n`.
    fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        }
    }

    /// The prefilters only skip work: on values built from cards in every
    /// grouping, next to dates, hex ids and punctuation, the filtered and
    /// the unfiltered scan agree, and every card is masked.
    #[test]
    fn prefilters_never_hide_a_card() {
        let cards = [
            "4111111111111111",
            "4222222222222",
            "378282246310005",
            "30569309025904",
            "6011000990139424",
            "2223003122003222",
            "4111111111111111111",
        ];
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let fillers = [
            "",
            " ",
            "=",
            "\"",
            ":",
            "/",
            "(",
            "2024-03-14 21:00:00 ",
            "5d64c702-0ae1 ",
            "card ",
            "offset=827262, port 9092 ",
            "1 2 3-",
        ];
        let mut masked = 0;
        for _ in 0..4000 {
            let card = cards[next(cards.len())];
            // Split into groups of 3-6 digits with one separator, or not.
            let sep = [None, Some(' '), Some('-')][next(3)];
            let mut grouped = String::new();
            let mut rest = card;
            while !rest.is_empty() {
                let take = if sep.is_none() {
                    rest.len()
                } else {
                    (3 + next(4)).min(rest.len())
                };
                if !grouped.is_empty() {
                    grouped.extend(sep);
                }
                grouped.push_str(&rest[..take]);
                rest = &rest[take..];
            }
            let v = format!(
                "{}{}{}{}",
                fillers[next(fillers.len())],
                fillers[next(fillers.len())],
                grouped,
                fillers[next(fillers.len())],
            );
            let filtered = mask_cards(&v);
            assert_eq!(filtered, mask_cards_scan(&v), "{v:?}");
            masked += usize::from(filtered.is_some());
        }
        // A grouping whose last group has under three digits is no card, nor
        // is a card glued to a token; the rest are.
        assert!(masked > 1000, "{masked}");
    }

    /// The same on random runs of digits, spaces, dashes, dots and letters,
    /// where Luhn-valid runs of every length and grouping turn up by chance
    /// (each value starts with an issuer digit half the time).
    #[test]
    fn prefilters_agree_with_the_scan_on_random_digit_runs() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let alphabet = b"01234567890123456789012345678945456  --.ax";
        let mut found = 0;
        for _ in 0..60_000 {
            let len = next(48);
            let mut v: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            if next(2) == 0 {
                v.insert(0, b"456"[next(3)]);
            }
            let v = String::from_utf8(v).unwrap_or_default();
            let scanned = mask_cards_scan(&v);
            assert_eq!(mask_cards(&v), scanned, "{v:?}");
            found += usize::from(scanned.is_some());
        }
        assert!(found > 100, "{found}");
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
}
