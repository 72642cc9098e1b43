"""Build the C/Cython accelerator. Everything else lives in pyproject.toml.

The extension is optional: if it cannot be built (no compiler, no Cython),
the install still succeeds and fasthttp runs on its pure-Python path.
Set FASTHTTP_REQUIRE_EXTENSION=1 to make a failed build an error instead
(CI and the wheels do), and FASTHTTP_CFLAGS to add flags (sanitizers).
"""
import os
import shlex

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def extensions():
    try:
        from Cython.Build import cythonize
    except ImportError:
        if os.environ.get("FASTHTTP_REQUIRE_EXTENSION") == "1":
            raise
        return []
    extra = shlex.split(os.environ.get("FASTHTTP_CFLAGS", ""))
    ext = Extension(
        "fasthttp._speedups",
        sources=["fasthttp/_speedups.pyx", "csrc/fh_parser.c"],
        include_dirs=["csrc"],
        extra_compile_args=["-O2", "-std=c99"] + extra if os.name != "nt" else [],
        extra_link_args=extra,
    )
    return cythonize([ext], compiler_directives={"language_level": "3"})


class optional_build_ext(build_ext):
    """Fall back to pure Python when the compiler fails, unless told not to."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure
            self._give_up(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc)

    def _give_up(self, exc):
        if os.environ.get("FASTHTTP_REQUIRE_EXTENSION") == "1":
            raise exc
        print(f"WARNING: fasthttp C extension not built ({exc}); using pure Python")


setup(ext_modules=extensions(), cmdclass={"build_ext": optional_build_ext})
