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
  nginx            nginx (Debian's nginx-light), one worker, ``return 200`` of the same body,
                   keep-alive, no access log; its own temporary prefix, conf and pid file.
                   This process starts it (``daemon off``), waits, and ends it by PID: the
                   server's CPU is nginx's (master + worker, see load.py's cpu_seconds)

Every server binds 127.0.0.1:PORT (PORT 0 picks a free one), prints ``READY <port>`` on
stdout once it listens, answers every GET (and HEAD) with 200, Content-Type, Content-Length
and a 13-byte body, and logs nothing.

The handler factory is also imported by the pytest-benchmark files, so the in-process
roundtrip benchmarks serve exactly the same response as the load test.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

BODY = b"Hello, world!"  # 13 bytes
assert len(BODY) == 13
CONTENT_LENGTH = str(len(BODY))

KINDS = ("stdlib", "stdlib-tuned", "fasthttp", "fasthttp-tuned", "fasthttp-loop", "uvicorn",
         "uvicorn-uvloop", "nginx")

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


def _ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def serve_threading(kind: str, port: int) -> None:
    if kind.startswith("fasthttp"):
        fasthttp = import_fasthttp()
        handler = make_hello_handler(fasthttp.BaseHTTPRequestHandler, tuned=(kind == "fasthttp-tuned"))
        server_cls = (fasthttp.LoopHTTPServer if kind == "fasthttp-loop"
                      else fasthttp.ThreadingHTTPServer)
        sys.stderr.write(
            f"fasthttp {getattr(fasthttp, '__version__', '?')} from {fasthttp.__file__}, "
            f"accelerated={getattr(fasthttp, 'accelerated', '?')}\n"
        )
    else:
        import http.server  # noqa: PLC0415

        handler = make_hello_handler(http.server.BaseHTTPRequestHandler, tuned=(kind == "stdlib-tuned"))
        server_cls = http.server.ThreadingHTTPServer
    httpd = server_cls(("127.0.0.1", port), handler)
    _ready(httpd.server_address[1])
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


def serve_uvicorn(kind: str, port: int) -> None:
    import socket  # noqa: PLC0415

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


def nginx_binary():
    """nginx's path, or None when it is not installed (apt-get install -y nginx-light)."""
    import os  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def serve_nginx(port: int) -> None:
    """Run nginx in the foreground as a child of this process until SIGTERM / Ctrl-C."""
    import shutil  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    import time  # noqa: PLC0415

    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is not installed (apt-get install -y nginx-light)")
    if port == 0:   # nginx cannot report the port it picked: pick one (a tiny race)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    root = Path(tempfile.mkdtemp(prefix="fasthttp-bench-nginx-"))
    proc = None
    try:
        (root / "tmp").mkdir()
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port, body=BODY.decode()))
        proc = subprocess.Popen([nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:     # READY only once it answers connections
            if proc.poll() is not None:
                raise SystemExit(f"nginx exited with {proc.returncode}: "
                                 f"{(root / 'error.log').read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        _ready(port)
        proc.wait()
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()    # SIGTERM: nginx's fast shutdown (master and worker)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


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
        else:
            serve_threading(kind, port)
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # load.py ends servers with SIGTERM: unwind like Ctrl-C (uvicorn installs its own handler).
    import signal

    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    sys.exit(main())
