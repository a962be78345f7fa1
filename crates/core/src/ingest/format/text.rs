//! The fallback for lines in no known format: the whole line is the message,
//! with the time ([`stamp`](super::stamp)), the level and, for syslog, the
//! host, program and pid taken from where the common layouts put them. An
//! unknown line is still a log line: the only rejection is a timestamp whose
//! values cannot be (February 30), which is quarantined with the reason.

use super::prefix;
use super::stamp::{self, Context, Layout};
use crate::record::{Level, Record, Reject, TextField};

/// How far into a line a level is looked for: loggers put it near the start,
/// and further in the words are the message's own ("retrying after ERROR").
const LEVEL_WINDOW: usize = 120;

/// Parse any line into `rec` (already cleared), times without a zone or a
/// year resolved with `ctx`.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>, ctx: &Context) -> Result<(), Reject> {
    parse_found(line, rec, ctx, None)
}

/// [`parse`], with what [`stamp::find`] said of `line` when the caller
/// already asked (the multiline joiner does, for a line that starts an
/// event); used only when `line` has no trailing blanks, since the time is
/// looked for in the line without them.
pub fn parse_found<'a>(
    line: &'a str,
    rec: &mut Record<'a>,
    ctx: &Context,
    found: Option<stamp::Found>,
) -> Result<(), Reject> {
    let trimmed = line.trim_end();
    let found = match found {
        Some(found) if trimmed.len() == line.len() => found,
        _ => stamp::find(trimmed),
    };
    let line = trimmed;
    rec.set(TextField::Message, line);
    let Some(found) = found else {
        rec.level = sniff_level(line);
        return Ok(());
    };
    let bad = |b: stamp::BadStamp| Reject::InvalidTimestamp(format!("{:?}: {}", b.text, b.why));
    let s = found.map_err(bad)?;
    rec.ts = Some(ctx.resolve(&s, line).map_err(bad)?);
    let pri = syslog_pri(line);
    if s.layout == Layout::Rfc3164 || pri.is_some() {
        let rfc5424 = pri.is_some_and(|(_, version)| version);
        if let Some(h) = stamp::syslog_header(line, s.end, rfc5424) {
            rec.set(TextField::Host, h.host);
            if let Some(p) = h.program {
                rec.set(TextField::Service, p);
            }
            if let Some(pid) = h.pid {
                rec.attr("pid", pid);
            }
            rec.set(TextField::Message, &line[h.message..]);
            // The header (time, host, program) names no level.
            rec.level = sniff_level(&line[h.message..]);
        } else {
            rec.level = level_around(line, &s);
        }
    } else {
        let after = s.end + usize::from(line[s.end..].starts_with(']'));
        if let Some(p) = prefix::parse(&line[after..], s.layout == Layout::Klog) {
            // A level the prefix names is the logger's; look no further.
            rec.level = p.level.or_else(|| level_around(line, &s));
            for (k, v) in [("thread", p.thread), ("pid", p.pid), ("logger", p.logger)] {
                if let Some(v) = v {
                    rec.attr(k, v);
                }
            }
            rec.set(TextField::Message, &line[after + p.message..]);
        } else {
            rec.level = level_around(line, &s);
        }
    }
    if let Some((severity, _)) = pri {
        // The priority's severity is what the sender meant; a level word in
        // the message is only a guess.
        rec.level = Level::from_number(severity).or(rec.level);
    }
    Ok(())
}

/// A syslog `<PRI>` at the start of the line: (severity 0-7, whether the
/// RFC 5424 version `1 ` follows).
fn syslog_pri(line: &str) -> Option<(u32, bool)> {
    let rest = line.strip_prefix('<')?;
    let close = rest.bytes().take(4).position(|c| c == b'>')?;
    let pri: u32 = rest[..close].parse().ok()?;
    (pri <= 191).then(|| (pri % 8, rest[close + 1..].starts_with("1 ")))
}

/// The level a line announces near its start, if any. Recognized, first one
/// wins:
/// - a klog/glog prefix (`E0314 21:00:01.123456 ...`);
/// - a bracketed level name in any case (`[error]`, `[WARN]`, `[Info ]`);
/// - an upper-case level word standing alone (`ERROR`, `WARN`, `WARNING`,
///   `INFO`, `DEBUG`, `TRACE`, `FATAL`, `CRITICAL`, `SEVERE`), lower case
///   being too common in messages;
/// - a `level=`/`lvl=`/`severity=`/`loglevel=` key, logfmt or JSON style
///   (`level=warn`, `"level":"error"`), with any value [`Level::parse`] knows.
pub fn sniff_level(line: &str) -> Option<Level> {
    klog(line.as_bytes()).or_else(|| scan_level(line, LEVEL_WINDOW))
}

/// [`sniff_level`] for a line whose timestamp `s` was found: the same
/// answer, without reading the timestamp's own bytes (most of a line's
/// first words, and never a level).
fn level_around(line: &str, s: &stamp::Stamp) -> Option<Level> {
    klog(line.as_bytes())
        .or_else(|| scan_level(&line[..s.start], s.start))
        .or_else(|| scan_level(&line[s.end..], LEVEL_WINDOW.saturating_sub(s.end)))
}

/// The first level word starting in the first `window` bytes of `line`.
fn scan_level(line: &str, window: usize) -> Option<Level> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len().min(window) {
        if b[i] == b'[' {
            if let Some(level) = bracketed(line, i) {
                return Some(level);
            }
            i += 1;
        } else if is_word(b[i]) {
            let start = i;
            i += 1;
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            // Level words and keys have 3 to 9 bytes (`lvl`, `log_level`).
            if (3..=9).contains(&(i - start)) {
                // `start` and `i` sit next to ASCII bytes, so both are char
                // boundaries even in a line with multi-byte characters.
                let word = &line[start..i];
                if let Some(level) = upper_word(word).or_else(|| key_value(b, word, i)) {
                    return Some(level);
                }
            }
        } else {
            i += 1;
        }
    }
    None
}

/// klog/glog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, where L is one
/// of I, W, E, F.
fn klog(b: &[u8]) -> Option<Level> {
    if b.len() < 7
        || b[5] != b' '
        || !b[1..5].iter().all(u8::is_ascii_digit)
        || !b[6].is_ascii_digit()
    {
        return None;
    }
    Some(match b[0] {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' => Level::Fatal,
        _ => return None,
    })
}

/// `[name]` at byte `open` of `line`, where name is a level name of three or
/// more letters in any case (`[E]` or `[30]` say too little to trust).
fn bracketed(line: &str, open: usize) -> Option<Level> {
    let rest = line.get(open + 1..)?;
    let close = rest.bytes().take(16).position(|c| c == b']')?;
    let name = rest[..close].trim_matches(' ');
    if name.len() < 3 || !name.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Level::parse(name)
}

fn upper_word(word: &str) -> Option<Level> {
    // Every level word starts with an upper-case letter from C to W.
    if !matches!(word.as_bytes().first(), Some(b'C'..=b'W')) {
        return None;
    }
    match word {
        "ERROR" | "WARN" | "WARNING" | "INFO" | "DEBUG" | "TRACE" | "FATAL" | "CRITICAL"
        | "SEVERE" => Level::parse(word),
        _ => None,
    }
}

/// `level=error`, `lvl=warn`, `"level":"error"`, `"severity": "ERROR"`:
/// `word` is a level key ending at byte `end` of the line `b`.
fn key_value(b: &[u8], word: &str, end: usize) -> Option<Level> {
    const KEYS: [&str; 5] = ["level", "lvl", "severity", "loglevel", "log_level"];
    // Every key starts with l or s and is followed by `=`, `:` or `"`: most
    // words are ruled out by two bytes.
    if !matches!(word.as_bytes().first().map(|c| c | 0x20), Some(b'l' | b's'))
        || !matches!(b.get(end), Some(b'=' | b':' | b'"'))
        || !KEYS.iter().any(|k| word.eq_ignore_ascii_case(k))
    {
        return None;
    }
    let mut i = end;
    if b.get(i) == Some(&b'"') {
        i += 1;
    }
    if !matches!(b.get(i), Some(b'=' | b':')) {
        return None;
    }
    i += 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.get(i) == Some(&b'"') {
        i += 1;
    }
    let len = b
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    // ASCII bytes only, so this is valid UTF-8.
    std::str::from_utf8(&b[i..i + len])
        .ok()
        .and_then(Level::parse)
}

#[inline]
fn is_word(c: u8) -> bool {
    WORD[usize::from(c)]
}

/// ASCII letters, digits and `_`.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::ingest::format::clf::fuzz_lines;

    const T0: i64 = 1_710_450_000_000; // 2024-03-14T21:00:00Z

    fn ctx() -> Context {
        Context {
            reference_ms: Some(T0),
            ..Context::default()
        }
    }

    #[test]
    fn the_logger_prefix_goes_to_attributes_and_the_message_keeps_the_rest() {
        let line = "2024-03-14 21:00:01,123 ERROR [main] c.e.Shop - payment failed: timeout  \r\n";
        let mut rec = Record::default();
        parse(line, &mut rec, &ctx()).unwrap();
        assert_eq!(rec.get(TextField::Message), Some("payment failed: timeout"));
        assert!(matches!(
            rec.text[TextField::Message as usize],
            Some(Cow::Borrowed(_))
        ));
        assert_eq!(rec.level, Some(Level::Error));
        assert_eq!(rec.ts, Some(T0 + 1123));
        assert_eq!(
            rec.attributes,
            [
                (Cow::from("thread"), Cow::from("main")),
                (Cow::from("logger"), Cow::from("c.e.Shop"))
            ]
        );

        let mut rec = Record::default();
        parse(
            "    at com.example.Shop.pay(Shop.java:42)",
            &mut rec,
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            rec.get(TextField::Message),
            Some("    at com.example.Shop.pay(Shop.java:42)")
        );
        assert_eq!((rec.ts, rec.level), (None, None));

        let mut rec = Record::default();
        parse("", &mut rec, &ctx()).unwrap();
        assert_eq!(rec.get(TextField::Message), Some(""));
    }

    #[test]
    fn levels() {
        for (line, want) in [
            ("2024-03-14 21:00:01 ERROR boom", Some(Level::Error)),
            ("2024-03-14 21:00:01 WARN disk 91%", Some(Level::Warn)),
            ("2024-03-14 21:00:01 WARNING disk 91%", Some(Level::Warn)),
            ("INFO: server started", Some(Level::Info)),
            ("DEBUG cache miss", Some(Level::Debug)),
            ("TRACE enter pay()", Some(Level::Trace)),
            ("FATAL out of memory", Some(Level::Fatal)),
            ("CRITICAL db down", Some(Level::Fatal)),
            ("SEVERE: cannot bind", Some(Level::Error)),
            (
                "[2024-03-14 21:00:01] [error] [client 1.2.3.4] denied",
                Some(Level::Error),
            ),
            (
                "[Thu Mar 14 21:00:01 2024] [warn] mod_ssl: skipped",
                Some(Level::Warn),
            ),
            ("[WARN ] low disk", Some(Level::Warn)),
            ("[main] INFO c.e.App - up", Some(Level::Info)),
            ("[I] tornado says hi", None),
            ("[30] numbers are not levels", None),
            (
                "time=2024-03-14T21:00:01Z level=error msg=\"boom\"",
                Some(Level::Error),
            ),
            ("ts=1 lvl=warn msg=x", Some(Level::Warn)),
            ("ts=1 level=\"info\" msg=x", Some(Level::Info)),
            ("log.level=debug service=shop", Some(Level::Debug)),
            (r#"{"severity": "ERROR", "broken json"#, Some(Level::Error)),
            (r#"{"level":"warn","msg":"x"#, Some(Level::Warn)),
            ("level=50 pino-style", Some(Level::Error)),
            ("level= nothing", None),
            (
                "E0314 21:00:01.123456   12345 main.go:42] failed",
                Some(Level::Error),
            ),
            (
                "W0314 21:00:01.123456   12345 main.go:42] slow",
                Some(Level::Warn),
            ),
            ("I0314 21:00:01.123456   1 main.go:1] ok", Some(Level::Info)),
            ("X0314 21:00:01.123456   1 main.go:1] ok", None),
            ("an error happened but nobody shouted", None),
            ("ERRORS are plural, INFORMATION is long", None),
            ("MY_ERROR_CODE 17", None),
            ("first INFO then ERROR", Some(Level::Info)),
            ("level=bogus but later WARN", Some(Level::Warn)),
            ("", None),
            ("é ERROR after a multi-byte char", Some(Level::Error)),
        ] {
            assert_eq!(sniff_level(line), want, "{line}");
        }
    }

    #[test]
    fn level_window() {
        let far = format!("{} ERROR", "x".repeat(LEVEL_WINDOW));
        assert_eq!(sniff_level(&far), None);
        let near = format!("{} ERROR", "x".repeat(LEVEL_WINDOW - 10));
        assert_eq!(sniff_level(&near), Some(Level::Error));
        // A word that starts inside the window counts even if it ends outside.
        let edge = format!("{} WARNING", "x".repeat(LEVEL_WINDOW - 4));
        assert_eq!(sniff_level(&edge), Some(Level::Warn));
    }

    #[test]
    fn never_rejects_never_panics() {
        let samples = [
            "2024-03-14 21:00:01,123 ERROR [main] boom",
            "[14/Mar/2024:21:00:01 +0000] [warn] x",
            "E0314 21:00:01.123456 1 a.go:1] y",
            "time=2024-03-14T21:00:01Z level=error msg=\"é\"",
        ];
        for line in samples {
            for end in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
                let mut rec = Record::default();
                assert_eq!(parse(&line[..end], &mut rec, &ctx()), Ok(()));
            }
        }
        for s in fuzz_lines(b"[]-/: .,TZ+0123456789ERORWANlevl=\"\xc3\xa9", 3000) {
            let mut rec = Record::default();
            // Random text never panics; the one rejection is a time that
            // cannot be, and every other line keeps all of itself.
            match parse(&s, &mut rec, &ctx()) {
                Ok(()) => assert_eq!(rec.get(TextField::Message), Some(s.trim_end())),
                Err(r) => assert!(matches!(r, Reject::InvalidTimestamp(_)), "{s:?}: {r:?}"),
            }
        }
    }
}
