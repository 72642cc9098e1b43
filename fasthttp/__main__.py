"""python -m fasthttp: the command line of `python -m http.server`, on fasthttp.

    python -m fasthttp [port] [-b ADDRESS] [-d DIRECTORY] [-p VERSION] [--cgi]
                       [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]]
                       [--workers N] [--access-log {common,json,off}]
                       [--graceful-timeout SECONDS]

SIGTERM or Ctrl-C stops it gracefully (in-flight requests finish, within
--graceful-timeout seconds); a second one ends it at once.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import socket
import sys
from http import HTTPStatus
from typing import Any

from fasthttp import server
from fasthttp.tls import ThreadingHTTPSServer
from fasthttp.workers import WorkersCrashing, serve

ACCESS_LOG_FORMATS = ("common", "json", "off")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fasthttp",
        description="Serve a directory over HTTP, like python -m http.server.")
    parser.add_argument("--cgi", action="store_true", help="run as CGI server")
    parser.add_argument("-b", "--bind", metavar="ADDRESS",
                        help="bind to this address (default: all interfaces)")
    parser.add_argument("-d", "--directory", default=os.getcwd(),
                        help="serve this directory (default: current directory)")
    parser.add_argument("-p", "--protocol", metavar="VERSION", default="HTTP/1.0",
                        help="conform to this HTTP version (default: %(default)s)")
    parser.add_argument("--tls-cert", metavar="PATH",
                        help="path to the TLS certificate chain file (serve HTTPS)")
    parser.add_argument("--tls-key", metavar="PATH",
                        help="path to the TLS key file")
    parser.add_argument("--tls-password-file", metavar="PATH",
                        help="path to the password file for the TLS key")
    parser.add_argument("-w", "--workers", type=int, default=1, metavar="N",
                        help="serve from N worker processes sharing the port "
                             "(default: %(default)s, this process)")
    parser.add_argument("--access-log", choices=ACCESS_LOG_FORMATS, default="common",
                        help="request log on stderr: common (http.server's lines), "
                             "json (one JSON object a line) or off (default: %(default)s)")
    parser.add_argument("--graceful-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="on SIGTERM/Ctrl-C, let in-flight requests finish for up "
                             "to this long (default: %(default)s)")
    parser.add_argument("port", default=8000, type=int, nargs="?",
                        help="bind to this port (default: %(default)s)")
    return parser


def _json_log_request(self: server.BaseHTTPRequestHandler, code: int | str = "-",
                      size: int | str = "-") -> None:
    """One JSON object a line on stderr, instead of the common log line."""
    if isinstance(code, HTTPStatus):
        code = code.value
    try:
        status = int(code)
    except (TypeError, ValueError):
        status = None
    try:
        nbytes = int(size)
    except (TypeError, ValueError):
        nbytes = None
    headers: Any = getattr(self, "headers", None)
    get = headers.get if hasattr(headers, "get") else (lambda name: None)
    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "remote": self.client_address[0] if self.client_address else None,
        "method": getattr(self, "command", None),
        "path": getattr(self, "path", None),
        "version": getattr(self, "request_version", None),
        "status": status,
        "size": nbytes,
        "referer": get("Referer"),
        "user_agent": get("User-Agent"),
        "pid": os.getpid(),
    }
    sys.stderr.write(json.dumps(record, ensure_ascii=True) + "\n")


def _no_log_request(self: server.BaseHTTPRequestHandler, code: int | str = "-",
                    size: int | str = "-") -> None:
    pass


def cli_handler_class(base: type[server.BaseHTTPRequestHandler], protocol: str = "HTTP/1.0",
                      access_log: str = "common") -> type[server.BaseHTTPRequestHandler]:
    """The CLI's handler: a subclass of `base` with the protocol version and
    the access log chosen; `base` itself (and its log_message) is untouched.
    Errors (log_error) are still written in http.server's format."""
    namespace: dict[str, Any] = {"protocol_version": protocol, "__module__": base.__module__,
                 "__qualname__": base.__qualname__}
    if access_log == "json":
        namespace["log_request"] = _json_log_request
    elif access_log == "off":
        namespace["log_request"] = _no_log_request
    elif access_log != "common":
        raise ValueError("access_log must be one of %s" % ", ".join(ACCESS_LOG_FORMATS))
    return type(base.__name__, (base,), namespace)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key requires --tls-cert to be set")
    tls_password: str | None = None
    if args.tls_password_file:
        if not args.tls_cert:
            parser.error("--tls-password-file requires --tls-cert to be set")
        try:
            with open(args.tls_password_file, encoding="utf-8") as f:
                tls_password = f.read().strip()
        except OSError as e:
            parser.error(f"Failed to read TLS password file: {e}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    base = server.CGIHTTPRequestHandler if args.cgi else server.SimpleHTTPRequestHandler
    handler_class = cli_handler_class(base, args.protocol, args.access_log)

    family, address = server._get_best_family(args.bind, args.port)
    server_base: type[server.ThreadingHTTPServer] = (
        ThreadingHTTPSServer if args.tls_cert else server.ThreadingHTTPServer)

    class DualStackServer(server_base):  # type: ignore[valid-type,misc]
        address_family = family

        # As http.server's CLI: accept IPv4 on an IPv6 socket where possible.
        def server_bind(self) -> Any:  # (the base class is chosen at run time)
            with contextlib.suppress(Exception):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            return super().server_bind()

    server_kwargs: dict[str, Any] | None = None
    if args.tls_cert:
        server_kwargs = {"certfile": args.tls_cert, "keyfile": args.tls_key,
                         "password": tls_password}

    def ready(httpd: Any) -> None:
        host, port = httpd.socket.getsockname()[:2]
        url_host = f"[{host}]" if ":" in host else host
        scheme = "HTTPS" if args.tls_cert else "HTTP"
        print(f"Serving {scheme} on {host} port {port} "
              f"({scheme.lower()}://{url_host}:{port}/) ...", flush=True)
        if args.workers > 1:
            print(f"{args.workers} workers, supervisor pid {os.getpid()}", flush=True)

    try:
        stopped_by = serve(handler_class, address, workers=args.workers,
                           server_class=DualStackServer,
                           handler_kwargs={"directory": args.directory},
                           server_kwargs=server_kwargs,
                           graceful_timeout=args.graceful_timeout, ready=ready)
    except WorkersCrashing as e:
        print(f"fasthttp: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C
        print("\nKeyboard interrupt received, exiting.")
        return 0
    if stopped_by == signal.SIGINT:
        print("\nKeyboard interrupt received, exiting.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
