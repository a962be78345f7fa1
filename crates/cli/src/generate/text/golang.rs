//! Go programs: klog, the Kubernetes components' logger (`Lmmdd
//! hh:mm:ss.uuuuuu threadid file:line] msg`, the id `%7d`, structured
//! `"message" key="value"` pairs), and the standard `log` package with its
//! flag sets (`2024/03/14 21:00:00 msg`; with `Lmicroseconds|Lshortfile`
//! `2024/03/14 21:00:00.123456 server.go:87: msg`; with a prefix
//! `payment: 2024/03/14 ...`), including net/http's `http: panic serving`
//! with its goroutine dump.

use super::super::encode::{push_padded, push_u64};
use super::super::pools::{DEBUG, ERROR, WARN};
use super::{Gen, digits};

/// `E0314 21:00:00.123456    4242 controller.go:123] "sync failed" ...`.
pub(super) fn klog(g: &mut Gen, out: &mut Vec<u8>) {
    let level = g.level();
    out.push(match level {
        ERROR => b'E',
        WARN => b'W',
        _ => b'I',
    });
    push_padded(out, g.c.month, 2);
    push_padded(out, g.c.day, 2);
    out.push(b' ');
    g.c.time(out);
    g.c.frac(out, b'.', 6);
    out.push(b' ');
    let pid = g.s.pid;
    for _ in digits(pid)..7 {
        out.push(b' ');
    }
    push_u64(out, pid);
    out.push(b' ');
    let kubelet = g.s.variant.is_multiple_of(2);
    match (level, kubelet) {
        (ERROR, true) => {
            out.extend_from_slice(b"pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b"\\\" with CrashLoopBackOff: \\\"back-off 5m0s restarting failed container=");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b" pod=");
            g.pod(out);
            out.extend_from_slice(b"_shop(");
            g.uuid(out);
            out.extend_from_slice(b")\\\"\" pod=\"shop/");
            g.pod(out);
            out.extend_from_slice(b"\" podUID=\"");
            g.uuid(out);
            out.push(b'"');
        }
        (ERROR, false) => {
            out.extend_from_slice(b"deployment_controller.go:494] \"Error syncing deployment\" deployment=\"shop/");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b"\" err=\"Operation cannot be fulfilled on deployments.apps \\\"");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b"\\\": the object has been modified; please apply your changes to the latest version and try again\"");
        }
        (WARN, _) => out.extend_from_slice(b"reflector.go:547] k8s.io/client-go/informers/factory.go:160: watch of *v1.Pod ended with: an error on the server (\"unable to decode an event from the watch stream: http2: client connection lost\") has prevented the request from succeeding"),
        (_, true) if g.chance(0.4) => {
            out.extend_from_slice(b"prober.go:107] \"Probe failed\" probeType=\"Readiness\" pod=\"shop/");
            g.pod(out);
            out.extend_from_slice(b"\" podUID=\"");
            g.uuid(out);
            out.extend_from_slice(b"\" containerName=\"");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b"\" probeResult=\"failure\" output=\"Get \\\"http://10.244.");
            g.num(out, 0, 8);
            out.push(b'.');
            g.num(out, 2, 250);
            out.extend_from_slice(b":8080/healthz\\\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\"");
        }
        (_, true) => {
            out.extend_from_slice(b"kubelet.go:2456] \"SyncLoop (PLEG): event for pod\" pod=\"shop/");
            g.pod(out);
            out.extend_from_slice(b"\" event={\"ID\":\"");
            g.uuid(out);
            out.extend_from_slice(b"\",\"Type\":\"ContainerStarted\",\"Data\":\"");
            g.hex(out, 64);
            out.extend_from_slice(b"\"}");
        }
        (_, false) if level == DEBUG || g.chance(0.5) => {
            out.extend_from_slice(b"replica_set.go:676] \"Finished syncing\" logger=\"replicaset-controller\" kind=\"ReplicaSet\" key=\"shop/");
            // The pod name without its own suffix is its ReplicaSet's.
            let start = out.len();
            g.pod(out);
            let cut = out[start..].iter().rposition(|&b| b == b'-').map_or(out.len(), |p| start + p);
            out.truncate(cut);
            out.extend_from_slice(b"\" duration=\"");
            g.num(out, 1, 40);
            out.push(b'.');
            push_padded(out, g.r.below(1000), 3);
            out.extend_from_slice(b"ms\"");
        }
        _ => {
            out.extend_from_slice(b"event.go:389] \"Event occurred\" object=\"shop/");
            g.pod(out);
            out.extend_from_slice(b"\" fieldPath=\"\" kind=\"Pod\" apiVersion=\"v1\" type=\"Normal\" reason=\"Pulled\" message=\"Container image \\\"registry.shop.example/");
            out.extend_from_slice(g.service().as_bytes());
            out.extend_from_slice(b":2.14.1\\\" already present on machine\"");
        }
    }
}

/// Go's `log`, in one of three flag sets per file.
pub(super) fn golog(g: &mut Gen, out: &mut Vec<u8>) {
    let flags = g.s.variant % 3;
    if flags == 2 {
        out.extend_from_slice(g.service().as_bytes());
        out.extend_from_slice(b": ");
    }
    g.c.date(out, b'/');
    out.push(b' ');
    g.c.time(out);
    if flags == 1 {
        g.c.frac(out, b'.', 6);
        out.push(b' ');
        g.put(
            out,
            &["server.go:87: ", "worker.go:142: ", "gateway.go:311: "],
        );
    } else {
        out.push(b' ');
    }
    let client = |g: &mut Gen, out: &mut Vec<u8>| {
        g.ip4(out);
        out.push(b':');
        g.port(out);
    };
    match g.level() {
        ERROR => {
            if g.chance(0.3) {
                out.extend_from_slice(b"http: panic serving ");
                client(g, out);
                out.extend_from_slice(
                    b": runtime error: invalid memory address or nil pointer dereference",
                );
                goroutine(g, out);
            } else {
                out.extend_from_slice(b"ERROR: capture failed for order ");
                g.order_id(out);
                out.extend_from_slice(b": gateway returned 502");
            }
        }
        WARN => {
            if g.chance(0.6) {
                out.extend_from_slice(b"http: TLS handshake error from ");
                client(g, out);
                out.extend_from_slice(b": EOF");
            } else {
                out.extend_from_slice(b"http: proxy error: context canceled");
            }
        }
        DEBUG => {
            out.extend_from_slice(b"rates: refreshed ");
            g.num(out, 20, 40);
            out.extend_from_slice(b" exchange rates");
        }
        _ => {
            if g.chance(0.7) {
                out.extend_from_slice(b"capture pay_");
                g.hex(out, 24);
                out.extend_from_slice(b" order=");
                g.order_id(out);
                out.extend_from_slice(b" amount=");
                g.money(out);
                out.extend_from_slice(b" took ");
                let ms = g.latency();
                push_u64(out, ms);
                out.extend_from_slice(b"ms");
            } else {
                out.extend_from_slice(b"worker ");
                g.num(out, 1, 9);
                out.extend_from_slice(b": flushed ");
                g.num(out, 1, 500);
                out.extend_from_slice(b" events to kafka in ");
                g.num(out, 2, 90);
                out.extend_from_slice(b"ms");
            }
        }
    }
}

/// The goroutine dump net/http logs after `http: panic serving`.
fn goroutine(g: &mut Gen, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\ngoroutine ");
    g.num(out, 20, 90_000);
    out.extend_from_slice(b" [running]:\n");
    out.extend_from_slice(GOROUTINE.as_bytes());
}

const GOROUTINE: &str = "net/http.(*conn).serve.func1()
\t/usr/local/go/src/net/http/server.go:1898 +0xbe
panic({0x8d5e40?, 0xd0a2f0?})
\t/usr/local/go/src/runtime/panic.go:770 +0x132
main.(*Server).handleCapture(0xc000182000, {0x9b1c58, 0xc0001a2000}, 0xc0001b6000)
\t/app/payment/server.go:129 +0x2f
net/http.HandlerFunc.ServeHTTP(0xc000010018?, {0x9b1c58?, 0xc0001a2000?}, 0xc0001b6000?)
\t/usr/local/go/src/net/http/server.go:2166 +0x29
net/http.(*ServeMux).ServeHTTP(0xc0000f4000?, {0x9b1c58, 0xc0001a2000}, 0xc0001b6000)
\t/usr/local/go/src/net/http/server.go:2683 +0x1ad
net/http.serverHandler.ServeHTTP({0xc0000a8150?}, {0x9b1c58?, 0xc0001a2000?}, 0x6?)
\t/usr/local/go/src/net/http/server.go:3137 +0x8e
net/http.(*conn).serve(0xc0001c0000, {0x9b2a10, 0xc0000a6060})
\t/usr/local/go/src/net/http/server.go:2039 +0x5e8
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3285 +0x4b4";
