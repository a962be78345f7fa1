//! One field of a rules file: its TOML value read as the type the field
//! needs, or a [`FieldError`] whose message names the field and whose
//! offset points at the value; and the "did you mean" suggestions for
//! unknown names.

use toml::{Spanned, Value};

use crate::record::Level;

/// The closest known name, for "did you mean".
pub(super) fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .into_iter()
        .filter_map(|k| {
            // A truncated name ("windw" for "window_minutes") is close to
            // the known name's prefix.
            let prefix: String = k.chars().take(word.chars().count() + 1).collect();
            let d = distance(word, k).min(distance(word, &prefix) + 1);
            let other_start = word.chars().next() != k.chars().next();
            (d <= 2.max(word.chars().count() / 3)).then_some((d, other_start, k))
        })
        .min()
        .map(|(_, _, k)| k)
}

/// Errors inside one rule, before the rule's context is attached.
pub(super) struct FieldError {
    pub(super) offset: Option<usize>,
    pub(super) message: String,
}

pub(super) type FResult<T> = Result<T, FieldError>;

pub(super) fn ferr(v: &Spanned<Value>, message: String) -> FieldError {
    FieldError {
        offset: Some(v.span().start),
        message,
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    v.type_str()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Boolean(b) => b.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

pub(super) fn unknown_field<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(key, known) {
        Some(s) => format!("unknown field {key:?} (did you mean {s:?}?)"),
        None => format!("unknown field {key:?}"),
    }
}

pub(super) fn parse_level(v: &Spanned<Value>, s: &str, field: &str) -> FResult<Level> {
    Level::parse(s).ok_or_else(|| {
        ferr(
            v,
            format!("{field}: unknown level {s:?} (TRACE, DEBUG, INFO, WARN, ERROR or FATAL)"),
        )
    })
}

pub(super) fn str_of<'v>(v: &'v Spanned<Value>, field: &str) -> FResult<&'v str> {
    match v.get_ref() {
        Value::String(s) => Ok(s),
        other => Err(ferr(
            v,
            format!("{field} must be a string (got {})", type_name(other)),
        )),
    }
}

pub(super) fn int_of(v: &Spanned<Value>, field: &str) -> FResult<i64> {
    match v.get_ref() {
        Value::Integer(n) => Ok(*n),
        other => Err(ferr(
            v,
            format!("{field} must be an integer (got {})", show(other)),
        )),
    }
}

pub(super) fn int_in(v: &Spanned<Value>, field: &str, lo: i64, hi: i64) -> FResult<i64> {
    let n = int_of(v, field)?;
    if n < lo || n > hi {
        let range = if hi == i64::MAX {
            format!("at least {lo}")
        } else {
            format!("between {lo} and {hi}")
        };
        return Err(ferr(v, format!("{field} must be {range} (got {n})")));
    }
    Ok(n)
}

pub(super) fn float_of(v: &Spanned<Value>, field: &str) -> FResult<f64> {
    match v.get_ref() {
        Value::Integer(n) => Ok(*n as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        other => Err(ferr(
            v,
            format!("{field} must be a number (got {})", show(other)),
        )),
    }
}

/// A non-empty string, or a non-empty array of non-empty strings.
pub(super) fn strings(v: &Spanned<Value>, field: &str) -> FResult<Vec<String>> {
    let bad = || {
        ferr(
            v,
            format!("{field} must be a non-empty string or array of non-empty strings"),
        )
    };
    let out: Vec<String> = match v.get_ref() {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad()),
            })
            .collect::<FResult<_>>()?,
        _ => return Err(bad()),
    };
    if out.is_empty() || out.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(out)
}

/// `where` values: a string or integer, or an array of them.
pub(super) fn scalar_strings(v: &Value) -> Result<Vec<String>, String> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        other => Err(format!(
            "expected a string or integer (got {})",
            type_name(other)
        )),
    };
    let out = match v {
        Value::Array(a) => a.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        x => vec![one(x)?],
    };
    if out.is_empty() {
        return Err("expected at least one value".into());
    }
    Ok(out)
}

pub(super) fn identifier(v: &Spanned<Value>, field: &str) -> FResult<String> {
    let s = str_of(v, field)?;
    let ok =
        !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ferr(
            v,
            format!("{field} must be letters, digits and underscores (got {s:?})"),
        ));
    }
    Ok(s.to_owned())
}
