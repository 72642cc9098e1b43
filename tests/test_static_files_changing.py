"""A file that grows and shrinks while it is served (SimpleHTTPRequestHandler,
fasthttp/static.py), on a keep-alive connection.

The Content-Length is the size fstat() saw; the body must be exactly that
many bytes, or fewer and then the connection closed. One surplus byte would
be read by the client as the start of the next response. Another process
rewrites the file without pause while one keep-alive client fetches it
1,000 times (the handler pauses 1 ms between head and body, so that the
file changes in between), on every body path: sendfile (both servers), the copy into
LoopHTTPServer's queue (bodies up to 64 KiB), the copy over TLS and through
a buffered wfile (ThreadingHTTPServer).
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import time

import pytest
import support  # noqa: F401  (puts the repository's fasthttp on sys.path)
from certs import make_cert
from servers import serve_in_thread, stop_serving

import fasthttp
from fasthttp.loop import LoopHTTPServer

FETCHES = 1000
STALL = 2.0         # a body that stops short this long on an open connection: a failure

# Rewrites argv[1] forever: grows it to argv[3] bytes, 4 KiB per write, then
# cuts it to argv[2] bytes. Its size is mostly on the move.
REWRITER = r"""
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
small, large = int(sys.argv[2]), int(sys.argv[3])
piece = b"y" * 4096
print("ready", flush=True)
while True:
    for offset in range(small, large, len(piece)):
        os.pwrite(fd, piece[:large - offset], offset)
    os.ftruncate(fd, small)
"""


class Quiet(fasthttp.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def end_headers(self):
        super().end_headers()
        # Between the Content-Length and the body, give the rewriter a moment
        # (a busy server takes as long): the file then differs from what
        # fstat() said nearly every time, not one time in hundreds.
        time.sleep(0.001)

    def log_message(self, *args):
        pass


class Buffered(Quiet):
    wbufsize = -1           # a BufferedWriter for wfile: the copy path, no sendfile


CASES = {
    # name: (server class, handler, TLS, small size, large size)
    "loop-queued-copy": (LoopHTTPServer, Quiet, False, 1_000, 40_000),
    "loop-sendfile": (LoopHTTPServer, Quiet, False, 100_000, 300_000),
    "threading-sendfile": (fasthttp.ThreadingHTTPServer, Quiet, False, 10_000, 200_000),
    "threading-buffered-copy": (fasthttp.ThreadingHTTPServer, Buffered, False, 1_000, 90_000),
    "threading-tls-copy": (fasthttp.ThreadingHTTPSServer, Quiet, True, 1_000, 90_000),
}


def _serve(cls, handler, directory, tls, tmp_path):
    bound = type(handler.__name__, (handler,), {"__init__": lambda self, *a: handler.__init__(
        self, *a, directory=str(directory))})
    if tls:
        certfile, keyfile = make_cert(tmp_path)
        httpd = cls(("127.0.0.1", 0), bound, certfile=certfile, keyfile=keyfile)
    else:
        httpd = cls(("127.0.0.1", 0), bound)
    thread = serve_in_thread(httpd)
    return httpd, thread


class Client:
    """GETs over one keep-alive connection at a time, checking each body's
    length against its Content-Length."""

    def __init__(self, address, tls):
        self.address = address
        self.context = None
        if tls:
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self.sock = None
        self.buf = b""
        self.exact = self.short_then_closed = self.connections = 0
        self.lengths = set()        # the Content-Lengths seen

    def _connect(self):
        sock = socket.create_connection(self.address, timeout=STALL)
        if self.context is not None:
            sock = self.context.wrap_socket(sock)
        self.sock, self.buf = sock, b""
        self.connections += 1

    def _recv(self):
        try:
            return self.sock.recv(1 << 16)
        except (ssl.SSLEOFError, ConnectionResetError):
            return b""          # closed (TLS without close_notify, or RST)

    def _close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def fetch(self, n, path):
        if self.sock is None:
            self._connect()
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        while b"\r\n\r\n" not in self.buf:
            chunk = self._recv()
            assert chunk, f"fetch {n}: the connection closed before a response"
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), \
            f"fetch {n} begins {head[:30]!r}: surplus bytes of the previous body"
        length = int(re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n").group(1))
        self.lengths.add(length)
        while len(self.buf) < length:
            try:
                chunk = self._recv()
            except socket.timeout:
                raise AssertionError(
                    f"fetch {n}: {len(self.buf)} of {length} body bytes, and the "
                    "connection stays open") from None
            if not chunk:
                self.short_then_closed += 1     # short, and closed: the client knows
                self._close()
                return
            self.buf += chunk
        self.buf = self.buf[length:]
        assert not self.buf, f"fetch {n}: {len(self.buf)} bytes past its Content-Length"
        self.exact += 1
        if b"\r\nConnection: close" in head:
            self._close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_body_is_content_length_or_closed(tmp_path, case):
    cls, handler, tls, small, large = CASES[case]
    served = tmp_path / "www"
    served.mkdir()
    target = served / "changing.bin"
    target.write_bytes(b"y" * small)
    httpd, thread = _serve(cls, handler, served, tls, tmp_path)
    client = Client(httpd.server_address[:2], tls)
    rewriter = subprocess.Popen([sys.executable, "-c", REWRITER, str(target), str(small),
                                 str(large)], stdout=subprocess.PIPE)
    try:
        assert rewriter.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 120
        for n in range(FETCHES):
            client.fetch(n, b"/changing.bin")
            assert time.monotonic() < deadline, f"only {n} fetches in 120 s"
    finally:
        rewriter.kill()
        rewriter.wait(10)
        client._close()
        stop_serving(httpd, thread, 5)
    assert client.exact + client.short_then_closed == FETCHES
    # The file did change under the server: several sizes were announced.
    assert len(client.lengths) > 1, client.lengths
