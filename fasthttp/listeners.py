"""Where the CLI listens: a TCP port, a Unix socket, an inherited socket.

- TCP: `-b ADDRESS` and a port, resolved as http.server's CLI does (the
  default is all IPv4 interfaces; an IPv6 address such as `::` also takes
  IPv4 clients, as http.server's CLI makes it dual-stack).
- A Unix socket (`--unix-socket PATH`): a stale socket file there (nobody
  listening) is removed first; the file gets `--unix-socket-mode` and
  `--unix-socket-group` before anyone can connect; at exit the process
  removes the file only if it is still the very socket it made (same
  device and inode), never a new instance's socket or another file put
  there. Checking for a stale file, binding and listening happen under an
  flock on the socket's directory, so two instances starting at once cannot
  each remove the other's socket.
- An inherited listening socket: `--fd N`, or the first socket systemd
  passed to this very process (LISTEN_FDS/LISTEN_PID, sd_listen_fds(3)).

Compare gunicorn's sock.py and systemd.py.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import http.server as _stdlib
import os
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from fasthttp import server

__all__ = ["Listener", "ListenError", "ListenerMixIn", "tcp_listener", "unix_listener",
           "fd_listener", "systemd_fd", "parse_mode", "parse_group"]

#: The first socket systemd passes (sd_listen_fds(3)).
SD_LISTEN_FDS_START = 3

#: How long to wait for another instance binding in the same directory.
BIND_LOCK_TIMEOUT = 5.0

# http.server's CLI's choice of address family (IPv6 when it can); not in typeshed.
_get_best_family: Callable[..., tuple[Any, Any]] = vars(_stdlib)["_get_best_family"]

if TYPE_CHECKING:
    _ServerBase = server.HTTPServer
else:
    _ServerBase = object


class ListenError(Exception):
    """A reason not to listen, told in one line."""


@dataclass
class Listener:
    """Where to listen, decided before the server exists."""

    family: int
    address: Any                        # (host, port), a path, or ("", 0) when inherited
    unix_mode: Optional[int] = None     # --unix-socket-mode
    unix_gid: Optional[int] = None      # --unix-socket-group
    inherited: Optional[socket.socket] = None
    origin: str = ""                    # "fd 3", "systemd (fd 3)" for an inherited socket

    @property
    def unix_path(self) -> Optional[str]:
        return self.address if self.inherited is None and isinstance(self.address, str) \
            else None

    def describe(self) -> str:
        """Where, for a message: 'unix:PATH', 'fd 3', '127.0.0.1 port 8000'."""
        if self.inherited is not None:
            return self.origin
        if isinstance(self.address, str):
            return "unix:" + self.address
        return "%s port %s" % (self.address[0] or "*", self.address[1])


def tcp_listener(bind: Optional[str], port: Optional[int]) -> Listener:
    port = 8000 if port is None else port
    if not 0 <= port <= 65535:
        raise ListenError("port %d: a TCP port is 0 to 65535" % port)
    try:
        family, address = _get_best_family(bind, port)
    except socket.gaierror as e:
        raise ListenError("cannot resolve --bind %s: %s" % (bind, e.strerror)) from None
    return Listener(family, address)


def unix_listener(path: str, mode: Optional[int] = None, gid: Optional[int] = None) -> Listener:
    return Listener(socket.AF_UNIX, path, unix_mode=mode, unix_gid=gid)


def fd_listener(fd: int, origin: str = "") -> Listener:
    origin = origin or "fd %d" % fd
    if fd < 0:
        raise ListenError("--fd %d: not a file descriptor" % fd)
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        raise ListenError("--fd %d: not a socket (%s)" % (fd, e.strerror or e)) from None
    if sock.type != socket.SOCK_STREAM or sock.family not in (
            socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
        sock.detach()
        raise ListenError("--fd %d: not a TCP or Unix stream socket" % fd)
    return Listener(sock.family, ("", 0), inherited=sock, origin=origin)


def systemd_fd() -> int | None:
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


def parse_mode(text: str) -> int:
    """'660', '0660' or '0o660': permission bits, as chmod's octal."""
    try:
        mode = int(text[2:] if text.lower().startswith("0o") else text, 8)
    except ValueError:
        raise ValueError("not an octal mode: %r" % text) from None
    if not 0 <= mode <= 0o777:
        raise ValueError("not a permission mode (000 to 777): %r" % text)
    return mode


def parse_group(text: str) -> int:
    """A group name or number: its gid."""
    if text.isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ValueError("no such group: %r" % text) from None


# -- Unix socket files -------------------------------------------------------------

@contextlib.contextmanager
def _bind_lock(path: str) -> Iterator[None]:
    """An exclusive flock on the socket's directory for checking, binding
    and listening: no lock file to leave behind. (An unreadable directory:
    no lock, as before.)"""
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + BIND_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ListenError("--unix-socket %s: its directory stayed locked by "
                                      "another process for %.0f s"
                                      % (path, BIND_LOCK_TIMEOUT)) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)    # (releases the lock)


def remove_stale_socket(path: str) -> None:
    """A socket file nobody listens on (left by a killed server) is removed;
    one with a live server keeps it (EADDRINUSE); other files are refused."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenError("--unix-socket %s: the file exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)   # a live server with a full backlog: EAGAIN, not a wait
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError:
        return      # live but busy, or not ours to judge: let bind() say what is wrong
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))


def _file_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the socket file at `path`, or None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None


class ListenerMixIn(_ServerBase):
    """Put before a server class: it listens where `listener=` says (a
    keyword argument of the constructor), and gives the Unix socket file
    it made back at server_close()."""

    listener: Optional[Listener] = None
    _fh_socket_file: Optional[tuple[int, int]] = None   # (device, inode) of ours
    _fh_owner: Optional[int] = None     # the pid that created the Unix socket file

    def __init__(self, *args: Any, listener: Optional[Listener] = None, **kwargs: Any) -> None:
        if listener is not None:
            self.listener = listener
            self.address_family = listener.family
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        listener = self.listener
        if listener is None:
            super().server_bind()
            return
        if listener.inherited is not None:
            self.socket.close()     # the one TCPServer made: unused
            self.socket = listener.inherited
            self.server_address = self.socket.getsockname()
        elif listener.unix_path is not None:
            self._bind_unix(listener, listener.unix_path)
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

    def _bind_unix(self, listener: Listener, path: str) -> None:
        with _bind_lock(path):
            remove_stale_socket(path)
            self.socket.bind(path)
            self._fh_owner = os.getpid()
            self._fh_socket_file = _file_id(path)
            self.server_address = path  # type: ignore[assignment] # a path
            try:
                # Before listen(): nobody connects with the wrong permissions.
                if listener.unix_gid is not None:
                    os.chown(path, -1, listener.unix_gid)
                if listener.unix_mode is not None:
                    os.chmod(path, listener.unix_mode)
            except OSError as e:
                self._unlink_own_socket()
                what = "--unix-socket-group" if listener.unix_gid is not None and \
                    e.errno == errno.EPERM else "--unix-socket-mode"
                raise ListenError("%s on %s: %s" % (what, path, e.strerror or e)) from None
            # Listening here, still under the lock: another instance's probe
            # sees a live socket, never a bound but not yet listening one.
            self.socket.listen(self.request_queue_size)

    def _unlink_own_socket(self) -> None:
        path = self.listener.unix_path if self.listener is not None else None
        if path is None or self._fh_owner != os.getpid():
            return      # workers close their copy too; the file goes with its maker
        self._fh_owner = None
        if self._fh_socket_file is not None and _file_id(path) == self._fh_socket_file:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def server_close(self) -> None:
        super().server_close()
        self._unlink_own_socket()
