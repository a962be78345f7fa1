//! The top-level field names of the lines before, by position: a log's
//! lines come from a few loggers that write their fields in one order, so
//! the name at a position is nearly always the one the line before had
//! there. A name that matches (its bytes, then the closing quote) is read
//! without scanning the string or looking up its column again.

use std::borrow::Cow;

use super::{Column, Scanner};
use crate::record::Reject;

/// Names kept per position, at most this many positions and bytes each.
const MAX_POSITIONS: usize = 64;
const MAX_NAME: usize = 64;

/// What [`super::parse_with`] remembers from line to line: each top-level
/// position's last field name and the column it feeds.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub(super) seen: Vec<Seen>,
}

/// One position's last name, and its column.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    name: String,
    column: Option<Column>,
}

impl<'a> Scanner<'a> {
    /// The `k`th top-level field name, whose opening quote was consumed,
    /// and its column. The answer is the one [`Scanner::string`] and the
    /// column table give: a remembered name only counts when the line has
    /// exactly its bytes and then the closing quote, and a name with an
    /// escape is never remembered.
    pub(super) fn top_key(&mut self, k: usize) -> Result<(Cow<'a, str>, Option<Column>), Reject> {
        let start = self.i;
        if let Some(seen) = self.keys.as_ref().and_then(|keys| keys.get(k)) {
            let end = start + seen.name.len();
            if self.b.get(start..end) == Some(seen.name.as_bytes())
                && self.b.get(end) == Some(&b'"')
                && let Some(name) = self.s.get(start..end)
            {
                self.i = end + 1;
                return Ok((Cow::Borrowed(name), seen.column));
            }
        }
        let key = self.string()?;
        let column = (self.columns)(&key);
        if let Cow::Borrowed(name) = key
            && name.len() <= MAX_NAME
            && k < MAX_POSITIONS
            && let Some(keys) = self.keys.as_mut()
        {
            let known = keys.len();
            match keys.get_mut(k) {
                Some(seen) => {
                    seen.name.clear();
                    seen.name.push_str(name);
                    seen.column = column;
                }
                None if k == known => keys.push(Seen {
                    name: name.to_string(),
                    column,
                }),
                None => {}
            }
        }
        Ok((key, column))
    }
}
