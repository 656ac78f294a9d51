#!/usr/bin/env bash
# Side-by-side benchmark: spliceproxy (splice and copy modes) against HAProxy 2.6 (forced
# splice, splice-auto, nosplice), nginx stream and socat, with the direct connection as the
# ceiling, on synthetic loads (iperf3, loadgen) and on real servers' own clients
# (redis-benchmark, pgbench). Loopback only. See tools/bench/README.md for what is measured
# and how.
#
#   tools/bench/run.sh                 full run (about 23 minutes)
#   QUICK=1 tools/bench/run.sh         smoke test: one run per figure, short tests
#   RUNS=5 BULK_SECONDS=10 tools/bench/run.sh
#   CONTENDERS=spliceproxy-splice,haproxy-splice SCENARIOS=bulk,strace tools/bench/run.sh
#
# Installs what is missing (Debian packages, non-interactively), builds spliceproxy, loadgen
# and echo_server (tools/build.sh release), then hands over to tools/bench/bench.py.
# Results: build/bench/results.json and build/bench/results.md (OUT= to change).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is required"
[[ $(uname -s) == Linux ]] || die "Linux only"

# The command as given, for the report (before this script fills in defaults).
settings=""
for v in QUICK RUNS BULK_SECONDS RR_SECONDS CONNRATE_SECONDS WARMUP IDLE_CONNS SOCAT_IDLE_CONNS \
  STRACE_SECONDS RR_SIZES RR_CONNS CONTENDERS SCENARIOS PIN CAP_MIB REDIS_SECONDS REDIS_CLIENTS \
  PGBENCH_SECONDS BUSYPOLL_CONNS BUSY_POLL; do
  if [[ -n ${!v:-} ]]; then settings+="$v=${!v} "; fi
done
export BENCH_COMMAND="${settings}tools/bench/run.sh${*:+ $*}"

# ---------------------------------------------------------------- packages
# postgresql-15 has initdb, postgres and pgbench in /usr/lib/postgresql/15/bin.
packages=(haproxy nginx libnginx-mod-stream socat iperf3 strace util-linux iproute2 redis-server
  redis-tools postgresql-15)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  # Packaged services an install may start, each with the pid files it may write.
  declare -A pid_files=(
    [haproxy]="/run/haproxy.pid /run/haproxy/haproxy.pid"
    [nginx]="/run/nginx.pid /run/nginx/nginx.pid"
    [iperf3]="/run/iperf3.pid /run/iperf3/iperf3.pid"
    [redis-server]="/run/redis/redis-server.pid"
    [postgresql]="/run/postgresql/15-main.pid"
  )
  service_running() {
    local f
    for f in ${pid_files[$1]}; do
      if [[ -s $f ]] && kill -0 "$(cat "$f")" 2>/dev/null; then return 0; fi
    done
    return 1
  }
  # Remember which packaged services run now, so only those the install starts get stopped.
  declare -A was_running=()
  for svc in "${!pid_files[@]}"; do
    if service_running "$svc"; then was_running[$svc]=1; fi
  done
  log "installing ${missing[*]}"
  echo 'iperf3 iperf3/start_daemon boolean false' | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
  apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
      --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
  }
  apt_install || { "${sudo[@]}" timeout 300 apt-get update -qq >/dev/null && apt_install; } ||
    die "could not install ${missing[*]}"
  # Debian's postinst may start haproxy/nginx/redis/PostgreSQL on their default ports: we use
  # our own configurations and ports, so stop any packaged service the install just started.
  for svc in "${!pid_files[@]}"; do
    if [[ -z ${was_running[$svc]:-} ]] && service_running "$svc"; then
      log "stopping the $svc service the package install started"
      "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
fi

# ---------------------------------------------------------------- build
log "building: tools/build.sh release spliceproxy loadgen echo_server"
tools/build.sh release spliceproxy loadgen echo_server >&2

# ---------------------------------------------------------------- limits and facts
# 10,000 idle connections through a proxy need ~20,000 descriptors in the proxy: raise the
# soft limit to the hard one (children inherit it); bench.py sizes the idle test to fit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

export CPU_MODEL
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
export VERSION_SPLICEPROXY VERSION_HAPROXY VERSION_NGINX VERSION_SOCAT VERSION_IPERF3 VERSION_REDIS
export VERSION_POSTGRESQL
# sed reads to the end: with pipefail, head's early exit would SIGPIPE the writer.
VERSION_SPLICEPROXY=$(build/release/spliceproxy --version 2>&1 | sed -n 1p)
VERSION_HAPROXY=$(haproxy -v 2>&1 | sed -n 1p)
VERSION_NGINX=$(nginx -v 2>&1 | sed -n 1p)
VERSION_SOCAT=$(socat -V 2>&1 | sed -n 2p)
VERSION_IPERF3=$(iperf3 --version 2>&1 | sed -n 1p)
VERSION_REDIS=$(redis-server --version 2>&1 | sed -n 1p)
VERSION_POSTGRESQL=$(/usr/lib/postgresql/15/bin/postgres --version 2>&1 | sed -n 1p)

# Every step in bench.py has its own timeout; this one bounds the whole run.
exec timeout --foreground -k 30 "${BENCH_TIMEOUT:-2400}" python3 tools/bench/bench.py
