"""Run the test suite against the *installed* fasthttp (a wheel), not the source tree.

    python tools/test_installed.py [--require-extension] [--quick] [-- extra pytest args]

Used by `make dist` and by cibuildwheel's test-command. The tests are copied
to a temporary directory laid out as ``TMP/src/tests`` (so nothing that is
importable as ``fasthttp`` sits next to them, and the subprocess tests'
``PYTHONPATH=<tests>/..`` points at an empty ``TMP/src``; the request corpus,
tests/data/requests, comes along), and everything runs from that directory:

1. fasthttp must import from site-packages (and, with --require-extension or
   FASTHTTP_REQUIRE_EXTENSION=1, be accelerated);
2. pytest on the C path, then with FASTHTTP_PURE=1;
3. tests/cpython_suite.py (CPython's test_httpservers and test_wsgiref) on
   both paths, where the interpreter ships its `test` package.

--quick (emulated builds): only the C path, hypothesis properties skipped, no
CPython suite. The last line is "N passed, N failed" over the steps.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
TESTS = PROJECT / "tests"


def _layout(tmp: Path) -> Path:
    tests = tmp / "src" / "tests"
    shutil.copytree(TESTS, tests, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if (PROJECT / "deploy").is_dir():      # the nginx test's configuration
        shutil.copytree(PROJECT / "deploy", tmp / "src" / "deploy")
    # the README: tests hold the CLI's help and the deploy files to what it says
    shutil.copy2(PROJECT / "README.md", tmp / "src" / "README.md")
    return tests


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _check_import(tmp: Path, env: dict[str, str], require_ext: bool) -> bool:
    code = ("import fasthttp, sys; "
            "print(fasthttp.__file__); print(fasthttp.accelerated); print(fasthttp.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return False
    location, accelerated, version = out.stdout.split()
    print(f"installed fasthttp {version}: {location} (accelerated: {accelerated})")
    ok = True
    if Path(location).resolve().is_relative_to(PROJECT):
        print(f"ERROR: fasthttp was imported from the source tree {PROJECT}", file=sys.stderr)
        ok = False
    if require_ext and accelerated != "True":
        print("ERROR: the C extension is not in use (FASTHTTP_REQUIRE_EXTENSION)", file=sys.stderr)
        ok = False
    return ok


def _has_cpython_tests() -> bool:
    out = subprocess.run([sys.executable, "-c", "import test.test_httpservers"],
                         capture_output=True)
    return out.returncode == 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--require-extension", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args(argv)
    require_ext = args.require_extension or os.environ.get("FASTHTTP_REQUIRE_EXTENSION") == "1"

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="fasthttp-wheeltest-") as name:
        tmp = Path(name)
        tests = _layout(tmp)
        env = _env()
        if not _check_import(tmp, env, require_ext):
            print("0 passed, 1 failed")
            return 1

        pytest = [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider",
                  str(tests)]
        if args.quick:
            pytest += ["-k", "not hypothesis and not property and not properties"]
        pytest += args.pytest_args
        c_env = _env(FASTHTTP_EXPECT_ACCELERATED="1") if require_ext else env
        steps: list[tuple[str, list[str], dict[str, str]]] = [("pytest (C path)", pytest, c_env)]
        if not args.quick:
            steps.append(("pytest (pure path)", pytest, _env(FASTHTTP_PURE="1")))
            if _has_cpython_tests():
                suite = [sys.executable, str(tests / "cpython_suite.py")]
                steps.append(("CPython suite (C path)", suite, env))
                steps.append(("CPython suite (pure path)", suite,
                              _env(FASTHTTP_PURE="1")))
            else:
                print("note: this interpreter has no test.test_httpservers; CPython suite skipped")

        for title, cmd, step_env in steps:
            print(f"=== {title}", flush=True)
            rc = subprocess.run(cmd, cwd=tmp, env=step_env).returncode
            if rc == 0:
                passed += 1
            else:
                failed += 1
                print(f"=== {title}: FAILED (exit {rc})", flush=True)
    print(f"test_installed: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
