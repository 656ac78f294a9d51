#!/usr/bin/env bash
# Soak: runs spliceproxy for DURATION seconds of steady mixed traffic (bulk, ping-pong, many
# short connections, slow readers; every client speaks PROXY protocol, every session is
# mirrored) through `workers: 2`, while faults are injected on a schedule: backends killed and
# restarted, a backend that accepts and never reads, clients that reset mid-stream, a mirror
# sink that stalls, SIGHUP reloads every 3 s (one in three with a bad config). It checks every
# reply byte for byte (completed transfers by SHA-256), that the proxy never dies, and that its
# RSS, descriptors, pipes and threads come back, once quiet, within stated bounds of their
# values after the warm-up. Prints a report; exits 1 on a wrong byte, a crash or drift.
# What exactly is checked, and the bounds: tools/soak/soak.py.
#   tools/soak.sh [DURATION] [--build release|asan] [--work DIR]
#       DURATION in seconds, default 600; the run takes about 30 s more (quiet waits).
#       --build: which build to soak (tools/build.sh KIND), default release. CI runs
#       `tools/soak.sh 120 --build asan` from tools/test.sh.
#       --work: keep the logs, config, access log and report.json there (default: a temporary
#       directory, removed when the soak passes).
# Only loopback; stops every process it started, by PID. Needs python3 (standard library).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=600
kind=release
work=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) kind=${2:?--build needs release or asan}; shift 2 ;;
    --work) work=(--work "${2:?--work needs a directory}"); shift 2 ;;
    [0-9]*) duration=$1; shift ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$kind" in
  release | asan) ;;
  *) echo "soak.sh: --build release or asan, not '$kind'" >&2; exit 2 ;;
esac

tools/deps.sh
command -v python3 >/dev/null || { echo "soak.sh: needs python3" >&2; exit 1; }
tools/build.sh "$kind" spliceproxy echo_server
if [[ $kind == asan ]]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
exec python3 tools/soak/soak.py "$duration" --bin "build/$kind" --kind "$kind" "${work[@]}"
