//! User-defined line formats, read from a `formats.toml`: a regex with named
//! captures per format, the captures mapped to the lake's columns by name.
//! This module owns the file's meaning, its validation (`load.rs`), which
//! sources a format is for (`sources.rs`), reading its times (`time.rs`)
//! and parsing a line with it ([`CustomFormat::parse`]). Choosing a format
//! for an object and joining multi-line events are the pipeline's.
//!
//! ```toml
//! [[format]]
//! name = "nginx-timed"                 # required, unique, [a-z0-9_-]+, not a built-in format's
//! regex = '^(?P<client_ip>\S+) - (?P<user_id>\S+) \[(?P<time>[^\]]+)\] ...'
//! time_field = "time"                  # the capture holding the time (default: time, timestamp or ts)
//! time_layout = "%d/%b/%Y:%H:%M:%S %z" # strftime-style (jiff::fmt::strtime); default: recognized
//! timezone = "Europe/Berlin"           # zone of times without an offset (default: the ingest's)
//! multiline_start = '\d{4}-\d{2}-\d{2}' # a line NOT matching it continues the previous event
//! sources = ["nginx/", "*.access.log"] # folders (ending in /) or names/keys with * wildcards
//! service = "nginx"                    # the service of lines that capture none
//! ```
//!
//! **Regexes** (Rust `regex` syntax, `(?P<name>...)` or `(?<name>...)`)
//! are anchored at the line's start unless they start with `^`; text after
//! the match is ignored. `multiline_start` is anchored the same way.
//!
//! **Captures** whose name is a column fill it: `service`, `message`,
//! `host`, `region`, `http_method`, `http_path`, `client_ip`, `user_agent`,
//! `user_id`, `session_id`, `trace_id`, `request_id`, `event_type`,
//! `order_id`, `sku`, `currency`, `error_type`, `level` (any spelling
//! [`Level::parse`] knows), `http_status` (three digits), `bytes_sent`,
//! `amount`; the latency's unit is in its name: `latency_ms`, `latency_s`
//! (nginx `$request_time`) or `latency_us` (Apache `%D`), all stored as
//! milliseconds. Any other capture is kept in `attributes` under its name.
//! A capture that is empty or `-` is null. A value a numeric column (or
//! `level`) cannot hold is kept, as written, in `attributes` under the
//! capture's name: the row is worth more than the column. Names loglake
//! fills itself (`ts`, `attributes`, `source_*`, `dt`, `hr`) are refused,
//! except that `ts` may be the time capture.
//!
//! Without a `message` capture the message is the whole line. Without a
//! `level`, an access log's level follows its status (5xx error, 4xx warn).
//! The time capture goes through `time_layout`, or the recognizer the text
//! format uses ([`stamp::find`](super::stamp::find)); a line whose time
//! cannot be read is rejected ([`Reject::InvalidTimestamp`]), a line the
//! regex does not match is [`Reject::Malformed`] with the format's name. A
//! line without a time capture (or with it empty) keeps `ts` unset: the
//! source's time applies.
//!
//! **Using it**: [`Formats::load`] once; per object, the format the user
//! named ([`Formats::get`]) or [`Formats::for_source`] of its key. For a
//! format with [`CustomFormat::is_multiline`], a line for which
//! [`CustomFormat::starts_event`] is `Some(false)` belongs to the event
//! before it: join the event's lines with `\n` and parse the event once.
//! [`CustomFormat::parse`] never sets `source_format` (that would mark the
//! record as forwarded).

mod fields;
mod load;
mod sources;
#[cfg(test)]
mod tests;
mod time;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use regex::{CaptureLocations, Regex};

pub use load::FormatsError;

use super::clf::level_for_status;
use super::stamp::{Context, Zone};
use crate::record::{Level, Record, Reject, TextField};

/// The formats of one `formats.toml`, in file order. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Formats {
    formats: Arc<[CustomFormat]>,
}

impl Formats {
    /// Parse and validate a `formats.toml`: every regex, layout, zone and
    /// pattern is checked here, so parsing a line cannot fail on the file.
    pub fn from_toml(text: &str) -> Result<Formats, FormatsError> {
        Ok(Formats {
            formats: load::read(text)?.into(),
        })
    }

    /// [`Formats::from_toml`] on a file; errors name the file.
    pub fn load(path: &Path) -> Result<Formats, FormatsError> {
        let text = std::fs::read_to_string(path).map_err(|e| FormatsError {
            path: Some(path.to_path_buf()),
            message: format!("cannot read: {e}"),
            ..FormatsError::default()
        })?;
        Formats::from_toml(&text).map_err(|mut e| {
            e.path = Some(path.to_path_buf());
            e
        })
    }

    pub fn get(&self, name: &str) -> Option<&CustomFormat> {
        self.formats.iter().find(|f| f.name() == name)
    }

    /// The first format whose `sources` match `name_or_key` (an object
    /// key, a path or a file name).
    pub fn for_source(&self, name_or_key: &str) -> Option<&CustomFormat> {
        self.formats
            .iter()
            .find(|f| f.source_match(name_or_key).is_some())
    }

    pub fn iter(&self) -> std::slice::Iter<'_, CustomFormat> {
        self.formats.iter()
    }

    pub fn len(&self) -> usize {
        self.formats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.formats.is_empty()
    }
}

impl<'f> IntoIterator for &'f Formats {
    type Item = &'f CustomFormat;
    type IntoIter = std::slice::Iter<'f, CustomFormat>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One validated format. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct CustomFormat {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Distinct per loaded format: the key of its per-thread capture slots.
    id: u64,
    name: String,
    /// As written in the file (empty for a field format).
    pattern: String,
    /// The regex of a regex format; a field format has [`Inner::fields`].
    regex: Option<Regex>,
    fields: Option<fields::Fields>,
    /// Capture group index, its name, and where its value goes; every
    /// named capture but the message and the time.
    columns: Vec<(usize, &'static str, Column)>,
    message: Option<usize>,
    time: Option<TimeCapture>,
    zone: Option<Zone>,
    multiline_start: Option<Regex>,
    sources: Vec<sources::Pattern>,
    service: Option<&'static str>,
}

#[derive(Debug)]
struct TimeCapture {
    group: usize,
    name: String,
    layout: Option<String>,
}

/// Where a capture's value goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Text(TextField),
    Level,
    HttpStatus,
    /// Milliseconds per unit of the capture.
    Latency(f64),
    BytesSent,
    Amount,
    Attribute,
}

impl CustomFormat {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The regex as written in the file.
    pub fn pattern(&self) -> &str {
        &self.inner.pattern
    }

    /// The zone of this format's times written without an offset, when it
    /// sets one (else the ingest's applies).
    pub fn zone(&self) -> Option<&Zone> {
        self.inner.zone.as_ref()
    }

    /// The `time_layout`, when the format gives one.
    pub fn time_layout(&self) -> Option<&str> {
        self.inner.time.as_ref()?.layout.as_deref()
    }

    /// Whether the format's records name their own fields (JSON, or a
    /// header line) rather than match a regex. Such a format is chosen
    /// by its `sources` or by name; a header format also by its header.
    pub fn is_fields(&self) -> bool {
        self.inner.fields.is_some()
    }

    /// Whether `line` is the header (or a JSON document's own member) of
    /// a field format; `first`: it is the object's first line.
    pub fn is_header(&self, line: &str, first: bool) -> bool {
        self.inner
            .fields
            .as_ref()
            .is_some_and(|f| f.is_header(line, first))
    }

    /// The start of the line that names a header format's fields, when it
    /// has one (not the object's first line): objects are recognized by it.
    pub fn header_prefix(&self) -> Option<&str> {
        match &self.inner.fields.as_ref()?.shape {
            fields::Shape::Header { prefix, .. } if !prefix.is_empty() => Some(prefix),
            _ => None,
        }
    }

    /// Where a JSON field format's records are when they come as one
    /// document (`expand`).
    pub fn expand(&self) -> Option<crate::ingest::expand::Expand> {
        self.inner.fields.as_ref()?.expand()
    }

    /// The `sources` patterns, as written.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.inner.sources.iter().map(sources::Pattern::as_str)
    }

    /// The first `sources` pattern that matches `name_or_key`.
    pub fn source_match(&self, name_or_key: &str) -> Option<&str> {
        self.inner
            .sources
            .iter()
            .find(|p| p.matches(name_or_key))
            .map(sources::Pattern::as_str)
    }

    /// Whether the format has a `multiline_start` pattern.
    pub fn is_multiline(&self) -> bool {
        self.inner.multiline_start.is_some()
    }

    /// `Some(true)` when `line` starts a new event, `Some(false)` when it
    /// continues the previous one (a stack trace's `at ...`), `None` when
    /// the format has no `multiline_start` (every line is an event).
    pub fn starts_event(&self, line: &str) -> Option<bool> {
        Some(self.inner.multiline_start.as_ref()?.is_match(line))
    }

    /// Where each named capture goes, in the regex's order: the column's
    /// name, `attributes.NAME` or `ts`, with the unit or layout when there is
    /// one. For people (`loglake formats test`), not for parsing.
    pub fn captures(&self) -> Vec<(&str, String)> {
        let f = &*self.inner;
        let (Some(regex), None) = (&f.regex, &f.fields) else {
            return f.fields.as_ref().map_or_else(Vec::new, |fl| {
                fl.renames
                    .iter()
                    .map(|(n, t)| (n.as_str(), target_name(*t, n)))
                    .collect()
            });
        };
        let names: Vec<Option<&str>> = regex.capture_names().collect();
        let name = |g: usize| names.get(g).copied().flatten().unwrap_or("?");
        let mut out: Vec<(usize, &str, String)> = f
            .columns
            .iter()
            .map(|&(g, n, c)| (g, name(g), target_name(fields::Target::To(c), n)))
            .collect();
        if let Some(g) = f.message {
            out.push((g, name(g), "message".to_owned()));
        }
        if let Some(t) = &f.time {
            let how = match &t.layout {
                Some(l) => format!("ts (time_layout {l:?})"),
                None => "ts (recognized)".to_owned(),
            };
            out.push((t.group, &t.name, how));
        }
        out.sort_by_key(|(g, ..)| *g);
        out.into_iter().map(|(_, n, to)| (n, to)).collect()
    }

    /// Parse one line into `rec` (already cleared), times without an
    /// offset in the format's zone, else `ctx`'s.
    ///
    /// `line` may be a whole multi-line event, its lines joined with `\n`
    /// (see [`CustomFormat::starts_event`]): the regex is matched against
    /// its first line, and the following lines extend the message (the
    /// whole event when there is no `message` capture).
    ///
    /// Errors: [`Reject::Malformed`] when the regex does not match,
    /// [`Reject::InvalidTimestamp`] when the time capture cannot be read.
    /// On error `rec` may hold some fields; the caller discards it.
    pub fn parse<'a>(
        &self,
        line: &'a str,
        rec: &mut Record<'a>,
        ctx: &Context,
    ) -> Result<(), Reject> {
        self.parse_with_header(line, None, rec, ctx)
    }

    /// [`CustomFormat::parse`], with the header line in force for a
    /// header format.
    pub fn parse_with_header<'a>(
        &self,
        line: &'a str,
        header: Option<&str>,
        rec: &mut Record<'a>,
        ctx: &Context,
    ) -> Result<(), Reject> {
        let f = &*self.inner;
        let regex = match (&f.regex, &f.fields) {
            (Some(r), None) => r,
            (_, Some(fl)) => {
                fields::parse(f, fl, line, header, rec, ctx)?;
                self.finish(rec);
                return Ok(());
            }
            (None, None) => unreachable!("a format is a regex or fields"),
        };
        let event = line.trim_end();
        let first = match event.find('\n') {
            Some(n) => event[..n].trim_end_matches('\r'),
            None => event,
        };
        with_locations(f, regex, |locs| {
            if regex.captures_read(locs, first).is_none() {
                return Err(Reject::Malformed(format!(
                    "the line does not match format {:?}",
                    f.name
                )));
            }
            let value = |g: usize| {
                locs.get(g)
                    .map(|(s, e)| &first[s..e])
                    .filter(|v| !v.is_empty() && *v != "-")
            };
            for &(g, name, column) in &f.columns {
                if let Some(v) = value(g) {
                    set(rec, column, name, v);
                }
            }
            let span = f.message.and_then(|g| locs.get(g));
            rec.text[TextField::Message as usize] = match f.message {
                None => Some(Cow::Borrowed(event)),
                Some(_) => message(span, first, event),
            };
            if let Some(t) = &f.time
                && let Some(v) = value(t.group)
            {
                rec.ts = Some(time::read(
                    v.trim(),
                    t.layout.as_deref(),
                    f.zone.as_ref(),
                    ctx,
                )?);
            }
            Ok(())
        })?;
        self.finish(rec);
        Ok(())
    }

    /// The service and level every format's record gets when it has none.
    fn finish(&self, rec: &mut Record<'_>) {
        if let Some(s) = self.inner.service
            && rec.get(TextField::Service).is_none()
        {
            rec.set(TextField::Service, s);
        }
        if rec.level.is_none()
            && let Some(status) = rec.http_status
        {
            rec.level = Some(level_for_status(status));
        }
    }
}

/// Where a field goes, as `loglake formats test` shows it.
fn target_name(t: fields::Target, n: &str) -> String {
    match t {
        fields::Target::Ts => "ts".to_owned(),
        fields::Target::Message => "message".to_owned(),
        fields::Target::To(c) => match c {
            Column::Text(t) => t.column().to_owned(),
            Column::Level => "level".to_owned(),
            Column::HttpStatus => "http_status".to_owned(),
            Column::Latency(_) if n == "latency_ms" => "latency_ms".to_owned(),
            Column::Latency(_) => format!("latency_ms (from {n})"),
            Column::BytesSent => "bytes_sent".to_owned(),
            Column::Amount => "amount".to_owned(),
            Column::Attribute => format!("attributes.{n}"),
        },
    }
}

/// The column a capture or field of this name fills (a latency's unit is
/// in its name); `None`: none, it is an attribute. Names loglake fills
/// itself are the loader's to refuse.
fn column_named(n: &str) -> Option<Column> {
    Some(match n {
        "level" => Column::Level,
        "http_status" => Column::HttpStatus,
        "bytes_sent" => Column::BytesSent,
        "amount" => Column::Amount,
        "latency_ms" => Column::Latency(1.0),
        "latency_s" => Column::Latency(1000.0),
        "latency_us" => Column::Latency(0.001),
        n => Column::Text(TextField::ALL.into_iter().find(|t| t.column() == n)?),
    })
}

/// The message: the capture, extended over the event's other lines when it
/// reaches the end of the first one; the other lines alone when the capture
/// is null.
fn message<'a>(
    span: Option<(usize, usize)>,
    first: &'a str,
    event: &'a str,
) -> Option<Cow<'a, str>> {
    let rest = &event[first.len()..];
    let null = |v: &str| v.is_empty() || v == "-";
    let v: Cow<'a, str> = match span {
        Some((s, e)) if !null(&first[s..e]) => {
            if rest.is_empty() {
                first[s..e].into()
            } else if e == first.len() {
                event[s..].into()
            } else {
                format!("{}{rest}", &first[s..e]).into()
            }
        }
        _ => rest.trim_start_matches(['\r', '\n']).into(),
    };
    (!v.is_empty()).then_some(v)
}

/// Put one capture's value where it goes; a value its column cannot hold is
/// kept as an attribute under the capture's name.
fn set<'a>(rec: &mut Record<'a>, column: Column, name: &'static str, v: &'a str) {
    set_value(rec, column, Cow::Borrowed(name), Cow::Borrowed(v));
}

/// [`set`] for a name and value of any lifetime (a field format's).
fn set_value<'a>(rec: &mut Record<'a>, column: Column, name: Cow<'a, str>, v: Cow<'a, str>) {
    let kept = match column {
        Column::Text(t) => {
            rec.text[t as usize] = Some(v);
            return;
        }
        Column::Level => Level::parse(&v).map(|l| rec.level = Some(l)).is_some(),
        Column::HttpStatus => status(&v).map(|s| rec.http_status = Some(s)).is_some(),
        Column::Latency(per_unit) => number(&v)
            .filter(|x| *x >= 0.0)
            // Rounded to the microsecond, as the ALB parser does.
            .map(|x| rec.latency_ms = Some((x * per_unit * 1000.0).round() / 1000.0))
            .is_some(),
        Column::BytesSent => (v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse::<i64>().ok())
            .flatten()
            .map(|n| rec.bytes_sent = Some(n))
            .is_some(),
        Column::Amount => number(&v).map(|x| rec.amount = Some(x)).is_some(),
        Column::Attribute => false,
    };
    if !kept {
        rec.attr(name, v);
    }
}

/// Three ASCII digits.
fn status(v: &str) -> Option<i16> {
    (v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
}

/// A finite decimal number (no `inf`, `NaN` or hex).
fn number(v: &str) -> Option<f64> {
    v.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        .then(|| v.parse::<f64>().ok())
        .flatten()
        .filter(|x| x.is_finite())
}

/// How many formats' capture slots a thread keeps.
const LOCATIONS_KEPT: usize = 16;

thread_local! {
    /// Capture slots per format, reused line after line: matching a line
    /// allocates nothing. Keyed by [`Inner::id`] (slots of one regex must
    /// not be used with another).
    static LOCATIONS: RefCell<Vec<(u64, CaptureLocations)>> = const { RefCell::new(Vec::new()) };
}

fn with_locations<R>(f: &Inner, regex: &Regex, run: impl FnOnce(&mut CaptureLocations) -> R) -> R {
    LOCATIONS.with_borrow_mut(|kept| {
        let i = match kept.iter().position(|(id, _)| *id == f.id) {
            Some(i) => i,
            None => {
                if kept.len() >= LOCATIONS_KEPT {
                    kept.remove(0);
                }
                kept.push((f.id, regex.capture_locations()));
                kept.len() - 1
            }
        };
        run(&mut kept[i].1)
    })
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `s` as a `&'static str`, leaked once per distinct string. Attribute keys
/// and a format's service are borrowed into every record (`Cow::Borrowed`,
/// no allocation per line); they come from configuration, so the set stays
/// small however often a file is loaded.
fn intern(s: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&known) = names.get(s) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}
