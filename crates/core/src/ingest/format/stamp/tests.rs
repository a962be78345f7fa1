//! The layouts, zones, years and syslog headers, on lines written from
//! each layout's documentation.

use super::syslog::syslog_header;
use super::zone::{Context, Zone};
use super::*;

/// (layout, year, month, day, h, m, s, ms, offset, timestamp text)
fn found(line: &str) -> (Layout, Option<i64>, [u32; 6], u32, Option<i32>, &str) {
    let s = find(line)
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
        .unwrap_or_else(|e| panic!("{line:?}: {e:?}"));
    (
        s.layout,
        s.year,
        [s.month, s.day, s.hour, s.minute, s.second, 0],
        s.millis,
        s.offset_min,
        &line[s.start..s.end],
    )
}

const T0: i64 = 1_710_450_000_000; // 2024-03-14T21:00:00Z

fn resolve(line: &str, zone: &str, reference_ms: i64) -> Result<i64, BadStamp> {
    let ctx = Context {
        zone: zone.parse().unwrap(),
        reference_ms: Some(reference_ms),
    };
    let s = find(line).unwrap()?;
    ctx.resolve(&s, line)
}

#[test]
fn zones_apply_only_to_times_written_without_one() {
    let line = "2024-03-14 22:00:01 x";
    assert_eq!(resolve(line, "UTC", T0), Ok(T0 + 3_601_000));
    assert_eq!(resolve(line, "Europe/Berlin", T0), Ok(T0 + 1000));
    assert_eq!(resolve(line, "+01:00", T0), Ok(T0 + 1000));
    // Summer time in Berlin is two hours east.
    let july = "2024-07-14 23:00:01 x";
    assert_eq!(
        resolve(july, "Europe/Berlin", T0),
        resolve("2024-07-14T21:00:01Z x", "UTC", T0)
    );
    // A written offset wins over the setting.
    assert_eq!(
        resolve("2024-03-14T22:00:01+01:00 x", "America/New_York", T0),
        Ok(T0 + 1000)
    );
    assert!("Mars/Olympus".parse::<Zone>().is_err());
    assert!("+25:00".parse::<Zone>().is_err());
}

#[test]
fn syslog_years_come_from_the_source_time() {
    let jan_2 = 1_704_153_600_000; // 2024-01-02T00:00:00Z
    // A December file read in January is last year's.
    let dec = resolve("Dec 31 23:59:59 host a: b", "UTC", jan_2).unwrap();
    assert_eq!(
        crate::time::format_rfc3339_ms(dec),
        "2023-12-31T23:59:59.000Z"
    );
    // A file that runs over New Year: both sides right.
    let jan = resolve("Jan  1 00:00:05 host a: b", "UTC", jan_2).unwrap();
    assert_eq!(
        crate::time::format_rfc3339_ms(jan),
        "2024-01-01T00:00:05.000Z"
    );
    // Up to a day ahead of the source's time stays this year (clock skew).
    let soon = resolve("Jan  2 12:00:00 host a: b", "UTC", jan_2).unwrap();
    assert_eq!(
        crate::time::format_rfc3339_ms(soon),
        "2024-01-02T12:00:00.000Z"
    );
    // klog too.
    let k = resolve("I1231 23:00:00.000000 1 a.go:1] x", "UTC", jan_2).unwrap();
    assert_eq!(
        crate::time::format_rfc3339_ms(k),
        "2023-12-31T23:00:00.000Z"
    );
    // February 29th goes to the latest leap year before the source.
    let feb = resolve("Feb 29 10:00:00 host a: b", "UTC", 1_741_000_000_000).unwrap(); // 2025-03-03
    assert_eq!(
        crate::time::format_rfc3339_ms(feb),
        "2024-02-29T10:00:00.000Z"
    );
}

#[test]
fn iso_8601_in_every_spelling() {
    for (line, ms, off, text) in [
        (
            "2024-03-14T21:00:01Z boot",
            0,
            Some(0),
            "2024-03-14T21:00:01Z",
        ),
        (
            "2024-03-14T21:00:01.123456789Z x",
            123,
            Some(0),
            "2024-03-14T21:00:01.123456789Z",
        ),
        (
            "2024-03-14 21:00:01,123 INFO x",
            123,
            None,
            "2024-03-14 21:00:01,123",
        ),
        (
            "2024-03-14 21:00:01.5 x",
            500,
            None,
            "2024-03-14 21:00:01.5",
        ),
        (
            "2024-03-14T21:00:01+01:00 x",
            0,
            Some(60),
            "2024-03-14T21:00:01+01:00",
        ),
        (
            "2024-03-14T21:00:01-0530 x",
            0,
            Some(-330),
            "2024-03-14T21:00:01-0530",
        ),
        (
            "2024-03-14 21:00:01 UTC x",
            0,
            Some(0),
            "2024-03-14 21:00:01 UTC",
        ),
        ("2024-03-14 21:00:01", 0, None, "2024-03-14 21:00:01"),
    ] {
        let (layout, year, civil, got_ms, got_off, got_text) = found(line);
        assert_eq!(layout, Layout::Iso8601, "{line}");
        assert_eq!(year, Some(2024));
        assert_eq!(civil[..5], [3, 14, 21, 0, 1], "{line}");
        assert_eq!((got_ms, got_off, got_text), (ms, off, text), "{line}");
    }
}

#[test]
fn every_layout_people_run() {
    for (line, layout, year, civil, text) in [
        // Go log, nginx error log
        (
            "2024/03/14 21:00:01 [error] 7#7: *1 open() failed",
            Layout::Slashed,
            Some(2024),
            [3, 14, 21, 0, 1],
            "2024/03/14 21:00:01",
        ),
        // syslog RFC 3164, Linux and macOS
        (
            "Mar 14 21:00:01 web1 sshd[4242]: Accepted publickey",
            Layout::Rfc3164,
            None,
            [3, 14, 21, 0, 1],
            "Mar 14 21:00:01",
        ),
        (
            "Mar  4 09:05:07 web1 CRON[1]: (root) CMD",
            Layout::Rfc3164,
            None,
            [3, 4, 9, 5, 7],
            "Mar  4 09:05:07",
        ),
        (
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
            Layout::Rfc3164,
            None,
            [10, 11, 22, 14, 15],
            "Oct 11 22:14:15",
        ),
        // Apache error log
        (
            "[Thu Mar 14 21:00:01.123456 2024] [core:error] [pid 42] AH00126",
            Layout::ApacheError,
            Some(2024),
            [3, 14, 21, 0, 1],
            "Thu Mar 14 21:00:01.123456 2024",
        ),
        // log4j short date (Spark)
        (
            "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered",
            Layout::Log4jShort,
            Some(2017),
            [6, 9, 20, 10, 40],
            "17/06/09 20:10:40",
        ),
        // Tomcat
        (
            "14-Mar-2024 21:00:01.123 INFO [main] org.apache.catalina.startup.Catalina.start",
            Layout::Tomcat,
            Some(2024),
            [3, 14, 21, 0, 1],
            "14-Mar-2024 21:00:01.123",
        ),
        // klog
        (
            "E0314 21:00:01.123456   12345 main.go:42] failed",
            Layout::Klog,
            None,
            [3, 14, 21, 0, 1],
            "0314 21:00:01.123456",
        ),
        // HDFS
        (
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1",
            Layout::Compact,
            Some(2008),
            [11, 9, 20, 36, 15],
            "081109 203615",
        ),
        // CLF in brackets
        (
            "[10/Oct/2000:13:55:36 -0700] GET /",
            Layout::Clf,
            Some(2000),
            [10, 10, 13, 55, 36],
            "10/Oct/2000:13:55:36 -0700",
        ),
        // RFC 5424
        (
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - msg",
            Layout::Iso8601,
            Some(2003),
            [10, 11, 22, 14, 15],
            "2003-10-11T22:14:15.003Z",
        ),
        // A file-name prefix (OpenStack as collected), a logger prefix
        (
            "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi",
            Layout::Iso8601,
            Some(2017),
            [5, 16, 0, 0, 0],
            "2017-05-16 00:00:00.008",
        ),
    ] {
        let (got, y, c, _, _, t) = found(line);
        assert_eq!(
            (got, y, &c[..5], t),
            (layout, year, &civil[..], text),
            "{line}"
        );
    }
}

#[test]
fn epoch_numbers_at_the_start() {
    for (line, ms, layout) in [
        ("1710450001 up", 1_710_450_001_000, Layout::EpochSeconds),
        ("1710450001.25 up", 1_710_450_001_250, Layout::EpochSeconds),
        ("1710450001123 up", 1_710_450_001_123, Layout::EpochMillis),
    ] {
        let s = find(line).unwrap().unwrap();
        assert_eq!((s.epoch_ms, s.layout), (Some(ms), layout), "{line}");
    }
    // Other numbers are not times.
    for line in [
        "42 bottles",
        "123456789 items",
        "17104500011 too long",
        "app.log 1710450001 pid",
    ] {
        assert_eq!(find(line), None, "{line}");
    }
}

#[test]
fn impossible_values_are_errors_not_missing_times() {
    for (line, why) in [
        (
            "2024-02-30 21:00:01 no such day",
            "no such day in that month",
        ),
        (
            "2023-02-29T00:00:00Z not a leap year",
            "no such day in that month",
        ),
        ("2024-03-14 25:00:01 no such hour", "hour out of range"),
        ("2024-13-01 00:00:00 no such month", "no such month"),
        ("Feb 31 10:00:00 host x: y", "no such day in that month"),
        ("14-Mar-2024 21:61:01.000 INFO", "minute out of range"),
    ] {
        let e = find(line).unwrap().unwrap_err();
        assert_eq!(e.why, why, "{line}");
    }
    // A year-less February 29th waits for its year.
    assert!(find("Feb 29 10:00:00 host x: y").unwrap().is_ok());
}

#[test]
fn text_that_only_looks_like_a_time_is_not_one() {
    for line in [
        "",
        "at com.example.Shop.pay(Shop.java:42)",
        "Caused by: java.io.IOException: boom",
        "2024-03-14 21:00 no seconds",
        "2024-03/14 21:00:01 mixed separators",
        "Mayday 14 21:00:01",
        "March 14 21:00:01 spelled out",
        "I0314 no clock",
        "[error] no time at all",
        "2024-03-14T21:00:01ZZ glued",
        "Thu Mar 14 21:00:01 host no year for apache",
    ] {
        assert_eq!(find(line), None, "{line}");
    }
}

#[test]
fn syslog_headers() {
    let line = "Mar 14 21:00:01 web1 sshd[4242]: Accepted publickey for deploy";
    let s = find(line).unwrap().unwrap();
    let h = syslog_header(line, s.end, false).unwrap();
    assert_eq!(
        (h.host, h.program, h.pid),
        ("web1", Some("sshd"), Some("4242"))
    );
    assert_eq!(&line[h.message..], "Accepted publickey for deploy");

    let line = "Mar 14 21:00:01 mac-mini kernel: Sandbox: deny";
    let s = find(line).unwrap().unwrap();
    let h = syslog_header(line, s.end, false).unwrap();
    assert_eq!(
        (h.host, h.program, h.pid),
        ("mac-mini", Some("kernel"), None)
    );
    assert_eq!(&line[h.message..], "Sandbox: deny");

    let line = "Mar 14 21:00:01 web1 no tag here at all";
    let s = find(line).unwrap().unwrap();
    let h = syslog_header(line, s.end, false).unwrap();
    assert_eq!((h.host, h.program), ("web1", None));
    assert_eq!(&line[h.message..], "no tag here at all");

    let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventID=\"1011\"] An application event";
    let s = find(line).unwrap().unwrap();
    let h = syslog_header(line, s.end, true).unwrap();
    assert_eq!(
        (h.host, h.program, h.pid),
        ("mymachine.example.com", Some("evntslog"), None)
    );
    assert_eq!(&line[h.message..], "An application event");
}

#[test]
fn never_panics_on_any_prefix() {
    let samples = [
        "<165>1 2003-10-11T22:14:15.003Z mymachine",
        "[Thu Mar 14 21:00:01.123456 2024] [core:error]",
        "E0314 21:00:01.123456   12345 main.go:42]",
        "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008",
        "\u{feff}Mar  4 09:05:07 web1 CRON[1]: é",
    ];
    for line in samples {
        for end in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
            let _ = find(&line[..end]);
        }
    }
}

/// A year-less time tries next year only after a December: the same answer
/// (and the same error) as trying all three years, on every day of the
/// year and at the year's turn, with offsets east and west, a named zone,
/// and February 29th.
#[test]
fn next_year_is_tried_only_where_it_can_fit() {
    let all_three = |ctx: &Context, s: &Stamp, line: &str| -> Result<i64, BadStamp> {
        let reference = ctx.reference_ms.unwrap_or_default();
        let (ref_year, _, _, _) = crate::time::date_hour(reference);
        let mut last_err = None;
        for year in [ref_year + 1, ref_year, ref_year - 1] {
            match ctx.resolve(
                &Stamp {
                    year: Some(year),
                    ..*s
                },
                line,
            ) {
                Ok(ms) if ms <= reference + 86_400_000 => return Ok(ms),
                Ok(_) => {}
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| BadStamp {
            text: line.get(s.start..s.end).unwrap_or_default().to_string(),
            why: "no year puts this time before the source was written",
        }))
    };
    // References: the last days of 2023, New Year, mid-year, a leap day.
    let references = [
        1_703_894_400_000, // 2023-12-30T00:00:00Z
        1_703_980_800_000, // 2023-12-31T00:00:00Z
        1_704_063_599_000, // 2023-12-31T22:59:59Z
        1_704_067_200_000, // 2024-01-01T00:00:00Z
        1_718_409_600_000, // 2024-06-15T00:00:00Z
        1_709_208_000_000, // 2024-02-29T12:00:00Z
        1_741_000_000_000, // 2025-03-03
    ];
    let mut checked = 0;
    for zone in ["UTC", "+14:00", "-12:00", "Europe/Berlin"] {
        for reference in references {
            let ctx = Context {
                zone: zone.parse().unwrap(),
                reference_ms: Some(reference),
            };
            for month in 1..=12u32 {
                for day in [1, 2, 15, 28, 29, 30, 31] {
                    for hour in [0, 13, 23] {
                        let line = format!("{month:02}{day:02} {hour:02}:00:00 x");
                        let s = Stamp {
                            year: None,
                            month,
                            day,
                            hour,
                            minute: 0,
                            second: 0,
                            millis: 0,
                            offset_min: None,
                            epoch_ms: None,
                            layout: Layout::Klog,
                            start: 0,
                            end: 13,
                        };
                        assert_eq!(
                            ctx.resolve(&s, &line),
                            all_three(&ctx, &s, &line),
                            "{zone} {reference} {line}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 7000, "{checked}");
}
