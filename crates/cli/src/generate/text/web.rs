//! Web servers' error logs: Apache httpd 2.4's default `ErrorLogFormat`
//! (`[Thu Mar 14 21:00:00.123456 2024] [proxy:error] [pid 4242:tid 1403...]
//! (111)Connection refused: [client 10.0.0.7:52144] AH00957: ...`) and
//! nginx's (`2024/03/14 21:00:00 [error] 4242#4242: *17 upstream timed out
//! ..., client: ..., server: ..., request: "...", upstream: "...", host:
//! "..."`), with the messages reverse proxies in front of services write.

use super::super::encode::{push_padded, push_u64};
use super::Gen;

const SERVER: &str = "shop.example.com";

/// Paths of proxied requests.
const PATHS: [&str; 6] = [
    "/v1/cart",
    "/v1/orders",
    "/v1/payments",
    "/v1/products/",
    "/v1/search?q=shoes",
    "/healthz",
];

fn path(g: &mut Gen, out: &mut Vec<u8>) {
    let p = g.pick(&PATHS);
    out.extend_from_slice(p.as_bytes());
    if p.ends_with('/') {
        g.sku(out);
    }
}

/// `[Thu Mar 14 21:00:00.123456 2024] [module:level] [pid P:tid T] ...`.
pub(super) fn apache(g: &mut Gen, out: &mut Vec<u8>) {
    out.push(b'[');
    out.extend_from_slice(g.c.weekday_name());
    out.push(b' ');
    out.extend_from_slice(g.c.month_name());
    out.push(b' ');
    push_padded(out, g.c.day, 2);
    out.push(b' ');
    g.c.time(out);
    g.c.frac(out, b'.', 6);
    out.push(b' ');
    push_u64(out, g.c.year);
    out.extend_from_slice(b"] [");
    let kind = g.r.below(100);
    let (module, main) = match kind {
        0..=19 => ("proxy:error", false),
        20..=34 => ("proxy_http:error", false),
        35..=44 => ("proxy:error", false),
        45..=59 => ("authz_core:error", false),
        60..=64 => ("core:error", false),
        65..=69 => ("autoindex:error", false),
        70..=84 => ("reqtimeout:info", false),
        85..=89 => ("ssl:warn", true),
        90..=92 => ("mpm_event:notice", true),
        93..=94 => ("core:notice", true),
        _ => ("mpm_event:error", true),
    };
    out.extend_from_slice(module.as_bytes());
    out.extend_from_slice(b"] [pid ");
    if main {
        out.push(b'1');
    } else {
        // One of the segment's child processes and threads.
        push_u64(out, g.s.pid + g.r.below(4));
    }
    out.extend_from_slice(b":tid ");
    let tid = g.s.tids[g.r.idx(g.s.tids.len())];
    push_u64(out, tid);
    out.extend_from_slice(b"] ");
    let client = |g: &mut Gen, out: &mut Vec<u8>| {
        out.extend_from_slice(b"[client ");
        g.ip4(out);
        out.push(b':');
        g.port(out);
        out.extend_from_slice(b"] ");
    };
    match kind {
        0..=19 => {
            out.extend_from_slice(b"(111)Connection refused: ");
            client(g, out);
            out.extend_from_slice(b"AH00957: HTTP: attempt to connect to ");
            g.private_ip(out);
            out.extend_from_slice(b":8080 (");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b") failed");
        }
        20..=34 => {
            out.extend_from_slice(b"(70007)The timeout specified has expired: ");
            client(g, out);
            out.extend_from_slice(b"AH01102: error reading status line from remote server ");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b":8080, referer: https://");
            out.extend_from_slice(SERVER.as_bytes());
            out.extend_from_slice(b"/cart");
        }
        35..=44 => {
            client(g, out);
            out.extend_from_slice(b"AH00898: Error reading from remote server returned by ");
            path(g, out);
        }
        45..=59 => {
            client(g, out);
            out.extend_from_slice(b"AH01630: client denied by server configuration: /var/www/html/");
            g.put(out, &[".env", ".git/config", "wp-login.php", "server-status"]);
        }
        60..=64 => {
            client(g, out);
            out.extend_from_slice(b"AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1");
        }
        65..=69 => {
            client(g, out);
            out.extend_from_slice(b"AH01276: Cannot serve directory /var/www/html/: No matching DirectoryIndex (index.html) found, and server-generated directory index forbidden by Options directive");
        }
        70..=84 => {
            client(g, out);
            out.extend_from_slice(b"AH01382: Request header read timeout");
        }
        85..=89 => out.extend_from_slice(b"AH01909: shop.example.com:443:0 server certificate does NOT include an ID which matches the server name"),
        90..=92 => out.extend_from_slice(b"AH00489: Apache/2.4.58 (Unix) OpenSSL/3.0.11 configured -- resuming normal operations"),
        93..=94 => out.extend_from_slice(b"AH00094: Command line: 'httpd -D FOREGROUND'"),
        _ => out.extend_from_slice(b"AH00485: scoreboard is full, not at MaxRequestWorkers"),
    }
}

/// `2024/03/14 21:00:00 [error] 4242#4242: *17 ...`.
pub(super) fn nginx(g: &mut Gen, out: &mut Vec<u8>) {
    g.c.date(out, b'/');
    out.push(b' ');
    g.c.time(out);
    let kind = g.r.below(100);
    let level: &[u8] = match kind {
        0..=54 => b" [error] ",
        55..=74 => b" [warn] ",
        75..=96 => b" [info] ",
        _ => b" [notice] ",
    };
    out.extend_from_slice(level);
    if kind >= 97 {
        // The master process, about itself.
        out.extend_from_slice(b"1#1: ");
        g.put(
            out,
            &[
                "signal 1 (SIGHUP) received from 4242, reconfiguring",
                "reconfiguring",
                "using the \"epoll\" event method",
                "start worker processes",
            ],
        );
        return;
    }
    let pid = g.s.pid + g.r.below(2);
    push_u64(out, pid);
    out.push(b'#');
    push_u64(out, pid);
    out.extend_from_slice(b": *");
    g.s.counter += 1 + g.r.below(40);
    push_u64(out, g.s.counter);
    out.push(b' ');
    let upstream = match kind {
        0..=24 => {
            out.extend_from_slice(b"upstream timed out (110: Connection timed out) while reading response header from upstream");
            true
        }
        25..=39 => {
            out.extend_from_slice(
                b"connect() failed (111: Connection refused) while connecting to upstream",
            );
            true
        }
        40..=49 => {
            out.extend_from_slice(b"open() \"/usr/share/nginx/html/");
            g.put(out, &["favicon.ico", "robots.txt", "apple-touch-icon.png"]);
            out.extend_from_slice(b"\" failed (2: No such file or directory)");
            false
        }
        50..=54 => {
            out.extend_from_slice(b"limiting requests, excess: ");
            g.num(out, 10, 40);
            out.extend_from_slice(b".");
            push_padded(out, g.r.below(1000), 3);
            out.extend_from_slice(b" by zone \"api\"");
            false
        }
        55..=69 => {
            out.extend_from_slice(b"an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/");
            g.num(out, 0, 10);
            out.push(b'/');
            push_padded(out, g.r.below(100), 2);
            out.push(b'/');
            push_padded(out, g.s.counter, 10);
            out.extend_from_slice(b" while reading upstream");
            true
        }
        70..=74 => {
            out.extend_from_slice(b"a client request body is buffered to a temporary file /var/cache/nginx/client_temp/");
            push_padded(out, g.s.counter, 10);
            false
        }
        75..=89 => {
            out.extend_from_slice(b"client closed connection while waiting for request, client: ");
            g.ip4(out);
            out.extend_from_slice(b", server: 0.0.0.0:443");
            return;
        }
        _ => {
            out.extend_from_slice(b"SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: ");
            g.ip4(out);
            out.extend_from_slice(b", server: 0.0.0.0:443");
            return;
        }
    };
    out.extend_from_slice(b", client: ");
    g.ip4(out);
    out.extend_from_slice(b", server: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b", request: \"");
    let method = if g.chance(0.3) { "POST " } else { "GET " };
    out.extend_from_slice(method.as_bytes());
    let p0 = out.len();
    path(g, out);
    let p1 = out.len();
    out.extend_from_slice(b" HTTP/1.1\"");
    if upstream {
        out.extend_from_slice(b", upstream: \"http://");
        g.private_ip(out);
        out.extend_from_slice(b":8080");
        out.extend_from_within(p0..p1);
        out.push(b'"');
    }
    out.extend_from_slice(b", host: \"");
    out.extend_from_slice(SERVER.as_bytes());
    out.push(b'"');
}
