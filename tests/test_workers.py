"""fasthttp.serve(): pre-forked workers on one port, supervision, graceful stop.

Servers run in subprocesses (a small script calling fasthttp.serve); the
handler answers with its PID. Every wait is bounded; every process started
is ended by PID at teardown.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_support import readline, wait_until
from servers import end_process

import fasthttp
from fasthttp import workers as fh_workers

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

SCRIPT = textwrap.dedent("""
    import os, sys, time
    import fasthttp

    class PidHandler(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path.startswith("/slow"):
                time.sleep(1.0)
            body = str(os.getpid()).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Crashing(fasthttp.ThreadingHTTPServer):
        def server_activate(self):
            raise RuntimeError("boom at start")

    server_class = {"threading": fasthttp.ThreadingHTTPServer, "sync": fasthttp.HTTPServer,
                    "crash": Crashing}[sys.argv[2]]

    def ready(httpd):
        print("PORT", httpd.server_address[1], flush=True)

    stopped = fasthttp.serve(PidHandler, ("127.0.0.1", 0), workers=int(sys.argv[1]),
                             server_class=server_class, ready=ready,
                             graceful_timeout=float(sys.argv[3]))
    print("STOPPED", stopped, flush=True)
""")


class Server:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port
        self.seen_pids = set()

    def get(self, path="/", timeout=TIMEOUT):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status == 200:
            self.seen_pids.add(int(body))
        return resp.status, body


@pytest.fixture
def start(tmp_path):
    script = tmp_path / "serve_pid.py"
    script.write_text(SCRIPT)
    servers = []

    def start(workers=2, kind="threading", graceful=5.0, expect_port=True):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, str(script), str(workers), kind, str(graceful)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        server = Server(proc, None)
        servers.append(server)
        if expect_port:
            line = readline(proc.stdout, TIMEOUT)
            assert line.startswith(b"PORT "), (line, proc.stderr.read() if proc.poll() else b"")
            server.port = int(line.split()[1])
        return server

    yield start
    for server in servers:  # end everything by PID: the supervisor, then any worker we saw
        proc = server.proc
        end_process(proc, TIMEOUT)
        for pid in server.seen_pids:
            if pid != proc.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def _pids_over_rounds(server, rounds=8, per_round=25, want=2):
    """New connections, several concurrent rounds, until `want` PIDs answered."""
    pids = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(rounds):
            for status, body in pool.map(lambda _: server.get(), range(per_round)):
                assert status == 200
                pids.add(int(body))
            if len(pids) >= want:
                break
    return pids


@pytest.mark.parametrize("kind", ["threading", "sync"])
def test_all_workers_receive_traffic(start, kind):
    server = start(workers=2, kind=kind)
    pids = _pids_over_rounds(server)
    assert len(pids) == 2
    assert server.proc.pid not in pids  # the supervisor serves nothing itself


def test_killed_worker_is_replaced(start):
    server = start(workers=2)
    pids = _pids_over_rounds(server)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    # Nothing was in flight on the victim: no request may fail, then or later.
    deadline = time.monotonic() + TIMEOUT
    new = set()
    while time.monotonic() < deadline:
        status, body = server.get()
        assert status == 200
        pid = int(body)
        assert pid != victim
        if pid not in pids:
            new.add(pid)
            break
        time.sleep(0.02)
    assert new, "no replacement worker answered within %s s" % TIMEOUT
    assert server.proc.poll() is None


def _slow_request_then_signal(server, sig, target_pid=None):
    """Start GET /slow (1 s), send `sig` while it is in flight, return its result."""
    result = {}

    def slow():
        try:
            result["response"] = server.get("/slow")
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)  # the request is in the handler's sleep now
    os.kill(target_pid or server.proc.pid, sig)
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert "error" not in result, result.get("error")
    return result["response"]


@pytest.mark.parametrize("workers,kind", [(2, "threading"), (1, "threading"), (1, "sync")])
def test_sigterm_lets_in_flight_requests_finish(start, workers, kind):
    server = start(workers=workers, kind=kind)
    _pids_over_rounds(server, want=workers)
    status, _ = _slow_request_then_signal(server, signal.SIGTERM)
    assert status == 200
    assert server.proc.wait(TIMEOUT) == 0
    assert b"STOPPED %d" % signal.SIGTERM in server.proc.stdout.read()
    with pytest.raises(OSError):  # nobody listens any more
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT).close()


def test_graceful_stop_does_not_wait_for_idle_keepalive(start):
    server = start(workers=1)
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        idle.request("GET", "/")
        assert idle.getresponse().read()  # the connection stays open, idle
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(TIMEOUT) == 0
        assert time.monotonic() - started < 3  # not the 5 s graceful timeout
    finally:
        idle.close()


def test_graceful_timeout_bounds_the_stop(start):
    server = start(workers=2, graceful=0.3)
    _pids_over_rounds(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/slow")
        time.sleep(0.2)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(TIMEOUT) == 0
        assert time.monotonic() - started < 3
    finally:
        conn.close()


def _exited(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sighup_reloads_the_workers_gracefully(start):
    """18.14: new workers start, the old ones finish what they serve and
    exit; the supervisor lives on (SIGHUP's default action would end it)."""
    server = start(workers=2)
    old = _pids_over_rounds(server)
    # Meanwhile, new connections one after the other: each is answered, by
    # an old worker or a new one; none is accepted and dropped.
    stop, answers = threading.Event(), []

    def steady_client():
        while not stop.is_set():
            try:
                answers.append(server.get()[0])
            except Exception as exc:
                answers.append(exc)
    client = threading.Thread(target=steady_client)
    client.start()
    try:
        status, body = _slow_request_then_signal(server, signal.SIGHUP)
        assert status == 200 and int(body) in old      # served to its end by an old worker
        wait_until(lambda: all(_exited(pid) for pid in old), what="the old workers' exit")
    finally:
        stop.set()
        client.join(TIMEOUT)
    assert answers and set(answers) == {200}, [a for a in answers if a != 200][:3]
    new = _pids_over_rounds(server)
    assert len(new) == 2 and not new & old
    assert server.proc.poll() is None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(TIMEOUT) == 0
    assert b"STOPPED %d" % signal.SIGTERM in server.proc.stdout.read()


def test_crash_loop_exits_nonzero(start):
    server = start(workers=2, kind="crash")
    assert server.proc.wait(TIMEOUT) != 0
    err = server.proc.stderr.read()
    assert b"boom at start" in err
    assert b"WorkersCrashing" in err


def test_serve_in_a_thread_stops_with_stop(tmp_path):
    """Library use without signals: serve(workers=1) off the main thread."""
    class Hello(fasthttp.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

        def log_message(self, *args):
            pass

    box, result = [], []
    t = threading.Thread(target=lambda: result.append(fasthttp.serve(
        Hello, ("127.0.0.1", 0), ready=box.append, poll_interval=0.05)), daemon=True)
    t.start()
    deadline = time.monotonic() + TIMEOUT
    while not box and time.monotonic() < deadline:
        time.sleep(0.01)
    httpd = box[0]
    assert isinstance(httpd, fasthttp.ThreadingHTTPServer)
    assert isinstance(httpd, fh_workers.GracefulServerMixIn)
    conn = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1], timeout=TIMEOUT)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"hi"
    conn.close()
    httpd.stop()
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert result == [None]


def test_handler_kwargs_reach_the_handler(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"file")

    class Quiet(fasthttp.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    box = []
    t = threading.Thread(target=fasthttp.serve, args=(Quiet, ("127.0.0.1", 0)),
                         kwargs={"ready": box.append, "poll_interval": 0.05,
                                 "handler_kwargs": {"directory": str(tmp_path)}},
                         daemon=True)
    t.start()
    deadline = time.monotonic() + TIMEOUT
    while not box and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", box[0].server_address[1],
                                          timeout=TIMEOUT)
        conn.request("GET", "/f.txt")
        assert conn.getresponse().read() == b"file"
        conn.close()
    finally:
        box[0].stop()
        t.join(TIMEOUT)


def test_bad_arguments():
    with pytest.raises(ValueError):
        fasthttp.serve(fasthttp.BaseHTTPRequestHandler, ("127.0.0.1", 0), workers=0)
