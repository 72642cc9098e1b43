"""python -m fasthttp: the command line of `python -m http.server`, on fasthttp.

    python -m fasthttp [port] [-b ADDRESS | --unix-socket PATH | --fd N]
                       [--unix-socket-mode MODE] [--unix-socket-group GROUP]
                       [-d DIRECTORY] [-p VERSION] [--cgi] [--server {threading,loop}]
                       [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]]
                       [--workers N] [--access-log {common,json,off}]
                       [--forwarded-allow-ips LIST] [--graceful-timeout SECONDS]
                       [--version]

This module is the command line only: its options and their wiring. The
rest lives by concern: listeners.py (where it listens), proxy.py (the
client's address behind a proxy), accesslog.py (the logs), workers.py and
supervisor.py (serving, the workers and the table of signals), graceful.py
(the graceful stop).

SIGTERM or Ctrl-C stops it gracefully (in-flight requests finish, within
--graceful-timeout seconds); a second one ends it at once; with --workers,
SIGHUP reloads the workers. A mistake that stops it from starting (a busy
port, a missing certificate, ...) is one line on stderr and exit status 1.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import ssl
import sys
from typing import Any, Callable

from fasthttp import _core, accesslog, listeners, server
from fasthttp._version import __version__
from fasthttp.accesslog import ACCESS_LOG_FORMATS, JsonLogMixIn, LoggedErrorsMixIn
from fasthttp.graceful import GracefulServerMixIn
from fasthttp.listeners import ListenerMixIn, ListenError
from fasthttp.loop import LoopHTTPServer
from fasthttp.proxy import ForwardedMixIn, ForwardedTrust, PeerMixIn
from fasthttp.tls import ThreadingHTTPSServer
from fasthttp.workers import WorkersCrashing, serve

SERVER_CLASSES = ("threading", "loop")


class CLIError(Exception):
    """A reason not to start, told in one line (exit status 1)."""


def implementation() -> str:
    """'fasthttp X.Y.Z (C extension), Python 3.x.y': which request path runs."""
    path = "C extension" if _core.accelerated else "pure Python"
    return "fasthttp %s (%s), Python %s" % (__version__, path, platform.python_version())


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a parser raising ValueError with its reason."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = parse.__name__
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fasthttp",
        description="Serve a directory over HTTP, like python -m http.server.",
        epilog="Signals: SIGTERM or Ctrl-C stops gracefully (a second one ends it at once, "
               "also when sent to the whole process group); with --workers, SIGHUP starts "
               "new workers and stops the old ones gracefully. A socket from systemd "
               "(LISTEN_FDS/LISTEN_PID for this process) is served when none of --fd, "
               "--unix-socket, --bind or a port is given.")
    parser.add_argument("--version", action="version", version=implementation())
    parser.add_argument("--cgi", action="store_true", help="run as CGI server")
    parser.add_argument("-b", "--bind", metavar="ADDRESS",
                        help="bind to this address (default: all IPv4 interfaces; "
                             "'::' for IPv6 and IPv4)")
    listen = parser.add_mutually_exclusive_group()
    listen.add_argument("--unix-socket", metavar="PATH",
                        help="listen on this Unix socket instead of a TCP port "
                             "(a stale socket file there is removed first)")
    listen.add_argument("--fd", type=int, metavar="N",
                        help="serve on the listening socket inherited as file "
                             "descriptor N (systemd socket activation: 3; a supervisor's socket)")
    parser.add_argument("--unix-socket-mode", type=_argument(listeners.parse_mode),
                        metavar="MODE",
                        help="permissions of the --unix-socket file, in octal, as chmod "
                             "(e.g. 660; connecting takes write permission) "
                             "(default: 666 less the umask)")
    parser.add_argument("--unix-socket-group", type=_argument(listeners.parse_group),
                        metavar="GROUP",
                        help="group of the --unix-socket file, a name or number "
                             "(e.g. www-data, for nginx's workers with --unix-socket-mode 660)")
    parser.add_argument("-d", "--directory", default=os.getcwd(),
                        help="serve this directory (default: current directory)")
    parser.add_argument("-p", "--protocol", metavar="VERSION", default="HTTP/1.0",
                        help="conform to this HTTP version (default: %(default)s; "
                             "HTTP/1.1 for keep-alive)")
    parser.add_argument("--server", choices=SERVER_CLASSES, default="threading",
                        help="threading: ThreadingHTTPServer, on the connection engine: a "
                             "handler runs where its request completes, and one that waits "
                             "gets a thread of its own (at most 1024); loop: LoopHTTPServer, "
                             "the same engine, at most 64 waiting handlers (no TLS) "
                             "(default: %(default)s)")
    parser.add_argument("--tls-cert", metavar="PATH",
                        help="path to the TLS certificate chain file (serve HTTPS)")
    parser.add_argument("--tls-key", metavar="PATH",
                        help="path to the TLS key file (default: in --tls-cert)")
    parser.add_argument("--tls-password-file", metavar="PATH",
                        help="path to the password file for the TLS key (an encrypted "
                             "key without it is an error: the password is never asked for)")
    parser.add_argument("-w", "--workers", type=int, default=1, metavar="N",
                        help="serve from N worker processes sharing the socket "
                             "(default: %(default)s, this process)")
    parser.add_argument("--access-log", choices=ACCESS_LOG_FORMATS, default="common",
                        help="request log on stderr: common (http.server's lines), "
                             "json (stderr is then JSON only, one object a line: requests, "
                             "errors, the server's events) or off (errors only) "
                             "(default: %(default)s)")
    parser.add_argument("--forwarded-allow-ips", metavar="LIST", default="",
                        help="comma-separated proxy addresses or networks to trust "
                             "('unix': clients of --unix-socket, '*': all): from them, "
                             "the client address is taken from X-Forwarded-For when it "
                             "is an IP address (default: none, the header is ignored)")
    parser.add_argument("--graceful-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="on SIGTERM/Ctrl-C/SIGHUP, let in-flight requests finish for "
                             "up to this long (default: %(default)s)")
    parser.add_argument("port", default=None, type=int, nargs="?",
                        help="bind to this port (default: 8000)")
    return parser


def cli_handler_class(base: type[server.BaseHTTPRequestHandler], protocol: str = "HTTP/1.0",
                      access_log: str = "common",
                      forwarded_allow_ips: str = "") -> type[server.BaseHTTPRequestHandler]:
    """The CLI's handler: a subclass of `base` with the protocol version, the
    access log and the proxy trust chosen; `base` itself (and its
    log_message) is untouched. Only what is asked for is overridden, so the
    common log without a trusted proxy runs base's request path as it is."""
    if access_log not in ACCESS_LOG_FORMATS:
        raise ValueError("access_log must be one of %s" % ", ".join(ACCESS_LOG_FORMATS))
    trust = ForwardedTrust(forwarded_allow_ips)

    class Handler(PeerMixIn, base):  # type: ignore[misc,valid-type]
        protocol_version = protocol

    handler: type[Any] = Handler
    if trust:
        class Forwarded(ForwardedMixIn, handler):  # type: ignore[misc]
            forwarded_trust = trust
        handler = Forwarded
    if access_log == "json":
        class JsonLogged(JsonLogMixIn, handler):  # type: ignore[misc]
            pass
        handler = JsonLogged
    elif access_log == "off":
        class Unlogged(accesslog.NoRequestLogMixIn, handler):  # type: ignore[misc]
            pass
        handler = Unlogged
    # Named as `base` (reprs, tracebacks).
    handler.__name__, handler.__qualname__ = base.__name__, base.__qualname__
    handler.__module__ = base.__module__
    return handler


# -- the server classes: a graceful stop, where to listen, errors in the log -------

class _CLIServerMixIn(GracefulServerMixIn, LoggedErrorsMixIn, ListenerMixIn):
    """Takes listener= and access_log= as keyword arguments."""


class CLIThreadingHTTPServer(_CLIServerMixIn, server.ThreadingHTTPServer):
    pass


class CLILoopHTTPServer(_CLIServerMixIn, LoopHTTPServer):
    pass


class CLIThreadingHTTPSServer(_CLIServerMixIn, ThreadingHTTPSServer):
    pass


# -- TLS: say what is wrong before serving ---------------------------------------

class _NoPassword(Exception):
    pass


def _password_callback(password: str | None) -> Callable[[], str]:
    """What load_cert_chain() gets: never None, or OpenSSL would prompt on
    the terminal for an encrypted key."""
    def password_callback() -> str:
        if password is None:
            raise _NoPassword()
        return password
    return password_callback


def _check_tls(cert: str, key: str | None, password: str | None) -> None:
    """Load the certificate and key once, here, to say in one line what is
    wrong (the server's own loading would end in a traceback)."""
    for what, path in (("certificate", cert), ("key", key)):
        if path is None:
            continue
        try:
            open(path, "rb").close()
        except FileNotFoundError:
            raise CLIError("TLS %s file not found: %s" % (what, path)) from None
        except OSError as e:
            raise CLIError("cannot read TLS %s file %s: %s"
                           % (what, path, e.strerror or e)) from None
    key_file = key or cert
    asked: list[bool] = []
    callback = _password_callback(password)

    def password_callback() -> str:
        asked.append(True)
        return callback()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key, password_callback)
    except _NoPassword:
        raise CLIError("TLS key %s is encrypted: give its password with "
                       "--tls-password-file" % key_file) from None
    except ssl.SSLError as e:
        if asked:
            raise CLIError("wrong password for TLS key %s" % key_file) from None
        reason = re.sub(r" \(_ssl\.c:\d+\)$", "", str(e))    # OpenSSL's source line
        raise CLIError("cannot load TLS certificate %s%s: %s" % (
            cert, " with key %s" % key if key else "", reason)) from None


def _read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError("cannot read --tls-password-file %s: %s"
                       % (path, getattr(e, "strerror", None) or e)) from None


# -- main ------------------------------------------------------------------------

def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot express: usage errors (exit status 2)."""
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key requires --tls-cert to be set")
    if args.tls_password_file and not args.tls_cert:
        parser.error("--tls-password-file requires --tls-cert to be set")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.server == "loop" and args.tls_cert:
        parser.error("--server loop does not serve TLS; use --server threading")
    if (args.unix_socket or args.fd is not None) and (args.bind or args.port is not None):
        parser.error("--unix-socket and --fd take the place of --bind and the port")
    if (args.unix_socket_mode is not None or args.unix_socket_group is not None) \
            and not args.unix_socket:
        parser.error("--unix-socket-mode and --unix-socket-group need --unix-socket")
    try:
        ForwardedTrust(args.forwarded_allow_ips)
    except ValueError as e:
        parser.error("--forwarded-allow-ips: %s" % e)


def main(argv: list[str] | None = None,
         handler_class: type[server.BaseHTTPRequestHandler] | None = None) -> int:
    """The command line. `handler_class` replaces SimpleHTTPRequestHandler
    (CGIHTTPRequestHandler with --cgi), for embedding and tests."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cgi and not hasattr(server, "CGIHTTPRequestHandler"):
        # http.server has no CGI from 3.15 (its --cgi is gone: a usage error)
        print("python -m fasthttp: error: --cgi needs Python 3.14 or older "
              "(CGI was removed from http.server in 3.15)", file=sys.stderr)
        return 2
    _check_arguments(parser, args)
    try:
        return _run(args, handler_class)
    except (CLIError, ListenError) as e:
        if args.access_log == "json":     # stderr stays JSON only
            accesslog.write_record("exit", str(e), level="error")
        else:
            print("fasthttp: %s" % e, file=sys.stderr)
        return 1


def _listener(args: argparse.Namespace) -> listeners.Listener:
    if args.fd is not None:
        return listeners.fd_listener(args.fd)
    if args.unix_socket:
        return listeners.unix_listener(args.unix_socket, args.unix_socket_mode,
                                       args.unix_socket_group)
    if not args.bind and args.port is None:
        fd = listeners.systemd_fd()
        if fd is not None:
            return listeners.fd_listener(fd, "systemd (fd %d)" % fd)
    return listeners.tcp_listener(args.bind, args.port)


def _run(args: argparse.Namespace,
         handler_class: type[server.BaseHTTPRequestHandler] | None) -> int:
    if not os.path.isdir(args.directory):
        raise CLIError("--directory %s: %s" % (
            args.directory, "not a directory" if os.path.exists(args.directory)
            else "no such directory"))

    server_kwargs: dict[str, Any] = {}
    if args.tls_cert:
        password = _read_password(args.tls_password_file) if args.tls_password_file else None
        _check_tls(args.tls_cert, args.tls_key, password)
        server_kwargs = {"certfile": args.tls_cert, "keyfile": args.tls_key,
                         "password": _password_callback(password)}

    if handler_class is None:
        handler_class = (server.CGIHTTPRequestHandler if args.cgi
                         else server.SimpleHTTPRequestHandler)
    handler = cli_handler_class(handler_class, args.protocol, args.access_log,
                                args.forwarded_allow_ips)
    listener = _listener(args)
    server_class: type[_CLIServerMixIn]
    if args.tls_cert:
        server_class, server_name = CLIThreadingHTTPSServer, "ThreadingHTTPSServer"
    elif args.server == "loop":
        server_class, server_name = CLILoopHTTPServer, "LoopHTTPServer"
    else:
        server_class, server_name = CLIThreadingHTTPServer, "ThreadingHTTPServer"
    server_kwargs.update(listener=listener, access_log=args.access_log)
    accesslog.log_events_to_stderr(args.access_log)

    started = False

    def ready(httpd: Any) -> None:
        nonlocal started
        started = True
        scheme = "HTTPS" if args.tls_cert else "HTTP"
        where = httpd.socket.getsockname()
        url = None
        if isinstance(where, tuple):
            host, port = where[:2]
            url_host = f"[{host}]" if ":" in host else host
            url = f"{scheme.lower()}://{url_host}:{port}/"
            banner = f"Serving {scheme} on {host} port {port} ({url}) ..."
        else:
            banner = f"Serving {scheme} on unix:{where} ..."
        details = [implementation(), server_name]
        if listener.inherited is not None:
            details.append("socket from " + listener.origin)
        if args.workers > 1:
            details.append(f"{args.workers} workers, supervisor pid {os.getpid()}")
        else:
            details.append(f"pid {os.getpid()}")
        print(banner, flush=True)
        print("; ".join(details), flush=True)
        if args.access_log == "json":
            accesslog.write_record("start", banner, url=url, implementation=implementation(),
                                   server=server_name, workers=args.workers)

    try:
        stopped_by = serve(handler, listener.address, workers=args.workers,
                           server_class=server_class,
                           handler_kwargs={"directory": args.directory},
                           server_kwargs=server_kwargs,
                           graceful_timeout=args.graceful_timeout, ready=ready,
                           # how soon a stop is noticed: SIGTERM ends an idle server in 0.1 s
                           poll_interval=0.1)
    except WorkersCrashing as e:
        raise CLIError(str(e)) from None
    except KeyboardInterrupt:  # a second Ctrl-C
        print("\nKeyboard interrupt received, exiting.")
        return 0
    except OSError as e:
        if started:
            raise
        raise CLIError("cannot listen on %s: %s"
                       % (listener.describe(), e.strerror or e)) from None
    if stopped_by == signal.SIGINT:
        print("\nKeyboard interrupt received, exiting.")
    return 0


__all__ = ["main", "build_parser", "cli_handler_class", "implementation",
           "ForwardedTrust", "ACCESS_LOG_FORMATS", "SERVER_CLASSES"]

if __name__ == "__main__":
    sys.exit(main())
