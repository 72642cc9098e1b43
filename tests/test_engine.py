"""The connection engine under attack: each bound LoopHTTPServer claims (and the
ones ThreadingHTTPServer shares) is pushed by a hostile client while another
client checks that it is still served promptly. Everything on 127.0.0.1,
bounded in time."""
import errno
import os
import socket
import threading
import time

import pytest
from clients import PROMPT, fetch, read_until_end, worst_latency
from servers import (
    SERVERS,
    Hello,
    files_handler,
    serve_in_thread,
    start_server,
    stop_serving,
    threaded_server,
)

import fasthttp
from fasthttp import _core

TIMEOUT = 5.0


def small_receive_buffer():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@pytest.mark.parametrize("server_class", SERVERS, ids=["threading", "loop"])
def test_a_client_that_never_reads_costs_only_itself(server_class):
    """Thousands of pipelined requests whose answers are never read: the
    loop stops reading that connection once its output is backed up, and
    keeps serving everyone else (on 0.1.0 it waited io_timeout, 30 s, per
    stall)."""
    with threaded_server(server_class, Hello) as httpd:
        address = httpd.server_address
        hostile = small_receive_buffer()
        hostile.connect(address)
        try:
            request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
            hostile.setblocking(False)
            sent = 0
            try:
                for _ in range(3000):
                    sent += hostile.send(request)
            except BlockingIOError:
                pass            # its own buffers are full: that is the point
            assert sent > 10 * len(request)
            time.sleep(0.3)
            assert worst_latency(address, 20) < PROMPT
            queued = [c.wfile.buffered() for c in httpd._fh_engine.conns.values()]
            assert max(queued) <= httpd.output_high_water + 2 * len(Hello.body)
        finally:
            hostile.close()


@pytest.mark.parametrize("server_class", SERVERS, ids=["threading", "loop"])
def test_a_slow_reader_of_a_large_file_costs_only_itself(server_class, tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(8 << 20))
    (tmp_path / "small.txt").write_bytes(b"small")

    Files = files_handler(tmp_path)
    with threaded_server(server_class, Files) as httpd:
        address = httpd.server_address
        slow = small_receive_buffer()
        slow.connect(address)
        slow.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        stop = threading.Event()
        got = [0]

        def trickle():
            while not stop.is_set():
                try:
                    chunk = slow.recv(16384)
                except OSError:
                    return
                if not chunk:
                    return
                got[0] += len(chunk)
                time.sleep(0.1)

        reader = threading.Thread(target=trickle)
        reader.start()
        try:
            time.sleep(0.3)
            assert worst_latency(address, 20, "/small.txt") < PROMPT
            assert 0 < got[0] < 8 << 20     # still downloading, slowly
        finally:
            stop.set()
            slow.close()
            reader.join(TIMEOUT)


def test_threads_for_blocking_requests_are_bounded():
    """Requests the loop cannot finish inline (a chunked body still on its
    way) go to a pool of max_threads; the rest queue. On 0.1.0 each got a
    thread of its own: 1,500 such connections, 1,501 threads."""
    with threaded_server(fasthttp.LoopHTTPServer, Hello, max_threads=4) as httpd:
        address = httpd.server_address
        before = threading.active_count()
        stalled = []
        try:
            for _ in range(30):
                sock = socket.create_connection(address, timeout=TIMEOUT)
                sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                stalled.append(sock)
            time.sleep(0.3)
            assert threading.active_count() - before <= 4
            assert worst_latency(address, 5) < PROMPT       # the loop still serves
        finally:
            for sock in stalled:
                sock.close()


def test_no_thread_to_hand_the_loop_to_is_logged_and_the_server_goes_on(monkeypatch, caplog):
    """A thread that cannot start (RLIMIT_NPROC, a pids cgroup) when a
    handler blocks: logged once; the loop waits for that handler instead of
    moving on, and serves everyone once it returns."""
    class Slow(Hello):
        def do_GET(self):
            if self.path == "/slow":
                time.sleep(0.3)
            super().do_GET()

    with threaded_server(fasthttp.ThreadingHTTPServer, Slow) as httpd:
        address = httpd.server_address
        assert worst_latency(address, 3) < PROMPT      # the loop's thread is up
        real_start = threading.Thread.start

        def start(self):
            if self.name.startswith("fasthttp-engine"):
                raise RuntimeError("can't start new thread")
            real_start(self)
        monkeypatch.setattr(threading.Thread, "start", start)
        with socket.create_connection(address, timeout=TIMEOUT) as slow:
            slow.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            assert slow.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert worst_latency(address, 3) < PROMPT
    assert any("cannot start a thread" in r.getMessage() for r in caplog.records)


class _ExhaustedListener:
    """The listening socket, whose accept() fails with EMFILE until `until`."""

    def __init__(self, sock, until):
        self._sock = sock
        self.until = until
        self.refused = 0

    def accept(self):
        if time.monotonic() < self.until:
            self.refused += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return self._sock.accept()

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.mark.parametrize("server_class", SERVERS, ids=["threading", "loop"])
def test_accept_out_of_descriptors_pauses_instead_of_spinning(server_class):
    cls = type("Server", (server_class,), {})
    httpd = cls(("127.0.0.1", 0), Hello)
    listener = httpd.socket = _ExhaustedListener(httpd.socket, time.monotonic() + 1.2)
    thread = serve_in_thread(httpd)
    try:
        took, status, _ = fetch(httpd.server_address)   # waits out the "exhaustion"
        assert status == 200
        # 0.5 s pauses: a handful of tries in 1.2 s, not a busy loop.
        assert 1 <= listener.refused <= 5
    finally:
        stop_serving(httpd, thread, TIMEOUT)


def test_an_unfinished_head_is_bounded_and_not_rescanned(monkeypatch):
    """A head that never ends, sent in pieces: parsed at most once per
    complete-looking chunk (never rescanned on every recv), and refused with
    431 once it passes what a head may buffer."""
    calls = [0]
    real = _core.request_state

    def counting(rfile, limit):
        calls[0] += 1
        return real(rfile, limit)

    monkeypatch.setattr(_core, "request_state", counting)

    class Small(Hello):
        max_head_bytes = 8192

    with threaded_server(fasthttp.LoopHTTPServer, Small) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            line = b"X-Filler: " + b"a" * 500 + b"\r\n"
            answer = b""
            try:
                for _ in range(400):        # 200 KB in all, more than the bound
                    sock.sendall(line)
            except OSError:
                pass                        # the server answered and closed
            sock.settimeout(TIMEOUT)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert calls[0] <= 3


@pytest.mark.parametrize("server_class", SERVERS, ids=["threading", "loop"])
def test_a_streaming_handler_sends_each_flush_at_once(server_class):
    """Server-sent events: what a handler flushes leaves at once, not when it
    returns (the flush rules in loop.py's documentation)."""

    class Events(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(3):
                self.wfile.write(b"data: %d\n\n" % i)
                self.wfile.flush()
                time.sleep(0.3)

    with threaded_server(server_class, Events) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while b"data: 0" not in data:
                chunk = sock.recv(65536)
                assert chunk
                data += chunk
            assert time.monotonic() - started < 0.25     # the handler runs ~0.9 s
            sock.settimeout(TIMEOUT)
            while chunk:
                chunk = sock.recv(65536)
                data += chunk
        assert data.count(b"data: ") == 3


def test_pipelined_answers_in_order_with_backpressure():
    """Many pipelined requests, read slowly: every answer arrives, in order."""
    with threaded_server(fasthttp.LoopHTTPServer, Hello, output_high_water=32768) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            count = 200
            sock.sendall(b"".join(b"GET /%d HTTP/1.1\r\nHost: t\r\n\r\n" % i
                                  for i in range(count)))
            expected = count * (len(Hello.body))
            data = b""
            while data.count(b"HTTP/1.1 200 ") < count or len(data) < expected:
                chunk = sock.recv(8192)
                assert chunk
                data += chunk
        assert data.count(b"HTTP/1.1 200 OK") == count



def test_pipelined_requests_behind_a_handler_that_waited_are_served():
    """Handlers that wait (each one handed off the loop) on a connection with
    pipelined requests and output back-pressure: when the thread that ran them
    hands the connection back with its output sent, the requests still
    buffered are served (they stalled until the client gave up: no event
    comes for bytes already read)."""
    class Waiting(Hello):
        def do_GET(self):
            time.sleep(0.005)
            super().do_GET()

    with threaded_server(fasthttp.LoopHTTPServer, Waiting, output_high_water=32768,
                         handoff_after=0.001) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            count = 30
            sock.sendall(b"".join(b"GET /%d HTTP/1.1\r\nHost: t\r\n\r\n" % i
                                  for i in range(count)))
            data = b""
            while data.count(b"HTTP/1.1 200 ") < count or len(data) < count * len(Hello.body):
                chunk = sock.recv(65536)
                assert chunk
                data += chunk

class Identity(Hello):
    """Answers with the id of its handler instance (one per connection)."""

    def do_GET(self):
        body = b"%d" % id(self)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def keepalive_get(sock):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(4096)
    return body


def test_idle_keepalive_connections_do_not_take_the_threads():
    """ThreadingHTTPServer: 300 idle keep-alive clients and 8 threads; a new
    client is served at once (on 0.1.0 every idle connection held a thread,
    and a new client waited out head_timeout, 60 s)."""
    with threaded_server(fasthttp.ThreadingHTTPServer, Hello, max_connections=8,
                 keepalive_linger=0.05) as httpd:
        address = httpd.server_address
        idle = []
        before = threading.active_count()
        try:
            for _ in range(300):
                sock = socket.create_connection(address, timeout=TIMEOUT)
                keepalive_get(sock)
                idle.append(sock)
            time.sleep(0.3)
            assert threading.active_count() - before <= 8 + 1   # the pool + the idle watcher
            assert worst_latency(address, 10) < PROMPT
            # The idle ones are still good: their next request is served.
            for sock in idle[:20]:
                assert keepalive_get(sock)
        finally:
            for sock in idle:
                sock.close()


def test_a_parked_connection_keeps_its_handler():
    with threaded_server(fasthttp.ThreadingHTTPServer, Identity, keepalive_linger=0.01) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            ids = set()
            for _ in range(5):
                ids.add(keepalive_get(sock))
                time.sleep(0.1)         # parked between requests
        assert len(ids) == 1


def test_an_idle_parked_connection_is_closed_after_head_timeout():
    class Short(Hello):
        head_timeout = 0.5

    with threaded_server(fasthttp.ThreadingHTTPServer, Short, keepalive_linger=0.01) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            keepalive_get(sock)
            started = time.monotonic()
            assert sock.recv(1) == b""          # the server closed it
            assert time.monotonic() - started < 2.5


def test_loop_shutdown_finishes_responses_in_flight_and_drops_idle_ones(tmp_path):
    """shutdown(): idle keep-alive connections end at once; a response still
    queued (a client reading slowly) is sent to its end first."""
    data = os.urandom(2 << 20)
    (tmp_path / "big.bin").write_bytes(data)

    Files = files_handler(tmp_path)
    httpd, thread = start_server(fasthttp.LoopHTTPServer, Files)
    idle = socket.create_connection(httpd.server_address, timeout=TIMEOUT)
    slow = small_receive_buffer()
    slow.connect(httpd.server_address)
    try:
        idle.sendall(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 404")
        slow.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)
        stopper = threading.Thread(target=httpd.shutdown)
        stopper.start()
        received = b""
        while True:                 # read it all, a little slowly
            chunk = slow.recv(65536)
            if not chunk:
                break
            received += chunk
            time.sleep(0.002)
        stopper.join(TIMEOUT)
        assert received.endswith(data)
        idle.settimeout(TIMEOUT)
        assert idle.recv(1) == b""          # closed by the shutdown
    finally:
        idle.close()
        slow.close()
        httpd.server_close()
        thread.join(TIMEOUT)


@pytest.mark.parametrize("server_class", SERVERS)
def test_shutdown_serves_a_connection_accepted_just_before(server_class):
    """A connection accepted before shutdown() whose request comes a moment
    later is answered, as http.server answers what it accepted (it was
    closed as idle: one of a steady client's requests failed in every
    graceful reload); an idle keep-alive connection still ends at once."""
    httpd = server_class(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    fresh = socket.create_connection(httpd.server_address, timeout=TIMEOUT)
    idle = socket.create_connection(httpd.server_address, timeout=TIMEOUT)
    stopper = threading.Thread(target=httpd.shutdown)
    try:
        idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_until_end(idle, Hello.body).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.2)                 # (both accepted)
        stopper.start()
        time.sleep(0.3)
        assert idle.recv(1) == b""      # closed by the shutdown
        fresh.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert read_until_end(fresh, Hello.body).startswith(b"HTTP/1.1 200 ")
    finally:
        stopper.join(TIMEOUT)
        fresh.close()
        idle.close()
        httpd.server_close()
        thread.join(TIMEOUT)
