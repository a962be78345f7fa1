#!/usr/bin/env python3
"""make bench-lambda: fn-ingest's handler on the reference input through the
local AWS (moto), against the local CLI on the same bytes, same run.

Uploads the input to a raw bucket, runs the handler once (release build, the
same code path as the Lambda, without the runtime) on a replay event, and
reports wall time, MB/s of uncompressed input, peak RSS and the ratio to the
CLI. Run under scripts/with-moto.sh (make does).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd, env=None):
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-3000:]))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    cpu = sum(float(re.search(r"%s time \(seconds\): ([\d.]+)" % k, p.stderr).group(1)) for k in ("User", "System"))
    return wall, rss, cpu, p.stdout


def main():
    src = sys.argv[1]
    handler, cli = os.environ["HANDLER"], os.environ["BIN"]
    endpoint = os.environ["LOGLAKE_TEST_ENDPOINT"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    raw, curated = "bench-raw-%s" % uuid.uuid4().hex[:6], "bench-curated-%s" % uuid.uuid4().hex[:6]
    s3.create_bucket(Bucket=raw)
    s3.create_bucket(Bucket=curated)
    key = "shop/" + os.path.basename(src)
    s3.upload_file(src, raw, key)
    with tempfile.TemporaryDirectory() as d:
        event = os.path.join(d, "event.json")
        json.dump({"source_uri": "s3://%s/%s" % (raw, key)}, open(event, "w"))
        env = dict(os.environ, CURATED_BUCKET=curated, RUST_LOG="warn")
        lwall, lrss, lcpu, out = timed([handler, event], env=env)
        result = json.loads(out.strip().splitlines()[-1])["objects"][0]
        cwall, crss, ccpu, cout = timed([cli, "ingest", src, "--lake", os.path.join(d, "lake"), "--json", "--no-progress"])
        decoded = json.loads(cout)["bytes_decoded"]
    print()
    print("input: %s (%.0f MB uncompressed), %d rows" % (os.path.basename(src), decoded / 1e6, result["rows_out"]))
    print()
    print("| run | wall s | MB/s uncompressed | CPU s (own process) | peak RSS MB |")
    print("|---|---|---|---|---|")
    print("| loglake ingest (local files) | %.1f | %.0f | %.1f | %.0f |" % (cwall, decoded / 1e6 / cwall, ccpu, crss))
    print("| fn-ingest handler via moto S3 | %.1f | %.0f | %.1f | %.0f |" % (lwall, decoded / 1e6 / lwall, lcpu, lrss))
    print()
    print("fn-ingest throughput is %.0f%% of the CLI's; its own CPU time is %.0f%% of the CLI's "
          "(the rest of the gap is the emulator, a Python server on the same two cores)"
          % (100 * cwall / lwall, 100 * lcpu / ccpu))


# Issue 19's target for fn-stream's per-line work.
STREAM_TARGET = 400_000


def stream_bench(lines=20_000):
    """loglake replay into Kinesis, then fn-stream's handler over the records.

    moto's Kinesis is slow (a Python server, slower per record as a shard
    grows), so wall-clock rates here measure the emulator; lines per CPU
    second of our own processes are the figures that carry over."""
    endpoint = os.environ["LOGLAKE_TEST_ENDPOINT"]
    aws = dict(endpoint_url=endpoint, region_name="us-east-1")
    tag = uuid.uuid4().hex[:6]
    stream, delivery = "bench-logs-" + tag, "bench-to-raw-" + tag
    raw, curated = "bench-sraw-" + tag, "bench-scurated-" + tag
    s3 = boto3.client("s3", **aws)
    s3.create_bucket(Bucket=raw)
    s3.create_bucket(Bucket=curated)
    boto3.client("kinesis", **aws).create_stream(StreamName=stream, ShardCount=1)
    boto3.client("firehose", **aws).create_delivery_stream(
        DeliveryStreamName=delivery, ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::" + raw,
            "Prefix": "firehose/"})
    wall, _, cpu, out = timed([os.environ["BIN"], "replay", "--generate", str(lines), "--stream", stream, "--json"])
    replay = json.loads(out)
    env = dict(os.environ, STREAM=stream, DELIVERY_STREAM=delivery, CURATED_BUCKET=curated, RUST_LOG="warn")
    _, rss, _, out = timed([os.environ["STREAM_BENCH"]], env=env)
    s = json.loads(out.strip().splitlines()[-1])
    print()
    print("stream path, %d generated lines, through moto:" % lines)
    print()
    print("| stage | lines/s | lines per CPU-second | peak RSS MB |")
    print("|---|---|---|---|")
    print("| loglake replay -> Kinesis | %.0f | %.0f | |" % (replay["lines_per_s"], replay["sent"] / max(cpu, 1e-9)))
    print("| fn-stream: normalize + forward to Firehose | %.0f | %.0f | %.0f |"
          % (s["lines_per_s"], s["lines_per_cpu_s"], rss))
    own = s["own_lines_per_cpu_s"]
    print("| fn-stream's own work (the same batches; a Firehose that takes all, an in-memory bucket) "
          "| %.0f | %.0f | |" % (s["own_lines_per_s"], own))
    print()
    print("target: fn-stream at least %d lines per CPU-second: %s (%.0f in process, %.0f through moto)"
          % (STREAM_TARGET, "met" if own >= STREAM_TARGET else "MISSED", own, s["lines_per_cpu_s"]))


if __name__ == "__main__":
    main()
    if os.environ.get("STREAM_BENCH"):
        stream_bench()
