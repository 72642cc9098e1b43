#!/usr/bin/env python3
"""Pipelined round trip on ONE TCP connection: the server's CPU per request, and its syscalls.

    python bench/pipeline.py                      # 20,000 requests, 3 rounds, both requests
    python bench/pipeline.py --quick              # 2,000 requests, 1 round, no strace
    python bench/pipeline.py --requests 5000 --servers fasthttp-loop --no-strace

What runs: each server of --servers (bench/servers.py, the load test's hello handler) in its
own process on 127.0.0.1. For each corpus request of --corpus (tests/data/requests/NAME.http;
default: firefox_get, a browser GET of 11 headers, and api_many_headers, 42 headers), a client
process (this script with --client) opens one connection, writes --requests copies of the
request back to back from one thread while its main thread reads all the responses (so
neither side waits for the other's socket buffer), then reports and keeps the connection open
until told to close it.

Measured, servers alternating within each of --rounds rounds, medians reported:
  - server CPU per request: the CPU time of every thread of the server process (and its live
    descendants: nginx's worker) from /proc/PID/task/TID/schedstat (nanoseconds), sampled
    before the client starts and once it has read the last response, over --requests.
    (/proc/PID/stat's utime + stime, in 10 ms ticks, is kept in the JSON as a cross-check.)
  - the ratio to stdlib-tuned's CPU per request (> 1 = less CPU than the tuned stdlib);
  - the client's wall time (requests/s through the one connection);
  - with strace installed (and not --no-strace), one extra run per server and request under
    ``strace -c -f -p PID...`` (all threads, all processes of the server): syscalls per
    request, by name. strace slows the server down; that run is not timed.

Goals (issue 10): fasthttp's CPU per request >= 8x below stdlib-tuned's for the browser GET,
>= 10x for 42 headers. Nothing is asserted; every process is started here and ended by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import processes  # noqa: E402
import servers  # noqa: E402
from tables import add_ratios, fmt_x, log, render, summarize  # noqa: E402

DEFAULT_SERVERS = ["stdlib-tuned", "fasthttp", "fasthttp-loop", "nginx"]
DEFAULT_CORPUS = ["firefox_get", "api_many_headers"]
BASELINE = "stdlib-tuned"
CLIENT_TIMEOUT = 300.0


# --------------------------------------------------------------------------- the client process


def client(port: int, count: int, request_file: str) -> int:
    """Write ``count`` requests on one connection while reading the responses; print DONE."""
    request = Path(request_file).read_bytes()
    payload = request * count
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sys.stdout.write("CONNECTED\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return 1
    failure: list[BaseException] = []

    def write() -> None:
        try:
            sock.sendall(payload)
        except OSError as exc:
            failure.append(exc)

    t0 = time.perf_counter()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    # Every hello response holds exactly one blank line (its body has no CRLF): count them,
    # across recv boundaries, and then wait for the last body.
    seen = after = 0
    tail = b""
    first = b""
    while seen < count or after < len(servers.BODY):
        chunk = sock.recv(1 << 20)
        if not chunk:
            sys.stdout.write(f"ERROR closed after {seen} responses\n")
            return 1
        if len(first) < 16:
            first += chunk[:16]
        window = tail + chunk
        found = window.count(b"\r\n\r\n")
        if found:
            seen += found
            after = len(window) - (window.rfind(b"\r\n\r\n") + 4)
        else:
            after += len(chunk)
        tail = window[-3:]
    elapsed = time.perf_counter() - t0
    writer.join()
    if failure or not first.startswith(b"HTTP/1.1 200 ") or seen != count or after != len(servers.BODY):
        sys.stdout.write(f"ERROR {failure} {first!r} responses {seen} trailing {after}\n")
        return 1
    sys.stdout.write(f"DONE {elapsed:.6f}\n")
    sys.stdout.flush()
    sys.stdin.readline()        # the server's CPU is sampled while the connection is open
    sock.close()
    return 0


class Client:
    def __init__(self, port: int, count: int, request_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--client", str(port), str(count),
             str(request_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.expect("CONNECTED")

    def expect(self, word: str, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise RuntimeError(f"client: no {word} within {timeout:g} s")
        finally:
            sel.close()
        line = self.proc.stdout.readline().strip()
        if not line.startswith(word):
            raise RuntimeError(f"client: expected {word}, got {line!r}")
        return line[len(word):].strip()

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.say("close")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


# --------------------------------------------------------------------------- server CPU


def measure(server: processes.ServerProcess, count: int, request_file: Path) -> dict[str, Any]:
    client_ = Client(server.port, count, request_file)
    try:
        ns0, ticks0 = processes.schedstat_ns(server.pid), server.cpu_seconds()
        client_.say("go")
        elapsed = float(client_.expect("DONE", timeout=CLIENT_TIMEOUT))
        ns1, ticks1 = processes.schedstat_ns(server.pid), server.cpu_seconds()
    finally:
        client_.stop()
    return {
        "cpu_us_per_req": (ns1 - ns0) / 1e3 / count,
        "stat_cpu_us_per_req": (ticks1 - ticks0) * 1e6 / count,
        "wall_s": elapsed,
        "rps": count / elapsed,
    }


# --------------------------------------------------------------------------- strace -c


def parse_strace_c(text: str) -> dict[str, int]:
    """{syscall: calls} from strace -c's table."""
    calls = {}
    for line in text.splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(parts) in (5, 6) and re.fullmatch(r"[\d.]+", parts[0]) and parts[-1] != "total":
            calls[parts[-1]] = int(parts[3])
    return calls


def strace_run(server: processes.ServerProcess, count: int, request_file: Path, tmpdir: Path) -> dict:
    out = tmpdir / f"strace-{server.name}-{request_file.stem}.txt"
    argv = ["strace", "-c", "-f", "-o", str(out)]
    for pid in processes.process_tree(server.pid):
        argv += ["-p", str(pid)]
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert tracer.stderr is not None
        line = tracer.stderr.readline()    # "strace: Process N attached"
        if "attached" not in line:
            raise RuntimeError(f"strace did not attach: {line.strip()}")
        time.sleep(0.5)                    # the other threads' attach lines follow
        measure(server, count, request_file)
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)   # strace detaches and writes its summary
            try:
                tracer.wait(30)
            except subprocess.TimeoutExpired:
                tracer.kill()
                tracer.wait()
        if tracer.stderr is not None:
            tracer.stderr.close()
    calls = parse_strace_c(out.read_text()) if out.exists() else {}
    return {name: n / count for name, n in sorted(calls.items(), key=lambda kv: -kv[1])}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--requests", type=int, default=20000, help="per connection (default 20,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                    help="from %s (default: %%(default)s; nginx only if installed)" % ",".join(servers.KINDS))
    ap.add_argument("--corpus", default=",".join(DEFAULT_CORPUS), help="tests/data/requests names")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace -c run")
    ap.add_argument("--quick", action="store_true", help="2,000 requests, 1 round, no strace")
    ap.add_argument("--json", metavar="PATH", help="default bench/results/pipeline-<time>.json")
    ap.add_argument("--client", nargs=3, metavar=("PORT", "N", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.no_strace = 2000, 1, True
    args.corpus_files = [processes.REQUESTS_DIR / f"{name}.http" for name in args.corpus.split(",") if name]
    for path in args.corpus_files:
        if path.read_bytes().partition(b"\r\n\r\n")[2]:
            ap.error(f"{path.name}: only body-less requests")
    return args


def run_rounds(procs: dict[str, processes.ServerProcess], kinds: list[str], corpus: list[Path],
               args: argparse.Namespace) -> list[dict[str, Any]]:
    """--rounds rounds: every request of the corpus on every server (the order rotates)."""
    runs = []
    for rnd in range(args.rounds):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for path in corpus:
            for kind in order:
                res = measure(procs[kind], args.requests, path)
                res.update(server=kind, request=path.stem, round=rnd + 1)
                runs.append(res)
                log(f"  round {rnd + 1} {path.stem:18s} {kind:14s} "
                    f"CPU {res['cpu_us_per_req']:7.2f} us/req  "
                    f"({res['stat_cpu_us_per_req']:.1f} by ticks)  {res['rps']:9,.0f} req/s")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client(int(args.client[0]), int(args.client[1]), args.client[2])
    kinds, skipped = servers.available([s for s in args.servers.split(",") if s])
    for kind, why in skipped.items():
        log(f"skip {kind}: {why}")
    corpus = args.corpus_files
    use_strace = not args.no_strace and bool(shutil.which("strace"))
    started = dt.datetime.now(dt.timezone.utc)
    meta = {"started": started.isoformat(timespec="seconds"),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "fasthttp": servers.fasthttp_description(), "cpus": os.cpu_count(),
            "requests": args.requests, "rounds": args.rounds, "servers": kinds,
            "corpus": [p.stem for p in corpus], "skipped": skipped}
    log(f"pipelined round trip: {args.requests} requests on one connection, {args.rounds} round(s); "
        f"{', '.join(kinds)}; {meta['python']}")
    if meta["fasthttp"]:
        log(meta["fasthttp"])
    syscalls: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="fasthttp-pipeline-") as tmp, contextlib.ExitStack() as stack:
        try:
            procs = {kind: stack.enter_context(servers.start(kind, Path(tmp))) for kind in kinds}
            for kind, p in procs.items():
                p.wait_ready()
                servers.check_hello(p.port)
                log(f"  {kind}: pid {p.pid}, port {p.port}")
            runs = run_rounds(procs, kinds, corpus, args)
            for path in corpus if use_strace else ():
                for kind in kinds:
                    syscalls.setdefault(path.stem, {})[kind] = strace_run(procs[kind], args.requests, path, Path(tmp))
        except KeyboardInterrupt:
            log("interrupted")
            return 130
    summary = summarize_runs(runs, kinds, [p.stem for p in corpus])
    print_tables(summary, syscalls, kinds, args.requests)
    processes.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = Path(args.json) if args.json else processes.RESULTS_DIR / f"pipeline-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"meta": meta, "summary": summary, "syscalls_per_request": syscalls,
                               "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out}")
    return 0


def summarize_runs(runs: list[dict[str, Any]], kinds: list[str], requests: list[str]) -> dict[str, Any]:
    """{request: {server: medians, and how many times less CPU per request than the baseline}}"""
    rows = summarize(runs, by=("request", "server"), medians=("cpu_us_per_req", "rps"))
    summary: dict[str, Any] = {}
    for req in requests:
        mine = {k: rows[(req, k)] for k in kinds if (req, k) in rows}
        add_ratios(mine, "cpu_us_per_req", [BASELINE], higher_better=False, key="cpu_ratio")
        summary[req] = mine
    return summary


GOALS = {"firefox_get": 8.0, "api_many_headers": 10.0}
SHOWN_SYSCALLS = ("recvfrom", "read", "recvmsg", "sendto", "write", "sendmsg", "writev",
                  "epoll_wait", "epoll_ctl", "poll", "select", "futex")


def syscalls_cell(sc: dict[str, float] | None) -> str:
    """The total per request, then the four most frequent."""
    if not sc:
        return "-"
    return f"{sum(sc.values()):.2f} (" + ", ".join(f"{name} {n:.2f}" for name, n in list(sc.items())[:4]) + ")"


def print_tables(summary: dict[str, Any], syscalls: dict[str, Any], kinds: list[str], count: int) -> None:
    headers = ["request", "server", "server CPU/request", f"{BASELINE} / server", "req/s (one connection)",
               "syscalls/request"]
    table = []
    for req, rows in summary.items():
        for kind in kinds:
            if kind not in rows:
                continue
            row = rows[kind]
            ratio = row["cpu_ratio"].get(BASELINE)
            goal = GOALS.get(req) if kind.startswith("fasthttp") else None
            verdict = "" if goal is None or ratio is None else (
                f" (goal {goal:g}x: {'met' if ratio >= goal else 'not met'})")
            table.append([req, kind, f"{row['cpu_us_per_req']:.2f} µs", fmt_x(ratio) + verdict,
                          f"{row['rps']:,.0f}", syscalls_cell(syscalls.get(req, {}).get(kind))])
    log("\n" + render(headers, table, markdown=True))
    if syscalls:
        log(f"\nsyscalls per request (strace -c -f over {count} requests; shown: "
            f"{', '.join(SHOWN_SYSCALLS)})")
        for req, by_kind in syscalls.items():
            for kind, sc in by_kind.items():
                shown = ", ".join(f"{n} {sc[n]:.3f}" for n in SHOWN_SYSCALLS if n in sc)
                log(f"  {req:18s} {kind:14s} total {sum(sc.values()):.3f}: {shown}")


if __name__ == "__main__":
    sys.exit(main())
