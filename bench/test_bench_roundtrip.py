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
Content-Type, Content-Length and a 13-byte body, log_message silenced). A client thread writes
all N requests (a helper thread, so a full socket buffer can never deadlock the exchange),
half-closes, and drains the responses until EOF; every socket has a timeout.

Timed per round: serving all N requests + the client finishing its drain. The connection and
the client threads are set up before the timer starts. bench/report.py divides the round time
by ``extra_info["requests_per_round"]`` to report time per request.
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

STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
_SERVER = StubServer()


class PipelinedClient:
    """Writes *payload* on *sock*, half-closes, reads until EOF; all in background threads."""

    def __init__(self, sock: socket.socket, payload: bytes):
        self.sock = sock
        self.payload = payload
        self.received = bytearray()
        self.error: BaseException | None = None
        sock.settimeout(IO_TIMEOUT)
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._sender.start()
        self._reader.start()

    def _send(self):
        try:
            self.sock.sendall(self.payload)
            self.sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self.error = exc

    def _read(self):
        try:
            recv_into = self.received.extend
            while True:
                chunk = self.sock.recv(262144)
                if not chunk:
                    return
                recv_into(chunk)
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self.error = exc

    def join(self):
        self._reader.join(IO_TIMEOUT * 2)
        self._sender.join(IO_TIMEOUT * 2)
        return not (self._reader.is_alive() or self._sender.is_alive())

    def close(self):
        self.sock.close()


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

    def setup():
        server_side, client_side, address = transport.pair()
        client = PipelinedClient(client_side, payload)
        pending.append((server_side, client))
        return (server_side, address, client), {}

    def serve(server_side, address, client):
        handler_cls(server_side, address, _SERVER)  # setup(), handle() loop, finish()
        server_side.shutdown(socket.SHUT_WR)  # as socketserver's shutdown_request
        return client.join()

    def teardown(server_side, address, client):
        pending.remove((server_side, client))
        server_side.close()
        client.close()
        assert client.error is None, f"client failed: {client.error!r}"
        check_responses(client.received, N_REQUESTS)

    # One calibration round (checked like every other) sizes the run.
    args, _ = setup()
    started = time.perf_counter()
    finished = serve(*args)
    elapsed = time.perf_counter() - started
    assert finished, "client did not finish within the timeout"
    teardown(*args)
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
        finished = benchmark.pedantic(serve, setup=setup, teardown=teardown, rounds=rounds)
        assert finished, "client did not finish within the timeout"
    finally:
        for server_side, client in pending:
            server_side.close()
            client.close()
