"""Build the C/Cython extension modules. Everything else is in pyproject.toml.

Four extension modules, one per concern, each the twin of a pure-Python module
(fasthttp/_core.py picks the set): _head (with csrc/fh_parser.c), _request,
_response, and _sockio, which Cython compiles from fasthttp/sockio.py itself
(copied to build/cython/, typed by fasthttp/_sockio.pxd).

A failed build is an error: the message says what to install, or how to ask
for the pure-Python path explicitly (FASTHTTP_NO_EXTENSIONS=1; the package then
warns at import that it runs without its extension, unless FASTHTTP_PURE=1).
FASTHTTP_CFLAGS adds flags to the compiler and the linker (sanitizers).
Cython runs only when extensions are built, never on a plain import of this file.
"""
import filecmp
import os
import shlex
import shutil

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SOCKIO = "fasthttp._sockio"     # compiled from a copy of sockio.py (see _copy_sockio)

HELP = """
fasthttp: the C extension could not be built ({error}).
Install a C compiler and Python's headers (Debian/Ubuntu: apt-get install
build-essential python3-dev; Fedora: dnf install gcc python3-devel; macOS:
xcode-select --install; Windows: Microsoft C++ Build Tools), and Cython>=3
(pip installs it as a build dependency), then install again.
To install the slower pure-Python implementation instead, ask for it:
    FASTHTTP_NO_EXTENSIONS=1 pip install fasthttp
"""


def _flags():
    extra = shlex.split(os.environ.get("FASTHTTP_CFLAGS", ""))
    base = ["-O2", "-std=c99"] if os.name != "nt" else []
    return base + extra, extra


def _extensions():
    compile_args, link_args = _flags()

    def ext(name, sources):
        # depends: the parser's header is no source, yet a change must rebuild.
        return Extension(name, sources=sources, include_dirs=["csrc"],
                         depends=["csrc/fh_parser.h"],
                         extra_compile_args=compile_args, extra_link_args=link_args)

    return [
        ext(SOCKIO, ["fasthttp/sockio.py"]),    # build_ext points it at the copy
        ext("fasthttp._head", ["fasthttp/_head.pyx", "csrc/fh_parser.c"]),
        ext("fasthttp._request", ["fasthttp/_request.pyx", "csrc/fh_parser.c"]),
        ext("fasthttp._response", ["fasthttp/_response.pyx"]),
    ]


def _copy_sockio(generated):
    """sockio.py and its .pxd, under the module name _sockio, for Cython; a
    file is rewritten only when it differs (its mtime is Cython's clock).
    Returns the copy's path."""
    out = os.path.join(generated, "fasthttp")
    os.makedirs(out, exist_ok=True)
    for source, name in (("sockio.py", "_sockio.py"), ("_sockio.pxd", "_sockio.pxd"),
                         (None, "__init__.py")):
        target = os.path.join(out, name)
        if source is None:
            if not os.path.exists(target):
                open(target, "w").close()
        elif not (os.path.exists(target) and
                  filecmp.cmp(os.path.join("fasthttp", source), target, shallow=False)):
            shutil.copyfile(os.path.join("fasthttp", source), target)
    return os.path.join(out, "_sockio.py")


class build_cython_ext(build_ext):
    """Cythonize at build time; a failure names the way out (see HELP)."""

    def finalize_options(self):
        super().finalize_options()
        if os.environ.get("FASTHTTP_NO_EXTENSIONS") == "1":
            self.extensions = []
            return
        try:
            from Cython.Build import cythonize
        except ImportError as exc:
            raise SystemExit(HELP.format(error="Cython is not installed: %s" % exc)) from exc
        generated = os.path.join(self.build_temp, "cython")
        for ext in self.extensions:
            if ext.name == SOCKIO:
                ext.sources = [_copy_sockio(generated)]
        # sockio.py's annotations are for mypy; its C types come from the .pxd.
        compiled = cythonize(
            self.extensions, include_path=[generated, HERE], build_dir=generated,
            compiler_directives={"language_level": "3", "annotation_typing": False})
        # Keep setuptools' own Extension objects (finalize_options prepared
        # them); take only the generated C sources.
        for ext, done in zip(self.extensions, compiled):
            ext.sources = done.sources

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            raise SystemExit(HELP.format(error=exc)) from exc


setup(ext_modules=[] if os.environ.get("FASTHTTP_NO_EXTENSIONS") == "1" else _extensions(),
      cmdclass={"build_ext": build_cython_ext})
