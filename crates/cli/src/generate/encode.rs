//! Byte writers for the JSON lines: decimal and hex numbers, JSON string
//! literals escaped as Python's `json.dumps` does (raw or ASCII-only), UTC
//! date-times, and the byte search and replace the malformed kinds use.

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_padded(out, v, 1);
}

/// Decimal, zero-padded to at least `width` digits (`"%0*d"`).
pub(super) fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [0u8; 20];
    let digits = loglake_core::record::decimal(v, &mut buf);
    out.resize(out.len() + width.saturating_sub(digits.len()), b'0');
    out.extend_from_slice(digits);
}

/// Minimal-width lowercase hex (`"%x"`).
pub(super) fn push_hex_u64(out: &mut Vec<u8>, v: u64) {
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for j in (0..digits).rev() {
        out.push(HEX[((v >> (4 * j)) & 15) as usize]);
    }
}

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 15) as usize]);
    }
}

/// Decodes the scalar value starting at `s[0]`, a UTF-8 lead byte >= 0x80.
/// Input always comes from `&str`s, so it is valid; on a broken tail this
/// degrades instead of panicking.
fn decode_utf8(s: &[u8]) -> (u32, usize) {
    let b0 = u32::from(s[0]);
    let cont = |k: usize| u32::from(s.get(k).copied().unwrap_or(0x80) & 0x3F);
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// Appends `s` (UTF-8) as a JSON string literal, escaping exactly as Python's
/// `json.dumps`: `\"`, `\\`, short forms for `\b \f \n \r \t`, `\u00XX` for
/// other control characters, and with `ascii_only` every non-ASCII scalar as
/// `\uXXXX` (surrogate pairs above U+FFFF) plus DEL. Real producers emit both
/// forms, so the pipeline must read both.
pub(super) fn push_json_str(out: &mut Vec<u8>, s: &[u8], ascii_only: bool) {
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let plain = if b >= 0x80 {
            !ascii_only
        } else {
            b >= 0x20 && b != b'"' && b != b'\\' && !(ascii_only && b == 0x7F)
        };
        if plain {
            i += 1;
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                _ => push_u_escape(out, u32::from(b)),
            }
            i += 1;
        } else {
            let (cp, len) = decode_utf8(&s[i..]);
            if cp >= 0x1_0000 {
                let v = cp - 0x1_0000;
                push_u_escape(out, 0xD800 | (v >> 10));
                push_u_escape(out, 0xDC00 | (v & 0x3FF));
            } else {
                push_u_escape(out, cp);
            }
            i = (i + len).min(s.len());
        }
        run = i;
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d),
/// valid for negative days too.
pub(super) fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u64, d as u64)
}

/// `YYYY-MM-DD<sep>HH:MM:SS` in UTC.
pub(super) fn push_datetime(out: &mut Vec<u8>, secs: i64, sep: u8) {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    if y < 0 {
        out.push(b'-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, mo, 2);
    out.push(b'-');
    push_padded(out, d, 2);
    out.push(sep);
    push_padded(out, sod / 3600, 2);
    out.push(b':');
    push_padded(out, sod / 60 % 60, 2);
    out.push(b':');
    push_padded(out, sod % 60, 2);
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn replace_once(v: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    if let Some(p) = find(v, from) {
        v.splice(p..p + from.len(), to.iter().copied());
    }
}
