#!/usr/bin/env bash
# Run a command against a local AWS (moto server on loopback), and stop the
# server when the command ends, whether it passed or failed.
#   usage: scripts/with-moto.sh COMMAND...
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
port="${MOTO_PORT:-5055}"
url="http://127.0.0.1:${port}"
py="${here}/.venv/bin/python"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="$url" LOGLAKE_TEST_ENDPOINT="$url"

alive() { "$py" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=1)" "$url" 2>/dev/null; }

started=""
if ! alive; then
  "${here}/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "${here}/.moto.log" 2>&1 &
  started=$!
  trap 'kill "$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do alive && break; sleep 0.1; done
  alive || { echo "moto did not start on $url; see .moto.log" >&2; exit 1; }
fi
"$@"
