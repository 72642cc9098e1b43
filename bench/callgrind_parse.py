"""Instructions per request on the request path, counted by callgrind.

Timings on a shared, noisy machine cannot tell a 5 % change; instruction
counts can. Each figure is the difference of two runs of the same workload,
N and 2N requests, divided by N: start-up and imports cancel out.

The four cases (bench/test_bench_parse.py's workloads):

  memory-42        an in-memory 42-header GET (api_many_headers): a new BytesIO
                   rfile each time, readline + parse_request, ``headers`` not read
  memory-42+h      the same, ``headers`` read
  socket-browser   a browser GET (firefox_get) over a socketpair, through the
                   handler's setup() (fasthttp's own reader), keep-alive:
                   readline + parse_request, ``headers`` not read (the requests
                   are sent BATCH at a time, so the send is a small share)
  socket-browser+h the same, ``headers`` read
  engine-browser   as socket-browser, as the event engine serves it: first
                   _core.request_state(rfile, 64 KiB), then readline +
                   parse_request (the loop's path: issue 17 item 8)
  engine-browser+h the same, ``headers`` read
  response         the response head (bench/test_bench_response.py):
                   send_response(200), two send_header, end_headers into a
                   BytesIO; log_message overridden to do nothing
  response+log     the same, with the default log_message (to an in-memory
                   sys.stderr)

    python bench/callgrind_parse.py            # the table, C and pure paths
    python bench/callgrind_parse.py --run CASE N   # (what callgrind runs)
"""
from __future__ import annotations

import argparse
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REQUESTS = REPO / "tests" / "data" / "requests"

CASES = {
    "memory-42": ("api_many_headers", "memory", False),
    "memory-42+h": ("api_many_headers", "memory", True),
    "socket-browser": ("firefox_get", "socket", False),
    "socket-browser+h": ("firefox_get", "socket", True),
    "engine-browser": ("firefox_get", "engine", False),
    "engine-browser+h": ("firefox_get", "engine", True),
    "response": ("", "response", False),
    "response+log": ("", "response", True),
}


BATCH = 20


class _Server:
    server_name = "localhost"
    server_port = 0
    server_address = ("127.0.0.1", 0)


def _run(case: str, n: int) -> None:
    sys.path.insert(0, str(REPO))
    import gc

    import fasthttp

    gc.disable()    # a collection falls in one run length and not the other

    name, kind, read_headers = CASES[case]
    if kind == "response":
        _respond(fasthttp, n, log=read_headers)
        return
    data = (REQUESTS / (name + ".http")).read_bytes()
    server = _Server()

    class Handler(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, rfile: object = None, sock: object = None) -> None:
            self.client_address = ("127.0.0.1", 54321)
            self.server = server
            self.request = sock
            if sock is None:
                self.rfile = rfile
                self.wfile = io.BytesIO()
            else:
                self.setup()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    from fasthttp import _core

    def one(h: Handler) -> None:
        if kind == "engine":
            while (state := _core.request_state(h.rfile, 65536)) == 0:
                h.rfile.fill_nowait()       # the engine's recv: until a head is in
            if state < 0:
                raise SystemExit("request_state: %d" % state)
        h.raw_requestline = h.rfile.readline(65537)
        if not h.parse_request():
            raise SystemExit("request refused")
        if read_headers:
            h.headers  # noqa: B018 - made on first read

    if kind == "memory":
        h = Handler(rfile=io.BytesIO(data))
        for _ in range(n):
            h.rfile = io.BytesIO(data)
            one(h)
        return
    # One connection (one reader), keep-alive: the requests arrive BATCH at
    # a time, as pipelined, so the send is a small share of each request.
    server_sock, client_sock = socket.socketpair()
    h = Handler(sock=server_sock)
    for _ in range(n // BATCH):
        client_sock.sendall(data * BATCH)
        for _ in range(BATCH):
            one(h)
    h.finish()


def _respond(fasthttp: object, n: int, log: bool) -> None:
    class Handler(fasthttp.BaseHTTPRequestHandler):  # type: ignore[attr-defined,name-defined]
        protocol_version = "HTTP/1.1"

        def __init__(self) -> None:
            self.client_address = ("127.0.0.1", 54321)
            self.wfile = io.BytesIO()
            self.raw_requestline = b"GET / HTTP/1.1\r\n"
            self.requestline = "GET / HTTP/1.1"
            self.command, self.path, self.request_version = "GET", "/", "HTTP/1.1"
            self.close_connection = False

    if not log:
        Handler.log_message = lambda self, format, *args: None  # type: ignore[method-assign]
    sys.stderr = io.StringIO()
    h = Handler()
    for _ in range(n):
        h.wfile.seek(0)
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", "13")
        h.end_headers()
        if log:
            sys.stderr.seek(0)


def _instructions(case: str, n: int, pure: bool) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("FASTHTTP_PURE", None)
    if pure:
        env["FASTHTTP_PURE"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
             sys.executable, __file__, "--run", case, str(n)],
            env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = Path(out).read_text()
    match = re.search(r"^summary: (\d+)", text, re.M) or re.search(r"^totals: (\d+)", text, re.M)
    if match is None:
        raise SystemExit("no instruction total in callgrind's output")
    return int(match.group(1))


def per_request(case: str, n: int, pure: bool) -> float:
    return (_instructions(case, 2 * n, pure) - _instructions(case, n, pure)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, default=2000, help="requests in the shorter run")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--paths", default="c,pure")
    args = parser.parse_args()
    if args.run:
        _run(args.run[0], int(args.run[1]))
        return
    paths = args.paths.split(",")
    print("| case | " + " | ".join(paths) + " |")
    print("|---|" + "---|" * len(paths))
    for case in args.cases.split(","):
        cells = ["%.1fk" % (per_request(case, args.n, path == "pure") / 1000) for path in paths]
        print("| %s | %s |" % (case, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
