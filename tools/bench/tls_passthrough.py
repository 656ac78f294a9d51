#!/usr/bin/env python3
"""TLS passthrough bulk benchmark: what routing by SNI costs the proxy per GiB.

A real TLS download (curl from `openssl s_server -WWW`, a file on tmpfs) through:
  direct               no proxy (the ceiling)
  spliceproxy          plain forwarding: the listener names one backend
  spliceproxy-sni      the same listener with tls_routes: the hello is peeked, then spliced
  haproxy-sni          HAProxy 2.6 mode tcp, forced splice, req.ssl_sni routing with
                       tcp-request inspect-delay (the anchor)
Each contender runs for the whole benchmark; the downloads are interleaved (A B C D A B C D)
RUNS times. Reported per contender: Gbit/s and proxy CPU seconds per GiB (utime + stime of
the proxy's processes over the download), medians with min-max. Only processes started here
are stopped, by PID. Not a test, not in CI.

  tools/bench/tls_passthrough.py                 RUNS=5 SIZE_MIB=1024 by default
  RUNS=3 SIZE_MIB=512 tools/bench/tls_passthrough.py
Needs build/release/spliceproxy (tools/build.sh release spliceproxy), openssl, curl, haproxy.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.join(ROOT, "build", "release", "spliceproxy")
RUNS = int(os.environ.get("RUNS", "5"))
SIZE_MIB = int(os.environ.get("SIZE_MIB", "1024"))
PROXY_CPU = os.environ.get("PROXY_CPU", "0")  # the proxy pinned here, the peers elsewhere
PEER_CPUS = os.environ.get("PEER_CPUS", "1")
NAME = "www.example.com"
HZ = os.sysconf("SC_CLK_TCK")
started = []
workdirs = []


def spawn(argv, cpus, **kw):
    p = subprocess.Popen(["taskset", "-c", cpus] + argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, **kw)
    started.append(p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:13]) / HZ


def spliceproxy_yaml(port, backend_port, sni):
    routes = f"    tls_routes: [{{server_names: [{NAME}], backend: tls}}]\n" if sni else ""
    return (f"workers: 1\nlog: {{access: \"off\"}}\nlisteners:\n  - name: web\n"
            f"    listen: 127.0.0.1:{port}\n    backend: tls\n{routes}"
            f"backends:\n  - {{name: tls, servers: [{{address: 127.0.0.1:{backend_port}}}]}}\n")


def haproxy_cfg(port, backend_port):
    return f"""global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
    option splice-request
    option splice-response
frontend tls
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend tls if {{ req.ssl_sni -i {NAME} }}
    default_backend tls
backend tls
    server s1 127.0.0.1:{backend_port}
"""


def start_contender(name, work, backend_port):
    if name == "direct":
        return backend_port, None
    port = free_port()
    path = os.path.join(work, name + ".conf")
    if name.startswith("spliceproxy"):
        with open(path, "w") as f:
            f.write(spliceproxy_yaml(port, backend_port, name.endswith("-sni")))
        proc = spawn([BINARY, "-c", path], PROXY_CPU)
    else:
        with open(path, "w") as f:
            f.write(haproxy_cfg(port, backend_port))
        proc = spawn(["haproxy", "-db", "-f", path], PROXY_CPU)
    wait_listening(port, proc)
    return port, proc


def download(port):
    """One curl download through `port`; returns seconds."""
    start = time.time()
    subprocess.run(["taskset", "-c", PEER_CPUS, "curl", "-sSk", "-o", "/dev/null", "--resolve",
                    f"{NAME}:{port}:127.0.0.1", f"https://{NAME}:{port}/big.bin"],
                   check=True, timeout=600)
    return time.time() - start


def med(xs):
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"


def main():
    work = tempfile.mkdtemp(prefix="tls-bench-", dir="/dev/shm")
    workdirs.append(work)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=" + NAME,
                    "-keyout", os.path.join(work, "k.pem"), "-out", os.path.join(work, "c.pem")],
                   check=True, capture_output=True)
    with open(os.path.join(work, "big.bin"), "wb") as f:
        f.truncate(SIZE_MIB << 20)
    backend_port = free_port()
    server = spawn(["openssl", "s_server", "-accept", f"127.0.0.1:{backend_port}", "-cert",
                    "c.pem", "-key", "k.pem", "-WWW", "-quiet"], PEER_CPUS, cwd=work)
    wait_listening(backend_port, server)
    names = ["direct", "spliceproxy", "spliceproxy-sni", "haproxy-sni"]
    contenders = {n: start_contender(n, work, backend_port) for n in names}
    results = {n: {"gbit": [], "cpu": []} for n in names}
    gib = SIZE_MIB / 1024
    for _ in range(RUNS):
        for n in names:
            port, proc = contenders[n]
            before = cpu_seconds(proc.pid) if proc else 0
            seconds = download(port)
            after = cpu_seconds(proc.pid) if proc else 0
            results[n]["gbit"].append(SIZE_MIB * 8 / 1024 / seconds)
            results[n]["cpu"].append((after - before) / gib)
    print(f"TLS passthrough download, {SIZE_MIB} MiB x {RUNS} runs, medians (min-max)")
    print("| contender | Gbit/s | proxy CPU-s/GiB |")
    print("| --- | --- | --- |")
    for n in names:
        cpu = med(results[n]["cpu"]) if n != "direct" else "-"
        print(f"| {n} | {med(results[n]['gbit'])} | {cpu} |")
    base = statistics.median(results["spliceproxy"]["cpu"])
    sni = statistics.median(results["spliceproxy-sni"]["cpu"])
    anchor = statistics.median(results["haproxy-sni"]["cpu"])
    print(f"spliceproxy-sni / spliceproxy CPU per GiB: {sni / base:.2f}")
    print(f"spliceproxy-sni / haproxy-sni CPU per GiB: {sni / anchor:.2f}")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
        for work in workdirs:
            shutil.rmtree(work, ignore_errors=True)
