//! Tests of custom formats: the shipped `examples/formats.toml` over its
//! sample logs (every column of every row), the column mapping rules and
//! random lines; the file's validation errors are `validation.rs`.

mod fields;
mod validation;

use std::borrow::Cow;

use super::*;
use crate::ingest::format::clf::fuzz_lines;
use crate::time::format_rfc3339_ms;

const SHIPPED: &str = include_str!("../../../../../../../examples/formats.toml");
const NGINX_LOG: &str = include_str!("../../../../../../../examples/formats/nginx-timed.log");
const SPRING_LOG: &str = include_str!("../../../../../../../examples/formats/spring-boot.log");

const T0: i64 = 1_710_450_000_000; // 2024-03-14T21:00:00Z

fn ctx() -> Context {
    Context {
        reference_ms: Some(T0),
        ..Context::default()
    }
}

fn shipped() -> Formats {
    Formats::from_toml(SHIPPED).unwrap()
}

fn one(toml: &str) -> CustomFormat {
    let f = Formats::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    f.iter().next().unwrap().clone()
}

/// Every value a record holds, as `column=value` (attributes as
/// `attributes.key=value`), in schema order: comparing it checks that no
/// column is set that should not be.
fn row(r: &Record<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(ts) = r.ts {
        out.push(format!("ts={}", format_rfc3339_ms(ts)));
    }
    if let Some(l) = r.level {
        out.push(format!("level={}", l.as_str()));
    }
    for t in TextField::ALL {
        if let Some(v) = r.get(t) {
            out.push(format!("{}={v}", t.column()));
        }
    }
    if let Some(s) = r.http_status {
        out.push(format!("http_status={s}"));
    }
    if let Some(l) = r.latency_ms {
        out.push(format!("latency_ms={l}"));
    }
    if let Some(b) = r.bytes_sent {
        out.push(format!("bytes_sent={b}"));
    }
    if let Some(a) = r.amount {
        out.push(format!("amount={a}"));
    }
    for (k, v) in &r.attributes {
        out.push(format!("attributes.{k}={v}"));
    }
    assert_eq!(
        r.source_format, None,
        "a custom row is never a forwarded one"
    );
    out
}

fn parsed(f: &CustomFormat, line: &str) -> Vec<String> {
    let mut rec = Record::default();
    f.parse(line, &mut rec, &ctx())
        .unwrap_or_else(|e| panic!("{line}: {e:?}"));
    row(&rec)
}

/// Lines grouped into events the way the pipeline is meant to:
/// a line that does not start an event joins the previous one.
fn events<'a>(f: &CustomFormat, text: &'a str) -> Vec<&'a str> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        match (f.starts_event(body), out.last_mut()) {
            (Some(false), Some(last)) => last.1 = at + body.len(),
            _ if body.trim().is_empty() => {}
            _ => out.push((at, at + body.len())),
        }
        at += line.len();
    }
    out.into_iter().map(|(s, e)| &text[s..e]).collect()
}

#[test]
fn shipped_file() {
    let formats = shipped();
    let names: Vec<&str> = formats.iter().map(CustomFormat::name).collect();
    assert_eq!(names, ["nginx-timed", "spring-boot"]);
    assert_eq!(formats.len(), 2);
    let nginx = formats.get("nginx-timed").unwrap();
    assert_eq!(nginx.time_layout(), Some("%d/%b/%Y:%H:%M:%S %z"));
    assert_eq!(nginx.zone(), None);
    assert!(!nginx.is_multiline());
    assert_eq!(nginx.starts_event("anything"), None);
    let spring = formats.get("spring-boot").unwrap();
    assert_eq!(
        spring.zone(),
        Some(&"Europe/Berlin".parse::<Zone>().unwrap())
    );
    assert_eq!(
        spring.starts_event("2024-03-14T22:00:00.123+01:00  INFO"),
        Some(true)
    );
    assert_eq!(
        spring.starts_event("\tat com.example.Shop.pay(Shop.java:1)"),
        Some(false)
    );
    assert_eq!(
        spring.starts_event("x 2024-03-14T22:00:00"),
        Some(false),
        "anchored"
    );
    assert!(formats.get("nginx").is_none());

    for (key, want) in [
        ("nginx/access.log", Some("nginx-timed")),
        (
            "s3://raw/prod/nginx/2024/03/14/access.log.gz",
            Some("nginx-timed"),
        ),
        ("web-1.access.log", Some("nginx-timed")),
        ("/var/log/access.log.1", Some("nginx-timed")),
        ("spring/app.log", Some("spring-boot")),
        ("logs/spring.log", Some("spring-boot")),
        ("spring-boot.log", Some("spring-boot")),
        ("examples/formats/nginx-timed.log", None),
        ("app/events.ndjson", None),
    ] {
        assert_eq!(
            formats.for_source(key).map(CustomFormat::name),
            want,
            "{key}"
        );
    }
    assert_eq!(nginx.source_match("prod/nginx/a.log"), Some("nginx/"));
    assert_eq!(
        spring.sources().collect::<Vec<_>>(),
        ["spring/", "spring.log*", "spring*.log"]
    );
}

#[test]
fn nginx_sample_every_column() {
    let formats = shipped();
    let f = formats.get("nginx-timed").unwrap();
    let lines: Vec<&str> = NGINX_LOG.lines().collect();
    let want: [&[&str]; 5] = [
        &[
            "ts=2024-03-14T21:00:01.000Z",
            "level=INFO",
            "service=nginx",
            "message=LINE",
            "http_method=GET",
            "http_path=/api/cart?id=42",
            "client_ip=203.0.113.7",
            "user_agent=Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
            "request_id=5f2b9c8e1d4a4f0b9e7c3a2d1b0f9e8d",
            "http_status=200",
            "latency_ms=42",
            "bytes_sent=1534",
            "attributes.http_version=HTTP/1.1",
            "attributes.referer=https://shop.example.com/cart",
            "attributes.upstream_connect_time=0.001",
        ],
        &[
            "ts=2024-03-14T21:00:02.000Z",
            "level=ERROR",
            "service=nginx",
            "message=LINE",
            "http_method=POST",
            "http_path=/api/checkout",
            "client_ip=198.51.100.23",
            "user_agent=curl/8.5.0",
            "user_id=alice",
            "request_id=0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "http_status=502",
            "latency_ms=30001",
            "bytes_sent=157",
            "attributes.http_version=HTTP/2.0",
            "attributes.referer=https://shop.example.com/checkout",
            "attributes.upstream_connect_time=0.002, 0.001",
        ],
        &[
            "ts=2024-03-14T21:00:03.000Z",
            "level=WARN",
            "service=nginx",
            "message=LINE",
            "client_ip=192.0.2.44",
            "request_id=9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
            "http_status=400",
            "latency_ms=0",
            "bytes_sent=157",
            r"attributes.request=\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03",
        ],
        &[
            "ts=2024-03-14T21:00:04.000Z",
            "level=INFO",
            "service=nginx",
            "message=LINE",
            "http_method=GET",
            "http_path=/healthz",
            "client_ip=10.0.0.5",
            "user_agent=kube-probe/1.29",
            "request_id=1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f",
            "http_status=204",
            "latency_ms=0",
            "bytes_sent=0",
            "attributes.http_version=HTTP/1.1",
            "attributes.upstream_connect_time=0.000",
        ],
        &[
            "ts=2024-03-14T21:00:05.000Z",
            "level=INFO",
            "service=nginx",
            "message=LINE",
            "http_method=GET",
            "http_path=/static/app.js",
            "client_ip=2001:db8::1",
            "user_agent=Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
            "user_id=bob",
            "request_id=7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a",
            "http_status=304",
            "latency_ms=3",
            "bytes_sent=0",
            "attributes.http_version=HTTP/1.1",
            "attributes.referer=https://shop.example.com/",
            "attributes.upstream_connect_time=0.000",
        ],
    ];
    assert_eq!(lines.len(), want.len());
    for (line, want) in lines.iter().zip(want) {
        let want: Vec<String> = want
            .iter()
            .map(|w| w.replace("message=LINE", &format!("message={line}")))
            .collect();
        assert_eq!(parsed(f, line), want, "{line}");
    }
}

#[test]
fn spring_boot_sample_every_column() {
    let formats = shipped();
    let f = formats.get("spring-boot").unwrap();
    let events = events(f, SPRING_LOG);
    let common = |ts: &str, level: &str, thread: &str, logger: &str, msg: &str| {
        vec![
            format!("ts={ts}"),
            format!("level={level}"),
            "service=shop".into(),
            format!("message={msg}"),
            "attributes.pid=12345".into(),
            format!("attributes.thread={thread}"),
            format!("attributes.logger={logger}"),
        ]
    };
    let trace = |mut v: Vec<String>, trace: &str, span: &str| {
        v.insert(4, format!("trace_id={trace}"));
        v.insert(7, format!("attributes.span_id={span}"));
        v
    };
    let stack = SPRING_LOG
        .split_once("with root cause")
        .unwrap()
        .1
        .split("\n2024-03-14T22:00:05")
        .next()
        .unwrap()
        .trim_end();
    assert!(stack.ends_with("(Thread.java:1583) ~[na:na]"), "{stack}");
    let want = [
        common(
            "2024-03-14T21:00:00.123Z",
            "INFO",
            "main",
            "c.e.shop.ShopApplication",
            "Starting ShopApplication v1.4.2 using Java 21.0.2 with PID 12345 (/opt/shop/shop.jar started by shop in /opt/shop)",
        ),
        common(
            "2024-03-14T21:00:00.131Z",
            "INFO",
            "main",
            "c.e.shop.ShopApplication",
            "No active profile set, falling back to 1 default profile: \"default\"",
        ),
        common(
            "2024-03-14T21:00:02.789Z",
            "INFO",
            "main",
            "o.s.b.w.embedded.tomcat.TomcatWebServer",
            "Tomcat started on port 8080 (http) with context path '/'",
        ),
        trace(
            common(
                "2024-03-14T21:00:03.001Z",
                "WARN",
                "nio-8080-exec-1",
                "c.e.shop.payment.PaymentClient",
                "payment provider slow: 2816 ms for order 1042",
            ),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
        ),
        trace(
            common(
                "2024-03-14T21:00:04.250Z",
                "ERROR",
                "nio-8080-exec-3",
                "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                &format!(
                    "Servlet.service() for servlet [dispatcherServlet] in context with path [] \
                     threw exception [Request processing failed: java.lang.IllegalStateException: \
                     payment provider timeout] with root cause{stack}"
                ),
            ),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "b7ad6b7169203331",
        ),
        common(
            "2024-03-14T21:00:05.000Z",
            "DEBUG",
            "scheduling-1",
            "c.e.shop.cart.CartCleanup",
            "removed 3 abandoned carts",
        ),
        common(
            "2024-03-14T21:00:06.500Z",
            "INFO",
            "ionShutdownHook",
            "o.s.b.w.e.tomcat.GracefulShutdown",
            "Commencing graceful shutdown. Waiting for active requests to complete",
        ),
    ];
    assert_eq!(events.len(), want.len(), "{events:#?}");
    for (event, want) in events.iter().zip(want) {
        assert_eq!(parsed(f, event), want, "{event}");
    }
    // The stack trace's event keeps borrowing the input.
    let mut rec = Record::default();
    f.parse(events[4], &mut rec, &ctx()).unwrap();
    assert!(matches!(
        rec.text[TextField::Message as usize],
        Some(Cow::Borrowed(_))
    ));
}

#[test]
fn spring_boot_older_layouts() {
    let formats = shipped();
    let f = formats.get("spring-boot").unwrap();
    // Boot 2.x: no offset (the format's Europe/Berlin, whatever the
    // ingest's zone), no application name.
    let line = "2024-03-14 22:00:01.123  INFO 4711 --- [           main] c.e.Legacy                               : up";
    let mut rec = Record::default();
    let utc_ingest = Context {
        zone: "+05:00".parse().unwrap(),
        reference_ms: Some(T0),
    };
    f.parse(line, &mut rec, &utc_ingest).unwrap();
    assert_eq!(
        row(&rec),
        [
            "ts=2024-03-14T21:00:01.123Z",
            "level=INFO",
            "message=up",
            "attributes.pid=4711",
            "attributes.thread=main",
            "attributes.logger=c.e.Legacy",
        ]
    );
    // Boot 3.0: an offset, no application name.
    let line = "2024-03-14T21:00:01.123Z ERROR 1 --- [nio-8080-exec-9] c.e.Api : boom";
    assert_eq!(
        parsed(f, line),
        [
            "ts=2024-03-14T21:00:01.123Z",
            "level=ERROR",
            "message=boom",
            "attributes.pid=1",
            "attributes.thread=nio-8080-exec-9",
            "attributes.logger=c.e.Api",
        ]
    );
}

#[test]
fn captures_to_columns() {
    let f = one(r#"
[[format]]
name = "kv"
regex = '(?P<time>\S+) (?P<level>\S+) (?P<http_status>\S+) (?P<bytes_sent>\S+) (?P<latency_us>\S+) (?P<amount>\S+) (?P<currency>\S+) (?P<host>\S+) (?P<zone_name>\S+)(?: (?P<message>.*))?'
timezone = "+01:00"
service = "billing"
"#);
    assert_eq!(
        parsed(
            &f,
            "2024-03-14T22:00:01 warning 201 2048 1500 19.99 EUR web-1 eu-west-1a paid"
        ),
        [
            "ts=2024-03-14T21:00:01.000Z",
            "level=WARN",
            "service=billing",
            "message=paid",
            "host=web-1",
            "currency=EUR",
            "http_status=201",
            "latency_ms=1.5",
            "bytes_sent=2048",
            "amount=19.99",
            "attributes.zone_name=eu-west-1a",
        ]
    );
    // Values a column cannot hold are kept, under the capture's name; - and
    // empty are null; no message capture match: the message is null.
    assert_eq!(
        parsed(&f, "- loud 2xx -12 fast NaN - - -"),
        [
            "service=billing",
            "attributes.level=loud",
            "attributes.http_status=2xx",
            "attributes.bytes_sent=-12",
            "attributes.latency_us=fast",
            "attributes.amount=NaN",
        ]
    );
    assert_eq!(
        f.captures(),
        [
            ("time", "ts (recognized)".to_owned()),
            ("level", "level".into()),
            ("http_status", "http_status".into()),
            ("bytes_sent", "bytes_sent".into()),
            ("latency_us", "latency_ms (from latency_us)".into()),
            ("amount", "amount".into()),
            ("currency", "currency".into()),
            ("host", "host".into()),
            ("zone_name", "attributes.zone_name".into()),
            ("message", "message".into()),
        ]
    );
}

#[test]
fn message_and_time_defaults() {
    // No message capture: the whole line (the whole event); no time
    // capture: no time (the source's applies); ingest zone for zone-less
    // times when the format has none.
    let f = one(r#"
[[format]]
name = "plain"
regex = '\[(?P<thread>[^\]]+)\] (?P<ts_text>\S+ \S+)'
time_field = "ts_text"
multiline_start = '\['
"#);
    let line = "[worker-2] 2024-03-14 22:00:01 job done";
    let berlin = Context {
        zone: "Europe/Berlin".parse().unwrap(),
        reference_ms: Some(T0),
    };
    let mut rec = Record::default();
    f.parse(line, &mut rec, &berlin).unwrap();
    assert_eq!(
        row(&rec),
        [
            "ts=2024-03-14T21:00:01.000Z",
            &format!("message={line}"),
            "attributes.thread=worker-2",
        ]
    );
    let event = "[worker-2] 2024-03-14 21:00:01 failed\r\n  cause: disk full\r\n";
    assert_eq!(
        parsed(&f, event),
        [
            "ts=2024-03-14T21:00:01.000Z",
            "message=[worker-2] 2024-03-14 21:00:01 failed\r\n  cause: disk full",
            "attributes.thread=worker-2",
        ]
    );
    let f = one("[[format]]\nname = \"t\"\nregex = '(?P<host>\\S+) (?P<message>\\S+) end'\n");
    assert_eq!(
        parsed(&f, "web-1 first end\nsecond line"),
        ["message=first\nsecond line", "host=web-1"]
    );
    assert_eq!(
        parsed(&f, "web-1 - end\nsecond"),
        ["message=second", "host=web-1"]
    );
    assert_eq!(parsed(&f, "web-1 - end"), ["host=web-1"]);
}

#[test]
fn rejections() {
    let formats = shipped();
    let nginx = formats.get("nginx-timed").unwrap();
    let mut rec = Record::default();
    let r = nginx.parse("2024-03-14 INFO not an access log", &mut rec, &ctx());
    assert_eq!(
        r,
        Err(Reject::Malformed(
            "the line does not match format \"nginx-timed\"".into()
        ))
    );
    assert_eq!(r.unwrap_err().reason(), "malformed");
    // The regex is anchored: a match further in is no match.
    let line = NGINX_LOG.lines().next().unwrap();
    let mut rec = Record::default();
    assert!(
        nginx
            .parse(&format!("junk {line}"), &mut rec, &ctx())
            .is_err()
    );
    // A time that does not fit the layout.
    let bad = line.replace("14/Mar/2024:22:00:01 +0100", "2024-03-14T22:00:01Z");
    let mut rec = Record::default();
    let Err(Reject::InvalidTimestamp(why)) = nginx.parse(&bad, &mut rec, &ctx()) else {
        panic!("{bad}")
    };
    assert!(why.contains("time_layout"), "{why}");
    // An impossible date, recognized without a layout.
    let spring = formats.get("spring-boot").unwrap();
    let mut rec = Record::default();
    let r = spring.parse(
        "2024-02-30T22:00:00.000+01:00  INFO 1 --- [main] c.e.A : x",
        &mut rec,
        &ctx(),
    );
    assert!(
        matches!(r, Err(Reject::InvalidTimestamp(ref w)) if w.contains("no such day")),
        "{r:?}"
    );
}

#[test]
fn verbose_regex_with_a_trailing_comment() {
    let f = one(
        "[[format]]\nname = \"v\"\nregex = '''(?x)\n  (?P<level>[A-Z]+) \\s+  # the level\n  (?P<message>.*)   # the rest'''\n",
    );
    assert_eq!(
        parsed(&f, "WARN  low disk"),
        ["level=WARN", "message=low disk"]
    );
}

#[test]
fn many_formats_on_one_thread() {
    // More formats than a thread keeps capture slots for, used in turn.
    let formats: Vec<CustomFormat> = (0..LOCATIONS_KEPT + 4)
        .map(|i| {
            let caps: String = (0..=i).map(|k| format!("(?P<c{k}>x)")).collect();
            one(&format!("[[format]]\nname = \"f{i}\"\nregex = '{caps}'\n"))
        })
        .collect();
    for _ in 0..3 {
        for (i, f) in formats.iter().enumerate() {
            let line = "x".repeat(i + 1);
            let mut rec = Record::default();
            f.parse(&line, &mut rec, &ctx()).unwrap();
            assert_eq!(rec.attributes.len(), i + 1);
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut formats: Vec<CustomFormat> = shipped().iter().cloned().collect();
    formats.push(one(
        "[[format]]\nname = \"loose\"\nregex = '(?P<time>\\S*) ?(?P<level>\\S*) ?(?P<http_status>\\S*) ?(?P<latency_s>\\S*) ?(?P<message>.*)'\n",
    ));
    formats.push(one(
        "[[format]]\nname = \"layout\"\nregex = '(?P<time>[^|]*)\\|(?P<amount>[^|]*)'\ntime_layout = \"%b %e %H:%M:%S%.f\"\n",
    ));
    let mut lines = fuzz_lines(
        b"[]-/:. ,TZ+0123456789\"ERORWANINFOlevl=|\t\n\r\xc3\xa9MarFeb---",
        3000,
    );
    lines.extend(NGINX_LOG.lines().chain(SPRING_LOG.lines()).flat_map(|l| {
        (0..=l.len())
            .filter(|&i| l.is_char_boundary(i))
            .map(|i| l[..i].to_owned())
            .collect::<Vec<_>>()
    }));
    for line in &lines {
        for f in &formats {
            let mut rec = Record::default();
            match f.parse(line, &mut rec, &ctx()) {
                Ok(()) => {}
                Err(Reject::Malformed(_) | Reject::InvalidTimestamp(_)) => {}
                Err(other) => panic!("{line:?}: {other:?}"),
            }
            let _ = f.starts_event(line);
        }
    }
}

#[test]
fn shareable_across_threads() {
    fn shared<T: Send + Sync + Clone + std::fmt::Debug>() {}
    shared::<Formats>();
    shared::<CustomFormat>();
    let formats = shipped();
    let line = NGINX_LOG.lines().next().unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(parsed(formats.get("nginx-timed").unwrap(), line).len(), 15));
        }
    });
}
