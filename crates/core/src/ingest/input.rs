//! Reading an object: compression detected by magic bytes, streamed through
//! the decoder, and framed into blocks of lines with a bounded line length.
//!
//! Memory held here is one read buffer plus the block being filled, whatever
//! the size of the object or of its longest line.

use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The compression of an object, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Counts the bytes that pass through a reader, readable from another thread.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (
            CountingReader {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

const READ_BUF: usize = 256 * 1024;

/// Wrap a raw object stream in the decoder its magic bytes call for. Gzip
/// input may hold several members (Firehose, `cat a.gz b.gz`), zstd several
/// frames; both are read to the end, and a damaged gzip member is skipped
/// ([`super::gzip`]).
pub fn decode<'r>(
    mut raw: impl Read + Send + 'r,
) -> io::Result<(Compression, Box<dyn Read + Send + 'r>)> {
    // Read the magic by hand: a short first read must not hide it.
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let c = Compression::detect(&head[..n]);
    let r = BufReader::with_capacity(READ_BUF, io::Cursor::new(head).take(n as u64).chain(raw));
    let out: Box<dyn Read + Send + 'r> = match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(super::gzip::Members::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    };
    Ok((c, out))
}

/// The first `n` bytes of a decoded stream (fewer when it is shorter), and
/// the stream from its start again. A decoding error met on the way is
/// kept and raised again after those bytes, where the framer expects it.
pub fn peek<'r>(
    mut r: Box<dyn Read + Send + 'r>,
    n: usize,
) -> (Vec<u8>, Box<dyn Read + Send + 'r>) {
    let mut head = Vec::with_capacity(n);
    let err = (&mut r).take(n as u64).read_to_end(&mut head).err();
    let again = Replay {
        head: io::Cursor::new(head.clone()),
        err,
        rest: r,
    };
    (head, Box::new(again))
}

/// A peeked head, the error that ended it (once), then the rest.
struct Replay<R> {
    head: io::Cursor<Vec<u8>>,
    err: Option<io::Error>,
    rest: R,
}

impl<R: Read> Read for Replay<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        match self.err.take() {
            Some(e) => Err(e),
            None => self.rest.read(buf),
        }
    }
}

/// One framed line within a [`Block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Byte range of the line's text in [`Block::buf`], without the line
    /// terminator (LF or CRLF). For an oversized line, only its first
    /// `max_line` bytes.
    pub start: u32,
    pub end: u32,
    /// Offset of the line's first byte in the decoded stream.
    pub offset: u64,
    /// 1-based line number in the decoded stream.
    pub number: u64,
    pub kind: LineKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Complete,
    /// Longer than the maximum; `len` is its full length in bytes.
    Oversized {
        len: u64,
    },
    /// The input broke off (corrupt or truncated compression) inside this line.
    Truncated,
}

/// A run of whole lines, handed from the reader to the parser in one piece.
#[derive(Debug, Default)]
pub struct Block {
    pub buf: Vec<u8>,
    pub lines: Vec<Line>,
}

impl Block {
    pub fn bytes(&self, l: &Line) -> &[u8] {
        &self.buf[l.start as usize..l.end as usize]
    }
}

/// Bytes read from the decoder per call.
const CHUNK: usize = 256 * 1024;

/// The part of an oversized line seen so far.
#[derive(Debug, Clone, Copy)]
struct Over {
    /// Bytes of the line seen so far, a trailing CR included.
    len: u64,
    offset: u64,
    /// Whether the last byte seen was a CR, which is not part of the line if
    /// an LF follows.
    last_cr: bool,
}

/// Splits a decoded stream into [`Block`]s of lines of at most `max_line`
/// bytes. Longer lines are reported with their first `max_line` bytes and
/// their length, and the rest of them is never held in memory.
#[derive(Debug)]
pub struct Framer<R> {
    r: R,
    max_line: usize,
    target: usize,
    carry: Vec<u8>,
    carry_offset: u64,
    /// What the decoder writes into: zeroed once, then reused, so that no
    /// read pays for initialising the memory it is about to fill.
    scratch: Vec<u8>,
    /// Lines in the block before, the next block's first guess.
    lines_hint: usize,
    /// An oversized line still being skipped.
    over: Option<Over>,
    next_number: u64,
    eof: bool,
    error: Option<io::Error>,
    decoded: u64,
    /// A damaged gzip member was skipped: the line it broke off ends here.
    cut: bool,
    /// Damaged members skipped, and what the first one was.
    damaged: u64,
    first_damage: Option<String>,
}

impl<R: Read> Framer<R> {
    /// `target` is the block size to aim for; a block holds at least one line.
    pub fn new(r: R, max_line: usize, target: usize) -> Self {
        Framer {
            r,
            max_line: max_line.max(1),
            target,
            carry: Vec::new(),
            carry_offset: 0,
            scratch: Vec::new(),
            lines_hint: 0,
            over: None,
            next_number: 1,
            eof: false,
            error: None,
            decoded: 0,
            cut: false,
            damaged: 0,
            first_damage: None,
        }
    }

    /// A framer whose stream begins at `offset` of the decoded source, on
    /// line `number` (a resumed ingest, after skipping to that line).
    pub fn starting_at(r: R, max_line: usize, target: usize, offset: u64, number: u64) -> Self {
        Framer {
            carry_offset: offset,
            next_number: number.max(1),
            ..Framer::new(r, max_line, target)
        }
    }

    /// Damaged gzip members skipped so far, and what the first one was.
    pub fn damaged(&self) -> (u64, Option<&str>) {
        (self.damaged, self.first_damage.as_deref())
    }

    /// Decoded bytes read so far.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded
    }

    /// The decoding error that ended the input early, if any (a truncated or
    /// corrupt gzip/zstd stream). Other I/O errors are returned by
    /// [`Framer::next_block`] instead, as they say nothing about the data.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Append up to one chunk of decoded bytes to `buf`, keeping what was
    /// read before an error. The decoder fills `scratch`, which is copied
    /// once: `read_to_end` would zero each chunk's spare capacity before
    /// the decoder overwrote it, and grow a block by doubling.
    fn read_some(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if self.scratch.len() < CHUNK {
            self.scratch = vec![0; CHUNK];
        }
        let mut n = 0;
        let r = loop {
            if n == CHUNK {
                break Ok(());
            }
            match self.r.read(&mut self.scratch[n..CHUNK]) {
                Ok(0) => break Ok(()),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.extend_from_slice(&self.scratch[..n]);
        self.decoded += n as u64;
        match r {
            Ok(()) => {
                // Short of the chunk only at the end of the input.
                self.eof = n < CHUNK;
                Ok(n)
            }
            Err(e) if super::gzip::is_member_damage(&e) => {
                self.damaged += 1;
                self.first_damage.get_or_insert_with(|| e.to_string());
                self.cut = true;
                Ok(n)
            }
            Err(e) if is_corrupt_input(&e) => {
                self.eof = true;
                self.error = Some(e);
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }

    fn push(
        &mut self,
        lines: &mut Vec<Line>,
        start: usize,
        end: usize,
        offset: u64,
        kind: LineKind,
    ) {
        lines.push(Line {
            start: start as u32,
            end: end as u32,
            offset,
            number: self.next_number,
            kind,
        });
        self.next_number += 1;
    }

    /// The next block of lines, or `None` at the end of the input.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        if self.eof && self.carry.is_empty() && self.over.is_none() {
            return Ok(None);
        }
        let max = self.max_line;
        // Room for the block at once: it stops growing at `target`, one
        // chunk past it at most (unless a long line is still unfinished).
        let mut buf = Vec::with_capacity(self.carry.len().max(self.target) + CHUNK);
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut lines = Vec::with_capacity(self.lines_hint);
        // Stream offset of buf[0], plus what was dropped from an oversized line.
        let base = self.carry_offset;
        let mut shift = 0u64;
        let mut start = 0usize;
        let mut scan = buf.len();
        if base == 0 && self.next_number == 1 && buf.is_empty() {
            // Look for a UTF-8 byte order mark at the very start of the stream.
            while buf.len() < 3 && !self.eof {
                self.read_some(&mut buf)?;
            }
            if buf.starts_with(b"\xEF\xBB\xBF") {
                start = 3;
            }
            scan = start;
        }
        loop {
            while let Some(i) = memchr::memchr(b'\n', &buf[scan..]) {
                let nl = scan + i;
                let mut end = nl;
                if end > start && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                match self.over.take() {
                    Some(o) => {
                        let cr = if nl > scan {
                            buf[nl - 1] == b'\r'
                        } else {
                            o.last_cr
                        };
                        let len = o.len + (nl - scan) as u64 - u64::from(cr);
                        self.push(
                            &mut lines,
                            start,
                            start + max,
                            o.offset,
                            LineKind::Oversized { len },
                        );
                    }
                    None if end - start > max => {
                        let len = (end - start) as u64;
                        let offset = base + shift + start as u64;
                        self.push(
                            &mut lines,
                            start,
                            start + max,
                            offset,
                            LineKind::Oversized { len },
                        );
                    }
                    None => {
                        let offset = base + shift + start as u64;
                        self.push(&mut lines, start, end, offset, LineKind::Complete);
                    }
                }
                start = nl + 1;
                scan = start;
            }
            // A damaged member broke the line off: what there is of it is a
            // truncated line, and the next member starts a new one.
            if std::mem::take(&mut self.cut) && (start < buf.len() || self.over.is_some()) {
                let (offset, end) = match self.over.take() {
                    Some(o) => (o.offset, start + max),
                    None => (base + shift + start as u64, buf.len().min(start + max)),
                };
                self.push(&mut lines, start, end, offset, LineKind::Truncated);
                start = buf.len();
            }
            // No line end in buf[start..]: bound what an unfinished line holds.
            // A trailing CR may be the first half of a CRLF, so it does not
            // count against the maximum yet.
            let unfinished = buf.len() - start;
            let last_cr = buf.last() == Some(&b'\r') && unfinished > 0;
            if unfinished > max && (self.over.is_some() || unfinished - usize::from(last_cr) > max)
            {
                let dropped = unfinished - max;
                match &mut self.over {
                    Some(o) => {
                        o.len += dropped as u64;
                        o.last_cr = last_cr;
                    }
                    None => {
                        self.over = Some(Over {
                            len: unfinished as u64,
                            offset: base + shift + start as u64,
                            last_cr,
                        });
                    }
                }
                shift += dropped as u64;
                buf.truncate(start + max);
            }
            scan = buf.len();
            if self.eof || (!lines.is_empty() && buf.len() >= self.target) {
                break;
            }
            self.read_some(&mut buf)?;
        }
        if self.eof {
            // The last line may lack a newline; it is complete unless the
            // decoder failed.
            if start < buf.len() || self.over.is_some() {
                let truncated = self.error.is_some();
                let mut end = buf.len();
                if !truncated && end > start && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                let (kind, offset, end) = match self.over.take() {
                    Some(o) if truncated => (LineKind::Truncated, o.offset, start + max),
                    None if truncated => (
                        LineKind::Truncated,
                        base + shift + start as u64,
                        end.min(start + max),
                    ),
                    Some(o) => (
                        LineKind::Oversized {
                            len: o.len - u64::from(o.last_cr),
                        },
                        o.offset,
                        start + max,
                    ),
                    None => (LineKind::Complete, base + shift + start as u64, end),
                };
                self.push(&mut lines, start, end, offset, kind);
            }
        } else {
            self.carry.extend_from_slice(&buf[start..]);
            self.carry_offset = base + shift + start as u64;
            buf.truncate(start);
        }
        self.lines_hint = lines.len();
        Ok(Some(Block { buf, lines }))
    }
}

/// Errors a decoder raises for bad data, as opposed to failures to read.
fn is_corrupt_input(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
    ) || e.to_string().contains("Unknown frame descriptor")
}
