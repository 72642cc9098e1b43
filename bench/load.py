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
import datetime as dt
import http.client
import importlib.util
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
REQUESTS_DIR = REPO_ROOT / "tests" / "data" / "requests"  # the request corpus
SERVERS_PY = BENCH_DIR / "servers.py"

sys.path.insert(0, str(BENCH_DIR))
import servers  # noqa: E402

ALL_SERVERS = list(servers.KINDS)
# In table and chart order: the references on the outside, fasthttp in the middle.
DEFAULT_SERVERS = ["nginx", "fasthttp-loop", "fasthttp", "uvicorn-uvloop", "uvicorn", "stdlib-tuned",
                   "stdlib"]
REFERENCES = ["nginx", "stdlib-tuned", "stdlib", "uvicorn-uvloop"]
PEER_PACKAGES = ["uvicorn", "httptools", "uvloop"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 20.0
WARMUP_REQUESTS = 200
WARMUP_SECONDS = 0.5


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- prerequisites


def ensure_wrk(install: bool) -> str | None:
    path = shutil.which("wrk")
    if path or not install:
        return path
    log("wrk not found: apt-get install -y wrk")
    cmd = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(cmd, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(cmd, check=False)
    return shutil.which("wrk")


def ensure_nginx(install: bool) -> str | None:
    path = servers.nginx_binary()
    if path or not install:
        return path
    log("nginx not found: apt-get install -y nginx-light")
    cmd = ["apt-get", "install", "-y", "nginx-light"]
    if subprocess.run(cmd, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(cmd, check=False)
    return servers.nginx_binary()


def have_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def ensure_peers(install: bool) -> None:
    missing = [p for p in PEER_PACKAGES if not have_module(p)]
    if missing and install:
        log(f"installing peers into {sys.executable}: {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=False)
        importlib.invalidate_caches()


def available_servers(wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    """(servers to run, {server: why skipped})"""
    skipped = {}
    fasthttp_missing = None
    try:
        servers.import_fasthttp()
    except Exception as exc:  # noqa: BLE001 - any import failure: not available yet
        fasthttp_missing = f"fasthttp not importable ({type(exc).__name__}: {exc})"
    run = []
    for kind in wanted:
        if kind.startswith("fasthttp") and fasthttp_missing:
            skipped[kind] = fasthttp_missing
        elif kind.startswith("uvicorn") and not (have_module("uvicorn") and have_module("httptools")):
            skipped[kind] = "uvicorn/httptools not importable (pass --install-peers)"
        elif kind == "uvicorn-uvloop" and not have_module("uvloop"):
            skipped[kind] = "uvloop not importable (pass --install-peers)"
        elif kind == "nginx" and not servers.nginx_binary():
            skipped[kind] = "nginx not installed (pass --install-nginx)"
        else:
            run.append(kind)
    return run, skipped


def fasthttp_description() -> str | None:
    try:
        fh = servers.import_fasthttp()
    except Exception:  # noqa: BLE001
        return None
    mode = "C-accelerated" if getattr(fh, "accelerated", False) else "pure-Python"
    return f"fasthttp {getattr(fh, '__version__', '?')} ({mode}) from {fh.__file__}"


# --------------------------------------------------------------------------- server processes


class ServerProcess:
    """One server subprocess, started on a free port, ended by PID."""

    def __init__(self, kind: str, logdir: Path):
        self.kind = kind
        self.port: int | None = None
        self.log_path = logdir / f"{kind}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVERS_PY), kind, "0"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            cwd=str(REPO_ROOT),
            env=env,
            start_new_session=True,  # a terminal's Ctrl-C reaches us; we end it by PID
        )
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = b""
        try:
            while time.monotonic() < deadline and not line.endswith(b"\n"):
                if self.proc.poll() is not None:
                    break
                if sel.select(timeout=0.2):
                    chunk = os.read(self.proc.stdout.fileno(), 256)
                    if not chunk:
                        break
                    line += chunk
        finally:
            sel.close()
        m = re.match(rb"READY (\d+)", line)
        if not m:
            raise RuntimeError(f"{self.kind} did not start (see below)\n{self.log_tail()}")
        self.port = int(m.group(1))

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (all threads, live and exited) and of its live
        descendants (nginx's master and worker, under bench/servers.py)."""
        return process_tree_cpu(self.pid)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
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


def process_tree_cpu(pid: int) -> float:
    """utime + stime of a process and its live descendants, in seconds, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:     # the process is gone
        return 0.0
    children = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                children += [int(c) for c in f.read().split()]
        except OSError:     # a thread that ended meanwhile (a connection's)
            pass
    fields = stat[stat.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK + sum(map(process_tree_cpu, children))


def check_server(port: int) -> None:
    """One request + a short keep-alive warm-up: every server must answer the hello response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + WARMUP_SECONDS
    try:
        for i in range(WARMUP_REQUESTS):
            if i and time.monotonic() > deadline:
                break
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            if i == 0 and (resp.status != 200 or body != servers.BODY):
                raise RuntimeError(f"unexpected response {resp.status} {body!r}")
    finally:
        conn.close()


# --------------------------------------------------------------------------- wrk


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    res: dict = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    res["requests"] = int(m.group(1)) if m else 0
    res["elapsed_ms"] = to_ms(m.group(2)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    return res


def wrk_script_for(request_name: str, workdir: Path) -> Path:
    """A wrk Lua script that sends the method, target and headers of a corpus request."""
    raw = (REQUESTS_DIR / f"{request_name}.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    if body:
        raise SystemExit(f"--request {request_name}: only body-less requests are supported")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")

    def lua(s: str) -> str:
        """A Lua string literal holding exactly the latin-1 bytes of *s*."""
        out = []
        for b in s.encode("latin-1"):
            ch = chr(b)
            out.append("\\" + ch if ch in '"\\' else ch if 0x20 <= b < 0x7F else f"\\{b:03d}")
        return '"' + "".join(out) + '"'

    out = [f"wrk.method = {lua(method)}", f"wrk.path = {lua(target)}"]
    for line in lines[1:]:
        name, _, value = line.partition(":")
        # wrk.headers is a table: a repeated header name keeps its last value only.
        out.append(f"wrk.headers[{lua(name.strip())}] = {lua(value.strip())}")
    path = workdir / f"{request_name}.lua"
    path.write_text("\n".join(out) + "\n")
    return path


def run_wrk(wrk: str, port: int, connections: int, duration: float, script: Path | None) -> tuple[dict, str]:
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(f"http://127.0.0.1:{port}/")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + 60)
    finally:  # also on Ctrl-C / SIGTERM: end wrk by PID and reap it
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err or out}")
    return parse_wrk(out), out


# --------------------------------------------------------------------------- summary


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict], kinds: list[str], conns: list[int]) -> dict:
    summary: dict = {}
    for c in conns:
        rows = {}
        for kind in kinds:
            mine = [r for r in runs if r["server"] == kind and r["connections"] == c]
            if not mine:
                continue
            rows[kind] = {
                "rps": median_or_none([r["rps"] for r in mine]),
                "p50_ms": median_or_none([r["p50_ms"] for r in mine]),
                "p99_ms": median_or_none([r["p99_ms"] for r in mine]),
                "cpu_us_per_req": median_or_none([r["cpu_us_per_req"] for r in mine]),
                "cpu_ticks_min": min(r["cpu_ticks"] for r in mine),
                "runs": len(mine),
                "errors": sum(sum(r["socket_errors"].values()) + r["non_2xx"] for r in mine),
            }
        for kind, row in rows.items():
            row["rps_ratio"] = {
                ref: row["rps"] / rows[ref]["rps"]
                for ref in REFERENCES
                if ref in rows and ref != kind and row["rps"] and rows[ref]["rps"]
            }
            for ref in ("stdlib", "stdlib-tuned", "nginx"):
                base = rows.get(ref, {}).get("cpu_us_per_req")
                mine = row["cpu_us_per_req"]
                row[f"cpu_ratio_{ref}"] = base / mine if base and mine else None
        summary[str(c)] = rows
    return summary


def fmt(v, spec=".0f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def fmt_x(ratio):
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v * 1e3:.0f} us" if v < 1 else f"{v:.2f} ms"


def print_summary(summary: dict, kinds: list[str]) -> None:
    refs = [r for r in REFERENCES if any(r in rows for rows in summary.values())]
    cpu_refs = [r for r in ("nginx", "stdlib-tuned") if any(r in rows for rows in summary.values())]
    headers = (["server", "req/s", "p50", "p99", "CPU/req"] + [f"CPU {r}/x" for r in cpu_refs]
               + [f"x/{r}" for r in refs] + ["errors"])
    for c, rows in summary.items():
        table = []
        for kind in kinds:
            if kind not in rows:
                continue
            row = rows[kind]
            cells = [
                kind,
                fmt(row["rps"]),
                fmt_ms(row["p50_ms"]),
                fmt_ms(row["p99_ms"]),
                fmt(row["cpu_us_per_req"], ".1f", " us"),
            ]
            cells += [fmt_x(row[f"cpu_ratio_{r}"]) if r != kind else "1.00x" for r in cpu_refs]
            cells += [fmt_x(row["rps_ratio"].get(r)) if r != kind else "1.00x" for r in refs]
            cells.append(str(row["errors"]))
            table.append(cells)
        coarse = [k for k in kinds if k in rows and rows[k]["cpu_ticks_min"] < 50]
        widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
        log(f"\n-c{c} (medians of {max(r['runs'] for r in rows.values())} run(s); x/ref = req/s ratio, "
            f">1 = more throughput than ref; CPU ref/x > 1 = less server CPU per request than ref)")
        for cells in [headers, ["-" * w for w in widths], *table]:
            log("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
        if coarse:
            log(f"(CPU/req of {', '.join(coarse)} is coarse: under 50 clock ticks of "
                f"1/{CLK_TCK} s per run in /proc/PID/stat)")


def print_markdown(summary: dict, kinds: list[str]) -> None:
    """One Markdown table, all concurrencies side by side (the README's form)."""
    conns = list(summary)
    head = ["server"]
    for c in conns:
        head += [f"-c{c} req/s", f"-c{c} p99", f"-c{c} CPU/req", f"-c{c} x/nginx", f"-c{c} x/stdlib-tuned"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind in kinds:
        cells = [kind]
        for c in conns:
            row = summary[c].get(kind)
            if row is None:
                cells += ["-"] * 5
                continue
            cells += [f"{row['rps']:,.0f}" if row["rps"] else "-", fmt_ms(row["p99_ms"]),
                      fmt(row["cpu_us_per_req"], ".1f", " µs")]
            cells += ["1.00x" if kind == ref else fmt_x(row["rps_ratio"].get(ref))
                      for ref in ("nginx", "stdlib-tuned")]
        lines.append("| " + " | ".join(cells) + " |")
    log("\n" + "\n".join(lines))


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all servers (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round, 2 s per run")
    ap.add_argument("--connections", default="1,32", help="wrk -c values (default 1,32)")
    ap.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                    help=f"comma-separated, from {','.join(ALL_SERVERS)} (default: all but fasthttp-tuned)")
    ap.add_argument("--markdown", action="store_true", help="also print the summary as Markdown tables")
    ap.add_argument("--request", metavar="NAME", help="send the headers of tests/data/requests/NAME.http "
                    "(body-less) instead of wrk's minimal GET")
    ap.add_argument("--json", metavar="PATH", help="results file (default bench/results/load-<time>.json)")
    ap.add_argument("--chart", metavar="PATH", help="also write a PNG bar chart of req/s")
    ap.add_argument("--install-peers", action="store_true", help="pip install uvicorn httptools uvloop if missing")
    ap.add_argument("--install-wrk", action="store_true", help="apt-get install -y wrk if missing")
    ap.add_argument("--install-nginx", action="store_true", help="apt-get install -y nginx-light if missing")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    conns = [int(c) for c in args.connections.split(",") if c.strip()]
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(ALL_SERVERS))
    if unknown:
        ap.error(f"unknown server(s): {', '.join(unknown)}")

    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGHUP, _raise_system_exit)

    wrk = ensure_wrk(args.install_wrk)
    if not wrk:
        log("wrk is not installed. Install it with:\n    apt-get install -y wrk\n"
            "(or run this script with --install-wrk)")
        return 2
    ensure_peers(args.install_peers)
    if "nginx" in wanted:
        ensure_nginx(args.install_nginx)
    kinds, skipped = available_servers(wanted)
    for kind, why in skipped.items():
        log(f"skip {kind}: {why}")
    if not kinds:
        log("no server to run")
        return 2

    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    started_at = dt.datetime.now(dt.timezone.utc)
    meta = {
        "started": started_at.isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "fasthttp": fasthttp_description(),
        "wrk": wrk_version.strip(),
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "connections": conns,
        "request": args.request or "wrk default (GET / with Host only)",
        "servers": kinds,
        "skipped": skipped,
    }
    log(f"load test: {', '.join(kinds)}; -c {','.join(map(str, conns))}; "
        f"{args.rounds} round(s) x {args.duration:g} s; {meta['python']}; {meta['wrk']}")
    if meta["fasthttp"]:
        log(meta["fasthttp"])

    procs: dict[str, ServerProcess] = {}
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="fasthttp-load-") as tmp:
        tmpdir = Path(tmp)
        script = wrk_script_for(args.request, tmpdir) if args.request else None
        try:
            for kind in kinds:
                procs[kind] = ServerProcess(kind, tmpdir)
            for kind, p in list(procs.items()):
                try:
                    p.wait_ready()
                    check_server(p.port)
                except (RuntimeError, OSError, http.client.HTTPException) as exc:
                    log(f"skip {kind}: {exc}")
                    skipped[kind] = f"failed to start or answer: {str(exc).splitlines()[0]}"
                    p.stop()
                    del procs[kind]
                    kinds.remove(kind)
                    continue
                log(f"  {kind}: pid {p.pid}, port {p.port}")
            if not kinds:
                log("no server could be started")
                return 2
            for rnd in range(args.rounds):
                order = kinds[rnd % len(kinds):] + kinds[: rnd % len(kinds)]
                for kind in order:
                    p = procs[kind]
                    for c in conns:
                        cpu0 = p.cpu_seconds()
                        res, _out = run_wrk(wrk, p.port, c, args.duration, script)
                        cpu = p.cpu_seconds() - cpu0
                        if p.proc.poll() is not None:
                            raise RuntimeError(f"{kind} died during the run\n{p.log_tail()}")
                        res.update(server=kind, connections=c, round=rnd + 1, cpu_s=cpu,
                                   cpu_ticks=round(cpu * CLK_TCK),
                                   cpu_us_per_req=(cpu / res["requests"] * 1e6) if res["requests"] else None)
                        runs.append(res)
                        errs = sum(res["socket_errors"].values()) + res["non_2xx"]
                        log(f"  round {rnd + 1} {kind:15s} -c{c:<3d} {fmt(res['rps']):>8s} req/s  "
                            f"p50 {fmt_ms(res['p50_ms']):>9s}  p99 {fmt_ms(res['p99_ms']):>9s}  "
                            f"CPU {fmt(res['cpu_us_per_req'], '.1f', ' us/req'):>12s}"
                            + (f"  errors {errs}" if errs else ""))
        except KeyboardInterrupt:
            log("interrupted: stopping servers")
            return 130
        finally:
            for p in procs.values():
                p.stop()

    summary = summarize(runs, kinds, conns)
    print_summary(summary, kinds)
    if args.markdown:
        print_markdown(summary, kinds)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = Path(args.json) if args.json else RESULTS_DIR / f"load-{started_at:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2) + "\n")
    log(f"\nresults: {out}")
    if args.chart:
        title = (f"hello world, wrk -t1, {args.rounds} x {args.duration:g} s, "
                 f"{meta['python']}, {os.cpu_count()} cores")
        write_chart(summary, kinds, Path(args.chart), title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
