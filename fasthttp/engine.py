"""The pieces of fasthttp's connection engine that are not HTTP: readiness
polling, a bounded thread pool, and accept() that survives running out of
file descriptors. LoopHTTPServer (loop.py) is built from them.

- Poller: epoll on Linux, poll elsewhere on POSIX, selectors as the last
  resort (Windows), for reading and writing readiness, without a Python
  object per event where the OS allows.
- ThreadPool: at most ``size`` threads for the work an event loop must not
  do itself (a handler that reads a body still on its way). Work beyond the
  threads waits in a queue; a thread that cannot be started (RLIMIT_NPROC, a
  container's pids limit) is logged, never an exception out of the loop.
- IdleConnections: keep-alive connections between requests, watched by one
  thread, so that ThreadingHTTPServer spends a thread only on a request.
- accept_backoff(): what to do when accept() fails. EMFILE and its kin
  (nginx: "accept() failed (24: Too many open files)") do not go away by
  retrying at once: the listener is paused for ACCEPT_PAUSE seconds instead
  of spinning.
"""
from __future__ import annotations

import collections
import errno
import select
import selectors
import socket
import sys
import threading
import time
from typing import Any, Callable, Optional

__all__ = ["Poller", "ThreadPool", "IdleConnections", "accept_backoff", "ACCEPT_PAUSE",
           "READ", "WRITE"]

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


class ThreadPool:
    """At most `size` worker threads, started on demand; submit() never
    blocks and never raises for want of a thread.

    When no thread can be started and none is running, `on_refused(job)` is
    called with the job (LoopHTTPServer answers 503 and closes); otherwise
    the job waits in the queue for a running thread.
    """

    def __init__(self, size: int, name: str,
                 on_refused: Callable[[Callable[[], None]], None]) -> None:
        self.size = max(1, size)
        self._name = name
        self._on_refused = on_refused
        self._jobs: collections.deque[Optional[Callable[[], None]]] = collections.deque()
        self._cond = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._warned = False

    def submit(self, job: Callable[[], None]) -> None:
        with self._cond:
            self._jobs.append(job)
            if self._idle:
                self._cond.notify()
                return
            if self._threads >= self.size:
                return              # waits for a busy thread
            self._threads += 1
        try:
            threading.Thread(target=self._work, name=self._name, daemon=True).start()
        except RuntimeError as exc:     # "can't start new thread"
            with self._cond:
                self._threads -= 1
                orphaned = self._threads == 0 and job in self._jobs
                if orphaned:
                    self._jobs.remove(job)
            if not self._warned:
                self._warned = True
                print("fasthttp: cannot start a thread (%s); %s" % (
                    exc, "refusing this request" if orphaned else "the work waits for a busy one"),
                    file=sys.stderr)
            if orphaned:
                self._on_refused(job)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                job = self._jobs.popleft()
            if job is None:
                with self._cond:
                    self._threads -= 1
                return
            try:
                job()
            except BaseException:   # a job handles its own errors; never lose the thread
                pass

    def waiting(self) -> int:
        """Jobs queued for want of a free thread."""
        with self._cond:
            return max(0, len(self._jobs) - self._idle)

    def saturated(self) -> bool:
        """Every thread there may be is started and work still waits. Read
        without the lock: a hint, asked on every request by threads that
        would otherwise all contend for it."""
        return self._threads >= self.size and len(self._jobs) > self._idle

    def busy(self) -> int:
        """Threads running or queued jobs waiting (for tests and stats)."""
        with self._cond:
            return self._threads - self._idle + len(self._jobs)

    def close(self) -> None:
        """Let the threads end once the queue is empty."""
        with self._cond:
            for _ in range(self._threads):
                self._jobs.append(None)
            self._cond.notify_all()


class IdleConnections:
    """Keep-alive connections between two requests, watched by one thread
    instead of each holding a thread blocked in recv().

    add(fd, handler, deadline): watch fd. When it becomes readable (the next
    request, or the client closing), it is dropped from the watch and
    ``on_ready(handler)`` runs on the watcher thread (it should only hand the
    connection to a pool). One still idle at its deadline (time.monotonic())
    gets ``on_expired(handler)``. close() stops the watcher and expires all.
    """

    def __init__(self, on_ready: Callable[[Any], None],
                 on_expired: Callable[[Any], None]) -> None:
        self._on_ready = on_ready
        self._on_expired = on_expired
        self._lock = threading.Lock()
        self._arrivals: list[tuple[int, Any, Optional[float]]] = []
        self._watched: dict[int, tuple[Any, Optional[float]]] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # The poller now, not on the first add(): the server's descriptors
        # then stay the same from its first connection on (only the thread waits).
        self._poller = Poller()
        self._poller.register(self._wake_r.fileno(), READ)
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def add(self, fd: int, handler: Any, deadline: Optional[float]) -> None:
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                self._arrivals.append((fd, handler, deadline))
                if self._thread is None:
                    self._thread = threading.Thread(target=self._watch, daemon=True,
                                                    name="fasthttp-idle")
                    self._thread.start()
        if closed:
            self._on_expired(handler)
            return
        try:
            self._wake_w.send(b"\0")
        except BlockingIOError:
            pass                # a wake-up is pending anyway

    def __len__(self) -> int:
        with self._lock:
            return len(self._watched) + len(self._arrivals)

    def _watch(self) -> None:
        poller = self._poller
        wake = self._wake_r.fileno()
        next_sweep = time.monotonic() + 1.0
        while True:
            for fd, _ in poller.ready(1.0):
                if fd == wake:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                entry = self._watched.pop(fd, None)
                poller.unregister(fd)
                if entry is not None:
                    self._on_ready(entry[0])
            with self._lock:
                arrivals, self._arrivals = self._arrivals, []
                closed = self._closed
            for fd, handler, deadline in arrivals:
                self._watched[fd] = (handler, deadline)
                poller.register(fd, READ)
            if closed:
                break
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + 1.0
                for fd, (handler, deadline) in list(self._watched.items()):
                    if deadline is not None and deadline < now:
                        del self._watched[fd]
                        poller.unregister(fd)
                        self._on_expired(handler)
        for fd, (handler, _) in list(self._watched.items()):
            poller.unregister(fd)
            self._on_expired(handler)
        self._watched.clear()
        poller.close()

    def close(self) -> None:
        """Stop watching; every idle connection is expired (closed)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            arrivals, self._arrivals = self._arrivals, []
        for _, handler, _ in arrivals:
            self._on_expired(handler)
        if thread is not None:
            try:
                self._wake_w.send(b"\0")
            except OSError:
                pass
            thread.join(5.0)
        else:
            self._poller.close()    # the watcher closes it when there is one
        self._wake_r.close()
        self._wake_w.close()
