"""HTTPSServer / ThreadingHTTPSServer: CPython 3.14's API on every Python.

A self-signed certificate is made at test time (the `cryptography` package,
else `openssl req`); without either the tests skip.
"""
import http.client
import http.server
import inspect
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
from certs import client_context, make_cert
from servers import serve_in_thread, stop_serving

import fasthttp

TIMEOUT = 10


class InfoHandler(fasthttp.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        req = self.request
        body = ("%s %s %s" % (type(req).__name__, req.selected_alpn_protocol(),
                              threading.current_thread() is threading.main_thread())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def running():
    """Start a server in a thread; stop and close it at teardown."""
    started = []

    def start(httpd):
        started.append((httpd, serve_in_thread(httpd)))
        return httpd.server_address[1]

    yield start
    for httpd, t in started:
        stop_serving(httpd, t, TIMEOUT)


def https_get(port, path="/", ctx=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                       context=ctx or client_context())
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_constructor_is_314s():
    params = inspect.signature(fasthttp.HTTPSServer.__init__).parameters
    assert list(params) == ["self", "server_address", "RequestHandlerClass",
                            "bind_and_activate", "certfile", "keyfile", "password",
                            "alpn_protocols"]
    for name in ("certfile", "keyfile", "password", "alpn_protocols"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["bind_and_activate"].default is True
    assert params["certfile"].default is inspect.Parameter.empty


def test_classes():
    assert issubclass(fasthttp.HTTPSServer, fasthttp.HTTPServer)
    assert issubclass(fasthttp.ThreadingHTTPSServer, fasthttp.HTTPSServer)
    assert issubclass(fasthttp.ThreadingHTTPSServer, fasthttp.ThreadingHTTPServer)
    assert fasthttp.ThreadingHTTPSServer.daemon_threads
    if hasattr(http.server, "HTTPSServer"):  # 3.14+
        assert issubclass(fasthttp.HTTPSServer, http.server.HTTPSServer)
        assert issubclass(fasthttp.ThreadingHTTPSServer, http.server.ThreadingHTTPSServer)


@pytest.mark.parametrize("cls", ["HTTPSServer", "ThreadingHTTPSServer"])
def test_serves_https(cert, running, cls):
    certfile, keyfile = cert
    httpd = getattr(fasthttp, cls)(("127.0.0.1", 0), InfoHandler,
                                   certfile=certfile, keyfile=keyfile)
    assert httpd.alpn_protocols == ["http/1.1"]
    assert (httpd.certfile, httpd.keyfile, httpd.password) == (certfile, keyfile, None)
    port = running(httpd)
    status, body = https_get(port)
    assert status == 200
    kind, alpn, in_main = body.decode().split()
    assert kind == "SSLSocket"
    assert alpn == "http/1.1"
    # The threading server answers (and shook hands) in the connection's thread.
    assert in_main == "False"


def test_handshake_does_not_block_the_accept_loop(cert, running):
    """A client that connects and never starts TLS must not stall others
    (3.14 shakes hands in accept(), in the serving loop)."""
    certfile, keyfile = cert
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), InfoHandler,
                                          certfile=certfile, keyfile=keyfile)
    port = running(httpd)
    silent = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        time.sleep(0.2)  # accepted, waiting for a ClientHello that never comes
        started = time.monotonic()
        status, _ = https_get(port)
        assert status == 200
        assert time.monotonic() - started < 3
    finally:
        silent.close()


def test_failed_handshake_is_quiet_and_harmless(cert, running, capfd):
    certfile, keyfile = cert
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), InfoHandler,
                                          certfile=certfile, keyfile=keyfile)
    port = running(httpd)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to a TLS port
        plain.settimeout(TIMEOUT)
        try:
            data = plain.recv(1024)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/")
    assert https_get(port)[0] == 200
    time.sleep(0.1)
    assert "Traceback" not in capfd.readouterr().err


def test_handshake_timeout(cert, running):
    certfile, keyfile = cert
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), InfoHandler,
                                          certfile=certfile, keyfile=keyfile)
    httpd.tls_handshake_timeout = 0.3
    port = running(httpd)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # the server gave up on us
        assert time.monotonic() - started < 5


def test_encrypted_key_with_password(tmp_path, running):
    certfile, keyfile = make_cert(tmp_path, password="s3cret")
    with pytest.raises(ssl.SSLError):
        fasthttp.HTTPSServer(("127.0.0.1", 0), InfoHandler, certfile=certfile,
                             keyfile=keyfile, password="wrong").server_close()
    httpd = fasthttp.HTTPSServer(("127.0.0.1", 0), InfoHandler, certfile=certfile,
                                 keyfile=keyfile, password="s3cret")
    assert https_get(running(httpd))[0] == 200


def test_alpn_and_deferred_activation(cert, running):
    certfile, keyfile = cert
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), InfoHandler, False,
                                          certfile=certfile, keyfile=keyfile,
                                          alpn_protocols=["x-test", "http/1.1"])
    assert not isinstance(httpd.socket, ssl.SSLSocket)
    httpd.server_bind()
    httpd.server_activate()
    assert isinstance(httpd.socket, ssl.SSLSocket)
    ctx = client_context()
    ctx.set_alpn_protocols(["x-test"])
    status, body = https_get(running(httpd), ctx=ctx)
    assert status == 200 and body.split()[1] == b"x-test"


def test_create_context_is_the_hook(cert, running):
    certfile, keyfile = cert
    calls = []

    class Custom(fasthttp.ThreadingHTTPSServer):
        def _create_context(self):
            ctx = super()._create_context()
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            calls.append(ctx)
            return ctx

    httpd = Custom(("127.0.0.1", 0), InfoHandler, certfile=certfile, keyfile=keyfile)
    assert len(calls) == 1
    assert https_get(running(httpd))[0] == 200


def test_curl(cert, running):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed")
    certfile, keyfile = cert
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), InfoHandler,
                                          certfile=certfile, keyfile=keyfile)
    port = running(httpd)
    out = subprocess.run([curl, "--insecure", "-sS", "--max-time", str(TIMEOUT),
                          "https://127.0.0.1:%d/" % port],
                         capture_output=True, timeout=TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"SSLSocket http/1.1")


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX tests")
