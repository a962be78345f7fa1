//! Multi-member gzip that reads on past a damaged member.
//!
//! Firehose writes one gzip member per buffer flush into one object, and
//! `cat a.gz b.gz` does the same by hand. A member damaged in the middle
//! (a bad block, a CRC mismatch, bytes that are not gzip at all) must not
//! take every member after it down with it: this reader reports the damage
//! once, as an error [`MemberDamage`] that the framer recognises
//! ([`is_member_damage`]), then finds the next member header and goes on.
//! A damage with no member after it is the input's end: the decoder's own
//! error is returned, as for a truncated stream.

use std::io::{self, BufRead, Cursor, Read};

/// The gzip magic and deflate method: `1f 8b 08`.
const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// A damaged member was skipped; reading goes on at the next one.
#[derive(Debug)]
pub struct MemberDamage {
    /// What the decoder said.
    pub why: String,
    /// Compressed bytes skipped to reach the next member header.
    pub skipped: u64,
}

impl std::fmt::Display for MemberDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "damaged gzip member ({}); {} compressed bytes skipped to the next member",
            self.why, self.skipped
        )
    }
}

impl std::error::Error for MemberDamage {}

/// Whether `e` is a [`MemberDamage`]: the read may go on.
pub fn is_member_damage(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<MemberDamage>())
}

type Input<'r> = Box<dyn BufRead + Send + 'r>;

/// Gzip members one after another, resynchronising after a damaged one.
pub struct Members<'r> {
    /// The member being decoded.
    current: Option<flate2::bufread::GzDecoder<Input<'r>>>,
    /// The input between members.
    between: Option<Input<'r>>,
    /// Bytes the current member has produced.
    produced: u64,
}

impl std::fmt::Debug for Members<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members")
            .field("produced", &self.produced)
            .finish()
    }
}

impl<'r> Members<'r> {
    pub fn new(input: impl BufRead + Send + 'r) -> Self {
        Members {
            current: None,
            between: Some(Box::new(input)),
            produced: 0,
        }
    }

    /// Start the member at the head of `input`, or end at its end. Bytes
    /// that are not a member header are damage.
    fn next_member(&mut self, mut input: Input<'r>) -> io::Result<()> {
        let head = input.fill_buf()?;
        if head.is_empty() {
            return Ok(());
        }
        if head.len() >= 2 && head[..2] == MAGIC[..2] {
            self.start(input);
            return Ok(());
        }
        Err(self.resync(input, "bytes after a member that are not gzip".into(), 0))
    }

    fn start(&mut self, input: Input<'r>) {
        // One member at a time (the members after it are this reader's
        // job), so a damaged one can be told from the next.
        self.current = Some(flate2::bufread::GzDecoder::new(input));
        self.produced = 0;
    }

    /// After damage: find the next member header and start it; the error
    /// to report is a [`MemberDamage`], or, when no member follows, the
    /// damage itself. `skip` bytes are passed first (1 when the damaged
    /// member produced nothing, so a header that failed is not tried again).
    fn resync(&mut self, mut input: Input<'r>, why: String, skip: usize) -> io::Error {
        let mut skipped = 0u64;
        let mut to_skip = skip;
        loop {
            let buf = match input.fill_buf() {
                Ok(b) => b,
                Err(e) => return e,
            };
            if buf.is_empty() {
                // No member after the damage: the input ends here, damaged.
                return io::Error::new(io::ErrorKind::InvalidData, why);
            }
            if to_skip > 0 {
                let n = to_skip.min(buf.len());
                input.consume(n);
                to_skip -= n;
                skipped += n as u64;
                continue;
            }
            match memchr::memchr(MAGIC[0], buf) {
                None => {
                    let n = buf.len();
                    input.consume(n);
                    skipped += n as u64;
                }
                Some(i) if buf.len() - i >= 4 => {
                    if buf[i..i + 3] == MAGIC && buf[i + 3] & 0xe0 == 0 {
                        input.consume(i);
                        skipped += i as u64;
                        self.start(input);
                        return io::Error::new(
                            io::ErrorKind::InvalidData,
                            MemberDamage { why, skipped },
                        );
                    }
                    input.consume(i + 1);
                    skipped += i as u64 + 1;
                }
                Some(i) => {
                    // A possible header split by the buffer's end: keep its
                    // first bytes and read on behind them.
                    input.consume(i);
                    skipped += i as u64;
                    let mut part = Vec::with_capacity(4);
                    if let Err(e) = input.by_ref().take(4).read_to_end(&mut part) {
                        return e;
                    }
                    if part.len() < 4 {
                        return io::Error::new(io::ErrorKind::InvalidData, why);
                    }
                    input = Box::new(Cursor::new(part).chain(input));
                }
            }
        }
    }
}

impl Read for Members<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(d) = &mut self.current {
                match d.read(buf) {
                    Ok(0) => {
                        let input = self.current.take().map(|d| d.into_inner());
                        self.between = input;
                    }
                    Ok(n) => {
                        self.produced += n as u64;
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let Some(input) = self.current.take().map(|d| d.into_inner()) else {
                            return Err(e);
                        };
                        let skip = usize::from(self.produced == 0);
                        return Err(self.resync(input, e.to_string(), skip));
                    }
                }
                continue;
            }
            match self.between.take() {
                None => return Ok(0),
                Some(input) => {
                    self.next_member(input)?;
                    if self.current.is_none() {
                        return Ok(0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn member(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    /// Everything readable, and the damage reported on the way.
    fn read_all(input: &[u8]) -> (String, Vec<String>, Option<io::Error>) {
        let mut r = Members::new(io::BufReader::with_capacity(64, input));
        let (mut out, mut damage) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 100];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (String::from_utf8_lossy(&out).into(), damage, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if is_member_damage(&e) => damage.push(e.to_string()),
                Err(e) => return (String::from_utf8_lossy(&out).into(), damage, Some(e)),
            }
        }
    }

    fn text(n: usize, tag: &str) -> String {
        (0..n)
            .map(|i| format!("{tag} line {i} {}\n", i * 7919))
            .collect()
    }

    #[test]
    fn a_damaged_member_is_skipped_and_the_next_ones_are_read() {
        let (a, b, c) = (text(200, "a"), text(200, "b"), text(200, "c"));
        let mut bad = member(&b);
        let mid = bad.len() / 2;
        for x in &mut bad[mid..mid + 8] {
            *x ^= 0x5a;
        }
        let input = [member(&a), bad, member(&c)].concat();
        let (out, damage, err) = read_all(&input);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert!(out.starts_with(&a) && out.ends_with(&c));
        assert!(out.len() < a.len() + b.len() + c.len());
    }

    #[test]
    fn a_crc_mismatch_loses_no_member_after_it() {
        let (a, b) = (text(50, "a"), text(50, "b"));
        let mut bad = member(&a);
        let n = bad.len();
        bad[n - 6] ^= 1; // the CRC
        let (out, damage, err) = read_all(&[bad, member(&b)].concat());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(damage.len(), 1);
        assert!(out.ends_with(&b), "{out}");
    }

    #[test]
    fn garbage_between_members_is_damage_and_a_cut_end_is_an_error() {
        let (a, b) = (text(30, "a"), text(30, "b"));
        let input = [member(&a), b"not gzip at all \x1f\x8b".to_vec(), member(&b)].concat();
        let (out, damage, err) = read_all(&input);
        assert!(err.is_none(), "{err:?}");
        assert_eq!((out, damage.len()), (format!("{a}{b}"), 1));
        // Cut inside the last member: no member follows, so the read ends
        // with the decoder's error, as a truncated stream does.
        let whole = [member(&a), member(&b)].concat();
        let (out, damage, err) = read_all(&whole[..whole.len() - 20]);
        assert!(damage.is_empty() && err.is_some());
        assert!(out.starts_with(&a));
        // Clean members: nothing to report.
        let (out, damage, err) = read_all(&whole);
        assert!(damage.is_empty() && err.is_none());
        assert_eq!(out, format!("{a}{b}"));
    }

    #[test]
    fn random_damage_never_panics_or_loops() {
        let members: Vec<Vec<u8>> = (0..6).map(|i| member(&text(40, &i.to_string()))).collect();
        let whole = members.concat();
        for seed in 0..200u64 {
            let mut input = whole.clone();
            let mut s = seed;
            for _ in 0..1 + seed % 4 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = (s >> 33) as usize % input.len();
                input[at] ^= (s >> 8) as u8 | 1;
            }
            let _ = read_all(&input);
        }
    }
}
