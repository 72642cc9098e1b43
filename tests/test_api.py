"""The drop-in surface: names, classes, install()/uninstall(), the CLI."""
import http.client
import http.server
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import free_port, serve_in_thread

import fasthttp
from fasthttp import server

ROOT = Path(__file__).resolve().parents[1]


def test_every_stdlib_name_is_exported():
    for name in http.server.__all__:
        assert hasattr(fasthttp, name), name
    # every name of the running Python's http.server (3.15 has no CGI ones)
    for name in vars(http.server):
        if not name.startswith("__"):
            assert hasattr(server, name), name
    if not hasattr(http.server, "CGIHTTPRequestHandler"):
        assert not hasattr(server, "CGIHTTPRequestHandler")
        assert "CGIHTTPRequestHandler" not in fasthttp.__all__


@pytest.mark.parametrize("name", [name for name in (
    "HTTPServer", "ThreadingHTTPServer", "BaseHTTPRequestHandler",
    "SimpleHTTPRequestHandler", "CGIHTTPRequestHandler") if hasattr(http.server, name)])
def test_classes_subclass_the_stdlib(name):
    ours, theirs = getattr(fasthttp, name), getattr(http.server, name)
    assert ours is not theirs
    assert issubclass(ours, theirs)
    assert issubclass(ours, getattr(server, name))


def test_directory_handlers_keep_their_identity():
    assert fasthttp.SimpleHTTPRequestHandler.server_version == \
        http.server.SimpleHTTPRequestHandler.server_version
    if hasattr(http.server, "CGIHTTPRequestHandler"):      # up to 3.14
        assert issubclass(fasthttp.CGIHTTPRequestHandler, fasthttp.SimpleHTTPRequestHandler)
    assert issubclass(fasthttp.ThreadingHTTPServer, fasthttp.HTTPServer)
    assert fasthttp.ThreadingHTTPServer.daemon_threads


def test_accelerated_flag_follows_the_environment():
    code = "import fasthttp; print(fasthttp.accelerated)"
    env = dict(os.environ, FASTHTTP_PURE="1", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == "False"


def test_install_and_uninstall_swap_http_server():
    import http as http_pkg
    stdlib = sys.modules["http.server"]
    try:
        fasthttp.install()
        import http.server as swapped
        assert swapped is server
        assert http_pkg.server is server
        from http.server import BaseHTTPRequestHandler
        assert BaseHTTPRequestHandler is fasthttp.BaseHTTPRequestHandler
    finally:
        fasthttp.uninstall()
    assert sys.modules["http.server"] is stdlib
    assert http_pkg.server is stdlib


def test_install_makes_wsgiref_run_on_fasthttp():
    code = (
        "import fasthttp; fasthttp.install()\n"
        "from wsgiref.simple_server import WSGIRequestHandler, WSGIServer\n"
        "print(issubclass(WSGIRequestHandler, fasthttp.BaseHTTPRequestHandler),"
        " issubclass(WSGIServer, fasthttp.HTTPServer))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.split() == ["True", "True"]


def test_cli_serves_a_directory(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello, world\n")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "fasthttp", str(port), "-b", "127.0.0.1",
                             "-d", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/hello.txt")
                resp = conn.getresponse()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert resp.status == 200
        assert resp.read() == b"hello, world\n"
        assert resp.getheader("Server").startswith(
            http.server.SimpleHTTPRequestHandler.server_version)   # SimpleHTTP/0.6; 3.15: no version
        conn.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert b"Serving HTTP on 127.0.0.1 port %d" % port in out
    assert b'"GET /hello.txt HTTP/1.1" 200 -' in err


def test_interpreter_internals_gated():
    """The response path reads CPython's type version tags only where verified
    (3.9-3.13 with the GIL) and never with FASTHTTP_PUBLIC_API=1, the switch CI
    uses to run the suite on the public-API path."""
    import os
    import sys
    import sysconfig

    from fasthttp import _core
    if not fasthttp.accelerated:
        pytest.skip("pure-Python path: no interpreter internals at all")
    uses = _core.C.modules["response"].uses_interpreter_internals()
    verified = ((3, 9) <= sys.version_info[:2] <= (3, 13)
                and not sysconfig.get_config_var("Py_GIL_DISABLED"))
    forced_off = os.environ.get("FASTHTTP_PUBLIC_API") == "1"
    assert uses == (verified and not forced_off)


def test_http_client_over_a_unix_socket_is_served(tmp_path):
    """http.client over a Unix socket sends the socket's path as Host (as
    werkzeug's dev server test does after install()): served, as stock does."""
    import socketserver

    path = str(tmp_path / "test.sock")

    class Handler(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = self.headers["Host"].encode("latin-1")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - AF_UNIX has no client address
            pass

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(path)

    with socketserver.UnixStreamServer(path, Handler) as httpd:
        thread = serve_in_thread(httpd)
        try:
            conn = UnixConnection(path)
            conn.request("GET", "/")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, path.encode())
            conn.close()
        finally:
            httpd.shutdown()
            thread.join(10)


def test_the_extension_modules_have_their_stubs_names():
    """Each extension module's .pyi stub is its pure twin's API (__all__):
    the module has each of those names, of the same kind (class or callable)."""
    import importlib
    import inspect

    from fasthttp import _core
    modules = _core.load_extension(honour_pure=False)
    if modules is None:
        pytest.skip("the C extension is not built")
    for concern in _core.CONCERNS:
        pure = importlib.import_module("fasthttp." + concern)
        ext = modules[concern]
        # the installed package's own stub (a wheel ships them beside the modules)
        stub = (Path(pure.__file__).parent / ("_%s.pyi" % concern)).read_text()
        assert "from fasthttp.%s import *" % concern in stub
        for name in pure.__all__:
            ours, theirs = getattr(ext, name), getattr(pure, name)
            assert inspect.isclass(ours) == inspect.isclass(theirs), name
            assert callable(ours) == callable(theirs), name
            if not callable(ours):
                assert ours == theirs, name
