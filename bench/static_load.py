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
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError("server on port %d did not start" % port)


def pinned(cpu: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)] + argv
    return argv


class Server:
    def __init__(self, name: str, argv: list[str], port: int, close_header: bool,
                 cwd: Path = REPO_ROOT) -> None:
        self.name, self.argv, self.port, self.cwd = name, argv, port, cwd
        self.close_header = close_header    # wrk must ask for "Connection: close"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(pinned(0, self.argv), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.cwd)
        wait_listening(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def make_servers(root: Path, keep_alive: bool, loop: bool,
                 before: Path | None) -> list[Server]:
    py = sys.executable
    www = str(root / "www")
    proto = ["-p", "HTTP/1.1"] if keep_alive else []
    servers = []
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if nginx:
        port = free_port()
        conf = root / ("nginx-%d.conf" % port)
        conf.write_text(NGINX_CONF.format(root=root, port=port))
        servers.append(Server("nginx", [nginx, "-p", str(root), "-c", str(conf),
                                        "-e", str(root / "nginx-error.log")],
                              port, close_header=not keep_alive))
    port = free_port()
    servers.append(Server("http.server", [py, "-m", "http.server", str(port), "-b",
                                          "127.0.0.1", "-d", www] + proto, port, False))
    port = free_port()
    servers.append(Server("fasthttp", [py, "-m", "fasthttp", str(port), "-b", "127.0.0.1",
                                       "-d", www] + proto, port, False))
    if before is not None:      # python -m imports fasthttp from its working directory
        port = free_port()
        servers.append(Server("fasthttp-before", [py, "-m", "fasthttp", str(port), "-b",
                                                  "127.0.0.1", "-d", www] + proto, port, False,
                              cwd=before))
    if loop:
        port = free_port()
        code = ("import functools, sys; from fasthttp import SimpleHTTPRequestHandler as H;"
                "from fasthttp.loop import LoopHTTPServer;"
                "H.protocol_version = sys.argv[3];"
                "LoopHTTPServer(('127.0.0.1', int(sys.argv[1])),"
                " type('H', (H,), {'__init__': lambda s, *a: H.__init__(s, *a,"
                " directory=sys.argv[2])})).serve_forever()")
        servers.append(Server("fasthttp-loop", [py, "-c", code, str(port), www,
                                                "HTTP/1.1" if keep_alive else "HTTP/1.0"],
                              port, False))
    return servers


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (nginx's worker), so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK + sum(map(cpu_seconds, children))


def wrk(server: Server, seconds: float) -> tuple[float, float]:
    """(req/s, server CPU microseconds per request)"""
    assert server.proc is not None
    cpu_before = cpu_seconds(server.proc.pid)
    argv = ["wrk", "-t1", "-c8", "-d%gs" % seconds]
    if server.close_header:
        argv += ["-H", "Connection: close"]
    out = subprocess.run(pinned(1, argv + ["http://127.0.0.1:%d/%s" % (server.port, SMALL)]),
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    if re.search(r"Non-2xx|Socket errors: connect [1-9]", out):
        print("    (%s: errors: %s)" % (server.name, " ".join(out.split()[-12:])))
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rate = float(match.group(1)) if match else 0.0
    return rate, (cpu / (rate * seconds) * 1e6 if rate else 0.0)


def download(server: Server) -> float:
    start = time.perf_counter()
    subprocess.run(pinned(1, ["curl", "-sS", "--fail", "-o", "/dev/null",
                              "http://127.0.0.1:%d/%s" % (server.port, BIG)]),
                   check=True, timeout=300)
    return time.perf_counter() - start


def table(title: str, results: dict[str, list[float]], unit: str, higher_better: bool,
          pick: Any = None) -> None:
    pick = pick or (statistics.median if higher_better else min)
    med = {name: pick(v) for name, v in results.items() if v}
    print("\n%s" % title)
    print("  %-14s %12s %10s %12s" % ("server", unit, "/ nginx", "/ http.server"))
    def ratio(value: float, ref: str) -> str:
        if ref not in med or not value:
            return "-"
        return "%.2fx" % (value / med[ref] if higher_better else med[ref] / value)

    for name, value in med.items():
        print("  %-14s %12.2f %10s %12s" % (name, value, ratio(value, "nginx"),
                                              ratio(value, "http.server")))


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

    root = Path(tempfile.mkdtemp(prefix="fasthttp-static-bench-"))
    os.chmod(root, 0o755)       # nginx's worker runs as another user
    (root / "www").mkdir(mode=0o755)
    (root / "tmp").mkdir()
    (root / "www" / SMALL).write_bytes(os.urandom(4096))
    with open(root / "www" / BIG, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(args.big_mb):
            f.write(block)
    for p in (root / "www").iterdir():
        os.chmod(p, 0o644)
    print("fasthttp bench: %s, Python %s, %d CPUs, %d round(s) x %g s" % (
        root, sys.version.split()[0], os.cpu_count() or 1, args.rounds, args.duration))

    close: dict[str, list[float]] = {}
    keep: dict[str, list[float]] = {}
    down: dict[str, list[float]] = {}
    cpus: dict[tuple[bool, str], list[float]] = {}
    started: list[Server] = []
    try:
        for rnd in range(args.rounds):
            for keep_alive, results in ((False, close), (True, keep)):
                servers = make_servers(root, keep_alive, args.loop, args.before)
                servers = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
                for server in servers:
                    started.append(server)
                    server.start()
                    try:
                        wrk(server, 0.5)                    # warm-up
                        rate, cpu = wrk(server, args.duration)
                        results.setdefault(server.name, []).append(rate)
                        cpus.setdefault((keep_alive, server.name), []).append(cpu)
                        print("  round %d %-10s %-15s %8.0f req/s %8.1f us CPU/request" % (
                            rnd + 1, "keep-alive" if keep_alive else "close",
                            server.name, rate, cpu), flush=True)
                        if keep_alive:
                            seconds = download(server)
                            down.setdefault(server.name, []).append(seconds)
                            print("  round %d %-10s %-15s %8.2f s" % (
                                rnd + 1, "download", server.name, seconds), flush=True)
                    finally:
                        server.stop()
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)

    table("4 KB file, wrk -t1 -c8, a connection per request (median req/s)", close,
          "req/s", True)
    table("  the same, server CPU per request (median us; ratio > 1 = less CPU)",
          {n: v for (k, n), v in cpus.items() if not k}, "us", False, statistics.median)
    table("4 KB file, wrk -t1 -c8, keep-alive (median req/s)", keep, "req/s", True)
    table("  the same, server CPU per request (median us; ratio > 1 = less CPU)",
          {n: v for (k, n), v in cpus.items() if k}, "us", False, statistics.median)
    table("%d MB download with curl (best seconds; ratio > 1 = faster)" % args.big_mb, down,
          "seconds", False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
