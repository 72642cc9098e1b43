"""The harness of the tests that run `python -m fasthttp` as a subprocess.

Fixtures (import them into a test module): `site`, a served directory with
hello.txt; `run_cli`, which starts the CLI (or BACKEND, its main() with a
test handler) and ends it by PID at teardown. Every wait is bounded.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from clients import readline_within
from servers import end_process

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10
BODY = b"hello, world\n"

#: python -m fasthttp's main() with a handler that also answers GET /pid (its
#: process), GET /slow?SECONDS (after a sleep), GET /boom (raises), and PUT
#: (the SHA-256 of the body it read).
BACKEND = """
import hashlib, os, sys, time
import fasthttp
from fasthttp.__main__ import main

class Handler(fasthttp.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/pid":
            return self._answer(str(os.getpid()).encode())
        if self.path.startswith("/slow"):
            time.sleep(float(self.path.partition("?")[2] or 1))
            return self._answer(b"slow")
        if self.path == "/boom":
            raise RuntimeError("boom in a handler")
        return super().do_GET()

    def do_PUT(self):
        self._answer(hashlib.sha256(self.read_body()).hexdigest().encode())

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

sys.exit(main(sys.argv[1:], handler_class=Handler))
"""
BACKEND_ARGV = [sys.executable, "-c", BACKEND]


def cli_env(**extra):
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)


def readline(stream, timeout=TIMEOUT):
    """stream.readline(), bounded (a server prints its banner once it listens)."""
    line = readline_within(stream, timeout)
    assert line is not None, "no line within %s s" % timeout
    return line


@pytest.fixture
def site(tmp_path):
    (tmp_path / "hello.txt").write_bytes(BODY)
    return tmp_path


@pytest.fixture
def run_cli(site):
    """Start `python -m fasthttp ... -p 0`; the port is read from its banner.
    With start_new_session=True its process group is the test's own: what
    is left of it at teardown is killed."""
    procs = []

    def run(*args, wait_port=True, listen=("0", "-b", "127.0.0.1"), argv0=None, **popen):
        env = cli_env(**popen.pop("env", {}))
        command = argv0 or [sys.executable, "-m", "fasthttp"]
        proc = subprocess.Popen([*command, *listen, "-d", str(site), *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
        proc.own_group = bool(popen.get("start_new_session"))
        procs.append(proc)
        if not wait_port:
            return proc, None
        line = readline(proc.stdout)
        assert line.startswith(b"Serving HTTP"), line + proc.stderr.read1()
        proc.banner = line
        proc.details = readline(proc.stdout)    # implementation; server; pids
        if b" port " not in line:
            return proc, None
        return proc, int(line.split(b" port ")[1].split()[0])

    yield run
    for proc in procs:  # by PID: SIGTERM (graceful), then SIGKILL
        end_process(proc, TIMEOUT)
        if proc.own_group:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.stdout.close()
        proc.stderr.close()


def get(port, path="/hello.txt", tls=False, headers=None):
    if tls:
        from certs import client_context
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                           context=client_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers={"User-Agent": "cli-test", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def unix_get(path, target="/hello.txt"):
    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(path)

    conn = UnixConnection("localhost", timeout=TIMEOUT)
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def stop(proc, sig=signal.SIGTERM):
    """Signal the server, wait for it: (exit status, stdout, stderr)."""
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def cli(*args, timeout=TIMEOUT, **popen):
    """Run the CLI to its end (an option that exits, a reason not to start)."""
    return subprocess.run([sys.executable, "-m", "fasthttp", *args], env=cli_env(),
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          **popen)


def fails_with(line, *args, **kw):
    """The CLI exits 1 with exactly this one line on stderr, nothing on stdout."""
    out = cli(*args, **kw)
    assert (out.returncode, out.stderr.decode()) == (1, line + "\n")
    assert out.stdout == b""


class LineReader(threading.Thread):
    """Reads a server's stream line by line as it comes (a pipe nobody reads
    fills up, and the server then blocks writing its log)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []
        self.start()

    def run(self):
        try:
            for line in iter(self.stream.readline, b""):
                self.lines.append(line.rstrip(b"\n"))
        except (OSError, ValueError):   # closed under it at teardown
            pass

    def wait_for(self, predicate, what):
        """The first line that satisfies `predicate`, waited for."""
        found = []
        wait_until(lambda: found.extend(filter(predicate, self.lines)) or found, what=what)
        return found[0]


def wait_until(predicate, timeout=TIMEOUT, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "%s did not hold within %s s" % (what, timeout)
        time.sleep(0.02)
