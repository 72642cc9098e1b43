"""Build the C/Cython extension modules. Everything else is in pyproject.toml.

Four extension modules, one per concern, each the pure-Python module of that
concern compiled a second time by Cython (fasthttp/_core.py picks the set):
the source is copied to build/cython/ under the extension's name and typed by
fasthttp/_<name>.pxd. _sockio from sockio.py, _head from head.py (with
csrc/fh_parser.c), _request from request.py, _response from response.py.

A failed build is an error: the message says what to install, or how to ask
for the pure-Python path explicitly (FASTHTTP_NO_EXTENSIONS=1). Such a build
leaves fasthttp/_built_pure in the package, so that the import does not warn
about the extension nobody expected; without that mark, a fasthttp running
without its extension warns at import, unless FASTHTTP_PURE=1.
FASTHTTP_CFLAGS adds flags to the compiler and the linker (sanitizers).
Cython runs only when extensions are built, never on a plain import of this file.
"""
import filecmp
import os
import shlex
import shutil

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PURE_MARK = os.path.join("fasthttp", "_built_pure")   # fasthttp/_core.py reads it
# Pure modules compiled as their extension twin: fasthttp/<name>.py -> fasthttp._<name>,
# from a copy under build_ext's temp directory (one per interpreter: builds for
# several Pythons at once share no file).
ONE_SOURCE = ("sockio", "head", "request", "response")

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

    def source(name):       # build_ext points it at the copy (_copy_sources)
        return os.path.join("fasthttp", "%s.py" % name)

    return [
        ext("fasthttp._sockio", [source("sockio")]),
        ext("fasthttp._head", [source("head"), "csrc/fh_parser.c"]),
        ext("fasthttp._request", [source("request")]),
        ext("fasthttp._response", [source("response")]),
    ]


def _copy_sources(generated):
    """Each ONE_SOURCE module and its .pxd, under the extension's name, for
    Cython; a file is rewritten only when it differs (its mtime is Cython's
    clock: an unchanged source is not cythonized again). Returns the copies'
    paths by extension name."""
    out = os.path.join(generated, "fasthttp")
    os.makedirs(out, exist_ok=True)
    copies = {}
    for name in ONE_SOURCE:
        for src, dst in (("%s.py" % name, "_%s.py" % name), ("_%s.pxd" % name, "_%s.pxd" % name)):
            src = os.path.join("fasthttp", src)
            dst = os.path.join(out, dst)
            if not (os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False)):
                shutil.copyfile(src, dst)
        copies["fasthttp._" + name] = os.path.join(out, "_%s.py" % name)
    init = os.path.join(out, "__init__.py")
    if not os.path.exists(init):
        open(init, "w").close()
    return copies


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
        copies = _copy_sources(generated)
        for ext in self.extensions:
            ext.sources = [copies[ext.name]] + ext.sources[1:]
        # The modules' annotations are for mypy; their C types come from the .pxd files.
        compiled = cythonize(
            self.extensions, include_path=[generated, HERE], build_dir=generated,
            compiler_directives={"language_level": "3", "annotation_typing": False,
                                 # the pure branch after `if cython.compiled: return`
                                 "warn.unreachable": False})
        # Keep setuptools' own Extension objects (finalize_options prepared
        # them); take only the generated C sources.
        for ext, done in zip(self.extensions, compiled):
            ext.sources = done.sources

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            raise SystemExit(HELP.format(error=exc)) from exc


class build_py_marking_pure(build_py):
    """A build asked to be pure (FASTHTTP_NO_EXTENSIONS=1) says so in the package."""

    def run(self):
        super().run()
        mark = os.path.join(self.build_lib, PURE_MARK)
        if os.environ.get("FASTHTTP_NO_EXTENSIONS") == "1":
            with open(mark, "w") as f:
                f.write("Built with FASTHTTP_NO_EXTENSIONS=1: pure Python, on request.\n")
        elif os.path.exists(mark):
            os.remove(mark)     # a pure build's, in a reused build directory

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        mark = os.path.join(self.build_lib, PURE_MARK)
        return outputs + [mark] if os.environ.get("FASTHTTP_NO_EXTENSIONS") == "1" else outputs


setup(ext_modules=[] if os.environ.get("FASTHTTP_NO_EXTENSIONS") == "1" else _extensions(),
      cmdclass={"build_ext": build_cython_ext, "build_py": build_py_marking_pure})
