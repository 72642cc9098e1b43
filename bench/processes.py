"""The processes the benchmarks start, each on 127.0.0.1 and always ended by its PID.

    with ServerProcess("fasthttp", [sys.executable, "bench/servers.py", "fasthttp", "0"]) as srv:
        srv.wait_ready()                 # the port it printed (READY <port>), or polls a known one
        srv.cpu_seconds(), srv.sample()  # utime + stime; RSS, fds, threads (from /proc)
    # ended here by PID (SIGTERM, then SIGKILL), whatever happened meanwhile

    code, out, err = run_bounded([wrk, ...], timeout=70)     # a client, killed if it overruns

Also what the measurements read from /proc (a process tree's CPU time, per-thread schedstat)
and the prerequisites (a tool from apt-get, a Python module, RLIMIT_NOFILE).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
REQUESTS_DIR = REPO_ROOT / "tests" / "data" / "requests"  # the request corpus
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 20.0
# What our own servers print once they listen (bench/servers.py, soak.py's child).
READY = re.compile(rb"READY (?P<port>\d+)\n")


# --------------------------------------------------------------------------- prerequisites


def child_env() -> dict[str, str]:
    """This environment, with fasthttp importable from this working tree, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    """A port free on 127.0.0.1 now, for servers that cannot report the one they bound."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile(want: int = 65536) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit (at most *want*); the new soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def have_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def find_tool(name: str, package: str, install: bool,
              which: Callable[[str], str | None] = shutil.which) -> str | None:
    """*name*'s path; with *install*, apt-get *package* first when it is missing."""
    path = which(name)
    if path or not install:
        return path
    print(f"{name} not found: apt-get install -y {package}", flush=True)
    cmd = ["apt-get", "install", "-y", package]
    if subprocess.run(cmd, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(cmd, check=False)
    return which(name)


# --------------------------------------------------------------------------- /proc


def process_tree(pid: int) -> list[int]:
    """*pid* and its live descendants (nginx's master and worker under bench/servers.py)."""
    out = [pid]
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:     # the process is gone
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                for child in f.read().split():
                    out += process_tree(int(child))
        except OSError:     # a thread that ended meanwhile (a connection's)
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of *pid* (all threads, live and exited) and of its live descendants."""
    total = 0.0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        # fields[0] is field 3 (state) of proc(5): utime and stime are fields 14 and 15
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def schedstat_ns(pid: int) -> int:
    """CPU time in nanoseconds of every live thread of *pid* and of its live descendants
    (finer than cpu_seconds' clock ticks, but blind to threads that have ended)."""
    total = 0
    for p in process_tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass    # a thread that ended meanwhile
    return total


def sample(pid: int) -> dict[str, int]:
    """{'rss': bytes (VmRSS), 'fds': open fds, 'threads': n} of *pid*, from /proc."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "Threads:")):
                found[line.split(":")[0]] = int(line.split()[1])
    return {"rss": found["VmRSS"] * 1024, "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": found["Threads"]}


# --------------------------------------------------------------------------- processes


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    """*argv* on CPU *cpu* (taskset), when there is a CPU to spare for it."""
    if cpu is None or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def run_bounded(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run *argv* (a client: wrk, curl, ...) to its end, for at most *timeout* seconds:
    (exit status, stdout, stderr). Killed by PID on any way out, Ctrl-C included."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return proc.returncode, out, err


class ServerProcess:
    """One server in its own process (and session) on 127.0.0.1: started at once, then awaited
    (wait_ready), read from /proc, and ended by its PID (stop, or leaving the with block).

    ready: patterns for the line the server prints once it listens; each has a ``port`` group,
    and a ``pid`` group when the server runs under a wrapper (py-spy). port: a port chosen
    beforehand (free_port), polled with connections instead, for servers that print nothing.
    Its stderr goes to *log* (a path), or to a temporary file read back by log_text().
    """

    def __init__(self, name: str, argv: list[str], *, ready: Sequence[re.Pattern[bytes]] = (READY,),
                 port: int | None = None, log: Path | None = None, cwd: Path = REPO_ROOT,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.ready, self.port = name, ready, port or 0
        self.ready_match: re.Match[bytes] | None = None
        self._own_log = log is None
        if log is None:
            fd, tmp = tempfile.mkstemp(prefix=f"fasthttp-bench-{name}-", suffix=".log")
            os.close(fd)
            log = Path(tmp)
        self.log_path, self._log_text = log, ""
        with open(log, "ab") as stderr:   # O_APPEND: our reads never move the child's writes
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stderr=stderr, cwd=str(cwd),
                stdout=subprocess.DEVNULL if port else subprocess.PIPE,
                env=child_env() if env is None else env,
                start_new_session=True)  # a terminal's Ctrl-C reaches us only; we end it by PID
        self.pid = self.proc.pid    # the server's own PID (the READY line's, under a wrapper)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> int:
        """Wait until the server listens; its port. RuntimeError (with its stderr) if it does
        not in time, or exits."""
        deadline = time.monotonic() + timeout
        if self.proc.stdout is None:
            self._poll_port(deadline)
        elif self.ready_match is None:
            self._read_ready(deadline)
        return self.port

    def _poll_port(self, deadline: float) -> None:
        while time.monotonic() < deadline and self.alive():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            time.sleep(0.05)
        self._fail(f"does not listen on port {self.port}")

    def _read_ready(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        out = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline and self.alive():
                self.ready_match = next(filter(None, (p.search(out) for p in self.ready)), None)
                if self.ready_match:
                    break
                if sel.select(timeout=0.2):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    out += chunk
        if self.ready_match is None:
            self._fail(f"did not start: {out.decode(errors='replace')!r}")
        assert self.ready_match is not None
        groups = self.ready_match.groupdict()
        self.port = int(groups["port"])
        if groups.get("pid"):
            self.pid = int(groups["pid"])

    def _fail(self, why: str) -> None:
        status = "" if self.alive() else f" (exited with {self.proc.returncode})"
        raise RuntimeError(f"{self.name} {why}{status}\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """utime + stime of the server (all threads) and of its live descendants."""
        return cpu_seconds(self.pid)

    def sample(self) -> dict[str, int]:
        """{'rss', 'fds', 'threads'} of the server process."""
        return sample(self.pid)

    def wait_stable(self, seconds: float = 10.0, hold: float = 0.5, fds_at_most: int | None = None,
                    fds_at_least: int | None = None) -> tuple[dict[str, int], float]:
        """Sample until threads and fds have not changed for *hold* seconds (and fds are down
        to *fds_at_most* / up to *fds_at_least*, when given), for at most *seconds*: (the last
        sample, seconds waited)."""
        start = since = time.monotonic()
        last = self.sample()
        while time.monotonic() - start < seconds:
            time.sleep(0.1)
            s = self.sample()
            if (s["threads"], s["fds"]) != (last["threads"], last["fds"]):
                since = time.monotonic()
            elif (time.monotonic() - since >= hold
                  and (fds_at_most is None or s["fds"] <= fds_at_most)
                  and (fds_at_least is None or s["fds"] >= fds_at_least)):
                return s, time.monotonic() - start
            last = s
        return last, time.monotonic() - start

    def log_text(self) -> str:
        """What the server wrote on stderr."""
        if self._own_log and not self.log_path.exists():
            return self._log_text   # stopped: kept before its temporary file was removed
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self, timeout: float = 10.0) -> None:
        """End the server by its PID: SIGTERM, then SIGKILL after *timeout*. Idempotent."""
        if self.pid != self.proc.pid and self.alive():
            # Under a wrapper (py-spy): end the server; the wrapper then finishes and exits.
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(30)
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._own_log and self.log_path.exists():
            self._log_text = self.log_text()
            self.log_path.unlink()

