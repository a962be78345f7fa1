"""Smoke test of the runtime wiring: `cargo lambda watch` runs the real
fn-ingest binary, `cargo lambda invoke --data-file events/...` sends it a
real-shaped SQS event, and the object it names lands in the curated bucket.
Needs the local AWS that `make test` starts (LOGLAKE_TEST_ENDPOINT)."""
import gzip
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINT = os.environ.get("LOGLAKE_TEST_ENDPOINT")
KEY = "checkout-web/2024/03/15/app log #1.ndjson.gz"  # what events/sqs-s3-put.json names, decoded


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def aws():
    if not ENDPOINT:
        pytest.fail("needs the local AWS: run with `make test`")
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")
    for b in ["loglake-raw"]:
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    curated = "curated-watch-%s" % uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=curated)
    lines = "".join(json.dumps({"timestamp": "2024-03-15T02:%02d:00Z" % i, "level": "INFO",
                                "message": "checkout step %d" % i}) + "\n" for i in range(40))
    s3.put_object(Bucket="loglake-raw", Key=KEY, Body=gzip.compress(lines.encode()))
    return s3, curated


def test_cargo_lambda_watch_and_invoke(aws):
    s3, curated = aws
    port = free_port()
    env = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "-p", "fn-ingest", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--env-var", "CURATED_BUCKET=%s" % curated,
         "--env-var", "AWS_ENDPOINT_URL=%s" % ENDPOINT],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        deadline = time.time() + 600
        out = None
        while time.time() < deadline:
            r = subprocess.run(
                ["cargo", "lambda", "invoke", "fn-ingest", "--invoke-address", "127.0.0.1",
                 "--invoke-port", str(port), "--data-file", "events/sqs-s3-put.json", "--output-format", "json"],
                cwd=ROOT, env=env, capture_output=True, text=True)
            if r.returncode == 0:
                out = json.loads(r.stdout)
                break
            assert watch.poll() is None, "cargo lambda watch exited"
            time.sleep(2)
        assert out == {"batchItemFailures": []}, out
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=curated).get("Contents", [])]
        manifests = [k for k in keys if k.startswith("_manifests/")]
        assert len(manifests) == 1, keys
        m = json.loads(s3.get_object(Bucket=curated, Key=manifests[0])["Body"].read())
        assert m["source"]["uri"] == "s3://loglake-raw/" + KEY
        assert m["rows_out"] == 40
        assert any(k.startswith("logs/dt=2024-03-15/hr=02/") for k in keys)
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)
