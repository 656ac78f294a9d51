#!/usr/bin/env bash
# Builds and runs every libFuzzer target, each for a bounded time, one after the other:
#   proxy_protocol  the PROXY protocol parser (proxy/protocol/proxy_protocol.cpp)
#   config          the config loader, YAML text -> the `--check` path (config/*.cpp)
#   tls_client_hello  the TLS ClientHello parser (proxy/protocol/tls_client_hello.cpp)
#
#   tools/fuzz.sh                           every target, 60 s each
#   FUZZ_SECONDS=600 tools/fuzz.sh config   one target, 10 minutes
# The targets are compiled here with clang (-fsanitize=fuzzer,address,undefined), never by the
# CMake build (which uses g++); the config target links Debian's yaml-cpp and fmt, which are not
# instrumented (coverage guides the fuzzer through config/ only). Each starts from its committed
# corpus, test/fuzz/corpus/TARGET (the named files are hand-made seeds, the hashed ones what
# earlier 10-minute runs found, merged with -merge=1), and writes what it finds to
# build/fuzz/corpus/TARGET (new inputs) and build/fuzz/TARGET-crash-* (an input that failed).
# To add a run's finds to the committed corpus:
#   build/fuzz/TARGET_fuzzer -merge=1 -max_len=N test/fuzz/corpus/TARGET build/fuzz/corpus/TARGET
# Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(proxy_protocol config tls_client_hello)
[[ $# -gt 0 ]] && targets=("$@")
for target in "${targets[@]}"; do
  case "$target" in
    proxy_protocol | config | tls_client_hello) ;;
    *) echo "fuzz.sh: unknown target '$target' (proxy_protocol, config, tls_client_hello)" >&2
      exit 2 ;;
  esac
done

tools/deps.sh --fuzz

seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.)

# Compiles TARGET's fuzzer into build/fuzz/TARGET_fuzzer.
build_target() {
  local target=$1 binary=$out/$1_fuzzer
  case "$target" in
    proxy_protocol)
      clang++ "${flags[@]}" test/fuzz/proxy_protocol_fuzzer.cpp proxy/protocol/proxy_protocol.cpp \
        -o "$binary" ;;
    config)
      clang++ "${flags[@]}" test/fuzz/config_fuzzer.cpp config/*.cpp -lyaml-cpp -lfmt \
        -o "$binary" ;;
    tls_client_hello)
      clang++ "${flags[@]}" test/fuzz/tls_client_hello_fuzzer.cpp \
        proxy/protocol/tls_client_hello.cpp -o "$binary" ;;
  esac
}

max_len() {
  case "$1" in
    proxy_protocol) echo 1024 ;;
    config) echo 16384 ;;  # room for proxy.yaml.example (under 10 KiB) and its variations
    tls_client_hello) echo 4096 ;;
  esac
}

mkdir -p "$out"
for target in "${targets[@]}"; do
  build_target "$target"
  mkdir -p "$out/corpus/$target"
  echo "fuzz.sh: running the $target fuzzer for ${seconds}s"
  "$out/${target}_fuzzer" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
    -print_final_stats=1 -artifact_prefix="$out/$target-" \
    "$out/corpus/$target" "test/fuzz/corpus/$target"
done
