"""The soak's clients: every transfer goes through the proxy to an echo backend and back.

Each connection starts with a PROXY protocol header (v1 or v2, IPv4 or IPv6, made-up
addresses) that the proxy's listener reads; the proxy then sends its own v2 header to the
backend, which echoes it back with the payload. So the reply must be exactly
    v2_header(the made-up addresses) + payload,
which every client checks byte for byte as it arrives (a wrong byte is found where it is, also
in a transfer cut short by a fault) and, for a completed transfer, by SHA-256 of the whole.

Kinds of client (each a thread looping until its phase ends):
    bulk      one connection, 256 KiB to 8 MiB up and echoed back, concurrently
    pingpong  one connection, 20 to 200 messages of 16 B to 4 KiB, one at a time
    short     connect, header, 64 B, half-close, read to EOF, close: many connections
    slow      1 to 2 MiB up; the reply is read 16 KiB every 20 ms (about 800 KiB/s)
Faults on the client side (reset) are in faults.py.
"""
import errno
import hashlib
import ipaddress
import random
import socket
import struct
import threading
import time

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
IO_TIMEOUT = 20.0  # seconds of no progress before a client gives up on a transfer
POOL = random.Random(18).randbytes(16 << 20)  # payloads are slices of this


class WrongBytes(Exception):
    """The reply differs from what was sent: the one failure no fault excuses."""


def made_up_addresses(rng):
    """A (source, destination) pair of (ip, port), both IPv4 or both IPv6."""
    if rng.random() < 0.5:
        src = ipaddress.IPv4Address(rng.randrange(0x0A000001, 0x0AFFFFFE))
        dst = ipaddress.IPv4Address("192.0.2.10")
    else:
        src = ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(64))
        dst = ipaddress.IPv6Address("2001:db8::80")
    return (src, rng.randrange(1024, 65536)), (dst, rng.choice([80, 443, 8080]))


def header(version, src, dst):
    """A PROXY protocol header as a client (or the proxy, towards a backend) sends it."""
    if version == 1:
        family = "TCP4" if src[0].version == 4 else "TCP6"
        return f"PROXY {family} {src[0]} {dst[0]} {src[1]} {dst[1]}\r\n".encode()
    family = 0x11 if src[0].version == 4 else 0x21
    body = src[0].packed + dst[0].packed + struct.pack("!HH", src[1], dst[1])
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


class Tally:
    """Counts of one soak, shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.completed = {}
        self.bytes = 0
        self.errors = {}
        self.error_samples = []  # the first few messages, for the report

    def done(self, kind, nbytes):
        with self.lock:
            self.completed[kind] = self.completed.get(kind, 0) + 1
            self.bytes += nbytes

    def error(self, kind, message=""):
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if message and len(self.error_samples) < 20:
                self.error_samples.append(f"{kind}: {message}")


def error_kind(exc):
    if isinstance(exc, WrongBytes):
        return "wrong_bytes"
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "broken_pipe"
    if isinstance(exc, EOFError):
        return "early_eof"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno)).lower()
    return type(exc).__name__


class Checker:
    """Compares a reply, chunk by chunk as it arrives, with what it must be."""

    def __init__(self, expected):
        self.expected = memoryview(expected)
        self.seen = 0
        self.sha = hashlib.sha256()

    def feed(self, chunk):
        end = self.seen + len(chunk)
        if end > len(self.expected) or self.expected[self.seen:end] != chunk:
            raise WrongBytes(f"reply differs within bytes {self.seen}..{end}")
        self.sha.update(chunk)
        self.seen = end

    def complete(self):
        return self.seen == len(self.expected)

    def verify_sha(self):
        if self.sha.digest() != hashlib.sha256(self.expected).digest():
            raise WrongBytes("SHA-256 of the reply differs")


class Client:
    """Opens connections to the proxy at `port` and runs transfers of each kind."""

    def __init__(self, port, tally, seed):
        self.port = port
        self.tally = tally
        self.rng = random.Random(seed)

    def _connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT)
        sock.settimeout(IO_TIMEOUT)
        src, dst = made_up_addresses(self.rng)
        sock.sendall(header(self.rng.choice([1, 2]), src, dst))
        return sock, header(2, src, dst)  # the backend's header, echoed first

    def _payload(self, size):
        offset = self.rng.randrange(0, len(POOL) - size)
        return POOL[offset:offset + size]

    def _read_all(self, sock, checker, pace=None):
        while not checker.complete():
            chunk = sock.recv(16384 if pace else 1 << 20)
            if not chunk:
                raise EOFError(f"EOF after {checker.seen} of {len(checker.expected)} bytes")
            checker.feed(chunk)
            if pace:
                time.sleep(pace)
        checker.verify_sha()
        if sock.recv(1):
            raise WrongBytes("bytes after the whole reply")

    def streamed(self, kind, size, pace=None):
        """Sends a payload from a second thread while reading the echo; returns bytes moved."""
        sock, backend_header = self._connect()
        payload = self._payload(size)
        checker = Checker(backend_header + payload)
        failure = []

        def send():
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                failure.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            self._read_all(sock, checker, pace)
        finally:
            sock.close()
            sender.join(IO_TIMEOUT)
        return len(payload) * 2

    def pingpong(self):
        sock, backend_header = self._connect()
        moved = 0
        try:
            pending = backend_header
            for _ in range(self.rng.randrange(20, 200)):
                message = self._payload(self.rng.randrange(16, 4096))
                sock.sendall(message)
                checker = Checker(pending + message)
                while not checker.complete():
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise EOFError(f"EOF after {moved} bytes of ping-pong")
                    checker.feed(chunk)
                checker.verify_sha()
                pending = b""
                moved += 2 * len(message)
            sock.shutdown(socket.SHUT_WR)
            if sock.recv(1):
                raise WrongBytes("bytes after the last echo")
        finally:
            sock.close()
        return moved

    def run(self, kind, stop, deadline, max_transfers=1_000_000):
        """Runs transfers of `kind` until `stop` is set or `deadline` passes."""
        for _ in range(max_transfers):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                if kind == "bulk":
                    moved = self.streamed(kind, self.rng.randrange(256 << 10, 8 << 20))
                elif kind == "slow":
                    moved = self.streamed(kind, self.rng.randrange(1 << 20, 2 << 20), pace=0.02)
                elif kind == "short":
                    moved = self.streamed(kind, 64)
                    time.sleep(0.01)
                else:
                    moved = self.pingpong()
                self.tally.done(kind, moved)
            except (OSError, EOFError, WrongBytes) as exc:
                self.tally.error(error_kind(exc), f"{kind}: {exc}")
                time.sleep(0.05)  # no tight loop while a fault lasts


KINDS = {"bulk": 2, "pingpong": 2, "short": 3, "slow": 2}  # threads of each kind


def run_traffic(port, tally, stop, deadline, seed, kinds=KINDS):
    """Starts the client threads of every kind; returns them (they end at `stop`/`deadline`)."""
    threads = []
    for kind, count in kinds.items():
        for i in range(count):
            client = Client(port, tally, seed=f"{seed}-{kind}-{i}")
            t = threading.Thread(target=client.run, args=(kind, stop, deadline), daemon=True)
            t.start()
            threads.append(t)
    return threads
