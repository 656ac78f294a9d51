#!/usr/bin/env bash
# Installs the Debian 12 packages spliceproxy needs, and only those that are missing.
#   tools/deps.sh            what building and running need
#   tools/deps.sh --test     also what the test suites need
#   tools/deps.sh --fuzz     also clang and its libFuzzer runtime (tools/fuzz.sh)
#   tools/deps.sh --runtime  only what the built binary needs to run (the container's
#                            runtime stage), plus curl for its health check
# Shared by tools/run.sh, tools/test.sh and both stages of the Dockerfile.
set -euo pipefail

# libc-ares-dev: DNS service discovery; nlohmann-json3-dev: the admin API's request bodies;
# libpcap-dev: the capture reader and replay (tools/capture).
packages=(ca-certificates cmake ninja-build g++ pkg-config libboost-dev libyaml-cpp-dev libfmt-dev
  libc-ares-dev nlohmann-json3-dev libpcap-dev)
case "${1:-}" in
  "") ;;
  --test)
    # tshark: the independent reader of the mirror's captures in the integration tests.
    # prometheus: promtool, the independent judge of the /metrics exposition format; curl and
    # jq: a real HTTP client and JSON parser for the admin endpoint and access log tests.
    # haproxy: the independent PROXY protocol sender and receiver in the integration tests.
    # redis-server and redis-tools: a real protocol (redis-benchmark) captured and replayed.
    # dnsmasq-base: the DNS server the discovery tests start and rewrite (the binary only: no
    # system service is installed or started).
    packages+=(googletest libgtest-dev libssl-dev tshark prometheus curl jq haproxy redis-server
      redis-tools dnsmasq-base)
    ;;
  --fuzz) packages+=(clang libclang-rt-14-dev) ;;  # tools/fuzz.sh: libFuzzer
  --runtime) packages=(libyaml-cpp0.7 libfmt9 libc-ares2 curl) ;;
  *) echo "deps.sh: unknown option '$1' (--test, --fuzz, --runtime)" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
# wireshark-common asks whether non-root users may capture; the tests only read files.
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
  "${sudo[@]}" debconf-set-selections
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
