"""fasthttp behind a real nginx, configured by deploy/nginx.conf.

nginx (Debian: apt-get install -y nginx-light) runs as the current user from a
temporary prefix (its own conf, pid, logs and temp directories), in the
foreground, on a free 127.0.0.1 port, and is ended by PID. In front of it:
the CLI with --workers 2, over TCP and over a Unix socket. The backend is
`python -m fasthttp`'s main() with one addition, a PUT that answers the
SHA-256 of the body it read (the file server has no handler that reads a
request body). Skipped when nginx is not installed.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
TIMEOUT = 10

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed "
                       "(Debian: apt-get install -y nginx-light)"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()"),
]

BACKEND = """
import hashlib, sys
import fasthttp
from fasthttp.__main__ import main

class Handler(fasthttp.SimpleHTTPRequestHandler):
    def do_PUT(self):
        digest = hashlib.sha256(self.read_body()).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(digest)))
        self.end_headers()
        self.wfile.write(digest)

sys.exit(main(sys.argv[1:], handler_class=Handler))
"""

# nginx's compiled-in temp directories (/var/lib/nginx/... on Debian) are
# root's: each one the binary has is moved into the prefix.
_TEMP_DIRECTIVES = {"client-body": "client_body_temp_path", "proxy": "proxy_temp_path",
                    "fastcgi": "fastcgi_temp_path", "uwsgi": "uwsgi_temp_path",
                    "scgi": "scgi_temp_path"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readline(stream, deadline):
    result = []
    t = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    t.start()
    t.join(max(0.1, deadline - time.monotonic()))
    assert result, "no banner in time"
    return result[0]


def render_site(upstream, port):
    """deploy/nginx.conf with this test's addresses in place of its own."""
    text = DEPLOY_CONF.read_text()
    for old, new in [("server unix:/run/fasthttp/fasthttp.sock;", "server %s;" % upstream),
                     ("listen 80;", "listen 127.0.0.1:%d;" % port)]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def main_conf(prefix, site_file):
    version = subprocess.run([NGINX, "-V"], capture_output=True, text=True,
                             timeout=TIMEOUT).stderr
    temps = []
    for name, directive in _TEMP_DIRECTIVES.items():
        if "--without-http_%s_module" % name.replace("-", "_") not in version:
            temps.append("    %s %s;" % (directive, prefix / ("tmp-" + name)))
    # A master running as root would hand its workers to "nobody", who may
    # not enter the test's directories: keep them the current user.
    user = "user root;" if os.geteuid() == 0 else ""
    return "\n".join([
        "daemon off;", user, "worker_processes 1;",
        "pid %s;" % (prefix / "nginx.pid"), "error_log %s warn;" % (prefix / "error.log"),
        "events { worker_connections 64; }",
        "http {",
        "    access_log %s;" % (prefix / "access.log"),
        *temps,
        "    include %s;" % site_file,
        "}", ""])


def _stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate(timeout=TIMEOUT)


class Stack:
    """nginx -> python -m fasthttp --workers 2 (TCP or Unix socket)."""

    def __init__(self, tmp_path, transport, trust):
        self.deadline = time.monotonic() + 15
        self.transport = transport
        self.site = tmp_path / "site"
        self.site.mkdir()
        self.big = os.urandom(1 << 20) * 20            # 20 MiB
        (self.site / "big.bin").write_bytes(self.big)
        (self.site / "hello.txt").write_bytes(b"hello\n")
        args = ["--workers", "2", "--protocol", "HTTP/1.1", "--access-log", "json",
                "-d", str(self.site)]
        if transport == "unix":
            sock = tmp_path / "fasthttp.sock"
            args += ["--unix-socket", str(sock)]
        else:
            args += ["0", "-b", "127.0.0.1"]
        if trust:
            args += ["--forwarded-allow-ips", "127.0.0.1,unix"]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.backend = subprocess.Popen([sys.executable, "-c", BACKEND, *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.nginx = None
        banner = _readline(self.backend.stdout, self.deadline)
        if transport == "unix":
            assert banner == b"Serving HTTP on unix:%s ...\n" % str(sock).encode(), banner
            upstream = "unix:%s" % sock
        else:
            upstream = "127.0.0.1:%d" % int(re.search(rb" port (\d+) ", banner).group(1))
        self.port = _free_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        site_file = prefix / "fasthttp.conf"
        site_file.write_text(render_site(upstream, self.port))
        conf = prefix / "nginx.conf"
        conf.write_text(main_conf(prefix, site_file))
        self.error_log = prefix / "error.log"
        self.nginx = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:     # until it accepts connections
            assert self.nginx.poll() is None, self.nginx.stderr.read()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < self.deadline, "nginx did not start"
                time.sleep(0.02)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        """Stop both; the backend's access log, parsed."""
        if self.nginx is not None:
            _stop(self.nginx, signal.SIGQUIT)   # graceful: upstream connections close
        out, err = _stop(self.backend)
        assert self.backend.returncode == 0, err
        assert b"Traceback" not in err, err
        return [json.loads(line) for line in err.decode().splitlines()]


@pytest.fixture
def stack(tmp_path, request):
    transport, trust = request.param
    s = Stack(tmp_path, transport, trust)
    yield s
    for proc in (s.nginx, s.backend):   # by PID, if a check failed before stop()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)


@pytest.mark.parametrize("stack", [("tcp", True), ("unix", True)], indirect=True,
                         ids=["tcp", "unix"])
def test_behind_nginx(stack):
    # Keep-alive to the backend: many requests, few upstream connections.
    for _ in range(20):
        assert stack.request("GET", "/hello.txt") == (200, b"hello\n")
    # A large response and a large request body, intact.
    status, body = stack.request("GET", "/big.bin")
    assert status == 200 and len(body) == len(stack.big)
    assert hashlib.sha256(body).digest() == hashlib.sha256(stack.big).digest()
    upload = os.urandom(5 << 20)
    assert stack.request("PUT", "/upload", body=upload) == (
        200, hashlib.sha256(upload).hexdigest().encode())
    # The client's address, as the trusted proxy tells it.
    assert stack.request("GET", "/hello.txt",
                         headers={"X-Forwarded-For": "203.0.113.7"})[0] == 200
    records = stack.stop()
    requests = [r for r in records if r["event"] == "request"]
    assert [r["path"] for r in requests] == ["/hello.txt"] * 20 + [
        "/big.bin", "/upload", "/hello.txt"]
    connections = sum(1 for r in requests if r["connection_requests"] == 1)
    assert 1 <= connections <= 3, [r["connection_requests"] for r in requests]
    assert requests[20]["size"] == len(stack.big)
    # nginx appends the address it got the request from (127.0.0.1, trusted):
    # the first untrusted one from the right is the client.
    assert requests[-1]["remote"] == "203.0.113.7"
    assert {r["remote"] for r in requests[:-1]} == {"127.0.0.1"}


@pytest.mark.parametrize("stack", [("tcp", False), ("unix", False)], indirect=True,
                         ids=["tcp", "unix"])
def test_forwarded_for_ignored_by_default(stack):
    assert stack.request("GET", "/hello.txt",
                         headers={"X-Forwarded-For": "203.0.113.7"})[0] == 200
    records = [r for r in stack.stop() if r["event"] == "request"]
    peer = "unix:" if stack.transport == "unix" else "127.0.0.1"
    assert [r["remote"] for r in records] == [peer]
