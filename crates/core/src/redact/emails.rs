//! E-mail addresses, plain or URL-encoded (`%40`), in free and
//! JSON-escaped text: masked to the first character of the local part and
//! the whole domain (see [`mask_emails`]).

use super::bytes::{byte_at, hints, push_range};

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
    if !hints(s.as_bytes()).maybe_email {
        return None;
    }
    mask_emails_scan(s)
}

/// [`mask_emails`] without the precheck.
pub(super) fn mask_emails_scan(s: &str) -> Option<(String, u64)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(s: &str) -> String {
        mask_emails(s).map_or_else(|| s.to_string(), |(o, _)| o)
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
}
