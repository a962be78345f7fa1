//! Plain-text logs from ordinary servers, written from each layout's
//! documentation: every line gets its own time (not the file's), syslog's
//! host and program, and a time that cannot be is quarantined with why.

// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

mod support;

use loglake_core::time::format_rfc3339_ms;
use loglake_core::{IngestOptions, MemoryStore, ingest};
use support::{all_rows, options, quarantine_records, source};

/// 2024-03-15T06:00:00Z: when the files were last written.
const WRITTEN: i64 = 1_710_482_400_000;

fn ingest_text(
    name: &str,
    text: &str,
    opts: &IngestOptions,
) -> (loglake_core::Manifest, Vec<support::Row>, MemoryStore) {
    let store = MemoryStore::default();
    let m = ingest(source(name, text.as_bytes(), Some(WRITTEN)), &store, opts).unwrap();
    assert!(m.balanced(), "{m:?}");
    let mut rows = all_rows(&store, &m);
    rows.sort_by_key(|r| r.line);
    (m, rows, store)
}

fn times(rows: &[support::Row]) -> Vec<String> {
    rows.iter().map(|r| format_rfc3339_ms(r.ts)).collect()
}

#[test]
fn each_layout_gives_each_line_its_own_time() {
    for (name, text, want) in [
        (
            "apache-error.log",
            "[Thu Mar 14 21:00:01.123456 2024] [core:error] [pid 42:tid 7] [client 10.0.0.1:5050] AH00126: Invalid URI in request\n\
             [Thu Mar 14 21:00:02.000001 2024] [mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.58 configured\n",
            ["2024-03-14T21:00:01.123Z", "2024-03-14T21:00:02.000Z"],
        ),
        (
            "nginx-error.log",
            "2024/03/14 21:00:01 [error] 7#7: *1 open() \"/srv/x\" failed (2: No such file or directory)\n\
             2024/03/14 21:00:02 [warn] 7#7: *2 upstream response is buffered\n",
            ["2024-03-14T21:00:01.000Z", "2024-03-14T21:00:02.000Z"],
        ),
        (
            "spark-driver.log",
            "24/03/14 21:00:01 INFO SparkContext: Running Spark version 3.5.0\n\
             24/03/14 21:00:02 WARN NativeCodeLoader: Unable to load native-hadoop library\n",
            ["2024-03-14T21:00:01.000Z", "2024-03-14T21:00:02.000Z"],
        ),
        (
            "hdfs-datanode.log",
            "240314 210001 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\n\
             240314 210002 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock\n",
            ["2024-03-14T21:00:01.000Z", "2024-03-14T21:00:02.000Z"],
        ),
        (
            "nova-api.log",
            "nova-api.log.1.2024-03-14_21:30:00 2024-03-14 21:00:01.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b] \"GET /v2/servers HTTP/1.1\" status: 200\n\
             nova-api.log.1.2024-03-14_21:30:00 2024-03-14 21:00:02.009 25746 INFO nova.osapi_compute.wsgi.server [req-9bc36dd9] \"GET /v2/flavors HTTP/1.1\" status: 200\n",
            ["2024-03-14T21:00:01.008Z", "2024-03-14T21:00:02.009Z"],
        ),
        (
            "python.log",
            "2024-03-14 21:00:01,123 - shop.checkout - ERROR - payment failed\n\
             2024-03-14 21:00:02,456 - shop.checkout - INFO - retried\n",
            ["2024-03-14T21:00:01.123Z", "2024-03-14T21:00:02.456Z"],
        ),
        (
            "tomcat.log",
            "14-Mar-2024 21:00:01.123 INFO [main] org.apache.catalina.startup.Catalina.start Server startup in [1234] milliseconds\n\
             14-Mar-2024 21:00:02.456 SEVERE [http-nio-8080-exec-1] org.apache.catalina.core.StandardWrapperValve.invoke Servlet.service() threw exception\n",
            ["2024-03-14T21:00:01.123Z", "2024-03-14T21:00:02.456Z"],
        ),
    ] {
        let (m, rows, _) = ingest_text(name, text, &options(false));
        assert_eq!(times(&rows), want, "{name}");
        assert_eq!(m.ts_inferred, 0, "{name}: every line has its own time");
        assert_eq!(m.quarantined, 0, "{name}");
    }
}

#[test]
fn syslog_lines_keep_host_program_and_pid_and_get_the_right_year() {
    // Written on 2024-01-02: a December line is from 2023.
    let text = "Dec 31 23:59:58 web1 sshd[4242]: Accepted publickey for deploy from 10.0.0.9 port 52113 ssh2\n\
                Jan  1 00:00:03 web1 CRON[77]: (root) CMD (run-parts /etc/cron.hourly)\n\
                <11>Jan  1 00:00:04 web1 kernel: Out of memory: Killed process 4242\n";
    let store = MemoryStore::default();
    let written = 1_704_153_600_000; // 2024-01-02T00:00:00Z
    let m = ingest(
        source("syslog", text.as_bytes(), Some(written)),
        &store,
        &options(false),
    )
    .unwrap();
    assert!(m.balanced());
    assert_eq!(m.ts_inferred, 0);
    let mut rows = all_rows(&store, &m);
    rows.sort_by_key(|r| r.line);
    assert_eq!(
        times(&rows),
        [
            "2023-12-31T23:59:58.000Z",
            "2024-01-01T00:00:03.000Z",
            "2024-01-01T00:00:04.000Z"
        ]
    );
    assert_eq!(rows[0].service.as_deref(), Some("sshd"));
    assert_eq!(rows[0].attr("pid"), Some("4242"));
    assert_eq!(
        rows[0].message.as_deref(),
        Some("Accepted publickey for deploy from 10.0.0.9 port 52113 ssh2")
    );
    assert_eq!(rows[1].service.as_deref(), Some("CRON"));
    assert_eq!(rows[2].service.as_deref(), Some("kernel"));
}

#[test]
fn zoneless_times_take_the_configured_zone() {
    let text = "2024-03-14 22:00:01,000 INFO started\n";
    let opts = IngestOptions {
        timezone: "Europe/Berlin".parse().unwrap(),
        ..options(false)
    };
    let (_, rows, _) = ingest_text("app.log", text, &opts);
    assert_eq!(times(&rows), ["2024-03-14T21:00:01.000Z"]);
    // A written offset wins.
    let (_, rows, _) = ingest_text("app.log", "2024-03-14T22:00:01+01:00 started\n", &opts);
    assert_eq!(times(&rows), ["2024-03-14T21:00:01.000Z"]);
}

#[test]
fn impossible_times_are_quarantined_with_the_reason() {
    let text = "2024-03-14 21:00:01 INFO fine\n\
                2024-02-30 21:00:01 ERROR no such day\n\
                2024-03-14 25:00:01 ERROR no such hour\n\
                2024-03-14 21:00:03 INFO fine again\n";
    let (m, rows, store) = ingest_text("bad.log", text, &options(false));
    assert_eq!((m.rows_out, m.quarantined), (2, 2));
    assert_eq!(m.quarantined_by_reason.get("invalid_timestamp"), Some(&2));
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 4]);
    let q = m
        .outputs
        .iter()
        .find(|o| o.key.contains("quarantine"))
        .unwrap();
    let records = quarantine_records(&store.objects()[&q.key]);
    let details: Vec<&str> = records
        .iter()
        .map(|r| r["detail"].as_str().unwrap())
        .collect();
    assert!(details[0].contains("no such day"), "{details:?}");
    assert!(details[1].contains("hour out of range"), "{details:?}");
}

/// A 40-line Java stack trace (log4j's layout, the JVM's trace format:
/// frames, `Caused by:`, `... N more`) after the line that logged it.
fn java_trace() -> String {
    let mut t = String::from(
        "2024-03-14 21:00:01,123 ERROR [http-nio-8080-exec-7] com.shop.checkout.PaymentController - payment failed for order 1042\n\
         java.lang.IllegalStateException: card declined by issuer\n",
    );
    for i in 0..24 {
        t.push_str(&format!(
            "\tat com.shop.checkout.Step{i}.run(Step{i}.java:{})\n",
            40 + i
        ));
    }
    t.push_str("Caused by: java.net.SocketTimeoutException: Read timed out\n");
    for i in 0..12 {
        t.push_str(&format!(
            "\tat java.base/java.net.SocketInputStream.read{i}(SocketInputStream.java:{})\n",
            168 + i
        ));
    }
    t.push_str("\t... 21 more\n");
    t
}

#[test]
fn a_java_stack_trace_is_one_row() {
    let trace = java_trace();
    assert_eq!(trace.lines().count(), 40);
    let text = format!(
        "2024-03-14 21:00:00,001 INFO  [main] com.shop.checkout.App - started\n\
         {trace}\
         2024-03-14 21:00:02,000 INFO  [main] com.shop.checkout.App - next order\n"
    );
    for pipelined in [false, true] {
        let (m, rows, _) = ingest_text("checkout.log", &text, &options(pipelined));
        assert_eq!(
            (m.lines_in, m.rows_out, m.merged, m.quarantined),
            (42, 3, 39, 0)
        );
        let e = &rows[1];
        assert_eq!(e.line, 2);
        assert_eq!(format_rfc3339_ms(e.ts), "2024-03-14T21:00:01.123Z");
        let msg = e.message.as_deref().unwrap();
        assert!(msg.starts_with("payment failed for order 1042\njava.lang.IllegalStateException"));
        assert!(msg.ends_with("\n\t... 21 more"), "{msg:?}");
        assert_eq!(msg.lines().count(), 40);
        assert_eq!(e.attr("thread"), Some("http-nio-8080-exec-7"));
        assert_eq!(
            e.attr("logger"),
            Some("com.shop.checkout.PaymentController")
        );
        assert_eq!(rows[2].line, 42);
        assert_eq!(m.ts_inferred, 0);
    }
}

#[test]
fn a_python_traceback_is_one_row() {
    // logging's default layout, then `logger.exception()`'s traceback.
    let text = "2024-03-14 21:00:01,123 - shop.checkout - ERROR - charge failed\n\
                Traceback (most recent call last):\n  \
                  File \"/srv/shop/checkout.py\", line 88, in charge\n    \
                    resp = gateway.charge(order)\n  \
                  File \"/srv/shop/gateway.py\", line 12, in charge\n    \
                    raise ValueError(\"declined\")\n\
                ValueError: declined\n\
                2024-03-14 21:00:02,000 - shop.checkout - INFO - next\n";
    let (m, rows, _) = ingest_text("checkout.log", text, &options(false));
    assert_eq!((m.lines_in, m.rows_out, m.merged), (8, 2, 6));
    let msg = rows[0].message.as_deref().unwrap();
    assert!(msg.starts_with("charge failed\nTraceback (most recent call last):\n"));
    assert!(msg.ends_with("\nValueError: declined"));
    assert_eq!(rows[0].attr("logger"), Some("shop.checkout"));
}

#[test]
fn events_stop_at_the_object_and_at_their_bounds() {
    let opts = IngestOptions {
        multiline: loglake_core::ingest::multiline::MultilineLimits {
            max_lines: 10,
            max_bytes: 1 << 20,
        },
        ..options(false)
    };
    // 40 lines: events of 10 lines each.
    let (m, rows, _) = ingest_text("trace.log", &java_trace(), &opts);
    assert_eq!((m.rows_out, m.merged), (4, 36));
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 11, 21, 31]
    );
    // A file that starts with continuation lines: they are an event of
    // their own (the object before it is not reopened), and a time-less
    // continuation takes the source's time.
    let (m, rows, _) = ingest_text(
        "tail.log",
        "\tat com.shop.A.run(A.java:1)\n\t... 3 more\n2024-03-14 21:00:00,000 INFO [main] a.B - x\n",
        &options(true),
    );
    assert_eq!((m.rows_out, m.merged), (2, 1));
    assert_eq!(rows[0].attr("ts_inferred"), Some("object_time"));
    // Joining off: every line a row, as before.
    let off = IngestOptions {
        multiline: loglake_core::ingest::multiline::MultilineLimits {
            max_lines: 1,
            max_bytes: 1 << 20,
        },
        ..options(false)
    };
    let (m, _, _) = ingest_text("trace.log", &java_trace(), &off);
    assert_eq!((m.rows_out, m.merged), (40, 0));
}
