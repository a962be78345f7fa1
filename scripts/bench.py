#!/usr/bin/env python3
"""make bench: loglake against the peer (DuckDB) on the same input, same run.

Generates the reference input once (bench/gen_logs.py, the reference
generator, copied into the repository with the peer), and a text-log input of the same uncompressed size
(`loglake generate --kind text`: runs of log4j, Python, syslog, Apache, nginx,
klog, Go and Tomcat lines with their stack traces), then, for 1 and 2
threads, BENCH_RUNS (default 3) times in alternating order:
  - DuckDB converting it to dt/hr zstd Parquet with an explicit schema,
  - loglake ingest of the JSON input, and of the text input.
zcat (decompression alone) is timed once. Reports wall time, MB/s of
uncompressed input, peak RSS (/usr/bin/time -v), the median of the per-pair
throughput ratios against DuckDB with the same thread count, and the targets
met or missed: at least 2.5x DuckDB with 1 and with 2 threads, at most 128
MB peak RSS with 2 threads, the same files whatever the thread count, and
text throughput per core at least 80% of the JSON path's.

Then: where one thread's time goes, stage by stage, each against its floor
(crates/core/examples/stage_bench.rs; inflate's floor is ISA-L, through the
`isal` package), the compute cost of ingesting 1 GB on arm64 Lambda at the
memory size Terraform sets next to Firehose's format-conversion price, and
the sinks' per-record costs (sink_bench).

usage: bench.py [--bytes 1GiB] [--seed 42] [--data bench-data] [--runs 3]
"""
import argparse
import hashlib
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
# Throughput against DuckDB with the same thread count, and peak RSS with
# two threads.
RATIO_TARGET = 2.5
RSS_TARGET_MB = 128
# Prices, us-east-1, as published on 2026-12-03: Lambda arm64 duration
# (https://aws.amazon.com/lambda/pricing/, first 7.5 billion GB-seconds a
# month) and Firehose's data format conversion to Parquet/ORC, per GB of
# input (https://aws.amazon.com/firehose/pricing/).
LAMBDA_ARM64_GB_SECOND = 0.0000133334
FIREHOSE_CONVERSION_GB = 0.018


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
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
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
    # (threads, DuckDB wall / loglake wall) of each pair.
    ratios = []
    # The lake files of each thread count's first run, by content.
    lakes = {}
    wall, rss, _, _ = timed(["bash", "-c", 'zcat "$0" > /dev/null', src])
    rows.append(("zcat (decompression only)", 1, wall, rss, None))
    for threads in (1, 2):
        for run in range(a.runs):
            out = os.path.join(a.data, "out")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            walls = {}

            def duckdb():
                w, r, _, _ = timed([sys.executable, peer, src, os.path.join(out, "duckdb"), str(threads)],
                                   cwd=PEER_DIR)
                rows.append(("DuckDB", threads, w, r, None))
                walls["DuckDB"] = w

            def loglake():
                # JSON and text in turns, so neither always runs on the
                # warmer (or more throttled) machine.
                mbs = {}
                for name, f in (("loglake", src), ("loglake text", text_src))[:: 1 if run % 2 == 0 else -1]:
                    lake = os.path.join(out, name.replace(" ", "-"))
                    w, r, stdout, cpu = timed([binary, "ingest", f, "--lake", lake,
                                               "--threads", str(threads), "--json", "--no-progress"])
                    s = json.loads(stdout)
                    rows.append((name, threads, w, r, s))
                    walls[name] = w
                    mb = s["bytes_decoded"] / 1e6
                    mbs[name] = (mb / w, mb / cpu)
                    if run == 0:
                        # The rows and the summary table (manifests hold
                        # the run's duration).
                        lakes[(name, threads)] = [tree_digest(os.path.join(lake, d)) for d in ("logs", "summary")]
                pairs.append((threads, mbs["loglake text"], mbs["loglake"]))

            # DuckDB first in even runs, loglake first in odd ones.
            for step in ((duckdb, loglake) if run % 2 == 0 else (loglake, duckdb)):
                step()
            ratios.append((threads, walls["DuckDB"] / walls["loglake"]))
            shutil.rmtree(out, ignore_errors=True)

    summary = next(r[4] for r in rows if r[0] == "loglake")
    decoded = summary["bytes_decoded"]
    text_summary = next(r[4] for r in rows if r[0] == "loglake text")
    print()
    print("input: %s, %.0f MB gzip, %.0f MB uncompressed, %d lines in, %d rows, %d quarantined"
          % (os.path.basename(src), os.path.getsize(src) / 1e6, decoded / 1e6, summary["lines_in"],
             summary["rows_out"], summary["quarantined"]))
    print()
    med = statistics.median
    print("| tool | threads | wall s (median) | MB/s uncompressed | peak RSS MB (max) | vs DuckDB (median of pairs) |")
    print("|---|---|---|---|---|---|")
    best = {}
    for name, threads, wall, rss, _ in rows:
        best.setdefault((name, threads), []).append((wall, rss))
    ratio_of = {t: med(r for n, r in ratios if n == t) for t in (1, 2)}
    for (name, threads), runs in best.items():
        wall = med(w for w, _ in runs)
        rss = max(r for _, r in runs)
        ratio = ""
        size = decoded
        if name == "loglake":
            ratio = "%.2fx (pairs %s)" % (ratio_of[threads], ", ".join(
                "%.2f" % r for n, r in ratios if n == threads))
        elif name == "loglake text":
            size = text_summary["bytes_decoded"]
        print("| %s | %d | %.2f | %.0f | %.0f | %s |" % (name, threads, wall, size / 1e6 / wall, rss, ratio))
    print("(%d alternating pair%s of DuckDB and loglake per thread count)" % (a.runs, "" if a.runs == 1 else "s"))

    print()
    rss2 = max(r for n, t, _, r, _ in rows if n == "loglake" and t == 2)
    same = lakes[("loglake", 1)] == lakes[("loglake", 2)] and lakes[("loglake text", 1)] == lakes[("loglake text", 2)]
    targets = [
        ("throughput vs DuckDB, 1 thread", "%.2fx" % ratio_of[1], ">= %.1fx" % RATIO_TARGET, ratio_of[1] >= RATIO_TARGET),
        ("throughput vs DuckDB, 2 threads", "%.2fx" % ratio_of[2], ">= %.1fx" % RATIO_TARGET, ratio_of[2] >= RATIO_TARGET),
        ("peak RSS, 2 threads", "%.0f MB" % rss2, "<= %d MB" % RSS_TARGET_MB, rss2 <= RSS_TARGET_MB),
        ("same files (rows and summary) with 1 and 2 threads, JSON and text", "yes" if same else "no", "yes", same),
    ]
    text_ratios = {}
    for threads in (1, 2):
        runs = [(t, j) for n, t, j in pairs if n == threads]
        text_ratios[threads] = med(t[0] / j[0] for t, j in runs)
        targets.append(("text/JSON throughput per core, %d thread%s" % (threads, "" if threads == 1 else "s"),
                        "%.2f" % text_ratios[threads], ">= %.2f" % TEXT_TARGET, text_ratios[threads] >= TEXT_TARGET))
    print("| target | measured | wanted | |")
    print("|---|---|---|---|")
    for what, got, want, ok in targets:
        print("| %s | %s | %s | %s |" % (what, got, want, "met" if ok else "MISSED"))
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
        ratio = text_ratios[threads]
        print("| %d | %.0f | %.0f | %.0f | %.2f | >= %.2f %s | %.2f |"
              % (threads, med(t[0] for t, _ in runs), med(t[0] for t, _ in runs) / threads,
                 med(j[0] for _, j in runs) / threads, ratio, TEXT_TARGET,
                 "met" if ratio >= TEXT_TARGET else "MISSED", med(t[1] / j[1] for t, j in runs)))
    print("(medians of %d alternating text/JSON pair%s per thread count)" % (a.runs, "" if a.runs == 1 else "s"))

    stages(src, decoded, med(w for w, _ in best[("loglake", 1)]))

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


def tree_digest(root):
    """sha256 over every file under root: names and bytes."""
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            h.update(os.path.relpath(p, root).encode() + b"\0")
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def isal_inflate(src, want):
    """Seconds ISA-L takes to inflate the first `want` decoded bytes of src
    (best of two), or None without the isal package."""
    try:
        from isal import igzip
    except ImportError:
        return None
    best = None
    for _ in range(2):
        t0 = time.perf_counter()
        n = 0
        with igzip.open(src, "rb") as f:
            while n < want:
                b = f.read(min(1 << 20, want - n))
                if not b:
                    break
                n += len(b)
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best


def ingest_memory_mb():
    """fn-ingest's memory size, the default of infra/variables.tf."""
    with open(os.path.join(ROOT, "infra", "variables.tf")) as f:
        m = re.search(r'variable "ingest_memory_mb" \{.*?default\s*=\s*(\d+)', f.read(), re.S)
    return int(m.group(1))


def stages(src, decoded, one_thread_wall):
    """Where one thread's time goes (stage_bench), and the cost per GB."""
    stage_bench = os.environ.get("STAGE_BENCH")
    if stage_bench:
        mb = int(os.environ.get("STAGE_MB", "256"))
        p = subprocess.run([stage_bench, src, str(mb)], check=True, capture_output=True, text=True)
        got = {}
        table = []
        for line in p.stdout.splitlines():
            if line.startswith("stage "):
                # stage NAME... SECONDS FLOOR FLOOR_NAME...
                words = line.split()[1:]
                i = next(k for k, w in enumerate(words) if re.fullmatch(r"[\d.]+", w))
                table.append((" ".join(words[:i]), float(words[i]), words[i + 1], " ".join(words[i + 2:])))
            else:
                k, v = line.split()
                got[k] = float(v)
        n = int(got["bytes"])
        isal = isal_inflate(src, n)
        total = sum(t for _, t, _, _ in table)
        print()
        print("Where one thread's time goes: the first %.0f MB of the input (%d lines), each stage added in turn "
              "(crates/core/examples/stage_bench.rs), seconds per GB of uncompressed input:" % (n / 1e6, got["lines"]))
        print()
        print("| stage | s per GB | MB/s | share | floor s per GB | floor | x floor |")
        print("|---|---|---|---|---|---|---|")
        worst = None
        for name, t, floor, what in table:
            if floor == "-":
                floor = isal
                what = "ISA-L (isal package)" if isal is not None else "ISA-L: `pip install isal` to measure"
            else:
                floor = float(floor)
            per = t / n * 1e9
            fl = "%.2f" % (floor / n * 1e9) if floor else ""
            times = "%.1f" % (t / floor) if floor else ""
            if floor and (worst is None or t - floor > worst[1]):
                worst = (name, t - floor)
            print("| %s | %.2f | %.0f | %.0f%% | %s | %s | %s |" % (
                name, per, n / 1e6 / t if t else float("inf"), 100 * t / total, fl, what, times))
        print("| all stages | %.2f | %.0f | | | | |" % (total / n * 1e9, n / 1e6 / total))
        print("| the whole ingest (1 thread, files and manifest) | %.2f | %.0f | | | | |"
              % (got["ingest"] / n * 1e9, n / 1e6 / got["ingest"]))
        if worst:
            print("furthest from its floor: %s (%.2f s per GB above it)" % (worst[0], worst[1] / n * 1e9))

    # Cost: one thread is what a Lambda of 1,769 MB has; below that Lambda
    # gives a share of a vCPU in proportion to memory, so the same work takes
    # longer at the same price per GB-second, and the cost per GB holds.
    memory = ingest_memory_mb()
    secs_per_gb = one_thread_wall / (decoded / 1e9)
    vcpus = min(memory / 1769, 1.0)
    lambda_secs = secs_per_gb / vcpus
    cost = memory / 1024 * lambda_secs * LAMBDA_ARM64_GB_SECOND
    print()
    print("Cost of ingesting 1 GB of uncompressed logs (compute only; S3 requests and storage aside):")
    print()
    print("| what | price | per GB ingested |")
    print("|---|---|---|")
    print("| loglake fn-ingest, arm64 Lambda at %d MB (%.1f s per GB on one thread here, %.2f vCPU) "
          "| $%.10f per GB-second | $%.5f |" % (memory, secs_per_gb, vcpus, LAMBDA_ARM64_GB_SECOND, cost))
    print("| Firehose data format conversion (JSON to Parquet) | $%.3f per GB | $%.5f (%.0fx loglake) |"
          % (FIREHOSE_CONVERSION_GB, FIREHOSE_CONVERSION_GB, FIREHOSE_CONVERSION_GB / cost))
    print("(this machine's core stands in for a Graviton core; the figure scales with their speed ratio)")


if __name__ == "__main__":
    main()
