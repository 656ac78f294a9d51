#!/usr/bin/env bash
# Configures and builds spliceproxy out of tree.
#   tools/build.sh release [TARGET...]   build/release, optimised, with the tests
#   tools/build.sh asan [TARGET...]      build/asan, AddressSanitizer + UndefinedBehaviorSanitizer
#   tools/build.sh tsan [TARGET...]      build/tsan, ThreadSanitizer
#   tools/build.sh debug [TARGET...]     build/debug
# Shared by tools/run.sh, tools/test.sh and the Dockerfile's build stage.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-release}
shift || true
case "$kind" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPLICEPROXY_SANITIZE=address,undefined) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPLICEPROXY_SANITIZE=thread) ;;
  debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "build.sh: unknown build kind '$kind' (release, asan, tsan, debug)" >&2; exit 2 ;;
esac

dir="build/$kind"
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$dir" "${targets[@]}"
