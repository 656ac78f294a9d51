"""What the soak runs around the proxy, and the faults it injects on a schedule.

    clients ──▶ spliceproxy :front (PROXY any) ──▶ backends A B C (echo_server; PROXY v2)
                    │ pcapng_tcp mirror
                    ▼
                 MirrorSink (reads and discards; stalls on schedule)

Every FAULT_CYCLE seconds, at fixed offsets: a backend killed (SIGKILL) and restarted, slot C
turned into a blackhole (accepts, never reads) and back, bursts of clients that reset
mid-stream, a mirror sink stall (6 s). Independently, a reload (SIGHUP) every RELOAD_EVERY seconds,
every third one with a bad config. Only processes started here are signalled, by PID.
"""
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time

from traffic import POOL, header, made_up_addresses

FAULT_CYCLE = 30.0
RELOAD_EVERY = 3.0


class Processes:
    """Every process the soak starts; stop_all() ends them by PID, SIGTERM then SIGKILL."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        proc = subprocess.Popen(argv, **kw)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_port(port, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Listener(threading.Thread):
    """A loopback TCP server run by `serve(conn)` per connection, until close()."""

    def __init__(self, port, serve):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.serve = serve
        self.conns = []
        self.closed = threading.Event()
        self.start()

    def run(self):
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns = [c for c in self.conns if c.fileno() >= 0][-1000:] + [conn]
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def close(self):
        self.closed.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.conns:
            conn.close()


class BackendSlot:
    """One server of the pool: an echo_server process, or for a while a blackhole."""

    def __init__(self, name, port, echo_binary, procs):
        self.name, self.port = name, port
        self.echo_binary, self.procs = echo_binary, procs
        self.echo = None
        self.blackhole = None

    def start_echo(self):
        self.echo = self.procs.start([self.echo_binary, "127.0.0.1", str(self.port)])
        if not wait_port(self.port):
            raise RuntimeError(f"echo_server {self.name} did not listen on {self.port}")

    def kill_echo(self):
        self.echo.send_signal(signal.SIGKILL)
        self.echo.wait()

    def become_blackhole(self):
        """Accepts connections and never reads from them."""
        self.kill_echo()
        self.blackhole = Listener(self.port, lambda conn: None)

    def end_blackhole(self):
        self.blackhole.close()
        self.blackhole = None
        self.start_echo()


class MirrorSink:
    """The pcapng_tcp consumer: reads and discards; while stalled it reads nothing."""

    def __init__(self, port):
        self.bytes = 0
        self.connections = 0
        self.running = threading.Event()
        self.running.set()
        self.listener = Listener(port, self._serve)

    def _serve(self, conn):
        self.connections += 1
        with conn:
            while True:
                self.running.wait()
                try:
                    chunk = conn.recv(1 << 20)
                except OSError:
                    return
                if not chunk:
                    return
                self.bytes += len(chunk)

    def stall_in_background(self, seconds):
        """Stops reading for `seconds`: longer than the proxy's consumer timeout, so the proxy
        drops the stream (and its bytes) and reconnects after its back-off."""
        self.running.clear()
        threading.Timer(seconds, self.running.set).start()


def client_resets(port, count):
    """`count` clients that send a header and part of a payload, then reset (RST)."""
    for i in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            src, dst = made_up_addresses(random.Random(i))
            sock.sendall(header(1 + i % 2, src, dst) + POOL[: (i + 1) * 4096])
            if i % 2:
                sock.recv(1024)  # half of them after the echo has started
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass


class Config:
    """Writes the proxy's config file: the start config, good and bad variants for reloads."""

    def __init__(self, path, ports):
        self.path, self.ports = path, ports
        self.good = 0  # variants written so far, to vary each one
        self.bad = 0

    def text(self, idle="5s", balance="round_robin", weights=(1, 1, 1), extra=None,
             workers=2, raw_tail=""):
        p = self.ports
        servers = "".join(f"      - {{address: 127.0.0.1:{port}, weight: {w}}}\n"
                          for port, w in zip(p["backends"], weights))
        extra_listener = (f"  - {{name: extra, listen: 127.0.0.1:{extra}, backend: echo}}\n"
                          if extra else "")
        return f"""# Written by tools/soak: rewritten before every SIGHUP.
workers: {workers}
drain_timeout: 10s
log: {{level: info, access: access.log}}
admin: {{listen: 127.0.0.1:{p["admin"]}}}
listeners:
  - name: front
    listen: 127.0.0.1:{p["front"]}
    backend: echo
    proxy_protocol: any
    timeouts: {{connect: 1s, idle: {idle}, half_closed: 5s, proxy_header: 2s}}
    mirrors:
      - {{mirror: sink}}
{extra_listener}backends:
  - name: echo
    balance: {balance}
    proxy_protocol: v2
    ejection: {{consecutive_failures: 2, base: 500ms, max: 4s}}
    health_check: {{interval: 500ms, timeout: 300ms, rise: 2, fall: 2}}
    servers:
{servers}mirrors:
  - {{name: sink, type: pcapng_tcp, address: 127.0.0.1:{p["sink"]}}}
{raw_tail}"""

    def write(self, text):
        with open(self.path + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.path + ".tmp", self.path)

    def write_good(self):
        """A variant that must reload: timeouts, balance, weights, an extra listener or not."""
        n = self.good
        self.good += 1
        self.write(self.text(
            idle=["5s", "6s", "8s"][n % 3],
            balance=["round_robin", "least_connections", "random"][(n // 3) % 3],
            weights=[(1, 1, 1), (2, 1, 1)][n % 2],
            extra=self.ports["extra"] if n % 4 == 1 else None))
        return f"good#{n}"

    def write_bad(self):
        """A variant the proxy must refuse, keeping the running config."""
        n = self.bad
        self.bad += 1
        kind = ["bad_duration", "workers_changed", "broken_yaml", "address_in_use",
                "unknown_key"][n % 5]
        if kind == "bad_duration":
            text = self.text(idle="5 parsecs")
        elif kind == "workers_changed":
            text = self.text(workers=3)
        elif kind == "broken_yaml":
            text = self.text()[:200] + "\n  - [unclosed\n"
        elif kind == "address_in_use":  # the extra listener on the admin's port: bind fails
            text = self.text(extra=self.ports["admin"])
        else:
            text = self.text(raw_tail="colour: red\n")
        self.write(text)
        return kind


class Schedule(threading.Thread):
    """Injects the faults on a fixed timeline until `stop` is set; counts what it did."""

    def __init__(self, proxy, config, slots, sink, front_port, stop):
        super().__init__(daemon=True)
        self.proxy, self.config, self.slots, self.sink = proxy, config, slots, sink
        self.front_port, self.stop = front_port, stop
        self.counts = {}
        self.error = None

    def _count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def _reloads(self):
        while not self.stop.wait(RELOAD_EVERY):
            n = self.counts.get("reload_good", 0) + self.counts.get("reload_bad", 0)
            if n % 3 == 2:
                self.config.write_bad()
                self._count("reload_bad")
            else:
                self.config.write_good()
                self._count("reload_good")
            self.proxy.send_signal(signal.SIGHUP)

    def _timeline(self):
        a, b, c = self.slots
        steps = [  # (offset in the cycle, action)
            (0.0, lambda: (a.kill_echo(), self._count("backend_killed"))),
            (3.0, a.start_echo),
            (5.0, lambda: (c.become_blackhole(), self._count("backend_blackhole"))),
            (10.0, lambda: (client_resets(self.front_port, 10), self._count("client_reset_burst"))),
            (13.0, c.end_blackhole),
            (15.0, lambda: (self.sink.stall_in_background(6.0), self._count("mirror_sink_stall"))),
            (20.0, lambda: (b.kill_echo(), self._count("backend_killed"))),
            (22.0, b.start_echo),
            (25.0, lambda: (client_resets(self.front_port, 10), self._count("client_reset_burst"))),
        ]
        start = time.monotonic()
        cycle = 0
        while True:
            for offset, action in steps:
                due = start + cycle * FAULT_CYCLE + offset
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                action()
            cycle += 1

    def run(self):
        reloads = threading.Thread(target=self._reloads, daemon=True)
        reloads.start()
        try:
            self._timeline()
        except Exception as exc:  # reported, and the soak fails
            self.error = exc
        reloads.join()

    def restore(self):
        """After stop: every slot back to a running echo server, the sink reading."""
        for slot in self.slots:
            if slot.blackhole:
                slot.end_blackhole()
            elif slot.echo.poll() is not None:
                slot.start_echo()
        self.sink.running.set()
