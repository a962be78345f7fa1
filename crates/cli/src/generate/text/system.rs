//! Syslog as files hold it: RFC 3164 (`Mar 14 21:00:00 web-3
//! sshd[4242]: Accepted publickey for deploy from 10.0.0.7 port 52144 ssh2`,
//! the day space-padded, no year) with the programs a server runs, and RFC
//! 5424 (`<134>1 2024-03-14T21:00:00.123Z host app procid msgid [sd] msg`,
//! PRI = facility * 8 + severity).

use super::super::encode::{push_padded, push_u64};
use super::super::pools::{DEBUG, ERROR, PAYMENT_METHODS, WARN};
use super::{Gen, digits};

const INVALID_USERS: [&str; 7] = [
    "admin", "test", "oracle", "ubuntu", "postgres", "git", "user",
];
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `Mar 14 21:00:00 web-3 sshd[4242]: ...`.
pub(super) fn rfc3164(g: &mut Gen, out: &mut Vec<u8>) {
    out.extend_from_slice(g.c.month_name());
    out.push(b' ');
    if g.c.day < 10 {
        out.push(b' ');
    }
    push_u64(out, g.c.day);
    out.push(b' ');
    g.c.time(out);
    out.push(b' ');
    out.extend_from_slice(&g.s.host);
    out.push(b' ');
    match g.r.below(20) {
        0..=6 => sshd(g, out),
        7..=9 => {
            tag(g, out, "CRON", true);
            if g.chance(0.5) {
                out.extend_from_slice(b"(root) CMD (");
                g.put(
                    out,
                    &[
                        "/usr/local/bin/backup.sh > /dev/null 2>&1",
                        "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                        "cd / && run-parts --report /etc/cron.hourly",
                    ],
                );
                out.push(b')');
            } else {
                out.extend_from_slice(b"pam_unix(cron:session): session ");
                g.put(
                    out,
                    &[
                        "opened for user root(uid=0) by (uid=0)",
                        "closed for user root",
                    ],
                );
            }
        }
        10..=12 => {
            out.extend_from_slice(b"systemd[1]: ");
            match g.r.below(4) {
                0 => {
                    let n = 1 + g.r.below(9_000);
                    out.extend_from_slice(b"Started session-");
                    push_u64(out, n);
                    out.extend_from_slice(b".scope - Session ");
                    push_u64(out, n);
                    out.extend_from_slice(b" of User deploy.");
                }
                1 => out.extend_from_slice(
                    b"Starting apt-daily.service - Daily apt download activities...",
                ),
                2 => out.extend_from_slice(b"logrotate.service: Deactivated successfully."),
                _ => out.extend_from_slice(b"Finished logrotate.service - Rotate log files."),
            }
        }
        13..=14 => kernel(g, out),
        15 => {
            out.extend_from_slice(b"sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl ");
            g.put(out, &["restart nginx", "reload nginx", "status docker"]);
        }
        16..=17 => {
            tag(g, out, "postfix/smtpd", true);
            let connect = g.chance(0.5);
            out.extend_from_slice(if connect {
                b"connect from unknown["
            } else {
                b"disconnect from unknown["
            });
            g.ip4(out);
            out.push(b']');
            if !connect {
                out.extend_from_slice(b" ehlo=1 auth=0/1 quit=1 commands=2/3");
            }
        }
        _ => {
            let pid = g.s.pid;
            out.extend_from_slice(b"dockerd[");
            push_u64(out, pid);
            out.extend_from_slice(b"]: time=\"");
            g.c.date(out, b'-');
            out.push(b'T');
            g.c.time(out);
            g.c.frac(out, b'.', 6);
            g.num(out, 100, 1_000);
            out.extend_from_slice(b"Z\" level=warning msg=\"Health check for container ");
            g.hex(out, 64);
            out.extend_from_slice(b" error: context deadline exceeded\"");
        }
    }
}

/// `program[pid]: ` with a fresh pid, or `program: `.
fn tag(g: &mut Gen, out: &mut Vec<u8>, program: &str, pid: bool) {
    out.extend_from_slice(program.as_bytes());
    if pid {
        out.push(b'[');
        g.num(out, 1_000, 4_000_000);
        out.push(b']');
    }
    out.extend_from_slice(b": ");
}

fn sshd(g: &mut Gen, out: &mut Vec<u8>) {
    tag(g, out, "sshd", true);
    let from_port = |g: &mut Gen, out: &mut Vec<u8>| {
        out.extend_from_slice(b" from ");
        g.ip4(out);
        out.extend_from_slice(b" port ");
        g.port(out);
    };
    match g.r.below(7) {
        0 => {
            out.extend_from_slice(b"Accepted publickey for deploy");
            from_port(g, out);
            out.extend_from_slice(b" ssh2: ED25519 SHA256:");
            for _ in 0..43 {
                out.push(B64[g.r.idx(B64.len())]);
            }
        }
        1 | 2 => {
            out.extend_from_slice(b"Failed password for invalid user ");
            g.put(out, &INVALID_USERS);
            from_port(g, out);
            out.extend_from_slice(b" ssh2");
        }
        3 => {
            out.extend_from_slice(b"Invalid user ");
            g.put(out, &INVALID_USERS);
            from_port(g, out);
        }
        4 => {
            out.extend_from_slice(b"Connection closed by authenticating user root ");
            g.ip4(out);
            out.extend_from_slice(b" port ");
            g.port(out);
            out.extend_from_slice(b" [preauth]");
        }
        5 => out.extend_from_slice(
            b"pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
        ),
        _ => {
            out.extend_from_slice(b"Received disconnect from ");
            g.ip4(out);
            out.extend_from_slice(b" port ");
            g.port(out);
            out.extend_from_slice(b":11: disconnected by user");
        }
    }
}

/// `kernel: [12345.678901] ...`, the time since boot as the kernel prints it.
fn kernel(g: &mut Gen, out: &mut Vec<u8>) {
    out.extend_from_slice(b"kernel: [");
    let up = (g.c.micros() - g.s.boot_us).max(0) as u64;
    let secs = up / 1_000_000;
    for _ in 0..5usize.saturating_sub(digits(secs)) {
        out.push(b' ');
    }
    push_u64(out, secs);
    out.push(b'.');
    push_padded(out, up % 1_000_000, 6);
    out.extend_from_slice(b"] ");
    match g.r.below(3) {
        0 => out.extend_from_slice(b"TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters."),
        1 => out.extend_from_slice(b"nf_conntrack: nf_conntrack: table full, dropping packet"),
        _ => {
            out.extend_from_slice(b"Out of memory: Killed process ");
            g.num(out, 1_000, 4_000_000);
            out.extend_from_slice(b" (java) total-vm:");
            g.num(out, 6_000_000, 9_000_000);
            out.extend_from_slice(b"kB, anon-rss:");
            g.num(out, 3_000_000, 4_200_000);
            out.extend_from_slice(b"kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:9876kB oom_score_adj:0");
        }
    }
}

/// `<134>1 2024-03-14T21:00:00.123Z checkout-web-5d8f9c7b4-x2k4p checkout-web 4242 - - message`.
pub(super) fn rfc5424(g: &mut Gen, out: &mut Vec<u8>) {
    let level = g.level();
    let severity = match level {
        ERROR => 3,
        WARN => 4,
        DEBUG => 7,
        _ => 6,
    };
    // Facility local0..local7 (16..23) per file, or user (1).
    let facility = if g.s.variant == 0 {
        1
    } else {
        15 + g.s.variant
    };
    out.push(b'<');
    push_u64(out, facility * 8 + severity);
    out.extend_from_slice(b">1 ");
    g.c.date(out, b'-');
    out.push(b'T');
    g.c.time(out);
    g.c.frac(out, b'.', if g.s.variant.is_multiple_of(2) { 3 } else { 6 });
    out.extend_from_slice(b"Z ");
    out.extend_from_slice(&g.s.host);
    out.push(b' ');
    out.extend_from_slice(g.service().as_bytes());
    out.push(b' ');
    push_u64(out, g.s.pid);
    out.push(b' ');
    g.put(out, &["-", "-", "http", "audit", "payment"]);
    out.push(b' ');
    g.s.counter += 1;
    let seq = g.s.counter;
    match g.r.below(5) {
        0 | 1 => out.push(b'-'),
        2 | 3 => {
            out.extend_from_slice(b"[meta sequenceId=\"");
            push_u64(out, seq);
            out.extend_from_slice(b"\"]");
        }
        _ => {
            out.extend_from_slice(b"[origin ip=\"");
            g.private_ip(out);
            out.extend_from_slice(b"\" software=\"");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b"\" swVersion=\"2.14.1\"][meta sequenceId=\"");
            push_u64(out, seq);
            out.extend_from_slice(b"\"]");
        }
    }
    out.push(b' ');
    match level {
        ERROR => {
            out.extend_from_slice(b"upstream payment-api timed out after 5000 ms order=");
            g.order_id(out);
        }
        WARN => {
            out.extend_from_slice(b"login failed for ");
            g.email(out);
            out.extend_from_slice(b" reason=bad_credentials");
        }
        DEBUG => {
            out.extend_from_slice(b"cache lookup key=product:");
            g.sku(out);
            out.extend_from_slice(b" hit=");
            g.put(out, &["true", "false"]);
        }
        _ => match g.r.below(3) {
            0 => {
                out.extend_from_slice(b"order placed order=");
                g.order_id(out);
                out.extend_from_slice(b" amount=");
                g.money(out);
            }
            1 => {
                out.extend_from_slice(b"payment captured order=");
                g.order_id(out);
                out.extend_from_slice(b" method=");
                g.put(out, &PAYMENT_METHODS);
                out.extend_from_slice(b" latency_ms=");
                let ms = g.latency();
                push_u64(out, ms);
            }
            _ => {
                out.extend_from_slice(b"GET /v1/products/");
                g.sku(out);
                out.extend_from_slice(b" status=200 latency_ms=");
                let ms = g.latency();
                push_u64(out, ms);
            }
        },
    }
}
