//! `loglake formats test`: how the first lines of a file parse, column by
//! column, with a user-defined format from a `formats.toml` or with the
//! built-in detection, so a format can be written and checked before any
//! ingest. Parsing is core's (`format::custom`, `format::Parser`); this file
//! only chooses the format, reads a bounded sample and prints.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use anyhow::{Context as _, bail};
use loglake_core::Format;
use loglake_core::ingest::format::custom::{CustomFormat, Formats};
use loglake_core::ingest::format::stamp::{Context, Zone};
use loglake_core::ingest::format::{Parsed, Parser, detect};
use loglake_core::record::{Record, TextField};
use loglake_core::time::format_rfc3339_ms;
use serde_json::{Map, Value, json};

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Show how a file's first lines parse: the format, the columns set, the
    /// attributes and the time, or why a line is rejected (exit status 1
    /// when one is)
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The log file (plain, gzip or zstd)
    file: PathBuf,
    /// User-defined formats
    #[arg(long, value_name = "FORMATS_TOML")]
    formats: Option<PathBuf>,
    /// A format of --formats, or a built-in one (json, combined, alb,
    /// cloudfront, vpcflow, cloudtrail, waf, s3access, cwlogs,
    /// route53resolver, networkfirewall, text). Default: the format whose sources match FILE, else
    /// the one that parses most of the sample, else built-in detection
    #[arg(long, value_name = "NAME")]
    format: Option<String>,
    /// How many non-blank lines to show (events, for a multi-line format)
    #[arg(long, default_value_t = 10)]
    lines: usize,
    /// Zone of times written without one: an IANA name (Europe/Berlin), UTC,
    /// or an offset (+01:00)
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// One JSON object per line (event) instead of text
    #[arg(long)]
    json: bool,
}

/// Longest line kept; the rest of a longer line is skipped.
const MAX_LINE: usize = 1 << 20;
/// Lines read at most per line shown: a multi-line event ends somewhere.
const LINES_PER_EVENT: usize = 200;

pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Test(a) => test(a),
    }
}

/// How the lines are parsed.
#[derive(Debug)]
enum Choice {
    Custom(CustomFormat),
    /// Built-in; `None`: detected from the sample.
    Builtin(Option<Format>),
}

/// One line, or one multi-line event, of the sample.
#[derive(Debug)]
struct Event {
    first: u64,
    last: u64,
    text: String,
}

/// What a line (event) turned into, owned, for printing.
#[derive(Debug, Default)]
struct Shown {
    first: u64,
    last: u64,
    format: String,
    ts: Option<i64>,
    /// Column name and value, in schema order (the time apart).
    columns: Vec<(&'static str, String)>,
    attributes: Vec<(String, String)>,
    /// (reason, detail) when the line was rejected.
    reject: Option<(String, Option<String>)>,
    header: bool,
}

fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    if a.lines == 0 {
        bail!("--lines must be at least 1");
    }
    let zone: Zone = a
        .timezone
        .parse()
        .map_err(|e| anyhow::anyhow!("--timezone: {e}"))?;
    let formats = match &a.formats {
        Some(p) => Some(Formats::load(p)?),
        None => None,
    };
    let modified_ms = std::fs::metadata(&a.file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    let ctx = Context {
        zone: zone.clone(),
        reference_ms: modified_ms,
    };
    let sample = read_sample(&a.file, a.lines * LINES_PER_EVENT)?;
    let key = a.file.to_string_lossy();
    let (choice, why) = choose(a.format.as_deref(), formats.as_ref(), &key, &sample, &ctx)?;
    let custom = match &choice {
        Choice::Custom(f) => Some(f),
        Choice::Builtin(_) => None,
    };
    let events = events(&sample, custom, a.lines);
    let (choice, why) = match choice {
        Choice::Builtin(None) => (
            Choice::Builtin(Some(detect(events.iter().map(|e| e.text.as_str())))),
            format!("{why}, over the first {} lines", events.len()),
        ),
        other => (other, why),
    };
    let shown: Vec<Shown> = match &choice {
        Choice::Custom(f) => events.iter().map(|e| custom_row(f, e, &ctx)).collect(),
        Choice::Builtin(format) => {
            let mut parser = Parser::new(format.unwrap_or(Format::Text), ctx.clone());
            events.iter().map(|e| builtin_row(&mut parser, e)).collect()
        }
    };
    if a.json {
        for s in &shown {
            println!("{}", to_json(s));
        }
    } else {
        print!("{}", header(&a.file, &choice, &why, &zone));
        for s in &shown {
            print!("\n{}", to_text(s));
        }
        if shown.is_empty() {
            println!("\n(no non-blank lines)");
        }
    }
    Ok(if shown.iter().any(|s| s.reject.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The format to use, and why it was chosen.
fn choose(
    name: Option<&str>,
    formats: Option<&Formats>,
    key: &str,
    sample: &[(u64, String)],
    ctx: &Context,
) -> anyhow::Result<(Choice, String)> {
    if let Some(name) = name {
        if let Some(f) = formats.and_then(|fs| fs.get(name)) {
            return Ok((Choice::Custom(f.clone()), "--format".into()));
        }
        if let Ok(builtin) = name.parse::<Format>() {
            return Ok((Choice::Builtin(Some(builtin)), "--format".into()));
        }
        match formats {
            Some(fs) => bail!(
                "--format {name:?}: no such format in --formats (it has {}) and no built-in one",
                names(fs)
            ),
            None => bail!(
                "--format {name:?}: no built-in format by that name \
                 (json, combined, alb, cloudfront, vpcflow, cloudtrail, waf, s3access, cwlogs, \
                 route53resolver, networkfirewall, text); custom formats need --formats"
            ),
        }
    }
    let Some(fs) = formats else {
        return Ok((Choice::Builtin(None), "detected".into()));
    };
    if let Some(f) = fs.for_source(key) {
        let pattern = f.source_match(key).unwrap_or_default();
        return Ok((
            Choice::Custom(f.clone()),
            format!("its sources pattern {pattern:?} matches the file"),
        ));
    }
    // The format that parses most of the sample, the first on a tie.
    let mut best: Option<(usize, &CustomFormat)> = None;
    for f in fs {
        let n = sample
            .iter()
            .filter(|(_, line)| {
                let mut rec = Record::default();
                !line.trim().is_empty() && f.parse(line, &mut rec, ctx).is_ok()
            })
            .count();
        if n > 0 && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, f));
        }
    }
    Ok(match best {
        Some((n, f)) => (
            Choice::Custom(f.clone()),
            format!(
                "no sources pattern matches the file; it parses {n} of the {} sample lines",
                sample.len()
            ),
        ),
        None => (
            Choice::Builtin(None),
            format!(
                "no format of --formats ({}) matches the file or parses a sample line; detected",
                names(fs)
            ),
        ),
    })
}

fn names(fs: &Formats) -> String {
    let v: Vec<&str> = fs.iter().map(CustomFormat::name).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Up to `max` lines of the decoded file, with their 1-based numbers.
fn read_sample(path: &Path, max: usize) -> anyhow::Result<Vec<(u64, String)>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (_, decoded) = loglake_core::ingest::input::decode(file)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut r = BufReader::new(decoded);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for number in 1..=max as u64 {
        buf.clear();
        let n = r
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && n == MAX_LINE {
            skip_line(&mut r)?;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        out.push((number, String::from_utf8_lossy(&buf).into_owned()));
    }
    Ok(out)
}

/// Read past the end of the current line.
fn skip_line(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                r.consume(n);
            }
        }
    }
}

/// The first `n` non-blank lines, or events when `format` is multi-line:
/// a line that does not start an event joins the one before it.
fn events(sample: &[(u64, String)], format: Option<&CustomFormat>, n: usize) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for (number, line) in sample {
        let continues = format.and_then(|f| f.starts_event(line)) == Some(false);
        match out.last_mut() {
            Some(last) if continues => {
                last.text.push('\n');
                last.text.push_str(line);
                if !line.trim().is_empty() {
                    last.last = *number;
                }
            }
            _ if line.trim().is_empty() => {}
            _ => {
                if out.len() == n {
                    break;
                }
                out.push(Event {
                    first: *number,
                    last: *number,
                    text: line.clone(),
                });
            }
        }
    }
    out
}

fn custom_row(f: &CustomFormat, e: &Event, ctx: &Context) -> Shown {
    let mut rec = Record::default();
    let result = f.parse(&e.text, &mut rec, ctx);
    shown(e, f.name().to_owned(), &rec, result.err(), false)
}

fn builtin_row(parser: &mut Parser, e: &Event) -> Shown {
    let mut rec = Record::default();
    match parser.parse(&e.text, &mut rec) {
        Ok(Parsed::Row(sf)) => shown(e, format!("{} (built-in)", sf.as_str()), &rec, None, false),
        Ok(Parsed::Header) => shown(e, parser.format().as_str().to_owned(), &rec, None, true),
        Err(r) => shown(
            e,
            format!("{} (built-in)", parser.format().as_str()),
            &rec,
            Some(r),
            false,
        ),
    }
}

fn shown(
    e: &Event,
    format: String,
    rec: &Record<'_>,
    reject: Option<loglake_core::record::Reject>,
    header: bool,
) -> Shown {
    let mut s = Shown {
        first: e.first,
        last: e.last,
        format,
        header,
        ..Shown::default()
    };
    if let Some(r) = reject {
        s.reject = Some((r.reason().into_owned(), r.detail().map(str::to_owned)));
        return s;
    }
    s.ts = rec.ts;
    if let Some(l) = rec.level {
        s.columns.push(("level", l.as_str().to_owned()));
    }
    for t in TextField::ALL {
        if let Some(v) = rec.get(t) {
            s.columns.push((t.column(), v.to_owned()));
        }
    }
    let numbers = [
        ("http_status", rec.http_status.map(|v| v.to_string())),
        ("latency_ms", rec.latency_ms.map(|v| v.to_string())),
        ("bytes_sent", rec.bytes_sent.map(|v| v.to_string())),
        ("amount", rec.amount.map(|v| v.to_string())),
    ];
    s.columns
        .extend(numbers.into_iter().filter_map(|(k, v)| Some((k, v?))));
    s.attributes = rec
        .attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s
}

/// What was chosen and how times are read.
fn header(file: &Path, choice: &Choice, why: &str, ingest_zone: &Zone) -> String {
    let mut out = format!("{}\n", file.display());
    let zone = |z: &Zone| match z {
        Zone::Utc => "UTC".to_owned(),
        Zone::Fixed(m) => {
            let sign = if *m < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
        }
        Zone::Named(tz) => tz.iana_name().unwrap_or("?").to_owned(),
    };
    match choice {
        Choice::Custom(f) => {
            out += &format!("format: {} ({why})\n", f.name());
            let (z, whose) = match f.zone() {
                Some(z) => (z, "the format's timezone"),
                None => (ingest_zone, "--timezone"),
            };
            out += &format!("  times without an offset: {} ({whose})\n", zone(z));
            if let Some(l) = f.time_layout() {
                out += &format!("  time layout: {l}\n");
            }
            if f.is_multiline() {
                out += "  multi-line: a line not matching multiline_start continues the event before it\n";
            }
            for (i, (capture, to)) in f.captures().into_iter().enumerate() {
                let label = if i == 0 { "captures" } else { "" };
                out += &format!("  {label:<9} {capture} -> {to}\n");
            }
        }
        Choice::Builtin(format) => {
            let name = format.map_or("text", Format::as_str);
            out += &format!("format: {name} (built-in; {why})\n");
            out += &format!(
                "  times without an offset: {} (--timezone)\n",
                zone(ingest_zone)
            );
        }
    }
    out
}

/// Lines of a multi-line value shown before the rest is counted.
const VALUE_LINES: usize = 6;

fn to_text(s: &Shown) -> String {
    let mut out = if s.first == s.last {
        format!("line {}\n", s.first)
    } else {
        format!("lines {}-{}\n", s.first, s.last)
    };
    let mut field = |name: &str, value: &str| {
        let mut line = |label: &str, text: &str| {
            out += format!("  {label:<12}{text}").trim_end();
            out.push('\n');
        };
        let mut lines = value.lines();
        line(name, lines.next().unwrap_or(""));
        let rest: Vec<&str> = lines.collect();
        for l in rest.iter().take(VALUE_LINES - 1) {
            line("", l);
        }
        if rest.len() >= VALUE_LINES {
            line(
                "",
                &format!("({} more lines)", rest.len() - (VALUE_LINES - 1)),
            );
        }
    };
    field("format", &s.format);
    if s.header {
        field("header", "a header line: no record");
        return out;
    }
    if let Some((reason, detail)) = &s.reject {
        let why = match detail {
            Some(d) => format!("{reason}: {d}"),
            None => reason.clone(),
        };
        field("rejected", &why);
        return out;
    }
    match s.ts {
        Some(ts) => field(
            "time",
            &format!("{} (from the line)", format_rfc3339_ms(ts)),
        ),
        None => field("time", "(none: the source's time would be used)"),
    }
    for (k, v) in &s.columns {
        field(k, v);
    }
    for (i, (k, v)) in s.attributes.iter().enumerate() {
        field(if i == 0 { "attributes" } else { "" }, &format!("{k}={v}"));
    }
    out
}

fn to_json(s: &Shown) -> Value {
    let mut o = Map::new();
    o.insert("lines".into(), json!([s.first, s.last]));
    o.insert("format".into(), json!(s.format));
    if s.header {
        o.insert("header".into(), json!(true));
    }
    if let Some((reason, detail)) = &s.reject {
        o.insert("reject".into(), json!({"reason": reason, "detail": detail}));
        return Value::Object(o);
    }
    o.insert("ts".into(), json!(s.ts.map(format_rfc3339_ms)));
    o.insert(
        "columns".into(),
        Value::Object(
            s.columns
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        ),
    );
    o.insert(
        "attributes".into(),
        Value::Array(s.attributes.iter().map(|(k, v)| json!([k, v])).collect()),
    );
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../examples/formats.toml");
    const SPRING: &str = include_str!("../../../examples/formats/spring-boot.log");
    const NGINX: &str = include_str!("../../../examples/formats/nginx-timed.log");

    fn sample(text: &str) -> Vec<(u64, String)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.to_owned()))
            .collect()
    }

    fn ctx() -> Context {
        Context {
            zone: Zone::Utc,
            reference_ms: Some(1_710_450_000_000),
        }
    }

    #[test]
    fn spring_boot_events_and_text() {
        let fs = Formats::from_toml(SHIPPED).unwrap();
        let s = sample(SPRING);
        let (choice, why) = choose(
            None,
            Some(&fs),
            "examples/formats/spring-boot.log",
            &s,
            &ctx(),
        )
        .unwrap();
        let Choice::Custom(f) = &choice else {
            panic!("{choice:?}")
        };
        assert_eq!(f.name(), "spring-boot");
        assert_eq!(why, "its sources pattern \"spring*.log\" matches the file");
        let ev = events(&s, Some(f), 10);
        let spans: Vec<(u64, u64)> = ev.iter().map(|e| (e.first, e.last)).collect();
        assert_eq!(
            spans,
            [(1, 1), (2, 2), (3, 3), (4, 4), (5, 14), (16, 16), (17, 17)]
        );
        let text = to_text(&custom_row(f, &ev[4], &ctx()));
        assert!(text.starts_with("lines 5-14\n  format      spring-boot\n  time        2024-03-14T21:00:04.250Z (from the line)\n  level       ERROR\n  service     shop\n  message     Servlet.service() for servlet"), "{text}");
        assert!(
            text.contains("(4 more lines)\n  trace_id    4bf92f3577b34da6a3ce929d0e0e4736\n"),
            "{text}"
        );
        assert!(text.ends_with("  attributes  pid=12345\n              thread=nio-8080-exec-3\n              span_id=b7ad6b7169203331\n              logger=o.a.c.c.C.[.[.[/].[dispatcherServlet]\n"), "{text}");
        assert_eq!(events(&s, Some(f), 2).len(), 2);
    }

    #[test]
    fn nginx_by_sample_and_rejects() {
        let fs = Formats::from_toml(SHIPPED).unwrap();
        let mut s = sample(NGINX);
        s.push((6, "not an access log line".into()));
        let (choice, why) = choose(
            None,
            Some(&fs),
            "examples/formats/nginx-timed.log",
            &s,
            &ctx(),
        )
        .unwrap();
        let Choice::Custom(f) = &choice else {
            panic!("{choice:?}")
        };
        assert_eq!(f.name(), "nginx-timed");
        assert_eq!(
            why,
            "no sources pattern matches the file; it parses 5 of the 6 sample lines"
        );
        let ev = events(&s, Some(f), 10);
        assert_eq!(ev.len(), 6);
        let last = custom_row(f, &ev[5], &ctx());
        assert_eq!(
            to_text(&last),
            "line 6\n  format      nginx-timed\n  rejected    malformed: the line does not match format \"nginx-timed\"\n"
        );
        assert_eq!(
            to_json(&last),
            json!({"lines": [6, 6], "format": "nginx-timed", "reject": {"reason": "malformed", "detail": "the line does not match format \"nginx-timed\""}})
        );
        let first = to_json(&custom_row(f, &ev[0], &ctx()));
        assert_eq!(first["ts"], "2024-03-14T21:00:01.000Z");
        assert_eq!(first["columns"]["latency_ms"], "42");
        assert_eq!(first["attributes"][0], json!(["http_version", "HTTP/1.1"]));
    }

    #[test]
    fn builtin_and_named_choices() {
        let s = sample("2024-03-14 21:00:01 ERROR boom\n\nplain words");
        let (choice, _) = choose(None, None, "app.log", &s, &ctx()).unwrap();
        assert!(matches!(choice, Choice::Builtin(None)));
        let ev = events(&s, None, 10);
        assert_eq!(ev.len(), 2);
        let mut parser = Parser::new(Format::Text, ctx());
        let text = to_text(&builtin_row(&mut parser, &ev[1]));
        assert_eq!(
            text,
            "line 3\n  format      text (built-in)\n  time        (none: the source's time would be used)\n  message     plain words\n"
        );
        let fs = Formats::from_toml(SHIPPED).unwrap();
        let (choice, _) = choose(Some("json"), Some(&fs), "x", &s, &ctx()).unwrap();
        assert!(matches!(choice, Choice::Builtin(Some(Format::Json))));
        let (choice, why) = choose(Some("nginx-timed"), Some(&fs), "x", &s, &ctx()).unwrap();
        assert!(matches!(choice, Choice::Custom(_)) && why == "--format");
        let e = choose(Some("apache2"), Some(&fs), "x", &s, &ctx()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--format \"apache2\": no such format in --formats (it has nginx-timed, spring-boot) and no built-in one"
        );
        let (choice, why) = choose(None, Some(&fs), "x.log", &s, &ctx()).unwrap();
        assert!(matches!(choice, Choice::Builtin(None)), "{why}");
    }

    #[test]
    fn reads_gzip_and_bounds_lines() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log.gz");
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        let long = "x".repeat(MAX_LINE + 10);
        gz.write_all(format!("one\r\n{long}\nthree\n").as_bytes())
            .unwrap();
        gz.finish().unwrap();
        let s = read_sample(&p, 10).unwrap();
        let lens: Vec<(u64, usize)> = s.iter().map(|(n, l)| (*n, l.len())).collect();
        assert_eq!(lens, [(1, 3), (2, MAX_LINE), (3, 5)]);
        assert_eq!(read_sample(&p, 1).unwrap().len(), 1);
    }
}
