//! The report's top error messages: error records (level ERROR or FATAL)
//! grouped by their message's template, where every number and id is
//! masked (`order ord_0042 failed after 3 tries` and `order ord_0077 failed
//! after 5 tries` are one template, `order <id> failed after <n> tries`).

use std::collections::{BTreeSet, HashMap};

use loglake_core::record::{Level, Record, TextField};
use loglake_core::time::format_rfc3339_ms;
use serde_json::{Value, json};

/// Distinct templates kept; later new ones are counted as "other".
const MAX_TEMPLATES: usize = 10_000;
/// Characters of a template and of an example kept.
const MAX_CHARS: usize = 240;

#[derive(Debug, Default)]
struct Group {
    count: u64,
    services: BTreeSet<String>,
    example: String,
    first: i64,
    last: i64,
}

#[derive(Debug, Default)]
pub struct TopErrors {
    groups: HashMap<String, Group>,
    other: u64,
}

impl TopErrors {
    pub fn observe(&mut self, rec: &Record<'_>, ts: i64) {
        if rec.level.is_none_or(|l| l < Level::Error) {
            return;
        }
        let message = rec.get(TextField::Message).unwrap_or("(no message)");
        let t = template(message);
        if !self.groups.contains_key(&t) && self.groups.len() >= MAX_TEMPLATES {
            self.other += 1;
            return;
        }
        let g = self.groups.entry(t).or_insert_with(|| Group {
            example: clip(message),
            first: ts,
            last: ts,
            ..Group::default()
        });
        g.count += 1;
        g.first = g.first.min(ts);
        g.last = g.last.max(ts);
        if g.services.len() < 8
            && let Some(s) = rec.get(TextField::Service)
            && !g.services.contains(s)
        {
            g.services.insert(s.to_string());
        }
    }

    /// The `n` most frequent templates, count then template order.
    pub fn top(&self, n: usize) -> Vec<Value> {
        let mut v: Vec<(&String, &Group)> = self.groups.iter().collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        v.into_iter()
            .take(n)
            .map(|(t, g)| {
                json!({
                    "template": t, "count": g.count, "services": g.services,
                    "example": g.example,
                    "first": format_rfc3339_ms(g.first).replace(".000Z", "Z"),
                    "last": format_rfc3339_ms(g.last).replace(".000Z", "Z"),
                })
            })
            .collect()
    }
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_CHARS).collect()
}

/// The message with numbers as `<n>` and anything else holding a digit
/// (ids, hashes, versions) as `<id>`; hex strings of 16 or more characters
/// and UUIDs too. Whitespace is collapsed.
pub fn template(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_CHARS));
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        mask_word(word, &mut out);
        if out.len() > MAX_CHARS {
            let mut cut = MAX_CHARS;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}

/// One whitespace-separated word: `key=value` masks the value; punctuation
/// around a token stays.
fn mask_word(word: &str, out: &mut String) {
    let mut rest = word;
    while !rest.is_empty() {
        // Split off a token between separators that stay as they are.
        let start = rest.find(|c: char| !is_separator(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let token = &rest[..end];
        if !token.is_empty() {
            out.push_str(mask_token(token));
        }
        rest = &rest[end..];
    }
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        '=' | ':' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | '<' | '>'
    )
}

fn mask_token(token: &str) -> &str {
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    let number = token
        .trim_end_matches(['%', '.'])
        .trim_end_matches("ms")
        .trim_end_matches('s')
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'));
    if digits > 0 && number {
        "<n>"
    } else if digits > 0
        || (token.len() >= 16 && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
    {
        "<id>"
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn numbers_and_ids_are_masked() {
        assert_eq!(
            template("order ord_0042 failed after 3 tries (took 1.5s)"),
            "order <id> failed after <n> tries (took <n>)"
        );
        assert_eq!(
            template("payment gateway timeout while confirming order"),
            "payment gateway timeout while confirming order"
        );
        assert_eq!(
            template("user=u123 status=503 trace=4bf92f3577b34da6a3ce929d0e0e4736"),
            "user=<id> status=<n> trace=<id>"
        );
        assert_eq!(
            template("checkout  completed ✔ order=ord_1"),
            "checkout completed ✔ order=<id>"
        );
        assert_eq!(template("latency 250ms > 99%"), "latency <n> > <n>");
    }
}
