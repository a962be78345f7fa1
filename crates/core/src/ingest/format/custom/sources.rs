//! Which sources a custom format is for: the `sources` patterns of
//! `formats.toml`, checked when the file is read and matched against an
//! object key or a file name.
//!
//! - `nginx/` (ends in `/`): a folder, matched at the start of the key or
//!   after any `/` in it (`nginx/a.log`, `prod/nginx/a.log`, not
//!   `mynginx/a.log`);
//! - `*.access.log` (no `/`): the file name, the key's last segment;
//! - `prod/*/app.log` (a `/` inside): the key, from its start or from after
//!   any `/`.
//!
//! `*` is the only wildcard and matches any run of characters, `/`
//! included. Matching is case-sensitive, as S3 keys are.

/// One `sources` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    Folder(String),
    Name(String),
    Key(String),
}

impl Pattern {
    /// A pattern as written in the file, or why it cannot be one.
    pub(super) fn parse(s: &str) -> Result<Pattern, String> {
        if s.trim().is_empty() {
            return Err("an empty pattern would match nothing".into());
        }
        if s.trim() != s {
            return Err(format!("{s:?} has blanks around it"));
        }
        if let Some(c) = s.chars().find(|c| matches!(c, '?' | '[' | ']' | '{' | '}')) {
            return Err(format!(
                "{s:?}: {c:?} is not a wildcard here; * is the only one"
            ));
        }
        if s.chars().all(|c| c == '/' || c == '*') {
            return Err(format!("{s:?} would match every source"));
        }
        Ok(if s.ends_with('/') {
            if s.contains('*') {
                return Err(format!(
                    "{s:?}: a folder (ending in /) takes no *; write the key pattern without the last /"
                ));
            }
            Pattern::Folder(s.to_owned())
        } else if s.contains('/') {
            Pattern::Key(s.to_owned())
        } else {
            Pattern::Name(s.to_owned())
        })
    }

    pub(super) fn as_str(&self) -> &str {
        match self {
            Pattern::Folder(s) | Pattern::Name(s) | Pattern::Key(s) => s,
        }
    }

    /// Whether `key` (an object key, a path or a file name) is one of this
    /// pattern's sources.
    pub(super) fn matches(&self, key: &str) -> bool {
        match self {
            Pattern::Folder(p) => key
                .match_indices(p.as_str())
                .any(|(i, _)| i == 0 || key.as_bytes()[i - 1] == b'/'),
            Pattern::Name(p) => {
                let name = key.rsplit(['/', '\\']).next().unwrap_or(key);
                glob(p.as_bytes(), name.as_bytes())
            }
            Pattern::Key(p) => {
                segment_starts(key).any(|i| glob(p.as_bytes(), &key.as_bytes()[i..]))
            }
        }
    }
}

/// 0 and every index just after a `/` of `key`.
fn segment_starts(key: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(key.match_indices('/').map(|(i, _)| i + 1))
}

/// Whether the whole of `s` matches `p`, where `*` matches any run of
/// bytes. Linear backtracking on the last star: no pattern can make it slow.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, key: &str) -> bool {
        Pattern::parse(p).unwrap().matches(key)
    }

    #[test]
    fn folders_names_and_keys() {
        assert!(m("nginx/", "nginx/access.log"));
        assert!(m("nginx/", "prod/nginx/access.log.gz"));
        assert!(m("nginx/", "s3://raw/nginx/2024/03/14/a.log"));
        assert!(!m("nginx/", "mynginx/access.log"));
        assert!(!m("nginx/", "nginx.log"));
        assert!(m("*.access.log", "logs/web-1.access.log"));
        assert!(m("*.access.log", "web-1.access.log"));
        assert!(!m("*.access.log", "web-1.access.log.gz"));
        assert!(m("*.access.log*", "web-1.access.log.gz"));
        assert!(m("spring*.log", "/var/log/app/spring-boot.log"));
        assert!(m("spring.log", "spring.log"));
        assert!(!m("spring.log", "xspring.log"));
        assert!(m("prod/*/app.log", "prod/web/app.log"));
        assert!(m("prod/*/app.log", "raw/prod/web/1/app.log"));
        assert!(!m("prod/*/app.log", "raw/preprod/web/app.log"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("**x", "x"));
    }

    #[test]
    fn refused() {
        for p in ["", "  ", " a", "a?", "[ab].log", "/", "*", "*/", "logs/*/"] {
            assert!(Pattern::parse(p).is_err(), "{p:?}");
        }
        assert_eq!(
            Pattern::parse("nginx/").map(|p| p.as_str().to_owned()),
            Ok("nginx/".into())
        );
    }
}
