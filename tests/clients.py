"""Clients for the tests: raw bytes on a new connection, requests written
byte for byte, a line read from a subprocess's output. Every wait is bounded."""
import re
import socket
import threading
import time

TIMEOUT = 5.0
CRLF = b"\r\n"
# What "served promptly" means on a shared 2-core CI machine, which runs the
# suites of six Pythons at once, C and pure (measured there: up to 1.4 s for a
# request that takes 1 ms on a quiet machine). The stalls these tests guard
# against are longer: body_timeout, head_timeout, a blocking send, a
# handler's sleep of 3 s or more.
PROMPT = 2.0


def raw_exchange(address, data, *, idle=0.5):
    """Send data on a new connection; read until the server closes (-> bytes,
    True) or stays silent for `idle` seconds (-> bytes, False)."""
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.settimeout(idle)
        received = b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return received, False
            if not chunk:
                return received, True
            received += chunk
        return received, False


def converse(httpd, data, *, idle=0.5):
    """raw_exchange() with a running server."""
    return raw_exchange(httpd.server_address[:2], data, idle=idle)


def statuses(raw):
    """Status codes of the responses in raw, in order (bodies here never
    contain a status-line lookalike)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


def req(line: bytes, *headers: bytes, body: bytes = b"", end: bytes = CRLF) -> bytes:
    """A request: its line, each header line, `end` (the blank line), the body."""
    return line + CRLF + b"".join(h + CRLF for h in headers) + end + body


def readline_within(stream, timeout=TIMEOUT):
    """stream.readline(), or None when no line came within `timeout` seconds
    (a server prints its banner once it listens)."""
    result = []
    t = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return result[0] if result else None


def read_until_end(sock, end):
    """Read an open connection until what came ends with `end` (or the
    server closes it): everything read."""
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def fetch(address, path="/", *, timeout=TIMEOUT):
    """One GET on a new connection -> (seconds taken, status, body)."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return time.monotonic() - started, int(head.split(b" ", 2)[1]), body


def worst_latency(address, count, path="/"):
    times = []
    for _ in range(count):
        took, status, _ = fetch(address, path)
        assert status == 200
        times.append(took)
    return max(times)
