#!/usr/bin/env python3
"""End-to-end load test on 127.0.0.1: each server in its own process, driven by wrk.

    python bench/load.py                 # 3 rounds x 5 s per server and concurrency
    python bench/load.py --quick         # 1 round x 2 s: a smoke test, under a minute
    python bench/load.py --chart bench/results/load.png --install-peers --install-wrk

Servers (bench/servers.py, ``python bench/servers.py KIND PORT``), all answering GET / with
200, Content-Type, Content-Length and a 13-byte body, HTTP/1.1 keep-alive, no logging:

  stdlib          http.server.ThreadingHTTPServer as-is
  stdlib-tuned    the same + buffered wfile (wbufsize = -1) + TCP_NODELAY
  fasthttp        fasthttp.ThreadingHTTPServer, drop-in (skipped if fasthttp is not importable)
  fasthttp-tuned  the same + stdlib-tuned's two fixes; only when asked for with --servers
  fasthttp-loop   fasthttp.LoopHTTPServer: the same handler on one event loop
  uvicorn         uvicorn + httptools, asyncio loop, raw ASGI app  } only if uvicorn is
  uvicorn-uvloop  uvicorn + httptools, uvloop loop, raw ASGI app   } importable (--install-peers)
  granian         granian, WSGI, one worker, one runtime and one blocking thread; only if
                  granian is importable (--install-peers)
  nginx           nginx-light, one worker, ``return 200`` with the same body, keep-alive, no
                  access log; only if nginx is installed (--install-nginx: apt-get nginx-light)

wrk runs with -t1 at each concurrency (default -c1 and -c32) for --duration seconds; servers
alternate within each of --rounds rounds (the order rotates every round), so slow drifts of
a noisy machine spread over all of them. Per run: req/s, p50 and p99 latency (wrk --latency)
and the server's CPU time per request (utime + stime of the server process from
/proc/PID/stat, before and after the run, over the requests wrk completed). The summary gives
medians over rounds and ratios to nginx, the stdlib (tuned and as-is) and uvicorn; the raw runs
and the summary go to a JSON file in bench/results/, and with --chart to a PNG bar chart.

Every server process is started here and ended here, by PID (also on Ctrl-C, SIGTERM or an
error). Only 127.0.0.1 is ever contacted. No timing is asserted: medians and ratios only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # noqa: E402
import processes  # noqa: E402
import servers  # noqa: E402
from tables import add_ratios, fmt, fmt_ms, fmt_x, log, render, summarize  # noqa: E402

ALL_SERVERS = list(servers.KINDS)
# In table and chart order: the references on the outside, fasthttp in the middle.
DEFAULT_SERVERS = ["nginx", "fasthttp-loop", "fasthttp", "granian", "uvicorn-uvloop", "uvicorn",
                   "stdlib-tuned", "stdlib"]
REFERENCES = ["nginx", "stdlib-tuned", "stdlib", "uvicorn-uvloop"]   # req/s ratios
CPU_REFERENCES = ["nginx", "stdlib-tuned"]                           # CPU-per-request ratios
PEER_PACKAGES = ["uvicorn", "httptools", "uvloop", "granian"]


# --------------------------------------------------------------------------- prerequisites


def ensure_peers(install: bool) -> None:
    missing = [p for p in PEER_PACKAGES if not processes.have_module(p)]
    if missing and install:
        log(f"installing peers into {sys.executable}: {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=False)
        importlib.invalidate_caches()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all servers (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round, 2 s per run")
    ap.add_argument("--connections", default="1,32", help="wrk -c values (default 1,32)")
    ap.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                    help=f"comma-separated, from {','.join(ALL_SERVERS)} (default: all but fasthttp-tuned)")
    ap.add_argument("--pin", action="store_true", help="each server on CPU 0 and wrk on CPU 1 "
                    "(taskset): one core per server, as nginx's one worker; less noise on 2 cores")
    ap.add_argument("--markdown", action="store_true", help="also print the summary as Markdown tables")
    ap.add_argument("--request", metavar="NAME", help="send the headers of tests/data/requests/NAME.http "
                    "(body-less) instead of wrk's minimal GET")
    ap.add_argument("--json", metavar="PATH", help="results file (default bench/results/load-<time>.json)")
    ap.add_argument("--chart", metavar="PATH", help="also write a PNG bar chart of req/s")
    ap.add_argument("--install-peers", action="store_true", help="pip install uvicorn httptools uvloop granian if missing")
    ap.add_argument("--install-wrk", action="store_true", help="apt-get install -y wrk if missing")
    ap.add_argument("--install-nginx", action="store_true", help="apt-get install -y nginx-light if missing")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    args.conns = [int(c) for c in args.connections.split(",") if c.strip()]
    args.wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(args.wanted) - set(ALL_SERVERS))
    if unknown:
        ap.error(f"unknown server(s): {', '.join(unknown)}")
    return args


def prerequisites(args: argparse.Namespace) -> tuple[str | None, list[str], dict[str, str]]:
    """(wrk, the servers to run, {server: why skipped}), installing what was asked for."""
    wrk = loadgen.find_wrk(args.install_wrk)
    if not wrk:
        log("wrk is not installed. Install it with:\n    apt-get install -y wrk\n"
            "(or run this script with --install-wrk)")
        return None, [], {}
    ensure_peers(args.install_peers)
    if "nginx" in args.wanted:
        processes.find_tool("nginx", "nginx-light", args.install_nginx, which=servers.nginx_binary)
    kinds, skipped = servers.available(args.wanted)
    for kind, why in skipped.items():
        log(f"skip {kind}: {why}")
    return wrk, kinds, skipped


# --------------------------------------------------------------------------- the runs


def start_servers(stack: contextlib.ExitStack, kinds: list[str], logdir: Path,
                  skipped: dict[str, str], pin: bool = False) -> dict[str, processes.ServerProcess]:
    """Every server started, then each awaited and checked; those that fail are stopped,
    dropped from *kinds* and noted in *skipped*."""
    cpu = 0 if pin else None
    procs = {kind: stack.enter_context(servers.start(kind, logdir, cpu=cpu)) for kind in kinds}
    for kind, p in list(procs.items()):
        try:
            p.wait_ready()
            servers.check_hello(p.port)
        except (RuntimeError, OSError, http.client.HTTPException) as exc:
            log(f"skip {kind}: {exc}")
            skipped[kind] = f"failed to start or answer: {str(exc).splitlines()[0]}"
            p.stop()
            del procs[kind]
            kinds.remove(kind)
            continue
        log(f"  {kind}: pid {p.pid}, port {p.port}")
    return procs


def one_run(wrk: str, p: processes.ServerProcess, connections: int, duration: float,
            script: Path | None, cpu: int | None = None) -> dict[str, Any]:
    """wrk (on *cpu*) against one server, with the server's CPU time over the run."""
    cpu0 = p.cpu_seconds()
    res = loadgen.run_wrk(wrk, f"http://127.0.0.1:{p.port}/", connections=connections,
                          duration=duration, latency=True, script=script, cpu=cpu)
    cpu = p.cpu_seconds() - cpu0
    if not p.alive():
        raise RuntimeError(f"{p.name} died during the run\n{p.log_tail()}")
    res.update(server=p.name, connections=connections, cpu_s=cpu,
               cpu_ticks=round(cpu * processes.CLK_TCK),
               cpu_us_per_req=(cpu / res["requests"] * 1e6) if res["requests"] else None)
    return res


def run_rounds(wrk: str, procs: dict[str, processes.ServerProcess], kinds: list[str],
               args: argparse.Namespace, script: Path | None) -> list[dict[str, Any]]:
    """--rounds rounds; in each, every server at every concurrency (the order rotates)."""
    runs = []
    for rnd in range(args.rounds):
        for kind in kinds[rnd % len(kinds):] + kinds[: rnd % len(kinds)]:
            for c in args.conns:
                res = one_run(wrk, procs[kind], c, args.duration, script,
                              cpu=1 if args.pin else None)
                res["round"] = rnd + 1
                runs.append(res)
                log(f"  round {rnd + 1} {kind:15s} -c{c:<3d} {fmt(res['rps']):>8s} req/s  "
                    f"p50 {fmt_ms(res['p50_ms']):>9s}  p99 {fmt_ms(res['p99_ms']):>9s}  "
                    f"CPU {fmt(res['cpu_us_per_req'], '.1f', ' us/req'):>12s}"
                    + (f"  errors {res['errors']}" if res["errors"] else ""))
    return runs


# --------------------------------------------------------------------------- summary


def summarize_runs(runs: list[dict[str, Any]], kinds: list[str], conns: list[int]) -> dict[str, Any]:
    """{str(connections): {server: medians, errors, ratios to the references}}"""
    rows = summarize(runs, by=("connections", "server"),
                     medians=("rps", "p50_ms", "p99_ms", "cpu_us_per_req"),
                     sums=("errors",), mins=("cpu_ticks",))
    summary: dict[str, Any] = {}
    for c in conns:
        mine = {k: rows[(c, k)] for k in kinds if (c, k) in rows}
        add_ratios(mine, "rps", REFERENCES)
        add_ratios(mine, "cpu_us_per_req", CPU_REFERENCES, higher_better=False, key="cpu_ratio")
        summary[str(c)] = mine
    return summary


def print_summary(summary: dict[str, Any], kinds: list[str]) -> None:
    refs = [r for r in REFERENCES if any(r in rows for rows in summary.values())]
    cpu_refs = [r for r in CPU_REFERENCES if any(r in rows for rows in summary.values())]
    headers = (["server", "req/s", "p50", "p99", "CPU/req"] + [f"CPU {r}/x" for r in cpu_refs]
               + [f"x/{r}" for r in refs] + ["errors"])
    for c, rows in summary.items():
        table = [[kind, fmt(row["rps"]), fmt_ms(row["p50_ms"]), fmt_ms(row["p99_ms"]),
                  fmt(row["cpu_us_per_req"], ".1f", " us"),
                  *(fmt_x(row["cpu_ratio"].get(r)) for r in cpu_refs),
                  *(fmt_x(row["rps_ratio"].get(r)) for r in refs), str(row["errors"])]
                 for kind in kinds if (row := rows.get(kind))]
        log(f"\n-c{c} (medians of {max(r['runs'] for r in rows.values())} run(s); x/ref = req/s ratio, "
            f">1 = more throughput than ref; CPU ref/x > 1 = less server CPU per request than ref)")
        log(render(headers, table))
        coarse = [k for k in kinds if k in rows and rows[k]["cpu_ticks"] < 50]
        if coarse:
            log(f"(CPU/req of {', '.join(coarse)} is coarse: under 50 clock ticks of "
                f"1/{processes.CLK_TCK} s per run in /proc/PID/stat)")


def print_markdown(summary: dict[str, Any], kinds: list[str]) -> None:
    """One Markdown table, all concurrencies side by side (the README's form)."""
    head = ["server"]
    for c in summary:
        head += [f"-c{c} req/s", f"-c{c} p99", f"-c{c} CPU/req", f"-c{c} x/nginx", f"-c{c} x/stdlib-tuned"]
    table = []
    for kind in kinds:
        cells = [kind]
        for rows in summary.values():
            row = rows.get(kind)
            cells += ["-"] * 5 if row is None else [
                f"{row['rps']:,.0f}" if row["rps"] else "-", fmt_ms(row["p99_ms"]),
                fmt(row["cpu_us_per_req"], ".1f", " µs"),
                *(fmt_x(row["rps_ratio"].get(ref)) for ref in ("nginx", "stdlib-tuned"))]
        table.append(cells)
    log("\n" + render(head, table, markdown=True))


def write_chart(summary: dict, kinds: list[str], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("--chart: matplotlib is not installed, no chart written (pip install matplotlib)")
        return
    conns = list(summary)
    shown = [k for k in kinds if any(k in summary[c] for c in conns)]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(shown) + 2), 4.5))
    width = 0.8 / max(1, len(conns))
    for i, c in enumerate(conns):
        xs = [j + (i - (len(conns) - 1) / 2) * width for j in range(len(shown))]
        ys = [summary[c].get(k, {}).get("rps") or 0 for k in shown]
        bars = ax.bar(xs, ys, width, label=f"-c{c}")
        ax.bar_label(bars, labels=[f"{y:,.0f}" if y else "" for y in ys], fontsize=7, padding=2)
    ax.set_xticks(range(len(shown)), shown, rotation=15)
    values = [summary[c][k]["rps"] for c in conns for k in shown if summary[c].get(k, {}).get("rps")]
    log_scale = bool(values) and max(values) / min(values) > 50
    if log_scale:  # a 40 ms-per-request server next to 10k req/s ones would be invisible
        ax.set_yscale("log")
    ax.set_ylabel("requests/s (median" + (", log scale)" if log_scale else ")"))
    ax.set_title(title, fontsize=9)
    ax.legend(title="wrk -t1")
    ax.margins(y=0.12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    log(f"chart: {path}")


# --------------------------------------------------------------------------- main


def _raise_system_exit(signum, frame):
    raise SystemExit(128 + signum)


def describe(args: argparse.Namespace, wrk: str, kinds: list[str], skipped: dict[str, str],
             started: dt.datetime) -> dict[str, Any]:
    """The run's conditions (the JSON's meta), logged."""
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "fasthttp": servers.fasthttp_description(),
        "wrk": loadgen.wrk_version(wrk),
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "connections": args.conns,
        "request": args.request or "wrk default (GET / with Host only)",
        "servers": kinds,
        "skipped": skipped,
        "pinned": "servers on CPU 0, wrk on CPU 1" if args.pin else "no",
    }
    log(f"load test: {', '.join(kinds)}; -c {','.join(map(str, args.conns))}; "
        f"{args.rounds} round(s) x {args.duration:g} s; {meta['python']}; {meta['wrk']}; "
        f"pinned: {meta['pinned']}")
    if meta["fasthttp"]:
        log(meta["fasthttp"])
    return meta


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGHUP, _raise_system_exit)
    wrk, kinds, skipped = prerequisites(args)
    if not wrk:
        return 2
    if not kinds:
        log("no server to run")
        return 2
    started = dt.datetime.now(dt.timezone.utc)
    meta = describe(args, wrk, kinds, skipped, started)
    with tempfile.TemporaryDirectory(prefix="fasthttp-load-") as tmp, contextlib.ExitStack() as stack:
        script = (loadgen.corpus_script(processes.REQUESTS_DIR / f"{args.request}.http", Path(tmp))
                  if args.request else None)
        try:
            procs = start_servers(stack, kinds, Path(tmp), skipped, pin=args.pin)
            if not kinds:
                log("no server could be started")
                return 2
            runs = run_rounds(wrk, procs, kinds, args, script)
        except KeyboardInterrupt:
            log("interrupted: stopping servers")
            return 130
    summary = summarize_runs(runs, kinds, args.conns)
    print_summary(summary, kinds)
    if args.markdown:
        print_markdown(summary, kinds)
    processes.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = Path(args.json) if args.json else processes.RESULTS_DIR / f"load-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out}")
    if args.chart:
        title = (f"hello world, wrk -t1, {args.rounds} x {args.duration:g} s, "
                 f"{meta['python']}, {os.cpu_count()} cores")
        write_chart(summary, kinds, Path(args.chart), title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
