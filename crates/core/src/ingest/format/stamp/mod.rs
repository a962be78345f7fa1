//! The timestamp at the start of a text log line, in the layouts people
//! actually run: where it is, which layout it is, and its civil fields. The
//! zone and the year (for layouts that omit them) are resolved later, from
//! the source's settings and its time ([`zone::Context::resolve`]); the
//! header syslog writes after its time is [`syslog`].
//!
//! Recognised, at the start of the line, after a syslog `<PRI>` (and the
//! RFC 5424 version), inside a leading `[`, or after one leading token such
//! as a file or logger name (`nova-api.log.1 2017-05-16 00:00:00.008 ...`):
//!
//! | layout | example |
//! |---|---|
//! | ISO 8601 / RFC 3339, `T` or space, `.`/`,` fraction, zone or none | `2024-03-14T21:00:01.123+01:00`, `2024-03-14 21:00:01,123` |
//! | slashed (Go `log`, nginx error) | `2024/03/14 21:00:01` |
//! | syslog RFC 3164 (no year) | `Mar 14 21:00:01`, `Mar  4 21:00:01` |
//! | Apache error | `Thu Mar 14 21:00:01.123456 2024` (in brackets) |
//! | log4j short (Spark) | `24/03/14 21:00:01` |
//! | Tomcat / Java | `14-Mar-2024 21:00:01.123` |
//! | klog / glog (no year) | `I0314 21:00:01.123456` |
//! | compact (HDFS) | `240314 210001` |
//! | Common Log Format (in brackets) | `10/Oct/2000:13:55:36 -0700` |
//! | epoch seconds or milliseconds | `1710450001`, `1710450001.123`, `1710450001123` |
//!
//! A line whose start has a layout's shape but impossible values (February
//! 30, hour 25) is an error, not a line without a time: it is quarantined
//! with the reason.

pub mod syslog;
#[cfg(test)]
mod tests;
pub mod zone;

pub use syslog::{SyslogHeader, syslog_header};
pub use zone::{Context, Zone};

/// Which layout a timestamp was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    Iso8601,
    Slashed,
    Rfc3164,
    ApacheError,
    Log4jShort,
    Tomcat,
    Klog,
    Compact,
    Clf,
    EpochSeconds,
    EpochMillis,
    /// A format's own `time_layout` (strftime-style), from `formats.toml`.
    Strftime,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Iso8601 => "iso8601",
            Layout::Slashed => "slashed",
            Layout::Rfc3164 => "rfc3164",
            Layout::ApacheError => "apache_error",
            Layout::Log4jShort => "log4j_short",
            Layout::Tomcat => "tomcat",
            Layout::Klog => "klog",
            Layout::Compact => "compact",
            Layout::Clf => "clf",
            Layout::EpochSeconds => "epoch_s",
            Layout::EpochMillis => "epoch_ms",
            Layout::Strftime => "strftime",
        }
    }
}

/// A timestamp found in a line: civil fields as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `None` for layouts without a year (syslog, klog): inferred from the
    /// source's time.
    pub year: Option<i64>,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// Minutes east of UTC when the text says (`Z`, `+01:00`); `None` when
    /// it does not: the source's zone applies.
    pub offset_min: Option<i32>,
    /// Epoch milliseconds, for epoch layouts (then the civil fields are 0).
    pub epoch_ms: Option<i64>,
    pub layout: Layout,
    /// Byte range of the timestamp in the line (brackets excluded).
    pub start: usize,
    pub end: usize,
}

/// A timestamp's shape with impossible values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStamp {
    pub text: String,
    pub why: &'static str,
}

/// What [`find`] says of a line.
pub type Found = Option<Result<Stamp, BadStamp>>;

/// The timestamp at the start of `line` (see the module doc for where it
/// is looked for): `None` when there is none, an error when there is one
/// whose values cannot be.
pub fn find(line: &str) -> Found {
    let b = line.as_bytes();
    let mut i = skip_blank(b, 0);
    // Syslog priority, and RFC 5424's version after it.
    if b.get(i) == Some(&b'<')
        && let Some(n) = b[i + 1..].iter().take(4).position(|&c| c == b'>')
        && n > 0
        && b[i + 1..i + 1 + n].iter().all(u8::is_ascii_digit)
    {
        i += n + 2;
        if b.get(i) == Some(&b'1') && b.get(i + 1) == Some(&b' ') {
            i += 2;
        }
    }
    if b.get(i) == Some(&b'[')
        && let Some(s) = at(b, i + 1, true)
    {
        return Some(s);
    }
    if let Some(s) = at(b, i, false) {
        return Some(s);
    }
    // One leading token (a file or logger name) before the time.
    let token_end = b[i..].iter().take(160).position(|&c| c == b' ')? + i;
    let token = &b[i..token_end];
    if token.is_empty()
        || !token
            .iter()
            .any(|c| matches!(c, b'.' | b'/' | b':' | b'_' | b'-'))
    {
        return None;
    }
    let j = skip_blank(b, token_end);
    match at(b, j, false)? {
        // A number after a token is a count or a pid, not a time.
        Ok(s)
            if matches!(
                s.layout,
                Layout::EpochSeconds | Layout::EpochMillis | Layout::Compact
            ) =>
        {
            None
        }
        other => Some(other),
    }
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    if b[i.min(b.len())..].starts_with("\u{feff}".as_bytes()) {
        i += 3;
    }
    while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
        i += 1;
    }
    i
}

fn digits(b: &[u8], i: usize, n: usize) -> Option<u32> {
    let s = b.get(i..i + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn byte(b: &[u8], i: usize, set: &[u8]) -> bool {
    b.get(i).is_some_and(|c| set.contains(c))
}

fn month_name(b: &[u8], i: usize) -> Option<u32> {
    let m = b.get(i..i + 3)?;
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower = [
        m[0].to_ascii_lowercase(),
        m[1].to_ascii_lowercase(),
        m[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|x| **x == lower)
        .map(|p| p as u32 + 1)
}

fn weekday_name(b: &[u8], i: usize) -> bool {
    const DAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
    b.get(i..i + 3).is_some_and(|d| {
        let lower = [
            d[0].to_ascii_lowercase(),
            d[1].to_ascii_lowercase(),
            d[2].to_ascii_lowercase(),
        ];
        DAYS.iter().any(|x| **x == lower)
    })
}

/// `HH:MM:SS` at `i`, then an optional `.`/`,` fraction: (h, m, s, ms, end).
fn clock(b: &[u8], i: usize) -> Option<(u32, u32, u32, u32, usize)> {
    let h = digits(b, i, 2)?;
    if !byte(b, i + 2, b":") {
        return None;
    }
    let m = digits(b, i + 3, 2)?;
    if !byte(b, i + 5, b":") {
        return None;
    }
    let s = digits(b, i + 6, 2)?;
    let (ms, end) = fraction(b, i + 8);
    Some((h, m, s, ms, end))
}

/// An optional `.fff...` or `,fff...` at `i`: (milliseconds, end).
fn fraction(b: &[u8], i: usize) -> (u32, usize) {
    if !byte(b, i, b".,") || !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return (0, i);
    }
    let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut ms = 0;
    for k in 0..3 {
        ms = ms * 10
            + b.get(i + 1 + k)
                .filter(|_| k < n)
                .map_or(0, |c| u32::from(c - b'0'));
    }
    (ms, i + 1 + n)
}

/// A zone at `i`: `Z`, `±HH`, `±HHMM`, `±HH:MM`, ` UTC`/` GMT`, or
/// nothing: (minutes east, end).
pub(super) fn zone(b: &[u8], i: usize) -> (Option<i32>, usize) {
    if byte(b, i, b"Zz") {
        return (Some(0), i + 1);
    }
    if byte(b, i, b"+-") {
        let sign = if b[i] == b'-' { -1 } else { 1 };
        if let Some(h) = digits(b, i + 1, 2) {
            let (m, end) = if byte(b, i + 3, b":") {
                match digits(b, i + 4, 2) {
                    Some(m) => (m, i + 6),
                    None => (0, i + 3),
                }
            } else {
                match digits(b, i + 3, 2) {
                    Some(m) => (m, i + 5),
                    None => (0, i + 3),
                }
            };
            if h <= 23 && m <= 59 {
                return (Some(sign * (h * 60 + m) as i32), end);
            }
        }
        return (None, i);
    }
    if b.get(i..i + 4)
        .is_some_and(|z| z == b" UTC" || z == b" GMT")
        && !b.get(i + 4).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return (Some(0), i + 4);
    }
    (None, i)
}

/// The token after a timestamp must end there: a space, a bracket, a
/// colon-space, the end of the line.
fn ends(b: &[u8], i: usize) -> bool {
    b.get(i).is_none_or(|c| {
        matches!(c, b' ' | b'\t' | b']' | b'|' | b',' | b';' | b'\r')
            || (*c == b':' && b.get(i + 1).is_none_or(|c| *c == b' '))
    })
}

#[allow(clippy::too_many_arguments)]
fn stamp(
    year: Option<i64>,
    month: u32,
    day: u32,
    (hour, minute, second, millis): (u32, u32, u32, u32),
    offset_min: Option<i32>,
    layout: Layout,
    b: &[u8],
    (start, end): (usize, usize),
) -> Result<Stamp, BadStamp> {
    let text = || String::from_utf8_lossy(&b[start..end]).into_owned();
    let why = if !(1..=12).contains(&month) {
        Some("no such month")
    } else if day == 0 || day > days_in(year, month) {
        Some("no such day in that month")
    } else if hour > 23 {
        Some("hour out of range")
    } else if minute > 59 {
        Some("minute out of range")
    } else if second > 60 {
        Some("second out of range")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(BadStamp { text: text(), why });
    }
    Ok(Stamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millis,
        offset_min,
        epoch_ms: None,
        layout,
        start,
        end,
    })
}

/// Days in a month; a year-less February allows the 29th (the year is
/// inferred later, and a 29th then checked again).
fn days_in(year: Option<i64>, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => match year {
            Some(y) if !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) => 28,
            _ => 29,
        },
    }
}

/// A timestamp starting exactly at `i`; `bracketed`: inside a `[`.
fn at(b: &[u8], i: usize, bracketed: bool) -> Option<Result<Stamp, BadStamp>> {
    let c0 = *b.get(i)?;
    if c0.is_ascii_digit() {
        numeric(b, i, bracketed)
    } else if c0.is_ascii_alphabetic() {
        named(b, i)
    } else {
        None
    }
}

/// Layouts that start with a digit.
fn numeric(b: &[u8], i: usize, bracketed: bool) -> Option<Result<Stamp, BadStamp>> {
    // yyyy-MM-dd / yyyy/MM/dd, then T or space and a clock.
    if let (Some(y), true) = (digits(b, i, 4), byte(b, i + 4, b"-/")) {
        let sep = b[i + 4];
        let (mo, d) = (digits(b, i + 5, 2)?, digits(b, i + 8, 2)?);
        if b.get(i + 7) != Some(&sep) || !byte(b, i + 10, b"T t") {
            return None;
        }
        let (h, mi, s, ms, mut end) = clock(b, i + 11)?;
        let (offset, zend) = zone(b, end);
        end = zend;
        if !ends(b, end) {
            return None;
        }
        let layout = if sep == b'-' {
            Layout::Iso8601
        } else {
            Layout::Slashed
        };
        return Some(stamp(
            Some(i64::from(y)),
            mo,
            d,
            (h, mi, s, ms),
            offset,
            layout,
            b,
            (i, end),
        ));
    }
    // dd/Mmm/yyyy:HH:MM:SS zone (CLF, bracketed).
    if bracketed && byte(b, i + 2, b"/") && byte(b, i + 6, b"/") && byte(b, i + 11, b":") {
        let d = digits(b, i, 2)?;
        let mo = month_name(b, i + 3)?;
        let y = digits(b, i + 7, 4)?;
        let (h, mi, s, ms, end) = clock(b, i + 12)?;
        let (offset, end) = if byte(b, end, b" ") {
            zone(b, end + 1)
        } else {
            (None, end)
        };
        return Some(stamp(
            Some(i64::from(y)),
            mo,
            d,
            (h, mi, s, ms),
            offset,
            Layout::Clf,
            b,
            (i, end),
        ));
    }
    // dd-Mmm-yyyy HH:mm:ss.SSS (Tomcat).
    if byte(b, i + 2, b"-") && byte(b, i + 6, b"-") {
        let d = digits(b, i, 2)?;
        let mo = month_name(b, i + 3)?;
        let y = digits(b, i + 7, 4)?;
        if !byte(b, i + 11, b" ") {
            return None;
        }
        let (h, mi, s, ms, end) = clock(b, i + 12)?;
        if !ends(b, end) {
            return None;
        }
        return Some(stamp(
            Some(i64::from(y)),
            mo,
            d,
            (h, mi, s, ms),
            None,
            Layout::Tomcat,
            b,
            (i, end),
        ));
    }
    // yy/MM/dd HH:mm:ss (log4j's short date, Spark).
    if byte(b, i + 2, b"/") && byte(b, i + 5, b"/") && byte(b, i + 8, b" ") {
        let (y, mo, d) = (digits(b, i, 2)?, digits(b, i + 3, 2)?, digits(b, i + 6, 2)?);
        let (h, mi, s, ms, end) = clock(b, i + 9)?;
        if !ends(b, end) {
            return None;
        }
        let year = 2000 + i64::from(y);
        return Some(stamp(
            Some(year),
            mo,
            d,
            (h, mi, s, ms),
            None,
            Layout::Log4jShort,
            b,
            (i, end),
        ));
    }
    // yyMMdd HHmmss (compact, HDFS).
    if byte(b, i + 6, b" ")
        && byte(b, i + 13, b" ")
        && let (Some(date), Some(time)) = (digits(b, i, 6), digits(b, i + 7, 6))
    {
        let (y, mo, d) = (date / 10_000, date / 100 % 100, date % 100);
        let (h, mi, s) = (time / 10_000, time / 100 % 100, time % 100);
        return Some(stamp(
            Some(2000 + i64::from(y)),
            mo,
            d,
            (h, mi, s, 0),
            None,
            Layout::Compact,
            b,
            (i, i + 13),
        ));
    }
    // Epoch seconds (10 digits, optional fraction) or milliseconds (13).
    let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let (ms, end, layout) = match n {
        10 => {
            let secs = std::str::from_utf8(&b[i..i + 10])
                .ok()?
                .parse::<i64>()
                .ok()?;
            let (frac, end) = fraction(b, i + 10);
            (secs * 1000 + i64::from(frac), end, Layout::EpochSeconds)
        }
        13 => {
            let v = std::str::from_utf8(&b[i..i + 13])
                .ok()?
                .parse::<i64>()
                .ok()?;
            (v, i + 13, Layout::EpochMillis)
        }
        _ => return None,
    };
    if !ends(b, end) {
        return None;
    }
    Some(Ok(Stamp {
        year: None,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        millis: 0,
        offset_min: Some(0),
        epoch_ms: Some(ms),
        layout,
        start: i,
        end,
    }))
}

/// Layouts that start with a letter: syslog's `Mmm dd HH:MM:SS`, Apache's
/// `Www Mmm dd HH:MM:SS yyyy`, klog's `Lmmdd HH:MM:SS.uuuuuu`.
fn named(b: &[u8], i: usize) -> Option<Result<Stamp, BadStamp>> {
    // klog: one of IWEF, then mmdd, a space, a clock.
    if byte(b, i, b"IWEFD") && byte(b, i + 5, b" ") {
        if let (Some(mo), Some(d)) = (digits(b, i + 1, 2), digits(b, i + 3, 2)) {
            let (h, mi, s, ms, end) = clock(b, i + 6)?;
            return Some(stamp(
                None,
                mo,
                d,
                (h, mi, s, ms),
                None,
                Layout::Klog,
                b,
                (i + 1, end),
            ));
        }
        return None;
    }
    let (j, apache) = if weekday_name(b, i) && byte(b, i + 3, b" ") {
        (i + 4, true)
    } else {
        (i, false)
    };
    let mo = month_name(b, j)?;
    if !byte(b, j + 3, b" ") {
        return None;
    }
    // The day, padded with a space or a zero.
    let (d, k) = if byte(b, j + 4, b" ") {
        (digits(b, j + 5, 1)?, j + 6)
    } else {
        (digits(b, j + 4, 2)?, j + 6)
    };
    if !byte(b, k, b" ") {
        return None;
    }
    let (h, mi, s, ms, mut end) = clock(b, k + 1)?;
    let mut year = None;
    // Apache (and some syslog writers) put the year after the clock.
    if byte(b, end, b" ")
        && let Some(y) = digits(b, end + 1, 4)
        && ends(b, end + 5)
    {
        year = Some(i64::from(y));
        end += 5;
    }
    if apache && year.is_none() {
        return None;
    }
    if !ends(b, end) {
        return None;
    }
    let layout = if apache {
        Layout::ApacheError
    } else {
        Layout::Rfc3164
    };
    Some(stamp(
        year,
        mo,
        d,
        (h, mi, s, ms),
        None,
        layout,
        b,
        (i, end),
    ))
}
