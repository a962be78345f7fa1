//! Times written without a zone or a year: the zone the user configured,
//! and the year that fits the source's time.

use super::{BadStamp, Stamp, zone};

/// The zone of times written without one: UTC unless the user says
/// (`--timezone`, `TIMEZONE`, a format's `timezone`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Zone {
    #[default]
    Utc,
    /// A fixed offset, minutes east of UTC.
    Fixed(i32),
    /// An IANA zone (`Europe/Berlin`), with its daylight-saving rules.
    Named(jiff::tz::TimeZone),
}

impl std::str::FromStr for Zone {
    type Err = String;

    /// `UTC`, `Z`, `+01:00`, `-0530`, or an IANA name such as `Europe/Berlin`.
    fn from_str(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" || s.eq_ignore_ascii_case("gmt") {
            return Ok(Zone::Utc);
        }
        if s.starts_with(['+', '-']) {
            let (off, end) = zone(s.as_bytes(), 0);
            return match off {
                Some(m) if end == s.len() => Ok(Zone::Fixed(m)),
                _ => Err(format!("{s:?} is not an offset like +01:00")),
            };
        }
        jiff::tz::TimeZone::get(s)
            .map(Zone::Named)
            .map_err(|_| format!("{s:?} is not a time zone (an IANA name such as Europe/Berlin, UTC, or an offset like +01:00)"))
    }
}

/// What a timestamp needs besides its text: the zone of times written
/// without one, and the source's time, which gives year-less layouts
/// their year.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub zone: Zone,
    /// When the object was written or the stream record arrived (UTC ms).
    pub reference_ms: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

impl Context {
    /// `stamp` as UTC milliseconds. A year-less time gets the year that
    /// makes it the latest such moment no more than a day after the
    /// source's time: a December line in a file written in January is last
    /// year's, and a file that runs over New Year gets both years right.
    pub fn resolve(&self, s: &Stamp, line: &str) -> Result<i64, BadStamp> {
        if let Some(ms) = s.epoch_ms {
            return Ok(ms);
        }
        let bad = |why| BadStamp {
            text: line.get(s.start..s.end).unwrap_or_default().to_string(),
            why,
        };
        let at = |year: i64| -> Result<i64, BadStamp> {
            let local =
                crate::time::from_civil(year, s.month, s.day, s.hour, s.minute, s.second, s.millis)
                    .ok_or_else(|| bad("no such day in that month"))?;
            match (s.offset_min, &self.zone) {
                (Some(m), _) => Ok(local - i64::from(m) * 60_000),
                (None, Zone::Utc) => Ok(local),
                (None, Zone::Fixed(m)) => Ok(local - i64::from(*m) * 60_000),
                (None, Zone::Named(tz)) => {
                    named_to_utc(tz, year, s).ok_or_else(|| bad("not a time in that zone"))
                }
            }
        };
        if let Some(y) = s.year {
            return at(y);
        }
        let reference = self.reference_ms.unwrap_or_else(now_ms);
        let (ref_year, ref_month, _, _) = crate::time::date_hour(reference);
        let limit = reference.saturating_add(DAY_MS);
        let mut last_err = None;
        // Next year's date is at most a day (and a zone's offset) after the
        // source's time only in January after a December: anywhere else it
        // is past the limit, so it is not tried (one date less per line).
        let next = s.month == 1 && ref_month == 12;
        let years = [ref_year + 1, ref_year, ref_year - 1];
        for year in years.into_iter().skip(usize::from(!next)) {
            match at(year) {
                Ok(ms) if ms <= limit => return Ok(ms),
                Ok(_) => {}
                // February 29th of a year that has none: try the next.
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| bad("no year puts this time before the source was written")))
    }
}

fn named_to_utc(tz: &jiff::tz::TimeZone, year: i64, s: &Stamp) -> Option<i64> {
    let dt = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        s.month as i8,
        s.day as i8,
        s.hour as i8,
        s.minute as i8,
        s.second.min(59) as i8,
        (s.millis * 1_000_000) as i32,
    )
    .ok()?;
    // A time skipped or repeated by a clock change: the earlier reading,
    // as most zone-aware tools do.
    let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
    Some(ts.as_millisecond())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
