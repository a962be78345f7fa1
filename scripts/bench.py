#!/usr/bin/env python3
"""make bench: loglake against the peer (DuckDB) on the same input, same run.

Generates the reference input once (../shared/bench/gen_logs.py when present,
else `loglake generate`), then times, for 1 and 2 threads:
  - zcat (decompression alone, the floor),
  - DuckDB converting it to dt/hr zstd Parquet with an explicit schema,
  - loglake ingest.
Reports wall time, MB/s of uncompressed input, peak RSS (/usr/bin/time -v) and
the throughput ratio against DuckDB with the same thread count.

usage: bench.py [--bytes 1GiB] [--seed 42] [--data bench-data] [--runs 1]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")


def timed(cmd, **kw):
    """Run under /usr/bin/time -v; return (wall seconds, peak RSS MB, stdout)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, **kw)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("benchmark command failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    return wall, rss, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", default=os.environ.get("BENCH_BYTES", "1GiB"))
    ap.add_argument("--seed", default="42")
    ap.add_argument("--data", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "1")))
    ap.add_argument("--input-only", action="store_true", help="make the input, print its path, stop")
    a = ap.parse_args()
    binary = os.environ.get("BIN", os.path.join(ROOT, "target", "release", "loglake"))
    os.makedirs(a.data, exist_ok=True)
    src = os.path.join(a.data, "input-%s-%s.ndjson.gz" % (a.bytes, a.seed))
    if not os.path.exists(src):
        gen = os.path.join(SHARED, "gen_logs.py")
        # The generator compresses by the name's ending: keep ".gz" last.
        tmp = src[: -len(".ndjson.gz")] + ".tmp.ndjson.gz"
        print("generating %s of reference logs into %s ..." % (a.bytes, src), file=sys.stderr, flush=True)
        if os.path.exists(gen):
            subprocess.run([sys.executable, gen, "--bytes", a.bytes, "--seed", a.seed, "--out", tmp], check=True)
        else:
            subprocess.run([binary, "generate", "--bytes", a.bytes, "--seed", a.seed, "--out", tmp], check=True)
        os.rename(tmp, src)
    if a.input_only:
        print(src)
        return
    peer = os.path.join(SHARED, "duckdb_convert.py")
    if not os.path.exists(peer):
        sys.exit("the peer %s is missing: make bench needs ../shared/bench beside the repo" % peer)

    # Warm the page cache so every tool reads from memory.
    subprocess.run(["cat", src], stdout=subprocess.DEVNULL, check=True)
    rows = []
    for threads in (1, 2):
        for run in range(a.runs):
            out = os.path.join(a.data, "out")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            if threads == 1:
                wall, rss, _ = timed(["bash", "-c", 'zcat "$0" > /dev/null', src])
                rows.append(("zcat (decompression only)", 1, wall, rss, None))
            wall, rss, _ = timed([sys.executable, peer, src, os.path.join(out, "duckdb"), str(threads)],
                                 cwd=SHARED)
            rows.append(("DuckDB", threads, wall, rss, None))
            wall, rss, stdout = timed([binary, "ingest", src, "--lake", os.path.join(out, "loglake"),
                                       "--threads", str(threads), "--json", "--no-progress"])
            s = json.loads(stdout)
            rows.append(("loglake", threads, wall, rss, s))
            shutil.rmtree(out, ignore_errors=True)

    decoded = next(r[4]["bytes_decoded"] for r in rows if r[4])
    summary = next(r[4] for r in rows if r[4])
    print()
    print("input: %s, %.0f MB gzip, %.0f MB uncompressed, %d lines in, %d rows, %d quarantined"
          % (os.path.basename(src), os.path.getsize(src) / 1e6, decoded / 1e6, summary["lines_in"],
             summary["rows_out"], summary["quarantined"]))
    print()
    print("| tool | threads | wall s | MB/s uncompressed | peak RSS MB | vs DuckDB |")
    print("|---|---|---|---|---|---|")
    best = {}
    for name, threads, wall, rss, _ in rows:
        best.setdefault((name, threads), []).append((wall, rss))
    for (name, threads), runs in best.items():
        wall = min(w for w, _ in runs)
        rss = max(r for _, r in runs)
        ratio = ""
        if name == "loglake":
            peer_wall = min(w for w, _ in best[("DuckDB", threads)])
            ratio = "%.2fx" % (peer_wall / wall)
        print("| %s | %d | %.1f | %.0f | %.0f | %s |" % (name, threads, wall, decoded / 1e6 / wall, rss, ratio))

    # What runs beside the lake, per record: search bulk encoding (against
    # naive serde_json) and redaction.
    sink_bench = os.environ.get("SINK_BENCH")
    if sink_bench:
        print()
        p = subprocess.run([sink_bench, src, "300000", os.path.join(ROOT, "alerts.toml")],
                           check=True, capture_output=True, text=True)
        ns = None
        for line in p.stdout.splitlines():
            if line.startswith("alerts_ns_per_record "):
                ns = float(line.split()[1])
            else:
                print(line)
        if ns is not None:
            # Ingest cost per row with one thread, from this run.
            wall = min(w for w, _ in best[("loglake", 1)])
            per_row = wall / summary["rows_out"] * 1e9
            print("alert accumulation adds %.0f ns to %.0f ns per row of 1-thread ingest: %.1f%%"
                  % (ns, per_row, 100.0 * ns / per_row))


if __name__ == "__main__":
    main()
