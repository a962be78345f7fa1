"""The summary table against an independent recompute: DuckDB over the
lake's `logs` rows must give the same per-(minute, service) counts, the
same average latency, p95/p99 within 2% and unique users within 3%; a
rebuild writes the same bytes; `--from/--to` rebuild only their hours."""
import gzip
import hashlib
import json
import os
import subprocess

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")

SERVICES = ["checkout-web", "order-api", "catalog-api"]
EVENTS = ["page_view", "add_to_cart", "order_placed", "search"]


def business_lines(n=3000):
    """Records the generator does not write: event types, orders in several
    currencies, failed orders that are not revenue, sessions."""
    out = []
    for i in range(n):
        svc = SERVICES[i % 3]
        minute, sec = divmod(i // 4, 60)
        rec = {
            "ts": "2024-03-15T0%d:%02d:%02d.%03dZ" % (minute // 60 % 10, minute % 60, sec, i % 1000),
            "level": "ERROR" if i % 17 == 0 else ("WARN" if i % 11 == 0 else "INFO"),
            "service": svc,
            "message": "event %d" % i,
            "user_id": "u%d" % (i % 211),
            "session_id": "s%d" % (i % 97),
            "event_type": EVENTS[i % 4],
            "latency_ms": round(3.0 + (i * 7919 % 1000) / 7.0, 3),
            "http_status": 503 if i % 17 == 0 else (404 if i % 13 == 0 else 200),
        }
        if rec["event_type"] == "order_placed":
            rec["order_id"] = "ord_%d" % i
            rec["amount"] = round(10 + (i % 50) * 1.37, 2)
            rec["currency"] = ["EUR", "USD", "GBP"][i % 3]
        out.append(json.dumps(rec))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    d = tmp_path_factory.mktemp("summary")
    shop = d / "shop.ndjson.gz"
    subprocess.run([BIN, "generate", "--lines", "60000", "--malformed", "0.01", "--seed", "7",
                    "--incidents", "--out", str(shop)], check=True, capture_output=True)
    biz = d / "business.ndjson.gz"
    with gzip.open(biz, "wt") as f:
        f.write(business_lines())
    out = subprocess.run([BIN, "ingest", str(shop), str(biz), "--lake", str(d / "lake"), "--json"],
                         check=True, capture_output=True, text=True)
    return {"dir": d / "lake", "ingest": json.loads(out.stdout)}


def summary_rows(lake_dir):
    files = sorted((lake_dir / "summary").glob("dt=*/hr=*/summary.parquet"))
    assert files
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()


def expected(lake_dir):
    con = duckdb.connect()
    con.execute(f"""CREATE VIEW logs AS SELECT * FROM read_parquet(
        '{lake_dir}/logs/*/*/*.parquet', hive_partitioning = true)""")
    rows = con.execute("""
        SELECT epoch_ms(date_trunc('minute', ts)) AS minute, coalesce(service, '(none)') AS service,
          count(*) AS records,
          count(*) FILTER (WHERE level IN ('ERROR', 'FATAL')) AS errors,
          count(*) FILTER (WHERE level = 'WARN') AS warnings,
          count(*) FILTER (WHERE http_status BETWEEN 400 AND 499) AS s4,
          count(*) FILTER (WHERE http_status BETWEEN 500 AND 599) AS s5,
          avg(latency_ms) AS lat_avg,
          list_sort(list(latency_ms) FILTER (WHERE latency_ms IS NOT NULL)) AS lats,
          count(DISTINCT user_id) AS users,
          count(DISTINCT session_id) AS sessions,
          count(*) FILTER (WHERE order_id IS NOT NULL AND amount IS NOT NULL
                           AND coalesce(level NOT IN ('ERROR', 'FATAL'), true)
                           AND coalesce(http_status < 400, true)) AS orders
        FROM logs GROUP BY ALL""").fetchall()
    out = {}
    for r in rows:
        out[(r[0], r[1])] = r
    revenue = con.execute("""
        SELECT epoch_ms(date_trunc('minute', ts)), coalesce(service, '(none)'), coalesce(currency, '(none)'), sum(amount)
        FROM logs WHERE order_id IS NOT NULL AND amount IS NOT NULL
          AND coalesce(level NOT IN ('ERROR', 'FATAL'), true) AND coalesce(http_status < 400, true)
        GROUP BY ALL""").fetchall()
    events = con.execute("""
        SELECT epoch_ms(date_trunc('minute', ts)), coalesce(service, '(none)'), event_type, count(*)
        FROM logs WHERE event_type IS NOT NULL GROUP BY ALL""").fetchall()
    return out, revenue, events


def rank(q, n):
    """The 1-based rank loglake's histogram targets: ceil(q * n)."""
    import math
    return max(1, min(n, math.ceil(q * n - 1e-9)))


def test_summary_matches_a_duckdb_recompute(lake):
    got = {(int(r["minute"].timestamp() * 1000), r["service"]): r for r in summary_rows(lake["dir"])}
    want, revenue, events = expected(lake["dir"])
    assert set(got) == set(want)
    assert sum(r["records"] for r in got.values()) == lake["ingest"]["rows_out"]
    checked_pct = 0
    for key, w in want.items():
        g = got[key]
        assert (g["records"], g["errors"], g["warnings"], g["status_4xx"], g["status_5xx"], g["orders"]) == \
            (w[2], w[3], w[4], w[5], w[6], w[11]), key
        assert g["error_pct"] == pytest.approx(100.0 * w[3] / w[2])
        if w[7] is None:
            assert g["latency_avg_ms"] is None and g["latency_p95_ms"] is None
        else:
            assert abs(g["latency_avg_ms"] - w[7]) <= 0.01, key
            lats = w[8]
            for q, col in [(0.95, "latency_p95_ms"), (0.99, "latency_p99_ms"), (0.5, "latency_p50_ms")]:
                exact = lats[rank(q, len(lats)) - 1]
                if exact >= 0.01:
                    assert abs(g[col] - exact) <= 0.02 * exact, (key, col, g[col], exact)
                    checked_pct += 1
        assert abs(g["unique_users"] - w[9]) <= max(1, 0.03 * w[9]), (key, g["unique_users"], w[9])
        assert abs(g["unique_sessions"] - w[10]) <= max(1, 0.03 * w[10]), key
    assert checked_pct > 1000
    got_rev = {}
    for key, g in got.items():
        for cur, amount in g["revenue"]:
            got_rev[key + (cur,)] = amount
    want_rev = {(m, s, c): a for m, s, c, a in revenue}
    assert set(got_rev) == set(want_rev) and want_rev
    for k, a in want_rev.items():
        assert got_rev[k] == pytest.approx(a, abs=1e-6)
    got_ev = {key + (t,): n for key, g in got.items() for t, n in g["events_by_type"]}
    want_ev = {(m, s, t): n for m, s, t, n in events}
    assert got_ev == want_ev and want_ev


def test_summary_schema_and_partitions(lake):
    files = sorted((lake["dir"] / "summary").glob("dt=*/hr=*/summary.parquet"))
    logs_hours = {p.parent.relative_to(lake["dir"] / "logs") for p in (lake["dir"] / "logs").glob("dt=*/hr=*/*.parquet")}
    assert {f.parent.relative_to(lake["dir"] / "summary") for f in files} == logs_hours
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    s = pq.read_schema(files[0])
    assert s.names == [
        "minute", "service", "records", "errors", "warnings", "status_4xx", "status_5xx",
        "error_pct", "latency_avg_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
        "unique_users", "unique_sessions", "orders", "revenue", "events_by_type"]
    assert s.field("minute").type == pa.timestamp("ms", tz="UTC")
    assert s.field("revenue").type == pa.map_(pa.string(), pa.float64())
    assert s.field("events_by_type").type == pa.map_(pa.string(), pa.int64())
    for f in files:
        minutes = pq.read_table(f, columns=["minute", "service"]).to_pylist()
        assert minutes == sorted(minutes, key=lambda r: (r["minute"], r["service"]))
        hour = f.parent.name[3:]
        assert {r["minute"].strftime("%H") for r in minutes} == {hour}


def digest(lake_dir):
    return {str(p.relative_to(lake_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((lake_dir / "summary").glob("dt=*/hr=*/summary.parquet"))}


def test_rebuild_is_byte_identical_and_ranges_limit_it(lake):
    before = digest(lake["dir"])
    for _ in range(2):
        out = subprocess.run([BIN, "summary", "--lake", str(lake["dir"])], check=True,
                             capture_output=True, text=True)
        assert "hours" in out.stdout
        assert digest(lake["dir"]) == before
    # Remove two hours' summaries; rebuilding one hour restores only it.
    victims = sorted(before)[:2]
    for v in victims:
        (lake["dir"] / v).unlink()
    first_hour = victims[0].split("/")  # summary/dt=.../hr=.../summary.parquet
    t = "%sT%s:00:00Z" % (first_hour[1][3:], first_hour[2][3:])
    subprocess.run([BIN, "summary", "--lake", str(lake["dir"]), "--from", t, "--to", t.replace(":00:00Z", ":59:59Z")],
                   check=True, capture_output=True)
    after = digest(lake["dir"])
    assert victims[0] in after and victims[1] not in after
    assert after[victims[0]] == before[victims[0]]
    subprocess.run([BIN, "summary", "--lake", str(lake["dir"])], check=True, capture_output=True)
    assert digest(lake["dir"]) == before


def test_bad_range_is_refused(lake):
    r = subprocess.run([BIN, "summary", "--lake", str(lake["dir"]), "--from", "yesterday"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "--from" in r.stderr
