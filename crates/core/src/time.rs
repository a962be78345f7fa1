//! Timestamp parsing and calendar arithmetic, normalized to UTC milliseconds.
//!
//! Hand-written rather than built on a date library: this runs once per log
//! line, and the common forms (RFC 3339, epoch numbers, CLF) are parsed here
//! without allocation in a few dozen instructions.

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// UTC milliseconds for a civil date and time, or `None` if any part is out
/// of range. A leap second (`:60`) is folded into the next second.
pub fn from_civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<i64> {
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || s > 60
        || ms > 999
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    Some(secs * 1000 + i64::from(ms))
}

/// The UTC (date, hour) of a timestamp: the lake's `dt`/`hr` partition.
pub fn date_hour(ms: i64) -> (i64, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let h = (secs.rem_euclid(86_400) / 3600) as u32;
    (y, m, d, h)
}

/// RFC 3339 text for a timestamp, millisecond precision: `2024-03-14T21:00:00.123Z`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// [`format_rfc3339_ms`] appended to `out` (a JSON writer's hot path):
/// digits written straight for years 0 to 9999, the formatter otherwise.
pub fn write_rfc3339_ms(ms: i64, out: &mut Vec<u8>) {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(format_rfc3339_ms(ms).as_bytes());
        return;
    }
    let sod = secs.rem_euclid(86_400);
    let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let (hh, mm, ss) = (two(sod / 3600), two(sod % 3600 / 60), two(sod % 60));
    let (cc, yy, mo, dd) = (two(y / 100), two(y % 100), two(m.into()), two(d.into()));
    let milli = ms.rem_euclid(1000);
    let (m1, m23) = (b'0' + (milli / 100) as u8, two(milli % 100));
    out.extend_from_slice(&[
        cc[0], cc[1], yy[0], yy[1], b'-', mo[0], mo[1], b'-', dd[0], dd[1], b'T', hh[0], hh[1],
        b':', mm[0], mm[1], b':', ss[0], ss[1], b'.', m1, m23[0], m23[1], b'Z',
    ]);
}

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;

/// The start of the minute holding `ms`; always minute-aligned (at the very
/// bottom of the i64 range, the first aligned minute above).
pub fn floor_minute(ms: i64) -> i64 {
    ms.checked_sub(ms.rem_euclid(MINUTE_MS))
        .unwrap_or(ms / MINUTE_MS * MINUTE_MS)
}

/// A fixed-width run of ASCII digits as a number.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

/// Fraction digits after a `.` or `,`: returns (milliseconds, bytes consumed).
/// Digits past the third are consumed and truncated.
fn fraction(b: &[u8]) -> (u32, usize) {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut ms = 0;
    for i in 0..3 {
        ms = ms * 10
            + b.get(i)
                .filter(|_| i < n)
                .map_or(0, |c| u32::from(c - b'0'));
    }
    (ms, n)
}

/// A UTC offset at the end of a timestamp: `Z`, `+07:00`, `+0700`, `+07`,
/// ` UTC`, or nothing (taken as UTC). Returns the offset in minutes east.
fn offset(b: &[u8]) -> Option<i64> {
    let b = match b {
        [b' ', rest @ ..] => rest,
        _ => b,
    };
    match b {
        [] | b"Z" | b"z" | b"UTC" | b"GMT" | b"+00:00" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let mins = i64::from(h * 60 + m);
            Some(if *sign == b'-' { -mins } else { mins })
        }
        _ => None,
    }
}

/// ISO 8601 / RFC 3339: `YYYY-MM-DD[T| ]HH:MM[:SS[.fff...]][offset]`, also
/// with `/` as the date separator and `,` as the decimal mark (Python's
/// logging default). A date alone is midnight UTC.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || !(b[4] == b'-' || b[4] == b'/') || b[7] != b[4] {
        return None;
    }
    let y = i64::from(digits(&b[0..4])?);
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if b.len() == 10 {
        return from_civil(y, mo, d, 0, 0, 0, 0);
    }
    if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let mut i = 16;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = digits(b.get(i + 1..i + 3)?)?;
        i += 3;
    }
    let mut ms = 0;
    if matches!(b.get(i), Some(b'.' | b',')) {
        let (f, n) = fraction(&b[i + 1..]);
        if n == 0 {
            return None;
        }
        ms = f;
        i += 1 + n;
    }
    let off = offset(&b[i..])?;
    Some(from_civil(y, mo, d, h, mi, sec, ms)? - off * 60_000)
}

fn month_abbrev(b: &[u8]) -> Option<u32> {
    let m = match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// Common Log Format time, without brackets: `10/Oct/2000:13:55:36 -0700`.
pub fn parse_clf(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = month_abbrev(&b[3..6])?;
    let y = i64::from(digits(&b[7..11])?);
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let h = digits(&b[12..14])?;
    let mi = digits(&b[15..17])?;
    let sec = digits(&b[18..20])?;
    let mut i = 20;
    let mut ms = 0;
    if b.get(i) == Some(&b'.') {
        let (f, n) = fraction(&b[i + 1..]);
        ms = f;
        i += 1 + n;
    }
    let off = offset(&b[i..])?;
    Some(from_civil(y, mo, d, h, mi, sec, ms)? - off * 60_000)
}

/// An epoch number of unknown unit, told apart by magnitude: seconds until
/// the year 5138, then milliseconds, microseconds, nanoseconds.
pub fn epoch_to_ms(v: f64) -> Option<i64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let ms = if v < 1e11 {
        v * 1e3
    } else if v < 1e14 {
        v
    } else if v < 1e17 {
        v / 1e3
    } else {
        v / 1e6
    };
    Some(ms.round() as i64)
}

/// An epoch number written as JSON number text or a string of digits
/// (`1710450000`, `1710450000.123`, `1710450000123`). Integers are handled
/// exactly, without a detour through `f64`.
pub fn parse_epoch(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(if n < 100_000_000_000 {
            n * 1000
        } else if n < 100_000_000_000_000 {
            n
        } else if n < 100_000_000_000_000_000 {
            n / 1000
        } else {
            n / 1_000_000
        });
    }
    epoch_to_ms(s.parse::<f64>().ok()?)
}

/// Any textual timestamp loglake understands: RFC 3339 / ISO 8601, CLF, or
/// an epoch number in seconds, milliseconds, microseconds or nanoseconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    match b.get(4) {
        Some(b'-' | b'/') => parse_iso8601(s),
        _ if b.get(2) == Some(&b'/') => parse_clf(s),
        _ => parse_epoch(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_rfc3339_is_the_formatted_text() {
        let day = 86_400_000i64;
        let mut cases = vec![
            0,
            1,
            -1,
            999,
            1_710_468_000_123,
            -62_135_596_800_000,
            253_402_300_799_999,
        ];
        // Year 0 and 9999 bounds, and beyond them (the formatter's path).
        cases.extend([
            -62_167_219_200_000,
            -62_167_219_200_001,
            253_402_300_800_000,
            i64::MIN / 2,
            i64::MAX / 2,
        ]);
        cases.extend((0..2000).map(|i| i * 37 * day + i * 7_919_123));
        for ms in cases {
            let mut out = b"x".to_vec();
            write_rfc3339_ms(ms, &mut out);
            assert_eq!(&out[1..], format_rfc3339_ms(ms).as_bytes(), "{ms}");
        }
    }

    const T0: i64 = 1_710_450_000_000; // 2024-03-14T21:00:00Z

    #[test]
    fn iso_forms() {
        for (s, want) in [
            ("2024-03-14T21:00:00Z", Some(T0)),
            ("2024-03-14T21:00:00.123Z", Some(T0 + 123)),
            ("2024-03-14T21:00:00.123456789Z", Some(T0 + 123)),
            ("2024-03-14T21:00:00.1Z", Some(T0 + 100)),
            ("2024-03-14T22:00:00+01:00", Some(T0)),
            ("2024-03-14T14:00:00-0700", Some(T0)),
            ("2024-03-14T23:30:00+02:30", Some(T0)),
            ("2024-03-14 21:00:00,000", Some(T0)),
            ("2024-03-14 21:00:00", Some(T0)),
            ("2024-03-14T21:00", Some(T0)),
            ("2024/03/14 21:00:00", Some(T0)),
            ("2024-03-14 21:00:00 UTC", Some(T0)),
            ("2024-03-14", Some(T0 - 21 * 3_600_000)),
            ("2024-02-30T00:00:00Z", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-03-14T25:00:00Z", None),
            ("2024-03-14T21:00:00.Z", None),
            ("2024-03-14T21:00:00+25:00", None),
            ("2024-03-14X21:00:00Z", None),
            ("not a date", None),
            ("", None),
        ] {
            assert_eq!(parse_iso8601(s), want, "{s}");
        }
    }

    #[test]
    fn clf_forms() {
        assert_eq!(
            parse_clf("10/Oct/2000:13:55:36 -0700"),
            Some(971_211_336_000)
        );
        assert_eq!(parse_clf("14/Mar/2024:21:00:00 +0000"), Some(T0));
        assert_eq!(parse_clf("14/Mar/2024:21:00:00.250 +0000"), Some(T0 + 250));
        assert_eq!(parse_clf("14/Foo/2024:21:00:00 +0000"), None);
        assert_eq!(parse_clf("14/Mar/2024:21:00"), None);
    }

    #[test]
    fn epoch_units() {
        for s in [
            "1710450000",
            "1710450000000",
            "1710450000000000",
            "1710450000000000000",
        ] {
            assert_eq!(parse_epoch(s), Some(T0), "{s}");
        }
        assert_eq!(parse_epoch("1710450000.5"), Some(T0 + 500));
        assert_eq!(parse_epoch("-5"), None);
        assert_eq!(parse_epoch("12ab"), None);
        assert_eq!(epoch_to_ms(1.7104500001e12), Some(T0 + 100));
    }

    #[test]
    fn dispatch() {
        assert_eq!(parse_timestamp("2024-03-14T21:00:00Z"), Some(T0));
        assert_eq!(parse_timestamp("14/Mar/2024:21:00:00 +0000"), Some(T0));
        assert_eq!(parse_timestamp("1710450000"), Some(T0));
        assert_eq!(parse_timestamp(" 1710450000123 "), Some(T0 + 123));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_016, 19_796, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(date_hour(T0), (2024, 3, 14, 21));
        assert_eq!(date_hour(-1), (1969, 12, 31, 23));
        assert_eq!(format_rfc3339_ms(T0 + 7), "2024-03-14T21:00:00.007Z");
        assert_eq!(from_civil(2024, 2, 29, 0, 0, 0, 0), Some(1_709_164_800_000));
        assert_eq!(from_civil(2023, 2, 29, 0, 0, 0, 0), None);
    }
}
