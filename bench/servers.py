"""Hello-world servers for the benchmarks, one per KIND.

    python bench/servers.py KIND PORT

KIND is one of:

  stdlib           http.server.ThreadingHTTPServer as shipped (HTTP/1.1, unbuffered wfile)
  stdlib-tuned     the same, plus the two classic fixes: buffered wfile (wbufsize = -1,
                   one send() per response) and TCP_NODELAY (disable_nagle_algorithm)
  fasthttp         fasthttp.ThreadingHTTPServer + fasthttp.BaseHTTPRequestHandler, drop-in
  fasthttp-tuned   the same with stdlib-tuned's two fixes (not in load.py's default set)
  fasthttp-loop    fasthttp.LoopHTTPServer (one event loop, handlers inline), same handler
  uvicorn          uvicorn, http=httptools, loop=asyncio, raw ASGI hello app
  uvicorn-uvloop   uvicorn, http=httptools, loop=uvloop, raw ASGI hello app
  granian          granian (Rust), WSGI interface, one worker process with one runtime thread
                   and one blocking thread (the one Python thread that runs the app), HTTP/1
                   only, no log; a child of this process, which ends it by PID (as nginx)
  nginx            nginx (Debian's nginx-light), one worker, ``return 200`` of the same body,
                   keep-alive, no access log; its own temporary prefix, conf and pid file.
                   This process starts it (``daemon off``), waits, and ends it by PID: the
                   server's CPU is nginx's (master + worker, see load.py's cpu_seconds)

Every server binds 127.0.0.1:PORT (PORT 0 picks a free one), prints ``READY <port>`` on
stdout once it listens, answers every GET (and HEAD) with 200, Content-Type, Content-Length
and a 13-byte body, and logs nothing.

The scripts start them with ``start(kind)`` (a processes.ServerProcess), check them with
``check_hello(port)``, and ask ``available(kinds)`` which of them can run here. The handler
factory is also imported by the pytest-benchmark files, so the in-process roundtrip
benchmarks serve exactly the same response as the load test.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import processes

REPO_ROOT = processes.REPO_ROOT

BODY = b"Hello, world!"  # 13 bytes
assert len(BODY) == 13
CONTENT_LENGTH = str(len(BODY))

KINDS = ("stdlib", "stdlib-tuned", "fasthttp", "fasthttp-tuned", "fasthttp-loop", "uvicorn",
         "uvicorn-uvloop", "granian", "nginx")

# One worker, keep-alive without a per-connection request limit (the Python servers have
# none; nginx's default of 1,000 would make wrk reconnect), the hello body as text/plain.
NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        location / {{
            default_type text/plain;
            return 200 "{body}";
        }}
    }}
}}
"""


def import_fasthttp():
    """Import fasthttp from this working tree (it may be built in place, not installed)."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    import fasthttp  # noqa: PLC0415

    # Before the package exists, fasthttp/ (holding only _version.py) imports as an empty
    # namespace package: treat that as "not importable".
    missing = [n for n in ("BaseHTTPRequestHandler", "ThreadingHTTPServer") if not hasattr(fasthttp, n)]
    if missing:
        raise ImportError(f"fasthttp at {list(getattr(fasthttp, '__path__', []))} lacks {', '.join(missing)}")
    return fasthttp


def make_hello_handler(base, *, tuned=False, tcp=True, name=None):
    """Subclass *base* (a BaseHTTPRequestHandler) into the hello handler.

    tuned: buffered wfile (one send() per response); with tcp=True also TCP_NODELAY.
    """

    class HelloHandler(base):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", CONTENT_LENGTH)
            self.end_headers()
            self.wfile.write(BODY)

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", CONTENT_LENGTH)
            self.end_headers()

        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            pass

    if tuned:
        HelloHandler.wbufsize = -1  # io.DEFAULT_BUFFER_SIZE; handle_one_request flushes it
        HelloHandler.disable_nagle_algorithm = bool(tcp)
    HelloHandler.__name__ = HelloHandler.__qualname__ = name or (
        f"{base.__module__}.{base.__name__}.Hello{'Tuned' if tuned else ''}"
    )
    return HelloHandler


async def hello_asgi(scope, receive, send):
    """Raw ASGI hello app: no framework, same headers and body as the handlers."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", CONTENT_LENGTH.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def hello_wsgi(environ, start_response):
    """The WSGI hello app (granian's): the same headers and body as the handlers."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", CONTENT_LENGTH)])
    return [BODY]


def _ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def serve(httpd) -> None:
    """Serve *httpd* (a socketserver server, bound) until SIGTERM or Ctrl-C, then close it;
    READY <port> once it listens. Our other scripts' servers run through this too."""
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    _ready(httpd.server_address[1])
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def threading_parts(kind: str):
    """(handler base class, server class, tuned) of a Python KIND: stdlib*, fasthttp*."""
    if kind.startswith("fasthttp"):
        fasthttp = import_fasthttp()
        sys.stderr.write(
            f"fasthttp {getattr(fasthttp, '__version__', '?')} from {fasthttp.__file__}, "
            f"accelerated={getattr(fasthttp, 'accelerated', '?')}\n"
        )
        server_cls = (fasthttp.LoopHTTPServer if kind == "fasthttp-loop"
                      else fasthttp.ThreadingHTTPServer)
        return fasthttp.BaseHTTPRequestHandler, server_cls, kind == "fasthttp-tuned"
    import http.server  # noqa: PLC0415

    return http.server.BaseHTTPRequestHandler, http.server.ThreadingHTTPServer, kind == "stdlib-tuned"


def serve_threading(kind: str, port: int, make_handler=make_hello_handler) -> None:
    """A Python KIND's server with make_handler(base, tuned=...)'s handler (the hello one)."""
    base, server_cls, tuned = threading_parts(kind)
    processes.raise_nofile()    # bench/memory.py holds thousands of connections
    serve(server_cls(("127.0.0.1", port), make_handler(base, tuned=tuned)))


def serve_uvicorn(kind: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    loop = "uvloop" if kind == "uvicorn-uvloop" else "asyncio"
    config = uvicorn.Config(
        hello_asgi,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop=loop,
        lifespan="off",
        access_log=False,
        log_level="warning",
        interface="asgi3",
    )
    # Bind ourselves so that READY is printed only once the port really listens. The explicit
    # IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP
    # (as those from loop.create_server(host, port), uvicorn's own path, are); with proto 0
    # every response would wait out Nagle + delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    server = uvicorn.Server(config)
    _ready(sock.getsockname()[1])
    server.run(sockets=[sock])


def serve_granian(port: int) -> None:
    """Run granian as a child of this process until SIGTERM / Ctrl-C; READY once it answers."""
    port = port or processes.free_port()    # as nginx: a port chosen beforehand, polled
    argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--runtime-threads", "1",
            "--blocking-threads", "1", "--http", "1", "--no-ws", "--no-log",
            "--working-dir", str(processes.BENCH_DIR), "servers:hello_wsgi"]
    with processes.ServerProcess("granian", argv, port=port) as granian:
        granian.wait_ready()
        _ready(port)
        granian.proc.wait()


def nginx_binary(name: str = "nginx"):
    """nginx's path, or None when it is not installed (apt-get install -y nginx-light)."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)), None)


def nginx_process(root: Path, conf: str, port: int, cpu: int | None = None) -> processes.ServerProcess:
    """nginx in the foreground on 127.0.0.1:*port*, configured by *conf* (its pid file, logs and
    temporary paths under *root*, a directory of ours), on CPU *cpu* if given; its error log
    is the process's log."""
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is not installed (apt-get install -y nginx-light)")
    (root / "tmp").mkdir(exist_ok=True)
    path = root / f"nginx-{port}.conf"
    path.write_text(conf)
    argv = [nginx, "-p", str(root), "-c", str(path), "-e", str(root / "error.log")]
    return processes.ServerProcess("nginx", processes.pinned(cpu, argv), port=port,
                                   log=root / "error.log")


def serve_nginx(port: int) -> None:
    """Run nginx as a child of this process until SIGTERM / Ctrl-C; READY once it answers."""
    port = port or processes.free_port()    # nginx cannot report the port it picked (a tiny race)
    root = Path(tempfile.mkdtemp(prefix="fasthttp-bench-nginx-"))
    try:
        conf = NGINX_CONF.format(root=root, port=port, body=BODY.decode())
        with nginx_process(root, conf, port) as nginx:  # SIGTERM at the end: a fast shutdown
            nginx.wait_ready(15)
            _ready(port)
            nginx.proc.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the scripts' side


def start(kind: str, logdir: Path | None = None, cpu: int | None = None) -> processes.ServerProcess:
    """Start ``servers.py KIND 0`` in its own process (wait_ready() for its port), on CPU
    *cpu* if given (its children too: nginx, granian); its stderr goes to logdir/KIND.log,
    or to a temporary file."""
    argv = [sys.executable, str(Path(__file__).resolve()), kind, "0"]
    return processes.ServerProcess(kind, processes.pinned(cpu, argv),
                                   log=logdir / f"{kind}.log" if logdir else None)


def check_hello(port: int, requests: int = 200, seconds: float = 0.5) -> None:
    """The hello answer, then a short keep-alive warm-up (up to *requests* in *seconds*)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + seconds
    try:
        for i in range(requests):
            if i and time.monotonic() > deadline:
                break
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            if i == 0 and (resp.status != 200 or body != BODY):
                raise RuntimeError(f"unexpected response {resp.status} {body!r}")
    finally:
        conn.close()


def fasthttp_missing() -> str | None:
    """Why fasthttp cannot be imported from this tree, or None when it can."""
    try:
        import_fasthttp()
    except Exception as exc:  # noqa: BLE001 - any import failure: not available yet
        return f"fasthttp not importable ({type(exc).__name__}: {exc})"
    return None


def fasthttp_description() -> str | None:
    """fasthttp's version, mode and place, or None when it cannot be imported."""
    if fasthttp_missing():
        return None
    fh = import_fasthttp()
    mode = "C-accelerated" if getattr(fh, "accelerated", False) else "pure-Python"
    return f"fasthttp {getattr(fh, '__version__', '?')} ({mode}) from {fh.__file__}"


def available(wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the kinds of *wanted* that can run here, {kind: why not} for the others)."""
    missing = fasthttp_missing()
    need = {"uvicorn": ("uvicorn", "httptools"), "uvicorn-uvloop": ("uvicorn", "httptools", "uvloop"),
            "granian": ("granian",)}
    run, skipped = [], {}
    for kind in wanted:
        absent = [m for m in need.get(kind, ()) if not processes.have_module(m)]
        if kind.startswith("fasthttp") and missing:
            skipped[kind] = missing
        elif absent:
            skipped[kind] = f"{'/'.join(absent)} not importable (pass --install-peers)"
        elif kind == "nginx" and not nginx_binary():
            skipped[kind] = "nginx not installed (pass --install-nginx)"
        else:
            run.append(kind)
    return run, skipped


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in KINDS:
        sys.stderr.write(f"usage: python {Path(__file__).name} {{{','.join(KINDS)}}} PORT\n")
        return 2
    kind, port = argv[0], int(argv[1])
    try:
        if kind == "nginx":
            serve_nginx(port)
        elif kind.startswith("uvicorn"):
            serve_uvicorn(kind, port)
        elif kind == "granian":
            serve_granian(port)
        else:
            serve_threading(kind, port)
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # The scripts end servers with SIGTERM: unwind like Ctrl-C (uvicorn installs its own handler).
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    sys.exit(main())
