//! Settings read by name (from the environment in the functions, from flags
//! over the environment in the CLI, from a map in tests), and the one error
//! every bad setting becomes: which variable, the value it had, and why it
//! cannot be used.

use std::str::FromStr;
use std::sync::Arc;

use loglake_core::ingest::format::custom::Formats;

use crate::effects::ConfigReader;
use crate::live::{ConfigObject, Live, Spec};

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}{}", value.as_ref().map(|v| format!(" (got {v:?})")).unwrap_or_default())]
pub struct ConfigError {
    /// The environment variable (or the setting's name).
    pub variable: String,
    /// What it was set to; `None` when it is missing.
    pub value: Option<String>,
    pub reason: String,
}

impl ConfigError {
    /// `variable` is required and not set.
    pub fn missing(variable: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_string(),
            value: None,
            reason: reason.into(),
        }
    }

    /// `variable` is set to `value`, which cannot be used.
    pub fn invalid(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_string(),
            value: Some(value.to_string()),
            reason: reason.into(),
        }
    }
}

/// Settings looked up by name. A value is trimmed; an empty one is unset.
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Vars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vars")
    }
}

/// The process environment, as a lookup for [`Vars::new`].
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl<'a> Vars<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars { get }
    }

    /// The value of `name`, trimmed; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, which must be set.
    pub fn require(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::missing(name, "is required and not set"))
    }

    /// Which one of `ways` (the variables that give one setting, each with
    /// what it holds) is set: `None` for none of them, an error naming them
    /// all when more than one is.
    pub fn one_of(
        &self,
        ways: &[(&'static str, &str)],
    ) -> Result<Option<&'static str>, ConfigError> {
        let set: Vec<&'static str> = ways
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| self.get(name).is_some())
            .collect();
        match set.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            more => {
                let named: Vec<String> = ways
                    .iter()
                    .map(|(n, what)| format!("{n} ({what})"))
                    .collect();
                let (last, rest) = named.split_last().unwrap_or((&named[0], &[]));
                Err(ConfigError::invalid(
                    more[1],
                    &self.get(more[1]).unwrap_or_default(),
                    format!(
                        "set one of {} and {last}, not {}",
                        rest.join(", "),
                        more.join(" and ")
                    ),
                ))
            }
        }
    }

    /// `name` parsed by `parse` (whose error is the reason), or `None`.
    pub fn parse_with<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse(&v)
                .map(Some)
                .map_err(|reason| ConfigError::invalid(name, &v, reason)),
        }
    }

    /// A whole number in `range` (inclusive), or `default` when unset.
    pub fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let v = self.parse_with(name, |s| {
            s.parse::<T>()
                .map_err(|_| "is not a whole number".to_string())
        })?;
        match v {
            None => Ok(default),
            Some(n) if range.contains(&n) => Ok(n),
            Some(n) => Err(ConfigError::invalid(
                name,
                &n.to_string(),
                format!("must be from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`, or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        Ok(self
            .parse_with(name, |s| match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err("is not true or false".into()),
            })?
            .unwrap_or(default))
    }
}

/// `CANARY_PREFIX` (fn-ingest's and fn-canary's): a key prefix ending in
/// `/`, where canary objects go and their outputs are kept apart.
pub fn canary_prefix(v: &str) -> Result<String, String> {
    let ok = v.len() > 1
        && v.ends_with('/')
        && !v.starts_with('/')
        && !v.contains(['*', '?', ' ', ','])
        && !v.contains("//");
    if ok {
        Ok(v.to_string())
    } else {
        Err("is not a key prefix ending in / (such as _canary/)".into())
    }
}

/// The user-defined formats: `FORMATS` (a `formats.toml` inline) or
/// `FORMATS_FILE` (a path to one), validated here so a bad file stops the
/// function at its start, naming the format and field; or `FORMATS_URI`
/// (`s3://bucket/key`, where Terraform uploads one), read on the first
/// invocation and again when it changed, checked at most every
/// `FORMATS_REFRESH_S` (default 60). None set: none.
pub fn formats(vars: Vars<'_>) -> Result<FormatsSpec, ConfigError> {
    let way = vars.one_of(&[
        ("FORMATS", "the formats inline"),
        ("FORMATS_FILE", "a path"),
        ("FORMATS_URI", "an S3 object"),
    ])?;
    match way {
        None => Ok(Spec::Loaded(Formats::default())),
        Some("FORMATS") => Formats::from_toml(&vars.require("FORMATS")?)
            .map(Spec::Loaded)
            .map_err(|e| ConfigError {
                variable: "FORMATS".into(),
                value: None,
                reason: e.to_string(),
            }),
        Some("FORMATS_FILE") => {
            let path = vars.require("FORMATS_FILE")?;
            Formats::load(std::path::Path::new(&path))
                .map(Spec::Loaded)
                .map_err(|e| ConfigError::invalid("FORMATS_FILE", &path, e.to_string()))
        }
        Some(_) => {
            let refresh = vars.number("FORMATS_REFRESH_S", 60u64, 0..=86_400)?;
            let uri = vars.require("FORMATS_URI")?;
            ConfigObject::parse(&uri, std::time::Duration::from_secs(refresh))
                .map(Spec::Object)
                .map_err(|reason| ConfigError::invalid("FORMATS_URI", &uri, reason))
        }
    }
}

/// Where the user-defined formats come from ([`formats`]).
pub type FormatsSpec = Spec<Formats>;

/// The formats kept in an S3 object, read through `reader`.
pub fn formats_object(object: ConfigObject, reader: Arc<dyn ConfigReader>) -> Live<Formats> {
    Live::object("formats", object, reader, |text| {
        Formats::from_toml(text).map_err(|e| e.to_string())
    })
}

/// `MULTILINE_MAX_LINES` (default 500; 1 turns joining off) and
/// `MULTILINE_MAX_BYTES` (default 262144): the bounds of one multiline event,
/// read the same way by every function that parses text.
pub fn multiline_limits(
    vars: Vars<'_>,
) -> Result<loglake_core::ingest::multiline::MultilineLimits, ConfigError> {
    let d = loglake_core::ingest::multiline::MultilineLimits::default();
    Ok(loglake_core::ingest::multiline::MultilineLimits {
        max_lines: vars.number("MULTILINE_MAX_LINES", d.max_lines, 1..=100_000)?,
        max_bytes: vars.number("MULTILINE_MAX_BYTES", d.max_bytes, 1..=64 << 20)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn errors_name_the_variable_value_and_reason() {
        let map = HashMap::from([
            ("N", " 12 "),
            ("BIG", "99"),
            ("WORD", "lots"),
            ("EMPTY", "  "),
            ("YES", "Yes"),
        ]);
        let get = |k: &str| map.get(k).map(|v| v.to_string());
        let v = Vars::new(&get);
        assert_eq!(v.number("N", 1usize, 1..=64), Ok(12));
        assert_eq!(v.number("UNSET", 7usize, 1..=64), Ok(7));
        assert_eq!(v.number("EMPTY", 7usize, 1..=64), Ok(7));
        let e = v.number("BIG", 1usize, 1..=64).unwrap_err();
        assert_eq!(e.to_string(), "BIG: must be from 1 to 64 (got \"99\")");
        let e = v.number("WORD", 1usize, 1..=64).unwrap_err();
        assert_eq!(
            (e.variable.as_str(), e.value.as_deref()),
            ("WORD", Some("lots"))
        );
        assert!(v.flag("YES", false).unwrap());
        assert!(
            v.flag("WORD", false)
                .unwrap_err()
                .reason
                .contains("true or false")
        );
        let e = v.require("UNSET").unwrap_err();
        assert_eq!(e.to_string(), "UNSET: is required and not set");
    }
}
