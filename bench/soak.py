#!/usr/bin/env python3
"""Soak test: one fasthttp server, hundreds of thousands of mixed requests, flat memory.

    python bench/soak.py                          # ThreadingHTTPServer, 200,000 requests
    python bench/soak.py --server loop            # LoopHTTPServer
    python bench/soak.py --requests 5000          # a smoke run (make soak-smoke)

One server (fasthttp.ThreadingHTTPServer or fasthttp.LoopHTTPServer) runs as a subprocess on
127.0.0.1; its handler answers GET with a small body and POST with the length of the body it
read through ``self.read_body()``, and logs nothing. ``--clients`` client processes then send
``--requests`` requests in a deterministic random mix (``--seed``):

  keepalive   one connection, 20-100 requests one after the other (GET, POST with a
              Content-Length body, now and then a chunked or a > 64 KiB body); some end with
              ``Connection: close``
  pipelined   one connection, 1-4 batches of 2-32 requests sent in one write
  oneshot     a new connection per request (``Connection: close`` or HTTP/1.0)
  invalid     a new connection, 0-3 good requests, then one the server must refuse: malformed
              heads (400), an unknown method (501), HTTP/2.0 (505), overlong request line
              (414) / header line / header count / header block (431), bad, conflicting or
              too large Content-Length (400/413), Content-Length with Transfer-Encoding,
              unsupported codings (400/501), malformed chunked bodies (400); the server must
              then close the connection
  abort       a client that disconnects mid-request: cut in the request line, in the
              headers, in a Content-Length or chunked body, right after the request without
              reading the answer (some of them with a TCP RST), or without sending anything

(``--mix plain`` keeps only the first three, with bodyless GETs: bench/memory.py uses it.
The traffic is bench/soak_traffic.py's.)
A request line http.server cannot read (one word, a bad version) is answered the HTTP/0.9
way, as http.server does: the error page with no status line; its status is read from the
page.

Every request that should get an answer is checked: its status is the expected one, and
nothing is missing. Before the measured run, a warm-up (``--warmup`` requests, same mix, same
number of clients) lets the server's allocator, thread stacks and caches settle; then the
server's RSS (VmRSS), open fds (/proc/PID/fd) and threads are sampled once idle (the
baseline), every ``--sample-every`` requests under load, and once idle at the end.

Verdict (exit 1 on any failure):
  - every request sent got its answer (missing = 0), with the expected status;
  - RSS flat: end <= baseline + tolerance (max of ``--rss-tolerance-mb`` and
    ``--rss-tolerance-pct`` of the baseline), and no steady growth: the least-squares line
    through the samples taken under load rises by less than the tolerance over the run;
  - fd count back to the baseline (within ``--settle-seconds`` of the last client closing);
  - the server process still running; all requests sent within ``--max-seconds``.
Tracebacks the server printed (e.g. a write to a client that reset the connection, which
socketserver reports as http.server does) are counted and listed, not failed;
``--server-log PATH`` keeps them.

Bounds: every socket has a timeout (``--timeout``), the whole run is capped at
``--max-seconds`` (default 600), and every process started here (the server, the clients) is
ended here by its PID. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
import processes  # noqa: E402
import servers  # noqa: E402
from soak_traffic import MIXES, run_phase  # noqa: E402
from tables import log  # noqa: E402

SERVER_KINDS = ("threading", "loop")
MB = 1024 * 1024
SAMPLE_LINE = "%-14s %10s %9s %9s %6s %8s"


# -- the server (a subprocess: python bench/soak.py --child-server KIND) ------

def make_handler(fasthttp):
    class SoakHandler(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._reply(b"ok\n")

        def do_POST(self):
            body = self.read_body()     # BodyError (already answered) ends the connection
            self._reply(b"got %d\n" % len(body))

        def _reply(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            pass

    return SoakHandler


def child_server(kind: str, port: int) -> int:
    processes.raise_nofile()
    fasthttp = servers.import_fasthttp()
    server_cls = {"threading": fasthttp.ThreadingHTTPServer,
                  "loop": fasthttp.LoopHTTPServer}[kind]
    httpd = server_cls(("127.0.0.1", port), make_handler(fasthttp))
    sys.stderr.write("soak server: %s, fasthttp from %s, accelerated=%s\n"
                     % (server_cls.__name__, fasthttp.__file__, fasthttp.accelerated))
    sys.stderr.flush()
    servers.serve(httpd)
    return 0


def start_server(kind: str, *, env: dict[str, str] | None = None) -> processes.ServerProcess:
    return processes.ServerProcess(
        f"soak-{kind}", [sys.executable, str(Path(__file__).resolve()), "--child-server", kind], env=env)


# -- the run ------------------------------------------------------------------

@dataclass
class Config:
    kind: str = "threading"
    requests: int = 200000
    clients: int = 3
    warmup: int | None = None           # default: 5 % of requests, 1,000-10,000
    sample_every: int | None = None     # default: requests / 20, at least 1,000
    timeout: float = 10.0
    max_seconds: float = 600.0
    rss_tolerance_mb: float = 5.0
    rss_tolerance_pct: float = 10.0
    settle_seconds: float = 15.0
    seed: int = 1
    mix: str = "full"

    def __post_init__(self) -> None:
        if self.warmup is None:
            self.warmup = min(10000, max(1000, self.requests // 20))
        if self.sample_every is None:
            self.sample_every = max(1000, self.requests // 20)


def sample_row(label: str, n: Any, seconds: Any, s: dict[str, int]) -> str:
    return SAMPLE_LINE % (label, n, seconds if isinstance(seconds, str) else "%.1f" % seconds,
                          "%.1f" % (s["rss"] / MB), s["fds"], s["threads"])


def sampler(server: processes.ServerProcess, cfg: Config, samples: list[Any], t_load: float,
            say: Callable[[str], None]) -> Callable[[int], None]:
    """on_progress for run_phase: a sample every cfg.sample_every requests."""
    next_at = [cfg.sample_every]

    def on_progress(total: int) -> None:
        while total >= next_at[0] and next_at[0] < cfg.requests:
            if not server.alive():
                return
            s = server.sample()
            el = time.monotonic() - t_load
            samples.append(("load", total, el, s))
            say(sample_row("under load", total, el, s))
            next_at[0] += cfg.sample_every
    return on_progress


def soak(server: processes.ServerProcess, cfg: Config, t0: float,
         say: Callable[[str], None]) -> dict[str, Any]:
    """Warm-up, the idle baseline, the measured run sampled as it goes, the idle end."""
    deadline = t0 + cfg.max_seconds
    say("soak: %s server pid %d on 127.0.0.1:%d; %d warm-up + %d requests, %d clients, "
        "mix %s" % (cfg.kind, server.pid, server.port, cfg.warmup, cfg.requests, cfg.clients, cfg.mix))
    f: dict[str, Any] = {"launch": server.sample(), "end": None, "waited": 0.0}
    f["warm"] = run_phase(server.port, requests=cfg.warmup, clients=cfg.clients, seed=cfg.seed + 7919,
                          deadline=min(deadline - 30, t0 + cfg.max_seconds / 4), timeout=cfg.timeout,
                          mix=cfg.mix)
    f["start"], _ = server.wait_stable(cfg.settle_seconds, hold=1.0)
    f["samples"] = [("start (idle)", 0, 0.0, f["start"])]
    say(SAMPLE_LINE % ("sample", "requests", "seconds", "RSS MiB", "fds", "threads"))
    say(sample_row("launch", "-", "-", f["launch"]))
    say(sample_row("after warm-up", f["warm"]["sent"], "-", f["start"]))
    t_load = time.monotonic()
    f["st"] = run_phase(server.port, requests=cfg.requests, clients=cfg.clients, seed=cfg.seed,
                        deadline=deadline - cfg.settle_seconds - 10, timeout=cfg.timeout,
                        on_progress=sampler(server, cfg, f["samples"], t_load, say), mix=cfg.mix)
    f["duration"] = time.monotonic() - t_load
    f["alive"] = server.alive()
    if f["alive"]:
        f["end"], f["waited"] = server.wait_stable(cfg.settle_seconds, fds_at_most=f["start"]["fds"])
        f["samples"].append(("end (idle)", f["st"]["sent"], f["duration"], f["end"]))
        say(sample_row("end (idle)", f["st"]["sent"], f["duration"], f["end"]))
    return f


def linear_growth(points):
    """Least-squares slope of (x, y) points times the x span: the steady growth."""
    n = len(points)
    if n < 3:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope * (points[-1][0] - points[0][0])


def checks(f: dict[str, Any], cfg: Config) -> list[tuple[bool, str]]:
    """The verdict, check by check: (passed, what was checked)."""
    st, base, end = f["st"], f["start"], f["end"]
    out = [(f["alive"], "server still running at the end"),
           (st["sent"] >= cfg.requests, "requests sent: %d of %d (within --max-seconds %g)"
            % (st["sent"], cfg.requests, cfg.max_seconds)),
           (st["missing"] == 0 and st["expected"] == f["answered"],
            "missing responses: %d (expected %d, answered %d)" % (st["missing"], st["expected"], f["answered"])),
           (st["unexpected"] == 0, "responses with an unexpected status: %d" % st["unexpected"])]
    not_closed = sum(v for k, v in st.items() if k.startswith("not-closed:"))
    out.append((not_closed == 0, "connections the server kept open after Connection: close or an "
                                 "error answer: %d" % not_closed))
    client_problems = sum(v for k, v in st.items() if k.startswith(("client-", "client_")))
    out.append((client_problems == 0, "client errors (connect failures, crashes): %d" % client_problems))
    if end is not None:
        tol = f["tolerance"]
        out.append((end["rss"] <= base["rss"] + tol,
                    "RSS flat: end %.1f MiB <= start %.1f MiB + %.1f MiB tolerance (end - start = %+.1f MiB)"
                    % (end["rss"] / MB, base["rss"] / MB, tol / MB, (end["rss"] - base["rss"]) / MB)))
        out.append((f["growth"] <= tol, "no steady RSS growth under load: fitted growth over %d samples "
                    "%+.2f MiB <= %.1f MiB" % (f["load_points"], f["growth"] / MB, tol / MB)))
        out.append((end["fds"] <= base["fds"], "fds back to baseline: end %d <= start %d (after %.1f s)"
                    % (end["fds"], base["fds"], f["waited"])))
    warm_bad = [k for k in f["warm"] if k.startswith(("missing", "unexpected", "not-closed", "client"))]
    if warm_bad:
        out.append((False, "warm-up without missing/unexpected answers"))
    return out


def report(f: dict[str, Any], stderr: str, say: Callable[[str], None]) -> None:
    """Responses by status, the problems by kind, the server's tracebacks."""
    st, warm = f["st"], f["warm"]
    say("")
    say("responses by status: " + ", ".join("%d: %d" % kv for kv in sorted(f["statuses"].items())))
    say("requests: %d sent (+%d warm-up) in %.1f s (%.0f/s); %d expected an answer, %d answered; "
        "%d invalid; %d aborted mid-request by the client; %d connections"
        % (st["sent"], warm["sent"], f["duration"], st["sent"] / max(f["duration"], 1e-9), st["expected"],
           f["answered"], st["invalid"], st["aborted"], st["connections"]))
    details = sorted(((k, v) for k, v in st.items()
                      if k.startswith(("missing:", "unexpected:", "not-closed:", "client"))),
                     key=lambda kv: (-kv[1], kv[0]))
    for k, v in details[:30]:
        say("  %s: %d" % (k, v))
    if len(details) > 30:
        say("  ... and %d more kinds (%d in all)" % (len(details) - 30, sum(v for _, v in details[30:])))
    warm_bad = {k: v for k, v in warm.items() if k.startswith(("missing", "unexpected", "not-closed", "client"))}
    if warm_bad:
        say("warm-up problems: %s" % ", ".join(
            "%s: %d" % kv for kv in sorted(warm_bad.items(), key=lambda kv: -kv[1])[:10]))
    # Exception lines (tracebacks from several threads may interleave; count the last lines).
    exc_lines = collections.Counter(re.findall(
        r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))(?::|$)", stderr, re.M))
    say("server tracebacks on stderr: %d%s" % (f["tracebacks"], (" (" + ", ".join(
        "%s x%d" % kv for kv in exc_lines.most_common(5)) + ")") if exc_lines else ""))


def run(kind: str = "threading", requests: int = 200000, *, server_log: str | None = None,
        out: TextIO | None = None, env: dict[str, str] | None = None, **settings: Any) -> dict[str, Any]:
    """The whole soak (settings: Config's fields); a result dict with 'ok' and the figures."""
    cfg = Config(kind=kind, requests=requests, **settings)
    t0 = time.monotonic()
    processes.raise_nofile(4096)

    def say(text: str) -> None:
        log(text, out)

    with start_server(kind, env=env) as server:
        server.wait_ready(30)
        f = soak(server, cfg, t0, say)
    stderr = server.log_text()
    if server_log:
        Path(server_log).write_text(stderr)
    load_points = [(n, s["rss"]) for label, n, _, s in f["samples"] if label == "load"]
    f.update(tolerance=max(cfg.rss_tolerance_mb * MB, f["start"]["rss"] * cfg.rss_tolerance_pct / 100.0),
             growth=linear_growth(load_points), load_points=len(load_points),
             statuses={int(k[7:]): v for k, v in f["st"].items() if k.startswith("status:")},
             tracebacks=stderr.count("Traceback (most recent call last)"))
    f["answered"] = sum(f["statuses"].values())
    verdict = checks(f, cfg)
    report(f, stderr, say)
    say("")
    for ok, text in verdict:
        say("%s  %s" % ("PASS" if ok else "FAIL", text))
    ok = all(c for c, _ in verdict)
    say("verdict: %s (%s server, %d requests, %.1f s)" % ("PASS" if ok else "FAIL", kind,
                                                         f["st"]["sent"], time.monotonic() - t0))
    st = f.pop("st")
    return {"server": kind, "pid": server.pid, "requests_asked": requests, "ok": ok, "sent": st["sent"],
            "warmup_sent": f.pop("warm")["sent"], "missing": st["missing"], "unexpected": st["unexpected"],
            "checks": verdict, **f}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=SERVER_KINDS, default="threading")
    p.add_argument("--requests", type=int, default=200000)
    p.add_argument("--clients", type=int, default=3, help="client processes (default 3)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up requests (default: 5%% of --requests, 1,000-10,000)")
    p.add_argument("--sample-every", type=int, default=None,
                   help="sample RSS/fds every N requests (default: --requests / 20)")
    p.add_argument("--timeout", type=float, default=10.0, help="per socket operation, s")
    p.add_argument("--max-seconds", type=float, default=600.0, help="whole run, s")
    p.add_argument("--rss-tolerance-mb", type=float, default=5.0)
    p.add_argument("--rss-tolerance-pct", type=float, default=10.0)
    p.add_argument("--settle-seconds", type=float, default=15.0,
                   help="how long the fd count may take to come back at the end")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix", choices=sorted(MIXES), default="full",
                   help='"full" (default: the mix above) or "plain" (bodyless GETs only)')
    p.add_argument("--server-log", metavar="PATH",
                   help="write what the server printed on stderr (tracebacks) to PATH")
    p.add_argument("--child-server", choices=SERVER_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_server:
        return child_server(args.child_server, args.port)
    if args.requests < 1 or args.clients < 1:
        p.error("--requests and --clients must be positive")
    result = run(args.server, args.requests, clients=args.clients, warmup=args.warmup,
                 sample_every=args.sample_every, timeout=args.timeout,
                 max_seconds=args.max_seconds, rss_tolerance_mb=args.rss_tolerance_mb,
                 rss_tolerance_pct=args.rss_tolerance_pct, settle_seconds=args.settle_seconds,
                 seed=args.seed, mix=args.mix, server_log=args.server_log)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
