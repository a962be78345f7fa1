//! What application loggers write between the time and the message: the
//! level, the thread, the process id and the logger (class, module or
//! source file), in the default layouts of log4j/logback, Python `logging`,
//! Tomcat, Hadoop, OpenStack and klog:
//!
//! ```text
//! 2024-03-14 21:00:00,123 INFO  [main] com.shop.OrderService - order placed
//! 24/03/14 21:00:01 INFO SparkContext: Running Spark version 3.5.0
//! 2024-03-14 21:00:00,123 - checkout - WARNING - retrying payment
//! 14-Mar-2024 21:00:00.123 INFO [main] org.apache.catalina.startup.Catalina.start Server startup
//! 240314 210001 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating
//! 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1 - - -] GET /v2
//! I0314 21:00:00.123456    4242 controller.go:123] sync failed
//! ```
//!
//! Only a prefix that names a level counts: without one, the words after a
//! time are the message's own and stay in it.

use crate::record::Level;

/// The fields found before the message, and where the message starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefix<'a> {
    pub level: Option<Level>,
    pub thread: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub logger: Option<&'a str>,
    /// Byte offset of the message in the text given to [`parse`].
    pub message: usize,
}

/// The logger prefix at the start of `rest` (the line after its time), if
/// it has a level and a thread or a logger. `klog`: the line is klog's,
/// whose level letter came before the time and whose number is a thread.
pub fn parse(rest: &str, klog: bool) -> Option<Prefix<'_>> {
    if klog {
        return klog_prefix(rest);
    }
    if let Some(p) = python(rest) {
        return Some(p);
    }
    let mut p = Prefix::default();
    let mut i = 0;
    for _ in 0..5 {
        i = skip_spaces(rest, i);
        // Words are short: a byte loop beats a searcher's setup.
        let word_end = rest.as_bytes()[i..]
            .iter()
            .position(|&c| c == b' ')
            .map_or(rest.len(), |n| i + n);
        let word = &rest[i..word_end];
        if word.is_empty() {
            break;
        }
        if let Some(inner) = bracketed(rest, i) {
            let name = inner.trim();
            let level = (name.len() >= 3 && name.bytes().all(|c| c.is_ascii_alphabetic()))
                .then(|| Level::parse(name))
                .flatten();
            match level {
                Some(l) if p.level.is_none() => p.level = Some(l),
                _ if p.thread.is_none() && !name.is_empty() && !name.contains(' ') => {
                    p.thread = Some(name)
                }
                _ => break,
            }
            i += inner.len() + 2;
            continue;
        }
        if p.level.is_none() {
            if let Some(l) = level_word(word) {
                p.level = Some(l);
            } else if p.pid.is_none()
                && word.len() <= 10
                && word.bytes().all(|c| c.is_ascii_digit())
            {
                p.pid = Some(word);
            } else {
                return None;
            }
            i = word_end;
            continue;
        }
        // After the level: a logger name, then the message.
        let (name, colon) = match word.strip_suffix(':') {
            Some(n) => (n, true),
            None => (word, false),
        };
        if !is_logger(name, colon) {
            break;
        }
        p.logger = Some(name);
        i = skip_spaces(rest, word_end);
        if !colon
            && let Some(after) = rest[i..]
                .strip_prefix("- ")
                .or(rest[i..].strip_prefix(": "))
        {
            i = rest.len() - after.len();
        }
        break;
    }
    if p.level.is_none() || (p.thread.is_none() && p.logger.is_none()) {
        return None;
    }
    p.message = skip_spaces(rest, i);
    Some(p)
}

/// Python `logging`'s `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
fn python(rest: &str) -> Option<Prefix<'_>> {
    let after = rest.strip_prefix(" - ")?;
    let (name, after) = after.split_once(" - ")?;
    let (level, msg) = after.split_once(" - ")?;
    let level = level_word(level)?;
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    Some(Prefix {
        level: Some(level),
        logger: Some(name),
        message: rest.len() - msg.len(),
        ..Prefix::default()
    })
}

/// klog: `    4242 controller.go:123] message`.
fn klog_prefix(rest: &str) -> Option<Prefix<'_>> {
    let i = skip_spaces(rest, 0);
    let digits = rest[i..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let thread = &rest[i..i + digits];
    let j = skip_spaces(rest, i + digits);
    let close = rest[j..].find("] ").map(|n| j + n)?;
    let source = &rest[j..close];
    if source.is_empty() || source.contains(' ') {
        return None;
    }
    Some(Prefix {
        thread: Some(thread),
        logger: Some(source),
        message: close + 2,
        ..Prefix::default()
    })
}

/// The text inside `[...]` at byte `i`, at most 64 bytes.
fn bracketed(s: &str, i: usize) -> Option<&str> {
    let inner = s[i..].strip_prefix('[')?;
    let close = inner.bytes().take(65).position(|c| c == b']')?;
    Some(&inner[..close])
}

/// A level name as loggers print it bare: upper case (a lower-case word is
/// the message's own; in brackets, any case counts).
fn level_word(w: &str) -> Option<Level> {
    match w {
        "ERROR" | "WARN" | "WARNING" | "INFO" | "DEBUG" | "TRACE" | "FATAL" | "CRITICAL"
        | "SEVERE" | "NOTICE" | "FINE" | "FINER" | "FINEST" | "CONFIG" => Level::parse(w),
        _ => None,
    }
}

/// A class, module or component name: `com.shop.OrderService`,
/// `o.s.b.w.e.tomcat.TomcatWebServer`, `dfs.DataNode$PacketResponder`, and
/// with a colon after it, a plain name (`SparkContext:`).
fn is_logger(name: &str, colon: bool) -> bool {
    let ident = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'$' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphabetic();
    ident && (colon || name.contains('.'))
}

fn skip_spaces(s: &str, mut i: usize) -> usize {
    while s.as_bytes().get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Level, [thread, pid, logger], message.
    type Fields<'a> = (Option<Level>, [Option<&'a str>; 3], &'a str);

    fn fields(rest: &str, klog: bool) -> Option<Fields<'_>> {
        parse(rest, klog).map(|p| (p.level, [p.thread, p.pid, p.logger], &rest[p.message..]))
    }

    #[test]
    fn default_layouts() {
        use Level::*;
        let cases: [(&str, bool, Option<Fields<'_>>); 9] = [
            (
                " INFO  [main] com.shop.OrderService - order placed",
                false,
                Some((
                    Some(Info),
                    [Some("main"), None, Some("com.shop.OrderService")],
                    "order placed",
                )),
            ),
            (
                " INFO SparkContext: Running Spark version 3.5.0",
                false,
                Some((
                    Some(Info),
                    [None, None, Some("SparkContext")],
                    "Running Spark version 3.5.0",
                )),
            ),
            (
                " - checkout - WARNING - retrying payment",
                false,
                Some((
                    Some(Warn),
                    [None, None, Some("checkout")],
                    "retrying payment",
                )),
            ),
            (
                " INFO [main] org.apache.catalina.startup.Catalina.start Server startup in [1234] milliseconds",
                false,
                Some((
                    Some(Info),
                    [
                        Some("main"),
                        None,
                        Some("org.apache.catalina.startup.Catalina.start"),
                    ],
                    "Server startup in [1234] milliseconds",
                )),
            ),
            (
                " 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
                false,
                Some((
                    Some(Info),
                    [None, Some("148"), Some("dfs.DataNode$PacketResponder")],
                    "PacketResponder 1 terminating",
                )),
            ),
            (
                " 25746 INFO nova.osapi_compute.wsgi.server [req-1 - - -] GET /v2",
                false,
                Some((
                    Some(Info),
                    [None, Some("25746"), Some("nova.osapi_compute.wsgi.server")],
                    "[req-1 - - -] GET /v2",
                )),
            ),
            (
                "    4242 controller.go:123] sync failed",
                true,
                Some((
                    None,
                    [Some("4242"), None, Some("controller.go:123")],
                    "sync failed",
                )),
            ),
            (
                " [           main] ERROR c.s.Checkout - declined",
                false,
                Some((
                    Some(Error),
                    [Some("main"), None, Some("c.s.Checkout")],
                    "declined",
                )),
            ),
            // A level alone is not a logger prefix: the message stays whole.
            (" ERROR payment declined for order 7", false, None),
        ];
        for (rest, klog, want) in cases {
            assert_eq!(fields(rest, klog), want, "{rest:?}");
        }
    }

    #[test]
    fn words_after_a_time_are_not_taken_for_a_prefix() {
        for rest in [
            " GET /cart 200",
            " user 42 logged in",
            " [worker 3] started",
            " 12 items INFO",
            "",
            " [",
            " INFO [unterminated",
        ] {
            assert_eq!(parse(rest, false), None, "{rest:?}");
        }
    }
}
