//! Credentials in logged text: `password=`, `token=`, `api_key=` and their
//! kin in query strings, headers and JSON; `Authorization: Bearer`/`Basic`
//! credentials; JWTs; AWS access key ids and secret access keys. The value
//! is replaced by `****` (its length is not kept); the key, the separator
//! and an HTTP auth scheme stay, so `?token=abc&x=1` becomes
//! `?token=****&x=1` and `Authorization: Bearer eyJ...` becomes
//! `Authorization: Bearer ****`.
//!
//! What counts:
//!
//! * a key ending in `password`, `passwd`, `pwd` (not `PWD` alone: the
//!   working directory in sudo and shell logs), `secret`, `token`,
//!   `api_key`/`apikey`/`api-key`, `access_key`, `secret_key`,
//!   `private_key`, `authorization`, `credentials` or `cookie` (any case, any
//!   prefix: `db.password`, `X-Api-Key`, `client_secret`, `refresh_token`),
//!   followed by `=` or `:` (quotes and spaces allowed, JSON-escaped quotes
//!   too): its value, up to a delimiter (`&`, space, quote, `,`, `;`,
//!   brackets);
//! * `Bearer` or `Basic` followed by a credential of 8 or more characters,
//!   in a value the rules above already look at (after `Authorization:`,
//!   or beside a key or token);
//! * a JWT: `eyJ...` header, payload and signature in base64url;
//! * an AWS access key id (`AKIA`/`ASIA` and 16 more);
//! * a 40-character run of `[A-Za-z0-9/+]` with upper, lower case and a
//!   digit (an AWS secret access key's shape) in a value that names
//!   credentials somewhere (`secret`, `key`, `AKIA`, ...). Without such a
//!   word a 40-character token is left: hashes and ids have that shape too.
//!
//! Cost: nothing beyond the one vectorized pass every value gets
//! ([`hints`]) for a value without `=`, `:`, `J` or `I`; only a value with
//! a separator after a secret's key, `eyJ` or `AKIA`/`ASIA` goes through
//! the regular expression.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use regex::Regex;

use super::bytes::{Hints, hints};
use super::keys::{is_secret_key, may_end_secret_key};

/// The mask of a secret value.
pub const MASK: &str = "****";

/// Key suffixes that name a secret (lowercase; `-` and `.` in keys count as
/// `_`).
const KEY: &str = r"(?:password|passwd|[a-z0-9]_?pwd|secret|token|api_?key|access_?key|secret_?(?:access_?)?key|private_?key|authorization|credentials?|cookie)";

static RULES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        concat!(
            // key = value, key: value, "key": "value", \"key\":\"value\"
            r#"(?i:(?:^|[^a-z0-9])[a-z0-9_.\-]*{key})\\?["']?[ \t]*[:=][ \t]*\\?["']?"#,
            r#"(?:(?i:bearer|basic|token|digest)[ \t]+)?(?P<kv>[^\s"'&,;<>{{}}\[\]()\\]+)"#,
            r#"|(?i:\b(?:bearer|basic)[ \t]+)(?P<bearer>[A-Za-z0-9\-._~+/]{{8,}}=*)"#,
            r#"|(?P<jwt>\beyJ[A-Za-z0-9_\-]{{5,}}\.[A-Za-z0-9_\-]{{5,}}\.[A-Za-z0-9_\-]*)"#,
            r#"|(?P<akid>\b(?:AKIA|ASIA)[A-Z0-9]{{16}}\b)"#,
            r#"|(?:^|[^A-Za-z0-9/+=])(?P<aws>[A-Za-z0-9/+]{{40}})(?:$|[^A-Za-z0-9/+=])"#,
        ),
        key = KEY.replace('_', r"[_.\-]?")
    ))
    .ok()
});

/// An AWS secret access key's shape: upper and lower case and a digit.
fn mixed(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit)
}

static JWT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("eyJ"));
/// `IA`, the end of `AKIA` and `ASIA`: one search for both.
static KEY_ID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("IA"));

/// Whether `s` may hold a secret, from the one pass every value gets
/// ([`hints`]), so that most values end here: a `=` or `:` after a key that
/// names a secret (the key read backwards from the separator, over quotes
/// and blanks), `eyJ`, or `AKIA`/`ASIA`.
#[inline]
pub(super) fn may_hold_secret(s: &str, h: Hints) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !h.maybe_secret() {
        return false;
    }
    let keyed = h.sep
        && memchr::memchr2_iter(b'=', b':', b).any(|sep| {
            let mut end = sep;
            while end > 0
                && b.get(end - 1)
                    .is_some_and(|c| matches!(c, b'"' | b'\'' | b'\\' | b' ' | b'\t'))
            {
                end -= 1;
            }
            // The key's last three letters, past `_` and `-`, decide most
            // separators (times, ports, `a=1`, `error:`) before the key is
            // read back: `is_secret_key` says no to any other.
            if !b.get(..end).is_some_and(may_end_secret_key) {
                return false;
            }
            let mut start = end;
            while start > 0
                && b.get(start - 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
            {
                start -= 1;
            }
            s.get(start..end).is_some_and(is_secret_key)
        });
    keyed
        || (h.jwt && JWT.find(b).is_some())
        || (h.key_id
            && KEY_ID
                .find_iter(b)
                .any(|i| i >= 2 && matches!(b.get(i - 2..i), Some(b"AK" | b"AS"))))
}

/// `s` with every secret masked and how many, or `None` when there is none.
pub fn mask_secrets(s: &str) -> Option<(String, u64)> {
    if !may_hold_secret(s, hints(s.as_bytes())) {
        return None;
    }
    mask_secrets_scan(s)
}

/// [`mask_secrets`] without the prefilter.
pub(super) fn mask_secrets_scan(s: &str) -> Option<(String, u64)> {
    let rules = RULES.as_ref()?;
    let mut out = String::new();
    let mut last = 0usize;
    let mut n = 0u64;
    for c in rules.captures_iter(s) {
        let Some(m) = ["kv", "bearer", "jwt", "akid", "aws"]
            .iter()
            .find_map(|g| c.name(g).map(|m| (*g, m)))
        else {
            continue;
        };
        let (group, m) = m;
        if m.as_str() == MASK || (group == "aws" && !mixed(m.as_str())) {
            continue;
        }
        out.push_str(s.get(last..m.start()).unwrap_or_default());
        out.push_str(MASK);
        last = m.end();
        n += 1;
    }
    if n == 0 {
        return None;
    }
    out.push_str(s.get(last..).unwrap_or_default());
    Some((out, n))
}

/// The whole value of an attribute whose key names a secret, masked (an
/// HTTP auth scheme in front is kept: `Bearer ****`); `None` when empty or
/// already masked.
pub(super) fn mask_whole(v: &str) -> Option<String> {
    let t = v.trim();
    if t.is_empty() || t == MASK {
        return None;
    }
    for scheme in ["Bearer ", "Basic ", "Token ", "Digest "] {
        if t.len() > scheme.len()
            && t.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            let rest = t.get(scheme.len()..).unwrap_or_default().trim_start();
            if rest == MASK {
                return None;
            }
            return Some(format!("{}{MASK}", t.get(..scheme.len()).unwrap_or(scheme)));
        }
    }
    Some(MASK.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> String {
        mask_secrets(s).map_or_else(|| s.to_string(), |(t, _)| t)
    }

    #[test]
    fn masks_what_credentials_look_like() {
        for (input, want) in [
            (
                "GET /login?user=jane&password=hunter2&next=/",
                "GET /login?user=jane&password=****&next=/",
            ),
            (
                "/cb?code=1&access_token=ya29.a0AfH6SM&state=x",
                "/cb?code=1&access_token=****&state=x",
            ),
            ("api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "api_key=****"),
            ("X-Api-Key: 0123456789abcdef", "X-Api-Key: ****"),
            (
                "Authorization: Bearer abcdef123456.xyz",
                "Authorization: Bearer ****",
            ),
            (
                "authorization=Basic dXNlcjpwYXNzd29yZA==",
                "authorization=Basic ****",
            ),
            (
                r#"{"password": "s3cr3t!", "user": "jane"}"#,
                r#"{"password": "****", "user": "jane"}"#,
            ),
            (
                r#"body {\"client_secret\":\"abc123def\"}"#,
                r#"body {\"client_secret\":\"****\"}"#,
            ),
            ("db.password = swordfish", "db.password = ****"),
            (
                "connect db_pwd=hunter22 host=db1",
                "connect db_pwd=**** host=db1",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U rejected",
                "token **** rejected",
            ),
            (
                "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt=****",
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key=****",
            ),
            (
                "creds AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY loaded",
                "creds **** **** loaded",
            ),
            (
                r#""SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY""#,
                r#""SecretAccessKey": "****""#,
            ),
            ("session_token=FwoGZXIvYXdzEBYaDHqa0", "session_token=****"),
        ] {
            assert_eq!(m(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_what_only_looks_alike() {
        for s in [
            "passwordless login enabled for jane",
            "token count 5 of 10",
            "max_tokens=100",
            "keyboard layout us",
            "cache key miss for /v1/products/123",
            "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 of the file",
            "request 4bf92f3577b34da6a3ce929d0e0e4736 done",
            "password reset requested",
            "author: Jane",
            "disconnect from unknown[92.30.170.43] ehlo=1 auth=0/1 quit=1 commands=2/3",
            "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl reload nginx",
            // Documented: a bare bearer token, without a key before it.
            "sent header bearer 9f8e7d6c5b4a3f2e1d0c",
        ] {
            assert_eq!(m(s), s, "{s}");
        }
    }

    /// `may_hold_secret` as it was before the last-letter check: every
    /// separator's key read back and asked.
    fn keyed_before(s: &str) -> bool {
        let b = s.as_bytes();
        memchr::memchr2_iter(b'=', b':', b).any(|sep| {
            let mut end = sep;
            while end > 0 && matches!(b[end - 1], b'"' | b'\'' | b'\\' | b' ' | b'\t') {
                end -= 1;
            }
            let mut start = end;
            while start > 0
                && (b[start - 1].is_ascii_alphanumeric()
                    || matches!(b[start - 1], b'_' | b'-' | b'.'))
            {
                start -= 1;
            }
            is_secret_key(&s[start..end])
        })
    }

    #[test]
    fn the_last_letter_check_keeps_every_keyed_value() {
        let keys = [
            "password",
            "PASSWORD",
            "db_pwd",
            "pwd",
            "token",
            "token_",
            "token-_-",
            "x-api-key",
            "X-Api-Key-",
            "secret",
            "secreT__",
            "cookie",
            "credentials",
            "offset",
            "clientId",
            "kafka-1",
            "a",
            "_",
            "-",
            "",
            ".",
            "passwor.d",
            "my.token",
            "to_ken",
            "authorizatioN",
        ];
        let seps = ["=", ":", " = ", "\":\"", "\\\":\\\"", "\t:\t", "'='"];
        for k in keys {
            for sep in seps {
                for before in ["", " ", "{\"", "x&"] {
                    let s = format!("{before}{k}{sep}value1234");
                    let h = hints(s.as_bytes());
                    let want = s.len() >= 8
                        && h.maybe_secret()
                        && (keyed_before(&s)
                            || (h.jwt && JWT.find(s.as_bytes()).is_some())
                            || KEY_ID.find_iter(s.as_bytes()).any(|i| {
                                i >= 2 && matches!(s.as_bytes().get(i - 2..i), Some(b"AK" | b"AS"))
                            }));
                    assert_eq!(may_hold_secret(&s, h), want, "{s}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_changes_nothing() {
        let once = m("password=hunter2 Authorization: Bearer abcdefgh12345678 token=x");
        assert_eq!(mask_secrets(&once), None, "{once}");
        assert_eq!(mask_whole("Bearer ****"), None);
        assert_eq!(mask_whole("****"), None);
        assert_eq!(mask_whole("bearer abc123").as_deref(), Some("bearer ****"));
        assert_eq!(mask_whole("hunter2").as_deref(), Some("****"));
    }
}
