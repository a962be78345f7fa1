//! Multiline events: which text lines continue the event before them.
//!
//! A Java stack trace, a Python traceback or a Go panic is one event written
//! over many lines; only its first line says when and how bad. [`Joiner`]
//! decides, line by line, whether a line joins the event in progress or
//! starts a new one. It never sees a line of another object or stream
//! record: the caller makes one per source.
//!
//! A line continues the event before it when:
//! - it starts with a space or a tab (`\tat com.shop.Pay.run(Pay.java:42)`,
//!   `  File "app.py", line 3, in <module>`, Go's `\t/src/main.go:8 +0x1d`);
//! - it starts with a marker only continuations carry: `Caused by:`,
//!   `Suppressed:`, `... 12 more`, `Traceback (most recent call last):`,
//!   Python's `During handling of the above exception` and `The above
//!   exception was the direct cause`, Go's `goroutine 1 [running]:`;
//! - it is the exception line that closes a Python traceback
//!   (`ValueError: bad`), or any line of a Go goroutine dump (`main.main()`);
//! - the source's lines normally start with a time and this one has none.
//!
//! Bounded: an event holds at most [`MultilineLimits::max_lines`] lines and
//! [`MultilineLimits::max_bytes`] bytes; the line that would pass either
//! starts a new event. Blank lines inside an event neither end it nor count
//! against it.

use super::format::custom::CustomFormat;
use super::format::stamp;

/// How large one merged event may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultilineLimits {
    /// Lines per event, the first included; 1 turns merging off.
    pub max_lines: usize,
    /// Bytes of the event's text, newlines included.
    pub max_bytes: usize,
}

impl Default for MultilineLimits {
    /// 500 lines (Logstash's multiline default) and 256 KiB: a deep Java
    /// trace with its causes fits, a runaway dump does not swallow the file.
    fn default() -> Self {
        MultilineLimits {
            max_lines: 500,
            max_bytes: 256 << 10,
        }
    }
}

/// The kind of trace in progress, which decides what may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    None,
    /// After `Traceback (most recent call last):`: indented frames, then
    /// one exception line that closes it.
    Python,
    /// After `goroutine N [...]:`: frames until a blank line.
    Go,
}

/// Line-by-line event boundaries for one source.
#[derive(Debug)]
pub struct Joiner {
    limits: MultilineLimits,
    timestamped: bool,
    /// Lines and bytes of the event in progress (0 lines: none).
    lines: usize,
    bytes: usize,
    trace: Trace,
    /// A user-defined format's `multiline_start`: the one rule, instead of
    /// the ones above.
    start: Option<CustomFormat>,
    /// What [`stamp::find`] said of the last line looked at, and where that
    /// line is: the parser reads a line that starts an event through it
    /// ([`Joiner::found`]) instead of looking for the time again.
    last: Option<(usize, usize, stamp::Found)>,
}

impl Joiner {
    /// `timestamped`: whether this source's lines normally start with a time
    /// (see [`timestamped`]), which makes a line without one a continuation.
    pub fn new(limits: MultilineLimits, timestamped: bool) -> Self {
        Joiner {
            limits,
            timestamped,
            lines: 0,
            bytes: 0,
            trace: Trace::None,
            start: None,
            last: None,
        }
    }

    /// Events as a user-defined format's `multiline_start` says: a line that
    /// does not match it continues the event before it.
    pub fn starting_with(limits: MultilineLimits, format: CustomFormat) -> Self {
        Joiner {
            start: Some(format),
            ..Joiner::new(limits, false)
        }
    }

    /// Whether `line` (not blank) joins the event in progress; when it does
    /// not, it starts the next one. Either way it is now part of an event.
    pub fn joins(&mut self, line: &str) -> bool {
        self.last = None;
        let joins = self.lines > 0
            && self.lines < self.limits.max_lines
            && self.bytes + 1 + line.len() <= self.limits.max_bytes
            && self.continues(line);
        if joins {
            self.lines += 1;
            self.bytes += 1 + line.len();
        } else {
            self.lines = 1;
            self.bytes = line.len();
            self.trace = Trace::None;
        }
        self.trace = match self.trace {
            Trace::None if !matches!(line.as_bytes().first(), Some(b'T' | b'g')) => Trace::None,
            _ if line.starts_with("Traceback (most recent call last):") => Trace::Python,
            _ if go_goroutine(line) => Trace::Go,
            // The exception line ends a Python traceback.
            Trace::Python if !line.starts_with([' ', '\t']) => Trace::None,
            t => t,
        };
        joins
    }

    /// A blank line: kept inside the event (a Go dump's goroutines are
    /// separated by them), but it ends a goroutine's frames.
    /// Forget the event in progress (a segment boundary ends it).
    pub fn reset(&mut self) {
        self.lines = 0;
        self.bytes = 0;
        self.trace = Trace::None;
    }

    /// Whether event starts were found to carry a timestamp.
    pub fn is_timestamped(&self) -> bool {
        self.timestamped
    }

    pub fn blank(&mut self) {
        if self.trace == Trace::Go {
            self.trace = Trace::None;
        }
    }

    /// What [`stamp::find`] said of `line` when [`Joiner::joins`] looked,
    /// if it did and `line` is that very line (the same bytes in the same
    /// place): taken, so it is handed out once.
    pub fn found(&mut self, line: &str) -> Option<stamp::Found> {
        match self.last.take() {
            Some((at, len, found)) if at == line.as_ptr() as usize && len == line.len() => {
                Some(found)
            }
            _ => None,
        }
    }

    /// [`stamp::find`] of `line`, kept for [`Joiner::found`].
    fn find(&mut self, line: &str) -> bool {
        let found = stamp::find(line);
        let some = found.is_some();
        self.last = Some((line.as_ptr() as usize, line.len(), found));
        some
    }

    fn continues(&mut self, line: &str) -> bool {
        if let Some(f) = &self.start {
            return f.starts_event(line) == Some(false);
        }
        if line.starts_with([' ', '\t']) || marker(line) {
            return true;
        }
        if matches!(self.trace, Trace::Python | Trace::Go) || self.timestamped {
            // A traceback's or goroutine dump's lines without a time
            // continue it, as do any in a source whose events start with one.
            return !self.find(line);
        }
        false
    }
}

/// Lines only a continuation starts with.
fn marker(line: &str) -> bool {
    const MARKERS: [&str; 5] = [
        "Caused by:",
        "Suppressed:",
        "Traceback (most recent call last):",
        "During handling of the above exception",
        "The above exception was the direct cause",
    ];
    // Every marker starts with one of these bytes; most lines with none.
    if !matches!(
        line.as_bytes().first(),
        Some(b'C' | b'S' | b'T' | b'D' | b'.' | b'g')
    ) {
        return false;
    }
    MARKERS.iter().any(|m| line.starts_with(m)) || more(line) || go_goroutine(line)
}

/// `... 12 more` (Java's elided common frames), indentation already ruled
/// in by the caller when present.
fn more(line: &str) -> bool {
    line.strip_prefix("... ")
        .and_then(|r| r.strip_suffix(" more"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// `goroutine 1 [running]:`
fn go_goroutine(line: &str) -> bool {
    line.strip_prefix("goroutine ").is_some_and(|r| {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && r[digits..].starts_with(" [")
    })
}

/// Whether a source's lines normally start with a time, judged on its
/// first lines: at least half of those that are not plainly continuations
/// (indented, or a marker) carry one.
pub fn timestamped<'a>(lines: impl IntoIterator<Item = &'a str>) -> bool {
    let (mut starts, mut stamped) = (0usize, 0usize);
    for line in lines {
        if line.trim().is_empty() || line.starts_with([' ', '\t']) || marker(line) {
            continue;
        }
        starts += 1;
        if stamp::find(line).is_some() {
            stamped += 1;
        }
    }
    starts > 0 && stamped * 2 >= starts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events `lines` make: each as its lines joined with `\n`.
    fn events(lines: &[&str], limits: MultilineLimits) -> Vec<String> {
        let mut j = Joiner::new(limits, timestamped(lines.iter().copied()));
        let mut out: Vec<String> = Vec::new();
        for l in lines {
            if l.is_empty() {
                j.blank();
                continue;
            }
            match (j.joins(l), out.last_mut()) {
                (true, Some(e)) => {
                    e.push('\n');
                    e.push_str(l);
                }
                _ => out.push((*l).to_string()),
            }
        }
        out
    }

    #[test]
    fn the_time_found_for_an_event_start_is_handed_out_once_for_that_line() {
        let lines = [
            "2024-03-14 21:00:00,123 ERROR [main] c.s.Checkout - failed",
            "java.lang.IllegalStateException: boom",
            "\tat c.s.Checkout.pay(Checkout.java:42)",
            "2024-03-14 21:00:01,000 INFO [main] c.s.Checkout - ok",
            "<13>Mar 14 21:00:02 web-1 nginx[42]: up",
        ];
        let mut j = Joiner::new(MultilineLimits::default(), true);
        for l in lines {
            let joins = j.joins(l);
            let copy = l.to_string();
            // Not for the same text elsewhere: the line itself only.
            assert_eq!(j.found(&copy), None, "{l}");
            let mut j2 = Joiner::new(MultilineLimits::default(), true);
            j2.joins(lines[0]);
            j2.joins(l);
            if !joins {
                assert_eq!(j2.found(l), Some(stamp::find(l)), "{l}");
                assert_eq!(j2.found(l), None, "{l}");
            }
        }
    }

    #[test]
    fn java_trace_with_causes_is_one_event() {
        let lines = [
            "2024-03-14 21:00:00,123 ERROR [main] c.s.Checkout - payment failed",
            "java.lang.IllegalStateException: card declined",
            "\tat com.shop.Pay.charge(Pay.java:42)",
            "\tat com.shop.Checkout.run(Checkout.java:7)",
            "\tSuppressed: java.io.IOException: close failed",
            "\t\tat com.shop.Pay.close(Pay.java:50)",
            "Caused by: java.net.SocketTimeoutException: Read timed out",
            "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
            "\t... 12 more",
            "2024-03-14 21:00:01,000 INFO  [main] c.s.Checkout - next",
        ];
        let e = events(&lines, MultilineLimits::default());
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].lines().count(), 9);
        assert!(e[1].ends_with("next"));
    }

    #[test]
    fn python_traceback_without_times_still_closes_on_the_exception_line() {
        // A source without times: only the traceback's own shape joins.
        let lines = [
            "checkout: payment failed",
            "Traceback (most recent call last):",
            "  File \"/app/pay.py\", line 3, in charge",
            "    raise ValueError(\"declined\")",
            "ValueError: declined",
            "checkout: next order",
        ];
        let e = events(&lines, MultilineLimits::default());
        assert_eq!(
            e,
            vec![lines[..5].join("\n"), "checkout: next order".to_string()]
        );
    }

    #[test]
    fn go_panic_dump_keeps_its_goroutines() {
        let lines = [
            "panic: runtime error: index out of range [5] with length 3",
            "",
            "goroutine 1 [running]:",
            "main.main()",
            "\t/src/main.go:8 +0x1d",
            "",
            "goroutine 7 [chan receive]:",
            "main.worker()",
            "\t/src/main.go:20 +0x2a",
            "",
            "exit status 2",
        ];
        let e = events(&lines, MultilineLimits::default());
        assert_eq!(e.len(), 2, "{e:#?}");
        assert_eq!(e[0].lines().count(), 7);
        assert_eq!(e[1], "exit status 2");
    }

    #[test]
    fn a_timed_source_joins_lines_without_time() {
        let lines = [
            "Mar 14 21:00:00 web-3 app[42]: request dump follows",
            "GET /cart HTTP/1.1",
            "Host: shop.example",
            "Mar 14 21:00:01 web-3 app[42]: done",
        ];
        let e = events(&lines, MultilineLimits::default());
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].lines().count(), 3);
    }

    #[test]
    fn events_are_bounded_by_lines_and_bytes() {
        let mut lines = vec!["2024-03-14 21:00:00 ERROR boom"];
        lines.extend(std::iter::repeat_n("\tat x", 9));
        let limits = MultilineLimits {
            max_lines: 4,
            max_bytes: 1 << 20,
        };
        let e = events(&lines, limits);
        assert_eq!(
            e.iter().map(|e| e.lines().count()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        let limits = MultilineLimits {
            max_lines: 100,
            max_bytes: 40,
        };
        let e = events(&lines, limits);
        assert!(e.iter().all(|e| e.len() <= 40), "{e:?}");
        assert_eq!(e.iter().map(|e| e.lines().count()).sum::<usize>(), 10);
        let off = MultilineLimits {
            max_lines: 1,
            ..MultilineLimits::default()
        };
        assert_eq!(events(&lines, off).len(), 10);
    }

    #[test]
    fn markers_need_their_exact_shape() {
        assert!(more("... 12 more"));
        assert!(!more("... more"));
        assert!(!more("... 12 more things"));
        assert!(go_goroutine("goroutine 12 [select]:"));
        assert!(!go_goroutine("goroutine leak detected"));
        assert!(!timestamped(["plain", "lines", "\tindented"]));
        assert!(timestamped([
            "2024-03-14T21:00:00Z a",
            "b",
            "\tat c",
            "2024-03-14T21:00:01Z d"
        ]));
    }
}
