#!/usr/bin/env bash
# Builds the image from the Dockerfile, unchanged, with podman and checks the container:
#   1. base images: no registry is reachable, so `debian:12` and `debian:12-slim` are made here
#      (once; kept in podman's storage) by debootstrap (minbase) from this machine's own Debian
#      mirror, the `bookworm` entry of its apt sources, and `podman import`ed;
#   2. `podman build` of the Dockerfile (both stages; apt inside reaches the same mirror);
#   3. the container runs as its unprivileged user (uid 10001), with the image's own config;
#   4. its HEALTHCHECK command passes (`podman healthcheck run`: podman schedules the periodic
#      check with a systemd timer, and without systemd it logs errors about that, harmless);
#   5. a 64 MiB transfer through it to an echo application comes back byte-exact (SHA-256);
#   6. a reload with a bad config (`podman kill --signal HUP`) is refused, logged, and the
#      container keeps serving (health check and a transfer again); a good one is applied;
#   7. `podman stop` (SIGTERM) during a live 8 MiB transfer: the transfer finishes byte-exact,
#      the container exits 0 within the config's drain_timeout (25 s);
#   8. prints the image size.
# The container gets a network namespace of its own (`--network none`: loopback only), like a
# pod: its config listens on 0.0.0.0:8080 and :9901 and forwards to its application on
# 127.0.0.1:9000, which here is tools/container/transfer.py (echo), entered into that
# namespace with nsenter, as is the client. Nothing binds a port of the host.
# Engine flags for these machines (no CAP_SYS_RESOURCE, cgroups in hybrid mode, where podman's
# defaults fail): --runtime runc --storage-driver vfs --cgroup-manager cgroupfs, explicit
# --ulimit nofile=1024:1024 --ulimit nproc=1024:1024, and --network host for the build.
# Needs root; installs podman, runc, debootstrap, python3 and curl when missing. Not part of CI:
# on 2 busy vCPUs it took 42 minutes the first time (debootstrap 9, the build stage's compile
# most of the rest) and 33 the second. Removes the containers it made; leaves the images in
# podman's storage: debian:12 and debian:12-slim (reused), spliceproxy:check, and the build
# stage's image (reused while no file of the build context changed; otherwise the old one is
# left untagged, about 1 GB with vfs: `podman image prune`, engine flags above, removes it).
#   tools/container_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "container_check.sh: run as root (podman, debootstrap)" >&2
  exit 1
fi

need=()
for tool in podman:podman runc:runc debootstrap:debootstrap python3:python3 curl:curl; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "container_check.sh: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    >/dev/null
fi

# The mirror this machine's apt uses for the `bookworm` suite: the first URI of a deb822 stanza
# (/etc/apt/sources.list.d/*.sources) whose Suites has `bookworm`, else of a one-line
# `deb [options] URI bookworm ...` entry (/etc/apt/sources.list, sources.list.d/*.list).
apt_mirror() {
  local uri
  uri=$(awk '
    function flush() {
      if (suite_ok && uri != "" && found == "") found = uri
      suite_ok = 0; uri = ""
    }
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
  if [[ -z $uri ]]; then
    echo "container_check.sh: no bookworm entry in the apt sources" >&2
    return 1
  fi
  echo "$uri"
}

engine=(podman --runtime runc --storage-driver vfs --cgroup-manager cgroupfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
image=spliceproxy:check
name=spliceproxy-check-$$
work=$(mktemp -d /tmp/spliceproxy-container.XXXXXX)
helpers=()
cleanup() {
  for pid in "${helpers[@]}"; do kill "$pid" 2>/dev/null || true; done
  "${engine[@]}" rm -f --time 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "container_check.sh: FAIL: $*" >&2
  "${engine[@]}" logs --tail 20 "$name" >&2 2>/dev/null || true
  exit 1
}
step() { echo "== $*"; }

step "base images debian:12 and debian:12-slim"
if ! "${engine[@]}" image exists debian:12 || ! "${engine[@]}" image exists debian:12-slim; then
  mirror=$(apt_mirror)
  echo "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$work/base" "$mirror" >/dev/null
  # As Debian's own images: no package lists, a PATH and a shell by default.
  rm -rf "$work/base/var/lib/apt/lists/"* "$work/base/var/cache/apt/"*.bin
  tar -C "$work/base" -c . | "${engine[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - debian:12 >/dev/null
  "${engine[@]}" tag debian:12 debian:12-slim
  rm -rf "$work/base"
fi

step "podman build (the Dockerfile as it is)"
# --format docker: the OCI image format has no HEALTHCHECK.
"${engine[@]}" build --format docker --network host "${limits[@]}" -t "$image" -f Dockerfile .

step "run as the image's user"
"${engine[@]}" run -d --name "$name" --network none "${limits[@]}" "$image" >/dev/null
pid=$("${engine[@]}" inspect --format '{{.State.Pid}}' "$name")
in_net() { nsenter --net="/proc/$pid/ns/net" "$@"; }
# nsenter execs python3: $! is the echo application's own PID.
nsenter --net="/proc/$pid/ns/net" python3 tools/container/transfer.py echo 9000 &
helpers+=($!)
ready=false
for _ in $(seq 100); do
  in_net curl -fsS http://127.0.0.1:9901/readyz >/dev/null 2>&1 && { ready=true; break; }
  sleep 0.1
done
$ready || fail "/readyz did not answer 200 within 10 s"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[[ $uid == 10001 ]] || fail "the proxy runs as uid $uid, not 10001"
echo "the proxy (pid $pid on the host) runs as uid $uid"

step "health check"
"${engine[@]}" healthcheck run "$name" || fail "the HEALTHCHECK command failed"
echo "podman healthcheck run: healthy"

step "transfer"
in_net python3 tools/container/transfer.py send 8080 $((64 << 20)) || fail "transfer not byte-exact"

step "reload with a bad config (SIGHUP)"
"${engine[@]}" cp tools/container/proxy.yaml "$name:/tmp/good.yaml"
printf 'workers: 2\nlisteners: [{name: app, listen: "0.0.0.0:8080", backend: nowhere}]\n' \
  >"$work/bad.yaml"
"${engine[@]}" cp "$work/bad.yaml" "$name:/etc/spliceproxy/proxy.yaml"
"${engine[@]}" kill --signal HUP "$name" >/dev/null
for _ in $(seq 50); do
  "${engine[@]}" logs "$name" 2>&1 | grep -q 'reload failed' && break
  sleep 0.1
done
"${engine[@]}" logs "$name" 2>&1 | grep 'reload failed' || fail "no 'reload failed' in the log"
"${engine[@]}" inspect --format '{{.State.Running}}' "$name" | grep -q true || fail "it stopped"
"${engine[@]}" healthcheck run "$name" || fail "unhealthy after the bad reload"
in_net python3 tools/container/transfer.py send 8080 $((8 << 20)) || fail "no transfer after it"
"${engine[@]}" cp tools/container/proxy.yaml "$name:/etc/spliceproxy/proxy.yaml"
"${engine[@]}" kill --signal HUP "$name" >/dev/null
for _ in $(seq 50); do
  "${engine[@]}" logs "$name" 2>&1 | grep -q 'config reloaded' && break
  sleep 0.1
done
"${engine[@]}" logs "$name" 2>&1 | grep 'config reloaded' || fail "the good config was not reloaded"

step "podman stop (SIGTERM) during a live transfer"
nsenter --net="/proc/$pid/ns/net" python3 tools/container/transfer.py send 8080 $((8 << 20)) 8 \
  >"$work/drain.out" 2>&1 &
client=$!
helpers+=("$client")
for _ in $(seq 100); do
  grep -q connected "$work/drain.out" && break
  sleep 0.1
done
sleep 1  # a second of it through the proxy before the signal
start=$EPOCHREALTIME
"${engine[@]}" stop --time 40 "$name" >/dev/null
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
wait "$client" || { cat "$work/drain.out"; fail "the live transfer did not finish byte-exact"; }
cat "$work/drain.out"
status=$("${engine[@]}" inspect --format '{{.State.ExitCode}}' "$name")
"${engine[@]}" logs "$name" 2>&1 | grep -E 'signal 15|drained:' || true
[[ $status == 0 ]] || fail "exit status $status after SIGTERM, not 0"
awk -v t="$elapsed" 'BEGIN { exit !(t < 25) }' ||
  fail "podman stop took $elapsed s, more than drain_timeout (25 s)"
echo "stopped in $elapsed s, exit status 0"

step "image size"
"${engine[@]}" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image"
"${engine[@]}" image inspect --format '{{.Size}} bytes' "$image"
echo "container_check.sh: all checks passed"
