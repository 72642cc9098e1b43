#!/usr/bin/env python3
"""Serving a directory: nginx vs python -m http.server vs python -m fasthttp, in one run.

    python bench/static_load.py                 # 3 rounds x 5 s per server and case
    python bench/static_load.py --quick         # 1 round x 2 s, a smoke test
    python bench/static_load.py --loop          # also fasthttp's LoopHTTPServer
    python bench/static_load.py --before DIR    # also python -m fasthttp from DIR (an older copy)

Cases (issue 12, item 5), each server in its own process on 127.0.0.1, one directory:

  close       a 4 KB file, wrk -t1 -c8, one connection per request
              (the CLIs' HTTP/1.0 default; nginx gets "Connection: close")
  keep-alive  the same with keep-alive (-p HTTP/1.1 for the Python servers)
  download    a 200 MB file fetched with curl -o /dev/null; seconds (best of the rounds)

Besides req/s, the server's CPU time per request (utime + stime from /proc, nginx's
worker included): steadier than req/s on a shared machine.

nginx: Debian's nginx-light, one worker, sendfile on, no access log (skipped when not
installed: apt-get install -y nginx-light). The Python servers log to stderr as their CLIs
do (sent to /dev/null). With taskset available, the server runs on CPU 0 and wrk/curl
on CPU 1, so they do not take turns on one core. Servers alternate within each round;
the table gives medians, and ratios to nginx and to http.server. Every process is started
here and ended here, by PID. No timing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # noqa: E402
import processes  # noqa: E402
import servers  # noqa: E402
from tables import add_ratios, fmt_x, log, render, summarize  # noqa: E402

SMALL, BIG = "4k.bin", "200m.bin"
NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}
}}
"""
PORT = "<port>"     # in a Case's argv: the port it was given
# fasthttp's LoopHTTPServer serving a directory (its CLI serves with ThreadingHTTPServer).
LOOP_CODE = ("import functools, sys; from fasthttp import SimpleHTTPRequestHandler as H;"
             "from fasthttp.loop import LoopHTTPServer;"
             "H.protocol_version = sys.argv[3];"
             "LoopHTTPServer(('127.0.0.1', int(sys.argv[1])),"
             " type('H', (H,), {'__init__': lambda s, *a: H.__init__(s, *a,"
             " directory=sys.argv[2])})).serve_forever()")


class Case:
    """One server of one case: how to start it, and whether wrk must ask to close."""

    def __init__(self, name: str, argv: list[str], close_header: bool = False,
                 cwd: Path = processes.REPO_ROOT) -> None:
        self.name, self.argv, self.cwd, self.close_header = name, argv, cwd, close_header
        self.port = processes.free_port()   # the CLIs print it, nginx and the loop do not

    def start(self, root: Path) -> processes.ServerProcess:
        """Started on CPU 0 (wrk and curl get CPU 1); its logging goes to /dev/null as the
        CLIs' would to a terminal nobody reads."""
        argv = [str(self.port) if a == PORT else a for a in self.argv]
        if self.name == "nginx":
            return servers.nginx_process(root, NGINX_CONF.format(root=root, port=self.port), self.port, cpu=0)
        return processes.ServerProcess(self.name, processes.pinned(0, argv), port=self.port,
                                       log=Path(os.devnull), cwd=self.cwd)


def cases(keep_alive: bool, loop: bool, before: Path | None, www: str) -> list[Case]:
    py = sys.executable
    proto = ["-p", "HTTP/1.1"] if keep_alive else []
    cli = [PORT, "-b", "127.0.0.1", "-d", www, *proto]
    out = [Case("nginx", [], close_header=not keep_alive)] if servers.nginx_binary() else []
    out += [Case("http.server", [py, "-m", "http.server", *cli]),
            Case("fasthttp", [py, "-m", "fasthttp", *cli])]
    if before is not None:      # python -m imports fasthttp from its working directory
        out.append(Case("fasthttp-before", [py, "-m", "fasthttp", *cli], cwd=before))
    if loop:
        out.append(Case("fasthttp-loop", [py, "-c", LOOP_CODE, PORT, www,
                                          "HTTP/1.1" if keep_alive else "HTTP/1.0"]))
    return out


def wrk(srv: processes.ServerProcess, case: Case, seconds: float) -> tuple[float, float, int]:
    """(req/s, server CPU microseconds per request, errors)"""
    cpu_before = srv.cpu_seconds()
    res = loadgen.run_wrk("wrk", f"http://127.0.0.1:{srv.port}/{SMALL}", connections=8, duration=seconds,
                          headers=["Connection: close"] if case.close_header else [], cpu=1)
    cpu = srv.cpu_seconds() - cpu_before
    return res["rps"] or 0.0, (cpu / res["requests"] * 1e6 if res["requests"] else 0.0), res["errors"]


def download(srv: processes.ServerProcess) -> float:
    start = time.perf_counter()
    code, _, err = processes.run_bounded(processes.pinned(1, [
        "curl", "-sS", "--fail", "-o", "/dev/null", f"http://127.0.0.1:{srv.port}/{BIG}"]), timeout=300)
    if code != 0:
        raise RuntimeError(f"curl failed ({code}): {err}")
    return time.perf_counter() - start


def one_server(case: Case, keep_alive: bool, rnd: int, root: Path, duration: float) -> list[dict[str, Any]]:
    """One server of one round: warm-up, the wrk run, and with keep-alive the download."""
    label = "keep-alive" if keep_alive else "close"
    with case.start(root) as srv:
        srv.wait_ready(15)
        wrk(srv, case, 1)                    # warm-up
        rate, cpu, errors = wrk(srv, case, duration)
        runs = [{"case": label, "server": case.name, "rps": rate, "cpu_us_per_req": cpu, "round": rnd + 1}]
        log("  round %d %-10s %-15s %8.0f req/s %8.1f us CPU/request%s" % (
            rnd + 1, label, case.name, rate, cpu, "  errors %d" % errors if errors else ""))
        if keep_alive:
            seconds = download(srv)
            runs.append({"case": "download", "server": case.name, "seconds": seconds, "round": rnd + 1})
            log("  round %d %-10s %-15s %8.2f s" % (rnd + 1, "download", case.name, seconds))
    return runs


def table(title: str, rows: dict[str, dict[str, Any]], field: str, unit: str, higher_better: bool) -> None:
    add_ratios(rows, field, ["nginx", "http.server"], higher_better=higher_better, key="vs")
    cells = [[name, "%.2f" % row[field], *(fmt_x(row["vs"].get(ref)) for ref in ("nginx", "http.server"))]
             for name, row in rows.items()]
    log("\n" + title)
    log(render(["server", unit, "/ nginx", "/ http.server"], cells))


def make_files(root: Path, big_mb: int) -> None:
    os.chmod(root, 0o755)       # nginx's worker runs as another user
    (root / "www").mkdir(mode=0o755)
    (root / "www" / SMALL).write_bytes(os.urandom(4096))
    with open(root / "www" / BIG, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(big_mb):
            f.write(block)
    for p in (root / "www").iterdir():
        os.chmod(p, 0o644)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s")
    parser.add_argument("--loop", action="store_true", help="add fasthttp's LoopHTTPServer")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also serve with the fasthttp package found in DIR")
    parser.add_argument("--big-mb", type=int, default=200, help="size of the download")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (apt-get install -y %s)" % (tool, tool))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fasthttp-static-bench-") as tmp:
        root = Path(tmp)
        make_files(root, args.big_mb)
        log("fasthttp bench: %s, Python %s, %d CPUs, %d round(s) x %g s" % (
            root, sys.version.split()[0], os.cpu_count() or 1, args.rounds, args.duration))
        for rnd in range(args.rounds):
            for keep_alive in (False, True):
                order = cases(keep_alive, args.loop, args.before, str(root / "www"))
                for case in order[rnd % len(order):] + order[:rnd % len(order)]:
                    runs += one_server(case, keep_alive, rnd, root, args.duration)
    rows = summarize([r for r in runs if r["case"] != "download"], by=("case", "server"),
                     medians=("rps", "cpu_us_per_req"))
    best = summarize([r for r in runs if r["case"] == "download"], by=("server",), medians=(),
                     mins=("seconds",))

    def of(case: str) -> dict[str, dict[str, Any]]:
        return {k[1]: dict(v) for k, v in rows.items() if k[0] == case}

    table("4 KB file, wrk -t1 -c8, a connection per request (median req/s)", of("close"), "rps", "req/s", True)
    table("  the same, server CPU per request (median us; ratio > 1 = less CPU)", of("close"),
          "cpu_us_per_req", "us", False)
    table("4 KB file, wrk -t1 -c8, keep-alive (median req/s)", of("keep-alive"), "rps", "req/s", True)
    table("  the same, server CPU per request (median us; ratio > 1 = less CPU)", of("keep-alive"),
          "cpu_us_per_req", "us", False)
    table("%d MB download with curl (best seconds; ratio > 1 = faster)" % args.big_mb,
          {k[0]: v for k, v in best.items()}, "seconds", "seconds", False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
