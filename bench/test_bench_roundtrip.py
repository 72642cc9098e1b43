"""In-process roundtrip: N pipelined requests on one connection, served by the handler's real
handle() loop (setup -> handle_one_request until the client half-closes -> finish).

Groups ``roundtrip[<transport>][<request>]``, one per transport and corpus request:

  transport  unix  socket.socketpair() (AF_UNIX)
             tcp   a loopback connection, 127.0.0.1, accepted from a listener in this process

  impl       stdlib        http.server.BaseHTTPRequestHandler as-is (wbufsize = 0: headers and
                           body leave in separate send() calls)
             stdlib-tuned  the same, plus wbufsize = -1 (buffered wfile, flushed once per
                           request by handle_one_request) and, on tcp, TCP_NODELAY
             fasthttp      fasthttp.BaseHTTPRequestHandler, drop-in, untouched

The server side is the hello handler of bench/servers.py (protocol_version HTTP/1.1, 200 with
Content-Type, Content-Length and a 13-byte body, log_message silenced). The client writes all
N requests, half-closes, and drains the responses until EOF (see PipelinedClient: when the
socket buffers hold a whole round, as they do for the defaults, it writes before and drains
after the timed window, so the GIL is never shared with a client thread while timing; else it
runs as threads during the window). A watchdog bounds every round to IO_TIMEOUT.

Timed per round: the handler serving all N requests (construction -> setup -> handle() loop ->
finish), plus the concurrent client threads if any. bench/report.py divides the round time by
``extra_info["requests_per_round"]`` to report time per request.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from benchlib import ROUNDTRIP_REQUESTS, StubServer, base_handler, servers, tag

DEFAULT_REQUESTS = ROUNDTRIP_REQUESTS
N_REQUESTS = 200
TIME_PER_BENCHMARK = 1.0  # seconds of timed rounds to aim for (rounds are clamped below)
MIN_ROUNDS, MAX_ROUNDS = 5, 100
IO_TIMEOUT = 30.0
SOCKET_BUFFER = 4 << 20  # asked for; the kernel caps it (net.core.wmem_max / rmem_max)
DEFER_DRAIN_MAX = 64 << 10  # response bytes per round the kernel surely buffers undrained

STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
_SERVER = StubServer()


class PipelinedClient:
    """The client side of one round: all N requests, a half-close, then a full drain.

    Threads in this process share the GIL with the server under test, and a client thread
    woken on every chunk produced bimodal, switch-interval-quantized round times (5 ms steps).
    So, where the socket buffers allow (the usual case: the kernel takes the whole payload
    with SO_SNDBUF raised, and N short responses fit in the reverse direction), the client
    writes everything and half-closes *before* the timer starts and drains *after* the server
    is done: the timed window holds the server's handle() loop only. Otherwise (payload or
    responses too big for the buffers) a sender and/or reader thread run concurrently and the
    timed window includes the client's drain. ``mode`` says which; report.py shows it.
    A watchdog shuts both sockets down after IO_TIMEOUT so that no round can hang.
    """

    def __init__(self, server_side: socket.socket, sock: socket.socket, payload: bytes, *, defer_drain: bool):
        self.sock = sock
        self.received = bytearray()
        self.error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        for s, opt in ((sock, socket.SO_SNDBUF), (sock, socket.SO_RCVBUF), (server_side, socket.SO_SNDBUF)):
            s.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        sent = self._prefill(payload)
        if sent < len(payload):
            self._start(self._send, memoryview(payload)[sent:])
        else:
            sock.shutdown(socket.SHUT_WR)
        self.concurrent = sent < len(payload) or not defer_drain
        if self.concurrent:
            self._start(self._read)
        self.mode = "concurrent client threads" if self.concurrent else "prefilled, drained after"
        self._watchdog = threading.Timer(IO_TIMEOUT, self._abort, (server_side,))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _start(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _prefill(self, payload: bytes) -> int:
        view, sent = memoryview(payload), 0
        self.sock.setblocking(False)
        try:
            while sent < len(payload):
                sent += self.sock.send(view[sent:])
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return sent

    def _send(self, rest):
        try:
            self.sock.sendall(rest)
            self.sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:  # noqa: BLE001 - reported by teardown
            self.error = exc

    def _read(self):
        try:
            while True:
                chunk = self.sock.recv(262144)
                if not chunk:
                    return
                self.received += chunk
        except BaseException as exc:  # noqa: BLE001 - reported by teardown
            self.error = exc

    def _abort(self, server_side):
        self.error = TimeoutError(f"round did not finish within {IO_TIMEOUT} s")
        for s in (server_side, self.sock):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_concurrent(self) -> None:
        """Inside the timed window: wait for the concurrent threads, if any."""
        for t in self._threads:
            t.join(IO_TIMEOUT * 2)

    def finish(self) -> None:
        """Outside the timed window: drain (deferred mode), stop the watchdog, close."""
        if not self.concurrent:
            self._read()
        self.join_concurrent()
        self._watchdog.cancel()
        self.sock.close()
        assert not any(t.is_alive() for t in self._threads), "client threads did not finish"


def check_responses(data: bytes, n: int) -> None:
    count = data.count(STATUS_LINE)
    assert count == n, f"expected {n} responses, got {count}: {bytes(data[:300])!r}"
    assert data.count(servers.BODY) == n


class Transport:
    """Makes connected (server_side, client_side) socket pairs."""

    def __init__(self, kind: str):
        self.kind = kind
        self.listener = None
        if kind == "tcp":
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # inherited by accepted sockets; must precede the handshake to widen the window
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(8)
            self.listener.settimeout(IO_TIMEOUT)

    def pair(self):
        if self.kind == "unix":
            server_side, client_side = socket.socketpair()
            return server_side, client_side, ("127.0.0.1", 0)
        client_side = socket.create_connection(self.listener.getsockname(), timeout=IO_TIMEOUT)
        server_side, address = self.listener.accept()
        server_side.settimeout(None)  # a served connection is blocking, as socketserver's
        return server_side, client_side, address

    def close(self):
        if self.listener is not None:
            self.listener.close()


@pytest.fixture(params=["unix", "tcp"])
def transport(request):
    t = Transport(request.param)
    yield t
    t.close()


@pytest.mark.parametrize("impl", ["stdlib", "stdlib-tuned", "fasthttp"])
def test_roundtrip(benchmark, impl, transport, req, request_bytes):
    benchmark.group = f"roundtrip[{transport.kind}][{req}]"
    handler_cls = servers.make_hello_handler(
        base_handler(impl), tuned=(impl == "stdlib-tuned"), tcp=(transport.kind == "tcp")
    )
    payload = request_bytes * N_REQUESTS
    pending = []  # (server_side, client) of the round in flight
    defer_drain = False  # the calibration round always drains concurrently (safe for any size)

    def setup():
        server_side, client_side, address = transport.pair()
        client = PipelinedClient(server_side, client_side, payload, defer_drain=defer_drain)
        pending.append((server_side, client))
        return (server_side, address, client), {}

    def serve(server_side, address, client):
        handler_cls(server_side, address, _SERVER)  # setup(), handle() loop, finish()
        server_side.shutdown(socket.SHUT_WR)  # as socketserver's shutdown_request
        client.join_concurrent()

    def teardown(server_side, address, client):
        pending.remove((server_side, client))
        server_side.close()
        client.finish()
        assert client.error is None, f"client failed: {client.error!r}"
        check_responses(client.received, N_REQUESTS)
        modes.add(client.mode)

    # One calibration round (checked like every other) sizes the run.
    modes = set()
    args, _ = setup()
    started = time.perf_counter()
    serve(*args)
    elapsed = time.perf_counter() - started
    teardown(*args)
    response_bytes = len(args[2].received)
    defer_drain = response_bytes <= DEFER_DRAIN_MAX
    modes.clear()
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(TIME_PER_BENCHMARK / max(elapsed, 1e-6))))

    tag(
        benchmark,
        impl,
        transport=transport.kind,
        requests_per_round=N_REQUESTS,
        wbufsize=handler_cls.wbufsize,
        tcp_nodelay=bool(handler_cls.disable_nagle_algorithm),
    )
    try:
        benchmark.pedantic(serve, setup=setup, teardown=teardown, rounds=rounds)
    finally:
        for server_side, client in pending:
            server_side.close()
            client.sock.close()
    benchmark.extra_info["client"] = " + ".join(sorted(modes))
