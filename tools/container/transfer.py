#!/usr/bin/env python3
"""The application and the client of tools/container_check.sh (standard library only, so the
check needs nothing built on the host). Both run inside the container's network namespace.

  transfer.py echo PORT
      an echo application on 127.0.0.1:PORT (one thread per connection), until killed
  transfer.py send PORT BYTES [SECONDS]
      sends BYTES random bytes to 127.0.0.1:PORT (spread over SECONDS when given: a live
      transfer for the drain check), reads the echo until EOF and compares SHA-256 of what
      came back with what was sent; prints one line, exit status 0 when they match
"""
import hashlib
import os
import socket
import sys
import threading
import time


def echo(port):
    server = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=echo_one, args=(conn,), daemon=True).start()


def echo_one(conn):
    with conn:
        while chunk := conn.recv(1 << 16):
            conn.sendall(chunk)


def send(port, size, seconds):
    data = os.urandom(size)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    print("transfer: connected", flush=True)  # the drain check waits for this line
    start = time.monotonic()

    def writer():
        step = 1 << 16
        for offset in range(0, size, step):
            if seconds:  # paced: this chunk is due at its share of SECONDS
                time.sleep(max(0.0, start + seconds * offset / size - time.monotonic()))
            sock.sendall(data[offset:offset + step])
        sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    digest, received = hashlib.sha256(), 0
    while chunk := sock.recv(1 << 20):
        digest.update(chunk)
        received += len(chunk)
    thread.join()
    ok = digest.digest() == hashlib.sha256(data).digest()
    print(f"transfer: {size} bytes sent, {received} echoed in {time.monotonic() - start:.1f} s, "
          f"SHA-256 {'matches' if ok else 'DIFFERS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "echo":
        echo(int(sys.argv[2]))
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "send":
        sys.exit(send(int(sys.argv[2]), int(sys.argv[3]),
                      float(sys.argv[4]) if len(sys.argv) == 5 else 0.0))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
