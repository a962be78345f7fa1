//! Python's `logging` with the cookbook's format, `%(asctime)s - %(name)s -
//! %(levelname)s - %(message)s` (`2024-03-14 21:00:00,123 - checkout -
//! WARNING - ...`), and the traceback `logger.exception` appends:
//! `Traceback (most recent call last):`, `  File "...", line N, in f` and the
//! source line under it, then `ValueError: ...`; now and then a chained one
//! ("During handling of the above exception, ...", with its blank lines).

use super::super::pools::{DEBUG, ERROR, SEARCH_TERMS, WARN};
use super::Gen;

/// `%(levelname)s`, by the index of `pools::LEVELS`.
const LEVELS: [&str; 4] = ["INFO", "DEBUG", "WARNING", "ERROR"];

/// One traceback: its frames (file, line, function, source line) and the
/// exception line.
struct Traceback {
    frames: &'static [(&'static str, u32, &'static str, &'static str)],
    last: &'static str,
}

const SITE: &str = "/usr/local/lib/python3.12/site-packages";

const TRACEBACKS: [Traceback; 5] = [
    Traceback {
        frames: &[
            (
                "/app/shop/payments/service.py",
                88,
                "capture",
                "resp = self.session.post(url, json=body, timeout=5)",
            ),
            (
                "{site}/requests/sessions.py",
                637,
                "post",
                "return self.request(\"POST\", url, data=data, json=json, **kwargs)",
            ),
            (
                "{site}/requests/sessions.py",
                589,
                "request",
                "resp = self.send(prep, **send_kwargs)",
            ),
            (
                "{site}/requests/sessions.py",
                703,
                "send",
                "r = adapter.send(request, **kwargs)",
            ),
            (
                "{site}/requests/adapters.py",
                713,
                "send",
                "raise ReadTimeout(e, request=request)",
            ),
        ],
        last: "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out. (read timeout=5)",
    },
    Traceback {
        frames: &[
            (
                "{site}/flask/app.py",
                1473,
                "wsgi_app",
                "response = self.full_dispatch_request()",
            ),
            (
                "{site}/flask/app.py",
                882,
                "full_dispatch_request",
                "rv = self.handle_user_exception(e)",
            ),
            (
                "{site}/flask/app.py",
                880,
                "full_dispatch_request",
                "rv = self.dispatch_request()",
            ),
            (
                "{site}/flask/app.py",
                865,
                "dispatch_request",
                "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)  # type: ignore[no-any-return]",
            ),
            (
                "/app/shop/api/orders.py",
                54,
                "create_order",
                "qty = int(payload[\"quantity\"])",
            ),
        ],
        last: "ValueError: invalid literal for int() with base 10: 'two'",
    },
    Traceback {
        frames: &[(
            "/app/shop/cart/views.py",
            112,
            "add_item",
            "sku = request.json[\"sku\"]",
        )],
        last: "KeyError: 'sku'",
    },
    Traceback {
        frames: &[
            (
                "{site}/celery/app/trace.py",
                453,
                "trace_task",
                "R = retval = fun(*args, **kwargs)",
            ),
            (
                "/app/shop/tasks.py",
                31,
                "sync_stock",
                "rows = session.execute(select(Stock).where(Stock.sku.in_(skus))).all()",
            ),
            (
                "{site}/sqlalchemy/orm/session.py",
                2362,
                "execute",
                "return self._execute_internal(",
            ),
            (
                "{site}/sqlalchemy/engine/base.py",
                1967,
                "_exec_single_context",
                "self.dialect.do_execute(",
            ),
            (
                "{site}/sqlalchemy/engine/default.py",
                924,
                "do_execute",
                "cursor.execute(statement, parameters)",
            ),
        ],
        last: "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
    },
    Traceback {
        frames: &[
            (
                "/app/shop/cache.py",
                42,
                "get",
                "return self._client.get(key)",
            ),
            (
                "{site}/redis/commands/core.py",
                1829,
                "get",
                "return self.execute_command(\"GET\", name, keys=[name])",
            ),
            (
                "{site}/redis/client.py",
                559,
                "execute_command",
                "conn = self.connection or pool.get_connection(command_name, **options)",
            ),
            (
                "{site}/redis/connection.py",
                353,
                "connect",
                "raise ConnectionError(self._error_message(e))",
            ),
        ],
        last: "redis.exceptions.ConnectionError: Error 111 connecting to cache-01:6379. Connection refused.",
    },
];

/// `2024-03-14 21:00:00,123 - checkout - WARNING - ...`.
pub(super) fn line(g: &mut Gen, out: &mut Vec<u8>) {
    let level = g.level();
    let svc = g.service();
    let app = svc.strip_suffix("-api").unwrap_or(svc).as_bytes();
    g.c.date(out, b'-');
    out.push(b' ');
    g.c.time(out);
    g.c.frac(out, b',', 3);
    out.extend_from_slice(b" - ");
    let (logger, rest): (&[u8], &[u8]) = match (level, g.r.below(3)) {
        (ERROR, 0) => (app, b".api"),
        (ERROR, 1) => (app, b".service"),
        (ERROR, _) => (b"celery.app.trace", b""),
        (WARN, 0) => (b"urllib3.connectionpool", b""),
        (WARN, _) => (app, b".service"),
        (DEBUG, 0) => (b"sqlalchemy.engine.Engine", b""),
        (DEBUG, _) => (b"urllib3.connectionpool", b""),
        (_, 0) => (b"celery.app.trace", b""),
        (_, _) => (app, b".api"),
    };
    out.extend_from_slice(logger);
    out.extend_from_slice(rest);
    out.extend_from_slice(b" - ");
    out.extend_from_slice(LEVELS[level].as_bytes());
    out.extend_from_slice(b" - ");
    message(
        g,
        out,
        level,
        logger == b"celery.app.trace",
        logger == b"urllib3.connectionpool",
    );
}

fn message(g: &mut Gen, out: &mut Vec<u8>, level: usize, celery: bool, urllib3: bool) {
    match level {
        ERROR => {
            if celery {
                out.extend_from_slice(b"Task shop.tasks.sync_stock[");
                g.uuid(out);
                out.extend_from_slice(b"] raised unexpected: OperationalError('server closed the connection unexpectedly')");
                traceback(g, out, &TRACEBACKS[3]);
            } else if g.chance(0.5) {
                out.extend_from_slice(b"Exception on /api/orders [POST]");
                let t = &TRACEBACKS[1 + g.r.idx(2)];
                traceback(g, out, t);
            } else {
                out.extend_from_slice(b"payment failed for order ");
                g.order_id(out);
                let t = if g.chance(0.7) { &TRACEBACKS[0] } else { &TRACEBACKS[4] };
                traceback(g, out, t);
            }
        }
        WARN if urllib3 => out.extend_from_slice(b"Retrying (Retry(total=2, connect=None, read=None, redirect=None, status=None)) after connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out. (read timeout=5)\")': /v1/payment_intents"),
        WARN => {
            if g.chance(0.5) {
                out.extend_from_slice(b"search q='");
                g.put(out, &SEARCH_TERMS);
                out.extend_from_slice(b"' returned no results");
            } else {
                out.extend_from_slice(b"cache unavailable, falling back to the database: Error 111 connecting to cache-01:6379. Connection refused.");
            }
        }
        DEBUG if urllib3 => {
            out.extend_from_slice(b"https://api.stripe.com:443 \"POST /v1/payment_intents HTTP/1.1\" 200 ");
            g.num(out, 900, 3_000);
        }
        DEBUG => out.extend_from_slice(b"SELECT orders.id, orders.status, orders.total FROM orders WHERE orders.id = %(id_1)s"),
        _ if celery => {
            out.extend_from_slice(b"Task shop.tasks.send_receipt[");
            g.uuid(out);
            out.extend_from_slice(b"] succeeded in 0.0");
            g.num(out, 10, 999);
            out.extend_from_slice(b"s: None");
        }
        _ => {
            if g.chance(0.5) {
                out.extend_from_slice(b"POST /api/orders 201 (");
                let ms = g.latency();
                super::super::encode::push_u64(out, ms);
                out.extend_from_slice(b" ms) user=");
                g.user(out);
            } else {
                out.extend_from_slice(b"payment captured for order ");
                g.order_id(out);
                out.extend_from_slice(b": ");
                g.money(out);
            }
        }
    }
}

fn traceback(g: &mut Gen, out: &mut Vec<u8>, t: &Traceback) {
    if g.chance(0.1) {
        // An exception raised while handling another: both tracebacks.
        tb(out, &TRACEBACKS[4]);
        out.extend_from_slice(
            b"\n\nDuring handling of the above exception, another exception occurred:\n",
        );
    }
    tb(out, t);
}

fn tb(out: &mut Vec<u8>, t: &Traceback) {
    out.extend_from_slice(b"\nTraceback (most recent call last):");
    for (file, line, func, code) in t.frames {
        out.extend_from_slice(b"\n  File \"");
        match file.strip_prefix("{site}") {
            Some(rest) => {
                out.extend_from_slice(SITE.as_bytes());
                out.extend_from_slice(rest.as_bytes());
            }
            None => out.extend_from_slice(file.as_bytes()),
        }
        out.extend_from_slice(b"\", line ");
        super::super::encode::push_u64(out, u64::from(*line));
        out.extend_from_slice(b", in ");
        out.extend_from_slice(func.as_bytes());
        out.extend_from_slice(b"\n    ");
        out.extend_from_slice(code.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(t.last.as_bytes());
}
