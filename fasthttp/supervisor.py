"""The pre-fork supervisor behind serve(workers=N): spawning, reaping, signals.

The supervisor has bound and listens on the socket; it forks N workers
that all accept on that one inherited socket (see workers.py for why), and
serves nothing itself. It restarts a worker that exits (whatever the
cause), forwards SIGTERM/SIGINT to the workers as SIGTERM, waits
`graceful_timeout` (+2 s) for them, SIGKILLs what is left, and returns. If
workers keep dying right after starting (`max_early_crashes` deaths in a
row, each within `crash_window` seconds of its start) it stops the others
and raises WorkersCrashing. Workers stop by themselves if the supervisor
disappears.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from types import FrameType

from fasthttp.graceful import GracefulServerMixIn, install_signal_handlers

__all__ = ["supervise", "WorkersCrashing"]


class WorkersCrashing(RuntimeError):
    """Workers kept dying right after they started; the supervisor gave up."""


def _worker_main(httpd: GracefulServerMixIn, poll_interval: float, parent_pid: int) -> None:
    """The body of a forked worker; never returns."""
    status = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        httpd._fh_reset_state()
        httpd.server_activate()
        install_signal_handlers(httpd)

        def watch_parent() -> None:  # orphaned: stop
            while not httpd.stopping:
                if os.getppid() != parent_pid:
                    httpd.stop()
                    return
                time.sleep(1.0)
        threading.Thread(target=watch_parent, daemon=True).start()
        try:
            httpd.serve_forever(poll_interval)
        finally:
            httpd.stop()
            httpd.finish_stop()
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def _spawn(httpd: GracefulServerMixIn, poll_interval: float) -> int:
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered is written twice
    pid = os.fork()
    if pid == 0:
        _worker_main(httpd, poll_interval, parent)
    return pid


def supervise(httpd: GracefulServerMixIn, workers: int, poll_interval: float,
               max_early_crashes: int, crash_window: float) -> int | None:
    stop_signal: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)
        for sig in previous:  # a second signal is not caught
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                          else signal.SIG_DFL)

    main = threading.current_thread() is threading.main_thread()
    if not main:
        raise RuntimeError("serve(workers > 1) must be called from the main thread")
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: dict[int, float] = {}  # pid -> start time
    early_crashes = 0
    failure: WorkersCrashing | None = None
    try:
        for _ in range(workers):
            children[_spawn(httpd, poll_interval)] = time.monotonic()
        while not stop_signal:
            for pid in list(children):
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 0
                if not done:
                    continue
                lived = time.monotonic() - children.pop(pid)
                code = _describe(status)
                early_crashes = early_crashes + 1 if lived < crash_window else 0
                if early_crashes >= max_early_crashes:
                    failure = WorkersCrashing(
                        "%d workers in a row died within %.0f s of starting (last: %s); "
                        "giving up" % (early_crashes, crash_window, code))
                    break
                sys.stderr.write("fasthttp: worker %d %s after %.1f s; starting another\n"
                                 % (pid, code, lived))
                sys.stderr.flush()
                if early_crashes > 1:  # crash loop: slow down a little
                    time.sleep(min(0.05 * 2 ** early_crashes, 1.0))
                children[_spawn(httpd, poll_interval)] = time.monotonic()
            if failure is not None:
                break
            time.sleep(0.05)
    finally:
        # Listening stops first: our copy of the socket goes now, each
        # worker closes its own as soon as it leaves its loop.
        httpd.server_close()
        for pid in children:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + httpd.graceful_timeout + 2.0
        while children and time.monotonic() < deadline:
            for pid in list(children):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    del children[pid]
            time.sleep(0.02)
        for pid in list(children):
            _kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for sig, old in previous.items():
            signal.signal(sig, old)
    if failure is not None:
        raise failure
    return stop_signal[0] if stop_signal else None


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return "killed by %s" % name
    return "exited with status %d" % os.WEXITSTATUS(status)
