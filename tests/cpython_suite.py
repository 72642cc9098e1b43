"""Run CPython's own http.server tests against fasthttp (or, to compare, stock).

    python tests/cpython_suite.py [--stock] [--pure] [--json FILE]
                                  [--against STOCK_JSON] [--test-timeout S] [-v]

Swaps fasthttp.server in for http.server (sys.modules and the `http`
package attribute) before importing the interpreter's test.test_httpservers,
test.test_wsgiref and test.test_xmlrpc (the two build on http.server), then
runs them with unittest. --stock runs the same tests on the standard library,
untouched. MiscTestCase.test_all is left out: it checks that names are defined
in a module literally called "http.server", which ours cannot be.

--json FILE writes each test's outcome (passed, failed, skipped) by module.
--against STOCK_JSON (a --stock run's file) judges this run against stock:
it fails where a test stock passed did not pass here (failed, skipped or not
run); tests stock fails or skips decide nothing. Without it, any failure fails.
A test that runs longer than --test-timeout seconds (a hang) stops the run,
with every thread's traceback. The tests run in a temporary directory.
Prints a last line "N passed, N failed, N skipped" and exits non-zero on failure.
"""
import faulthandler
import json
import os
import shutil
import sys
import tempfile
import unittest

EXEMPT = {"test_all"}   # MiscTestCase.test_all: see the docstring
MODULES = ("test_httpservers", "test_wsgiref", "test_xmlrpc")


def _iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _iter_tests(item)
        else:
            yield item


class _Recorder(unittest.TextTestResult):
    """TextTestResult that keeps each test's outcome, and arms a watchdog
    for each test (faulthandler: tracebacks, then exit)."""

    test_timeout = 120.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def _set(self, test, outcome):
        # A failed subtest or cleanup marks the test failed for good.
        if self.outcomes.get(test.id()) != "failed":
            self.outcomes[test.id()] = outcome

    def startTest(self, test):
        faulthandler.dump_traceback_later(self.test_timeout, exit=True)
        super().startTest(test)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "passed")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "passed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skipped")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        # setUpClass/module fixtures fail as a _ErrorHolder, not a TestCase.
        self._set(test, "failed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "failed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._set(test, "failed")


def _option(argv, name, default=None):
    if name in argv:
        return argv[argv.index(name) + 1]
    return default


def _regressions(outcomes, stock_file):
    """Test ids stock passed that did not pass here."""
    with open(stock_file) as f:
        stock = json.load(f)["tests"]
    return sorted(test for test, outcome in stock.items()
                  if outcome == "passed" and outcomes.get(test) != "passed")


def main(argv):
    stock = "--stock" in argv
    if "--pure" in argv:
        os.environ["FASTHTTP_PURE"] = "1"
    verbosity = 2 if "-v" in argv else 1
    _Recorder.test_timeout = float(_option(argv, "--test-timeout", _Recorder.test_timeout))
    accelerated = None
    if not stock:
        import fasthttp
        fasthttp.install()
        accelerated = fasthttp.accelerated
    import importlib
    modules = [importlib.import_module("test." + name) for name in MODULES]

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    module_of = {}
    for module in modules:
        for test in _iter_tests(loader.loadTestsFromModule(module)):
            if test.id().rsplit(".", 1)[-1] not in EXEMPT:
                suite.addTest(test)
                module_of[test.id()] = module.__name__.rsplit(".", 1)[-1]
    what = "stock http.server" if stock else f"fasthttp (accelerated: {accelerated})"
    print(f"{what}; Python {sys.version.split()[0]}; uid {os.getuid()}", file=sys.stderr)
    runner = unittest.TextTestRunner(verbosity=verbosity, resultclass=_Recorder)
    # In a directory of its own, as regrtest runs them: some tests make
    # fixed names in the current directory (os_helper.temp_cwd's "tempcwd").
    here = os.getcwd()
    work = tempfile.mkdtemp(prefix="cpython-suite-")
    os.chdir(work)
    try:
        result = runner.run(suite)
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    outcomes = result.outcomes
    for test_id in module_of:       # a test that never reported (a class fixture failed)
        outcomes.setdefault(test_id, "failed")

    json_file = _option(argv, "--json")
    if json_file:
        with open(json_file, "w") as f:
            json.dump({"python": sys.version.split()[0], "stock": stock,
                       "accelerated": accelerated, "uid": os.getuid(),
                       "tests": outcomes,
                       "modules": {t: module_of.get(t, "") for t in outcomes}}, f, indent=0)
    counts = {o: sum(1 for v in outcomes.values() if v == o)
              for o in ("passed", "failed", "skipped")}
    against = _option(argv, "--against")
    if against:
        regressions = _regressions(outcomes, against)
        for test in regressions:
            print(f"REGRESSION (stock passes, {outcomes.get(test, 'not run')} here): {test}")
        ok = not regressions
    else:
        ok = counts["failed"] == 0 and result.wasSuccessful()
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
