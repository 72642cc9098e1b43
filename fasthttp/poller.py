"""Readiness polling for the connection engine, and what to do when accept()
fails: nothing HTTP here.

- Poller: epoll on Linux, poll elsewhere on POSIX, selectors as the last
  resort (Windows), for reading and writing readiness, without a Python
  object per event where the OS allows.
- accept_backoff(): EMFILE and its kin (nginx: "accept() failed (24: Too many
  open files)") do not go away by retrying at once: the listener is paused
  for ACCEPT_PAUSE seconds instead of spinning.
"""
from __future__ import annotations

import errno
import select
import selectors
from typing import Any

__all__ = ["Poller", "accept_backoff", "ACCEPT_PAUSE", "READ", "WRITE"]

READ = 1
WRITE = 2

#: Seconds accept() pauses after running out of descriptors or memory (nginx: 500 ms).
ACCEPT_PAUSE = 0.5

# accept() errors that mean "no resources now", not "this one connection failed".
_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def accept_backoff(err: OSError) -> float:
    """Seconds to stop accepting after accept() raised `err` (0: go on)."""
    return ACCEPT_PAUSE if err.errno in _EXHAUSTED else 0.0


class Poller:
    """Readiness of file descriptors: register(fd, READ | WRITE), modify,
    unregister, and ready(timeout) -> [(fd, READ | WRITE bits)]."""

    def __init__(self) -> None:
        self._impl: Any
        if hasattr(select, "epoll"):
            self._impl = select.epoll()
            self._kind = "epoll"
            self._in, self._out = select.EPOLLIN, select.EPOLLOUT
            self._err = select.EPOLLERR | select.EPOLLHUP
        elif hasattr(select, "poll"):
            self._impl = select.poll()
            self._kind = "poll"
            self._in, self._out = select.POLLIN, select.POLLOUT
            self._err = select.POLLERR | select.POLLHUP
        else:
            self._impl = selectors.DefaultSelector()
            self._kind = "selectors"
            self._in, self._out = selectors.EVENT_READ, selectors.EVENT_WRITE
            self._err = 0

    def _mask(self, events: int) -> int:
        return (self._in if events & READ else 0) | (self._out if events & WRITE else 0)

    def register(self, fd: int, events: int) -> None:
        self._impl.register(fd, self._mask(events))

    def modify(self, fd: int, events: int) -> None:
        if self._kind == "selectors" and not events:
            self._impl.unregister(fd)
            return
        self._impl.modify(fd, self._mask(events))

    def unregister(self, fd: int) -> None:
        try:
            self._impl.unregister(fd)
        except (KeyError, OSError, ValueError):
            pass

    def ready(self, timeout: float) -> list[tuple[int, int]]:
        if self._kind == "selectors":
            return [(key.fd, (READ if ev & self._in else 0) | (WRITE if ev & self._out else 0))
                    for key, ev in self._impl.select(timeout)]
        raw = self._impl.poll(timeout if self._kind == "epoll" else timeout * 1000)
        inp, out, err = self._in, self._out, self._err
        # An error or hang-up is reported as both: the next recv/send says which.
        return [(fd, (READ if ev & (inp | err) else 0) | (WRITE if ev & (out | err) else 0))
                for fd, ev in raw]

    def close(self) -> None:
        if hasattr(self._impl, "close"):
            self._impl.close()
