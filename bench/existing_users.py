#!/usr/bin/env python3
"""Existing users of http.server, stock vs after `fasthttp.install()`: they must never get slower.

    python bench/existing_users.py            # 3 runs x 3 s per server, impl and concurrency
    python bench/existing_users.py --quick    # 1 run x 1 s: a smoke test (~40 s)
    python bench/existing_users.py --profile werkzeug [--native]   # py-spy both impls of one server

Servers (KIND), each in its own process on 127.0.0.1 and a free port, started twice: "stock"
(the standard library's http.server) and "fasthttp" (the launcher calls `fasthttp.install()`
BEFORE importing the user's module, so the module's `from http.server import ...` gets ours):

  werkzeug           werkzeug.serving.run_simple, a 13-byte WSGI app (HTTP/1.0, closes)
  werkzeug-threaded  the same with threaded=True (werkzeug then speaks HTTP/1.1, keep-alive)
  wsgiref            wsgiref.simple_server.make_server, the same WSGI app (HTTP/1.0, closes)
  xmlrpc             xmlrpc.server.SimpleXMLRPCServer, one function, driven by an XML-RPC POST
  prometheus         prometheus_client.start_http_server, GET /metrics
  static             `python -m http.server` vs `python -m fasthttp`: GET of a 4 KB file
                     (the CLIs' default HTTP/1.0: one connection per request)
  static-http11      the same with `-p HTTP/1.1` (keep-alive)

Every server keeps its default logging (stderr, to a file here): what a user runs is what is
measured. The load is wrk (-t1, -c per --connections) or, without wrk, a Python client in its
own process. Runs interleave stock and fasthttp (the one going first alternates per run); the
table shows medians: req/s of each, their ratio (fasthttp/stock, > 1 = faster) and the server's
CPU per request (utime + stime from /proc/PID/stat around the run, all threads, over the requests
completed) with its ratio (stock/fasthttp, > 1 = less CPU). Results also go to bench/results/existing_users.json.

Only 127.0.0.1 is contacted; every process is started and ended here, by PID. No timing is
asserted. This file is also the launcher (--serve KIND --impl IMPL) and the fallback client
(--client), so it must not import http.server at the top: install() has to come first.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # noqa: E402
import processes  # noqa: E402
from tables import add_ratios, fmt, fmt_x, log, render, summarize  # noqa: E402

RESULTS_JSON = processes.RESULTS_DIR / "existing_users.json"
IMPLS = ("stock", "fasthttp")
BODY = b"Hello, world!"
STATIC_FILE = "file4k.bin"
STATIC_SIZE = 4096
XMLRPC_BODY = (b"<?xml version='1.0'?>\n<methodCall>\n<methodName>add</methodName>\n<params>\n"
               b"<param>\n<value><int>2</int></value>\n</param>\n"
               b"<param>\n<value><int>3</int></value>\n</param>\n</params>\n</methodCall>\n")
# What the launcher prints (with the server's own PID: py-spy may run it as a child), and what
# the CLIs print once they listen.
READY = (re.compile(rb"READY (?P<port>\d+) (?P<pid>\d+) (?P<base>\S+(?: \w+)?)\n"),
         re.compile(rb"Serving HTTP on \S+ port (?P<port>\d+)"))


class Kind:
    """One server: the request that drives it and what its answer must contain."""

    def __init__(self, name: str, path: str = "/", expect: bytes = BODY, method: str = "GET",
                 body: bytes = b"", content_type: str = "", cli_args: tuple[str, ...] | None = None):
        self.name, self.path, self.expect, self.method = name, path, expect, method
        self.body, self.content_type = body, content_type
        self.cli_args = cli_args  # a CLI (`python -m ...`) rather than our launcher

    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type} if self.content_type else {}


KINDS = {k.name: k for k in [
    Kind("werkzeug"),
    Kind("werkzeug-threaded"),
    Kind("wsgiref"),
    Kind("xmlrpc", "/RPC2", b"<int>5</int>", "POST", XMLRPC_BODY, "text/xml"),
    Kind("prometheus", "/metrics", b"# TYPE "),
    Kind("static", "/" + STATIC_FILE, b"\xa5" * 16, cli_args=()),
    Kind("static-http11", "/" + STATIC_FILE, b"\xa5" * 16, cli_args=("-p", "HTTP/1.1")),
]}
PEERS = {"werkzeug": "werkzeug", "werkzeug-threaded": "werkzeug", "prometheus": "prometheus_client"}


# --------------------------------------------------------------------------- launcher (own process)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def serve(kind: str, impl: str) -> None:
    """Serve KIND as its users do; print `READY <port> <pid> <module of http.server in use>`."""
    if "http.server" in sys.modules:
        raise SystemExit("http.server was imported before install(): the launcher is broken")
    if impl == "fasthttp":
        import fasthttp  # noqa: PLC0415

        fasthttp.install()

    def ready(port: int, handler_class: Any) -> None:
        # Which http.server the user's handler really derives from (not just what we asked).
        base = next(c.__module__ for c in handler_class.__mro__ if c.__name__ == "BaseHTTPRequestHandler")
        extra = ""
        if base.startswith("fasthttp"):
            import fasthttp  # noqa: PLC0415

            extra = " accelerated" if fasthttp.accelerated else " pure"
        sys.stdout.write(f"READY {port} {os.getpid()} {base}{extra}\n")
        sys.stdout.flush()

    if kind.startswith("werkzeug"):
        from werkzeug import serving  # noqa: PLC0415

        # run_simple has no way to report a port 0 it bound: pick one first (localhost only).
        port = processes.free_port()
        ready(port, serving.WSGIRequestHandler)
        serving.run_simple("127.0.0.1", port, wsgi_app, threaded=kind == "werkzeug-threaded")
    elif kind == "wsgiref":
        from wsgiref.simple_server import make_server  # noqa: PLC0415

        httpd = make_server("127.0.0.1", 0, wsgi_app)
        ready(httpd.server_port, httpd.RequestHandlerClass)
        httpd.serve_forever()
    elif kind == "xmlrpc":
        from xmlrpc.server import SimpleXMLRPCServer  # noqa: PLC0415

        with SimpleXMLRPCServer(("127.0.0.1", 0)) as xmlrpc_server:
            xmlrpc_server.register_function(lambda a, b: a + b, "add")
            ready(xmlrpc_server.server_address[1], xmlrpc_server.RequestHandlerClass)
            xmlrpc_server.serve_forever()
    elif kind == "prometheus":
        from prometheus_client import start_http_server  # noqa: PLC0415

        started = start_http_server(0, addr="127.0.0.1")
        if not isinstance(started, tuple):  # prometheus_client < 0.20 returns None
            raise SystemExit("prometheus_client too old to report its port: pip install -U prometheus_client")
        httpd, thread = started
        ready(httpd.server_port, httpd.RequestHandlerClass)
        thread.join()  # a daemon thread serves; keep the process alive
    else:
        raise SystemExit(f"unknown server {kind}")


# --------------------------------------------------------------------------- fallback client (own process)


def client(port: int, kind: Kind, connections: int, duration: float) -> None:
    """Without wrk: `connections` threads, each one connection (http.client reopens it when the
    server closes), sending KIND's request for `duration` seconds. Prints a JSON line."""
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.monotonic() + duration

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request(kind.method, kind.path, body=kind.body or None, headers=kind.headers())
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"requests": sum(counts), "errors": sum(errors), "elapsed_s": time.monotonic() - t0}))


# --------------------------------------------------------------------------- orchestrator


def start(kind: Kind, impl: str, tmpdir: Path, profile_to: Path | None = None,
          native: bool = False) -> processes.ServerProcess:
    """KIND served by IMPL in its own process (or py-spy recording it into *profile_to*)."""
    if kind.cli_args is not None:
        module = "fasthttp" if impl == "fasthttp" else "http.server"
        cmd = [sys.executable, "-m", module, "0", "--bind", "127.0.0.1",
               "--directory", str(tmpdir / "www"), *kind.cli_args]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", kind.name, "--impl", impl]
    if profile_to is not None:
        cmd = [find_py_spy() or "py-spy", "record", "--rate", "250", "--format", "raw",
               *(["--native"] if native else []), "--output", str(profile_to), "--", *cmd]
    return processes.ServerProcess(f"{kind.name}/{impl}", cmd, ready=READY,
                                   log=tmpdir / f"{kind.name}-{impl}.log")


def base_of(srv: processes.ServerProcess) -> str:
    """The module whose BaseHTTPRequestHandler the launcher's handler derives from ('?': a CLI)."""
    base = srv.ready_match.groupdict().get("base") if srv.ready_match else None
    return base.decode() if base else "?"


def wait_and_check(srv: processes.ServerProcess, kind: Kind, impl: str, warmup_s: float) -> None:
    """Ready, the right http.server underneath, the right answer; then a short warm-up."""
    srv.wait_ready()
    under_py_spy = srv.proc.args[0] != sys.executable
    if under_py_spy and srv.pid == srv.proc.pid:  # a CLI (no PID in its line): py-spy's child
        srv.pid = int(Path(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read_text().split()[0])
    want = "fasthttp" if impl == "fasthttp" else "http"
    if kind.cli_args is None and not base_of(srv).startswith(want + "."):
        raise RuntimeError(f"{srv.name}: the handler derives from {base_of(srv)}'s BaseHTTPRequestHandler")
    deadline = time.monotonic() + max(warmup_s, 0.05)
    n = 0
    while n == 0 or time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request(kind.method, kind.path, body=kind.body or None, headers=kind.headers())
            resp = conn.getresponse()
            body = resp.read()
        except ConnectionRefusedError:  # werkzeug binds just after READY
            if time.monotonic() > deadline + 10:
                raise
            time.sleep(0.05)
            continue
        finally:
            conn.close()
        if resp.status != 200 or kind.expect not in body:
            raise RuntimeError(f"{srv.name}: unexpected answer {resp.status} {body[:200]!r}")
        n += 1


def drive(wrk: str | None, srv: processes.ServerProcess, kind: Kind, connections: int,
          duration: float, tmpdir: Path) -> dict[str, Any]:
    """One run: (requests, req/s, errors) from wrk or the fallback client."""
    if wrk:
        script = None if kind.method == "GET" else loadgen.wrk_script(
            tmpdir / f"{kind.name}.lua", kind.method, headers=list(kind.headers().items()), body=kind.body)
        res = loadgen.run_wrk(wrk, f"http://127.0.0.1:{srv.port}{kind.path}", connections=connections,
                              duration=duration, script=script)
        return {"requests": res["requests"], "rps": res["rps"] or 0.0, "errors": res["errors"]}
    code, out, err = processes.run_bounded(
        [sys.executable, str(Path(__file__).resolve()), "--client", str(srv.port), kind.name,
         str(connections), str(duration)], timeout=duration + 60)
    if code != 0:
        raise RuntimeError(f"load generator failed ({code}): {err or out}")
    res = json.loads(out.strip().splitlines()[-1])
    return {"requests": res["requests"], "rps": res["requests"] / res["elapsed_s"], "errors": res["errors"]}


def one_run(wrk: str | None, srv: processes.ServerProcess, kind: Kind, impl: str, c: int,
            duration: float, tmpdir: Path) -> dict[str, Any]:
    """drive(), with the server's CPU time over the run."""
    cpu0 = srv.cpu_seconds()
    res = drive(wrk, srv, kind, c, duration, tmpdir)
    cpu = srv.cpu_seconds() - cpu0
    if not srv.alive():
        raise RuntimeError(f"{srv.name} died\n{srv.log_tail()}")
    res.update(server=kind.name, impl=impl, connections=c, cpu_s=cpu,
               cpu_ticks=round(cpu * processes.CLK_TCK),
               cpu_us_per_req=cpu / res["requests"] * 1e6 if res["requests"] else None)
    return res


def run_all(wrk: str | None, srvs: dict[tuple[str, str], processes.ServerProcess],
            kinds: list[Kind], args: argparse.Namespace, tmpdir: Path) -> list[dict[str, Any]]:
    runs = []
    for run in range(args.runs):
        for k, kind in enumerate(kinds):
            for j, c in enumerate(args.conns):
                # Who goes first alternates from run to run for each pair.
                for impl in IMPLS if (run + k + j) % 2 == 0 else IMPLS[::-1]:
                    srv = srvs[(kind.name, impl)]
                    res = one_run(wrk, srv, kind, impl, c, args.duration, tmpdir)
                    res["run"] = run + 1
                    runs.append(res)
                    log(f"  run {run + 1} {srv.name:26s} -c{c:<3d} {res['rps']:9.0f} req/s  "
                        f"CPU {res['cpu_us_per_req'] or 0:7.0f} us/req"
                        + (f"  errors {res['errors']}" if res["errors"] else ""))
    return runs


def summarize_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per server and -c: each impl's medians, and fasthttp against stock (> 1: better)."""
    by_impl = summarize(runs, by=("server", "connections", "impl"), medians=("rps", "cpu_us_per_req"),
                        sums=("errors",), mins=("cpu_ticks",))
    rows = []
    for server, conns in dict.fromkeys(key[:2] for key in by_impl):
        impls = {impl: by_impl[(server, conns, impl)] for impl in IMPLS if (server, conns, impl) in by_impl}
        add_ratios(impls, "rps", ["stock"])
        add_ratios(impls, "cpu_us_per_req", ["stock"], higher_better=False, key="cpu_ratio")
        rows.append({"server": server, "connections": conns, **impls})
    return rows


def print_table(rows: list[dict[str, Any]], nruns: int) -> None:
    def get(row: dict[str, Any], impl: str, field: str) -> Any:
        return row.get(impl, {}).get(field)

    headers = ["server", "-c", "stock req/s", "fasthttp req/s", "ratio", "stock CPU/req", "fasthttp CPU/req",
               "CPU ratio", "errors"]
    table = [[r["server"], str(r["connections"]), fmt(get(r, "stock", "rps")), fmt(get(r, "fasthttp", "rps")),
              fmt_x((get(r, "fasthttp", "rps_ratio") or {}).get("stock")),
              fmt(get(r, "stock", "cpu_us_per_req"), ".0f", " us"),
              fmt(get(r, "fasthttp", "cpu_us_per_req"), ".0f", " us"),
              fmt_x((get(r, "fasthttp", "cpu_ratio") or {}).get("stock")),
              f"{get(r, 'stock', 'errors')}/{get(r, 'fasthttp', 'errors')}"] for r in rows]
    log(f"\nmedians of {nruns} run(s); ratio = fasthttp/stock req/s (>= 1: not slower); "
        "CPU ratio = stock/fasthttp server CPU per request (>= 1: not more); errors stock/fasthttp")
    log(render(headers, table))
    coarse = sorted({r["server"] for r in rows if min(get(r, i, "cpu_ticks") or 0 for i in IMPLS) < 50})
    if coarse:
        log(f"(CPU/req of {', '.join(coarse)}: under 50 ticks of 1/{processes.CLK_TCK} s in a run, coarse)")


def summarize_profile(raw: Path, top: int = 12) -> None:
    """py-spy's raw output (one `frame;frame;... count` a line): self samples by leaf line, and
    samples by the outermost frame of each own module (where the request's time goes)."""
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        leaf[stack.split(";")[-1]] += n
    log(f"  {raw}: {total} samples (active threads); top self time by line:")
    for frame, n in leaf.most_common(top):
        log(f"    {100 * n / total:5.1f}%  {frame}")


def find_py_spy() -> str | None:
    """py-spy beside this Python (a venv's bin/, not necessarily on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(kind: Kind, connections: int, duration: float, wrk: str | None, tmpdir: Path,
            native: bool) -> int:
    if not find_py_spy():
        log("--profile needs py-spy: pip install py-spy")
        return 2
    for impl in IMPLS:
        # Outside the repository: bench/results ignores only *.json.
        out = Path(tempfile.gettempdir()) / "fasthttp-existing-users" / f"{kind.name}-{impl}.pyspy.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with start(kind, impl, tmpdir, profile_to=out, native=native) as srv:
            wait_and_check(srv, kind, impl, 0.3)
            res = drive(wrk, srv, kind, connections, duration, tmpdir)
        log(f"{kind.name}/{impl}: {res['rps']:.0f} req/s under py-spy (-c{connections})")
        if out.exists():
            summarize_profile(out)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--runs", type=int, default=3, help="runs per server, impl and -c (default 3)")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per run (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 run x 1 s")
    ap.add_argument("--connections", default="1,4",
                    help="concurrent connections, comma-separated (default 1,4: the single-threaded "
                         "servers' listen queue is 5)")
    ap.add_argument("--servers", default=",".join(KINDS), help=f"from {','.join(KINDS)}")
    ap.add_argument("--json", default=str(RESULTS_JSON), help="results file (default %(default)s)")
    ap.add_argument("--no-wrk", action="store_true", help="use the Python client even if wrk is there")
    ap.add_argument("--profile", metavar="KIND", help="instead: py-spy each impl of KIND for --duration s "
                    "at the first --connections, print the top lines by self time")
    ap.add_argument("--native", action="store_true", help="with --profile: C frames too (py-spy --native)")
    ap.add_argument("--serve", metavar="KIND", help=argparse.SUPPRESS)
    ap.add_argument("--impl", choices=IMPLS, default="stock", help=argparse.SUPPRESS)
    ap.add_argument("--client", nargs=4, metavar=("PORT", "KIND", "CONNS", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.duration = 1, 1.0
    args.conns = [int(c) for c in args.connections.split(",") if c.strip()]
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(wanted) - set(KINDS)
    if unknown:
        ap.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    args.kinds = []
    for name in wanted:
        peer = PEERS.get(name)
        if peer and not processes.have_module(peer):
            log(f"skip {name}: {peer} is not installed (pip install {peer})")
        else:
            args.kinds.append(KINDS[name])
    return args


def measure(args: argparse.Namespace, wrk: str | None, tmpdir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every server under both impls, started, checked, then the runs: (meta, runs)."""
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": f"{platform.python_version()}",
        "executable": sys.executable, "cpus": os.cpu_count(), "runs": args.runs,
        "duration_s": args.duration, "connections": args.conns,
        "load": loadgen.wrk_version(wrk) if wrk else "python client"}
    with contextlib.ExitStack() as stack:
        srvs = {(kind.name, impl): stack.enter_context(start(kind, impl, tmpdir))
                for kind in args.kinds for impl in IMPLS}
        for (name, impl), srv in srvs.items():
            wait_and_check(srv, KINDS[name], impl, 0.3)
            log(f"  {srv.name:26s} pid {srv.pid:<7d} port {srv.port:<5d} {base_of(srv)}")
        meta["handlers"] = {srv.name: base_of(srv) for srv in srvs.values()}
        log(f"{len(args.kinds)} servers x {len(IMPLS)} impls x -c {args.connections} x {args.runs} run(s) "
            f"x {args.duration:g} s; load: {meta['load']}")
        return meta, run_all(wrk, srvs, args.kinds, args, tmpdir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.impl)
        return 0
    if args.client:
        port, kind, conns, secs = args.client
        client(int(port), KINDS[kind], int(conns), float(secs))
        return 0
    wrk = None if args.no_wrk else loadgen.find_wrk(install=False)
    if not wrk:
        log("wrk not found (apt-get install -y wrk): using the Python client, slower and noisier")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="fasthttp-users-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "www").mkdir()
        (tmpdir / "www" / STATIC_FILE).write_bytes(b"\xa5" * STATIC_SIZE)
        if args.profile:
            return profile(KINDS[args.profile], args.conns[0], args.duration, wrk, tmpdir, args.native)
        try:
            meta, runs = measure(args, wrk, tmpdir)
        except KeyboardInterrupt:
            log("interrupted")
            return 130
    rows = summarize_runs(runs)
    print_table(rows, args.runs)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": rows, "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
