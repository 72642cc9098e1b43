"""LoopHTTPServer: the same answers as ThreadingHTTPServer, from one loop."""
import re
import socket
import threading
import time

import pytest
from clients import raw_exchange
from servers import start_server, stop_serving

import fasthttp

TIMEOUT = 5.0


class Echo(fasthttp.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    threads = set()

    def log_message(self, format, *args):
        pass

    def _answer(self):
        type(self).threads.add(threading.current_thread().name)
        body = self.read_body()
        reply = b"%s %s %d:%s" % (self.command.encode(), self.path.encode(), len(body), body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = _answer


def converse_masked(address, data, *, idle=0.4):
    """Send data; what came back until close or idle, Date values masked."""
    received, _ = raw_exchange(address, data, idle=idle)
    return re.sub(rb"Date: [^\r]*", b"Date: -", received)


CASES = [
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    b"POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz",
    b"GET /close HTTP/1.1\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n",
    b"GET /old HTTP/1.0\r\n\r\n",
    b"POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    b"GET /after HTTP/1.1\r\n\r\n",
    b"PUT /expect HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"POST /big HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + b"z" * 70000,
    b"BREW /pot HTTP/1.1\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /bad HTTP/1.1\r\nHost : h\r\n\r\n",
    b"\r\n",
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_answers_as_threading(data):
    answers = []
    for server_class in (fasthttp.ThreadingHTTPServer, fasthttp.LoopHTTPServer):
        httpd, thread = start_server(server_class, Echo)
        try:
            answers.append(converse_masked(httpd.server_address[:2], data))
        finally:
            assert stop_serving(httpd, thread)
    assert answers[0] == answers[1]
    assert answers[0] or data == b"\r\n"


class Sleepy(Echo):
    def do_GET(self):
        if self.path == "/sleep":
            time.sleep(2.0)
        self._answer()


@pytest.mark.parametrize("server_class", [fasthttp.ThreadingHTTPServer, fasthttp.LoopHTTPServer])
def test_requests_run_where_they_complete_and_a_blocked_handler_moves_the_loop(server_class):
    """Quick requests run on the thread that leads the loop (no hand-off per
    request: one thread, or two where a loaded machine made one of them
    slower than handoff_after); a handler that sleeps keeps its thread while
    another thread takes the loop and answers everyone else at once."""
    Sleepy.threads = set()
    httpd, thread = start_server(server_class, Sleepy)
    try:
        address = httpd.server_address[:2]
        for i in range(5):
            assert converse_masked(address, b"GET /%d HTTP/1.1\r\nConnection: close\r\n\r\n" % i,
                                   idle=TIMEOUT).startswith(b"HTTP/1.1 200 ")
        assert len(Sleepy.threads) <= 2 and "serve_forever" not in Sleepy.threads
        Sleepy.threads = set()
        sleeper = threading.Thread(target=converse_masked,
                                   args=(address, b"GET /sleep HTTP/1.1\r\n"
                                                  b"Connection: close\r\n\r\n"),
                                   kwargs={"idle": TIMEOUT})
        sleeper.start()
        time.sleep(0.1)             # the sleeping handler runs
        began = time.monotonic()
        answer = converse_masked(address, b"GET /quick HTTP/1.1\r\nConnection: close\r\n\r\n",
                                 idle=TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 200 ") and time.monotonic() - began < 1.0
        sleeper.join(TIMEOUT)
        assert len(Sleepy.threads) >= 2     # the sleeper's, and the loop's
    finally:
        assert stop_serving(httpd, thread)


def test_many_concurrent_keepalive_clients():
    httpd, thread = start_server(fasthttp.LoopHTTPServer, Echo)
    errors = []

    def client(n):
        try:
            with socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT) as sock:
                f = sock.makefile("rb")
                for i in range(20):
                    sock.sendall(b"GET /%d/%d HTTP/1.1\r\n\r\n" % (n, i))
                    status = f.readline()
                    assert status.startswith(b"HTTP/1.1 200"), status
                    length = 0
                    while True:
                        line = f.readline()
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                        if line == b"\r\n":
                            break
                    assert f.read(length) == b"GET /%d/%d 0:" % (n, i)
        except Exception as exc:        # reported below
            errors.append(exc)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    try:
        for c in clients:
            c.start()
        for c in clients:
            c.join(TIMEOUT * 2)
        assert not errors
    finally:
        assert stop_serving(httpd, thread)


def test_slow_head_is_dropped():
    class Quick(Echo):
        head_timeout = 1.0
    httpd, thread = start_server(fasthttp.LoopHTTPServer, Quick)
    try:
        with socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nX: ")
            started = time.monotonic()
            assert sock.recv(100) == b""          # closed by the server
            assert time.monotonic() - started < 3.5
    finally:
        assert stop_serving(httpd, thread)


def test_custom_setup_is_served_threaded():
    class OwnFiles(Echo):
        def setup(self):
            self.connection = self.request
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb", 0)
    Echo.threads = set()
    httpd, thread = start_server(fasthttp.LoopHTTPServer, OwnFiles)
    try:
        out = converse_masked(httpd.server_address[:2], b"GET /own HTTP/1.1\r\n\r\n")
        assert out.endswith(b"GET /own 0:")
        assert "serve_forever" not in Echo.threads
    finally:
        assert stop_serving(httpd, thread)


def test_refused_body_ends_the_connection_quietly():
    class Small(Echo):
        max_body_bytes = 4
    httpd, thread = start_server(fasthttp.LoopHTTPServer, Small)
    try:
        out = converse_masked(httpd.server_address[:2],
                              b"POST /big HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
                              b"GET /never HTTP/1.1\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 413 ")
        assert b"GET /never" not in out
    finally:
        assert stop_serving(httpd, thread)
