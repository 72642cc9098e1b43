"""Run CPython's own http.server tests against fasthttp.

    python tests/cpython_suite.py [--pure] [-v]

Swaps fasthttp.server in for http.server (sys.modules and the `http`
package attribute) before importing the interpreter's test.test_httpservers
and test.test_wsgiref (which builds on it), then runs them with unittest.
MiscTestCase.test_all is skipped: it checks that names are defined in a
module literally called "http.server", which ours cannot be.
Prints a last line "N passed, N failed" and exits non-zero on any failure.
"""
import os
import sys
import unittest

EXEMPT = {"test_all"}   # MiscTestCase.test_all: see the docstring


def _iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _iter_tests(item)
        else:
            yield item


def main(argv):
    if "--pure" in argv:
        os.environ["FASTHTTP_PURE"] = "1"
    verbosity = 2 if "-v" in argv else 1
    import fasthttp
    fasthttp.install()
    from test import test_httpservers, test_wsgiref

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for module in (test_httpservers, test_wsgiref):
        for test in _iter_tests(loader.loadTestsFromModule(module)):
            if test.id().rsplit(".", 1)[-1] not in EXEMPT:
                suite.addTest(test)
    print(f"fasthttp accelerated: {fasthttp.accelerated}; Python {sys.version.split()[0]}",
          file=sys.stderr)
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{passed} passed, {failed} failed, {len(result.skipped)} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
