#!/usr/bin/env bash
# Runs the Dockerfile's two stages without a container engine, each in a fresh Debian 12
# root made by debootstrap and entered with chroot, and checks the result:
#   build stage:   tools/deps.sh && tools/build.sh release spliceproxy   (as in the Dockerfile
#                  and tools/run.sh; no test packages, so the suites are not built)
#   runtime stage: tools/deps.sh --runtime, the binary and tools/container/proxy.yaml copied in,
#                  run as an unprivileged user; the HEALTHCHECK command must answer.
# Needs root and the machine's own Debian mirror (the `bookworm` entry of its apt sources);
# takes a few minutes; not part of CI.
#   tools/container_check.sh [WORKDIR]     (default: a new directory under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "container_check.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null

# The mirror this machine's apt uses for the `bookworm` suite: the first URI of a deb822 stanza
# (/etc/apt/sources.list.d/*.sources) whose Suites has `bookworm`, else of a one-line
# `deb [options] URI bookworm ...` entry (/etc/apt/sources.list, sources.list.d/*.list).
apt_mirror() {
  local uri
  uri=$(awk '
    function flush() { if (suite_ok && uri != "" && found == "") found = uri; suite_ok = 0; uri = "" }
    FNR == 1 { flush() }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]*#/ { next }
    tolower($1) == "uris:" { uri = $2 }
    tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite_ok = 1 }
    END { flush(); print found }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/#.*//; s/\[[^]]*\]//' |
      awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
  fi
  [[ -n $uri ]] || { echo "container_check.sh: no bookworm entry in the apt sources" >&2; return 1; }
  echo "$uri"
}
mirror=$(apt_mirror)

work=${1:-$(mktemp -d /tmp/spliceproxy-container.XXXXXX)}
mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# A fresh Debian 12 root with /proc and /dev; the base is fetched once and copied per stage.
new_root() {
  local root=$work/$1
  if [[ ! -f $work/base.tar ]]; then
    debootstrap --variant=minbase bookworm "$work/base" "$mirror" >/dev/null
    tar -C "$work/base" -cf "$work/base.tar" .
  fi
  mkdir -p "$root" && tar -C "$root" -xf "$work/base.tar"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  for fs in proc dev; do mount --bind "/$fs" "$root/$fs" && mounts+=("$root/$fs"); done
}

echo "== build stage"
new_root build
mkdir -p "$work/build/src"
git ls-files -z | xargs -0 cp --parents -t "$work/build/src"
chroot "$work/build" /bin/bash -c 'cd /src && tools/deps.sh && tools/build.sh release spliceproxy'

echo "== runtime stage"
new_root runtime
cp tools/deps.sh "$work/runtime/tmp/deps.sh"
chroot "$work/runtime" /bin/bash -c '/tmp/deps.sh --runtime && useradd --system --uid 10001 \
  --home-dir /var/lib/spliceproxy --create-home spliceproxy'
install -D -m 0755 "$work/build/src/build/release/spliceproxy" "$work/runtime/usr/local/bin/spliceproxy"
install -D -m 0644 tools/container/proxy.yaml "$work/runtime/etc/spliceproxy/proxy.yaml"
# Its own network namespace: the container config listens on 0.0.0.0, which here is only
# the namespace's loopback.
unshare --net /bin/bash -c '
  ip link set lo up
  chroot --userspec=10001:10001 "$1" /bin/bash -c \
    "cd /var/lib/spliceproxy && exec spliceproxy -c /etc/spliceproxy/proxy.yaml" &
  pid=$!
  trap "kill $pid 2>/dev/null" EXIT
  for _ in $(seq 100); do
    if chroot "$1" curl -fsS http://127.0.0.1:9901/healthz >/dev/null 2>&1; then
      echo "container_check.sh: the runtime stage answers /healthz as uid 10001"
      exit 0
    fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  echo "container_check.sh: no answer on /healthz" >&2
  exit 1
' check "$work/runtime"
