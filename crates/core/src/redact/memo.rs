//! What the [`super::Redactor`] already knows about values it sees over and
//! over: the class of an attribute key (`span_id` names an identifier on
//! every line that has one), and the user agents it found nothing in. Logs
//! repeat both on nearly every line, and the checks are pure functions of
//! the bytes, so a value found in the table gets the answer the checks
//! would give.
//!
//! A value's hash picks a pair of slots; the newest value goes first and
//! the one it displaces second, so two values that share a pair do not
//! push each other out. A lookup compares the whole value: a collision
//! costs a scan, never a wrong answer. Each table holds at most [`SLOTS`]
//! values of at most [`MAX_LEN`] bytes.

/// Slots per table, in pairs.
const SLOTS: usize = 256;
/// Longer values are never kept (a user agent is 100 to 250 bytes).
const MAX_LEN: usize = 512;

/// A small two-way set-associative table from strings to `V`.
#[derive(Debug, Clone)]
pub(super) struct Memo<V> {
    slots: Vec<Option<(Box<str>, V)>>,
}

impl<V: Copy> Default for Memo<V> {
    /// An empty table, allocated at the first [`Memo::put`]: a redactor
    /// made for one value (a quarantined line, one HTTP event) pays nothing.
    fn default() -> Self {
        Memo { slots: Vec::new() }
    }
}

impl<V: Copy> Memo<V> {
    /// What was kept for `key`, if it is still in its pair of slots.
    #[inline]
    pub fn get(&self, key: &str) -> Option<V> {
        let i = pair(key);
        for s in self.slots.get(i..i + 2)? {
            match s {
                Some((k, v)) if **k == *key => return Some(*v),
                _ => {}
            }
        }
        None
    }

    /// Whether the table has been allocated (by a first `put`).
    #[cfg(test)]
    pub fn allocated(&self) -> bool {
        !self.slots.is_empty()
    }

    /// Keep `v` for `key` in the first slot of its pair; what was there
    /// moves to the second.
    pub fn put(&mut self, key: &str, v: V) {
        if key.len() > MAX_LEN {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![None; SLOTS];
        }
        let i = pair(key);
        if let Some([first, second]) = self.slots.get_mut(i..i + 2) {
            *second = first.take();
            *first = Some((key.into(), v));
        }
    }
}

/// The first slot of `key`'s pair.
#[inline]
fn pair(key: &str) -> usize {
    (crate::hash::hash64(key.as_bytes()) >> 57) as usize * 2 % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_for_the_value_kept() {
        let mut m: Memo<u8> = Memo::default();
        assert_eq!(m.get("span_id"), None);
        m.put("span_id", 3);
        assert_eq!(m.get("span_id"), Some(3));
        assert_eq!(m.get("span_iD"), None);
        assert_eq!(m.get("span_i"), None);
        assert_eq!(m.get(""), None);
        m.put("", 1);
        assert_eq!(m.get(""), Some(1));
    }

    #[test]
    fn a_colliding_value_takes_the_slot_over() {
        let mut m: Memo<u32> = Memo::default();
        // More values than slots: every lookup is right or a miss.
        let keys: Vec<String> = (0..1000).map(|i| format!("key_{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            m.put(k, i as u32);
        }
        let mut hits = 0;
        for (i, k) in keys.iter().enumerate() {
            if let Some(v) = m.get(k) {
                assert_eq!(v, i as u32);
                hits += 1;
            }
        }
        assert!(hits > 0 && hits <= SLOTS, "{hits}");
        // The last value put is always found.
        assert_eq!(m.get("key_999"), Some(999));
    }

    #[test]
    fn two_values_of_one_pair_are_both_kept() {
        let mut m: Memo<u32> = Memo::default();
        let a = "span_id".to_string();
        let b = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| pair(k) == pair(&a))
            .unwrap_or_default();
        m.put(&a, 1);
        m.put(&b, 2);
        for _ in 0..3 {
            assert_eq!(m.get(&a), Some(1));
            assert_eq!(m.get(&b), Some(2));
        }
        // A third value of the pair pushes out the older of the two.
        let c = (0..)
            .map(|i| format!("c{i}"))
            .find(|k| pair(k) == pair(&a))
            .unwrap_or_default();
        m.put(&c, 3);
        assert_eq!((m.get(&c), m.get(&b), m.get(&a)), (Some(3), Some(2), None));
    }

    #[test]
    fn long_values_are_not_kept() {
        let mut m: Memo<()> = Memo::default();
        let long = "x".repeat(MAX_LEN + 1);
        m.put(&long, ());
        assert_eq!(m.get(&long), None);
        let ok = "x".repeat(MAX_LEN);
        m.put(&ok, ());
        assert_eq!(m.get(&ok), Some(()));
    }
}
