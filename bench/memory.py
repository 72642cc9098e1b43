#!/usr/bin/env python3
"""Server memory: 5,000 idle keep-alive connections, and RSS over 200,000 requests.

    python bench/memory.py                        # both parts (make memory)
    python bench/memory.py --soak-requests 0      # idle connections only (make bench-engine)
    python bench/memory.py --connections 200 --soak-requests 5000    # quick

Part 1, idle keep-alive connections. Each server runs as its own subprocess on 127.0.0.1,
with the same hello handler (HTTP/1.1, GET -> 200, Content-Length, 13-byte body, no log):

  stdlib             http.server.ThreadingHTTPServer (a thread per connection, no bound)
  fasthttp           fasthttp.ThreadingHTTPServer (a thread per connection, at most
                     max_connections = 1024)
  fasthttp-loop      fasthttp.LoopHTTPServer (one event loop)

For each in turn: sample the server's RSS (/proc/PID/status VmRSS), open fds and threads
once idle after a few warm-up requests; open ``--connections`` (5,000) connections (at most
``--in-flight`` connecting or awaiting their answer at once, for at most ``--open-seconds``),
each sending one GET and reading the answer, then staying open and idle; sample again once
the server's thread and fd counts are stable (the per-connection cost is the difference over
the connections served); check that the first and the last are still served; then a NEW
client (a fresh connection, one GET) is timed, for at most ``--probe-timeout`` seconds: is it
served at once while the idle connections are held? Then close them all and sample once
more. RLIMIT_NOFILE is raised (within the hard limit) in the servers and here.

fasthttp.ThreadingHTTPServer serves at most max_connections (1,024) connections at once: the
connections beyond wait in the listen backlog (or their SYNs are retried), and so does the
new client -- until idle connections are dropped by head_timeout (60 s) (issue 10, item 5:
an open problem, measured here). Idle connections are measured well inside head_timeout.

Part 2, RSS under load (fasthttp only): bench/soak.py's machinery against
fasthttp.ThreadingHTTPServer and fasthttp.LoopHTTPServer, ``--soak-requests`` (200,000) each,
with the "plain" mix by default (bodyless GETs: keep-alive, pipelined, a connection per
request; ``--soak-mix full`` adds the soak's bodies, invalid and aborted requests): RSS after
warm-up, at the end, and the fitted growth across the samples taken under load.

Exit status 1 if a part-1 measurement failed (connections refused, a server died) or a
part-2 run was not flat (or missed responses). Every server process is started and ended
here by its PID; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import io
import selectors
import socket
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import soak  # noqa: E402

MB = 1024 * 1024
KINDS = ("stdlib", "fasthttp", "fasthttp-loop")
LABELS = {
    "stdlib": "http.server.ThreadingHTTPServer",
    "fasthttp": "fasthttp.ThreadingHTTPServer",
    "fasthttp-loop": "fasthttp.LoopHTTPServer",
}
BODY = b"Hello, world!"
REQUEST = b"GET /idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


# -- the servers (subprocesses: python bench/memory.py --child KIND) ------------------

def child(kind):
    soak.raise_nofile()
    if kind == "stdlib":
        import http.server as mod  # noqa: PLC0415
        server_cls = mod.ThreadingHTTPServer
    else:
        mod = soak.import_fasthttp()
        server_cls = mod.LoopHTTPServer if kind == "fasthttp-loop" else mod.ThreadingHTTPServer

    class Hello(mod.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format, *args):  # noqa: A002
            pass

    import signal  # noqa: PLC0415

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    httpd = server_cls(("127.0.0.1", 0), Hello)
    sys.stdout.write("READY %d\n" % httpd.server_address[1])
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def read_response(sock):
    """Read one hello response (headers + 13-byte body) from sock."""
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0 and len(data) >= end + 4 + len(BODY):
            break
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed after %r" % data[:60])
        data += chunk
    if not data.startswith(b"HTTP/1.1 200 "):
        raise ConnectionError("unexpected answer %r" % data[:60])


def wait_stable(server, seconds=10.0):
    """Sample until threads and fds stay the same for half a second (at most ``seconds``)."""
    last = server.sample()
    since = time.monotonic()
    end = since + seconds
    while time.monotonic() < end:
        time.sleep(0.1)
        s = server.sample()
        if (s["threads"], s["fds"]) != (last["threads"], last["fds"]):
            since = time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return s
        last = s
    return last


def open_idle(port, connections, in_flight, seconds):
    """Open up to ``connections`` keep-alive connections, one GET each (answer read), without
    waiting on any one of them: (served sockets, sockets still waiting for their answer,
    {"refused": n, "reset": n, "first_reset_after": served count})."""
    sel = selectors.DefaultSelector()
    served, pending = [], {}        # pending: socket -> bytes received so far
    lost = {"refused": 0, "reset": 0, "first_reset_after": None}
    started = 0

    def drop(s, why):
        # A connection the server refused or cut: counted, not fatal (what clients see).
        sel.unregister(s)
        del pending[s]
        s.close()
        lost[why] += 1
        if lost["first_reset_after"] is None:
            lost["first_reset_after"] = len(served)

    deadline = time.monotonic() + seconds
    try:
        while len(served) < connections and time.monotonic() < deadline:
            while started < connections and len(pending) < in_flight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                pending[s] = None           # None: connecting
                sel.register(s, selectors.EVENT_WRITE)
                started += 1
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                if pending[s] is None:      # connected (or failed): send the request
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        drop(s, "refused")
                        continue
                    try:
                        s.send(REQUEST)     # 40 bytes always fit a fresh socket
                    except OSError:
                        drop(s, "reset")
                        continue
                    pending[s] = b""
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    drop(s, "reset")
                    continue
                data = pending[s] + chunk
                end = data.find(b"\r\n\r\n")
                if end >= 0 and len(data) >= end + 4 + len(BODY):
                    if not data.startswith(b"HTTP/1.1 200 "):
                        raise ConnectionError("unexpected answer %r" % data[:60])
                    sel.unregister(s)
                    del pending[s]
                    s.setblocking(True)
                    served.append(s)
                else:
                    pending[s] = data
    except BaseException:
        for s in list(pending) + served:
            s.close()
        raise
    finally:
        sel.close()
    return served, list(pending), lost


def probe(port, timeout):
    """A new client: connect, one GET, its answer. (seconds, None) or (None, what happened)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(max(0.01, timeout - (time.monotonic() - t0)))
            s.sendall(REQUEST)
            read_response(s)
    except socket.timeout:
        return None, "no answer within %g s" % timeout
    except (OSError, ConnectionError) as e:
        return None, "%s: %s after %.1f s" % (type(e).__name__, e, time.monotonic() - t0)
    return time.monotonic() - t0, None


def measure_idle(kind, args):
    server = soak.Server([sys.executable, str(Path(__file__).resolve()), "--child", kind])
    socks, waiting = [], []
    row = {"kind": kind, "ok": False, "error": None}
    try:
        for _ in range(10):     # warm-up: a few connections, closed again
            with socket.create_connection(("127.0.0.1", server.port), timeout=args.timeout) as s:
                s.sendall(REQUEST)
                read_response(s)
        row["idle"] = wait_stable(server)
        t0 = time.monotonic()
        socks, waiting, row["lost"] = open_idle(server.port, args.connections, args.in_flight,
                                                args.open_seconds)
        row["open_seconds"] = time.monotonic() - t0
        row["served"], row["waiting"] = len(socks), len(waiting)
        row["loaded"] = wait_stable(server)
        # Still open and served? One more request on the first and the last.
        for s in (socks[0], socks[-1]):
            s.settimeout(args.timeout)
            s.sendall(REQUEST)
            read_response(s)
        row["probe_s"], row["probe_error"] = probe(server.port, args.probe_timeout)
        row["probe_after_open_s"] = time.monotonic() - t0
        for s in socks + waiting:
            s.close()
        socks, waiting = [], []
        row["closed"] = wait_stable(server)
        row["ok"] = server.alive()
    except (OSError, ConnectionError) as e:
        row["error"] = "%s: %s (after %d connections)" % (type(e).__name__, e, len(socks))
    finally:
        for s in socks + waiting:
            s.close()
        server.stop()
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--in-flight", type=int, default=256,
                   help="connections connecting or awaiting their answer at once")
    p.add_argument("--open-seconds", type=float, default=20.0,
                   help="stop opening connections after this long (the rest: 'waiting')")
    p.add_argument("--probe-timeout", type=float, default=70.0,
                   help="how long the new client waits for its answer, s")
    p.add_argument("--servers", default=",".join(KINDS),
                   help="part 1 servers, comma-separated (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="per socket operation, s")
    p.add_argument("--soak-requests", type=int, default=200000,
                   help="part 2 requests per fasthttp server (0: skip part 2)")
    p.add_argument("--soak-servers", default="threading,loop")
    p.add_argument("--soak-mix", choices=sorted(soak.MIXES), default="plain")
    p.add_argument("--max-seconds", type=float, default=600.0, help="each part-2 run, s")
    p.add_argument("--verbose", action="store_true", help="show part 2's soak output")
    p.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child)
    limit = soak.raise_nofile(args.connections + args.in_flight + 256)
    if limit < args.connections + 64:
        p.error("RLIMIT_NOFILE is %d, too low for %d connections" % (limit, args.connections))

    failed = False
    kinds = [k for k in args.servers.split(",") if k]
    rows = []
    print("part 1: %d idle keep-alive connections (one request each, then idle)"
          % args.connections, flush=True)
    for kind in kinds:
        row = measure_idle(kind, args)
        rows.append(row)
        if not row["ok"]:
            failed = True
            print("  %s: FAILED %s" % (kind, row["error"]), flush=True)
        else:
            print("  %s: done" % kind, flush=True)
    print()
    print("| server | served / waiting / reset | idle MiB | with conns MiB | KiB per idle conn | threads "
          "| fds | closed MiB | open s | a new client's GET |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if not row["ok"]:
            print("| %s | failed: %s |" % (LABELS[row["kind"]], row["error"]))
            continue
        idle, loaded, closed = row["idle"], row["loaded"], row["closed"]
        per = (loaded["rss"] - idle["rss"]) / row["served"] / 1024
        new = ("%.1f ms" % (row["probe_s"] * 1e3) if row["probe_s"] is not None and row["probe_s"] < 1
               else "%.1f s" % row["probe_s"] if row["probe_s"] is not None
               else row["probe_error"])
        print("| %s | %d / %d / %d | %.1f | %.1f | %.1f | %d | %d | %.1f | %.1f | %s |" % (
            LABELS[row["kind"]], row["served"], row["waiting"],
            row["lost"]["reset"] + row["lost"]["refused"], idle["rss"] / MB,
            loaded["rss"] / MB, per, loaded["threads"], loaded["fds"], closed["rss"] / MB,
            row["open_seconds"], new))
    print("  (served: connections answered within --open-seconds and held idle; waiting: "
          "connected, no answer yet; reset: refused, reset or closed before an answer)")
    for row in rows:
        if row["ok"] and row["lost"]["first_reset_after"] is not None:
            print("  %s: the first connection reset/refused after %d were served" % (
                LABELS[row["kind"]], row["lost"]["first_reset_after"]))
    ok_rows = {r["kind"]: r for r in rows if r["ok"]}
    if "stdlib" in ok_rows:
        base = ok_rows["stdlib"]["loaded"]["rss"]
        for kind in ("fasthttp", "fasthttp-loop"):
            if kind in ok_rows:
                print("  %s / stdlib RSS with %d idle connections: %.2f" % (
                    LABELS[kind], args.connections, ok_rows[kind]["loaded"]["rss"] / base))

    if args.soak_requests > 0:
        print()
        print("part 2: RSS over %d requests (bench/soak.py machinery, mix %r)"
              % (args.soak_requests, args.soak_mix), flush=True)
        results = []
        for kind in [k for k in args.soak_servers.split(",") if k]:
            out = sys.stdout if args.verbose else io.StringIO()
            res = soak.run(kind, args.soak_requests, mix=args.soak_mix,
                           max_seconds=args.max_seconds, out=out)
            results.append(res)
            if not res["ok"] and not args.verbose:
                sys.stdout.write(out.getvalue())
            print("  %s: %s" % (kind, "flat" if res["ok"] else "FAILED"), flush=True)
            failed |= not res["ok"]
        print()
        print("%-30s %9s %8s %10s %9s %12s %10s %9s" % (
            "server", "requests", "seconds", "start MiB", "end MiB", "growth MiB", "fds s/e",
            "missing"))
        for res in results:
            start, end = res["start"], res["end"] or {"rss": float("nan"), "fds": -1}
            print("%-30s %9d %8.1f %10.1f %9.1f %+12.2f %10s %9d" % (
                "fasthttp.%s" % ("LoopHTTPServer" if res["server"] == "loop"
                                 else "ThreadingHTTPServer"),
                res["sent"], res["duration"], start["rss"] / MB, end["rss"] / MB,
                res["growth"] / MB, "%d/%d" % (start["fds"], end["fds"]), res["missing"]))
        print("  growth: least-squares fit through the samples under load, over the run; "
              "tolerance %.1f MiB" % (max(r["tolerance"] for r in results) / MB
                                      if results else 0))
    print()
    print("verdict: %s" % ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
