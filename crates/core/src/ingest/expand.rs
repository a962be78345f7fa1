//! Records inside one JSON document: CloudTrail's `{"Records":[{...},...]}`
//! (or any document whose top-level array, or array under a top-level key,
//! holds the events) read as one element per line, so the line framer, the
//! quarantine, checkpoints and event ids work on them as on NDJSON.
//!
//! [`Expander`] rewrites the decoded stream in place, byte for byte the same
//! length: the commas between the array's elements become line ends, every
//! line end and the document's own brackets elsewhere become spaces, and
//! the elements themselves pass unchanged (their line ends, which JSON only
//! allows as whitespace, become spaces too). Offsets in the rewritten stream
//! are offsets in the document, and memory is a few bytes of state, however
//! large the document: a 200 MB CloudTrail object is streamed like any other.
//!
//! The key that names the array is kept as a line of its own (`"Records"`)
//! and so is every other top-level member (`"fileVersion":"1.0"`): a parser
//! counts such lines as headers. Several documents one after another (gzip
//! members concatenated) are each expanded. Input that is not such a
//! document from its first byte is passed through unchanged from where it
//! stops being one, so nothing is silently blanked.

use std::io::{self, Read};

/// Where the events of a document are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expand {
    /// The array under this top-level key (CloudTrail: `Records`).
    Key(String),
    /// The document is itself an array.
    Array,
}

impl Expand {
    /// CloudTrail's (and S3 event notifications', and SES's) layout.
    pub fn records() -> Expand {
        Expand::Key("Records".into())
    }

    /// Whether a stream beginning with `head` looks like such a document
    /// to a format that says its records come in one: it opens one, and
    /// the array's key is in `head` (after other members, as in an AWS
    /// Config snapshot). NDJSON of the records themselves does not.
    pub fn opens(&self, head: &[u8]) -> bool {
        let s = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let s = trim(s);
        match self {
            Expand::Array => s.first() == Some(&b'['),
            Expand::Key(k) => {
                let quoted = format!("\"{k}\"");
                s.first() == Some(&b'{')
                    && memchr::memmem::find_iter(s, quoted.as_bytes()).any(|at| {
                        let rest = trim(&s[at + quoted.len()..]);
                        rest.strip_prefix(b":")
                            .is_some_and(|r| trim(r).first() == Some(&b'['))
                    })
            }
        }
    }

    /// Whether a stream beginning with `head` is such a document with the
    /// array's key first (a UTF-8 byte order mark and whitespace allowed
    /// before it): strict enough to recognize CloudTrail's objects by
    /// content alone. `head` must hold enough of the start: a few hundred
    /// bytes are plenty.
    pub fn matches(&self, head: &[u8]) -> bool {
        let s = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let mut s = trim(s);
        match self {
            Expand::Array => s.first() == Some(&b'['),
            Expand::Key(k) => {
                let Some(rest) = s.strip_prefix(b"{") else {
                    return false;
                };
                s = trim(rest);
                let Some(rest) = s.strip_prefix(b"\"") else {
                    return false;
                };
                let Some(rest) = rest.strip_prefix(k.as_bytes()) else {
                    return false;
                };
                let Some(rest) = rest.strip_prefix(b"\"") else {
                    return false;
                };
                let Some(rest) = trim(rest).strip_prefix(b":") else {
                    return false;
                };
                trim(rest).first() == Some(&b'[')
            }
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// The longest key compared with [`Expand::Key`]; longer keys never match.
const MAX_KEY: usize = 64;

/// Where the scanner is, outside strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between documents.
    Top,
    /// Inside a document, outside the expanded array: a top-level member's
    /// key or value (`Expand::Key`).
    Root,
    /// Inside the expanded array (elements are deeper than `depth`).
    Array,
    /// Not such a document: everything passes unchanged.
    Raw,
}

/// A reader that rewrites a JSON document into one array element per line;
/// see the module documentation.
#[derive(Debug)]
pub struct Expander<R> {
    inner: R,
    expand: Expand,
    at: At,
    /// Open brackets and braces.
    depth: u32,
    /// The depth of the array's own elements' container (1 for a top-level
    /// array, 2 for an array under a top-level key).
    array_depth: u32,
    in_string: bool,
    escaped: bool,
    /// Documents begun.
    documents: u64,
    /// Whether the last byte written between documents ended a line.
    line_ended: bool,
    /// The top-level key being read (up to [`MAX_KEY`] bytes), and whether
    /// the last one read names the array.
    key: Vec<u8>,
    key_open: bool,
    key_is_target: bool,
}

impl<R: Read> Expander<R> {
    pub fn new(inner: R, expand: Expand) -> Self {
        Expander {
            inner,
            expand,
            at: At::Top,
            depth: 0,
            array_depth: 0,
            in_string: false,
            escaped: false,
            documents: 0,
            line_ended: true,
            key: Vec::new(),
            key_open: false,
            key_is_target: false,
        }
    }

    /// Rewrite one byte; see the module documentation.
    fn byte(&mut self, c: u8) -> u8 {
        if self.at == At::Raw {
            return c;
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if c == b'\\' {
                self.escaped = true;
            } else if c == b'"' {
                self.in_string = false;
                if self.key_open {
                    self.key_open = false;
                    self.key_is_target = matches!(&self.expand, Expand::Key(k) if k.as_bytes() == self.key.as_slice());
                }
                return c;
            }
            if self.key_open && self.key.len() <= MAX_KEY {
                self.key.push(c);
            }
            // A raw line end inside a string is not JSON; it must not end
            // the line either.
            return if c == b'\n' { b' ' } else { c };
        }
        match self.at {
            At::Top => self.top(c),
            At::Root => self.root(c),
            At::Array => self.array(c),
            At::Raw => c,
        }
    }

    fn top(&mut self, c: u8) -> u8 {
        let opens = match (&self.expand, c) {
            // Line ends between documents stay: what follows a document
            // that is not one starts a line of its own.
            (_, b'\n') => {
                self.line_ended = true;
                return c;
            }
            (_, b' ' | b'\t' | b'\r') => return b' ',
            // A byte order mark before the first document: the framer
            // drops it.
            (_, 0xEF | 0xBB | 0xBF) if self.documents == 0 => return c,
            (Expand::Key(_), b'{') => {
                self.at = At::Root;
                self.array_depth = 2;
                self.expect_key();
                true
            }
            (Expand::Array, b'[') => {
                self.at = At::Array;
                self.array_depth = 1;
                true
            }
            _ => false,
        };
        if !opens {
            self.at = At::Raw;
            return c;
        }
        self.depth = 1;
        self.documents += 1;
        // A document's first line must not continue the last one's.
        if std::mem::replace(&mut self.line_ended, false) {
            b' '
        } else {
            b'\n'
        }
    }

    fn expect_key(&mut self) {
        self.key.clear();
        self.key_is_target = false;
    }

    fn root(&mut self, c: u8) -> u8 {
        match c {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 {
                    self.key_open = true;
                    self.key.clear();
                }
                c
            }
            b'[' if self.depth == 1 && self.key_is_target => {
                self.depth = 2;
                self.at = At::Array;
                b'\n'
            }
            b'{' | b'[' => {
                self.depth += 1;
                c
            }
            b'}' if self.depth == 1 => {
                self.depth = 0;
                self.at = At::Top;
                self.line_ended = false;
                b' '
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                c
            }
            b',' if self.depth == 1 => {
                self.expect_key();
                b'\n'
            }
            _ => newline_to_space(c),
        }
    }

    fn array(&mut self, c: u8) -> u8 {
        let level = self.depth == self.array_depth;
        match c {
            b'"' => {
                self.in_string = true;
                c
            }
            b'{' | b'[' => {
                self.depth += 1;
                c
            }
            b']' if level => {
                self.depth -= 1;
                if self.depth == 0 {
                    self.at = At::Top;
                    self.line_ended = false;
                } else {
                    self.at = At::Root;
                    self.expect_key();
                }
                b' '
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                c
            }
            b',' if level => b'\n',
            _ => newline_to_space(c),
        }
    }
}

fn newline_to_space(c: u8) -> u8 {
    if c == b'\n' || c == b'\r' { b' ' } else { c }
}

impl<R: Read> Read for Expander<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut i = 0;
        while i < n {
            if self.at == At::Raw {
                break;
            }
            // The bulk of a document is inside strings: skip to the next
            // byte that can end one.
            if self.in_string && !self.escaped && !self.key_open {
                match memchr::memchr3(b'"', b'\\', b'\n', &buf[i..n]) {
                    Some(k) => i += k,
                    None => {
                        i = n;
                        continue;
                    }
                }
            }
            buf[i] = self.byte(buf[i]);
            i += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(doc: &str, e: Expand) -> String {
        let mut out = String::new();
        // One byte at a time: no state may depend on where reads end.
        let mut r = Expander::new(OneByte(doc.as_bytes()), e);
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out.len(), doc.len());
        out
    }

    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn lines(s: &str) -> Vec<&str> {
        s.split('\n').map(str::trim).collect()
    }

    #[test]
    fn cloudtrail_document() {
        let doc =
            r#"{"Records":[{"eventName":"A","x":{"y":[1,2]}},{"eventName":"B, \"quoted\" ]}"}]}"#;
        let out = expand(doc, Expand::records());
        assert_eq!(
            lines(&out),
            [
                r#""Records":"#,
                r#"{"eventName":"A","x":{"y":[1,2]}}"#,
                r#"{"eventName":"B, \"quoted\" ]}"}"#,
            ]
        );
    }

    #[test]
    fn pretty_printed_documents_one_after_another() {
        let doc = "{\n  \"Records\": [\n    {\n      \"a\": 1\n    },\n    {\"b\": [\n2]}\n  ]\n}\n{\"Records\":[{\"c\":3}]}\n";
        let out = expand(doc, Expand::records());
        assert_eq!(
            lines(&out),
            [
                r#""Records":"#,
                r#"{       "a": 1     }"#,
                r#"{"b": [ 2]}"#,
                r#""Records":"#,
                r#"{"c":3}"#,
                "",
            ]
        );
    }

    #[test]
    fn other_members_are_lines_of_their_own() {
        let doc = r#"{"fileVersion":"1.0","items":[{"a":1},7],"n":{"k":[1]}}"#;
        let out = expand(doc, Expand::Key("items".into()));
        assert_eq!(
            lines(&out),
            [
                r#""fileVersion":"1.0""#,
                r#""items":"#,
                r#"{"a":1}"#,
                "7",
                r#""n":{"k":[1]}"#
            ]
        );
    }

    #[test]
    fn top_level_arrays_and_empty_ones() {
        let out = expand(r#"[{"a":1},{"b":2}] [{"c":3}]"#, Expand::Array);
        assert_eq!(lines(&out), [r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
        let out = expand(r#"{"Records":[]}"#, Expand::records());
        assert_eq!(lines(&out), [r#""Records":"#, ""]);
    }

    #[test]
    fn anything_else_passes_unchanged() {
        let ndjson = "{\"Records\":[{\"a\":1}]}\nnot json\n{\"b\":2}\n";
        let out = expand(ndjson, Expand::records());
        assert_eq!(
            lines(&out),
            [r#""Records":"#, r#"{"a":1}"#, "not json", r#"{"b":2}"#, ""]
        );
        // A document cut short leaves its last element cut short: the
        // parser rejects that line, nothing is dropped here.
        let out = expand(r#"{"Records":[{"a":1},{"b":"#, Expand::records());
        assert_eq!(lines(&out), [r#""Records":"#, r#"{"a":1}"#, r#"{"b":"#]);
    }

    #[test]
    fn sniffing() {
        let r = Expand::records();
        assert!(r.matches(b"{\"Records\":[{"));
        assert!(r.matches(b"\xEF\xBB\xBF \n{ \"Records\" :\n [ "));
        assert!(!r.matches(b"{\"Records\":{"));
        assert!(!r.matches(b"{\"eventVersion\":\"1.08\",\"Records\":["));
        assert!(!r.matches(b"[{\"Records\":["));
        assert!(Expand::Array.matches(b"  [ {"));
        let bom = "\u{feff}{\"Records\":[{\"a\":1}]}";
        assert_eq!(
            lines(&expand(bom, r.clone())),
            ["\u{feff} \"Records\":", r#"{"a":1}"#]
        );
        assert!(!Expand::Array.matches(b"{\"a\":[1]}"));
        let config = Expand::Key("configurationItems".into());
        let snapshot = b"{\n \"fileVersion\": \"1.0\", \"configurationItems\" : [ {";
        assert!(config.opens(snapshot) && !config.matches(snapshot));
        assert!(!config.opens(b"{\"configurationItems\":{\"a\":1}}"));
        assert!(!r.opens(b"{\"eventVersion\":\"1.08\",\"eventName\":\"Records\"}"));
    }
}
