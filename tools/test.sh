#!/usr/bin/env bash
# Installs what is missing, checks the layer order of proxy/'s includes, builds, and runs every
# test: unit and integration suites in a release build, then again in an AddressSanitizer +
# UndefinedBehaviorSanitizer build followed by a 2-minute soak of that build (tools/soak.sh 120
# --build asan: mixed traffic, faults, reloads, drift bounds), then the unit tests and the
# suites about threads and signals (ctest label `threads`: workers, reload, drain) in a
# ThreadSanitizer build, which builds only what those need.
#   tools/test.sh [ctest args...]     e.g. tools/test.sh -R Forwarding (with ctest arguments,
#                                     the soak is left out)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh --test
tools/check_layers.sh  # every include under proxy/ points down the layer order

run_suite() {
  local kind=$1
  shift
  echo "== $kind build"
  tools/build.sh "$kind"
  echo "== $kind tests"
  if [[ ! -x "build/$kind/unit_tests" || ! -x "build/$kind/integration_tests" ]]; then
    echo "tools/test.sh: build/$kind has no test suites (see the cmake output above)" >&2
    exit 1
  fi
  # Unit tests in parallel; integration tests one at a time, as they move hundreds of MiB.
  ctest --test-dir "build/$kind" --output-on-failure -L unit -j "$(nproc)" "$@"
  ctest --test-dir "build/$kind" --output-on-failure -L integration "$@"
}

run_threads_suite() {
  echo "== tsan build"
  tools/build.sh tsan spliceproxy unit_tests threads_tests
  echo "== tsan tests"
  ctest --test-dir build/tsan --output-on-failure -L unit -j "$(nproc)" "$@"
  ctest --test-dir build/tsan --output-on-failure -L threads "$@"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# A race report makes the process (the proxy, or a test) exit with status 66.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
run_suite release "$@"
run_suite asan "$@"
if [[ $# -eq 0 ]]; then
  echo "== asan soak"
  tools/soak.sh 120 --build asan
fi
run_threads_suite "$@"
echo "tools/test.sh: all suites passed"
