#!/usr/bin/env bash
# Installs what is missing, builds, and runs spliceproxy on proxy.yaml.example in front of
# the demo backend (127.0.0.1:9000). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
tools/build.sh release spliceproxy demo_backend

bin=build/release
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$bin/demo_backend" 127.0.0.1 9000 &
pids+=($!)
"$bin/spliceproxy" -c proxy.yaml.example "$@" &
pids+=($!)

cat <<'TEXT'

spliceproxy is forwarding 127.0.0.1:8080 to the demo backend on 127.0.0.1:9000. Try:
  curl http://127.0.0.1:8080/
  curl -o /dev/null -w '%{size_download} bytes in %{time_total} s\n' http://127.0.0.1:8080/bytes/1000000000
Ctrl-C stops both.

TEXT
wait -n "${pids[@]}"
