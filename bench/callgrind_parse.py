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
