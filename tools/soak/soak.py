#!/usr/bin/env python3
"""Soak: spliceproxy under steady mixed traffic and scheduled faults, watched for drift.

Started by tools/soak.sh (which builds the binaries). Only loopback; every process started here
is stopped by PID at the end; the whole run is cut at DURATION + 180 s whatever happens.

Phases (DURATION seconds of traffic in all, plus the quiet waits between phases):
  1. warm-up   (10% of DURATION, 10 to 60 s): traffic, no fault; then quiet (no session
               open, no pipe in use) and the baseline sample.
  2. faults    (the rest, less 10 s): traffic while faults.py injects its schedule.
  3. verify    (10 s): faults stopped, every backend back; traffic again, no fault.
  Then quiet again, the final sample, SIGTERM; the proxy must exit 0 within its drain timeout.

It fails (exit status 1) on:
  - any wrong byte: every reply is compared as it arrives, and a completed one by SHA-256;
  - a crash: the proxy gone, /healthz not answering, a sanitizer report in its log, an exit
    status other than 0 after SIGTERM;
  - a transfer error without a fault (warm-up and verify), or a refused connection at any time
    (the listener is never closed, not even by a reload);
  - reloads miscounted: config_reloads_total and config_reloads_failed_total must equal the
    good and bad reloads sent;
  - drift, quiet at the end against quiet after the warm-up (each the least of 3 samples,
    1 s apart):
      threads                           no more than the baseline
      descriptors (pooled pipes apart)  at most 4 more: a health check or the mirror's
                                        reconnect may be in flight when sampled
      pipe ends outside the pools       no more than the baseline (pools keep up to 64
                                        empty pipes per worker by design, counted apart)
      RSS                               at most RSS_BOUND_MIB more (release 8 MiB; ASan
                                        64 MiB: its allocator keeps freed memory in a
                                        quarantine, 16 MiB here, and caches per size
                                        class; LeakSanitizer checks leaks at exit instead)
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import probe  # noqa: E402
import traffic  # noqa: E402

SAMPLE_EVERY = 2.0
VERIFY_SECONDS = 10.0
RSS_BOUND_MIB = {"release": 8, "asan": 64}
ASAN_QUARANTINE_MIB = 16
FD_SLACK = 4
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def log(msg):
    print(f"soak: {msg}", flush=True)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Soak:
    def __init__(self, args):
        self.args = args
        self.failures = []
        self.procs = faults.Processes()
        self.samples = []  # (seconds since start, phase, figures)
        self.phase = "start"
        self.health_failures = 0
        self.started = time.monotonic()
        self.done = threading.Event()

    def fail(self, why):
        log(f"FAIL: {why}")
        self.failures.append(why)

    # -- set-up ---------------------------------------------------------------------------

    def start(self):
        front, admin, sink, extra, *backends = free_ports(7)
        self.ports = {"front": front, "admin": admin, "sink": sink, "extra": extra,
                      "backends": backends}
        echo = os.path.join(self.args.bin, "echo_server")
        self.slots = [faults.BackendSlot(name, port, echo, self.procs)
                      for name, port in zip("ABC", backends)]
        for slot in self.slots:
            slot.start_echo()
        self.sink = faults.MirrorSink(sink)
        self.config = faults.Config(os.path.join(self.args.work, "proxy.yaml"), self.ports)
        self.config.write(self.config.text())
        self.proxy_log = open(os.path.join(self.args.work, "proxy.log"), "w")
        env = dict(os.environ)
        if self.args.kind == "asan":
            # ASan keeps freed memory in a quarantine (256 MiB by default) that fills up over
            # the run: a small one fills during the warm-up and does not read as drift.
            quarantine = f"quarantine_size_mb={ASAN_QUARANTINE_MIB}"
            env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), quarantine) if x)
        self.proxy = self.procs.start(
            [os.path.join(self.args.bin, "spliceproxy"), "-c", self.config.path],
            cwd=self.args.work, stdout=self.proxy_log, stderr=subprocess.STDOUT, env=env)
        if not self.wait_for(lambda: probe.http_get(admin, "/readyz")[0] == 200, 20):
            raise RuntimeError("the proxy did not become ready (see proxy.log)")
        threading.Thread(target=self.sampler, daemon=True).start()

    def wait_for(self, predicate, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False

    # -- watching -------------------------------------------------------------------------

    def sampler(self):
        while not self.done.wait(SAMPLE_EVERY):
            if self.proxy.poll() is not None:
                self.fail(f"the proxy died (status {self.proxy.returncode}) in {self.phase}")
                return
            if probe.http_get(self.ports["admin"], "/healthz")[0] != 200:
                self.health_failures += 1
            try:
                figures = probe.sample(self.proxy.pid, self.ports["admin"])
            except OSError:
                continue
            self.samples.append((round(time.monotonic() - self.started, 1), self.phase, figures))

    def quiet_sample(self, label):
        """Waits until no session is open and no pipe in use; the least of 3 samples."""
        admin = self.ports["admin"]

        def quiet():
            m = probe.metrics(admin)
            return m.get("sessions_active", 1) == 0 and m.get("pipes_in_use", 1) == 0

        if not self.wait_for(quiet, 30):
            self.fail(f"{label}: sessions or pipes still open 30 s after the traffic stopped")
        time.sleep(1)
        samples = []
        for _ in range(3):
            samples.append(probe.sample(self.proxy.pid, admin))
            time.sleep(1)
        return {key: min(s[key] for s in samples) for key in samples[0]}

    # -- phases ---------------------------------------------------------------------------

    def traffic(self, tally, seconds, seed):
        stop = threading.Event()
        deadline = time.monotonic() + seconds
        threads = traffic.run_traffic(self.ports["front"], tally, stop, deadline, seed)
        return stop, threads

    def end_traffic(self, stop, threads):
        stop.set()
        for t in threads:
            t.join(traffic.IO_TIMEOUT * 2 + 5)

    def run(self):
        d = self.args.duration
        warmup = min(60.0, max(10.0, d * 0.1))
        fault_seconds = max(10.0, d - warmup - VERIFY_SECONDS)
        self.plan = {"warmup_s": warmup, "faults_s": fault_seconds, "verify_s": VERIFY_SECONDS}
        log(f"warm-up {warmup:.0f} s, faults {fault_seconds:.0f} s, verify {VERIFY_SECONDS:.0f} s;"
            f" work directory {self.args.work}")

        self.phase = "warmup"
        self.warm = traffic.Tally()
        stop, threads = self.traffic(self.warm, warmup, 1)
        time.sleep(warmup)
        self.end_traffic(stop, threads)
        self.baseline = self.quiet_sample("after warm-up")
        log(f"baseline {self.baseline}")

        self.phase = "faults"
        self.tally = traffic.Tally()
        fault_stop = threading.Event()
        self.schedule = faults.Schedule(self.proxy, self.config, self.slots, self.sink,
                                        self.ports["front"], fault_stop)
        stop, threads = self.traffic(self.tally, fault_seconds, 2)
        self.schedule.start()
        self.progress(fault_seconds)
        fault_stop.set()
        self.schedule.join(30)
        self.end_traffic(stop, threads)
        self.schedule.restore()
        if self.schedule.error:
            self.fail(f"the fault schedule broke: {self.schedule.error!r}")

        self.phase = "verify"
        self.wait_for(self.all_servers_healthy, 15)
        self.verified = traffic.Tally()
        stop, threads = self.traffic(self.verified, VERIFY_SECONDS, 3)
        time.sleep(VERIFY_SECONDS)
        self.end_traffic(stop, threads)
        self.final = self.quiet_sample("at the end")
        self.final_metrics = probe.metrics(self.ports["admin"])
        self.phase = "stop"
        self.stop_proxy()

    def progress(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.failures:
            time.sleep(min(30.0, max(0.0, end - time.monotonic())))
            t = self.tally
            log(f"{time.monotonic() - self.started:.0f} s: {sum(t.completed.values())} transfers, "
                f"{t.bytes / 2**30:.2f} GiB, errors {t.errors}, faults {self.schedule.counts}")

    def all_servers_healthy(self):
        m = probe.metrics(self.ports["admin"])
        healthy = [v for k, v in m.items() if k.startswith("server_healthy{")]
        return len(healthy) == 3 and all(v == 1 for v in healthy)

    def stop_proxy(self):
        self.done.set()
        self.proxy.send_signal(signal.SIGTERM)
        try:
            status = self.proxy.wait(10 + 10)  # drain_timeout + slack
        except subprocess.TimeoutExpired:
            status = None
        if status != 0:
            self.fail(f"after SIGTERM the proxy exited with {status} (want 0 within 20 s)")

    # -- verdict --------------------------------------------------------------------------

    def judge(self):
        for name, tally in (("warm-up", self.warm), ("verify", self.verified)):
            if tally.errors:
                self.fail(f"{name}: errors without a fault: {tally.errors} {tally.error_samples}")
            missing = [k for k in traffic.KINDS if not tally.completed.get(k)]
            if missing:
                self.fail(f"{name}: no completed transfer of {missing}")
        for kind in ("wrong_bytes", "refused"):
            if self.tally.errors.get(kind):
                self.fail(f"faults: {self.tally.errors[kind]} {kind}: {self.tally.error_samples}")
        if self.health_failures:
            self.fail(f"/healthz did not answer {self.health_failures} times")
        m, counts = self.final_metrics, self.schedule.counts
        for metric, sent in (("config_reloads_total", "reload_good"),
                             ("config_reloads_failed_total", "reload_bad")):
            if int(m.get(metric, -1)) != counts.get(sent, 0):
                self.fail(f"{metric} is {m.get(metric)}, {counts.get(sent, 0)} were sent")
        with open(os.path.join(self.args.work, "proxy.log"), errors="replace") as f:
            marks = [line.strip() for line in f if any(x in line for x in SANITIZER_MARKS)]
        if marks:
            self.fail(f"sanitizer report in proxy.log: {marks[:3]}")
        self.drift = self.judge_drift()

    def judge_drift(self):
        b, f = self.baseline, self.final
        rss_bound = RSS_BOUND_MIB[self.args.kind] * 1024
        rules = [("threads", 0), ("unpooled_fds", FD_SLACK), ("unpooled_pipe_fds", 0),
                 ("rss_kib", rss_bound)]
        drift = {}
        for key, slack in rules:
            ok = f[key] <= b[key] + slack
            series = [s[key] for _, phase, s in self.samples if phase == "faults"]
            drift[key] = {"baseline": b[key], "final": f[key], "bound": f"+{slack}",
                          "during_faults": [min(series), max(series)] if series else None,
                          "ok": ok}
            if not ok:
                self.fail(f"drift: {key} {b[key]} -> {f[key]} (bound +{slack})")
        pooled_cap = 64 * 2
        if f["pipes_pooled"] > pooled_cap:
            self.fail(f"pipes_pooled {f['pipes_pooled']} above the pools' cap {pooled_cap}")
        return drift

    def report(self):
        t, m = self.tally, self.final_metrics
        reasons = {k.split('"')[1]: int(v) for k, v in m.items()
                   if k.startswith("sessions_closed_total{") and v}
        lines = [
            f"soak report ({self.args.kind} build, {self.args.duration:.0f} s: warm-up "
            f"{self.plan['warmup_s']:.0f} s, faults {self.plan['faults_s']:.0f} s, verify "
            f"{self.plan['verify_s']:.0f} s; workers 2, PROXY protocol in (v1/v2) and out (v2),"
            f" pcapng_tcp mirror)",
            f"  transfers completed: warm-up {sum(self.warm.completed.values())}, under faults "
            f"{sum(t.completed.values())} {dict(sorted(t.completed.items()))}, verify "
            f"{sum(self.verified.completed.values())}",
            f"  bytes echoed under faults: {t.bytes / 2**30:.2f} GiB (both directions); every "
            f"reply checked byte for byte, completed ones by SHA-256: wrong bytes "
            f"{t.errors.get('wrong_bytes', 0)}",
            f"  faults injected: {dict(sorted(self.schedule.counts.items()))}",
            f"  errors by kind under faults: {dict(sorted(t.errors.items())) or 'none'}; "
            f"warm-up {self.warm.errors or 'none'}; verify {self.verified.errors or 'none'}",
            f"  proxy: sessions {int(m.get('sessions_accepted_total', 0))}, closed by reason "
            f"{reasons}, reloads ok {int(m.get('config_reloads_total', 0))} / refused "
            f"{int(m.get('config_reloads_failed_total', 0))}, mirror bytes "
            f"{int(m.get('mirror_bytes_total', 0))} dropped "
            f"{int(m.get('mirror_dropped_bytes_total', 0))} gaps "
            f"{int(m.get('mirror_gaps_total', 0))}; sink read {self.sink.bytes} bytes on "
            f"{self.sink.connections} connections",
            "  drift, quiet after warm-up -> quiet at the end (bound; min-max during faults):",
        ]
        for key, d in self.drift.items():
            lines.append(f"    {key:18} {d['baseline']:>8} -> {d['final']:>8}  ({d['bound']}; "
                         f"{d['during_faults']})  {'ok' if d['ok'] else 'DRIFT'}")
        lines.append(f"  pooled pipes at the end: {self.final['pipes_pooled']} (cap 128)")
        lines.append(f"  result: {'PASS' if not self.failures else 'FAIL'}")
        for why in self.failures:
            lines.append(f"    - {why}")
        print("\n".join(lines), flush=True)
        with open(os.path.join(self.args.work, "report.json"), "w") as f:
            json.dump({"plan": self.plan, "completed": t.completed, "bytes": t.bytes,
                       "errors": t.errors, "faults": self.schedule.counts, "drift": self.drift,
                       "failures": self.failures, "samples": self.samples}, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("duration", type=float)
    parser.add_argument("--bin", required=True, help="directory with spliceproxy, echo_server")
    parser.add_argument("--kind", choices=sorted(RSS_BOUND_MIB), default="release")
    parser.add_argument("--work", help="work directory (default: a new one, removed on PASS)")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    keep = bool(args.work)
    args.work = args.work or tempfile.mkdtemp(prefix="spliceproxy-soak.")
    os.makedirs(args.work, exist_ok=True)

    soak = Soak(args)
    watchdog = threading.Timer(args.duration + 180, lambda: (
        log("watchdog: the run overstayed DURATION + 180 s"), soak.procs.stop_all(), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    try:
        soak.start()
        soak.run()
        soak.judge()
        soak.report()
    except Exception as exc:
        soak.fail(f"{type(exc).__name__}: {exc}")
    finally:
        soak.done.set()
        soak.procs.stop_all()
    if soak.failures:
        log(f"FAILED; logs and report.json kept in {args.work}")
        return 1
    if not keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
