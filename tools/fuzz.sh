#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the PROXY protocol and TLS ClientHello parsers, each
# for a bounded time.
#   tools/fuzz.sh                 60 s
#   FUZZ_SECONDS=600 tools/fuzz.sh
# The target is compiled here with clang (-fsanitize=fuzzer,address,undefined), never by the
# CMake build (which uses g++). It starts from the committed seed corpus,
# test/fuzz/corpus/proxy_protocol, and writes what it finds to build/fuzz/corpus (new inputs)
# and build/fuzz/ (crash-*, with the input that failed). Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh --fuzz

seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out/corpus"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I. test/fuzz/proxy_protocol_fuzzer.cpp proxy/protocol/proxy_protocol.cpp -o "$out/proxy_protocol_fuzzer"
echo "fuzz.sh: running the PROXY protocol parser for ${seconds}s"
"$out/proxy_protocol_fuzzer" -max_total_time="$seconds" -max_len=1024 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus" test/fuzz/corpus/proxy_protocol

mkdir -p "$out/corpus_tls"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I. test/fuzz/tls_client_hello_fuzzer.cpp proxy/protocol/tls_client_hello.cpp \
  -o "$out/tls_client_hello_fuzzer"
echo "fuzz.sh: running the TLS ClientHello parser for ${seconds}s"
"$out/tls_client_hello_fuzzer" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus_tls" test/fuzz/corpus/tls_client_hello
