#!/usr/bin/env python3
"""Side-by-side benchmark of spliceproxy against HAProxy, nginx stream and socat.

Started by tools/bench/run.sh (which installs the packages, builds the C++ tools and sets
the environment); see tools/bench/README.md. Python only orchestrates and parses: the
measured traffic comes from iperf3, tools/loadgen.cpp against tools/echo_server.cpp, and
redis-benchmark and pgbench against redis-server and PostgreSQL.

Every contender runs for the whole benchmark, one process (or master + one worker) each,
on its own loopback ports, one in front of each backend (BACKEND_PORTS). Within each
scenario the contenders run interleaved (A B C ... A B C ...). Only processes started here
are stopped, by PID, at the end or on any error.
"""
import contextlib
import csv
import json
import os
import pwd
import resource
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST = "127.0.0.1"
ENV = os.environ
QUICK = ENV.get("QUICK", "0") == "1"


def env_num(name, default, quick, kind=float):
    return kind(ENV.get(name, quick if QUICK else default))


RUNS = env_num("RUNS", 3, 1, int)
BULK_SECONDS = env_num("BULK_SECONDS", 4, 2)
RR_SECONDS = env_num("RR_SECONDS", 2, 1)
CONNRATE_SECONDS = env_num("CONNRATE_SECONDS", 3, 1)
WARMUP = env_num("WARMUP", 0.5, 0.3)
# Each idle connection costs the proxy two descriptors: the idle test is cut down to fit
# under the hard RLIMIT_NOFILE (which only CAP_SYS_RESOURCE can raise).
HARD_NOFILE = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1 << 20)
IDLE_CONNS_WANTED = env_num("IDLE_CONNS", 10000, 2000, int)
# (1,000 descriptors stay for listeners, HAProxy's pipes and the like.)
IDLE_CONNS = min(IDLE_CONNS_WANTED, (HARD_NOFILE - 1000) // 2 // 100 * 100)
SOCAT_IDLE_CONNS = min(env_num("SOCAT_IDLE_CONNS", 1000, 300, int), IDLE_CONNS)
STRACE_SECONDS = env_num("STRACE_SECONDS", 3, 2)
# redis-benchmark counts requests, not time: -n is sized so that each test takes about this.
REDIS_SECONDS = env_num("REDIS_SECONDS", 2, 1)
REDIS_CLIENTS = [int(x) for x in ENV.get("REDIS_CLIENTS", "1,50").split(",")]
REDIS_PIPELINE = 16
BUSYPOLL_CONNS = [int(x) for x in ENV.get("BUSYPOLL_CONNS", "1,8").split(",")]
PGBENCH_SECONDS = env_num("PGBENCH_SECONDS", 3, 2, int)
PGBENCH_CLIENTS, PGBENCH_THREADS = 16, 2
PG_BIN = ENV.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # the cluster's superuser and, when we run as root, its owner
RR_SIZES = [int(x) for x in ENV.get("RR_SIZES", "64,4096").split(",")]
RR_CONNS = [int(x) for x in ENV.get("RR_CONNS", "64" if QUICK else "1,64,512").split(",")]
CONNRATE_INFLIGHT = env_num("CONNRATE_INFLIGHT", 32, 32, int)
# The bandwidth cap of the "-cap" contenders, per session, backend to client (scenario "cap").
CAP_BYTES = env_num("CAP_MIB", 50, 50, int) * 2**20
# The "-busy" spliceproxy contender's busy_poll: how long its worker polls without sleeping
# after a round that handled events.
BUSY_POLL = ENV.get("BUSY_POLL", "50us")
PIN = ENV.get("PIN", "1") == "1" and os.cpu_count() >= 2
ONLY = [x for x in ENV.get("CONTENDERS", "").split(",") if x]
SCENARIOS = [x for x in ENV.get("SCENARIOS",
                                "bulk,rr,connrate,idle,strace,cap,redis,pgbench,busypoll")
             .split(",") if x]
PORT_BASE = int(ENV.get("PORT_BASE", "24300"))
OUT = ENV.get("OUT", os.path.join(ROOT, "build", "bench", "results.json"))
BIN = ENV.get("BIN_DIR", os.path.join(ROOT, "build", "release"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The proxies' connection limits are sized so that the idle test fits under HARD_NOFILE.
MAXCONN = max(IDLE_CONNS, SOCAT_IDLE_CONNS) + 100
HAPROXY_MAXPIPES = max(64, min(4096, (HARD_NOFILE - 2 * MAXCONN - 100) // 2))
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

PROXY_CPUS = ["taskset", "-c", "0"] if PIN else []
LOAD_CPUS = ["taskset", "-c", "1"] if PIN else []
ANCHORS = ["haproxy-splice", "haproxy-splice-auto", "haproxy-nosplice", "nginx-stream", "socat"]

started = []  # every Popen this script started, stopped by PID in cleanup()


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def spawn(argv, cpus, **kw):
    """Starts argv (pinned with taskset when asked) and remembers it for cleanup."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen(cpus + argv, **kw)
    started.append(p)
    return p


def children(pid):
    """Live descendants of pid, read from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def stop(p):
    """SIGTERM, 5 s grace, SIGKILL; then the same for descendants still alive (socat forks)."""
    kids = children(p.pid)
    if p.poll() is None:
        os.kill(p.pid, signal.SIGCONT)  # a busy-polling contender is held stopped between turns
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            log(f"pid {p.pid} ignored SIGTERM for 5 s: SIGKILL")
            p.kill()
            p.wait()
    for k in kids:
        try:
            os.kill(k, signal.SIGTERM)
        except ProcessLookupError:
            pass


def cleanup():
    for p in reversed(started):
        stop(p)
    started.clear()


def port_free(port):
    import socket
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_listening(port, proc, what, seconds=10):
    import socket
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} at start")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} is not listening on {HOST}:{port} after {seconds} s")


# ------------------------------------------------------------------ process accounting
def proc_tree(pids):
    out = []
    for pid in pids:
        out += [pid] + children(pid)
    return out


def machine_busy_ticks():
    """Busy time of every CPU (user, nice, system, irq, softirq from /proc/stat; not idle,
    iowait or steal): the proxy, the load and the kernel's TCP work, wherever it ran."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6))


def cpu_ticks(pids):
    """utime+stime+cutime+cstime over pids and their live descendants."""
    total = 0
    for pid in proc_tree(pids):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, IndexError):
            pass
    return total


def with_proxy_cpu(c, action):
    """Runs action(); returns its result, the CPU seconds c's processes spent meanwhile (None
    for direct, which has none) and the wall seconds it took."""
    t0, w0 = cpu_ticks(c.pids()), time.time()
    result = action()
    t1, w1 = cpu_ticks(c.pids()), time.time()
    return result, (t1 - t0) / CLK_TCK if c.kind != "direct" else None, w1 - w0


def rss_and_fds(pids):
    """Sum of VmRSS (KiB) and open descriptors over pids and their live descendants."""
    rss = fds = 0
    for pid in proc_tree(pids):
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE_KIB
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return rss, fds


# ------------------------------------------------------------------ contenders
class Contender:
    """A proxy (or none, for direct) with one listener in front of each backend of SERVICES."""

    def __init__(self, name, index, kind, work):
        self.name, self.kind, self.work = name, kind, work
        self.ports = {s: PORT_BASE + 10 + 10 * index + i for i, s in enumerate(BACKEND_PORTS)
                      if s in SERVICES}
        self.procs = []
        self.failed = None  # why it did not start, if it did not
        # Busy-polling: HAProxy's busy-polling spins even with no traffic, and would take half
        # of the proxy core from whichever contender is measured. Such a contender is held
        # stopped (SIGSTOP) outside its own turns (see turn()).
        self.spins = name.endswith("-busy")

    def port(self, service):
        return BACKEND_PORTS[service] if self.kind == "direct" else self.ports[service]

    def pids(self):
        return [p.pid for p in self.procs]

    def alive(self):
        return self.failed is None and all(p.poll() is None for p in self.procs)

    def log_tail(self, chars=3000):
        """The end of the proxy's own log (its stderr), or "" when it has none."""
        try:
            with open(os.path.join(self.work, f"{self.name}.log"), errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def hold(self, held):
        """Stops (SIGSTOP) or continues (SIGCONT) the contender's processes."""
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGSTOP if held else signal.SIGCONT)

    @contextlib.contextmanager
    def turn(self):
        """The contender's turn at the load: a spinning one runs only meanwhile."""
        if self.spins:
            self.hold(False)
        try:
            yield
        finally:
            if self.spins:
                self.hold(True)

    def start(self):
        """Starts the proxy and waits for its listeners. A proxy that fails to start is marked
        failed (its rows then say so) and the benchmark goes on without it."""
        if self.kind == "direct":
            return
        try:
            getattr(self, "_start_" + self.kind)()
            for service, port in self.ports.items():
                wait_listening(port, self.procs[0], f"{self.name} ({service})")
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            last = self.log_tail(300).strip().splitlines()
            self.failed = str(e) + (f": {last[-1]}" if last else "")

    def _file(self, name, text):
        path = os.path.join(self.work, f"{self.name}.{name}")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _log(self):
        return open(os.path.join(self.work, f"{self.name}.log"), "w")

    def _start_spliceproxy(self):
        mode = {"copy": "copy", "auto": "auto"}.get(self.name.split("-")[1], "splice")
        workers = 2 if self.name.endswith("-w2") else 1
        # No access log: the other contenders log nothing per connection either.
        text = f"workers: {workers}\nlog:\n  level: warn\n  access: \"off\"\n"
        text += f"splice:\n  mode: {mode}\n  pipe_size: 1MiB\n"
        if self.name.endswith("-busy"):
            text += f"busy_poll: {BUSY_POLL}\n"
        text += "listeners:\n"
        for s in self.ports:
            text += (f"  - name: {s}\n    listen: {HOST}:{self.ports[s]}\n    backend: {s}\n"
                     "    timeouts:\n      connect: 5s\n      idle: 10m\n")
            if self.name.endswith("-cap"):
                text += f"    bandwidth: {{backend_to_client: {CAP_BYTES}/s}}\n"
        text += "backends:\n"
        for s in self.ports:
            text += f"  - name: {s}\n    servers:\n      - address: {HOST}:{BACKEND_PORTS[s]}\n"
        cfg = self._file("yaml", text)
        self.procs.append(spawn([os.path.join(BIN, "spliceproxy"), "-c", cfg], PROXY_CPUS,
                                stderr=self._log()))

    def _start_haproxy(self):
        variant = self.name.split("-", 1)[1].removesuffix("-busy")
        # maxsock = 2 x maxconn + 2 x maxpipes + listeners must fit under HARD_NOFILE.
        glob = ["nbthread 1", f"maxconn {MAXCONN}", f"maxpipes {HAPROXY_MAXPIPES}"]
        glob += ["nosplice"] if variant == "nosplice" else ["tune.pipesize 1048576"]
        if self.name.endswith("-busy"):
            glob.append("busy-polling")
        opts = {"splice": ["option splice-request", "option splice-response"],
                "splice-auto": ["option splice-auto"], "nosplice": []}[variant]
        text = "global\n" + "".join(f"  {g}\n" for g in glob)
        text += (f"defaults\n  mode tcp\n  maxconn {MAXCONN}\n  timeout connect 5s\n"
                 "  timeout client 10m\n  timeout server 10m\n")
        text += "".join(f"  {o}\n" for o in opts)
        for s in self.ports:
            text += (f"listen {s}\n  bind {HOST}:{self.ports[s]}\n"
                     f"  server {s}1 {HOST}:{BACKEND_PORTS[s]}\n")
        cfg = self._file("cfg", text)
        subprocess.run(["haproxy", "-c", "-q", "-f", cfg], check=True, timeout=10)
        self.procs.append(spawn(["haproxy", "-db", "-f", cfg], PROXY_CPUS, stderr=self._log()))

    def _start_nginx(self):
        text = (f"load_module {NGINX_STREAM_MODULE};\nworker_processes 1;\n"
                f"worker_rlimit_nofile {HARD_NOFILE};\npid {self.work}/nginx.pid;\n"
                f"error_log {self.work}/nginx-error.log warn;\n"
                f"events {{ worker_connections {2 * MAXCONN}; }}\nstream {{\n")
        for s in self.ports:
            cap = f" proxy_download_rate {CAP_BYTES};" if self.name.endswith("-cap") else ""
            text += (f"  server {{ listen {HOST}:{self.ports[s]} backlog=4096; "
                     f"proxy_pass {HOST}:{BACKEND_PORTS[s]}; proxy_timeout 10m;{cap} }}\n")
        text += "}\n"
        cfg = self._file("conf", text)
        base = ["nginx", "-p", self.work, "-e", f"{self.work}/nginx-error.log", "-c", cfg]
        subprocess.run(base + ["-t", "-q"], check=True, timeout=10)
        self.procs.append(spawn(base + ["-g", "daemon off;"], PROXY_CPUS, stderr=self._log()))

    def _start_socat(self):
        for s in self.ports:
            self.procs.append(spawn(
                ["socat", f"TCP-LISTEN:{self.ports[s]},bind={HOST},reuseaddr,fork,backlog=4096",
                 f"TCP:{HOST}:{BACKEND_PORTS[s]},nodelay"], PROXY_CPUS, stderr=self._log()))


CONTENDER_KINDS = [
    ("direct", "direct"),
    ("spliceproxy-splice", "spliceproxy"),
    ("spliceproxy-copy", "spliceproxy"),
    # splice.mode auto: copies small reads, splices once a flow proves bulk.
    ("spliceproxy-auto", "spliceproxy"),
    # Two workers (SO_REUSEPORT). Pinned (PIN=1) both share the proxy's one core, which shows
    # what a second worker costs; PIN=0 lets them spread.
    ("spliceproxy-splice-w2", "spliceproxy"),
    ("spliceproxy-auto-w2", "spliceproxy"),
    ("haproxy-splice", "haproxy"),
    ("haproxy-splice-auto", "haproxy"),
    ("haproxy-nosplice", "haproxy"),
    ("nginx-stream", "nginx"),
    ("socat", "socat"),
    # Scenario "cap" only: backend_to_client capped at CAP_MIB per session. HAProxy 2.6 (Debian
    # 12) has no bandwidth filter (bwlim-in/out came with 2.7): it has no row.
    ("spliceproxy-splice-cap", "spliceproxy"),
    ("spliceproxy-auto-cap", "spliceproxy"),
    ("nginx-stream-cap", "nginx"),
    # Scenario "busypoll" only: spliceproxy-auto and haproxy-splice, each polling its sockets
    # instead of sleeping in epoll_wait (spliceproxy busy_poll, HAProxy busy-polling).
    ("spliceproxy-auto-busy", "spliceproxy"),
    ("haproxy-splice-busy", "haproxy"),
]
# Scenario "busypoll" compares each busy-polling contender with the same proxy sleeping in
# epoll_wait (the references of its latency ratios); direct is the ceiling, as everywhere.
BUSYPOLL_REFS = ["spliceproxy-auto", "haproxy-splice"]
BUSYPOLL_CONTENDERS = ["direct", "spliceproxy-auto", "spliceproxy-auto-busy", "haproxy-splice",
                       "haproxy-splice-busy"]
# Contenders whose name ends so run in that one scenario only, and only when it is selected.
SCENARIO_ONLY = {"-cap": "cap", "-busy": "busypoll"}


def only_scenario(name):
    """The one scenario a contender runs in, or None for a contender of every scenario."""
    return next((sc for suffix, sc in SCENARIO_ONLY.items() if name.endswith(suffix)), None)


# The backends, each with its port. Every contender has a listener in front of each backend
# that runs: redis-server and PostgreSQL run only when their scenario is selected.
BACKEND_PORTS = {"iperf": PORT_BASE + 1, "echo": PORT_BASE + 2, "redis": PORT_BASE + 3,
                 "pg": PORT_BASE + 4}
SERVICE_SCENARIO = {"redis": "redis", "pg": "pgbench"}
SERVICES = [s for s in BACKEND_PORTS
            if s not in SERVICE_SCENARIO or SERVICE_SCENARIO[s] in SCENARIOS]
NGINX_STREAM_MODULE = ENV.get("NGINX_STREAM_MODULE", "/usr/lib/nginx/modules/ngx_stream_module.so")


# ------------------------------------------------------------------ backends
def start_redis(work):
    """redis-server on the "redis" backend port, in memory only: no RDB snapshots, no AOF."""
    port = BACKEND_PORTS["redis"]
    p = spawn(["redis-server", "--bind", HOST, "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", work], LOAD_CPUS,
              stdout=open(os.path.join(work, "redis-server.log"), "w"))
    wait_listening(port, p, "redis-server")


def run_checked(argv, what, timeout, **kw):
    """Runs argv to its end; raises RuntimeError with the end of its output if it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        out = (r.stderr or r.stdout).strip()
        raise RuntimeError(f"{what} exited with status {r.returncode}: {out[-300:]}")
    return r


def start_postgres(work):
    """A private PostgreSQL cluster in work/pg: initdb, then postgres on the "pg" backend port
    of 127.0.0.1 (its unix socket in work/pg too, fsync off), then `pgbench -i -s 1`, directly.
    PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user and
    its programs run as that user (setpriv)."""
    pgdir, port = os.path.join(work, "pg"), str(BACKEND_PORTS["pg"])
    os.mkdir(pgdir, 0o700)
    as_pg = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam(PG_USER)
        os.chown(pgdir, pw.pw_uid, pw.pw_gid)
        os.chmod(work, 0o711)  # the postgres user must reach work/pg, not list work
        as_pg = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]
    data = os.path.join(pgdir, "data")
    run_checked(as_pg + [os.path.join(PG_BIN, "initdb"), "-D", data, "-U", PG_USER,
                         "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"],
                "initdb", 120, cwd=pgdir)
    p = spawn(as_pg + [os.path.join(PG_BIN, "postgres"), "-D", data, "-p", port,
                       "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={pgdir}",
                       "-c", "fsync=off", "-c", "synchronous_commit=off",
                       "-c", "full_page_writes=off"], LOAD_CPUS, cwd=pgdir,
              stderr=open(os.path.join(work, "postgres.log"), "w"))
    # Listening comes before accepting queries: wait for pg_isready, not for the port.
    deadline = time.time() + 30
    isready = [os.path.join(PG_BIN, "pg_isready"), "-q", "-h", HOST, "-p", port, "-U", PG_USER,
               "-d", PG_USER]
    while subprocess.run(isready, timeout=10).returncode != 0:
        if p.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"postgres did not start: see {work}/postgres.log")
        time.sleep(0.2)
    run_checked([os.path.join(PG_BIN, "pgbench"), "-i", "-s", "1", "-q", "-h", HOST, "-p", port,
                 "-U", PG_USER, PG_USER], "pgbench -i", 180)


# ------------------------------------------------------------------ measurements
def run_iperf(c, streams, reverse, seconds, work):
    """One iperf3 test through c: {'gbit', 'bytes', 'cpu_s'} or {'error'}."""
    server = spawn(["iperf3", "-s", "-1", "-B", HOST, "-p", str(BACKEND_PORTS["iperf"])],
                   LOAD_CPUS)
    try:
        wait_listening_quiet(BACKEND_PORTS["iperf"], server)
        t0 = cpu_ticks(c.pids())
        m0 = machine_busy_ticks()
        argv = ["iperf3", "-c", HOST, "-p", str(c.port("iperf")), "-t", str(seconds),
                "-P", str(streams), "--connect-timeout", "5000", "--json"]
        if reverse:
            argv.append("-R")
        r = subprocess.run(LOAD_CPUS + argv, capture_output=True, text=True,
                           timeout=seconds + 30)
        t1 = cpu_ticks(c.pids())
        m1 = machine_busy_ticks()
        try:
            d = json.loads(r.stdout)
        except ValueError:
            return {"error": f"iperf3 exit {r.returncode}: {r.stderr.strip()[:200]}"}
        if d.get("error"):
            return {"error": d["error"]}
        s = d["end"]["sum_received"]
        return {"gbit": s["bits_per_second"] / 1e9, "bytes": s["bytes"],
                "cpu_s": (t1 - t0) / CLK_TCK if c.kind != "direct" else None,
                "machine_cpu_s": (m1 - m0) / CLK_TCK}
    except subprocess.TimeoutExpired:
        return {"error": "iperf3 timed out"}
    finally:
        stop(server)
        started.remove(server)


def wait_listening_quiet(port, proc):
    # iperf3 -s -1 serves one test: probe with ss, not a connection it would count.
    deadline = time.time() + 5
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("iperf3 server exited at start")
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                             text=True).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"iperf3 server not listening on {port}")


def run_loadgen(c, mode, conns, seconds, size=64, warmup=None):
    warmup = WARMUP if warmup is None else warmup
    argv = [os.path.join(BIN, "loadgen"), mode, f"{HOST}:{c.port('echo')}", "--conns",
            str(conns), "--size", str(size), "--seconds", str(seconds), "--warmup", str(warmup)]
    try:
        r, cpu_s, wall_s = with_proxy_cpu(c, lambda: subprocess.run(
            LOAD_CPUS + argv, capture_output=True, text=True, timeout=seconds + warmup + 150))
        d = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return {"error": f"loadgen: {e}"}
    if d["requests"] == 0:
        return {"error": f"no completed requests ({d['errors']} errors)"}
    # The proxy's CPU over the whole run (warm-up included), in cores: 1.0 is one core busy.
    d["proxy_cores"] = cpu_s / wall_s if cpu_s is not None else None
    # Its CPU per request (per connection in connrate): cores over the rate. The warm-up runs
    # the same load, so the two spans agree. When the load generator, not the proxy, sets the
    # rate, this still tells the proxies apart.
    d["proxy_us_per_op"] = (d["proxy_cores"] / d["rps"] * 1e6
                            if d["proxy_cores"] is not None and d.get("rps") else None)
    return d


def run_redis_benchmark(c, test, clients, requests):
    """One redis-benchmark test ("get" or "set") through c: `requests` requests over `clients`
    connections, REDIS_PIPELINE in flight on each. Returns {'rps', 'requests', 'proxy_cores',
    'proxy_us_per_op'} or {'error'}."""
    argv = ["redis-benchmark", "-h", HOST, "-p", str(c.port("redis")), "-t", test,
            "-c", str(clients), "-P", str(REDIS_PIPELINE), "-n", str(requests), "--csv"]
    try:
        r, cpu_s, wall_s = with_proxy_cpu(c, lambda: subprocess.run(
            LOAD_CPUS + argv, capture_output=True, text=True, timeout=10 * REDIS_SECONDS + 30))
    except subprocess.TimeoutExpired:
        return {"error": "redis-benchmark timed out"}
    # --csv: a header line, then "SET","<requests per second>",<latencies>...
    rps = [float(row[1]) for row in csv.reader(r.stdout.splitlines())
           if len(row) > 1 and row[0] == test.upper()]
    if r.returncode != 0 or not rps:
        out = (r.stderr + r.stdout).strip()
        return {"error": f"redis-benchmark exit {r.returncode}: {out[-200:]}"}
    return {"rps": rps[0], "requests": requests,
            "proxy_cores": cpu_s / wall_s if cpu_s is not None else None,
            "proxy_us_per_op": cpu_s / requests * 1e6 if cpu_s is not None else None}


def run_pgbench(c):
    """One select-only pgbench run through c, PGBENCH_CLIENTS connections for PGBENCH_SECONDS.
    Returns {'tps', 'transactions', 'proxy_cores', 'proxy_us_per_op'} or {'error'}."""
    argv = [os.path.join(PG_BIN, "pgbench"), "-S", "-n", "-c", str(PGBENCH_CLIENTS),
            "-j", str(PGBENCH_THREADS), "-T", str(PGBENCH_SECONDS), "-h", HOST,
            "-p", str(c.port("pg")), "-U", PG_USER, PG_USER]
    try:
        r, cpu_s, wall_s = with_proxy_cpu(c, lambda: subprocess.run(
            LOAD_CPUS + argv, capture_output=True, text=True, timeout=PGBENCH_SECONDS + 60))
    except subprocess.TimeoutExpired:
        return {"error": "pgbench timed out"}
    tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", r.stdout, re.M)
    done = re.search(r"^number of transactions actually processed: (\d+)", r.stdout, re.M)
    if r.returncode != 0 or not tps or not done or int(done.group(1)) == 0:
        out = (r.stderr + r.stdout).strip()
        return {"error": f"pgbench exit {r.returncode}: {out[-200:]}"}
    n = int(done.group(1))
    # The proxy's CPU covers the 16 connections' setup too: small next to the transactions.
    return {"tps": float(tps.group(1)), "transactions": n,
            "proxy_cores": cpu_s / wall_s if cpu_s is not None else None,
            "proxy_us_per_op": cpu_s / n * 1e6 if cpu_s is not None else None}


def measure_idle(c, n):
    """Opens n idle connections through c; returns proxy RSS/fd deltas per connection."""
    time.sleep(0.5)
    rss0, fds0 = rss_and_fds(c.pids())
    argv = [os.path.join(BIN, "loadgen"), "idle", f"{HOST}:{c.port('echo')}", "--conns", str(n),
            "--seconds", "300"]
    p = spawn(argv, LOAD_CPUS, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        d = json.loads(line) if line else {"ready": 0, "errors": n}
        time.sleep(1.0)  # let the proxy settle (socat: forks finish)
        rss1, fds1 = rss_and_fds(c.pids())
    finally:
        p.stdin.close()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        started.remove(p)
    ready = d.get("ready", 0)
    res = {"conns": n, "ready": ready, "errors": d.get("errors"), "setup_s": d.get("setup_s"),
           "rss_kib_before": rss0, "rss_kib_after": rss1, "fds_before": fds0, "fds_after": fds1}
    if ready:
        res["rss_kib_per_conn"] = (rss1 - rss0) / ready
        res["fds_per_conn"] = (fds1 - fds0) / ready
    time.sleep(1.0)  # let the closes drain before the next contender
    return res


def strace_counts(c, work, action):
    """Runs action() with strace -c -f attached to c's processes; returns {syscall: calls}."""
    out = os.path.join(work, f"strace-{c.name}-{time.time_ns()}.txt")
    argv = ["strace", "-c", "-f", "-o", out]
    for pid in proc_tree(c.pids()):
        argv += ["-p", str(pid)]
    s = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    started.append(s)
    time.sleep(0.7)  # attach
    try:
        result = action()
    finally:
        s.send_signal(signal.SIGINT)
        try:
            s.wait(15)
        except subprocess.TimeoutExpired:
            s.kill()
            s.wait()
        started.remove(s)
    counts = {}
    try:
        with open(out) as f:
            for line in f:
                t = line.split()
                if len(t) >= 5 and re.match(r"^[0-9.]+$", t[0]) and t[-1] != "total":
                    counts[t[-1]] = int(t[3])
    except OSError:
        pass
    return counts, result


# ------------------------------------------------------------------ runs
LOADGEN_KEYS = ("rps", "p50_us", "p99_us", "proxy_cores", "proxy_us_per_op")


def live(c):
    """True while c runs; logs that it is skipped when not."""
    if c.alive():
        return True
    log(f"{c.name} " + ("did not start" if c.failed else "is no longer running") + ": skipped")
    return False


def interleaved(contenders, label, measure, describe, pause=0):
    """Runs measure(c) RUNS times for every contender, taking turns (A B C ... A B C ...) so
    that a burst of load from elsewhere hits them all, with pause seconds after each round.
    Returns {name: [result per run]}; a result is a dict, with "error" when that run failed,
    and describe(result) is what the log says of the others."""
    raw = {c.name: [] for c in contenders}
    for run in range(RUNS):
        for c in contenders:
            if c.alive():
                with c.turn():
                    r = measure(c)
            else:
                r = {"error": "did not start" if c.failed else "not running"}
            raw[c.name].append(r)
            log(f"{label} run {run + 1} {c.name}: "
                + (r["error"] if "error" in r else describe(r)))
        time.sleep(pause)
    return raw


def summarize(raw, keys):
    """{name: {key: median (min-max) over the runs} | {"raw": runs}} of interleaved()'s."""
    return {n: {k: med_range([r.get(k) for r in rs]) for k in keys} | {"raw": rs}
            for n, rs in raw.items()}


def describe_loadgen(r):
    return f"{r['rps']:.0f} req/s p50 {r['p50_us']} p99 {r['p99_us']} us"


def redis_requests(contenders, clients):
    """The -n of one redis test with `clients` clients. A short SET probe through every
    contender (which also warms it up) finds the slowest rate; -n makes that contender's test
    last about REDIS_SECONDS, so the others' are shorter."""
    probe = max(20000, 50 * clients * REDIS_PIPELINE)
    rates = []
    for c in contenders:
        if live(c):
            r = run_redis_benchmark(c, "set", clients, probe)
            if "rps" in r:
                rates.append(r["rps"])
    return max(probe, int(min(rates, default=0) * REDIS_SECONDS) // 1000 * 1000)


def run_redis(contenders):
    """Scenario "redis": redis-benchmark SET then GET, pipelined, at each of REDIS_CLIENTS."""
    out = {}
    for clients in REDIS_CLIENTS:
        n = redis_requests(contenders, clients)
        log(f"redis -c {clients}: -n {n} per test")
        for test in ("set", "get"):
            raw = interleaved(contenders, f"redis {test.upper()} -c {clients}",
                              lambda c: run_redis_benchmark(c, test, clients, n),
                              lambda r: f"{r['rps']:.0f} req/s")
            out[f"{test.upper()}/{clients}"] = summarize(
                raw, ("rps", "proxy_cores", "proxy_us_per_op"))
    return out


# Every readiness call: waits and (de)registrations alike.
EPOLL_CALLS = ("epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl")


def strace_passes(c, work):
    """The passes of scenario "strace" through c: (name, unit, action, the units of work in
    the action's result, how many of the most frequent calls to keep)."""
    def pingpong(conns):
        # No warm-up: every request strace saw is counted (setting up the connections is
        # noise next to the thousands of requests).
        return lambda: run_loadgen(c, "pingpong", conns, STRACE_SECONDS, 64, warmup=0)

    def requests(d):
        return d.get("requests", 0)

    return [
        ("bulk", "gib", lambda: run_iperf(c, 1, False, STRACE_SECONDS, work),
         lambda d: d.get("bytes", 0) / 2**30, 0),
        ("rr", "request", pingpong(64), requests, 4),
        ("rr1", "request", pingpong(1), requests, 4),
        ("conn", "connection",
         lambda: run_loadgen(c, "connrate", CONNRATE_INFLIGHT, STRACE_SECONDS, warmup=0),
         requests, 6),
    ]


def run_strace(contenders, work):
    """Scenario "strace", spliceproxy and HAProxy only: each pass of strace_passes() with
    strace -c -f attached to the proxy. Per unit of work (GiB, request, connection): every
    syscall, splice, epoll_* (EPOLL_CALLS) and the most frequent calls."""
    out = {}
    for c in contenders:
        if c.kind not in ("spliceproxy", "haproxy") or not live(c):
            continue
        r = {}
        for name, unit, action, units, top_n in strace_passes(c, work):
            calls, d = strace_counts(c, work, action)
            n = units(d)
            if not n:
                continue
            r[f"{name}_{unit}s"] = n
            r[f"{name}_calls"] = calls
            r[f"{name}_syscalls_per_{unit}"] = sum(calls.values()) / n
            r[f"{name}_splice_per_{unit}"] = calls.get("splice", 0) / n
            r[f"{name}_epoll_per_{unit}"] = sum(calls.get(k, 0) for k in EPOLL_CALLS) / n
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:top_n]
            r[f"{name}_top_per_{unit}"] = [(k, v / n) for k, v in top]
        out[c.name] = r
        log(f"strace {c.name}: {fmt(r.get('bulk_splice_per_gib'), 0)} splice/GiB, "
            f"{fmt(r.get('rr_syscalls_per_request'))} syscalls/request at 64 connections, "
            f"{fmt(r.get('rr1_syscalls_per_request'))} at 1, "
            f"{fmt(r.get('conn_syscalls_per_connection'))} syscalls/connection")
    return out


def run_busypoll(contenders):
    """Scenario "busypoll": 64 B ping-pong at each of BUSYPOLL_CONNS through the contenders of
    BUSYPOLL_CONTENDERS (those selected), in that order, in turns."""
    chosen = sorted((c for c in contenders if c.name in BUSYPOLL_CONTENDERS),
                    key=lambda c: BUSYPOLL_CONTENDERS.index(c.name))
    out = {}
    for conns in BUSYPOLL_CONNS:
        raw = interleaved(chosen, f"busypoll 64 B x {conns}",
                          lambda c: run_loadgen(c, "pingpong", conns, RR_SECONDS, 64),
                          describe_loadgen)
        out[str(conns)] = summarize(raw, LOADGEN_KEYS)
    return out


def run_pgbench_scenario(contenders):
    """Scenario "pgbench": select-only pgbench through every contender, in turns."""
    raw = interleaved(contenders, "pgbench", run_pgbench, lambda r: f"{r['tps']:.0f} tps")
    return summarize(raw, ("tps", "proxy_cores", "proxy_us_per_op"))


# ------------------------------------------------------------------ report
def med_range(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(v, digits=2):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def medians(rows, names, key):
    """{name: median of rows[name][key]} for the names that have a row."""
    return {n: (rows[n].get(key) or {}).get("median") for n in names if n in rows}


def cell(mr, digits=2):
    if mr is None:
        return "failed"
    return f"{fmt(mr['median'], digits)} ({fmt(mr['min'], digits)}–{fmt(mr['max'], digits)})"


# socat forks a process per connection: children that end between two samples of the proxy's
# CPU are missed, so its CPU per request or connection is no anchor.
CPU_PER_OP_ANCHORS = [a for a in ANCHORS if a != "socat"]


def ratio_cells(value_by_name, name, higher_better, anchors=ANCHORS):
    """'× direct' and '× best anchor (which)' for one row."""
    v = value_by_name.get(name)
    d = value_by_name.get("direct")
    anchors = {a: value_by_name[a] for a in anchors if value_by_name.get(a) is not None}
    best = None
    if anchors:
        best = (max if higher_better else min)(anchors, key=anchors.get)
    rd = f"{v / d:.2f}" if v is not None and d else "–"
    rb = f"{v / anchors[best]:.2f} ({best})" if v is not None and best else "–"
    return rd, rb


def rate_cost_rows(rows, names, rate_key, lead):
    """Table rows of a rate (higher is better) and the proxy's CPU µs per operation: lead
    (the cells before the contender's name), the rate's median (min–max) with "× direct" and
    "× best anchor", the CPU µs with its "× best anchor" (socat is no anchor for it)."""
    rate = medians(rows, names, rate_key)
    cost = medians(rows, names, "proxy_us_per_op")
    out = []
    for n in names:
        if n not in rows:
            continue
        rd, rb = ratio_cells(rate, n, True)
        _, cb = ratio_cells(cost, n, False, CPU_PER_OP_ANCHORS)
        out.append(f"| {lead}{n} | {cell(rows[n][rate_key], 0)} | {rd} | {rb} "
                   f"| {fmt(cost.get(n))} | {'–' if n == 'direct' else cb} |")
    return out


def strace_tables(rows, names):
    """The tables of scenario "strace": calls per GiB and per request at 64 connections, per
    request at one connection, per new connection."""
    rows = {n: rows[n] for n in names if n in rows}
    out = ["### System calls (`strace -c -f`, separate short pass; strace slows everything)\n",
           "epoll_*: every epoll_wait, epoll_pwait and epoll_ctl call.\n",
           "| contender | syscalls / GiB (bulk) | splice / GiB | syscalls / request (64 B, "
           "64 conns) | epoll_* / request | splice / request | top calls per request |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for n, r in rows.items():
        out.append(f"| {n} | {fmt(r.get('bulk_syscalls_per_gib'), 0)} "
                   f"| {fmt(r.get('bulk_splice_per_gib'), 0)} "
                   f"| {fmt(r.get('rr_syscalls_per_request'))} "
                   f"| {fmt(r.get('rr_epoll_per_request'))} "
                   f"| {fmt(r.get('rr_splice_per_request'))} "
                   f"| {top_calls(r, 'rr_top_per_request')} |")
    out += strace_subtable(rows, "One connection under strace (64 B ping-pong, no warm-up)",
                           ["syscalls / request", "epoll_* / request", "splice / request"],
                           ["rr1_syscalls_per_request", "rr1_epoll_per_request",
                            "rr1_splice_per_request"], "rr1_top_per_request", "request")
    out += strace_subtable(rows, f"New connections under strace ({CONNRATE_INFLIGHT} in flight, "
                           "no warm-up)", ["syscalls / connection", "epoll_* / connection"],
                           ["conn_syscalls_per_connection", "conn_epoll_per_connection"],
                           "conn_top_per_connection", "connection")
    out.append("")
    return out


def top_calls(r, key):
    """The most frequent calls of a strace result, "name count, ...", or "–"."""
    return ", ".join(f"{k} {v:.2f}" for k, v in r.get(key, [])) or "–"


def strace_subtable(rows, title, headings, keys, top_key, unit):
    """One more table of the strace pass: a row per contender that has `keys`."""
    out = ["", f"{title}:\n", "| contender | " + " | ".join(headings)
           + f" | top calls per {unit} |", "| --- " * (len(headings) + 2) + "|"]
    for n, r in rows.items():
        if keys[0] in r:
            out.append(f"| {n} | " + " | ".join(fmt(r[k]) for k in keys)
                       + f" | {top_calls(r, top_key)} |")
    return out


def busypoll_table(results):
    """The table of scenario "busypoll": rate, latency and CPU, with the p50 latency of each
    contender over that of each reference (the same proxy without busy polling)."""
    refs = " | ".join(f"p50 × {ref}" for ref in BUSYPOLL_REFS)
    out = ["### Busy polling (64 B ping-pong, loadgen → echo_server)\n",
           "Requests/s, median (min–max); p50/p99 latency in µs, the proxy's CPU in cores and "
           "in µs per request, medians over runs. A busy-polling proxy spins on its core "
           "instead of sleeping: its cores column shows what the latency costs. \"failed\": "
           "the contender did not start (its reason is under \"Failed to start\" at the top) "
           "or every run of it failed.\n",
           f"| conns | contender | req/s | × direct | p50 µs | {refs} | p99 µs | proxy cores "
           "| proxy µs/req |",
           "| --- | --- | --- | --- | --- | " + "--- | " * len(BUSYPOLL_REFS) + "--- | --- | --- |"]
    for conns, rows in results.items():
        rps = medians(rows, BUSYPOLL_CONTENDERS, "rps")
        p50 = medians(rows, BUSYPOLL_CONTENDERS, "p50_us")
        for n in BUSYPOLL_CONTENDERS:
            if n not in rows:
                continue
            r = rows[n]
            rd, _ = ratio_cells(rps, n, True)
            to_refs = " | ".join(
                f"{p50[n] / p50[ref]:.2f}" if p50.get(n) and p50.get(ref) else "–"
                for ref in BUSYPOLL_REFS)
            out.append(f"| {conns} | {n} | {cell(r['rps'], 0)} | {rd} | {fmt(p50.get(n), 0)} "
                       f"| {to_refs} | {fmt((r['p99_us'] or {}).get('median'), 0)} "
                       f"| {fmt((r['proxy_cores'] or {}).get('median'))} "
                       f"| {fmt((r['proxy_us_per_op'] or {}).get('median'))} |")
    out.append("")
    return out


def report(results, meta):
    lines = []
    add = lines.append
    names = [n for n, _ in CONTENDER_KINDS if not ONLY or n in ONLY or n == "direct"]

    if results.get("bulk"):
        add("### Bulk throughput (iperf3)\n")
        add("Gbit/s received, median (min–max); proxy CPU seconds (user+system) per GiB moved; "
            "machine CPU seconds per GiB: every CPU's busy time (the proxy, iperf3 and the "
            "kernel's TCP work, wherever it ran), medians over runs.\n")
        add("| scenario | contender | Gbit/s | × direct | × best anchor | proxy CPU-s/GiB "
            "| CPU × best anchor | machine CPU-s/GiB | machine × best anchor |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for sc, rows in results["bulk"].items():
            thr = medians(rows, names, "gbit")
            cpu = medians(rows, names, "cpu_s_per_gib")
            machine = medians(rows, names, "machine_cpu_s_per_gib")
            for n in names:
                if n not in rows:
                    continue
                rd, rb = ratio_cells(thr, n, True)
                _, cb = ratio_cells(cpu, n, False)
                _, mb = ratio_cells(machine, n, False)
                cpu_cell = "–" if n == "direct" else cell(rows[n]["cpu_s_per_gib"], 3)
                add(f"| {sc} | {n} | {cell(rows[n]['gbit'])} | {rd} | {rb} | {cpu_cell} "
                    f"| {cb if n != 'direct' else '–'} "
                    f"| {fmt(machine.get(n), 3)} | {mb if n != 'direct' else '–'} |")
        add("")

    if results.get("rr"):
        add("### Request/response ping-pong (loadgen → echo_server)\n")
        add("Requests/s, median (min–max); p50/p99 latency in µs, the proxy's CPU in cores "
            "(1.0 = one core busy) and its CPU µs per request (cores ÷ rate: it tells the "
            "proxies apart also when the load generator sets the rate; socat, a process per "
            "connection, is no anchor for it), medians over runs.\n")
        add("| message | conns | contender | req/s | × direct | × best anchor | p50 µs | p99 µs "
            "| proxy cores | proxy µs/req | µs/req × best anchor |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, rows in results["rr"].items():
            size, conns = key.split("/")
            rps = medians(rows, names, "rps")
            cost = medians(rows, names, "proxy_us_per_op")
            for n in names:
                if n not in rows:
                    continue
                rd, rb = ratio_cells(rps, n, True)
                _, cb = ratio_cells(cost, n, False, CPU_PER_OP_ANCHORS)
                r = rows[n]
                p50 = (r["p50_us"] or {}).get("median")
                p99 = (r["p99_us"] or {}).get("median")
                cores = (r.get("proxy_cores") or {}).get("median")
                direct = n == "direct"
                add(f"| {size} B | {conns} | {n} | {cell(r['rps'], 0)} | {rd} | {rb} "
                    f"| {fmt(p50, 0)} | {fmt(p99, 0)} | {fmt(cores)} "
                    f"| {fmt(cost.get(n))} | {'–' if direct else cb} |")
        add("")

    if results.get("connrate"):
        rows = results["connrate"]
        add(f"### New connections per second ({CONNRATE_INFLIGHT} in flight: connect, "
            "1-byte echo, close)\n")
        add("| contender | conn/s | × direct | × best anchor | p50 µs | p99 µs | proxy cores "
            "| proxy µs/conn | µs/conn × best anchor |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        cps = medians(rows, names, "rps")
        cost = medians(rows, names, "proxy_us_per_op")
        for n in names:
            if n not in rows:
                continue
            rd, rb = ratio_cells(cps, n, True)
            _, cb = ratio_cells(cost, n, False, CPU_PER_OP_ANCHORS)
            r = rows[n]
            add(f"| {n} | {cell(r['rps'], 0)} | {rd} | {rb} | "
                f"{fmt((r['p50_us'] or {}).get('median'), 0)} | "
                f"{fmt((r['p99_us'] or {}).get('median'), 0)} | "
                f"{fmt((r.get('proxy_cores') or {}).get('median'))} | {fmt(cost.get(n))} | "
                f"{'–' if n == 'direct' else cb} |")
        add("")

    if results.get("idle"):
        rows = results["idle"]
        add("### Idle connections: proxy memory and descriptors per connection\n")
        add("Deltas of the proxy's VmRSS (summed over its processes) and of its /proc/PID/fd "
            "count, divided by the connections that got through.\n")
        add("| contender | idle conns (ready) | KiB RSS / conn | fds / conn | setup s |")
        add("| --- | --- | --- | --- | --- |")
        for n in names:
            if n not in rows or n == "direct":
                continue
            r = rows[n]
            add(f"| {n} | {r['conns']} ({r['ready']}) | {fmt(r.get('rss_kib_per_conn'))} | "
                f"{fmt(r.get('fds_per_conn'))} | {fmt(r.get('setup_s'))} |")
        add("")

    if results.get("strace"):
        lines += strace_tables(results["strace"], names)
    if results.get("cap"):
        add(f"### Bandwidth cap ({CAP_BYTES // 2**20} MiB/s per session, backend to client)\n")
        add("iperf3 -R through each proxy with the same per-session cap (spliceproxy "
            "`bandwidth.backend_to_client`, nginx `proxy_download_rate`; HAProxy 2.6 has no "
            "bandwidth filter). Achieved / cap: the streams' total over streams × cap; proxy "
            "CPU seconds per GiB moved at the cap. Medians (min–max) over runs.\n")
        add("| streams | contender | MiB/s | achieved / cap | proxy CPU-s/GiB |")
        add("| --- | --- | --- | --- | --- |")
        for sc, rows in results["cap"].items():
            for n, r in rows.items():
                add(f"| {sc} | {n} | {cell(r['mib_s'], 1)} | {cell(r['ratio'], 3)} "
                    f"| {cell(r['cpu_s_per_gib'], 3)} |")
        add("")
    if results.get("redis"):
        add("### Redis (redis-benchmark → redis-server)\n")
        add(f"`redis-benchmark -t set|get -P {REDIS_PIPELINE}`, one test at a time, each with "
            "the same request count for every contender (sized so that the slowest takes about "
            f"{fmt(REDIS_SECONDS, 1)} s). Requests/s, median (min–max); the proxy's CPU µs per "
            "request (its CPU seconds over the test ÷ requests), medians over runs.\n")
        add("| test | clients | contender | req/s | × direct | × best anchor | proxy µs/req "
            "| µs/req × best anchor |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, rows in results["redis"].items():
            test, clients = key.split("/")
            lines += rate_cost_rows(rows, names, "rps", f"{test} | {clients} | ")
        add("")
    if results.get("pgbench"):
        add("### PostgreSQL (pgbench → postgres)\n")
        add(f"`pgbench -S -c {PGBENCH_CLIENTS} -j {PGBENCH_THREADS} -T {PGBENCH_SECONDS}` "
            "(select-only, scale 1, fsync off). Transactions/s (without the initial connection "
            "time), median (min–max); the proxy's CPU µs per transaction (its CPU seconds over "
            "the run ÷ transactions), medians over runs.\n")
        add("| contender | tps | × direct | × best anchor | proxy µs/txn "
            "| µs/txn × best anchor |")
        add("| --- | --- | --- | --- | --- | --- |")
        lines += rate_cost_rows(results["pgbench"], names, "tps", "")
        add("")
    if results.get("busypoll"):
        lines += busypoll_table(results["busypoll"])
    return "\n".join(lines)


def run_cap(capped):
    """Scenario "cap": 1 and 8 capped streams down through each capped contender."""
    out = {}
    for streams in (1, 8):
        raw = interleaved(capped, f"cap {streams} streams",
                          lambda c: run_iperf(c, streams, True, BULK_SECONDS, None),
                          lambda r: f"{r['gbit'] * 1e9 / 8 / 2**20:.1f} MiB/s")
        out[str(streams)] = {n: {
            "mib_s": med_range([r["gbit"] * 1e9 / 8 / 2**20 for r in rs if "gbit" in r]),
            "ratio": med_range([r["gbit"] * 1e9 / 8 / (streams * CAP_BYTES) for r in rs
                                if "gbit" in r]),
            "cpu_s_per_gib": med_range([r["cpu_s"] / (r["bytes"] / 2**30) for r in rs
                                        if r.get("cpu_s") is not None and r.get("bytes")]),
            "raw": rs} for n, rs in raw.items()}
    return out


# ------------------------------------------------------------------ main
def main():
    t_start = time.time()
    if IDLE_CONNS < IDLE_CONNS_WANTED and "idle" in SCENARIOS:
        log(f"descriptor hard limit is {HARD_NOFILE}: the idle test uses {IDLE_CONNS} "
            f"connections instead of {IDLE_CONNS_WANTED}")
    work = tempfile.mkdtemp(prefix="spliceproxy-bench.")
    contenders = [Contender(n, i, k, work) for i, (n, k) in enumerate(CONTENDER_KINDS)
                  if (not ONLY or n in ONLY or n == "direct")
                  and only_scenario(n) in (None, *SCENARIOS)]
    for port in [BACKEND_PORTS[s] for s in SERVICES] + [p for c in contenders
                                                        for p in c.ports.values()]:
        if not port_free(port):
            raise RuntimeError(f"port {port} is in use (PORT_BASE={PORT_BASE}): pick another")
    # Contenders of SCENARIO_ONLY run in their one scenario; the others in every other one.
    capped = [c for c in contenders if only_scenario(c.name) == "cap"]
    echo = spawn([os.path.join(BIN, "echo_server"), HOST, str(BACKEND_PORTS["echo"])], LOAD_CPUS)
    wait_listening(BACKEND_PORTS["echo"], echo, "echo_server")
    if "redis" in SERVICES:
        start_redis(work)
    if "pg" in SERVICES:
        start_postgres(work)
    for c in contenders:
        c.start()
        if c.failed:
            log(f"{c.name} failed to start, the benchmark goes on without it: {c.failed}")
        else:
            log(f"started {c.name}" + (f" (pids {c.pids()}, ports {c.ports})" if c.procs else ""))
            if c.spins:
                c.hold(True)  # until its turns (see Contender.spins)

    results = {}
    if "cap" in SCENARIOS and capped:
        results["cap"] = run_cap(capped)
    contenders_all = contenders
    contenders = [c for c in contenders if only_scenario(c.name) is None]

    if "bulk" in SCENARIOS:
        results["bulk"] = {}
        for sc, streams, rev in [("1 stream up", 1, False), ("1 stream down", 1, True),
                                 ("8 streams up", 8, False), ("8 streams down", 8, True)]:
            raw = interleaved(contenders, f"bulk {sc}",
                              lambda c: run_iperf(c, streams, rev, BULK_SECONDS, work),
                              lambda r: f"{r['gbit']:.2f} Gbit/s")
            results["bulk"][sc] = {n: {
                "gbit": med_range([r.get("gbit") for r in rs]),
                "cpu_s_per_gib": med_range([r["cpu_s"] / (r["bytes"] / 2**30) for r in rs
                                            if r.get("cpu_s") is not None and r.get("bytes")]),
                "machine_cpu_s_per_gib": med_range([
                    r["machine_cpu_s"] / (r["bytes"] / 2**30) for r in rs
                    if r.get("machine_cpu_s") is not None and r.get("bytes")]),
                "raw": rs} for n, rs in raw.items()}

    if "rr" in SCENARIOS:
        results["rr"] = {}
        for size in RR_SIZES:
            for conns in RR_CONNS:
                raw = interleaved(contenders, f"rr {size} B x {conns}",
                                  lambda c: run_loadgen(c, "pingpong", conns, RR_SECONDS, size),
                                  describe_loadgen)
                results["rr"][f"{size}/{conns}"] = summarize(raw, LOADGEN_KEYS)

    if "connrate" in SCENARIOS:
        # A pause after each round lets the closed connections drain.
        raw = interleaved(contenders, "connrate",
                          lambda c: run_loadgen(c, "connrate", CONNRATE_INFLIGHT,
                                                CONNRATE_SECONDS),
                          lambda r: f"{r['rps']:.0f} conn/s", pause=1)
        results["connrate"] = summarize(raw, LOADGEN_KEYS)

    if "idle" in SCENARIOS:
        results["idle"] = {}
        for c in contenders:
            if c.kind == "direct" or not live(c):
                continue
            n = SOCAT_IDLE_CONNS if c.kind == "socat" else IDLE_CONNS
            r = measure_idle(c, n)
            results["idle"][c.name] = r
            log(f"idle {c.name}: {r['ready']}/{n} ready, "
                f"{fmt(r.get('rss_kib_per_conn'))} KiB/conn, {fmt(r.get('fds_per_conn'))} fds/conn")

    if "strace" in SCENARIOS and shutil.which("strace"):
        results["strace"] = run_strace(contenders, work)

    if "redis" in SCENARIOS:
        results["redis"] = run_redis(contenders)
    if "pgbench" in SCENARIOS:
        results["pgbench"] = run_pgbench_scenario(contenders)
    if "busypoll" in SCENARIOS:
        busypoll = [c for c in contenders_all if only_scenario(c.name) in (None, "busypoll")]
        results["busypoll"] = run_busypoll(busypoll)

    alive = {c.name: c.alive() for c in contenders_all if c.kind != "direct" and not c.failed}
    failed = {c.name: c.failed for c in contenders_all if c.failed}
    cleanup()
    logs = {c.name: c.log_tail() for c in contenders_all if c.log_tail()}
    elapsed = time.time() - t_start
    meta = {
        "command": ENV.get("BENCH_COMMAND", " ".join(sys.argv)),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start)),
        "elapsed_s": round(elapsed),
        "machine": {"nproc": os.cpu_count(), "kernel": os.uname().release,
                    "cpu_model": ENV.get("CPU_MODEL", "")},
        "versions": {k: ENV.get(f"VERSION_{k.upper()}", "") for k in
                     ("spliceproxy", "haproxy", "nginx", "socat", "iperf3", "redis",
                      "postgresql")},
        "settings": {"quick": QUICK, "runs": RUNS, "bulk_seconds": BULK_SECONDS,
                     "rr_seconds": RR_SECONDS, "connrate_seconds": CONNRATE_SECONDS,
                     "warmup": WARMUP, "idle_conns": IDLE_CONNS,
                     "idle_conns_wanted": IDLE_CONNS_WANTED, "hard_nofile": HARD_NOFILE,
                     "socat_idle_conns": SOCAT_IDLE_CONNS, "strace_seconds": STRACE_SECONDS,
                     "cap_bytes_per_session": CAP_BYTES, "redis_seconds": REDIS_SECONDS,
                     "redis_clients": REDIS_CLIENTS, "redis_pipeline": REDIS_PIPELINE,
                     "pgbench_seconds": PGBENCH_SECONDS, "pgbench_clients": PGBENCH_CLIENTS,
                     "pgbench_threads": PGBENCH_THREADS, "busypoll_conns": BUSYPOLL_CONNS,
                     "busy_poll": BUSY_POLL,
                     "pinning": "proxy on CPU 0, load generator/iperf3/echo on CPU 1" if PIN
                     else "none"},
        "proxies_alive_at_end": alive,
        "failed_to_start": failed,
    }
    md = report(results, meta)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"meta": meta, "results": results, "proxy_logs": logs}, f, indent=1)
    md_path = os.path.splitext(OUT)[0] + ".md"
    header = (f"Command: `{meta['command']}`  \nDate: {meta['date_utc']}, took "
              f"{elapsed / 60:.1f} min  \nMachine: {meta['machine']['nproc']} CPUs "
              f"({meta['machine']['cpu_model']}), kernel {meta['machine']['kernel']}  \n"
              f"Runs: {RUNS} per figure; pinning: {meta['settings']['pinning']}  \n"
              f"Proxies alive at the end: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in alive.items())
              + "".join(f"  \nFailed to start: {k}: {v}" for k, v in failed.items()) + "\n\n")
    with open(md_path, "w") as f:
        f.write(header + md + "\n")
    print(header + md)
    log(f"wrote {OUT} and {md_path} in {elapsed / 60:.1f} min")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
    finally:
        cleanup()
