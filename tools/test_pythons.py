"""Our tests and CPython's http.server suites on every supported Python.

    python3 tools/test_pythons.py [--pythons "3.10 ... 3.15"] [--sid "3.14 3.15"]
                                  [--sid-dir DIR] [--jobs N] [--no-pytest]

(make test-pythons.) For each Python, and the Pythons at the same time:

1. a venv with the build and test tools, made once: build/pythons/V/venv for
   a pyenv Python; /opt/fasthttp/venv-V inside the Debian sid tree
   (tools/sid_tree.py) for the --sid ones, which this machine's Debian lacks;
2. the C extension built in place (each Python has its own .so names and its
   own build/temp.* directory) and `import fasthttp` on the C path;
3. our pytest suite on the C path and on the pure path (FASTHTTP_PURE=1);
4. CPython's test_httpservers, test_wsgiref and test_xmlrpc
   (tests/cpython_suite.py) on stock http.server, then on fasthttp.server,
   C and pure: ours must pass every test stock passes;
5. as root, step 4 again as an unprivileged user (UNPRIV_USER), because
   CPython skips its CGI tests as root. See unprivileged().

A Python that is missing is an error, not a skip; so is a sid tree that
cannot be built. Logs: build/pythons/V/*.log. Prints a table per Python and
a last line "N passed, N failed" (steps); exits non-zero on any failure.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sid_tree  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
WORK = PROJECT / "build" / "pythons"
REQUIREMENTS = ["setuptools>=77", "Cython>=3", "pytest>=7", "hypothesis>=6",
                "httptools>=0.6", "pytest-benchmark>=4"]
SUITE = "tests/cpython_suite.py"
UNPRIV_USER = sid_tree.UNPRIV_USER
SID_VENVS = "/opt/fasthttp"
SID_ENV = {"PATH": sid_tree.PATH, "HOME": "/root", "LANG": "C.UTF-8"}

# As root: run "$@" as $user, in a fresh temp dir of its own, the project
# copy (read-only to it) on PYTHONPATH. setpriv changes the ids, no PAM.
_UNPRIV = r"""
set -e
user=$1; work=$2; shift 2
mkdir -p "$work/tmp"; chown "$user:" "$work/tmp"; chmod 0700 "$work/tmp"
cd "$work/tmp"
exec setpriv --reuid="$user" --regid="$user" --init-groups \
    env HOME="$work/tmp" TMPDIR="$work/tmp" PYTHONPATH="$work/src" "$@"
"""

# As root, each test command gets a network namespace of its own, loopback
# up (run by this interpreter before it execs the command): the suites and
# Pythons running at once never race for a port (CPython's tests pick a free
# port, then start a server on it in another process).
_NETNS = ["unshare", "--net", "--", sys.executable, "-c", """if 1:
    import fcntl, os, socket, struct, sys
    SIOCSIFFLAGS, IFF_UP = 0x8914, 0x1
    with socket.socket() as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", IFF_UP))
    os.execvp(sys.argv[1], sys.argv[1:])
"""]

_print_lock = threading.Lock()


def say(version: str, text: str) -> None:
    with _print_lock:
        print(f"[{version}] {text}", flush=True)


class StepFailed(Exception):
    pass


@dataclass
class Target:
    """One Python, and how to run commands beside it."""
    version: str
    python: str                 # the interpreter, as seen where it runs
    venv: str                   # its venv, as seen where it runs
    project: str                # the project, as seen where it runs
    sid_root: Path | None = None
    logs: Path = field(default_factory=Path)
    results: dict[str, str] = field(default_factory=dict)   # step -> summary
    suites: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def vpy(self) -> str:
        return f"{self.venv}/bin/python"

    def argv(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The command line and environment for Popen."""
        if self.sid_root is None:
            full = dict(os.environ)
            for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYENV_VERSION"):
                full.pop(name, None)
            full.update(env)
            return argv, full
        inner = dict(SID_ENV)
        inner.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
        inner.update(env)
        assignments = [f"{k}={v}" for k, v in inner.items()]
        return (sid_tree.command(self.sid_root, PROJECT,
                                   ["env", "-i", "-C", self.project, *assignments, *argv]),
                dict(os.environ))

    def host_path(self, path: str) -> Path:
        """A path as seen where the target runs, on this machine."""
        if self.sid_root is None:
            return Path(path)
        if path.startswith("/src/"):
            return PROJECT / path[len("/src/"):]
        return self.sid_root / path.lstrip("/")

    def run(self, name: str, argv: list[str], env: dict[str, str] | None = None,
            timeout: float = 1200, check: bool = True, netns: bool = False
            ) -> tuple[int, str]:
        """Run a step; its output goes to logs/<name>.log. Returns (rc, last
        lines). netns: in a network namespace of its own, where we can (root)."""
        cmd, full_env = self.argv(argv, env or {})
        if netns and os.geteuid() == 0:
            cmd = _NETNS + cmd
        log = self.logs / f"{name}.log"
        start = time.monotonic()
        with open(log, "w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            try:
                rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                    stdin=subprocess.DEVNULL, timeout=timeout,
                                    cwd=PROJECT).returncode
            except subprocess.TimeoutExpired:
                rc = -1
                out.write(f"\n*** timed out after {timeout} s\n")
        tail = log.read_text(errors="replace").rstrip().splitlines()[-25:]
        if rc != 0 and check:
            raise StepFailed(f"{name} failed (exit {rc}, {time.monotonic() - start:.0f} s): "
                             f"{log}\n    " + "\n    ".join(tail))
        return rc, "\n".join(tail)


# -- finding the Pythons -------------------------------------------------------

def pyenv_python(root: Path, version: str) -> Path | None:
    """The newest pyenv install of `version` (3.12 -> versions/3.12.N), not a
    free-threaded or development build."""
    found = []
    for d in (root / "versions").glob(version + ".*"):
        m = re.fullmatch(re.escape(version) + r"\.(\d+)", d.name)
        exe = d / "bin" / f"python{version}"
        if m and exe.exists():
            found.append((int(m.group(1)), exe))
    return max(found)[1] if found else None


def host_target(version: str, pyenv_root: Path) -> Target:
    exe = pyenv_python(pyenv_root, version)
    if exe is None:
        exe_path = shutil.which(f"python{version}")
        if exe_path is None:
            raise StepFailed(f"no Python {version}: not in {pyenv_root}/versions nor on PATH "
                             f"(pyenv install {version}; or choose with PYTHONS=...)")
        exe = Path(exe_path)
    venv = WORK / version / "venv"
    return Target(version, str(exe), str(venv), str(PROJECT))


def sid_target(version: str, root: Path) -> Target:
    return Target(version, f"/usr/bin/python{version}", f"{SID_VENVS}/venv-{version}", "/src",
                  sid_root=root)


# -- the steps -------------------------------------------------------------------

def prepare(t: Target) -> None:
    """The venv with the build and test tools (once; again when they change)."""
    stamp = t.host_path(t.venv) / ".fasthttp-requirements"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    t.run("venv", [t.python, "-m", "venv", "--clear", t.venv])
    t.run("pip", [t.vpy, "-m", "pip", "install", "-q", *REQUIREMENTS], timeout=900)
    stamp.write_text(wanted)


def build(t: Target) -> None:
    t.run("build", [t.vpy, "setup.py", "-q", "build_ext", "--inplace"], timeout=900)
    code = ("import sys, fasthttp; assert fasthttp.accelerated, 'not accelerated'; "
            "print('fasthttp', fasthttp.__version__, 'accelerated on', sys.version)")
    t.run("import", [t.vpy, "-c", code], {"FASTHTTP_EXPECT_ACCELERATED": "1"})


_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def _pytest_summary(tail: str) -> str:
    last = tail.splitlines()[-1] if tail else ""
    return ", ".join(f"{n} {w}" for n, w in _COUNT.findall(last)) or last.strip("= ")


def pytest(t: Target, path: str) -> None:
    """Our suite on one path. Tests that fail are run once more, alone: six
    Pythons at once load two cores, and a timing-bound test can miss its
    moment. One that then passes is reported as flaky (by name, in the
    table), not as a failure; one that fails again is a failure."""
    env = {"FASTHTTP_PURE": "1"} if path == "pure" else {"FASTHTTP_EXPECT_ACCELERATED": "1"}
    cache = f"{t.project}/build/pythons/{t.version}/pytest-cache-{path}"
    shutil.rmtree(t.host_path(cache), ignore_errors=True)
    command = [t.vpy, "-m", "pytest", "-q", "-o", f"cache_dir={cache}"]
    rc, tail = t.run(f"pytest-{path}", command, env, check=False, netns=True)
    counts = _pytest_summary(tail)
    t.results[f"pytest ({path})"] = counts
    if rc == 0:
        return
    failed = _failed_tests(t.logs / f"pytest-{path}.log")
    if failed and rc == 1:
        rerun, rerun_tail = t.run(f"pytest-{path}-rerun", command + ["--last-failed"], env,
                                  check=False, netns=True)
        if rerun == 0:
            t.results[f"pytest ({path})"] += (f"; {len(failed)} flaky, passed alone: "
                                              + ", ".join(failed))
            return
        counts += "; alone again: " + _pytest_summary(rerun_tail)
    t.failures.append(f"pytest ({path}): {counts or 'exit %d' % rc}: "
                      f"{t.logs / f'pytest-{path}.log'}")


def _failed_tests(log: Path) -> list[str]:
    return [line.split()[1] for line in log.read_text(errors="replace").splitlines()
            if line.startswith(("FAILED ", "ERROR ")) and len(line.split()) > 1]


def _suite_counts(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for test, outcome in data["tests"].items():
        module = data["modules"].get(test) or "(fixtures)"
        counts.setdefault(module, {"passed": 0, "skipped": 0, "failed": 0})[outcome] += 1
    return counts


def suites(t: Target, who: str, run: Callable[..., tuple[int, str]], out_dir: str) -> None:
    """Stock, ours on the C path and ours on the pure path, at once (the
    suites mostly wait: test_xmlrpc's servers time out after 3 s); then
    ours are judged against stock: every test stock passes must pass."""
    runs = {"stock": ["--stock"], "C": [], "pure": ["--pure"]}
    exits: dict[str, int] = {}

    def one(impl: str) -> None:
        exits[impl] = run(f"cpython-{who}-{impl}",
                          runs[impl] + ["--json", f"{out_dir}/{impl}.json"])[0]

    threads = [threading.Thread(target=one, args=(impl,)) for impl in runs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    results = {}
    for impl in runs:
        path = t.host_path(f"{out_dir}/{impl}.json")
        if not path.exists():
            t.failures.append(f"CPython suites, {impl}, {who}: no result (exit {exits[impl]}): "
                              f"{t.logs / f'cpython-{who}-{impl}.log'}")
            continue
        results[impl] = json.loads(path.read_text())
        for module, counts in _suite_counts(results[impl]).items():
            t.suites[(module, who, impl)] = counts
    stock = results.get("stock", {}).get("tests", {})
    for impl in ("C", "pure"):
        if impl not in results:
            continue
        if results[impl]["accelerated"] != (impl == "C"):
            t.failures.append(f"CPython suites, ours ({impl}), {who}: ran with "
                              f"fasthttp.accelerated = {results[impl]['accelerated']}")
        ours = results[impl]["tests"]
        regressions = sorted(test for test, outcome in stock.items()
                             if outcome == "passed" and ours.get(test) != "passed")
        if regressions:
            t.failures.append(f"CPython suites, ours ({impl}), {who}: stock passes, ours not: "
                              + ", ".join(regressions)
                              + f": {t.logs / f'cpython-{who}-{impl}.log'}")


def root_suites(t: Target) -> None:
    out = f"{t.project}/build/pythons/{t.version}/results"
    t.host_path(out).mkdir(parents=True, exist_ok=True)

    def run(name: str, args: list[str]) -> tuple[int, str]:
        return t.run(name, [t.vpy, SUITE, *args], {"PYTHONPATH": t.project}, check=False,
                     netns=True)

    suites(t, "root" if os.geteuid() == 0 else "user", run, out)


def _closed_ancestor(path: Path) -> Path | None:
    """The topmost directory above `path` that others cannot enter."""
    for d in reversed(path.parents):
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return d
    return None


def expose(paths: list[Path], stage: Path) -> list[str]:
    """A command prefix that makes `paths` reachable by any user, each at
    its own path (a pyenv interpreter's baked-in paths hold), where a
    directory above them is closed (/root, 0700): in a private mount
    namespace (unshare --mount; the mounts go with the run), each path is
    bind-mounted aside, a tmpfs hides the closed directory, and each path
    is put back inside it. Nothing else of the closed directory shows, and
    nothing changes on this machine. [] when every path is reachable."""
    hidden = [(p, c) for p in paths if (c := _closed_ancestor(p)) is not None]
    if not hidden:
        return []
    q = shlex.quote
    lines = ["set -e"]
    for i, (p, _) in enumerate(hidden):
        lines += [f"mkdir -p {q(str(stage / str(i)))}",
                  f"mount --bind {q(str(p))} {q(str(stage / str(i)))}"]
    for c in sorted({c for _, c in hidden}):
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m fasthttp-expose {q(str(c))}")
    for i, (p, _) in enumerate(hidden):
        lines += [f"mkdir -p {q(str(p))}", f"mount --bind {q(str(stage / str(i)))} {q(str(p))}"]
    lines.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", "\n".join(lines), "sh"]


def unprivileged(t: Target) -> None:
    """As UNPRIV_USER: CPython's suites, and tests/test_cgi.py (pytest), C
    and pure. It gets a copy of the project (fasthttp/ with every Python's
    .so, tests/, pyproject.toml) in a directory it can read, and a temp dir
    of its own. A pyenv interpreter (and venv) under /root (0700) is made
    reachable by expose() rather than by opening /root on this machine; a
    sid Python is in the tree's /usr, its venv in /opt, reachable as is."""
    base = t.host_path("/tmp") if t.sid_root else Path(tempfile.gettempdir())
    work_host = Path(tempfile.mkdtemp(prefix=f"fasthttp-unpriv-{t.version}-", dir=base))
    try:
        os.chmod(work_host, 0o755)
        src = work_host / "src"
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PROJECT / "fasthttp", src / "fasthttp", ignore=ignore)
        shutil.copytree(PROJECT / "tests", src / "tests", ignore=ignore)
        shutil.copy(PROJECT / "pyproject.toml", src / "pyproject.toml")
        for d, _, files in os.walk(src):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o755 if f.endswith(".so") else 0o644)
        work = ("/tmp/" + work_host.name) if t.sid_root else str(work_host)
        prefix: list[str] = []
        if t.sid_root is None:
            interpreter = Path(os.path.realpath(t.python)).parents[1]
            prefix = expose([interpreter, Path(t.venv)], work_host / "stage")

        def as_user(name: str, argv: list[str], env: dict[str, str] | None = None
                    ) -> tuple[int, str]:
            assignments = [f"{k}={v}" for k, v in (env or {}).items()]
            return t.run(name, [*prefix, "sh", "-c", _UNPRIV, "sh", UNPRIV_USER, work,
                                *assignments, *argv], check=False, netns=True)

        def suite(name: str, args: list[str]) -> tuple[int, str]:
            return as_user(name, [t.vpy, f"{work}/src/{SUITE}", *args])

        suites(t, "unpriv", suite, f"{work}/tmp")
        for path, env in (("C", {"FASTHTTP_EXPECT_ACCELERATED": "1"}),
                          ("pure", {"FASTHTTP_PURE": "1"})):
            rc, tail = as_user(f"pytest-unpriv-cgi-{path}", [
                t.vpy, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                f"{work}/src/tests/test_cgi.py"], env)
            summary = _pytest_summary(tail)
            t.results[f"test_cgi.py unprivileged ({path})"] = summary
            if rc != 0:
                t.failures.append(f"test_cgi.py unprivileged ({path}): {summary}: "
                                  f"{t.logs / f'pytest-unpriv-cgi-{path}.log'}")
    finally:
        shutil.rmtree(work_host, ignore_errors=True)


def ensure_user() -> None:
    """UNPRIV_USER on this machine: a system user, no home, no login."""
    if subprocess.run(["id", "-u", UNPRIV_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", UNPRIV_USER], check=True)


# -- the whole run ----------------------------------------------------------------

def pipeline(t: Target, pool: ThreadPoolExecutor, with_pytest: bool,
             make_sid: Callable[[], Path] | None) -> None:
    try:
        start = time.monotonic()
        if make_sid is not None:
            t.sid_root = make_sid()
        t.logs.mkdir(parents=True, exist_ok=True)
        prepare(t)
        build(t)
        say(t.version, f"venv, build and import ok ({time.monotonic() - start:.0f} s)")
    except (StepFailed, sid_tree.TreeError) as exc:
        t.failures.append(str(exc))
        say(t.version, f"FAILED: {exc}")
        return
    jobs = [pool.submit(root_suites, t)]
    if os.geteuid() == 0:
        jobs.append(pool.submit(unprivileged, t))
    if with_pytest:
        jobs += [pool.submit(pytest, t, "C"), pool.submit(pytest, t, "pure")]
    for job in jobs:
        try:
            job.result()
        except Exception as exc:  # noqa: BLE001 - reported with the rest
            t.failures.append(f"{type(exc).__name__}: {exc}")
    say(t.version, f"done ({time.monotonic() - start:.0f} s)"
        + (f", {len(t.failures)} failure(s)" if t.failures else ""))


def table(t: Target) -> str:
    lines = [f"Python {t.version}"]
    for step, summary in t.results.items():
        lines.append(f"  {step:<30} {summary}")
    lines.append(f"  {'suite':<18} {'user':<7} {'stock p/s/f':>12} {'ours C p/s/f':>13} "
                 f"{'ours pure p/s/f':>16}")
    modules = sorted({m for m, _, _ in t.suites})
    for module in modules:
        for who in ("root", "user", "unpriv"):
            row = [t.suites.get((module, who, impl)) for impl in ("stock", "C", "pure")]
            if not any(row):
                continue
            cells = ["/".join(str(c[k]) for k in ("passed", "skipped", "failed")) if c else "-"
                     for c in row]
            lines.append(f"  {module:<18} {who:<7} {cells[0]:>12} {cells[1]:>13} {cells[2]:>16}")
    for failure in t.failures:
        lines.append("  FAILED: " + failure)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pythons", default="3.10 3.11 3.12 3.13 3.14 3.15")
    parser.add_argument("--sid", default="3.14 3.15",
                        help="the Pythons taken from the Debian sid tree")
    parser.add_argument("--sid-dir", default=sid_tree.DEFAULT_DIR)
    parser.add_argument("--sid-mirror", default=sid_tree.DEFAULT_MIRROR)
    parser.add_argument("--pyenv-root", default=os.environ.get(
        "PYENV_ROOT", os.path.expanduser("~/.pyenv")))
    parser.add_argument("--jobs", type=int, default=6,
                        help="test steps running at once, all Pythons together")
    parser.add_argument("--no-pytest", action="store_true",
                        help="CPython's suites only (not our pytest suite)")
    args = parser.parse_args(argv)
    versions = args.pythons.split()
    from_sid = [v for v in versions if v in args.sid.split()]
    start = time.monotonic()

    if os.geteuid() == 0:
        ensure_user()
    sid_lock = threading.Lock()
    sid_root: list[Path] = []

    def make_sid() -> Path:
        with sid_lock:
            if not sid_root:
                try:
                    sid_root.append(sid_tree.ensure(Path(args.sid_dir), args.sid_mirror,
                                                    from_sid))
                except sid_tree.TreeError as exc:
                    raise sid_tree.TreeError(
                        f"Python {' and '.join(from_sid)} come from a Debian sid tree in "
                        f"{args.sid_dir}, which cannot be built here: {exc}") from None
            return sid_root[0]

    targets: list[Target] = []
    errors: list[str] = []
    for v in versions:
        if v in from_sid:
            t = sid_target(v, Path(args.sid_dir) / "root")
        else:
            try:
                t = host_target(v, Path(args.pyenv_root))
            except StepFailed as exc:
                errors.append(str(exc))
                continue
        t.logs = WORK / v
        targets.append(t)
    for error in errors:
        print("test-pythons: " + error, file=sys.stderr)

    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        threads = [threading.Thread(target=pipeline, args=(
            t, pool, not args.no_pytest, make_sid if t.sid_root is not None else None))
            for t in targets]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    print()
    for t in targets:
        print(table(t))
        print()
    failed = len(errors) + sum(len(t.failures) for t in targets)
    steps = len(errors) + sum(len(t.results) + len({(w, i) for _, w, i in t.suites}) + 1
                              for t in targets)
    print(f"test-pythons: {', '.join(versions)} in {time.monotonic() - start:.0f} s")
    print(f"test-pythons: {steps - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
