"""Read the lake with readers that share no code with loglake: DuckDB and
pyarrow. Row counts per partition must equal the manifest, the columns must
have the lake schema's types, and known input lines must come back intact."""
import gzip
import json
import os
import subprocess

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet  # noqa: F401  (pa.parquet)
import pytest

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    d = tmp_path_factory.mktemp("readers")
    src = d / "shop.ndjson.gz"
    subprocess.run([BIN, "generate", "--lines", "30000", "--malformed", "0.02", "--seed", "11",
                    "--out", str(src)], check=True, capture_output=True)
    # Cards only (not the default): the readers compare every field with the
    # source, which the generator writes with e-mail addresses.
    out = subprocess.run([BIN, "ingest", str(src), "--lake", str(d / "lake"), "--json", "--redact", "cards"],
                         check=True, capture_output=True, text=True)
    summary = json.loads(out.stdout)
    manifests = [json.loads(p.read_text()) for p in (d / "lake" / "_manifests").glob("*.json")]
    return {"dir": d / "lake", "src": src, "summary": summary, "manifest": manifests[0]}


def test_manifest_balances(lake):
    m = lake["manifest"]
    assert m["lines_in"] == m["rows_out"] + m["quarantined"] + m["merged"]
    assert m["lines_total"] == m["lines_in"] + m["skipped_blank"] + m["skipped_header"]
    assert m["rows_out"] > 25000 and m["quarantined"] > 0
    assert sum(m["quarantined_by_reason"].values()) == m["quarantined"]
    s = lake["summary"]
    assert s["rows_out"] == m["rows_out"]
    assert {p["path"] for p in s["partitions"]} == {"logs/" + k for k in m["partitions"]}


def test_pyarrow_counts_per_partition_and_types(lake):
    dataset = ds.dataset(str(lake["dir"] / "logs"), format="parquet", partitioning="hive")
    t = dataset.to_table()
    assert t.num_rows == lake["manifest"]["rows_out"]
    got = {}
    for dt, hr in zip(t.column("dt").to_pylist(), t.column("hr").to_pylist()):
        key = "dt=%s/hr=%02d" % (dt, int(hr))
        got[key] = got.get(key, 0) + 1
    assert got == lake["manifest"]["partitions"]
    s = t.schema
    assert s.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert s.field("http_status").type == pa.int16()
    assert s.field("latency_ms").type == pa.float64()
    assert s.field("bytes_sent").type == pa.int64()
    assert pa.types.is_map(s.field("attributes").type)
    assert s.field("source_line").type == pa.int64()
    for name in ["level", "service", "message", "trace_id", "source_format"]:
        assert s.field(name).type == pa.string(), name


def test_duckdb_reads_the_same_rows_and_values(lake):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    glob = str(lake["dir"] / "logs" / "**" / "*.parquet")
    rows = dict(con.execute(
        f"SELECT 'dt=' || dt || '/hr=' || lpad(hr::VARCHAR, 2, '0'), count(*) "
        f"FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY 1").fetchall())
    assert rows == lake["manifest"]["partitions"]

    # Spot-check known lines: the first 200 valid lines of the input come back
    # with the same values, found by their line number.
    with gzip.open(lake["src"], "rt", encoding="utf-8") as f:
        lines = [l for _, l in zip(range(400), f)]
    checked = 0
    for n, line in enumerate(lines, start=1):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if not isinstance(j.get("latency_ms"), int) or not isinstance(j.get("status"), int) \
                or not isinstance(j.get("timestamp"), str):
            continue
        r = con.execute(
            f"SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%g') || 'Z', level, service, host, message, http_method, "
            f"http_path, http_status, latency_ms, bytes_sent, client_ip, user_agent, user_id, session_id, "
            f"trace_id, region, order_id, amount, currency, sku, error_type, attributes, source_format "
            f"FROM read_parquet('{glob}', hive_partitioning=true) WHERE source_line = ?", [n]).fetchall()
        assert len(r) == 1, n
        (ts, level, service, host, message, method, path, status, latency, sent, ip, ua, user, session,
         trace, region, order_id, amount, currency, sku, error_type, attrs, fmt) = r[0]
        assert ts == j["timestamp"]
        assert (level, service, host, message) == (j["level"], j["service"], j["host"], j["message"])
        assert (method, path, status) == (j["method"], j["path"], j["status"])
        assert latency == float(j["latency_ms"]) and sent == j["bytes_sent"]
        assert (ip, ua, user, session, trace, region) == (
            j["ip"], j["user_agent"], j.get("user_id"), j["session_id"], j["trace_id"], j["region"])
        assert order_id == j.get("order_id") and currency == j.get("currency") and sku == j.get("sku")
        assert amount == j.get("amount") and error_type == j.get("error_type")
        assert fmt == "json"
        assert attrs["span_id"] == j["span_id"]
        for k in ["quantity", "payment_method", "query", "results", "stack_trace"]:
            if k in j:
                want = j[k] if isinstance(j[k], str) else json.dumps(j[k])
                assert attrs[k] == want, k
        checked += 1
    assert checked > 150


def test_rows_sorted_by_service_then_time_within_row_groups(lake):
    import pyarrow.parquet as pq
    for f in (lake["dir"] / "logs").rglob("*.parquet"):
        pf = pq.ParquetFile(f)
        for g in range(pf.num_row_groups):
            t = pf.read_row_group(g, columns=["service", "ts"])
            keys = list(zip(t.column("service").to_pylist(), t.column("ts").to_pylist()))
            assert keys == sorted(keys, key=lambda k: (k[0] is None, k[0] or "", k[1]))


def test_quarantine_is_readable_ndjson(lake):
    q = [p for p in lake["dir"].rglob("*.ndjson.gz")]
    assert len(q) == 1
    con = duckdb.connect()
    n, reasons = con.execute(
        f"SELECT count(*), count(DISTINCT reason) FROM read_json('{q[0]}', format='newline_delimited')"
    ).fetchone()
    assert n == lake["manifest"]["quarantined"]
    assert reasons == len(lake["manifest"]["quarantined_by_reason"])


def test_logs_dedup_view_keeps_each_event_once(lake, tmp_path):
    """The Athena view's SQL (infra/views/logs_dedup.sql.tftpl), run by
    DuckDB over a lake where one object was written twice (a redelivery
    under another name): every event once, and the partition filter still
    applies through the view."""
    import shutil
    from pathlib import Path
    copy = tmp_path / "lake"
    shutil.copytree(lake["dir"], copy)
    files = sorted((copy / "logs").rglob("*.parquet"))
    dup = files[0].with_name("again-" + files[0].name)
    shutil.copy(files[0], dup)
    view = (Path(__file__).resolve().parent.parent / "infra" / "views" / "logs_dedup.sql.tftpl").read_text()
    con = duckdb.connect()
    con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{copy}/logs/**/*.parquet', hive_partitioning=true)")
    columns = [r[0] for r in con.execute("DESCRIBE logs").fetchall() if r[0] not in ("dt", "hr")]
    con.execute("CREATE VIEW logs_dedup AS " + view.replace("${columns}", ", ".join(columns)).replace("${logs}", "logs"))
    total = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    once = con.execute("SELECT count(*) FROM logs_dedup").fetchone()[0]
    distinct = con.execute("SELECT count(DISTINCT event_id) FROM logs").fetchone()[0]
    extra = pa.parquet.read_metadata(dup).num_rows
    assert total == lake["summary"]["rows_out"] + extra
    assert once == distinct == lake["summary"]["rows_out"]
    dt = files[0].parent.parent.name.split("=")[1]
    hr = files[0].parent.name.split("=")[1]
    in_hr = con.execute("SELECT count(*) FROM logs_dedup WHERE dt = ? AND hr = ?", [dt, hr]).fetchone()[0]
    raw_hr = con.execute("SELECT count(DISTINCT event_id) FROM logs WHERE dt = ? AND hr = ?", [dt, hr]).fetchone()[0]
    assert in_hr == raw_hr
