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
completed). Results also go to bench/results/existing_users.json.

Only 127.0.0.1 is contacted; every process is started and ended here, by PID. No timing is
asserted. This file is also the launcher (--serve KIND --impl IMPL) and the fallback client
(--client), so it must not import http.server at the top: install() has to come first.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_JSON = BENCH_DIR / "results" / "existing_users.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")
IMPLS = ("stock", "fasthttp")
BODY = b"Hello, world!"
STATIC_FILE = "file4k.bin"
STATIC_SIZE = 4096
XMLRPC_BODY = (b"<?xml version='1.0'?>\n<methodCall>\n<methodName>add</methodName>\n<params>\n"
               b"<param>\n<value><int>2</int></value>\n</param>\n"
               b"<param>\n<value><int>3</int></value>\n</param>\n</params>\n</methodCall>\n")


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


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- launcher (own process)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        port = free_port()
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


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Server:
    """One server process (or, with --profile, py-spy recording one); ended by PID."""

    def __init__(self, kind: Kind, impl: str, tmpdir: Path, profile_to: Path | None = None,
                 native: bool = False):
        self.kind, self.impl = kind, impl
        self.port = 0
        self.base = "?"
        if kind.cli_args is not None:
            module = "fasthttp" if impl == "fasthttp" else "http.server"
            cmd = [sys.executable, "-m", module, "0", "--bind", "127.0.0.1",
                   "--directory", str(tmpdir / "www"), *kind.cli_args]
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", kind.name, "--impl", impl]
        if profile_to is not None:
            cmd = [find_py_spy() or "py-spy", "record", "--rate", "250", "--format", "raw",
                   *(["--native"] if native else []), "--output", str(profile_to), "--", *cmd]
        self.log_path = tmpdir / f"{kind.name}-{impl}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
                                     cwd=str(REPO_ROOT), env=child_env(), start_new_session=True)
        self.profiled = profile_to is not None
        self.pid = self.proc.pid  # the server's own PID, once known (py-spy runs it as a child)

    @property
    def label(self) -> str:
        return f"{self.kind.name}/{self.impl}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        out = b""
        m = None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline and self.proc.poll() is None:
                m = (re.search(rb"READY (\d+) (\d+) (\S+(?: \w+)?)\n", out)
                     or re.search(rb"Serving HTTP on \S+ port (\d+)", out))
                if m:
                    break
                if sel.select(timeout=0.2):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    out += chunk
            else:
                m = None
        if not m:
            raise RuntimeError(f"{self.label} did not start:\n{out.decode(errors='replace')}{self.log_tail()}")
        self.port = int(m.group(1))
        if m.lastindex == 3:
            self.pid, self.base = int(m.group(2)), m.group(3).decode()
        elif self.profiled:  # a CLI under py-spy: its PID is py-spy's child's
            self.pid = int(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()[0])

    def check(self, warmup_s: float) -> None:
        """The answer is right (and the right http.server serves it), then a short warm-up."""
        want = "fasthttp" if self.impl == "fasthttp" else "http"
        if self.kind.cli_args is None and not self.base.startswith(want + "."):
            raise RuntimeError(f"{self.label}: the handler derives from {self.base}'s BaseHTTPRequestHandler")
        deadline = time.monotonic() + max(warmup_s, 0.05)
        n = 0
        while n == 0 or time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request(self.kind.method, self.kind.path, body=self.kind.body or None,
                             headers=self.kind.headers())
                resp = conn.getresponse()
                body = resp.read()
            except ConnectionRefusedError:  # werkzeug binds just after READY
                if time.monotonic() > deadline + 10:
                    raise
                time.sleep(0.05)
                continue
            finally:
                conn.close()
            if resp.status != 200 or self.kind.expect not in body:
                raise RuntimeError(f"{self.label}: unexpected answer {resp.status} {body[:200]!r}")
            n += 1

    def cpu_seconds(self) -> float:
        """utime + stime of the server process: all its threads, live and exited."""
        stat = Path(f"/proc/{self.pid}/stat").read_bytes()
        fields = stat[stat.rindex(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.pid != self.proc.pid and self.proc.poll() is None:
            # py-spy's child: end the server, py-spy then writes its profile and exits.
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


def lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" if not 0x20 <= b < 0x7F or b in b'"\\' else chr(b) for b in data) + '"'


def wrk_script(kind: Kind, tmpdir: Path) -> Path | None:
    if kind.method == "GET":
        return None
    lines = [f"wrk.method = {lua_string(kind.method.encode())}", f"wrk.body = {lua_string(kind.body)}"]
    lines += [f"wrk.headers[{lua_string(k.encode())}] = {lua_string(v.encode())}"
              for k, v in kind.headers().items()]
    path = tmpdir / f"{kind.name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def drive(wrk: str | None, server: Server, connections: int, duration: float, tmpdir: Path) -> dict[str, Any]:
    """One run: (requests, req/s, errors) from wrk or the fallback client."""
    if wrk:
        cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
        script = wrk_script(server.kind, tmpdir)
        if script:
            cmd += ["-s", str(script)]
        cmd.append(f"http://127.0.0.1:{server.port}{server.kind.path}")
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--client", str(server.port), server.kind.name,
               str(connections), str(duration)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + 60)
    finally:  # also on Ctrl-C: end the load generator by PID
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {err or out}")
    if not wrk:
        res = json.loads(out.strip().splitlines()[-1])
        return {"requests": res["requests"], "rps": res["requests"] / res["elapsed_s"], "errors": res["errors"]}
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(m.group(1)) if m else 0, "rps": float(rps.group(1)) if rps else 0.0,
            "errors": (sum(map(int, errs.groups())) if errs else 0) + (int(non2xx.group(1)) if non2xx else 0)}


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = collections.defaultdict(
        lambda: {i: [] for i in IMPLS})
    for r in runs:
        groups[(r["server"], r["connections"])][r["impl"]].append(r)
    rows = []
    for (name, conns), by_impl in groups.items():
        row: dict[str, Any] = {"server": name, "connections": conns}
        for impl, mine in by_impl.items():
            row[f"{impl}_rps"] = median([r["rps"] for r in mine])
            row[f"{impl}_cpu_us_per_req"] = median([r["cpu_us_per_req"] for r in mine if r["cpu_us_per_req"]])
            row[f"{impl}_errors"] = sum(r["errors"] for r in mine)
            row[f"{impl}_cpu_ticks_min"] = min((r["cpu_ticks"] for r in mine), default=0)
        s, f = row["stock_rps"], row["fasthttp_rps"]
        row["rps_ratio"] = f / s if s and f else None
        s, f = row["stock_cpu_us_per_req"], row["fasthttp_cpu_us_per_req"]
        row["cpu_ratio"] = f / s if s and f else None
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], nruns: int) -> None:
    def num(v: float | None, spec: str = ".0f") -> str:
        return "-" if v is None else format(v, spec)

    headers = ["server", "-c", "stock req/s", "fasthttp req/s", "ratio", "stock CPU/req", "fasthttp CPU/req",
               "CPU ratio", "errors"]
    table = [[r["server"], str(r["connections"]), num(r["stock_rps"]), num(r["fasthttp_rps"]),
              num(r["rps_ratio"], ".2f") + "x", num(r["stock_cpu_us_per_req"], ".0f") + " us",
              num(r["fasthttp_cpu_us_per_req"], ".0f") + " us", num(r["cpu_ratio"], ".2f") + "x",
              f"{r['stock_errors']}/{r['fasthttp_errors']}"] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    log(f"\nmedians of {nruns} run(s); ratio = fasthttp/stock req/s (>= 1: not slower); "
        "CPU ratio = fasthttp/stock server CPU per request (<= 1: not more); errors stock/fasthttp")
    for cells in [headers, ["-" * w for w in widths], *table]:
        log("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    coarse = sorted({r["server"] for r in rows if min(r["stock_cpu_ticks_min"], r["fasthttp_cpu_ticks_min"]) < 50})
    if coarse:
        log(f"(CPU/req of {', '.join(coarse)}: under 50 ticks of 1/{CLK_TCK} s in a run, coarse)")


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
        srv = Server(kind, impl, tmpdir, profile_to=out, native=native)
        try:
            srv.wait_ready()
            srv.check(0.3)
            res = drive(wrk, srv, connections, duration, tmpdir)
        finally:
            srv.stop()
        log(f"{kind.name}/{impl}: {res['rps']:.0f} req/s under py-spy (-c{connections})")
        if out.exists():
            summarize_profile(out)
    return 0


def main(argv: list[str] | None = None) -> int:
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
    if args.serve:
        serve(args.serve, args.impl)
        return 0
    if args.client:
        port, kind, conns, secs = args.client
        client(int(port), KINDS[kind], int(conns), float(secs))
        return 0
    if args.quick:
        args.runs, args.duration = 1, 1.0
    conns = [int(c) for c in args.connections.split(",") if c.strip()]
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(wanted) - set(KINDS)
    if unknown:
        ap.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    kinds = []
    for name in wanted:
        peer = PEERS.get(name)
        if peer and subprocess.run([sys.executable, "-c", f"import {peer}"], capture_output=True).returncode:
            log(f"skip {name}: {peer} is not installed (pip install {peer})")
        else:
            kinds.append(KINDS[name])
    wrk = None if args.no_wrk else shutil.which("wrk")
    if not wrk:
        log("wrk not found (apt-get install -y wrk): using the Python client, slower and noisier")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    with tempfile.TemporaryDirectory(prefix="fasthttp-users-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "www").mkdir()
        (tmpdir / "www" / STATIC_FILE).write_bytes(b"\xa5" * STATIC_SIZE)
        if args.profile:
            return profile(KINDS[args.profile], conns[0], args.duration, wrk, tmpdir, args.native)
        servers: dict[tuple[str, str], Server] = {}
        runs: list[dict[str, Any]] = []
        meta: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": f"{platform.python_version()}",
            "executable": sys.executable, "cpus": os.cpu_count(), "runs": args.runs,
            "duration_s": args.duration, "connections": conns,
            "load": subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
            if wrk else "python client"}
        try:
            for kind in kinds:
                for impl in IMPLS:
                    servers[(kind.name, impl)] = Server(kind, impl, tmpdir)
            for srv in servers.values():
                srv.wait_ready()
                srv.check(0.3)
                log(f"  {srv.label:26s} pid {srv.pid:<7d} port {srv.port:<5d} {srv.base}")
            meta["handlers"] = {srv.label: srv.base for srv in servers.values()}
            log(f"{len(kinds)} servers x {len(IMPLS)} impls x -c {args.connections} x {args.runs} run(s) "
                f"x {args.duration:g} s; load: {meta['load']}")
            for run in range(args.runs):
                for k, kind in enumerate(kinds):
                    for j, c in enumerate(conns):
                        # Who goes first alternates from run to run for each pair.
                        order = IMPLS if (run + k + j) % 2 == 0 else IMPLS[::-1]
                        for impl in order:
                            srv = servers[(kind.name, impl)]
                            cpu0 = srv.cpu_seconds()
                            res = drive(wrk, srv, c, args.duration, tmpdir)
                            cpu = srv.cpu_seconds() - cpu0
                            if srv.proc.poll() is not None:
                                raise RuntimeError(f"{srv.label} died\n{srv.log_tail()}")
                            res.update(server=kind.name, impl=impl, connections=c, run=run + 1, cpu_s=cpu,
                                       cpu_ticks=round(cpu * CLK_TCK),
                                       cpu_us_per_req=cpu / res["requests"] * 1e6 if res["requests"] else None)
                            runs.append(res)
                            log(f"  run {run + 1} {srv.label:26s} -c{c:<3d} {res['rps']:9.0f} req/s  "
                                f"CPU {res['cpu_us_per_req'] or 0:7.0f} us/req"
                                + (f"  errors {res['errors']}" if res["errors"] else ""))
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            for srv in servers.values():
                srv.stop()

    rows = summarize(runs)
    print_table(rows, args.runs)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": rows, "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
