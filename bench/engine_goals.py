#!/usr/bin/env python3
"""The engine's goals (issue 10), measured: handlers that block or compute beside quick ones.

    python bench/engine_goals.py                  # 3 rounds x 5 s per case and server
    python bench/engine_goals.py --quick          # 1 round x 2 s: a smoke test, ~1 min
    python bench/engine_goals.py --before ../old --cases cpu --markdown

Each server runs in its own process on 127.0.0.1 (bench/goal_servers.py: servers.py's hello
handler plus /sleep, /sleep1 and /cpu), each client in its own process (wrk, or this script's
``--client``). Servers: stdlib-tuned (http.server.ThreadingHTTPServer, buffered wfile +
TCP_NODELAY), fasthttp (fasthttp.ThreadingHTTPServer), fasthttp-loop (fasthttp.LoopHTTPServer);
a fresh server process for every case, server and round, the servers' order rotating by round.

  mix     8 connections looping GET /sleep (the handler sleeps 50 ms) beside wrk -t1 -c32 on
          GET /: quick req/s, its p99, sleeping req/s (ideal 8 / 0.05 s = 160). Goals:
          quick >= 3x stdlib-tuned's, sleeping >= 140 req/s, quick p99 <= stdlib-tuned's.
  sleep1  one connection looping GET /sleep1 (1 s) while a probe sends GET / on another, 200
          a second one after the other: the probe's p50/p99/max. Goal: p99 <= the watchdog's
          bound (fasthttp.ThreadingHTTPServer.handoff_after, 4 ms) + 1 ms.
  cpu     wrk -t1 -c8 on GET /cpu (~1 ms of pure Python, calibrated here once): req/s; with
          --before DIR also fasthttp.ThreadingHTTPServer of the checkout DIR (its extension
          built in place). Goal: fasthttp >= the older ThreadingHTTPServer.
  silent  1,024 connections that send nothing, then a new client's GET / (a fresh connection
          each, median of 5); the server's threads and fds meanwhile. Goal: < 100 ms.

Medians over --rounds of each figure, ratios between servers of the same run, every goal
"met" or "NOT met" per row. Everything is bounded in time; servers are ended by PID.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import platform
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import goal_servers  # noqa: E402
import loadgen  # noqa: E402
import processes  # noqa: E402
import servers  # noqa: E402
from memory import probe, read_response  # noqa: E402
from tables import fmt, fmt_ms, fmt_x, log, median, ratio, render, summarize  # noqa: E402

Row = dict[str, Any]
CASES = ("mix", "sleep1", "cpu", "silent")
SERVERS = ("stdlib-tuned", "fasthttp", "fasthttp-loop")
BEFORE = "fasthttp-before"
REF = "stdlib-tuned"
SLEEPERS, MIX_CONNECTIONS, CPU_CONNECTIONS = 8, 32, 8
IDEAL_SLEEPING = SLEEPERS / goal_servers.SLEEP_S      # 160 req/s
SLEEPING_GOAL, QUICK_GOAL = 140.0, 3.0
PROBE_RATE = 200.0              # sleep1's probe: requests per second, one after the other
CPU_MS = 1.0                    # /cpu's work
SILENT, SILENT_TRIES, SILENT_GOAL_MS = 1024, 5, 100.0
PROBE_TIMEOUT = 5.0             # silent: each new client's GET, at most
CONNECT_SECONDS = 20.0          # silent: opening the 1,024 connections, at most
ACCEPT_SECONDS = 20.0           # silent: waiting for the server to have accepted them, at most
CLIENT_TIMEOUT = 10.0           # the clients' socket operations (a /sleep1 takes 1 s)


# --------------------------------------------------------------------------- the clients


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank *q*-th percentile of *values*; None when there is none."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else None


def client_loop(port: int, path: str, conns: int, duration: float) -> None:
    """*conns* keep-alive connections, each a thread sending GET *path* one after the other
    for *duration* s: {"requests" completed within it, "rps", "errors"}."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
             for _ in range(conns)]
    counts, errors = [0] * conns, []
    say("GO")
    deadline = time.monotonic() + duration

    def run(i: int) -> None:
        try:
            while time.monotonic() < deadline:
                socks[i].sendall(request(path))
                read_response(socks[i])
                counts[i] += time.monotonic() <= deadline
        except (OSError, ConnectionError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks:
        s.close()
    say(json.dumps({"requests": sum(counts), "rps": sum(counts) / duration,
                    "errors": len(errors), "error": errors[:1]}))


def client_probe(port: int, duration: float, rate: float) -> None:
    """GET / on one keep-alive connection, *rate* a second, each sent once the previous one
    is answered: {"probes", "p50_ms", "p99_ms", "max_ms", "error"}."""
    latencies: list[float] = []
    error = None
    req = request("/")
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as s:
        say("GO")
        start = time.perf_counter()
        try:
            for i in range(int(duration * rate)):
                time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                t0 = time.perf_counter()
                s.sendall(req)
                read_response(s)
                latencies.append((time.perf_counter() - t0) * 1e3)
        except (OSError, ConnectionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    say(json.dumps({"probes": len(latencies), "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99), "max_ms": max(latencies, default=None),
                    "error": error}))


def open_silent(port: int, count: int, seconds: float) -> tuple[list[socket.socket], list[str]]:
    """*count* connections that send nothing, within *seconds*: (them, why others failed). One at a
    time, 1 ms apart: a burst would overflow the listen backlog (http.server's is 5), and
    the kernel would drop the overflow, to be accepted only as the handshakes are retried."""
    held: list[socket.socket] = []
    failed: list[str] = []
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            failed.append(f"not opened within {seconds:g} s")
            continue
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT))
        except OSError as exc:
            failed.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.001)
    return held, failed


def _closed_by_server(s: socket.socket) -> bool:
    s.setblocking(False)    # (with a timeout, recv() would wait for it first)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def client_silent(port: int, count: int, tries: int) -> None:
    """Hold *count* silent connections; on a line from stdin, time *tries* new clients' GETs:
    {"held", "failed", "probe_ms": [...], "errors": [...], "dropped" by the server meanwhile}."""
    processes.raise_nofile(count + 256)
    socks, failed = open_silent(port, count, CONNECT_SECONDS)
    say(f"HELD {len(socks)} {len(failed)}")
    sys.stdin.readline()
    times, errors = [], []
    for _ in range(tries):
        took, why = probe(port, PROBE_TIMEOUT)
        if took is None:
            errors.append(why)
        else:
            times.append(took * 1e3)
    dropped = sum(map(_closed_by_server, socks))
    for s in socks:
        s.close()
    say(json.dumps({"held": len(socks), "failed": len(failed), "connect_error": failed[:1],
                    "probe_ms": times, "errors": errors, "dropped": dropped}))


CLIENTS: dict[str, Callable[..., None]] = {
    "loop": lambda port, path, conns, secs: client_loop(int(port), path, int(conns), float(secs)),
    "probe": lambda port, secs, rate: client_probe(int(port), float(secs), float(rate)),
    "silent": lambda port, count, tries: client_silent(int(port), int(count), int(tries)),
}


class Client:
    """One of the clients above in its own process (``--client NAME ARGS``): its first line
    awaited, then its JSON result; ended by its PID when it overruns or on any way out."""

    def __init__(self, name: str, *args: object) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--client", name, *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
            env=processes.child_env(), start_new_session=True)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def first_line(self, timeout: float) -> str:
        """Its first line (GO, HELD ...); RuntimeError if none comes within *timeout*."""
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            line = self.proc.stdout.readline() if sel.select(timeout) else b""
        if not line:
            raise RuntimeError(f"client {self.name} did not start (exit {self.proc.poll()})")
        return line.decode().strip()

    def result(self, timeout: float, send: bytes = b"") -> Row:
        """Its JSON result, once it has ended (*send*: what its stdin gets first)."""
        out, _ = self.proc.communicate(send, timeout=timeout)
        if self.proc.returncode != 0 or not out.strip():
            raise RuntimeError(f"client {self.name} failed (exit {self.proc.returncode})")
        return dict(json.loads(out.decode().strip().splitlines()[-1]))


# --------------------------------------------------------------------------- one run per case


def measure_mix(srv: processes.ServerProcess, args: argparse.Namespace) -> Row:
    with Client("loop", srv.port, "/sleep", SLEEPERS, args.duration) as sleepers:
        sleepers.first_line(30)
        res = loadgen.run_wrk(args.wrk, f"http://127.0.0.1:{srv.port}/",
                              connections=MIX_CONNECTIONS, duration=args.duration, latency=True)
        slept = sleepers.result(args.duration + 30)
    return {"quick_rps": res["rps"], "quick_p99_ms": res["p99_ms"], "sleep_rps": slept["rps"],
            "errors": res["errors"] + slept["errors"]}


def measure_sleep1(srv: processes.ServerProcess, args: argparse.Namespace) -> Row:
    # The sleeper starts first and goes on 1.5 s longer: it covers the probe's whole run.
    with Client("loop", srv.port, "/sleep1", 1, args.duration + 1.5) as sleeper:
        sleeper.first_line(30)
        with Client("probe", srv.port, args.duration, PROBE_RATE) as prober:
            got = prober.result(args.duration + 30)
        slept = sleeper.result(args.duration + 30)
    return {"p50_ms": got["p50_ms"], "p99_ms": got["p99_ms"], "max_ms": got["max_ms"],
            "probes": got["probes"], "slept": slept["requests"],
            "errors": slept["errors"] + (got["error"] is not None)}


def measure_cpu(srv: processes.ServerProcess, args: argparse.Namespace) -> Row:
    res = loadgen.run_wrk(args.wrk, f"http://127.0.0.1:{srv.port}/cpu",
                          connections=CPU_CONNECTIONS, duration=args.duration, latency=True)
    return {"rps": res["rps"], "p99_ms": res["p99_ms"], "errors": res["errors"]}


def measure_silent(srv: processes.ServerProcess, args: argparse.Namespace) -> Row:
    """The silent connections held, then (once the server has accepted them all, or after
    ACCEPT_SECONDS) the new clients timed."""
    idle, _ = srv.wait_stable(seconds=5)
    with Client("silent", srv.port, SILENT, SILENT_TRIES) as client:
        held = int(client.first_line(CONNECT_SECONDS + 30).split()[1])
        state, waited = srv.wait_stable(seconds=ACCEPT_SECONDS, fds_at_least=idle["fds"] + held)
        got = client.result(SILENT_TRIES * PROBE_TIMEOUT + 30, send=b"go\n")
    return {"probe_ms": median(got["probe_ms"]), "probe_max_ms": max(got["probe_ms"], default=None),
            "held": got["held"], "failed": got["failed"], "dropped": got["dropped"],
            "accepted": state["fds"] - idle["fds"], "accept_s": waited,
            "threads": state["threads"], "errors": len(got["errors"]),
            "error": (got["connect_error"] + got["errors"])[:1]}


MEASURE: dict[str, Callable[[processes.ServerProcess, argparse.Namespace], Row]] = {
    "mix": measure_mix, "sleep1": measure_sleep1, "cpu": measure_cpu, "silent": measure_silent}


def start_goal_server(kind: str, args: argparse.Namespace) -> processes.ServerProcess:
    """goal_servers.py KIND 0 in its own process; fasthttp-before with PYTHONPATH=--before."""
    env = processes.child_env()
    if kind == BEFORE:
        env["PYTHONPATH"] = str(args.before)
    argv = [sys.executable, str(processes.BENCH_DIR / "goal_servers.py"), kind, "0",
            str(args.cpu_iterations)]
    return processes.ServerProcess(kind, argv, env=env)


def one_run(case: str, kind: str, args: argparse.Namespace) -> Row:
    """A fresh server of *kind*, checked, warmed up, measured on *case*, ended."""
    with start_goal_server(kind, args) as srv:
        srv.wait_ready()
        servers.check_hello(srv.port)
        row = MEASURE[case](srv, args)
        if not srv.alive():
            raise RuntimeError(f"{kind} died during {case}\n{srv.log_tail()}")
    return row


def run_all(args: argparse.Namespace) -> list[Row]:
    """Every round: every case, on each of its servers (their order rotating by round)."""
    runs = []
    for rnd in range(args.rounds):
        for case in args.cases:
            kinds = args.kinds + ([BEFORE] if case == "cpu" and args.before else [])
            for kind in kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]:
                try:
                    row = one_run(case, kind, args)
                except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
                    log(f"  round {rnd + 1} {case:6s} {kind:15s} FAILED: {exc}")
                    continue
                row.update(case=case, server=kind, round=rnd + 1)
                runs.append(row)
                log(f"  round {rnd + 1} {case:6s} {kind:15s} " + "  ".join(
                    f"{k} {fmt(v, '.2f') if isinstance(v, float) else v}" for k, v in row.items()
                    if k not in ("case", "server", "round", "error") and v is not None)
                    + (f"  ({row['error'][0]})" if row.get("error") else ""))
    return runs


# --------------------------------------------------------------------------- goals and tables


def at_least(value: float | None, bound: float | None) -> bool | None:
    """value >= bound; None when either is missing."""
    return None if value is None or bound is None else value >= bound


def verdict(checks: dict[str, bool | None]) -> str:
    """'met', 'NOT met: <the goals missed>', or 'n/a: <the goals without a figure>'."""
    missed = [goal for goal, ok in checks.items() if ok is False]
    unknown = [goal for goal, ok in checks.items() if ok is None]
    if missed:
        return "NOT met: " + ", ".join(missed)
    return "n/a: " + ", ".join(unknown) if unknown else "met"


def table_mix(rows: dict[str, Row], args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    ref = rows.get(REF, {})
    goal = (f"goals: quick req/s >= {QUICK_GOAL:g}x {REF}'s, sleeping >= {SLEEPING_GOAL:g} req/s "
            f"(ideal {IDEAL_SLEEPING:g}), quick p99 <= {REF}'s")
    headers = ["server", "quick req/s", f"x {REF}", "quick p99", "sleeping req/s", "errors", "goals"]
    cells = []
    for kind, r in rows.items():
        x = ratio(r["quick_rps"], ref.get("quick_rps"))
        cells.append([kind, fmt(r["quick_rps"]), fmt_x(x), fmt_ms(r["quick_p99_ms"]),
                      fmt(r["sleep_rps"], ".1f"), str(r["errors"]),
                      "reference" if kind == REF else verdict({
                          f"quick >= {QUICK_GOAL:g}x": at_least(x, QUICK_GOAL),
                          f"sleeping >= {SLEEPING_GOAL:g}": at_least(r["sleep_rps"], SLEEPING_GOAL),
                          "p99 <= ref": at_least(ref.get("quick_p99_ms"), r["quick_p99_ms"])})])
    return (f"mix: {SLEEPERS} connections on /sleep (50 ms) beside wrk -t1 -c{MIX_CONNECTIONS} "
            f"on / ('quick')\n{goal}"), headers, cells


def table_sleep1(rows: dict[str, Row], args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    bound = args.handoff_ms + 1.0
    headers = ["server", "probes", "p50", "p99", "max", "/sleep1 done", "errors", "goal"]
    cells = [[kind, fmt(r["probes"]), fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), fmt_ms(r["max_ms"]),
              fmt(r["slept"]), str(r["errors"]),
              verdict({f"p99 <= {bound:g} ms": at_least(bound, r["p99_ms"])})]
             for kind, r in rows.items()]
    return (f"sleep1: a probe's GET / ({PROBE_RATE:g}/s, one after the other) while a handler "
            f"sleeps 1 s on another connection\ngoal: probe p99 <= handoff_after "
            f"({args.handoff_ms:g} ms) + 1 ms = {bound:g} ms"), headers, cells


def table_cpu(rows: dict[str, Row], args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    before, ref = rows.get(BEFORE, {}), rows.get(REF, {})
    headers = ["server", "req/s", "p99", "x before", f"x {REF}", "errors", "goal"]
    cells = []
    for kind, r in rows.items():
        x_before = ratio(r["rps"], before.get("rps"))
        goal = ("reference" if kind == BEFORE else "-" if kind != "fasthttp"
                else verdict({"--before": None}) if not before
                else verdict({"fasthttp >= before": at_least(x_before, 1.0)}))
        cells.append([kind, fmt(r["rps"]), fmt_ms(r["p99_ms"]), fmt_x(x_before),
                      fmt_x(ratio(r["rps"], ref.get("rps"))), str(r["errors"]), goal])
    return (f"cpu: wrk -t1 -c{CPU_CONNECTIONS} on /cpu ({args.cpu_iterations} turns of a Python "
            f"loop, {CPU_MS:g} ms here)\ngoal: fasthttp (ThreadingHTTPServer) req/s >= the older "
            f"ThreadingHTTPServer's (--before {args.before or 'not given'})"), headers, cells


def table_silent(rows: dict[str, Row], args: argparse.Namespace) -> tuple[str, list[str], list[list[str]]]:
    headers = ["server", "held / failed", "accepted", "server threads", "new client's GET",
               "slowest", "dropped", "errors", "goal"]
    cells = [[kind, f"{fmt(r['held'])} / {fmt(r['failed'])}",
              f"{fmt(r['accepted'])} in {fmt(r['accept_s'], '.1f')} s", fmt(r["threads"]),
              fmt_ms(r["probe_ms"]), fmt_ms(r["probe_max_ms"]), fmt(r["dropped"]), str(r["errors"]),
              verdict({f"< {SILENT_GOAL_MS:g} ms": r["probe_ms"] is not None
                       and r["probe_ms"] < SILENT_GOAL_MS})]
             for kind, r in rows.items()]
    return (f"silent: {SILENT:,} connections that send nothing, then a new client's GET / "
            f"(median of {SILENT_TRIES}, a fresh connection each)\ngoal: < {SILENT_GOAL_MS:g} ms"
            " (accepted: the server's new fds once steady, and the wait for it;"
            " dropped: silent connections it had closed by the end)"), headers, cells


FIELDS = {"mix": ("quick_rps", "quick_p99_ms", "sleep_rps"),
          "sleep1": ("p50_ms", "p99_ms", "max_ms", "probes", "slept"),
          "cpu": ("rps", "p99_ms"),
          "silent": ("probe_ms", "probe_max_ms", "held", "failed", "dropped", "accepted",
                     "accept_s", "threads")}
TABLES = {"mix": table_mix, "sleep1": table_sleep1, "cpu": table_cpu, "silent": table_silent}


def summarize_runs(runs: list[Row], args: argparse.Namespace) -> dict[str, dict[str, Row]]:
    """{case: {server: the medians of its runs, errors summed}}"""
    out = {}
    for case in args.cases:
        rows = summarize((r for r in runs if r["case"] == case), by=("server",),
                         medians=FIELDS[case], sums=("errors",))
        out[case] = {key[0]: row for key, row in rows.items()}
    return out


def report(summary: dict[str, dict[str, Row]], args: argparse.Namespace) -> None:
    """Each case's table (and with --markdown, all of them again in Markdown)."""
    tables = {case: TABLES[case](rows, args) for case, rows in summary.items() if rows}
    for title, headers, cells in tables.values():
        log(f"\n{title}\n(medians of {args.rounds} round(s))")
        log(render(headers, cells))
    if args.markdown:
        for title, headers, cells in tables.values():
            log("\n" + title.replace("\n", "; ") + "\n")
            log(render(headers, cells, markdown=True))


# --------------------------------------------------------------------------- set-up and main


def calibrate(ms: float) -> int:
    """Turns of goal_servers.spin that take *ms* ms here: the fastest of 60 tries (~0.2 s; a
    few tries vary twofold on a shared machine)."""
    n = 100_000
    best = min(timeit.repeat(functools.partial(goal_servers.spin, n), number=1, repeat=60))
    return max(1, round(n * ms / 1e3 / best))


def watchdog_ms() -> float:
    """fasthttp.ThreadingHTTPServer.handoff_after in ms (4 ms when it cannot be read)."""
    try:
        return float(servers.import_fasthttp().ThreadingHTTPServer.handoff_after) * 1e3
    except (ImportError, AttributeError):
        return 4.0


def describe_before(path: Path) -> str:
    """fasthttp of the checkout *path*, as its server will import it; SystemExit unless it
    imports from there, C-accelerated."""
    code = ("import fasthttp; print(fasthttp.__file__, getattr(fasthttp, 'accelerated', False), "
            "getattr(fasthttp, '__version__', '?'))")
    env = {**processes.child_env(), "PYTHONPATH": str(path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    file, accelerated, version = (done.stdout.split() + ["", "", ""])[:3]
    if done.returncode or not file or not Path(file).resolve().is_relative_to(path):
        raise SystemExit(f"--before {path}: fasthttp does not import from there\n{done.stderr[-800:]}")
    if accelerated != "True":
        raise SystemExit(f"--before {path}: fasthttp is not C-accelerated there; build it in place:"
                         f"\n    cd {path} && {sys.executable} setup.py build_ext --inplace")
    return f"fasthttp {version} (C-accelerated) from {file}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round, 2 s per run")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated (default: all)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated (default: all)")
    ap.add_argument("--before", metavar="DIR", help="an older checkout, its extension built in "
                    "place: its ThreadingHTTPServer joins the cpu case")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    ap.add_argument("--json", metavar="PATH", help="results (default bench/results/engine-goals-<time>.json)")
    ap.add_argument("--install-wrk", action="store_true", help="apt-get install -y wrk if missing")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    args.cases = [c for c in args.cases.split(",") if c]
    args.wanted = [s for s in args.servers.split(",") if s]
    for given, known in ((args.cases, CASES), (args.wanted, SERVERS)):
        if set(given) - set(known):
            ap.error(f"unknown: {', '.join(sorted(set(given) - set(known)))} (known: {', '.join(known)})")
    args.before = Path(args.before).resolve() if args.before else None
    return args


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """wrk, the servers that can run, the /cpu loop, the watchdog's bound, the older
    checkout: into *args*; the run's conditions (the JSON's meta), logged."""
    args.wrk = loadgen.find_wrk(args.install_wrk) if {"mix", "cpu"} & set(args.cases) else None
    if {"mix", "cpu"} & set(args.cases) and not args.wrk:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or pass --install-wrk)")
    args.kinds, skipped = servers.available(args.wanted)
    for kind, why in skipped.items():
        log(f"skip {kind}: {why}")
    args.cpu_iterations = calibrate(CPU_MS)
    args.handoff_ms = watchdog_ms()
    meta = {"python": f"{platform.python_implementation()} {platform.python_version()}",
            "fasthttp": servers.fasthttp_description(),
            "before": describe_before(args.before) if args.before else None,
            "wrk": loadgen.wrk_version(args.wrk) if args.wrk else None,
            "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "rounds": args.rounds,
            "duration_s": args.duration, "cases": args.cases, "servers": args.kinds,
            "skipped": skipped, "cpu_iterations": args.cpu_iterations,
            "handoff_ms": args.handoff_ms}
    log(f"engine goals: {', '.join(args.cases)} on {', '.join(args.kinds)}; {args.rounds} round(s)"
        f" x {args.duration:g} s; {meta['python']}; load average {meta['loadavg'][0]:.1f}")
    for line in filter(None, (meta["fasthttp"], meta["before"] and f"before: {meta['before']}")):
        log(line)
    return meta


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"] and len(argv) > 1 and argv[1] in CLIENTS:
        CLIENTS[argv[1]](*argv[2:])
        return 0
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):   # unwind as on Ctrl-C: servers ended by PID
        signal.signal(sig, signal.default_int_handler)
    started = dt.datetime.now(dt.timezone.utc)
    meta = prepare(args)
    if not args.kinds:
        log("no server to run")
        return 2
    try:
        runs = run_all(args)
    except KeyboardInterrupt:
        log("interrupted: servers and clients stopped")
        return 130
    summary = summarize_runs(runs, args)
    report(summary, args)
    out = (Path(args.json) if args.json
           else processes.RESULTS_DIR / f"engine-goals-{started:%Y%m%d-%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta["seconds"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds())
    out.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
