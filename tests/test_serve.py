"""`loglake serve --lake` end to end, read back by DuckDB: events POSTed
(one object, an array, NDJSON, gzip) become rows with their columns; a
retry with the same Idempotency-Key makes no second row; a server stopped by
SIGTERM in the middle of a load test, or killed outright, loses no event it
answered 202 for; `loglake load --check-lake` counts every accepted event.

The validation and every status code are unit-tested in
crates/handlers/src/collect/tests.rs; this is the process around them."""
import gzip
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, lake: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = lake.parent / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--lake", str(lake), "--service", "web", *extra],
            stderr=open(self.log, "w"),
            env={**os.environ, "AWS_REGION": "eu-west-1"},
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"serve did not start: {self.log.read_text()}")

    def post(self, body: bytes, headers=None):
        req = urllib.request.Request(self.url + "/v1/events", data=body, method="POST", headers=headers or {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read()), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def lake(tmp_path):
    return tmp_path / "lake"


def rows(lake: Path, where="true"):
    files = str(lake / "logs" / "**" / "*.parquet")
    if not list((lake / "logs").rglob("*.parquet")):
        return []
    con = duckdb.connect()
    return con.execute(
        f"select event_type, user_id, session_id, amount, currency, order_id, region, service, source_format, event_id, "
        f"attributes['url'] as url, attributes['ts_inferred'] as inferred "
        f"from read_parquet('{files}', hive_partitioning=true) where {where} order by ts, event_type"
    ).fetchall()


def test_posted_events_become_rows_duckdb_reads(lake):
    s = Server(lake, "--batch-seconds", "0.2")
    try:
        status, body, _ = s.post(json.dumps({"event_type": "page_view", "timestamp": "2026-12-02T10:00:00Z", "user_id": "u-1", "url": "https://shop.example/"}).encode())
        assert (status, body) == (202, {"accepted": 1, "rejected": []})
        batch = [
            {"event_type": "add_to_cart", "timestamp": 1796205601000, "user_id": "u-1", "properties": {"sku": "SKU-9"}},
            {"event_type": "order_completed", "timestamp": "2026-12-02T10:00:02Z", "user_id": "u-1",
             "properties": {"order_id": "o-1", "revenue": 42.5, "currency": "EUR"}},
            {"no_type": True},
        ]
        status, body, _ = s.post(json.dumps(batch).encode())
        assert status == 202 and body["accepted"] == 2 and body["rejected"][0]["index"] == 2
        nd = b'{"event_type":"search","timestamp":"2026-12-02T10:00:03Z"}\n{"event_type":"logout"}\n'
        status, body, _ = s.post(gzip.compress(nd), {"content-type": "application/x-ndjson", "content-encoding": "gzip"})
        assert (status, body["accepted"]) == (202, 2)
        status, body, _ = s.post(b"a=b", {"content-type": "application/x-www-form-urlencoded"})
        assert status == 415
    finally:
        assert s.stop() == 0
    got = rows(lake, "event_type <> 'logout'")
    assert [r[0] for r in got] == ["page_view", "add_to_cart", "order_completed", "search"]
    order = got[2]
    assert order[3:6] == (42.5, "EUR", "o-1")
    assert all(r[6] == "eu-west-1" and r[7] == "web" and r[8] == "http" for r in got)
    assert got[0][10] == "https://shop.example/"
    # Without a timestamp: the receive time, flagged.
    (logout,) = rows(lake, "event_type = 'logout'")
    assert logout[11] == "received"
    # Each batch is a source with its manifest; the spool is empty.
    manifests = list((lake / "_manifests").rglob("*.json"))
    assert manifests and all(json.loads(m.read_text())["outcome"] == "complete" for m in manifests)
    assert not list((lake / "_spool").iterdir())
    # The summary table has the hour.
    assert list((lake / "summary").rglob("*.parquet"))


def test_a_retry_with_the_same_key_makes_one_row(lake):
    s = Server(lake, "--batch-seconds", "0.2")
    body = json.dumps([{"event_type": "order_completed", "properties": {"order_id": "o-7", "revenue": 10}}, {"event_type": "page_view"}]).encode()
    headers = {"content-type": "application/json", "idempotency-key": "checkout-7f3a"}
    try:
        for _ in range(3):
            status, answer, _ = s.post(body, headers)
            assert (status, answer["accepted"]) == (202, 2)
            time.sleep(0.4)  # the first copy is in the lake before the retry
        assert answer.get("duplicates") == 2
    finally:
        assert s.stop() == 0
    got = rows(lake)
    assert len(got) == 2
    assert len({r[9] for r in got}) == 2


def test_sigterm_during_a_load_test_loses_no_accepted_event(lake, tmp_path):
    s = Server(lake, "--batch-seconds", "0.5")
    load = subprocess.Popen(
        [BIN, "load", "--url", s.url, "--concurrency", "8", "--duration", "4", "--batch", "20", "--json", "--max-error-rate", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(1.5)
    assert s.stop(signal.SIGTERM) == 0
    out, err = load.communicate(timeout=60)
    report = json.loads(out)
    accepted = report["events_accepted"]
    assert accepted > 0, err
    # Requests after the stop were refused at connect, never half-taken.
    assert set(report["by_status"]) <= {"202", "error:connect", "error:io"}, report["by_status"]
    con = duckdb.connect()
    n = con.execute(
        f"select count(*) from read_parquet('{lake}/logs/**/*.parquet') where attributes['load_run'] = ?", [report["run"]]
    ).fetchone()[0]
    assert n == accepted
    assert "writing the last batch" in s.log.read_text()


def test_a_killed_server_ingests_its_spool_at_the_next_start(lake):
    s = Server(lake, "--batch-seconds", "3600", "--batch-events", "1000000")
    status, _, _ = s.post(json.dumps([{"event_type": "page_view", "user_id": f"u{i}"} for i in range(50)]).encode())
    assert status == 202
    s.stop(signal.SIGKILL)
    assert rows(lake) == []
    assert list((lake / "_spool").glob("*.ndjson"))
    s = Server(lake)
    try:
        assert len(rows(lake)) == 50
    finally:
        assert s.stop() == 0


def test_load_check_lake_counts_every_accepted_event(lake):
    s = Server(lake)
    try:
        r = subprocess.run(
            [BIN, "load", "--url", s.url, "--concurrency", "4", "--duration", "1.5", "--batch", "10", "--json", "--check-lake", str(lake)],
            capture_output=True, text=True, timeout=120,
        )
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["lake_rows"] == report["events_accepted"] > 0
        assert report["lake_check"] == "every accepted event is a row"
        assert report["latency_ms"]["p99"] > 0
        assert report["freshness_ms"]["p95"] is not None
        health = s.get("/healthz")
        assert health["status"] == "ok" and health["accepted"] == report["events_accepted"]
    finally:
        assert s.stop() == 0
