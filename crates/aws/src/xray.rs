//! The functions' spans in AWS X-Ray.
//!
//! With a function's tracing on (Terraform sets `tracing_config` to
//! `Active`), Lambda records each invocation as a segment and hands the
//! function its trace header, which `lambda_runtime` puts on the span of
//! the invocation (`xrayTraceId`). This layer sends every span opened
//! within a sampled invocation (an SQS message, an object, a Kinesis batch,
//! an evaluation, the hourly summary) to the X-Ray daemon Lambda runs
//! (`AWS_XRAY_DAEMON_ADDRESS`, UDP) as a subsegment of that segment,
//! nested as the spans are, with the span's fields as metadata and a fault
//! when an error was logged inside it. Nothing is sent for an invocation
//! that is not sampled, nor where no daemon address is set (locally).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The field `lambda_runtime` gives the invocation's span.
const TRACE_FIELD: &str = "xrayTraceId";

/// Sends spans to the X-Ray daemon.
#[derive(Debug)]
pub struct XrayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
    ids: RandomState,
    counter: AtomicU64,
}

/// The trace an invocation belongs to (`Root=...;Parent=...;Sampled=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: String,
    pub sampled: bool,
}

impl TraceHeader {
    pub fn parse(header: &str) -> Option<TraceHeader> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_string()),
                Some(("Parent", v)) => parent = Some(v.to_string()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(TraceHeader {
            root: root?,
            parent: parent?,
            sampled,
        })
    }
}

/// What a span is to X-Ray: the invocation itself, or a subsegment of it.
enum Node {
    Invocation(Arc<TraceHeader>),
    Subsegment(Box<Subsegment>),
}

struct Subsegment {
    trace: Arc<TraceHeader>,
    id: String,
    parent_id: String,
    name: String,
    start: f64,
    fields: BTreeMap<String, Value>,
    fault: bool,
}

/// The span's fields, as JSON values.
#[derive(Default)]
struct Fields(BTreeMap<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port`.
pub fn daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
        .unwrap_or(value.trim());
    udp.to_socket_addrs().ok()?.next()
}

impl XrayLayer {
    /// A layer sending to `daemon`; `None` when no socket can be opened.
    pub fn new(daemon: SocketAddr) -> Option<XrayLayer> {
        let local: SocketAddr = if daemon.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).ok()?;
        Some(XrayLayer {
            socket,
            daemon,
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
        })
    }

    /// The layer for the daemon Lambda names, when it names one.
    pub fn from_env() -> Option<XrayLayer> {
        let addr = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
        XrayLayer::new(daemon_address(&addr)?)
    }

    fn new_id(&self) -> String {
        let mut h = self.ids.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        format!("{:016x}", h.finish())
    }

    fn send(&self, sub: &Subsegment, end: f64) {
        let mut doc = json!({
            "name": sub.name,
            "id": sub.id,
            "trace_id": sub.trace.root,
            "parent_id": sub.parent_id,
            "start_time": sub.start,
            "end_time": end,
            "type": "subsegment",
        });
        if !sub.fields.is_empty() {
            doc["metadata"] = json!({ "loglake": sub.fields });
        }
        if sub.fault {
            doc["fault"] = Value::Bool(true);
        }
        let packet = format!("{{\"format\":\"json\",\"version\":1}}\n{doc}");
        // A lost datagram loses one subsegment, never the invocation.
        let _ = self.socket.send_to(packet.as_bytes(), self.daemon);
    }
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(Value::String(header)) = fields.0.get(TRACE_FIELD) {
            if let Some(trace) = TraceHeader::parse(header) {
                span.extensions_mut()
                    .insert(Node::Invocation(Arc::new(trace)));
            }
            return;
        }
        // The nearest enclosing span X-Ray knows: the invocation, or a
        // subsegment of it.
        let parent = span
            .scope()
            .skip(1)
            .find_map(|s| match s.extensions().get::<Node>() {
                Some(Node::Invocation(t)) => Some((t.clone(), t.parent.clone())),
                Some(Node::Subsegment(sub)) => Some((sub.trace.clone(), sub.id.clone())),
                None => None,
            });
        let Some((trace, parent_id)) = parent else {
            return;
        };
        if !trace.sampled {
            return;
        }
        span.extensions_mut()
            .insert(Node::Subsegment(Box::new(Subsegment {
                trace,
                id: self.new_id(),
                parent_id,
                name: span.name().to_string(),
                start: now_s(),
                fields: fields.0,
                fault: false,
            })));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(Node::Subsegment(sub)) = span.extensions_mut().get_mut::<Node>() {
            let mut fields = Fields::default();
            values.record(&mut fields);
            sub.fields.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        if let Some(span) = ctx.event_span(event)
            && let Some(Node::Subsegment(sub)) = span.extensions_mut().get_mut::<Node>()
        {
            sub.fault = true;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if let Some(Node::Subsegment(sub)) = span.extensions().get::<Node>() {
            self.send(sub, now_s());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::{error, info_span};
    use tracing_subscriber::layer::SubscriberExt;

    fn daemon() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        (socket, addr)
    }

    fn received(socket: &UdpSocket) -> Vec<Value> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            let (header, doc) = text.split_once('\n').unwrap();
            assert_eq!(header, r#"{"format":"json","version":1}"#);
            out.push(serde_json::from_str(doc).unwrap());
        }
        out
    }

    const HEADER: &str =
        "Root=1-6b1118fd-983c88a28d8e9679d92c126a;Parent=c55fdc3a906f96dd;Sampled=1";

    #[test]
    fn spans_of_a_sampled_invocation_become_nested_subsegments() {
        let (socket, addr) = daemon();
        let subscriber = tracing_subscriber::registry().with(XrayLayer::new(addr).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            let invoke = info_span!(
                "Lambda runtime invoke",
                requestId = "r1",
                xrayTraceId = HEADER
            );
            let _i = invoke.enter();
            let message = info_span!("message", message_id = "m-1");
            let _m = message.enter();
            let object = info_span!("object", bucket = "raw", key = "a/b.gz", size = 42u64);
            let _o = object.enter();
            error!("the object failed");
        });
        let docs = received(&socket);
        assert_eq!(docs.len(), 2, "{docs:?}");
        let (object, message) = (&docs[0], &docs[1]);
        assert_eq!(object["name"], "object");
        assert_eq!(message["name"], "message");
        for d in &docs {
            assert_eq!(d["trace_id"], "1-6b1118fd-983c88a28d8e9679d92c126a");
            assert_eq!(d["type"], "subsegment");
            assert_eq!(d["id"].as_str().unwrap().len(), 16);
            assert!(d["end_time"].as_f64().unwrap() >= d["start_time"].as_f64().unwrap());
        }
        assert_eq!(
            message["parent_id"], "c55fdc3a906f96dd",
            "under the function's segment"
        );
        assert_eq!(
            object["parent_id"], message["id"],
            "nested as the spans are"
        );
        assert_eq!(object["metadata"]["loglake"]["key"], "a/b.gz");
        assert_eq!(object["metadata"]["loglake"]["size"], 42);
        assert_eq!(object["fault"], true);
        assert!(message.get("fault").is_none());
    }

    #[test]
    fn nothing_is_sent_unsampled_or_outside_an_invocation() {
        let (socket, addr) = daemon();
        let subscriber = tracing_subscriber::registry().with(XrayLayer::new(addr).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            let unsampled = HEADER.replace("Sampled=1", "Sampled=0");
            let invoke = info_span!("Lambda runtime invoke", xrayTraceId = unsampled.as_str());
            let _i = invoke.enter();
            drop(info_span!("message").entered());
        });
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(XrayLayer::new(addr).unwrap()),
            || drop(info_span!("startup").entered()),
        );
        assert!(received(&socket).is_empty());
    }

    #[test]
    fn headers_and_addresses() {
        let t = TraceHeader::parse(HEADER).unwrap();
        assert_eq!(
            (t.root.as_str(), t.parent.as_str(), t.sampled),
            (
                "1-6b1118fd-983c88a28d8e9679d92c126a",
                "c55fdc3a906f96dd",
                true
            )
        );
        assert!(TraceHeader::parse("Root=1-2-3").is_none(), "no parent");
        assert_eq!(
            daemon_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000".parse().unwrap())
        );
        assert_eq!(
            daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001".parse().unwrap())
        );
        assert_eq!(daemon_address("nonsense"), None);
    }
}
