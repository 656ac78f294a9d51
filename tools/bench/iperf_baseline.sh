#!/usr/bin/env bash
# Throughput baseline: iperf3 straight to a server on loopback against iperf3
# through spliceproxy (mode splice, mode copy).
#
#   tools/bench/iperf_baseline.sh
#   DURATION=10 RUNS=5 tools/bench/iperf_baseline.sh
#   SPLICEPROXY_BIN=/path/to/spliceproxy tools/bench/iperf_baseline.sh
#
# Environment:
#   DURATION         seconds per iperf3 test (iperf3 -t), default 5
#   RUNS             repetitions per scenario and contender, default 3
#   PIPE_SIZE        splice pipe size for the splice contender, default 1MiB
#   SPLICEPROXY_BIN  use this binary instead of building build/release/spliceproxy
#   OUT              JSON results file, default build/bench/iperf_baseline.json
#
# Scenarios: 1 and 8 streams (-P 8), upload (client sends) and download (-R).
# Contenders run interleaved (direct, splice, copy, direct, ...). One iperf3
# server (-s -1) is started per test on a fixed loopback port; one proxy process
# per mode lives for the whole benchmark. The proxy's CPU time (utime+stime from
# /proc/PID/stat) is sampled around each test and reported per GiB moved.
# Loopback only; every step is bounded in time; only processes this script
# started are stopped, by PID.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
PIPE_SIZE=${PIPE_SIZE:-1MiB}
OUT=${OUT:-build/bench/iperf_baseline.json}
HOST=127.0.0.1
cmdline="$0${*:+ $*} (DURATION=$DURATION RUNS=$RUNS PIPE_SIZE=$PIPE_SIZE${SPLICEPROXY_BIN:+ SPLICEPROXY_BIN=$SPLICEPROXY_BIN})"

log() { printf '[iperf_baseline] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] || die "RUNS must be a positive integer"
command -v python3 >/dev/null || die "python3 is required"

# ---------------------------------------------------------------- iperf3
if ! dpkg-query -W -f='${Status}' iperf3 2>/dev/null | grep -q 'install ok installed'; then
  log "installing iperf3"
  # iperf3's postinst asks (debconf) whether to start a daemon: never prompt.
  echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold iperf3 >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive timeout 120 apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq iperf3 >/dev/null; } ||
    die "could not install iperf3"
fi
command -v iperf3 >/dev/null || die "iperf3 not found after install"

# ---------------------------------------------------------------- proxy binary
if [[ -n ${SPLICEPROXY_BIN:-} ]]; then
  bin=$SPLICEPROXY_BIN
else
  log "building: tools/build.sh release spliceproxy"
  tools/build.sh release spliceproxy >&2
  bin=$root/build/release/spliceproxy
fi
[[ -x $bin ]] || die "proxy binary not executable: $bin"

# ---------------------------------------------------------------- bookkeeping
work=$(mktemp -d /tmp/iperf_baseline.XXXXXX)
declare -A proxy_pid=() proxy_port=()
server_pid=""

stop_pid() { # pid: SIGTERM, wait up to 5 s, then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM within 5 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local m
  [[ -n $server_pid ]] && stop_pid "$server_pid"
  for m in "${!proxy_pid[@]}"; do stop_pid "${proxy_pid[$m]}"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() { # port -> 0 if something listens on HOST:port
  [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# A fixed range below the kernel's ephemeral range, so no outgoing connection
# can take the port between two tests.
server_port=""
for p in $(seq 24201 24299); do
  if ! listening "$p"; then server_port=$p; break; fi
done
[[ -n $server_port ]] || die "no free port in 24201-24299"

start_server() { # one-shot iperf3 server on HOST:server_port
  local i
  timeout $((DURATION + 60)) iperf3 -s -1 -B "$HOST" -p "$server_port" \
    >>"$work/iperf3-server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 100; i++)); do
    listening "$server_port" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -5 "$work/iperf3-server.log" >&2 || true
  die "iperf3 server did not start on $HOST:$server_port"
}

finish_server() { # let the one-shot server exit by itself (bounded), else stop it
  local i
  [[ -n $server_pid ]] || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    log "iperf3 server still up 5 s after the client ended: stopping it"
  fi
  stop_pid "$server_pid"
  server_pid=""
  for ((i = 0; i < 50; i++)); do listening "$server_port" || break; sleep 0.1; done
}

start_proxy() { # mode (splice|copy)
  local mode=$1 cfg=$work/proxy-$1.yaml errlog=$work/proxy-$1.log i port
  local splice_line="splice: {mode: splice, pipe_size: $PIPE_SIZE}"
  [[ $mode == copy ]] && splice_line="splice: {mode: copy}"
  cat >"$cfg" <<EOF
workers: 1
log: {level: warn}
$splice_line
listeners:
  - name: bench
    listen: $HOST:0
    backend: iperf
    timeouts: {connect: 5s, idle: 5m}
backends:
  - name: iperf
    servers:
      - address: $HOST:$server_port
EOF
  "$bin" -c "$cfg" --log-level info 2>"$errlog" >/dev/null &
  proxy_pid[$mode]=$!
  for ((i = 0; i < 100; i++)); do
    port=$(grep -o "listener bench listening on $HOST:[0-9]*" "$errlog" 2>/dev/null | head -1 | sed 's/.*://') || true
    [[ -n $port ]] && break
    kill -0 "${proxy_pid[$mode]}" 2>/dev/null || { cat "$errlog" >&2; die "proxy ($mode) exited at start"; }
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$errlog" >&2; die "proxy ($mode) did not report its listening port in 10 s"; }
  proxy_port[$mode]=$port
  log "proxy mode=$mode pid=${proxy_pid[$mode]} listening on $HOST:$port -> $HOST:$server_port"
}

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # pid -> utime+stime in clock ticks (fields 14 and 15 of /proc/PID/stat)
  # Cut after the last ')' so that a command name with spaces cannot shift fields.
  local rest
  rest=$(sed 's/.*) //' "/proc/$1/stat") || return 1
  awk '{ print $12 + $13 }' <<<"$rest" # fields 3.. after the comm: 14 -> $12, 15 -> $13
}

# ---------------------------------------------------------------- machine
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//' || echo unknown)
machine_nproc=$(nproc)
machine_kernel=$(uname -r)
iperf_version=$(iperf3 --version 2>/dev/null | head -1)
proxy_version=$("$bin" --version 2>/dev/null | head -1 || echo unknown)

echo "# iperf3 baseline: direct vs spliceproxy (splice, copy)"
echo
echo "- command: \`$cmdline\`"
echo "- machine: nproc=$machine_nproc, kernel $machine_kernel, CPU: $cpu_model"
echo "- $iperf_version; proxy: $proxy_version ($bin)"
echo "- $RUNS runs x ${DURATION}s per scenario and contender, interleaved; iperf3 server on $HOST:$server_port"
echo

start_proxy splice
start_proxy copy

# ---------------------------------------------------------------- runs
scenarios=("1 stream up:1:" "1 stream down:1:-R" "8 streams up:8:" "8 streams down:8:-R")
contenders=(direct spliceproxy-splice spliceproxy-copy)
results=$work/results.tsv
: >"$results"

total=$((RUNS * ${#scenarios[@]} * ${#contenders[@]}))
n=0
for ((run = 1; run <= RUNS; run++)); do
  for sc in "${scenarios[@]}"; do
    IFS=: read -r sc_name streams rev <<<"$sc"
    for c in "${contenders[@]}"; do
      n=$((n + 1))
      case $c in
        direct) port=$server_port; pid="" ;;
        spliceproxy-splice) port=${proxy_port[splice]}; pid=${proxy_pid[splice]} ;;
        spliceproxy-copy) port=${proxy_port[copy]}; pid=${proxy_pid[copy]} ;;
      esac
      if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
        log "proxy for $c (pid $pid) is gone"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc_name" "$c" "$run" "" "" "" "proxy process gone" >>"$results"
        continue
      fi
      start_server
      json=$work/run-$n.json
      t0=""; [[ -n $pid ]] && t0=$(cpu_ticks "$pid")
      rc=0
      # shellcheck disable=SC2086  # $rev is empty or -R
      timeout $((DURATION + 30)) iperf3 -c "$HOST" -p "$port" -t "$DURATION" -P "$streams" $rev \
        --connect-timeout 5000 --json >"$json" 2>"$work/run-$n.err" || rc=$?
      t1=""; [[ -n $pid ]] && t1=$(cpu_ticks "$pid" || echo "")
      finish_server
      IFS='|' read -r bps bytes err < <(python3 - "$json" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        d = json.load(f)
except Exception as e:
    print("||" + f"rc={rc} unreadable json: {e}".replace("|", "/").replace("\n", " ")); sys.exit()
err = d.get("error", "")
s = d.get("end", {}).get("sum_received", {})
bps, nbytes = s.get("bits_per_second"), s.get("bytes")
if rc != "0" and not err:
    err = f"iperf3 exit {rc}"
print(f"{'' if bps is None else bps}|{'' if nbytes is None else nbytes}|" + (err or "-").replace("|", "/").replace("\n", " ").replace("\t", " "))
PY
)
      [[ $err == - ]] && err=""
      cpu=""
      if [[ -n $t0 && -n $t1 ]]; then
        cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$clk_tck" 'BEGIN { printf "%.4f", (b - a) / hz }')
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc_name" "$c" "$run" "$bps" "$bytes" "$cpu" "$err" >>"$results"
      if [[ -n $bps ]]; then
        gbps=$(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }')
        log "[$n/$total] run $run, $sc_name, $c: $gbps Gbit/s${cpu:+, proxy cpu ${cpu}s}${err:+ ($err)}"
      else
        log "[$n/$total] run $run, $sc_name, $c: FAILED ($err)"
        head -c 600 "$work/run-$n.err" >&2 || true
      fi
    done
  done
done

# ---------------------------------------------------------------- stop proxies
for m in splice copy; do
  alive=yes
  kill -0 "${proxy_pid[$m]}" 2>/dev/null || alive=no
  stop_pid "${proxy_pid[$m]}"
  unset "proxy_pid[$m]"
  echo "$alive" >"$work/proxy-$m.alive"
done

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$OUT")"
python3 - "$results" "$OUT" "$work" <<PY
import json, statistics, sys, re
results, out, work = sys.argv[1], sys.argv[2], sys.argv[3]
scen_order = ["1 stream up", "1 stream down", "8 streams up", "8 streams down"]
cont_order = ["direct", "spliceproxy-splice", "spliceproxy-copy"]
raw = []
with open(results) as f:
    for line in f:
        sc, c, run, bps, nbytes, cpu, err = line.rstrip("\n").split("\t")
        raw.append({
            "scenario": sc, "contender": c, "run": int(run),
            "bits_per_second": float(bps) if bps else None,
            "bytes": int(float(nbytes)) if nbytes else None,
            "proxy_cpu_seconds": float(cpu) if cpu else None,
            "error": err or None,
        })

def med(xs):
    return statistics.median(xs) if xs else None

summary = []
direct_med = {}
for sc in scen_order:
    for c in cont_order:
        rs = [r for r in raw if r["scenario"] == sc and r["contender"] == c]
        ok = [r for r in rs if r["bits_per_second"] is not None and not r["error"]]
        g = [r["bits_per_second"] / 1e9 for r in ok]
        cpg = [r["proxy_cpu_seconds"] / (r["bytes"] / 2**30) for r in ok
               if r["proxy_cpu_seconds"] is not None and r["bytes"]]
        s = {
            "scenario": sc, "contender": c, "runs": len(rs), "ok_runs": len(ok),
            "gbit_median": med(g), "gbit_min": min(g) if g else None, "gbit_max": max(g) if g else None,
            "cpu_s_per_gib_median": med(cpg),
            "cpu_s_per_gib_min": min(cpg) if cpg else None, "cpu_s_per_gib_max": max(cpg) if cpg else None,
        }
        if c == "direct":
            direct_med[sc] = s["gbit_median"]
        d = direct_med.get(sc)
        s["ratio_to_direct"] = (s["gbit_median"] / d) if (d and s["gbit_median"] is not None) else None
        summary.append(s)

print("| scenario | contender | Gbit/s median (min–max) | ratio to direct | proxy CPU-s/GiB median (min–max) | ok runs |")
print("| --- | --- | --- | --- | --- | --- |")
for s in summary:
    if s["gbit_median"] is None:
        thr = "failed"
    else:
        thr = f"{s['gbit_median']:.2f} ({s['gbit_min']:.2f}–{s['gbit_max']:.2f})"
    ratio = "1.00" if s["contender"] == "direct" and s["gbit_median"] is not None else (
        f"{s['ratio_to_direct']:.2f}" if s["ratio_to_direct"] is not None else "–")
    cpu = "–" if s["cpu_s_per_gib_median"] is None else (
        f"{s['cpu_s_per_gib_median']:.3f} ({s['cpu_s_per_gib_min']:.3f}–{s['cpu_s_per_gib_max']:.3f})")
    print(f"| {s['scenario']} | {s['contender']} | {thr} | {ratio} | {cpu} | {s['ok_runs']}/{s['runs']} |")

errors = [r for r in raw if r["error"]]
if errors:
    print()
    print("Failed or erroring runs:")
    for r in errors:
        print(f"- run {r['run']}, {r['scenario']}, {r['contender']}: {r['error']}")

proxies = {}
for m in ("splice", "copy"):
    lines = open(f"{work}/proxy-{m}.log", errors="replace").read().splitlines()
    stats = [l for l in lines if " stats: " in l]
    bad = [l for l in lines if re.match(r"^\S+ (warn|error|fatal|critical)\b", l)]
    alive = open(f"{work}/proxy-{m}.alive").read().strip() == "yes"
    proxies[m] = {"alive_at_end": alive, "final_stats": stats[-1] if stats else None,
                  "warn_error_lines": bad[:50], "warn_error_count": len(bad)}
print()
for m, p in proxies.items():
    print(f"proxy mode={m}: alive at end={'yes' if p['alive_at_end'] else 'NO'}, "
          f"warn/error log lines={p['warn_error_count']}")
    if p["final_stats"]:
        print("  " + p["final_stats"].split(" stats: ", 1)[1])
    for l in p["warn_error_lines"][:10]:
        print("  " + l)

doc = {
    "command": """$cmdline""",
    "machine": {"nproc": $machine_nproc, "kernel": "$machine_kernel", "cpu_model": """$cpu_model"""},
    "iperf3": """$iperf_version""", "proxy_binary": """$bin""", "proxy_version": """$proxy_version""",
    "duration_s": $DURATION, "runs": $RUNS, "pipe_size": "$PIPE_SIZE", "clk_tck": $clk_tck,
    "summary": summary, "raw": raw, "proxies": proxies,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
PY
echo
echo "JSON results: $OUT"
