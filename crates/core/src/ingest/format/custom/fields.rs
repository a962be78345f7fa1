//! User-defined formats whose records name their own fields, instead of a
//! regex: JSON objects (`json = true`), optionally the elements of one
//! document's array (`expand = "Records"`, or `"[]"` for a document that is
//! an array: read streaming, [`crate::ingest::expand`]), and separated
//! values whose names come from a header line (`header = "#fields"`,
//! `separator = "\t"`), the way VPC Flow Logs, W3C and Zeek logs name
//! theirs.
//!
//! ```toml
//! [[format]]
//! name = "config-snapshot"
//! json = true
//! expand = "configurationItems"
//! fields = { configurationItemCaptureTime = "ts", resourceType = "event_type", awsRegion = "region" }
//! sources = ["AWSLogs/*/Config/"]
//!
//! [[format]]
//! name = "zeek-conn"
//! header = "#fields"
//! separator = "\t"
//! fields = { "id.orig_h" = "client_ip", duration = "latency_s" }
//! time_field = "ts"
//! time_layout = "%s"
//! sources = ["zeek/conn"]
//! ```
//!
//! A field goes where `fields` maps it (a column's name, a latency with its
//! unit, `message`, or `ts`), else to the column of its own name, else to
//! `attributes` under its name (nested JSON flattened to dotted names). The
//! time is the field mapped to `ts`, else `time_field`, else a field called
//! time, timestamp or ts; read with `time_layout` when given, as epoch
//! seconds or milliseconds when it is a number, else recognized.

use std::borrow::Cow;

use super::{Column, Inner, set_value, time};
use crate::ingest::expand::Expand;
use crate::ingest::format::json;
use crate::ingest::format::stamp::Context;
use crate::record::{Record, Reject, TextField};

/// How a field format's records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shape {
    /// One JSON object per record; `expand` when they are one document's
    /// array.
    Json { expand: Option<Expand> },
    /// Separated values named by the header line that starts with `prefix`
    /// (the object's first line when it is empty).
    Header {
        prefix: String,
        separator: Separator,
    },
}

/// What separates a header format's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Separator {
    /// Runs of spaces and tabs.
    Blanks,
    Char(char),
}

impl Separator {
    fn split<'a>(self, s: &'a str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        match self {
            Separator::Blanks => Box::new(s.split([' ', '\t']).filter(|v| !v.is_empty())),
            Separator::Char(c) => Box::new(s.split(c)),
        }
    }
}

/// Where a named field goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Target {
    Ts,
    Message,
    To(Column),
}

/// The part of a format that reads fields by name.
#[derive(Debug, Clone)]
pub(super) struct Fields {
    pub shape: Shape,
    /// `fields`: source name to where it goes, as the file says.
    pub renames: Vec<(String, Target)>,
    /// The time's field when none is mapped to `ts`: `time_field`, else
    /// the first of time, timestamp, ts present.
    pub time_field: Option<String>,
}

const TIME_NAMES: [&str; 3] = ["time", "timestamp", "ts"];

impl Fields {
    /// Where the field `name` goes; `None`: an attribute of its own name.
    fn target(&self, name: &str) -> Option<Target> {
        if let Some((_, t)) = self.renames.iter().find(|(n, _)| n == name) {
            return Some(*t);
        }
        let mapped_ts = self.renames.iter().any(|(_, t)| *t == Target::Ts);
        let is_time = match &self.time_field {
            Some(f) => f == name,
            None => TIME_NAMES.contains(&name),
        };
        if !mapped_ts && is_time {
            return Some(Target::Ts);
        }
        super::column_named(name).map(Target::To)
    }

    /// Whether `line` is not a record but the document around them (a
    /// JSON document's own member) or the header.
    pub fn is_header(&self, line: &str, first: bool) -> bool {
        match &self.shape {
            Shape::Json { expand } => expand.is_some() && line.trim_start().starts_with('"'),
            Shape::Header { prefix, .. } if prefix.is_empty() => first,
            Shape::Header { prefix, .. } => line.starts_with(prefix.as_str()),
        }
    }

    /// The field names a header line gives.
    pub fn names<'l>(&self, header: &'l str) -> Vec<&'l str> {
        match &self.shape {
            Shape::Header { prefix, separator } => separator
                .split(
                    header
                        .strip_prefix(prefix.as_str())
                        .unwrap_or(header)
                        .trim(),
                )
                .collect(),
            Shape::Json { .. } => Vec::new(),
        }
    }

    pub fn expand(&self) -> Option<Expand> {
        match &self.shape {
            Shape::Json { expand } => expand.clone(),
            Shape::Header { .. } => None,
        }
    }
}

/// Parse one record of a field format into `rec` (cleared). `header` is
/// the header line in force, for a header format.
pub(super) fn parse<'a>(
    f: &Inner,
    fields: &Fields,
    line: &'a str,
    header: Option<&str>,
    rec: &mut Record<'a>,
    ctx: &Context,
) -> Result<(), Reject> {
    let mut ts: Option<Cow<'a, str>> = None;
    match &fields.shape {
        Shape::Json { .. } => {
            if !line.trim_start().starts_with('{') {
                return Err(Reject::Malformed(format!(
                    "a record of format {:?} is a JSON object",
                    f.name
                )));
            }
            json::parse_mapped(line, rec, |_| None)?;
            for (k, v) in std::mem::take(&mut rec.attributes) {
                match fields.target(&k) {
                    Some(Target::Ts) => ts = Some(v),
                    Some(Target::Message) => rec.text[TextField::Message as usize] = Some(v),
                    Some(Target::To(c)) => set_value(rec, c, k, v),
                    None => rec.attributes.push((k, v)),
                }
            }
        }
        Shape::Header { separator, .. } => {
            let Some(header) = header else {
                return Err(Reject::Malformed(format!(
                    "format {:?} names its fields in a header line, and none came before this line",
                    f.name
                )));
            };
            let names = fields.names(header);
            let mut extra = 0;
            for (i, v) in separator.split(line.trim_end()).enumerate() {
                let v = v.trim();
                if v.is_empty() || v == "-" {
                    continue;
                }
                let (name, target): (Cow<'a, str>, _) = match names.get(i) {
                    Some(n) => (Cow::Owned((*n).to_owned()), fields.target(n)),
                    None => {
                        extra += 1;
                        (super::super::clf::extra_key(extra), None)
                    }
                };
                match target {
                    Some(Target::Ts) => ts = Some(Cow::Borrowed(v)),
                    Some(Target::Message) => rec.set(TextField::Message, v),
                    Some(Target::To(c)) => set_value(rec, c, name, Cow::Borrowed(v)),
                    None => rec.attributes.push((name, Cow::Borrowed(v))),
                }
            }
            if rec.get(TextField::Message).is_none() {
                rec.set(TextField::Message, line.trim_end());
            }
        }
    }
    if let Some(v) = ts {
        let v = v.trim();
        let layout = f.time.as_ref().and_then(|t| t.layout.as_deref());
        rec.ts = Some(
            match crate::time::parse_epoch(v).filter(|_| layout.is_none()) {
                Some(ms) => ms,
                None => time::read(v, layout, f.zone.as_ref(), ctx)?,
            },
        );
    }
    Ok(())
}
