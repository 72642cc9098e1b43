"""fasthttp behind a real nginx, as Debian runs it, configured by deploy/.

nginx (Debian: apt-get install -y nginx-light) runs from a temporary prefix
(its own conf, pid, logs and temp directories), in the foreground, on a free
127.0.0.1 port, and is ended by PID. Started as root, its workers run as
www-data, as Debian's `user www-data;` has them (else as the current user).
In front of it: the CLI with --workers 2, over TCP, and over a Unix socket
with the README's recipe as written (its paths replaced). The backend is
`python -m fasthttp`'s main() with a handler that also answers a PUT with
the SHA-256 of the body it read (cli_support.BACKEND). Skipped when nginx is
not installed; the deploy files' agreement with the README is checked anyway.
"""
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cli_support import BACKEND_ARGV, cli_env, readline
from servers import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DEPLOY_CONF = DEPLOY / "nginx.conf"
TIMEOUT = 10

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

needs_nginx = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed "
                       "(Debian: apt-get install -y nginx-light)"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()"),
]

#: The user nginx's workers run as: Debian's `user www-data;` when nginx starts
#: as root (None: the current user, all an unprivileged master can do).
WORKER_USER = None
if os.geteuid() == 0:
    try:
        WORKER_USER = pwd.getpwnam("www-data").pw_name
    except KeyError:
        WORKER_USER = "nobody"


def _shell_command(text, start):
    """The shell command (backslash continuations joined) that begins with `start`."""
    at = text.index(start)
    end = at
    while True:
        end = text.index("\n", end)
        if not text[:end].rstrip().endswith("\\"):
            break
        end += 1
    lines = [line.strip().lstrip("#").strip() for line in text[at:end].split("\n")]
    return shlex.split(" ".join(line.rstrip("\\").strip() for line in lines))


def readme_recipe():
    """The README's "Behind nginx" command line, as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Behind nginx"):]
    return _shell_command(section, "python -m fasthttp --unix-socket")


def _options(argv):
    """{option: value} of a python -m fasthttp command line."""
    args = argv[argv.index("fasthttp") + 1:]
    options, i = {}, 0
    while i < len(args):
        assert args[i].startswith("-"), args[i]
        options[args[i]] = args[i + 1]
        i += 2
    return options

# nginx's compiled-in temp directories (/var/lib/nginx/... on Debian) are
# root's: each one the binary has is moved into the prefix.
_TEMP_DIRECTIVES = {"client-body": "client_body_temp_path", "proxy": "proxy_temp_path",
                    "fastcgi": "fastcgi_temp_path", "uwsgi": "uwsgi_temp_path",
                    "scgi": "scgi_temp_path"}


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
    user = "user %s;" % WORKER_USER if WORKER_USER else ""
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


def backend_argv(transport, trust, site, sock=None):
    """The backend's options: over a Unix socket, the README's recipe as
    written, with the test's paths (and, unprivileged, the user's own group:
    only root may give the socket a group it is not in)."""
    if transport == "tcp":
        argv = ["0", "-b", "127.0.0.1", "--workers", "2", "--protocol", "HTTP/1.1",
                "--access-log", "json", "-d", str(site)]
        return argv + (["--forwarded-allow-ips", "127.0.0.1,unix"] if trust else [])
    recipe = readme_recipe()
    argv = recipe[recipe.index("fasthttp") + 1:]
    argv = [{"/run/fasthttp/fasthttp.sock": str(sock), "/srv/www": str(site)}.get(a, a)
            for a in argv]
    assert str(sock) in argv and str(site) in argv, recipe
    if not trust:
        at = argv.index("--forwarded-allow-ips")
        del argv[at:at + 2]
    if os.geteuid() != 0:
        argv[argv.index("--unix-socket-group") + 1] = grp.getgrgid(os.getegid()).gr_name
    return argv


class Stack:
    """nginx -> python -m fasthttp --workers 2 (TCP or Unix socket)."""

    def __init__(self, base, transport, trust):
        self.deadline = time.monotonic() + 15
        self.transport = transport
        self.site = base / "site"
        self.site.mkdir()
        self.big = os.urandom(1 << 20) * 20            # 20 MiB
        (self.site / "big.bin").write_bytes(self.big)
        (self.site / "hello.txt").write_bytes(b"hello\n")
        sock = base / "run" / "fasthttp.sock"          # as /run/fasthttp/fasthttp.sock
        sock.parent.mkdir()
        self.backend = subprocess.Popen(
            [*BACKEND_ARGV, *backend_argv(transport, trust, self.site, sock)],
            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.nginx = None
        banner = readline(self.backend.stdout, TIMEOUT)
        if transport == "unix":
            assert banner == b"Serving HTTP on unix:%s ...\n" % str(sock).encode(), \
                banner + self.backend.stderr.read1()
            upstream = "unix:%s" % sock
        else:
            upstream = "127.0.0.1:%d" % int(re.search(rb" port (\d+) ", banner).group(1))
        self.port = free_port()
        prefix = base / "nginx"
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
        assert b"Permission denied" not in self.error_log.read_bytes()
        return [json.loads(line) for line in err.decode().splitlines()]


@pytest.fixture
def stack(request):
    transport, trust = request.param
    # pytest's tmp_path is its owner's only: nginx's workers could not enter it.
    base = Path(tempfile.mkdtemp(prefix="fasthttp-nginx-"))
    base.chmod(0o755)
    s = None
    try:
        s = Stack(base, transport, trust)
        yield s
    finally:
        for proc in (s.nginx, s.backend) if s else ():  # by PID, if a check failed
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("stack", [("tcp", True), ("unix", True)], indirect=True,
                         ids=["tcp", "unix"])
@needs_nginx[0]
@needs_nginx[1]
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
    # nginx appends the address it got the request from, this test's 127.0.0.1;
    # the first untrusted one from the right is the client. Over the socket
    # (the README's recipe) only nginx is trusted: the client is 127.0.0.1, and
    # what it wrote itself does not count. Over TCP the test trusts 127.0.0.1,
    # its own address, as a proxy too: then the hop to its left is the client.
    assert requests[-1]["remote"] == ("127.0.0.1" if stack.transport == "unix"
                                      else "203.0.113.7")
    assert {r["remote"] for r in requests[:-1]} == {"127.0.0.1"}     # never "unix:"


@pytest.mark.parametrize("stack", [("tcp", False), ("unix", False)], indirect=True,
                         ids=["tcp", "unix"])
@needs_nginx[0]
@needs_nginx[1]
def test_forwarded_for_ignored_by_default(stack):
    assert stack.request("GET", "/hello.txt",
                         headers={"X-Forwarded-For": "203.0.113.7"})[0] == 200
    records = [r for r in stack.stop() if r["event"] == "request"]
    peer = "unix:" if stack.transport == "unix" else "127.0.0.1"
    assert [r["remote"] for r in records] == [peer]


# -- deploy/ and the README agree ---------------------------------------------------

def _unit(name):
    """{key: value} of a systemd unit file (continuation lines joined)."""
    text = (DEPLOY / name).read_text().replace("\\\n", " ")
    entries = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    return entries


def test_deploy_files_and_the_readme_agree():
    recipe = readme_recipe()
    options = _options(recipe)
    path = options["--unix-socket"]
    # nginx's upstream is the recipe's socket; its comment repeats the recipe.
    conf = DEPLOY_CONF.read_text()
    assert "server unix:%s;" % path in conf
    assert _shell_command(conf, "python -m fasthttp --unix-socket") == recipe
    # The socket unit gives the socket what the recipe's options give it.
    socket_unit = _unit("fasthttp.socket")
    assert socket_unit["ListenStream"] == path
    assert int(socket_unit["SocketMode"], 8) == int(options["--unix-socket-mode"], 8)
    assert socket_unit["SocketGroup"] == options["--unix-socket-group"]
    # The service serves it as fd 3 with the recipe's other options.
    service = _unit("fasthttp.service")
    served = _options(shlex.split(service["ExecStart"]))
    assert served.pop("--fd") == "3"
    for option in ("--unix-socket", "--unix-socket-mode", "--unix-socket-group"):
        options.pop(option)
    assert served == options
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"      # reloads the workers
    assert float(service["TimeoutStopSec"]) > 10 + 2    # --graceful-timeout, + 2 s for SIGKILL
