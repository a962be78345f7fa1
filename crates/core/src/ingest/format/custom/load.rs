//! Reading a `formats.toml`: TOML to validated [`CustomFormat`]s. Refused,
//! with a [`FormatsError`] naming the format, the field and the line:
//! unknown keys, values of the wrong type, a missing or duplicate name, a
//! regex that does not compile or captures nothing, captures of columns
//! loglake fills itself, a `time_field` that is no capture, a `time_layout`
//! jiff cannot read back, an unknown `timezone`, a bad `multiline_start`
//! and empty or unusable `sources` patterns.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::{Spanned, Value};

use super::fields::{Fields, Separator, Shape, Target};
use super::sources::Pattern;
use super::{Column, CustomFormat, Inner, TimeCapture, column_named, intern, next_id, time};
use crate::ingest::expand::Expand;
use crate::ingest::format::Format;
use crate::ingest::format::stamp::Zone;

/// Why a `formats.toml` cannot be used. Displayed as
/// `formats.toml: format "nginx-timed", field regex: unclosed group at
/// character 12: "(?P<x>" (line 4)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatsError {
    /// The file, when read from one.
    pub path: Option<PathBuf>,
    /// The format's name, when it has a usable one.
    pub format: Option<String>,
    /// The format's 1-based position among the `[[format]]` tables.
    pub index: Option<u32>,
    /// The key the problem is in.
    pub field: Option<String>,
    /// 1-based line in the file, when known.
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for FormatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: ", p.display())?,
            None => f.write_str("formats.toml: ")?,
        }
        match (&self.format, self.index) {
            (Some(name), _) => write!(f, "format {name:?}")?,
            (None, Some(i)) => write!(f, "format #{i}")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            let sep = if self.format.is_some() || self.index.is_some() {
                ", "
            } else {
                ""
            };
            write!(f, "{sep}field {field}")?;
        }
        if self.format.is_some() || self.index.is_some() || self.field.is_some() {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if let Some(l) = self.line {
            write!(f, " (line {l})")?;
        }
        Ok(())
    }
}

impl std::error::Error for FormatsError {}

/// The keys a `[[format]]` table may have.
const KEYS: &[&str] = &[
    "name",
    "regex",
    "time_field",
    "time_layout",
    "timezone",
    "multiline_start",
    "sources",
    "service",
    "json",
    "expand",
    "header",
    "separator",
    "fields",
];

/// Capture names that default to the time, first found wins.
const TIME_NAMES: [&str; 3] = ["time", "timestamp", "ts"];

/// Columns loglake fills itself; no capture may claim them.
const RESERVED: [&str; 8] = [
    "ts",
    "attributes",
    "source_format",
    "source_uri",
    "source_line",
    "event_id",
    "dt",
    "hr",
];

/// Compiled program and lazy-DFA limits per regex: plenty for a log line's
/// pattern, and a bound on what one configuration file can cost.
const REGEX_SIZE: usize = 2 << 20;
const DFA_SIZE: usize = 4 << 20;

type RawTable = BTreeMap<Spanned<String>, Spanned<Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    format: Vec<Spanned<RawTable>>,
}

/// A problem in one key of a format.
struct FieldError {
    field: String,
    /// Where in the file; `None`: the format's table.
    offset: Option<usize>,
    message: String,
}

fn ferr(field: &str, v: &Spanned<Value>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        offset: Some(v.span().start),
        message: message.into(),
    }
}

/// Every format of the file, validated, in file order.
pub(super) fn read(text: &str) -> Result<Vec<CustomFormat>, FormatsError> {
    let line_of = |offset: usize| {
        text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32
            + 1
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| FormatsError {
        line: e.span().map(|s| line_of(s.start)),
        // toml's message repeats the source line with a caret; the first
        // line is the reason.
        message: format!(
            "invalid TOML: {}",
            e.message().lines().next().unwrap_or("").trim()
        ),
        ..FormatsError::default()
    })?;
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut out = Vec::with_capacity(raw.format.len());
    for (i, t) in raw.format.iter().enumerate() {
        let table = t.get_ref();
        let index = Some(i as u32 + 1);
        let name = name(table).map_err(|e| FormatsError {
            index,
            field: Some(e.field),
            line: Some(line_of(e.offset.unwrap_or(t.span().start))),
            message: e.message,
            ..FormatsError::default()
        })?;
        let format = build(name, table).map_err(|e| FormatsError {
            format: Some(name.to_owned()),
            index,
            field: Some(e.field),
            line: Some(line_of(e.offset.unwrap_or(t.span().start))),
            message: e.message,
            ..FormatsError::default()
        })?;
        let start = line_of(t.span().start);
        if let Some(first) = seen.insert(name.to_owned(), start) {
            return Err(FormatsError {
                format: Some(name.to_owned()),
                index,
                field: Some("name".into()),
                line: Some(start),
                message: format!("duplicate name (first defined on line {first})"),
                ..FormatsError::default()
            });
        }
        out.push(format);
    }
    Ok(out)
}

/// The format's name, checked.
fn name(table: &RawTable) -> Result<&str, FieldError> {
    let Some(v) = table.get("name") else {
        return Err(FieldError {
            field: "name".into(),
            offset: None,
            message: "missing: every [[format]] needs a name".into(),
        });
    };
    let name = string("name", v)?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ferr(
            "name",
            v,
            format!("{name:?} is not a name: use a-z, 0-9, _ and -, at most 64"),
        ));
    }
    if name.parse::<Format>().is_ok() {
        return Err(ferr(
            "name",
            v,
            format!("{name:?} is a built-in format's name; choose another"),
        ));
    }
    Ok(name)
}

fn string<'t>(field: &str, v: &'t Spanned<Value>) -> Result<&'t str, FieldError> {
    match v.get_ref() {
        Value::String(s) => Ok(s),
        other => Err(ferr(
            field,
            v,
            format!("must be a string (got {})", other.type_str()),
        )),
    }
}

fn optional<'t>(table: &'t RawTable, field: &str) -> Result<Option<&'t str>, FieldError> {
    table.get(field).map(|v| string(field, v)).transpose()
}

/// One format from its table; the name is already checked.
fn build(name: &str, table: &RawTable) -> Result<CustomFormat, FieldError> {
    for key in table.keys() {
        if !KEYS.contains(&key.get_ref().as_str()) {
            let hint = match key.get_ref().as_str() {
                "latency_unit" => "the latency's unit is in its capture's name: \
                                   latency_ms, latency_s or latency_us"
                    .to_owned(),
                _ => format!("unknown key (known: {})", KEYS.join(", ")),
            };
            return Err(FieldError {
                field: key.get_ref().clone(),
                offset: Some(key.span().start),
                message: hint,
            });
        }
    }
    let Some(rv) = table.get("regex") else {
        return build_fields(name, table);
    };
    for key in ["json", "expand", "header", "separator", "fields"] {
        if let Some(v) = table.get(key) {
            return Err(ferr(
                key,
                v,
                "belongs to a format without a regex (its records name their own fields)",
            ));
        }
    }
    let pattern = string("regex", rv)?;
    let regex = compile(pattern).map_err(|m| ferr("regex", rv, m))?;
    let groups: Vec<(usize, &str)> = regex
        .capture_names()
        .enumerate()
        .filter_map(|(g, n)| Some((g, n?)))
        .collect();
    if groups.is_empty() {
        return Err(ferr(
            "regex",
            rv,
            "has no named capture such as (?P<message>.*): nothing would be kept",
        ));
    }
    let group_of = |n: &str| groups.iter().find(|(_, g)| *g == n).map(|(g, _)| *g);
    let listing = || {
        groups
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };

    let time_name = match table.get("time_field") {
        Some(v) => {
            let f = string("time_field", v)?;
            if group_of(f).is_none() {
                return Err(ferr(
                    "time_field",
                    v,
                    format!("{f:?} is not a capture of the regex (it has {})", listing()),
                ));
            }
            Some(f)
        }
        None => TIME_NAMES.into_iter().find(|n| group_of(n).is_some()),
    };
    let layout = match table.get("time_layout") {
        Some(v) => {
            let l = string("time_layout", v)?;
            if time_name.is_none() {
                return Err(ferr(
                    "time_layout",
                    v,
                    "the regex has no time capture: call one (?P<time>...) or name it in time_field",
                ));
            }
            time::check_layout(l).map_err(|m| ferr("time_layout", v, m))?;
            Some(l.to_owned())
        }
        None => None,
    };
    let time = time_name.and_then(|n| {
        Some(TimeCapture {
            group: group_of(n)?,
            name: n.to_owned(),
            layout,
        })
    });

    let mut columns = Vec::new();
    let mut message = None;
    let mut latency: Option<&str> = None;
    for &(g, n) in &groups {
        if time.as_ref().is_some_and(|t| t.group == g) {
            continue;
        }
        if n == "message" {
            message = Some(g);
            continue;
        }
        if RESERVED.contains(&n) {
            let hint = if n == "ts" {
                " (set time_field = \"ts\" to read the time from it)"
            } else {
                ""
            };
            return Err(ferr(
                "regex",
                rv,
                format!("capture {n:?} names a column loglake fills itself{hint}"),
            ));
        }
        let column = column_named(n).unwrap_or(Column::Attribute);
        if let Column::Latency(_) = column {
            if let Some(first) = latency {
                return Err(ferr(
                    "regex",
                    rv,
                    format!("captures {first} and {n} would both fill latency_ms"),
                ));
            }
            latency = Some(n);
        }
        columns.push((g, intern(n), column));
    }

    let multiline_start = match table.get("multiline_start") {
        Some(v) => Some(
            compile(string("multiline_start", v)?).map_err(|m| ferr("multiline_start", v, m))?,
        ),
        None => None,
    };
    let (zone, sources, service) = common(table)?;
    Ok(CustomFormat {
        inner: Arc::new(Inner {
            id: next_id(),
            name: name.to_owned(),
            pattern: pattern.to_owned(),
            regex: Some(regex),
            fields: None,
            columns,
            message,
            time,
            zone,
            multiline_start,
            sources,
            service,
        }),
    })
}

/// What every format may set: its zone, sources and default service.
type Common = (Option<Zone>, Vec<Pattern>, Option<&'static str>);

fn common(table: &RawTable) -> Result<Common, FieldError> {
    let zone = match table.get("timezone") {
        Some(v) => Some(
            string("timezone", v)?
                .parse::<Zone>()
                .map_err(|m| ferr("timezone", v, m))?,
        ),
        None => None,
    };
    let sources = match table.get("sources") {
        Some(v) => patterns(v)?,
        None => Vec::new(),
    };
    let service = match optional(table, "service")? {
        Some(s) if s.trim().is_empty() => {
            let v = &table["service"];
            return Err(ferr(
                "service",
                v,
                "empty: leave it out for no default service",
            ));
        }
        Some(s) => Some(intern(s.trim())),
        None => None,
    };
    Ok((zone, sources, service))
}

/// A format without a regex: JSON records (`json = true`, maybe `expand`)
/// or values named by a header (`header`, `separator`), with `fields`.
fn build_fields(name: &str, table: &RawTable) -> Result<CustomFormat, FieldError> {
    let json = match table.get("json") {
        Some(v) => match v.get_ref() {
            Value::Boolean(b) => *b,
            other => {
                return Err(ferr(
                    "json",
                    v,
                    format!("must be true or false (got {})", other.type_str()),
                ));
            }
        },
        None => false,
    };
    let header = optional(table, "header")?;
    let shape = match (json, header) {
        (true, Some(_)) => {
            return Err(ferr(
                "header",
                &table["header"],
                "a JSON format's records name their fields themselves: leave header out",
            ));
        }
        (true, None) => Shape::Json {
            expand: match optional(table, "expand")? {
                Some("[]") => Some(Expand::Array),
                Some(k) if !k.is_empty() && k.len() <= 64 => Some(Expand::Key(k.to_owned())),
                Some(_) => {
                    return Err(ferr(
                        "expand",
                        &table["expand"],
                        "the top-level key whose array holds the records (1 to 64 characters), or \"[]\" for a document that is an array",
                    ));
                }
                None => None,
            },
        },
        (false, Some(prefix)) => Shape::Header {
            prefix: prefix.to_owned(),
            separator: match optional(table, "separator")? {
                None | Some(" ") => Separator::Blanks,
                Some(s) if s.chars().count() == 1 => {
                    Separator::Char(s.chars().next().unwrap_or(' '))
                }
                Some(_) => {
                    return Err(ferr(
                        "separator",
                        &table["separator"],
                        "one character (\"\\t\", \",\", \"|\"); leave it out for runs of spaces and tabs",
                    ));
                }
            },
        },
        (false, None) => {
            return Err(FieldError {
                field: "regex".into(),
                offset: None,
                message: "missing: a format is a regex with named captures, JSON records (json = true) or values named by a header line (header = \"...\")".into(),
            });
        }
    };
    for (key, applies) in [
        ("expand", json),
        ("separator", !json),
        ("multiline_start", false),
    ] {
        if let Some(v) = table.get(key).filter(|_| !applies) {
            let what = if key == "multiline_start" {
                "applies to regex formats (a field format's record is one line or one document element)"
            } else if json {
                "applies to header formats"
            } else {
                "applies to JSON formats (json = true)"
            };
            return Err(ferr(key, v, what));
        }
    }
    let mut renames = Vec::new();
    if let Some(v) = table.get("fields") {
        let Value::Table(t) = v.get_ref() else {
            return Err(ferr(
                "fields",
                v,
                "must be a table of field = \"column\" (e.g. { eventTime = \"ts\", srcaddr = \"client_ip\" })",
            ));
        };
        for (from, to) in t {
            let Value::String(to) = to else {
                return Err(ferr(
                    "fields",
                    v,
                    format!("{from:?}: the column must be a string"),
                ));
            };
            let target = match to.as_str() {
                "ts" => Target::Ts,
                "message" => Target::Message,
                "attributes" => Target::To(Column::Attribute),
                c if RESERVED.contains(&c) => {
                    return Err(ferr(
                        "fields",
                        v,
                        format!("{from:?} = {c:?}: a column loglake fills itself"),
                    ));
                }
                c => Target::To(column_named(c).ok_or_else(|| {
                    ferr(
                        "fields",
                        v,
                        format!("{from:?} = {c:?}: no such column (ts, message, level, service, client_ip, latency_ms, latency_s, ...)"),
                    )
                })?),
            };
            renames.push((from.clone(), target));
        }
    }
    let time_field = optional(table, "time_field")?.map(str::to_owned);
    let layout = match table.get("time_layout") {
        Some(v) => {
            let l = string("time_layout", v)?;
            time::check_layout(l).map_err(|m| ferr("time_layout", v, m))?;
            Some(l.to_owned())
        }
        None => None,
    };
    let (zone, sources, service) = common(table)?;
    Ok(CustomFormat {
        inner: Arc::new(Inner {
            id: next_id(),
            name: name.to_owned(),
            pattern: String::new(),
            regex: None,
            fields: Some(Fields {
                shape,
                renames,
                time_field,
            }),
            columns: Vec::new(),
            message: None,
            time: layout.map(|l| TimeCapture {
                group: 0,
                name: String::new(),
                layout: Some(l),
            }),
            zone,
            multiline_start: None,
            sources,
            service,
        }),
    })
}

fn patterns(v: &Spanned<Value>) -> Result<Vec<Pattern>, FieldError> {
    let Value::Array(items) = v.get_ref() else {
        return Err(ferr(
            "sources",
            v,
            format!(
                "must be an array of strings such as [\"nginx/\", \"*.access.log\"] (got {})",
                v.get_ref().type_str()
            ),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => {
                Pattern::parse(s).map_err(|m| ferr("sources", v, format!("entry {}: {m}", i + 1)))
            }
            other => Err(ferr(
                "sources",
                v,
                format!(
                    "entry {} must be a string (got {})",
                    i + 1,
                    other.type_str()
                ),
            )),
        })
        .collect()
}

/// A regex of the file, anchored at the line's start. Errors point into
/// the pattern as written.
fn compile(pattern: &str) -> Result<Regex, String> {
    let build = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(REGEX_SIZE)
            .dfa_size_limit(DFA_SIZE)
            .build()
    };
    let own = build(pattern).map_err(|e| regex_error(&e))?;
    if pattern.starts_with('^') {
        return Ok(own);
    }
    // A verbose-mode pattern may end in a `# comment`, which would swallow
    // the closing parenthesis: then close it on a line of its own.
    build(&format!("^(?:{pattern})"))
        .or_else(|_| build(&format!("^(?:{pattern}\n)")))
        .map_err(|e| regex_error(&e))
}

/// regex's multi-line error (the pattern, a caret line, the reason) as one
/// line: `unclosed group at character 12: "(foo"`.
fn regex_error(e: &regex::Error) -> String {
    let regex::Error::Syntax(text) = e else {
        return match e {
            regex::Error::CompiledTooBig(n) => format!(
                "compiles to more than {} KiB: make it simpler (fewer counted repetitions, \
                 \\S+ or [^\"]* rather than .*?)",
                n >> 10
            ),
            other => other.to_string(),
        };
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('~')).collect();
    let reason = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("invalid regex");
    let caret = lines
        .iter()
        .position(|l| l.contains('^') && l.chars().all(|c| c == '^' || c == ' '));
    let Some(k) = caret.filter(|&k| k > 0) else {
        return reason.to_owned();
    };
    let above = lines[k - 1];
    // The last run of carets: a duplicate name marks both, the second is
    // the one to fix.
    let carets: Vec<char> = lines[k].chars().collect();
    let mut col = carets.iter().rposition(|&c| c == '^').unwrap_or(0);
    while col > 0 && carets[col - 1] == '^' {
        col -= 1;
    }
    // One-line patterns are indented by four spaces; multi-line ones are
    // numbered (`3: ...`).
    let (indent, line) = match above.split_once(": ") {
        Some((n, _)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (n.len() + 2, Some(n))
        }
        _ => (4, None),
    };
    let at: String = above.chars().skip(col).take(24).collect();
    let pos = col.saturating_sub(indent) + 1;
    match line {
        Some(n) => format!("{reason} at line {n}, character {pos} of the pattern: {at:?}"),
        None => format!("{reason} at character {pos}: {at:?}"),
    }
}
