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


if __name__ == "__main__":
    main()
