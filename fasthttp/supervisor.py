"""The pre-fork supervisor behind serve(workers=N): spawning, reaping, signals.

The supervisor has bound and listens on the socket; it forks N workers
that all accept on that one inherited socket (see workers.py for why), and
serves nothing itself. It restarts a worker that exits (whatever the
cause); if workers keep dying right after starting (`max_early_crashes`
deaths in a row, each within `crash_window` seconds of its start) it stops
the others and raises WorkersCrashing. Workers stop by themselves if the
supervisor disappears.

Signals, the one table (the README's "Signals" repeats it):

    signal            to the supervisor                      to a worker alone
    ----------------  -------------------------------------  ---------------------------
    SIGTERM, SIGINT   graceful stop: the workers get         that worker stops
                      SIGTERM, in-flight requests finish     gracefully; the supervisor
                      within graceful_timeout (what is left  starts another
                      2 s later is SIGKILLed), then it
                      returns
    the same again    stop at once: workers are SIGKILLed    (no effect: it is stopping)
    SIGHUP            reload: N new workers start, the old   ignored
                      ones stop gracefully (the code is not
                      re-imported: restart for that)

The same signal sent to the whole process group (Ctrl-C in a terminal,
`kill -INT -- -PGID`) does what it does to the supervisor alone: each
worker takes a repeated SIGTERM/SIGINT as the same graceful stop, and only
the supervisor ends them at once, on the second signal it gets.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Callable

from fasthttp.graceful import GracefulServerMixIn, SignalHandler, install_signal_handlers

__all__ = ["Supervisor", "WorkersCrashing"]

log = logging.getLogger(__name__)

#: Seconds a stopping worker gets beyond graceful_timeout before SIGKILL.
KILL_GRACE = 2.0

#: The signals the supervisor handles: blocked across fork(), so that none
#: reaches a new worker while it still has the supervisor's handlers.
_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


class WorkersCrashing(RuntimeError):
    """Workers kept dying right after they started; the supervisor gave up."""


class Supervisor:
    """Runs N forked workers of `httpd` (bound, listening) until a stop signal."""

    def __init__(self, httpd: GracefulServerMixIn, workers: int, poll_interval: float,
                 max_early_crashes: int = 5, crash_window: float = 5.0) -> None:
        self.httpd = httpd
        self.workers = workers
        self.poll_interval = poll_interval
        self.max_early_crashes = max_early_crashes
        self.crash_window = crash_window
        self.serving: dict[int, float] = {}     # worker pid -> start time
        self.retiring: dict[int, float] = {}    # old worker pid -> SIGKILL time (a reload)
        self.stop_signal: int | None = None
        self._stops = 0         # SIGTERM/SIGINT received (a second one: at once)
        self._reloads = 0       # SIGHUP received, and handled
        self._reloaded = 0
        self._early_crashes = 0

    # -- signals: the handler only counts; the loop acts ------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reloads += 1
            return
        if self.stop_signal is None:
            self.stop_signal = signum
        self._stops += 1

    @property
    def _at_once(self) -> bool:
        return self._stops >= 2

    def run(self, ready: Callable[[GracefulServerMixIn], object] | None = None) -> int | None:
        """Serve until SIGTERM/SIGINT; the number of that signal (None when it
        ended otherwise). Raises WorkersCrashing after a crash loop. `ready`
        is called once the signal handlers are in place, before any fork."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("serve(workers > 1) must be called from the main thread")
        previous: dict[int, SignalHandler] = {
            sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        try:
            if ready is not None:
                ready(self.httpd)
            for _ in range(self.workers if self.stop_signal is None else 0):
                self._spawn()
            while self.stop_signal is None:
                if self._reloads != self._reloaded:
                    self._reloaded = self._reloads
                    self._reload()
                self._reap()
                self._retire_overdue()
                time.sleep(0.05)
        finally:
            self._stop()
            for sig, old in previous.items():
                signal.signal(sig, old)
        return self.stop_signal

    # -- workers --------------------------------------------------------------------

    def _spawn(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered is written twice
        parent = os.getpid()
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _worker_main(self.httpd, self.poll_interval, parent)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        self.serving[pid] = time.monotonic()

    def _reap(self) -> None:
        """Replace the workers that exited; retired ones are only counted out."""
        for pid, status in _exited(list(self.serving) + list(self.retiring)):
            if self.retiring.pop(pid, None) is not None:
                log.info("old worker %d %s", pid, describe(status), extra={"event": "worker"})
                continue
            lived = time.monotonic() - self.serving.pop(pid)
            code = describe(status)
            self._early_crashes = self._early_crashes + 1 if lived < self.crash_window else 0
            if self._early_crashes >= self.max_early_crashes:
                raise WorkersCrashing(
                    "%d workers in a row died within %.0f s of starting (last: %s); "
                    "giving up" % (self._early_crashes, self.crash_window, code))
            log.warning("worker %d %s after %.1f s; starting another", pid, code, lived,
                        extra={"event": "worker"})
            if self._early_crashes > 1:  # crash loop: slow down a little
                time.sleep(min(0.05 * 2 ** self._early_crashes, 1.0))
            self._spawn()

    def _reload(self) -> None:
        """SIGHUP: new workers first (they accept on the same socket at
        once, so no connection waits), then the old ones stop gracefully."""
        old = list(self.serving)
        log.info("SIGHUP: starting %d new workers, stopping %d old ones gracefully",
                 self.workers, len(old), extra={"event": "reload"})
        self.serving.clear()
        for _ in range(self.workers):
            self._spawn()
        deadline = time.monotonic() + self.httpd.graceful_timeout + KILL_GRACE
        for pid in old:
            self.retiring[pid] = deadline
            _kill(pid, signal.SIGTERM)

    def _retire_overdue(self) -> None:
        now = time.monotonic()
        for pid, deadline in list(self.retiring.items()):
            if now >= deadline:
                log.warning("old worker %d still running %.0f s after SIGTERM: SIGKILL",
                            pid, self.httpd.graceful_timeout + KILL_GRACE,
                            extra={"event": "worker"})
                _kill(pid, signal.SIGKILL)
                self.retiring[pid] = float("inf")   # reaped as any other exit

    def _stop(self) -> None:
        # Listening stops first: our copy of the socket goes now, each
        # worker closes its own as soon as it leaves its loop.
        self.httpd.server_close()
        children = set(self.serving) | set(self.retiring)
        self.serving.clear()
        self.retiring.clear()
        for pid in children:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.httpd.graceful_timeout + KILL_GRACE
        while children and time.monotonic() < deadline and not self._at_once:
            children -= {pid for pid, _ in _exited(children)}
            time.sleep(0.02)
        for pid in children:
            _kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _worker_main(httpd: GracefulServerMixIn, poll_interval: float, parent_pid: int) -> None:
    """The body of a forked worker; never returns."""
    status = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        # A reload is the supervisor's. (Caught, not ignored: an ignored
        # signal stays ignored in the programs a worker execs, CGI scripts.)
        signal.signal(signal.SIGHUP, _ignore)
        # A stop signal that came during fork() ends the worker now: it has
        # served nothing yet.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        httpd._fh_reset_state()
        httpd.server_activate()
        install_signal_handlers(httpd, once=False)

        def watch_parent() -> None:  # orphaned: stop
            while not httpd.stopping:
                if os.getppid() != parent_pid:
                    httpd.stop()
                    return
                time.sleep(1.0)
        threading.Thread(target=watch_parent, daemon=True).start()
        try:
            if not httpd.stopping:      # (a stop may have come meanwhile)
                httpd.serve_forever(poll_interval)
        finally:
            httpd.stop()
            httpd.finish_stop()
    except BaseException:
        log.exception("worker %d failed", os.getpid(), extra={"event": "worker"})
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def _ignore(signum: int, frame: FrameType | None) -> None:
    pass


def _exited(pids: list[int] | set[int]) -> list[tuple[int, int]]:
    """(pid, wait status) of those of `pids` that have exited, without waiting."""
    done = []
    for pid in pids:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = pid, 0
        if reaped:
            done.append((pid, status))
    return done


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def describe(status: int) -> str:
    """'exited with status 1', 'killed by SIGKILL': a wait status in words."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return "killed by %s" % name
    return "exited with status %d" % os.WEXITSTATUS(status)
