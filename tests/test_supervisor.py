"""python -m fasthttp --workers N and its signals (fasthttp/supervisor.py).

SIGINT/SIGTERM, to the supervisor alone or to the whole process group (what
Ctrl-C in a terminal does), stop it gracefully: downloads and uploads in
flight finish. A second one stops it at once. The server runs in a session
of its own (start_new_session), so that its group is the test's to signal.
"""
import hashlib
import os
import signal
import socket
import threading
import time

import cli_support
import pytest
from cli_support import BACKEND_ARGV, TIMEOUT

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()")

site, run_cli = cli_support.site, cli_support.run_cli     # fixtures

BIG = 16 << 20          # more than the kernel buffers on both sides hold
RATE = 8 << 20          # bytes a second the slow clients move: about 2 s each


def _connect(port):
    sock = socket.socket()
    # A small window: the server cannot hand the whole file to the kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    return sock


class Transfer(threading.Thread):
    """A download or an upload over a raw socket, at `rate` bytes a second
    (0: start, then stall). `moving` is set once bytes flow."""

    def __init__(self, port, kind, rate=RATE):
        super().__init__(daemon=True)
        self.port, self.kind, self.rate = port, kind, rate
        self.moving = threading.Event()
        self.result = None      # (status line, body) or the exception

    def run(self):
        try:
            with _connect(self.port) as sock:
                self.result = self._download(sock) if self.kind == "download" \
                    else self._upload(sock)
        except Exception as exc:
            self.result = exc
        finally:
            self.moving.set()

    def _paced(self, done, started):
        if not self.rate:
            time.sleep(TIMEOUT)     # stalled
        ahead = done / self.rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)

    def _download(self, sock):
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, started = b"", time.monotonic()
        while True:
            chunk = sock.recv(16 << 10)
            if not chunk:
                break
            data += chunk
            self.moving.set()
            self._paced(len(data), started)
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0], body

    def _upload(self, sock):
        body = bytes(range(256)) * (BIG // 4 // 256)
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        for offset in range(0, len(body), 64 << 10):
            sock.sendall(body[offset:offset + (64 << 10)])
            self.moving.set()
            self._paced(offset, started)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, digest = answer.partition(b"\r\n\r\n")
        assert digest == hashlib.sha256(body).hexdigest().encode()
        return head.split(b"\r\n")[0], digest


def _serve(run_cli, site, graceful):
    (site / "big.bin").write_bytes(os.urandom(1 << 20) * (BIG >> 20))
    proc, port = run_cli("--workers", "2", "-p", "HTTP/1.1", "--access-log", "off",
                         "--graceful-timeout", str(graceful), argv0=BACKEND_ARGV,
                         start_new_session=True)
    return proc, port


def _start_transfers(port, rate=RATE):
    transfers = [Transfer(port, "download", rate), Transfer(port, "upload", rate)]
    for t in transfers:
        t.start()
    for t in transfers:
        assert t.moving.wait(TIMEOUT)
    time.sleep(0.3)     # well under way, far from done
    return transfers


@pytest.mark.parametrize("target, sig", [
    ("group", signal.SIGINT), ("group", signal.SIGTERM),
    ("supervisor", signal.SIGINT), ("supervisor", signal.SIGTERM)])
def test_stop_signal_lets_downloads_and_uploads_finish(run_cli, site, target, sig):
    """15.5: Ctrl-C is SIGINT to the whole group: each worker gets it, and
    the supervisor's SIGTERM too; neither may cut a transfer short."""
    proc, port = _serve(run_cli, site, graceful=20)
    download, upload = _start_transfers(port)
    started = time.monotonic()
    if target == "group":
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    for t in (download, upload):
        t.join(20)
    expected = (site / "big.bin").read_bytes()
    assert not isinstance(download.result, Exception), download.result
    status, body = download.result
    assert status == b"HTTP/1.1 200 OK"
    assert len(body) == len(expected) and body == expected
    assert not isinstance(upload.result, Exception), upload.result
    assert upload.result[0] == b"HTTP/1.1 200 OK"
    assert proc.wait(TIMEOUT) == 0
    assert time.monotonic() - started < 20      # the transfers' time (2 s), in the timeout
    if sig == signal.SIGINT:
        assert b"Keyboard interrupt received, exiting." in proc.stdout.read()
    assert b"Traceback" not in proc.stderr.read()


def _group_gone(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("target", ["group", "supervisor"])
def test_second_ctrl_c_stops_at_once(run_cli, site, target):
    proc, port = _serve(run_cli, site, graceful=30)
    transfers = _start_transfers(port, rate=0)      # stalled: they would hold it 30 s
    send = (lambda sig: os.killpg(proc.pid, sig)) if target == "group" \
        else (lambda sig: os.kill(proc.pid, sig))
    send(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None                  # graceful: waiting for the transfers
    started = time.monotonic()
    send(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    assert time.monotonic() - started < 5       # not the 30 s the transfers would hold it
    cli_support.wait_until(lambda: _group_gone(proc.pid), 2, "the workers' end")
    assert b"Keyboard interrupt received, exiting." in proc.stdout.read()
    for t in transfers:
        t.join(TIMEOUT)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_stop_signal_right_after_the_banner_is_graceful(run_cli, workers):
    """The banner says it serves: from then on SIGTERM is the graceful stop,
    never the default action (exit status -15)."""
    for _ in range(5):
        proc, _ = run_cli("--workers", workers)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
