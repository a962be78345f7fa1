//! The header syslog writes after its timestamp: RFC 3164's host and tag
//! (`program[pid]:`) and RFC 5424's host, app, procid, msgid and structured
//! data.

/// The header syslog writes after its timestamp: RFC 3164's
/// `host program[pid]: ` and RFC 5424's `host app procid msgid sd `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogHeader<'a> {
    pub host: &'a str,
    pub program: Option<&'a str>,
    pub pid: Option<&'a str>,
    /// Where the message starts.
    pub message: usize,
}

/// The syslog header after a timestamp that ends at `end`, when there is
/// one; `rfc5424` when the line started with `<PRI>1 `.
pub fn syslog_header<'a>(line: &'a str, end: usize, rfc5424: bool) -> Option<SyslogHeader<'a>> {
    let rest = line.get(end..)?.strip_prefix(' ')?;
    let base = end + 1;
    let (host, after_host) = rest.split_once(' ')?;
    if host.is_empty() || host.len() > 255 || host.contains(['[', ']']) {
        return None;
    }
    let at = base + host.len() + 1;
    if rfc5424 {
        // APP-NAME PROCID MSGID STRUCTURED-DATA MSG; `-` is nil.
        let mut parts = after_host.splitn(4, ' ');
        let (app, procid, _msgid, rest) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next().unwrap_or(""),
        );
        let sd_len = structured_data_len(rest)?;
        let message = at + app.len() + procid.len() + _msgid.len() + 3 + sd_len;
        let message = message + usize::from(line.as_bytes().get(message) == Some(&b' '));
        let nil = |v: &'a str| (v != "-").then_some(v);
        return Some(SyslogHeader {
            host,
            program: nil(app),
            pid: nil(procid),
            message: message.min(line.len()),
        });
    }
    // TAG[pid]: or TAG: — a program name, then the colon.
    let tag_len = after_host
        .bytes()
        .take(64)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'@'))
        .count();
    let tail = &after_host[tag_len..];
    let (pid, after_pid) = match tail.strip_prefix('[') {
        Some(t) => {
            let close = t.find(']')?;
            (Some(&t[..close]), &t[close + 1..])
        }
        None => (None, tail),
    };
    if tag_len == 0 || !after_pid.starts_with(':') {
        return Some(SyslogHeader {
            host,
            program: None,
            pid: None,
            message: at,
        });
    }
    let consumed = after_host.len() - after_pid.len() + 1;
    let message = at + consumed + usize::from(after_pid[1..].starts_with(' '));
    Some(SyslogHeader {
        host,
        program: Some(&after_host[..tag_len]),
        pid,
        message,
    })
}

/// Length of RFC 5424 STRUCTURED-DATA at the start of `s`: `-`, or one or
/// more `[...]` elements (with `\]` escapes inside).
fn structured_data_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return Some(1);
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        loop {
            match b.get(i)? {
                b'\\' => i += 2,
                b']' => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    (i > 0).then_some(i)
}
