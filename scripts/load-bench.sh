#!/usr/bin/env bash
# `make load-bench`: `loglake serve --lake` on loopback, loaded by `loglake
# load` in the two shapes docs/http.md reports (single-event requests at
# concurrency 10; batches of 100), each run checked against the lake (every
# accepted event a row). The server is stopped on exit, pass or fail.
# Usage: scripts/load-bench.sh BIN [SECONDS]
set -euo pipefail
bin="$1"
secs="${2:-10}"
lake="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" serve --listen "127.0.0.1:$port" --lake "$lake/lake" 2> "$lake/serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$lake"' EXIT
for _ in $(seq 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
echo "== single events, concurrency 10, ${secs} s"
"$bin" load --url "http://127.0.0.1:$port" --concurrency 10 --duration "$secs" --check-lake "$lake/lake"
echo "== batches of 100, concurrency 10, ${secs} s"
"$bin" load --url "http://127.0.0.1:$port" --concurrency 10 --batch 100 --duration "$secs" --check-lake "$lake/lake"
