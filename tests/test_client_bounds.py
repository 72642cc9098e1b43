"""No thread, descriptor or byte held hostage by a client.

Each test pushes one bound of the connection engine with hostile clients
while a well-behaved client checks that it is still served promptly; threads,
descriptors and queued bytes are counted against their bounds, not printed.
Both engine servers; `make test` runs the file on the C and pure paths.
Everything on 127.0.0.1, bounded in time and count.
"""
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from clients import PROMPT, TIMEOUT, fetch, read_until_end, worst_latency
from servers import SERVERS, Hello, files_handler, serve_in_thread, stop_serving, threaded_server

import fasthttp

IDS = ["threading", "loop"]


@pytest.fixture(autouse=True)
def _descriptors():
    """Room for a thousand hostile sockets and the server's ends of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def connect_many(address, count, first=b""):
    socks = []
    for _ in range(count):
        sock = socket.create_connection(address, timeout=TIMEOUT)
        if first:
            sock.sendall(first)
        socks.append(sock)
    return socks


def close_all(socks):
    for sock in socks:
        sock.close()


class Sleeper(Hello):
    """GET /sleep?s sleeps s seconds (a database call, say); / answers at once."""
    running = 0
    most = 0
    lock = threading.Lock()

    def do_GET(self):
        if self.path.startswith("/sleep"):
            cls = type(self)
            with cls.lock:
                cls.running += 1
                cls.most = max(cls.most, cls.running)
            try:
                time.sleep(float(self.path.partition("?")[2] or "1"))
            finally:
                with cls.lock:
                    cls.running -= 1
        super().do_GET()


# -- threads -----------------------------------------------------------------------

@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
@pytest.mark.parametrize("first", [b"", b"G", b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nx",
                                   b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx"],
                         ids=["silent", "one-byte", "slow-body", "slow-chunks"])
def test_clients_that_stall_hold_no_thread(server_class, first):
    """1,100 connections that send nothing, one byte of a head, or a head
    and the start of its body, then stall: no thread each (they were 1,024
    threads until head_timeout or forever), and a new client, its upload
    included, is answered at once."""
    with threaded_server(server_class, Hello) as httpd:
        address = httpd.server_address
        assert worst_latency(address, 2) < PROMPT
        threads = threading.active_count()
        hostile = connect_many(address, 1100, first)
        try:
            time.sleep(1.0)            # (the burst accepted and read)
            assert worst_latency(address, 5) < PROMPT
            with socket.create_connection(address, timeout=TIMEOUT) as sock:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                             b"Connection: close\r\n\r\nhello")
                assert sock.recv(65536).endswith(b"\r\n\r\nhello")
            assert threading.active_count() <= threads + 2
        finally:
            close_all(hostile)


@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_a_sleeping_handler_delays_others_by_the_watchdog_bound(server_class):
    """One handler sleeps 3 s: requests on other connections wait at most
    about handoff_after (4 ms) once, not the seconds. (The figure against
    the goal is bench/'s; here, with a margin for a loaded machine.)"""
    with threaded_server(server_class, Sleeper) as httpd:
        address = httpd.server_address
        sleeper = threading.Thread(target=fetch, args=(address, "/sleep?3"))
        sleeper.start()
        try:
            time.sleep(0.05)
            assert worst_latency(address, 20) < PROMPT
        finally:
            sleeper.join(TIMEOUT)


def keepalive_get(sock, path):
    """One GET on an open keep-alive connection (Sleeper's 16 KiB body)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    data = read_until_end(sock, Hello.body)
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(Hello.body)


@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_a_connection_whose_handler_waited_hands_the_loop_on_before_the_next(server_class):
    """A watchdog bound of 4 s: the first slow request on a connection
    stalls others until the watchdog takes the loop from it; the next one on
    that connection, shorter than the bound, stalls nobody (the lead goes on
    before it starts), and a quick one after it makes it ordinary again."""
    with threaded_server(server_class, Sleeper, handoff_after=4.0) as httpd:
        address = httpd.server_address
        with socket.create_connection(address, timeout=2 * TIMEOUT) as slow:
            first = threading.Thread(target=keepalive_get, args=(slow, "/sleep?4.5"))
            first.start()
            try:
                time.sleep(0.2)
                took, _, _ = fetch(address, timeout=2 * TIMEOUT)
                assert took > PROMPT            # the watchdog's bound, once
            finally:
                first.join(2 * TIMEOUT)
            second = threading.Thread(target=keepalive_get, args=(slow, "/sleep?3.8"))
            second.start()
            try:
                time.sleep(0.2)
                assert worst_latency(address, 5) < PROMPT
            finally:
                second.join(2 * TIMEOUT)
            keepalive_get(slow, "/")        # quick: the rule is off again
            conn = next(iter(httpd._fh_engine.conns.values()))
            assert conn.waited is False


def test_handlers_at_once_are_bounded_and_the_rest_wait_in_order():
    """max_connections handlers run at once; further requests wait their
    turn (none refused), and the threads shrink back after the burst."""
    class Counted(Sleeper):         # (counts of its own: none left from another test)
        running = 0
        most = 0
        lock = threading.Lock()

    with threaded_server(fasthttp.ThreadingHTTPServer, Counted, max_connections=4) as httpd:
        address = httpd.server_address
        assert worst_latency(address, 1) < PROMPT
        engine = httpd._fh_engine
        engine.crew.spare_idle = 0.2
        threads = threading.active_count()
        results = []
        clients = [threading.Thread(target=lambda: results.append(fetch(address, "/sleep?0.2")))
                   for _ in range(12)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(TIMEOUT)
        assert len(results) == 12 and {status for _, status, _ in results} == {200}
        assert Counted.most <= 4
        time.sleep(0.6)
        assert worst_latency(address, 2) < PROMPT
        assert engine.crew.threads <= 1 + engine.crew.max_spares
        assert threading.active_count() <= threads + engine.crew.max_spares


def test_waits_fasthttp_can_see_hand_the_loop_on_at_once():
    """With the watchdog out of the way (handoff_after 10 s), a handler
    reading a body that is still on its way (larger than max_buffered_body)
    hands the loop on before it waits: others are served at once."""
    with threaded_server(fasthttp.ThreadingHTTPServer, Hello, handoff_after=10.0,
                 max_buffered_body=1024) as httpd:
        address = httpd.server_address
        with socket.create_connection(address, timeout=TIMEOUT) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nabc")
            time.sleep(0.1)
            assert worst_latency(address, 5) < PROMPT
            slow.sendall(b"x" * (100000 - 3))
            data = b""
            while len(data) < 100000:
                data += slow.recv(1 << 20)
            assert data.endswith(b"x" * 1000)


# -- output --------------------------------------------------------------------------

@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_downloads_never_read_hold_no_thread_and_time_out(server_class, tmp_path):
    """1,100 clients GET an 8 MiB file and never read (it locked out
    `python -m fasthttp`: a blocking sendfile per thread): a new client is
    served at once; after send_timeout the stalled ones are closed and
    every descriptor of theirs is back."""
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20) * 8)
    (tmp_path / "index.html").write_bytes(b"hi")
    handler = type("Files", (files_handler(tmp_path),), {"send_timeout": 1.0})
    with threaded_server(server_class, handler) as httpd:
        address = httpd.server_address
        assert worst_latency(address, 2) < PROMPT
        fds = open_fds()
        threads = threading.active_count()
        hostile = []
        for _ in range(1100):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(address)
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            hostile.append(sock)
        try:
            time.sleep(1.0)            # (the burst accepted and read)
            assert worst_latency(address, 5) < PROMPT
            # (Spare threads, at most max_spares, may have started meanwhile.)
            assert threading.active_count() <= threads + httpd._fh_engine.crew.max_spares
            deadline = time.monotonic() + 6
            while httpd._fh_engine.conns and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not httpd._fh_engine.conns          # closed by send_timeout
        finally:
            close_all(hostile)
        time.sleep(0.2)
        assert open_fds() <= fds + 1100 + 10            # (ours: the client ends, closed now)
    assert open_fds() <= fds + 10


@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_cancelled_downloads_leak_no_descriptor(server_class, tmp_path):
    """A client that closes with a large file half sent (RST): its queued
    file is closed too (249 of 300 leaked, after which large files could no
    longer be served)."""
    (tmp_path / "big.bin").write_bytes(b"y" * (1 << 20))
    with threaded_server(server_class, files_handler(tmp_path)) as httpd:
        address = httpd.server_address
        fetch(address, "/big.bin")
        fds = open_fds()
        for _ in range(300):
            with socket.create_connection(address, timeout=TIMEOUT) as sock:
                sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
                sock.recv(1000)
        deadline = time.monotonic() + 5
        while open_fds() > fds + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert open_fds() <= fds + 2
        took, status, body = fetch(address, "/big.bin")
        assert status == 200 and len(body) == 1 << 20


@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_a_huge_listing_not_read_stalls_nobody(server_class, tmp_path):
    """A directory listing of ~10 MB requested and never read: its handler
    waits for the socket past max_output_buffer on a thread of its own; the
    loop goes on (others waited 29 s)."""
    listing = tmp_path / "many"
    listing.mkdir()
    for i in range(40000):
        (listing / ("f%0200d" % i)).touch()
    (tmp_path / "index.html").write_bytes(b"hi")
    with threaded_server(server_class, files_handler(tmp_path)) as httpd:
        address = httpd.server_address
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address)
        try:
            sock.sendall(b"GET /many/ HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(1.0)             # the listing is made and written
            assert worst_latency(address, 5) < PROMPT
        finally:
            sock.close()


def test_queued_output_has_a_total_bound(tmp_path):
    """Connections that pipeline GETs of a 60 KiB file and never read:
    output queued in memory by all of them stays under twice
    max_output_memory (it grew to 281 KiB per connection: +1,371 MiB for
    5,000): the most stalled are closed; a new client is still served."""
    (tmp_path / "f.bin").write_bytes(b"z" * 60 * 1024)
    (tmp_path / "index.html").write_bytes(b"hi")
    bound = 4 << 20
    with threaded_server(fasthttp.ThreadingHTTPServer, files_handler(tmp_path),
                 max_output_memory=bound) as httpd:
        address = httpd.server_address
        hostile = []
        for _ in range(300):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(address)
            sock.setblocking(False)
            try:
                sock.send(b"GET /f.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 50)
            except BlockingIOError:
                pass
            hostile.append(sock)
        try:
            # Past the bound a connection with nothing queued still gets
            # its answer; past twice the bound, the most stalled are shed at
            # the next sweep (every second: a loaded machine may see a
            # burst between two).
            engine = httpd._fh_engine
            deadline = time.monotonic() + 2.5 + 3 * PROMPT
            while True:
                time.sleep(0.5)
                queued = sum(c.wfile.buffered_in_memory()
                             for c in list(engine.conns.values()) if c.handler is not None)
                if queued <= 2 * bound + 256 * 1024 or time.monotonic() > deadline:
                    break
            assert queued <= 2 * bound + 256 * 1024
            assert len(engine.conns) < 300
            assert worst_latency(address, 3) < PROMPT
        finally:
            close_all(hostile)


# -- TLS ---------------------------------------------------------------------------

def test_tls_silent_handshakes_and_timeouts(cert):
    """Over TLS: 200 clients that never start their handshake hold no
    thread, and body_timeout and send_timeout apply (they never did)."""
    certfile, keyfile = cert

    class Quick(Hello):
        body_timeout = 1.0
        send_timeout = 1.0
        body = b"q" * (4 << 20)

    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), Quick, certfile=certfile,
                                          keyfile=keyfile)
    thread = serve_in_thread(httpd)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    address = httpd.server_address[:2]

    def tls_get():
        began = time.monotonic()
        with context.wrap_socket(socket.create_connection(address, timeout=TIMEOUT)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            while s.recv(1 << 20):
                pass
        return time.monotonic() - began

    try:
        threads = threading.active_count()
        silent = connect_many(address, 200)
        stalled = []
        for request in (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc",
                        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"):
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect(address)
            tls = context.wrap_socket(raw)
            tls.sendall(request)
            stalled.append(tls)
        time.sleep(0.2)
        assert tls_get() < 2 * PROMPT
        # (Spare threads, at most max_spares, may have started meanwhile.)
        assert threading.active_count() <= threads + 2 + httpd._fh_engine.crew.max_spares
        time.sleep(2.5)
        for tls in stalled:         # both closed by the server by now
            tls.settimeout(TIMEOUT)
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                while tls.recv(1 << 20):
                    pass
                raise ConnectionResetError("closed")
        close_all(silent)
    finally:
        stop_serving(httpd, thread, TIMEOUT)


# -- what a handler does to its socket ------------------------------------------------

def test_a_handlers_own_socket_timeout_bounds_its_reads():
    """stdlib code that calls self.connection.settimeout(1) and then reads
    more than arrived gets a timeout at 1 s, as on http.server (it waited
    body_timeout, 60 s)."""
    class Reader(Hello):
        timed_out = []

        def do_GET(self):
            if self.path != "/read":
                return super().do_GET()
            self.connection.settimeout(0.5)
            began = time.monotonic()
            try:
                self.rfile.read(10)
            except socket.timeout:
                type(self).timed_out.append(time.monotonic() - began)
                raise

        def log_error(self, *args):
            pass

    with threaded_server(fasthttp.ThreadingHTTPServer, Reader) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /read HTTP/1.1\r\nHost: t\r\n\r\n")
            assert sock.recv(100) == b""        # closed, as http.server does
        assert Reader.timed_out and 0.4 < Reader.timed_out[0] < 2.0
        assert worst_latency(httpd.server_address, 2) < PROMPT


def test_saturation_is_logged_once(caplog):
    """install() gives ThreadingHTTPServer a bound the stdlib does not have
    (max_connections): reaching it says so, once."""
    with threaded_server(fasthttp.ThreadingHTTPServer, Sleeper, max_connections=2) as httpd:
        clients = [threading.Thread(target=fetch, args=(httpd.server_address, "/sleep?0.3"))
                   for _ in range(5)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(TIMEOUT)
    said = [r.getMessage() for r in caplog.records if r.name == "fasthttp.engine"]
    assert sum("handler threads are busy" in m for m in said) == 1


# -- signals ---------------------------------------------------------------------------

def test_ctrl_c_stops_serve_forever_on_the_main_thread_while_a_handler_blocks(tmp_path):
    """serve_forever() on the main thread keeps Ctrl-C: SIGINT raises
    KeyboardInterrupt out of it at once, even while a handler sleeps."""
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent("""
        import sys, time, fasthttp
        class H(fasthttp.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(30)
            def log_message(self, *a):
                pass
        httpd = fasthttp.ThreadingHTTPServer(("127.0.0.1", 0), H)
        print(httpd.server_address[1], flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        port = int(proc.stdout.readline())
        blocked = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        blocked.sendall(b"GET / HTTP/1.0\r\n\r\n")
        time.sleep(0.3)
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline() == b"interrupted\n"
        assert proc.wait(TIMEOUT) == 0
        assert time.monotonic() - began < 2.0
        blocked.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("server_class", SERVERS, ids=IDS)
def test_a_handler_writing_to_its_socket_keeps_the_order(server_class):
    """Headers through wfile, then the body straight to the socket (as some
    http.server handlers do): on the engine the headers are queued, so taking
    the socket sends them first; the client reads one well-formed response,
    and the next request on the connection is queued as usual."""
    class Direct(Hello):
        def do_GET(self):
            if self.path != "/direct":
                return super().do_GET()
            body = b"straight to the socket"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.connection.sendall(body)

    with threaded_server(server_class, Direct) as httpd:
        with socket.create_connection(httpd.server_address, timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /direct HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"GET /direct HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        responses = data.split(b"HTTP/1.1 200 OK\r\n")
        assert responses[0] == b"" and len(responses) == 3
        assert all(r.endswith(b"\r\n\r\nstraight to the socket") for r in responses[1:])


class OwnHandle(Hello):
    """A handle() of its own (as werkzeug's): a thread per connection."""

    def handle(self):
        super().handle()


class Unbuffered(Hello):
    """An unbuffered rfile (as the CGI handler's): a thread per connection."""
    rbufsize = 0


@pytest.mark.parametrize("handler", [OwnHandle, Unbuffered], ids=["own-handle", "unbuffered"])
@pytest.mark.parametrize("first", [b"", b"G", b"GET / HTTP/1.1\r\nHost"], ids=["silent", "byte",
                                                                              "half-head"])
def test_handler_classes_of_their_own_take_a_thread_only_with_a_head(handler, first):
    """Classes the engine serves a thread per connection (a handle() of
    their own, an unbuffered rfile as --cgi's) take that thread only once a
    whole request head is in: stalled clients hold none (70 of them locked
    --cgi out, with no time limit), and a new client is served at once."""
    with threaded_server(fasthttp.ThreadingHTTPServer, handler, max_connections=8) as httpd:
        address = httpd.server_address
        assert worst_latency(address, 2) < PROMPT
        threads = threading.active_count()
        hostile = connect_many(address, 100, first)
        try:
            time.sleep(0.5)
            assert worst_latency(address, 5) < PROMPT
            assert threading.active_count() <= threads + 2
        finally:
            close_all(hostile)
