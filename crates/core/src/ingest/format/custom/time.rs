//! A custom format's time capture to UTC milliseconds: through its
//! `time_layout` (strftime-style, `jiff::fmt::strtime`) when it has one,
//! else through the text recognizer ([`stamp::find`]); times without an
//! offset in the format's `timezone`, else the ingest's
//! ([`Context::resolve`], which also gives year-less layouts their year).

use jiff::fmt::strtime::{self, BrokenDownTime};

use crate::ingest::format::clip;
use crate::ingest::format::stamp::{self, BadStamp, Context, Layout, Stamp, Zone};
use crate::record::Reject;

/// The time in `v` (a capture, already cut from the line).
pub(super) fn read(
    v: &str,
    layout: Option<&str>,
    zone: Option<&Zone>,
    ctx: &Context,
) -> Result<i64, Reject> {
    let bad = |b: BadStamp| Reject::InvalidTimestamp(format!("{:?}: {}", b.text, b.why));
    let (stamp, named) = match layout {
        Some(layout) => {
            let tm = strtime::parse(layout, v).map_err(|e| {
                Reject::InvalidTimestamp(format!(
                    "{:?} does not fit time_layout {layout:?}: {e}",
                    clip(v, 64)
                ))
            })?;
            match civil(&tm, v.len()) {
                Ok(Civil::Epoch(ms)) => return Ok(ms),
                Ok(Civil::Stamp(s, named)) => (s, named),
                Err(why) => {
                    return Err(Reject::InvalidTimestamp(format!(
                        "{:?}: {why}",
                        clip(v, 64)
                    )));
                }
            }
        }
        None => match find(v) {
            Some(found) => (found.map_err(bad)?, None),
            None => {
                return Err(Reject::InvalidTimestamp(format!(
                    "{:?} is in no layout loglake recognizes (give the format a time_layout)",
                    clip(v, 64)
                )));
            }
        },
    };
    // The line's own offset wins, then a zone name in the line (%Q), then
    // the format's timezone, then the ingest's.
    let zone = named.as_ref().or(zone);
    match zone {
        Some(z) if stamp.offset_min.is_none() => Context {
            zone: z.clone(),
            reference_ms: ctx.reference_ms,
        }
        .resolve(&stamp, v),
        _ => ctx.resolve(&stamp, v),
    }
    .map_err(bad)
}

/// [`stamp::find`] over a capture, which also knows the CLF time without
/// the brackets nginx and Apache write around it (`$time_local`).
fn find(v: &str) -> Option<Result<Stamp, BadStamp>> {
    if let Some(found) = stamp::find(v) {
        return Some(found);
    }
    // CLF is only recognized inside `[`: try the capture bracketed, in a
    // stack buffer (the layout is 26 bytes).
    let mut buf = [0u8; 40];
    if v.len() + 2 > buf.len() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    buf[0] = b'[';
    buf[1..=v.len()].copy_from_slice(v.as_bytes());
    buf[v.len() + 1] = b']';
    let bracketed = std::str::from_utf8(&buf[..v.len() + 2]).ok()?;
    let mut s = stamp::find(bracketed)?.map_err(|mut b| {
        b.text = v.to_owned();
        b
    });
    if let Ok(s) = &mut s {
        // Back to the capture's own byte range.
        s.start -= 1;
        s.end -= 1;
    }
    Some(s)
}

/// What a layout read out of a time.
#[derive(Debug)]
enum Civil {
    /// `%s`: an instant.
    Epoch(i64),
    /// Civil fields, with the zone when the text named one (`%Q`).
    Stamp(Stamp, Option<Zone>),
}

/// The civil fields jiff parsed. Deliberately lenient: a weekday that
/// disagrees with the date is ignored, and impossible dates are left to
/// [`Context::resolve`], which says why.
fn civil(tm: &BrokenDownTime, len: usize) -> Result<Civil, &'static str> {
    let sub_ms = tm.subsec_nanosecond().map_or(0, |ns| ns / 1_000_000);
    if let Some(ts) = tm.timestamp() {
        // `%s%.f`: jiff keeps the fraction apart from the seconds.
        let extra = if ts.subsec_nanosecond() == 0 {
            sub_ms
        } else {
            0
        };
        return Ok(Civil::Epoch(ts.as_millisecond() + i64::from(extra)));
    }
    let (year, month, day) = match (tm.year(), tm.month(), tm.day()) {
        (y, Some(m), Some(d)) => (y.map(i64::from), m, d),
        // A day of the year or an ISO week date.
        (Some(_), _, _) => {
            let d = tm.to_date().map_err(|_| "no such date")?;
            (Some(i64::from(d.year())), d.month(), d.day())
        }
        _ => return Err("the layout has no date (a year, month and day; a month and day; or %s)"),
    };
    let named = match (tm.offset(), tm.iana_time_zone()) {
        (None, Some(name)) => Some(
            jiff::tz::TimeZone::get(name)
                .map(Zone::Named)
                .map_err(|_| "no such time zone name")?,
        ),
        _ => None,
    };
    let field = |v: Option<i8>| v.map_or(0, |v| v.max(0) as u32);
    Ok(Civil::Stamp(
        Stamp {
            year,
            month: field(Some(month)),
            day: field(Some(day)),
            hour: field(tm.hour()),
            minute: field(tm.minute()),
            second: field(tm.second()),
            millis: sub_ms.max(0) as u32,
            offset_min: tm.offset().map(|o| o.seconds() / 60),
            epoch_ms: None,
            layout: Layout::Strftime,
            start: 0,
            end: len,
        },
        named,
    ))
}

/// Check a `time_layout` when the file is read: it must be something jiff
/// can write, read back what it wrote, and find a date in.
pub(super) fn check_layout(layout: &str) -> Result<(), String> {
    if layout.trim().is_empty() {
        return Err("empty: leave it out to have the time recognized".into());
    }
    // 2024-03-14T22:00:01.123+01:00, in a named zone so %Q and %Z work.
    let sample = jiff::Timestamp::from_millisecond(1_710_450_001_123)
        .map_err(|e| e.to_string())?
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").map_err(|e| e.to_string())?);
    let written = strtime::format(layout, &sample).map_err(|e| e.to_string())?;
    let tm = strtime::parse(layout, &written)
        .map_err(|e| format!("cannot read back the {written:?} it writes: {e}"))?;
    let parsed = civil(&tm, written.len()).map_err(str::to_owned)?;
    // Only the fields the layout has can be compared; a full layout must
    // give back the sample instant.
    if let Civil::Epoch(ms) = parsed
        && ms / 1000 != sample.timestamp().as_second()
    {
        return Err(format!("reads {written:?} back as another time"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_710_450_000_000; // 2024-03-14T21:00:00Z

    fn ctx() -> Context {
        Context {
            reference_ms: Some(T0),
            ..Context::default()
        }
    }

    fn berlin() -> Zone {
        "Europe/Berlin".parse().unwrap()
    }

    #[test]
    fn layouts() {
        let z = berlin();
        for (v, layout, zone, want) in [
            (
                "14/Mar/2024:22:00:01 +0100",
                "%d/%b/%Y:%H:%M:%S %z",
                None,
                T0 + 1000,
            ),
            (
                "2024-03-14 22:00:01.5",
                "%Y-%m-%d %H:%M:%S%.f",
                Some(&z),
                T0 + 1500,
            ),
            (
                "2024-03-14 21:00:01.5",
                "%Y-%m-%d %H:%M:%S%.f",
                None,
                T0 + 1500,
            ),
            ("1710450001", "%s", Some(&z), T0 + 1000),
            ("1710450001.250", "%s%.f", None, T0 + 1250),
            // No year: the source's.
            ("Mar 14 22:00:01", "%b %e %H:%M:%S", Some(&z), T0 + 1000),
            (
                "03/14/24 10:00:01 PM",
                "%D %I:%M:%S %p",
                None,
                T0 + 3_600_000 + 1000,
            ),
            ("2024 074 21:00:01", "%Y %j %T", None, T0 + 1000),
            (
                "2024-03-14 22:00:01 Europe/Berlin",
                "%Y-%m-%d %H:%M:%S %Q",
                None,
                T0 + 1000,
            ),
            // A wrong weekday is not worth a row.
            ("Mon 2024-03-14 21:00:01", "%a %Y-%m-%d %T", None, T0 + 1000),
        ] {
            assert_eq!(read(v, Some(layout), zone, &ctx()), Ok(want), "{v}");
        }
    }

    #[test]
    fn recognized_without_a_layout() {
        let z = berlin();
        for (v, zone, want) in [
            ("2024-03-14T21:00:01.123Z", None, T0 + 1123),
            ("2024-03-14 22:00:01,123", Some(&z), T0 + 1123),
            ("2024-03-14T21:00:01.123+00:00", Some(&z), T0 + 1123),
            ("14/Mar/2024:22:00:01 +0100", None, T0 + 1000),
            ("14/Mar/2024:21:00:01", None, T0 + 1000),
            ("1710450001123", None, T0 + 1123),
        ] {
            assert_eq!(read(v, None, zone, &ctx()), Ok(want), "{v}");
        }
    }

    #[test]
    fn unreadable_times() {
        for (v, layout) in [
            ("yesterday", None),
            ("2024-02-30 21:00:01", None),
            ("30/Feb/2024:21:00:01 +0000", None),
            ("2024-02-30 21:00:01", Some("%Y-%m-%d %H:%M:%S")),
            ("2024-03-14", Some("%Y-%m-%d %H:%M:%S")),
            (
                "2024-03-14 21:00:01 Mars/Olympus",
                Some("%Y-%m-%d %H:%M:%S %Q"),
            ),
            ("", Some("%Y")),
        ] {
            let r = read(v, layout, None, &ctx());
            assert!(matches!(r, Err(Reject::InvalidTimestamp(_))), "{v}: {r:?}");
        }
        let Err(Reject::InvalidTimestamp(why)) = read("2024-02-30 21:00:01", None, None, &ctx())
        else {
            panic!()
        };
        assert!(why.contains("no such day"), "{why}");
    }

    #[test]
    fn layout_checks() {
        for ok in [
            "%d/%b/%Y:%H:%M:%S %z",
            "%s",
            "%b %e %T",
            "%F",
            "%Y %j",
            "%FT%T%.3f%:z",
        ] {
            assert_eq!(check_layout(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("%K", "unrecognized"),
            ("%Z", "cannot read back"),
            ("%H:%M:%S", "no date"),
            ("hello", "no date"),
            ("", "empty"),
            ("%", "expected byte after"),
        ] {
            let e = check_layout(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
