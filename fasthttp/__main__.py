"""python -m fasthttp: the command line of `python -m http.server`, on fasthttp.

    python -m fasthttp [port] [-b ADDRESS | --unix-socket PATH | --fd N]
                       [-d DIRECTORY] [-p VERSION] [--cgi] [--server {threading,loop}]
                       [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]]
                       [--workers N] [--access-log {common,json,off}]
                       [--forwarded-allow-ips LIST] [--graceful-timeout SECONDS]
                       [--version]

SIGTERM or Ctrl-C stops it gracefully (in-flight requests finish, within
--graceful-timeout seconds); a second one ends it at once. A mistake that
stops it from starting (a busy port, a missing certificate, ...) is one line
on stderr and exit status 1.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import http.server as _stdlib
import ipaddress
import json
import os
import platform
import re
import signal
import socket
import ssl
import stat
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from fasthttp import _core, server
from fasthttp._version import __version__
from fasthttp.loop import LoopHTTPServer
from fasthttp.tls import ThreadingHTTPSServer
from fasthttp.workers import WorkersCrashing, client_went_away, serve

# http.server's CLI's choice of address family (IPv6 when it can); not in typeshed.
_get_best_family: Callable[..., tuple[Any, Any]] = vars(_stdlib)["_get_best_family"]

ACCESS_LOG_FORMATS = ("common", "json", "off")
SERVER_CLASSES = ("threading", "loop")

#: client_address of a client on a Unix socket (the kernel gives ''); nginx
#: writes the same for such a client's $remote_addr.
UNIX_PEER = ("unix:", 0)

#: The first socket systemd passes (sd_listen_fds(3)).
SD_LISTEN_FDS_START = 3

_IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
_IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

if TYPE_CHECKING:
    _HandlerBase = server.BaseHTTPRequestHandler
    _ServerBase = server.HTTPServer
else:
    _HandlerBase = _ServerBase = object


class CLIError(Exception):
    """A reason not to start, told in one line (exit status 1)."""


def implementation() -> str:
    """'fasthttp X.Y.Z (C extension), Python 3.x.y': which request path runs."""
    path = "C extension" if _core.accelerated else "pure Python"
    return "fasthttp %s (%s), Python %s" % (__version__, path, platform.python_version())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fasthttp",
        description="Serve a directory over HTTP, like python -m http.server.",
        epilog="Stop it with SIGTERM or Ctrl-C (graceful; a second one ends it at once). "
               "A socket from systemd (LISTEN_FDS/LISTEN_PID for this process) is "
               "served when none of --fd, --unix-socket, --bind or a port is given.")
    parser.add_argument("--version", action="version", version=implementation())
    parser.add_argument("--cgi", action="store_true", help="run as CGI server")
    parser.add_argument("-b", "--bind", metavar="ADDRESS",
                        help="bind to this address (default: all interfaces)")
    listen = parser.add_mutually_exclusive_group()
    listen.add_argument("--unix-socket", metavar="PATH",
                        help="listen on this Unix socket instead of a TCP port "
                             "(a stale socket file there is removed first)")
    listen.add_argument("--fd", type=int, metavar="N",
                        help="serve on the listening socket inherited as file "
                             "descriptor N (systemd socket activation: 3; a supervisor's socket)")
    parser.add_argument("-d", "--directory", default=os.getcwd(),
                        help="serve this directory (default: current directory)")
    parser.add_argument("-p", "--protocol", metavar="VERSION", default="HTTP/1.0",
                        help="conform to this HTTP version (default: %(default)s; "
                             "HTTP/1.1 for keep-alive)")
    parser.add_argument("--server", choices=SERVER_CLASSES, default="threading",
                        help="threading: ThreadingHTTPServer, a thread per connection; "
                             "loop: LoopHTTPServer, one event loop (handlers must not "
                             "block; no TLS) (default: %(default)s)")
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
                             "json (one JSON object a line, errors too) or off "
                             "(errors only) (default: %(default)s)")
    parser.add_argument("--forwarded-allow-ips", metavar="LIST", default="",
                        help="comma-separated proxy addresses or networks to trust "
                             "('unix': clients of --unix-socket, '*': all): from them, "
                             "the client address is taken from X-Forwarded-For "
                             "(default: none, the header is ignored)")
    parser.add_argument("--graceful-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="on SIGTERM/Ctrl-C, let in-flight requests finish for up "
                             "to this long (default: %(default)s)")
    parser.add_argument("port", default=None, type=int, nargs="?",
                        help="bind to this port (default: 8000)")
    return parser


# -- trusting a proxy ----------------------------------------------------------

class ForwardedTrust:
    """Which peers may tell the client's address in X-Forwarded-For."""

    def __init__(self, spec: str) -> None:
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        self.anyone = "*" in entries
        self.unix = "unix" in entries
        self.networks: list[_IPNetwork] = [
            ipaddress.ip_network(e, strict=False) for e in entries if e not in ("*", "unix")]

    def __bool__(self) -> bool:
        return self.anyone or self.unix or bool(self.networks)

    def trusts(self, host: str) -> bool:
        if self.anyone:
            return True
        if host == UNIX_PEER[0]:
            return self.unix
        try:
            address: _IPAddress = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped    # an IPv4 client of a dual-stack socket
        return any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: list[str] | None) -> str | None:
        """The client's address if `peer` is trusted and says one, else None.
        Each proxy appends the address it got the request from, so read from
        the right: the first address not trusted is the client; addresses to
        its left are whatever that client wrote."""
        if not forwarded_for or not self.trusts(peer):
            return None
        hops = [h.strip() for field in forwarded_for for h in field.split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else None


# -- the handler -----------------------------------------------------------------

class _CountingWriter:
    """The handler's wfile during one request when the log is JSON: counts
    the body bytes written through it. (http.server logs from send_response,
    before any body exists, so the size is known only at the end.)"""

    __slots__ = ("raw", "body_bytes")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.body_bytes = 0

    def write(self, data: Any) -> Any:
        n = self.raw.write(data)
        if n:
            self.body_bytes += n
        return n

    def write_head(self, head: bytes) -> None:
        # Not counted; our SocketWriter sends it held back with the body.
        if type(self.raw) is _core.SocketWriter:
            self.raw.write_head(head)
        else:
            self.raw.write(head)

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:   # fileno() for CGI, closed, ...
        return getattr(self.raw, name)


class _PeerMixIn(_HandlerBase):
    """Keeps the connection's peer; gives a Unix socket's client a sane
    client_address (handlers and the log line read client_address[0])."""

    _fh_peer: Any = None

    def __init__(self, request: Any, client_address: Any, server: Any,
                 *args: Any, **kwargs: Any) -> None:
        if not (isinstance(client_address, tuple) and client_address):
            client_address = UNIX_PEER
        self._fh_peer = client_address
        super().__init__(request, client_address, server, *args, **kwargs)


class _ForwardedMixIn(_HandlerBase):
    """client_address from X-Forwarded-For, when the peer is a trusted proxy.
    Decided per request: one upstream connection carries many clients."""

    forwarded_trust: ForwardedTrust
    _fh_peer: Any

    def parse_request(self) -> bool:
        peer = self._fh_peer or self.client_address
        self.client_address = peer
        ok: bool = super().parse_request()
        if ok:
            client = self.forwarded_trust.client(
                str(peer[0]), self.headers.get_all("X-Forwarded-For"))
            if client is not None:
                self.client_address = (client, 0)
        return ok


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class _JsonLogMixIn(_HandlerBase):
    """One JSON object a line on stderr for each request, written once the
    response is done (so with its size and duration), and for each error."""

    _fh_status: Optional[int] = None
    _fh_started = 0.0
    _fh_requests = 0        # on this connection, as nginx's $connection_requests
    _headers_buffer: list[bytes]

    def handle_one_request(self) -> None:
        self._fh_status = None
        self._fh_started = time.monotonic()
        raw = self.wfile
        counter = _CountingWriter(raw)
        self.wfile = counter
        try:
            super().handle_one_request()
        finally:
            if self.wfile is counter:
                self.wfile = raw
            if self._fh_status_code() is not None:
                self._fh_requests += 1
                self._fh_write_request(counter.body_bytes)

    def _fh_status_code(self) -> Optional[int]:
        return self._fh_status      # (set meanwhile by log_request)

    def parse_request(self) -> bool:
        self._fh_started = time.monotonic()     # the request line is in
        ok: bool = super().parse_request()
        return ok

    def flush_headers(self) -> None:
        # http.server's, but the header block goes around the byte count.
        buffer = getattr(self, "_headers_buffer", None)
        if buffer is None:
            return
        wfile = self.wfile
        if isinstance(wfile, _CountingWriter):
            wfile.write_head(b"".join(buffer))
        else:
            wfile.write(b"".join(buffer))
        self._headers_buffer = []

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            self._fh_status = int(code)     # an HTTPStatus too
        except (TypeError, ValueError):
            self._fh_status = None

    def log_error(self, format: str, *args: Any) -> None:
        self._fh_write({"time": _now(), "event": "error", "remote": self._fh_remote(),
                        "method": getattr(self, "command", None) or None,
                        "path": getattr(self, "path", None),
                        "message": format % args, "pid": os.getpid()})

    def _fh_remote(self) -> Any:
        return self.client_address[0] if self.client_address else None

    def _fh_write_request(self, size: int) -> None:
        headers: Any = getattr(self, "headers", None)
        get: Callable[[str], Any] = headers.get if hasattr(headers, "get") else (lambda n: None)
        self._fh_write({
            "time": _now(), "event": "request", "remote": self._fh_remote(),
            "method": getattr(self, "command", None) or None,
            "path": getattr(self, "path", None),
            "version": getattr(self, "request_version", None),
            "status": self._fh_status, "size": size,
            "duration_ms": round((time.monotonic() - self._fh_started) * 1000.0, 3),
            "referer": get("Referer"), "user_agent": get("User-Agent"),
            "connection_requests": self._fh_requests, "pid": os.getpid(),
        })

    @staticmethod
    def _fh_write(record: dict[str, Any]) -> None:
        sys.stderr.write(json.dumps(record, ensure_ascii=True) + "\n")


def _no_log_request(self: server.BaseHTTPRequestHandler, code: int | str = "-",
                    size: int | str = "-") -> None:
    pass


def cli_handler_class(base: type[server.BaseHTTPRequestHandler], protocol: str = "HTTP/1.0",
                      access_log: str = "common",
                      forwarded_allow_ips: str = "") -> type[server.BaseHTTPRequestHandler]:
    """The CLI's handler: a subclass of `base` with the protocol version, the
    access log and the proxy trust chosen; `base` itself (and its
    log_message) is untouched. Only what is asked for is overridden, so the
    common log without a trusted proxy runs base's request path as it is."""
    if access_log not in ACCESS_LOG_FORMATS:
        raise ValueError("access_log must be one of %s" % ", ".join(ACCESS_LOG_FORMATS))
    namespace: dict[str, Any] = {"protocol_version": protocol, "__module__": base.__module__,
                                 "__qualname__": base.__qualname__}
    bases: list[type] = [_PeerMixIn, base]
    trust = ForwardedTrust(forwarded_allow_ips)
    if trust:
        namespace["forwarded_trust"] = trust
        bases.insert(0, _ForwardedMixIn)
    if access_log == "json":
        bases.insert(0, _JsonLogMixIn)
    elif access_log == "off":
        namespace["log_request"] = _no_log_request
    return type(base.__name__, tuple(bases), namespace)


# -- the server ------------------------------------------------------------------

def _log_time() -> str:
    """http.server's log_date_time_string(), without a handler."""
    year, month, day, hh, mm, ss, *_ = time.localtime()
    return "%02d/%3s/%04d %02d:%02d:%02d" % (
        day, _stdlib.BaseHTTPRequestHandler.monthname[month], year, hh, mm, ss)


class _CLIServerMixIn(_ServerBase):
    """What the CLI adds to the server class: where it listens (a TCP port,
    dual-stack as http.server's CLI; a Unix socket; an inherited socket) and
    a client going away as one log line (or none), not a traceback."""

    unix_path: Optional[str] = None
    inherited: Optional[socket.socket] = None
    access_log = "common"
    _fh_owner: Optional[int] = None     # the pid that created the Unix socket file

    def server_bind(self) -> None:
        if self.inherited is not None:
            self.socket.close()     # the one TCPServer made: unused
            self.socket = self.inherited
            self.server_address = self.socket.getsockname()
        elif self.unix_path is not None:
            _remove_stale_socket(self.unix_path)
            self.socket.bind(self.unix_path)
            self._fh_owner = os.getpid()
            self.server_address = self.unix_path  # type: ignore[assignment] # a path
        else:
            # As http.server's CLI: accept IPv4 on an IPv6 socket where possible.
            with contextlib.suppress(Exception):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()
            return
        address: Any = self.server_address
        if isinstance(address, tuple):
            host, port = address[:2]
            self.server_name = socket.getfqdn(host)
            self.server_port = port
        else:
            self.server_name, self.server_port = "localhost", 0

    def server_close(self) -> None:
        super().server_close()
        # Workers close their copy too; the file goes with the process that made it.
        if self.unix_path is not None and self._fh_owner == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)
            self._fh_owner = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not client_went_away(exc):
            super().handle_error(request, client_address)
            return
        if self.access_log == "off":
            return
        host = client_address[0] if isinstance(client_address, tuple) and client_address \
            else UNIX_PEER[0]
        if self.access_log == "json":
            line = json.dumps({"time": _now(), "event": "disconnect", "remote": host,
                               "message": "client closed the connection (%s)"
                               % type(exc).__name__, "pid": os.getpid()})
        else:
            line = "%s - - [%s] client closed the connection (%s)" % (
                host, _log_time(), type(exc).__name__)
        sys.stderr.write(line + "\n")


def _remove_stale_socket(path: str) -> None:
    """A socket file nobody listens on (left by a killed server) is removed;
    one with a live server keeps it (EADDRINUSE); other files are refused."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise CLIError("--unix-socket %s: the file exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError:
        return      # let bind() say what is wrong
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))


def _inherited_socket(fd: int) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        raise CLIError("--fd %d: not a socket (%s)" % (fd, e.strerror or e)) from None
    if sock.type != socket.SOCK_STREAM or sock.family not in (
            socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
        sock.detach()
        raise CLIError("--fd %d: not a TCP or Unix stream socket" % fd)
    return sock


def _systemd_fd() -> int | None:
    """The first socket systemd passed to this very process, if any
    (sd_listen_fds(3)); the variables are removed, as sd_listen_fds(1) does,
    so child processes (CGI scripts) do not see them."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    return SD_LISTEN_FDS_START if count >= 1 else None


# -- TLS -------------------------------------------------------------------------

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
    except CLIError as e:
        print("fasthttp: %s" % e, file=sys.stderr)
        return 1


def _run(args: argparse.Namespace,
         handler_class: type[server.BaseHTTPRequestHandler] | None) -> int:
    if not os.path.isdir(args.directory):
        raise CLIError("--directory %s: %s" % (
            args.directory, "not a directory" if os.path.exists(args.directory)
            else "no such directory"))

    server_kwargs: dict[str, Any] | None = None
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

    fd = args.fd
    fd_origin = "--fd"
    if fd is None and not args.unix_socket and not args.bind and args.port is None:
        fd = _systemd_fd()
        fd_origin = "systemd"
    inherited = _inherited_socket(fd) if fd is not None else None
    address: Any
    if inherited is not None:
        family, address = inherited.family, ("", 0)
    elif args.unix_socket:
        family, address = socket.AF_UNIX, args.unix_socket
    else:
        port = 8000 if args.port is None else args.port
        try:
            family, address = _get_best_family(args.bind, port)
        except socket.gaierror as e:
            raise CLIError("cannot resolve --bind %s: %s" % (args.bind, e.strerror)) from None

    if args.tls_cert:
        base: type[server.HTTPServer] = ThreadingHTTPSServer
    elif args.server == "loop":
        base = LoopHTTPServer
    else:
        base = server.ThreadingHTTPServer
    server_class = type(base.__name__, (_CLIServerMixIn, base), {
        "address_family": family, "unix_path": args.unix_socket if inherited is None else None,
        "inherited": inherited, "access_log": args.access_log,
        "__module__": base.__module__, "__qualname__": base.__qualname__})

    started = False

    def ready(httpd: Any) -> None:
        nonlocal started
        started = True
        scheme = "HTTPS" if args.tls_cert else "HTTP"
        where = httpd.socket.getsockname()
        if isinstance(where, tuple):
            host, port = where[:2]
            url_host = f"[{host}]" if ":" in host else host
            print(f"Serving {scheme} on {host} port {port} "
                  f"({scheme.lower()}://{url_host}:{port}/) ...", flush=True)
        else:
            print(f"Serving {scheme} on unix:{where} ...", flush=True)
        details = [implementation(), base.__name__]
        if inherited is not None:
            details.append("socket from " + ("systemd (fd %d)" % fd if fd_origin == "systemd"
                                             else "fd %d" % fd))
        if args.workers > 1:
            details.append(f"{args.workers} workers, supervisor pid {os.getpid()}")
        else:
            details.append(f"pid {os.getpid()}")
        print("; ".join(details), flush=True)

    try:
        stopped_by = serve(handler, address, workers=args.workers,
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
        if isinstance(address, str):
            where = "unix:" + address
        elif inherited is not None:
            where = "fd %d" % fd if fd is not None else "the inherited socket"
        else:
            where = "%s port %s" % (address[0] or "*", address[1])
        raise CLIError("cannot listen on %s: %s" % (where, e.strerror or e)) from None
    if stopped_by == signal.SIGINT:
        print("\nKeyboard interrupt received, exiting.")
    return 0


__all__ = ["main", "build_parser", "cli_handler_class", "implementation",
           "ForwardedTrust", "ACCESS_LOG_FORMATS", "SERVER_CLASSES"]

if __name__ == "__main__":
    sys.exit(main())
