//! Java servers: logback/log4j lines (`%d{yyyy-MM-dd HH:mm:ss,SSS}
//! %-5level [%thread] %logger{36} - %msg%n`), Tomcat's `OneLineFormatter`
//! (`dd-MMM-yyyy HH:mm:ss.SSS LEVEL [thread] class.method message`), and the
//! stack traces both print after an error as `Throwable.printStackTrace`
//! does: the exception, 10 to 40 `\tat` frames, maybe a `Caused by:` with
//! its own frames and `\t... n more`.

use super::super::encode::{push_padded, push_u64};
use super::super::pools::{DEBUG, ERROR, WAREHOUSES, WARN};
use super::Gen;

/// `%-5level`, by the index of `pools::LEVELS`.
const LOG4J_LEVELS: [&str; 4] = ["INFO ", "DEBUG", "WARN ", "ERROR"];
/// java.util.logging's names for the same levels.
const JUL_LEVELS: [&str; 4] = ["INFO", "FINE", "WARNING", "SEVERE"];

const THREADS: [&str; 6] = [
    "main",
    "scheduling-1",
    "kafka-consumer-0",
    "HikariPool-1 housekeeper",
    "ForkJoinPool.commonPool-worker-3",
    "task-2",
];

struct JavaError {
    etype: &'static str,
    msg: &'static str,
    /// The frames above the application's.
    top: &'static [&'static str],
}

const ERRORS: [JavaError; 6] = [
    JavaError {
        etype: "org.springframework.web.client.ResourceAccessException",
        msg: "I/O error on POST request for \"http://payment-api:8080/v1/payments\": Read timed out",
        top: &[
            "org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:905)",
            "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:885)",
            "org.springframework.web.client.RestTemplate.execute(RestTemplate.java:781)",
            "org.springframework.web.client.RestTemplate.postForEntity(RestTemplate.java:532)",
        ],
    },
    JavaError {
        etype: "org.springframework.dao.CannotAcquireLockException",
        msg: "could not execute statement [ERROR: deadlock detected] [update stock set reserved=? where sku=? and warehouse=?]; SQL [update stock set reserved=? where sku=? and warehouse=?]",
        top: &[
            "org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:261)",
            "org.springframework.orm.jpa.vendor.HibernateJpaDialect.translateExceptionIfPossible(HibernateJpaDialect.java:232)",
            "org.springframework.dao.support.PersistenceExceptionTranslationInterceptor.invoke(PersistenceExceptionTranslationInterceptor.java:152)",
            "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:184)",
            "org.springframework.aop.framework.JdkDynamicAopProxy.invoke(JdkDynamicAopProxy.java:223)",
            "jdk.proxy2/jdk.proxy2.$Proxy142.save(Unknown Source)",
        ],
    },
    JavaError {
        etype: "java.lang.NullPointerException",
        msg: "Cannot invoke \"com.shop.cart.Cart.getItems()\" because \"cart\" is null",
        top: &["com.shop.checkout.OrderService.totalOf(OrderService.java:211)"],
    },
    JavaError {
        etype: "java.lang.IllegalStateException",
        msg: "Order is already being processed",
        top: &["com.shop.checkout.OrderService.lock(OrderService.java:97)"],
    },
    JavaError {
        etype: "java.sql.SQLTransientConnectionException",
        msg: "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
        top: &[
            "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
            "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
            "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:146)",
            "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
            "org.springframework.jdbc.datasource.DataSourceUtils.fetchConnection(DataSourceUtils.java:160)",
            "org.springframework.jdbc.datasource.DataSourceUtils.doGetConnection(DataSourceUtils.java:118)",
            "org.springframework.jdbc.core.JdbcTemplate.execute(JdbcTemplate.java:653)",
        ],
    },
    JavaError {
        etype: "com.shop.payment.GatewayException",
        msg: "gateway returned 502: upstream acquirer unavailable",
        top: &[
            "com.shop.payment.GatewayClient.check(GatewayClient.java:171)",
            "com.shop.payment.GatewayClient.capture(GatewayClient.java:92)",
        ],
    },
];

const CAUSES: [JavaError; 4] = [
    JavaError {
        etype: "java.net.SocketTimeoutException",
        msg: "Read timed out",
        top: &[
            "java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
            "java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
            "java.base/sun.nio.ch.NioSocketImpl.read(NioSocketImpl.java:346)",
            "java.base/sun.nio.ch.NioSocketImpl$1.read(NioSocketImpl.java:796)",
            "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
            "java.base/java.io.BufferedInputStream.fill(BufferedInputStream.java:291)",
            "java.base/java.io.BufferedInputStream.read1(BufferedInputStream.java:347)",
            "java.base/sun.net.www.http.HttpClient.parseHTTPHeader(HttpClient.java:789)",
        ],
    },
    JavaError {
        etype: "org.postgresql.util.PSQLException",
        msg: "ERROR: deadlock detected\n  Detail: Process 4121 waits for ShareLock on transaction 99812; blocked by process 4188.\n  Hint: See server log for query details.",
        top: &[
            "org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)",
            "org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2412)",
            "org.postgresql.core.v3.QueryExecutorImpl.execute(QueryExecutorImpl.java:371)",
            "org.postgresql.jdbc.PgStatement.executeInternal(PgStatement.java:502)",
            "org.postgresql.jdbc.PgStatement.execute(PgStatement.java:419)",
            "org.postgresql.jdbc.PgPreparedStatement.executeWithFlags(PgPreparedStatement.java:194)",
            "org.postgresql.jdbc.PgPreparedStatement.executeUpdate(PgPreparedStatement.java:155)",
            "com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeUpdate(HikariProxyPreparedStatement.java)",
        ],
    },
    JavaError {
        etype: "java.net.ConnectException",
        msg: "Connection refused",
        top: &[
            "java.base/sun.nio.ch.Net.pollConnect(Native Method)",
            "java.base/sun.nio.ch.Net.pollConnectNow(Net.java:682)",
            "java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)",
            "java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:592)",
            "java.base/java.net.Socket.connect(Socket.java:751)",
        ],
    },
    JavaError {
        etype: "org.postgresql.util.PSQLException",
        msg: "ERROR: duplicate key value violates unique constraint \"orders_pkey\"\n  Detail: Key (id)=(ord_0004412093) already exists.",
        top: &[
            "org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)",
            "org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2412)",
            "org.postgresql.jdbc.PgPreparedStatement.executeUpdate(PgPreparedStatement.java:155)",
        ],
    },
];

/// The application's own frames; a trace takes a few in a row.
const APP_FRAMES: [&str; 10] = [
    "com.shop.checkout.PaymentClient.capture(PaymentClient.java:88)",
    "com.shop.checkout.OrderService.placeOrder(OrderService.java:142)",
    "com.shop.checkout.OrderService$$SpringCGLIB$$0.placeOrder(<generated>)",
    "com.shop.checkout.OrderController.create(OrderController.java:61)",
    "com.shop.inventory.StockService.reserve(StockService.java:64)",
    "com.shop.inventory.StockController.reserve(StockController.java:52)",
    "com.shop.catalog.ProductRepository.findBySku(ProductRepository.java:48)",
    "com.shop.catalog.PriceService.lookup(PriceService.java:203)",
    "com.shop.cart.CartService.addItem(CartService.java:77)",
    "com.shop.cart.CartController.add(CartController.java:45)",
];

/// Spring MVC on Tomcat, from the controller down to the worker thread; a
/// trace ends with a tail of it.
const CHAIN: [&str; 36] = [
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
    "org.springframework.web.method.support.InvocableHandlerMethod.invokeForRequest(InvocableHandlerMethod.java:188)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
    "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.invokeHandlerMethod(RequestMappingHandlerAdapter.java:926)",
    "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.handleInternal(RequestMappingHandlerAdapter.java:831)",
    "org.springframework.web.servlet.mvc.method.AbstractHandlerMethodAdapter.handle(AbstractHandlerMethodAdapter.java:87)",
    "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
    "org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:979)",
    "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    "org.springframework.web.servlet.FrameworkServlet.doPost(FrameworkServlet.java:914)",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:205)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:149)",
    "org.apache.tomcat.websocket.server.WsFilter.doFilter(WsFilter.java:51)",
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:174)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:149)",
    "org.springframework.web.filter.RequestContextFilter.doFilterInternal(RequestContextFilter.java:100)",
    "org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)",
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:174)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:149)",
    "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
    "org.apache.catalina.core.StandardContextValve.invoke(StandardContextValve.java:90)",
    "org.apache.catalina.authenticator.AuthenticatorBase.invoke(AuthenticatorBase.java:482)",
    "org.apache.catalina.core.StandardHostValve.invoke(StandardHostValve.java:115)",
    "org.apache.catalina.valves.ErrorReportValve.invoke(ErrorReportValve.java:93)",
    "org.apache.catalina.core.StandardEngineValve.invoke(StandardEngineValve.java:74)",
    "org.apache.catalina.connector.CoyoteAdapter.service(CoyoteAdapter.java:344)",
    "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:391)",
    "org.apache.coyote.AbstractProtocol$ConnectionHandler.process(AbstractProtocol.java:896)",
    "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1744)",
    "org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
];

/// A Tomcat's start, the first lines of its file: (level, class.method
/// message), `#` a number.
const TOMCAT_STARTUP: [(usize, &str); 11] = [
    (
        0,
        "org.apache.catalina.startup.VersionLoggerListener.log Server version name:   Apache Tomcat/10.1.19",
    ),
    (
        0,
        "org.apache.catalina.startup.VersionLoggerListener.log JVM Version:           21.0.2+13-LTS",
    ),
    (
        0,
        "org.apache.coyote.AbstractProtocol.init Initializing ProtocolHandler [\"http-nio-8080\"]",
    ),
    (
        0,
        "org.apache.catalina.startup.Catalina.load Server initialization in [#] milliseconds",
    ),
    (
        0,
        "org.apache.catalina.core.StandardService.startInternal Starting service [Catalina]",
    ),
    (
        0,
        "org.apache.catalina.core.StandardEngine.startInternal Starting Servlet engine: [Apache Tomcat/10.1.19]",
    ),
    (
        0,
        "org.apache.catalina.startup.HostConfig.deployWAR Deploying web application archive [/usr/local/tomcat/webapps/shop.war]",
    ),
    (
        WARN,
        "org.apache.catalina.util.SessionIdGeneratorBase.createSecureRandom Creation of SecureRandom instance for session ID generation using [SHA1PRNG] took [#] milliseconds.",
    ),
    (
        0,
        "org.apache.jasper.servlet.TldScanner.scanJars At least one JAR was scanned for TLDs yet contained no TLDs. Enable debug logging for this logger for a complete list of JARs that were scanned but no TLDs were found in them. Skipping unneeded JARs during scanning can improve startup time and JSP compilation time.",
    ),
    (
        0,
        "org.apache.coyote.AbstractProtocol.start Starting ProtocolHandler [\"http-nio-8080\"]",
    ),
    (
        0,
        "org.apache.catalina.startup.Catalina.start Server startup in [#] milliseconds",
    ),
];

/// `[http-nio-8080-exec-17]`-style worker threads most lines come from.
fn thread(g: &mut Gen, out: &mut Vec<u8>) {
    if g.chance(0.7) {
        out.extend_from_slice(b"http-nio-8080-exec-");
        g.num(out, 1, 201);
    } else {
        g.put(out, &THREADS);
    }
}

/// `2024-03-14 21:00:00,123 INFO  [main] com.shop.checkout.OrderService - order ... placed`.
pub(super) fn log4j(g: &mut Gen, out: &mut Vec<u8>) {
    let level = g.level();
    g.c.date(out, b'-');
    out.push(b' ');
    g.c.time(out);
    g.c.frac(out, b',', 3);
    out.push(b' ');
    out.extend_from_slice(LOG4J_LEVELS[level].as_bytes());
    out.extend_from_slice(b" [");
    thread(g, out);
    out.extend_from_slice(b"] ");
    match level {
        ERROR => {
            match g.r.below(3) {
                0 => {
                    out.extend_from_slice(b"c.s.checkout.OrderService - payment failed for order ");
                    g.order_id(out);
                }
                1 => out.extend_from_slice(b"o.a.c.c.C.[.[.[/].[dispatcherServlet] - Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception"),
                _ => {
                    out.extend_from_slice(b"c.s.inventory.StockSync - stock sync failed for ");
                    g.sku(out);
                }
            }
            if g.chance(0.8) {
                trace(g, out);
            }
        }
        WARN => match g.r.below(4) {
            0 => {
                out.extend_from_slice(b"c.s.checkout.PaymentClient - retrying capture for order ");
                g.order_id(out);
                out.extend_from_slice(b" (attempt 2/3): Read timed out");
            }
            1 => out.extend_from_slice(b"com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta=1m2s345ms)."),
            2 => {
                out.extend_from_slice(b"c.s.auth.LoginService - login failed for ");
                g.email(out);
                out.extend_from_slice(b": bad credentials");
            }
            _ => {
                out.extend_from_slice(b"c.s.catalog.ProductRepository - slow query (");
                push_ms(g, out, 1_000);
                out.extend_from_slice(b" ms): select p1_0.id,p1_0.price from product p1_0 where p1_0.sku=?");
            }
        },
        DEBUG => {
            if g.chance(0.5) {
                out.extend_from_slice(b"org.hibernate.SQL - select o1_0.id,o1_0.status,o1_0.total from orders o1_0 where o1_0.id=?");
            } else {
                out.extend_from_slice(b"c.s.catalog.ProductCache - cache ");
                g.put(out, &["hit", "miss"]);
                out.extend_from_slice(b" for product:");
                g.sku(out);
            }
        }
        _ => match g.r.below(4) {
            0 => {
                out.extend_from_slice(b"c.s.checkout.OrderService - order ");
                g.order_id(out);
                out.extend_from_slice(b" placed for ");
                g.user(out);
                out.extend_from_slice(b": ");
                g.num(out, 1, 9);
                out.extend_from_slice(b" items, ");
                g.money(out);
            }
            1 => {
                out.extend_from_slice(b"c.s.inventory.StockService - reserved ");
                g.num(out, 1, 5);
                out.extend_from_slice(b" units of ");
                g.sku(out);
                out.extend_from_slice(b" in ");
                g.put(out, &WAREHOUSES);
            }
            2 => {
                out.extend_from_slice(b"c.s.common.web.RequestLog - GET /v1/products/");
                g.sku(out);
                out.extend_from_slice(b" 200 ");
                let ms = g.latency();
                push_u64(out, ms);
                out.extend_from_slice(b"ms");
            }
            _ => {
                out.extend_from_slice(b"o.a.k.c.c.internals.ConsumerCoordinator - [Consumer clientId=consumer-orders-1, groupId=orders] Setting offset for partition orders-");
                g.num(out, 0, 12);
                out.extend_from_slice(b" to the committed offset FetchPosition{offset=");
                g.num(out, 10_000, 9_000_000);
                out.extend_from_slice(b", offsetEpoch=Optional[4], currentLeader=LeaderAndEpoch{leader=Optional[kafka-1:9092 (id: 1 rack: null)], epoch=4}}");
            }
        },
    }
}

/// A slow duration in milliseconds, at least `min`.
fn push_ms(g: &mut Gen, out: &mut Vec<u8>, min: u64) {
    let ms = min + g.latency() * 20;
    push_u64(out, ms);
}

/// `14-Mar-2024 21:00:00.123 INFO [main] org.apache.catalina.startup.Catalina.start Server startup in [1234] milliseconds`.
pub(super) fn tomcat(g: &mut Gen, out: &mut Vec<u8>) {
    push_padded(out, g.c.day, 2);
    out.push(b'-');
    out.extend_from_slice(g.c.month_name());
    out.push(b'-');
    push_padded(out, g.c.year, 4);
    out.push(b' ');
    g.c.time(out);
    g.c.frac(out, b'.', 3);
    out.push(b' ');
    if let Some((level, text)) = TOMCAT_STARTUP.get(g.s.step as usize) {
        out.extend_from_slice(JUL_LEVELS[*level].as_bytes());
        out.extend_from_slice(b" [main] ");
        g.fill(out, text, 300, 9_000);
        return;
    }
    let level = g.level();
    out.extend_from_slice(JUL_LEVELS[level].as_bytes());
    out.extend_from_slice(b" [");
    thread(g, out);
    out.extend_from_slice(b"] ");
    match level {
        ERROR => {
            out.extend_from_slice(b"org.apache.catalina.core.StandardWrapperValve.invoke Servlet.service() for servlet [dispatcherServlet] in context with path [/shop] threw exception");
            trace(g, out);
        }
        WARN => match g.r.below(3) {
            0 => {
                out.extend_from_slice(b"org.apache.catalina.valves.StuckThreadDetectionValve.notifyStuckThreadDetected Thread [http-nio-8080-exec-");
                g.num(out, 1, 201);
                out.extend_from_slice(b"] (id=[");
                g.num(out, 30, 300);
                out.extend_from_slice(b"]) has been active for [");
                g.num(out, 60_000, 90_000);
                out.extend_from_slice(b"] milliseconds (since [3/14/24, 9:00 PM]) to serve the same request for [https://shop.example.com/shop/checkout] and may be stuck (configured threshold for this StuckThreadDetectionValve is [60] seconds). There is/are [1] thread(s) in total that are monitored by this Valve and may be stuck.");
            }
            1 => out.extend_from_slice(b"org.apache.tomcat.util.http.parser.Cookie.logInvalidHeader A cookie header was received [tracking=\"a b\"] that contained an invalid cookie. That cookie will be ignored.\n Note: further occurrences of this error will be logged at DEBUG level."),
            _ => {
                out.extend_from_slice(b"com.shop.web.CartServlet.doPost cart ");
                g.hex(out, 16);
                out.extend_from_slice(b" is over its limit of 50 items");
            }
        },
        DEBUG => {
            out.extend_from_slice(b"com.shop.web.SessionListener.sessionCreated session ");
            g.hex(out, 32);
            out.extend_from_slice(b" created");
        }
        _ => {
            if g.chance(0.02) {
                out.extend_from_slice(b"org.apache.coyote.http11.Http11Processor.service Error parsing HTTP request header\n Note: further occurrences of HTTP request parsing errors will be logged at DEBUG level.\n\tjava.lang.IllegalArgumentException: Invalid character found in method name [0x160x030x010x020x000x010x000x010xfc0x030x03...]. HTTP method names must be tokens");
                return;
            }
            out.extend_from_slice(b"com.shop.web.OrderServlet.doPost order ");
            g.order_id(out);
            out.extend_from_slice(b" placed for ");
            g.user(out);
            out.extend_from_slice(b" (");
            g.num(out, 1, 9);
            out.extend_from_slice(b" items, ");
            g.money(out);
            out.push(b')');
        }
    }
}

/// A Java stack trace after the line in `out`: `\n`-separated lines.
fn trace(g: &mut Gen, out: &mut Vec<u8>) {
    let e = &ERRORS[g.r.idx(ERRORS.len())];
    let frames = 10 + g.r.idx(31);
    let app = 2 + g.r.idx(4);
    let chain = frames
        .saturating_sub(e.top.len() + app)
        .clamp(1, CHAIN.len());
    out.push(b'\n');
    exception(out, e);
    for f in e.top {
        frame(out, f);
    }
    let a0 = g.r.idx(APP_FRAMES.len());
    for k in 0..app {
        frame(out, APP_FRAMES[(a0 + k) % APP_FRAMES.len()]);
    }
    for f in &CHAIN[CHAIN.len() - chain..] {
        frame(out, f);
    }
    if g.chance(0.45) {
        let c = &CAUSES[g.r.idx(CAUSES.len())];
        out.extend_from_slice(b"\nCaused by: ");
        exception(out, c);
        for f in c.top {
            frame(out, f);
        }
        // The frames it shares with the trace above are elided.
        out.extend_from_slice(b"\n\t... ");
        push_u64(out, (e.top.len() + app + chain) as u64);
        out.extend_from_slice(b" more");
    }
}

fn exception(out: &mut Vec<u8>, e: &JavaError) {
    out.extend_from_slice(e.etype.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(e.msg.as_bytes());
}

fn frame(out: &mut Vec<u8>, f: &str) {
    out.extend_from_slice(b"\n\tat ");
    out.extend_from_slice(f.as_bytes());
}
