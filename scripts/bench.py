#!/usr/bin/env python3
"""make bench: loglake against the peer (DuckDB) on the same input, same run.

Generates the reference input once (bench/gen_logs.py, the reference
generator, copied into the repository with the peer), and a text-log input of the same uncompressed size
(`loglake generate --kind text`: runs of log4j, Python, syslog, Apache, nginx,
klog, Go and Tomcat lines with their stack traces), then times, for 1 and 2
threads:
  - zcat (decompression alone, the floor),
  - DuckDB converting it to dt/hr zstd Parquet with an explicit schema,
  - loglake ingest, of the JSON input and of the text input, one after the
    other in alternating order.
Reports wall time, MB/s of uncompressed input, peak RSS (/usr/bin/time -v) and
the throughput ratio against DuckDB with the same thread count; for the text
input, MB/s per core and the text/JSON throughput ratio of each pair of runs
(median over the runs) against its target.

usage: bench.py [--bytes 1GiB] [--seed 42] [--data bench-data] [--runs 1]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The reference generator and the peer (DuckDB) conversion, kept in the
# repository (bench/README.md says where they come from).
PEER_DIR = os.path.join(ROOT, "bench")
# Text logs must ingest at no less than this share of the JSON path's
# throughput per core.
TEXT_TARGET = 0.80


def timed(cmd, **kw):
    """Run under /usr/bin/time -v; return (wall seconds, peak RSS MB, stdout,
    CPU seconds: user + system)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, **kw)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("benchmark command failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    cpu = sum(float(m.group(1)) for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", p.stderr))
    return wall, rss, p.stdout, cpu


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
        gen = os.path.join(PEER_DIR, "gen_logs.py")
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
    text_src = os.path.join(a.data, "input-text-%s-%s.log.gz" % (a.bytes, a.seed))
    if not os.path.exists(text_src):
        tmp = text_src[: -len(".log.gz")] + ".tmp.log.gz"
        print("generating %s of text logs into %s ..." % (a.bytes, text_src), file=sys.stderr, flush=True)
        # The file's time is its last line's (syslog and klog take their year
        # from it); the rename keeps it.
        subprocess.run([binary, "generate", "--kind", "text", "--bytes", a.bytes, "--seed", a.seed,
                        "--out", tmp], check=True)
        os.rename(tmp, text_src)
    peer = os.path.join(PEER_DIR, "duckdb_convert.py")

    # Warm the page cache so every tool reads from memory.
    for f in (src, text_src):
        subprocess.run(["cat", f], stdout=subprocess.DEVNULL, check=True)
    rows = []
    # (threads, text, JSON) of each back-to-back pair of ingests, each as
    # (MB/s, MB per CPU-second).
    pairs = []
    for threads in (1, 2):
        for run in range(a.runs):
            out = os.path.join(a.data, "out")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            if threads == 1:
                wall, rss, _, _ = timed(["bash", "-c", 'zcat "$0" > /dev/null', src])
                rows.append(("zcat (decompression only)", 1, wall, rss, None))
            wall, rss, _, _ = timed([sys.executable, peer, src, os.path.join(out, "duckdb"), str(threads)],
                                 cwd=PEER_DIR)
            rows.append(("DuckDB", threads, wall, rss, None))
            # JSON and text in turns, so neither always runs on the warmer
            # (or more throttled) machine.
            mbs = {}
            for name, f in (("loglake", src), ("loglake text", text_src))[:: 1 if run % 2 == 0 else -1]:
                wall, rss, stdout, cpu = timed([binary, "ingest", f, "--lake", os.path.join(out, name.replace(" ", "-")),
                                                "--threads", str(threads), "--json", "--no-progress"])
                s = json.loads(stdout)
                rows.append((name, threads, wall, rss, s))
                mb = s["bytes_decoded"] / 1e6
                mbs[name] = (mb / wall, mb / cpu)
            pairs.append((threads, mbs["loglake text"], mbs["loglake"]))
            shutil.rmtree(out, ignore_errors=True)

    summary = next(r[4] for r in rows if r[0] == "loglake")
    decoded = summary["bytes_decoded"]
    text_summary = next(r[4] for r in rows if r[0] == "loglake text")
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
        size = decoded
        if name == "loglake":
            peer_wall = min(w for w, _ in best[("DuckDB", threads)])
            ratio = "%.2fx" % (peer_wall / wall)
        elif name == "loglake text":
            size = text_summary["bytes_decoded"]
        print("| %s | %d | %.1f | %.0f | %.0f | %s |" % (name, threads, wall, size / 1e6 / wall, rss, ratio))

    print()
    print("text input: %s, %.0f MB gzip, %.0f MB uncompressed, %d lines in, %d rows, %d quarantined"
          % (os.path.basename(text_src), os.path.getsize(text_src) / 1e6, text_summary["bytes_decoded"] / 1e6,
             text_summary["lines_in"], text_summary["rows_out"], text_summary["quarantined"]))
    print()
    # Per core: MB/s over the threads given; per CPU-second: over the CPU
    # time the process used, which other load on the machine disturbs less.
    print("| threads | text MB/s | text MB/s per core | JSON MB/s per core | text/JSON | target "
          "| text/JSON per CPU-second |")
    print("|---|---|---|---|---|---|---|")
    for threads in (1, 2):
        runs = [(t, j) for n, t, j in pairs if n == threads]
        med = statistics.median
        ratio = med(t[0] / j[0] for t, j in runs)
        print("| %d | %.0f | %.0f | %.0f | %.2f | >= %.2f %s | %.2f |"
              % (threads, med(t[0] for t, _ in runs), med(t[0] for t, _ in runs) / threads,
                 med(j[0] for _, j in runs) / threads, ratio, TEXT_TARGET,
                 "met" if ratio >= TEXT_TARGET else "MISSED", med(t[1] / j[1] for t, j in runs)))
    print("(medians of %d alternating text/JSON pair%s per thread count)" % (a.runs, "" if a.runs == 1 else "s"))

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
