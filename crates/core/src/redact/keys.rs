//! Attribute keys: which name a client address (their values are
//! truncated as IPs), which name an identifier (their values are checked
//! for cards only when the whole value looks like one) and which name a
//! secret (their whole value is masked).

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
pub(super) fn is_ip_key(key: &str) -> bool {
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
pub(super) fn is_id_key(key: &str) -> bool {
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

/// Key suffixes naming a secret, lowercase without `_`, `-` and `.`: the
/// words [`is_secret_key`] tries by their last letter (a test holds the two
/// together).
#[cfg(test)]
const SECRET_KEYS: [&str; 13] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authorization",
    "credential",
    "credentials",
    "cookie",
];

/// The last three letters (lowercase) of the words [`is_secret_key`] looks
/// for: a key ending in any other three names no secret.
const SECRET_KEY_ENDS: [&[u8; 3]; 10] = [
    b"ord", b"swd", b"pwd", b"ret", b"ken", b"ion", b"key", b"ial", b"als", b"kie",
];

/// Whether `head` ends, past `_` and `-`, in three letters a secret word
/// ends in (and no `.` among them: [`is_secret_key`] reads the last dotted
/// segment only): the first thing [`is_secret_key`] asks, and all the
/// secret prefilter asks of the bytes before a separator until it reads the
/// key back. One letter was not enough in free text: `d`, `t`, `n`, `y`,
/// `l`, `s` and `e` end most English words.
pub(super) fn may_end_secret_key(head: &[u8]) -> bool {
    let mut last = [0u8; 3];
    let mut n = 0;
    for &c in head.iter().rev() {
        if matches!(c, b'_' | b'-') {
            continue;
        }
        if c == b'.' {
            return false;
        }
        n += 1;
        last[3 - n] = c.to_ascii_lowercase();
        if n == 3 {
            return SECRET_KEY_ENDS.contains(&&last);
        }
    }
    false
}

/// A key naming a secret: its last dotted segment, lowercased without `_`
/// and `-`, ends in `password`, `token`, `secret`, `apikey`,
/// `authorization`, `cookie`, ... (`db.password`, `X-Api-Key`,
/// `refresh_token`, `headers.Authorization`).
pub(super) fn is_secret_key(key: &str) -> bool {
    // Most keys end here: too short, or not ending like any word below.
    if key.len() < 4 || !may_end_secret_key(key.as_bytes()) {
        return false;
    }
    // The key's last 16 letters, lowercased, without `_` and `-`, from a
    // stack buffer: this runs for every attribute of every record.
    const LEN: usize = 16;
    let mut tail = [0u8; LEN];
    let mut n = 0usize;
    for c in key.bytes().rev() {
        if c == b'.' || n == LEN {
            break;
        }
        if matches!(c, b'_' | b'-') {
            continue;
        }
        n += 1;
        if let Some(slot) = tail.get_mut(LEN - n) {
            *slot = c.to_ascii_lowercase();
        }
    }
    let tail = tail.get(LEN - n..).unwrap_or_default();
    // `PWD` alone is the working directory (sudo, shell environments);
    // `db_pwd` is a password. The last letter picks the few words to try:
    // this runs for every `=` and `:` of free text.
    let words: &[&str] = match tail.last() {
        Some(b'd') => &["password", "passwd", "pwd"],
        Some(b't') => &["secret"],
        Some(b'n') => &["token", "authorization"],
        Some(b'y') => &["apikey", "accesskey", "secretkey", "privatekey"],
        Some(b'l') => &["credential"],
        Some(b's') => &["credentials"],
        Some(b'e') => &["cookie"],
        _ => &[],
    };
    tail != b"pwd" && words.iter().any(|w| tail.ends_with(w.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_three_letters_of_every_secret_word_are_tried() {
        for w in SECRET_KEYS {
            for k in [
                w.to_string(),
                w.to_uppercase(),
                format!("db.{w}_"),
                format!("x-{}", w.replace("", "_").trim_matches('_')),
            ] {
                assert!(may_end_secret_key(k.as_bytes()), "{k}");
            }
        }
        // `-ion` words (`exception`, `region`) are read back: `authorization`.
        for k in [
            "tok.en", "ke", "", "__", "offset", "status", "error", "a.Foo",
        ] {
            assert!(!may_end_secret_key(k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn every_secret_word_is_tried_by_its_last_letter() {
        for w in SECRET_KEYS {
            assert!(is_secret_key(w) || w == "pwd", "{w}");
            assert!(is_secret_key(&format!("x_{w}")), "{w}");
        }
    }

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "db.password",
            "X-Api-Key",
            "api_key",
            "refresh_token",
            "headers.Authorization",
            "client_secret",
            "aws_secret_access_key",
            "Cookie",
            "proxy_authorization",
            "db_pwd",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "tokens",
            "author",
            "keyboard",
            "password_changed_at",
            "span_id",
        ] {
            assert!(!is_secret_key(k), "{k}");
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
}
