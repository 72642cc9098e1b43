"""python -m fasthttp --cgi, against python -m http.server --cgi.

A CGI script runs on GET, HEAD and POST, and its source never reaches a
client (fasthttp's file serving came first in the CGI handler's MRO and sent
scripts as files on GET and HEAD). Checked as root, where the stdlib's
handler runs the script as nobody, and as an unprivileged user: as root, the
server drops to nobody itself once everything it needs is imported, so the
interpreter need not be reachable by nobody. From 3.15, where http.server has
no CGI, --cgi is a usage error in one line.

Every server is a subprocess, stopped by PID; every wait is bounded.
"""
import http.client
import http.server
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from clients import readline_within
from servers import end_process

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10
HAS_CGI = hasattr(http.server, "CGIHTTPRequestHandler")    # gone in 3.15
MARKER = b"source-marker: never sent to a client"
SCRIPT = b"""#!/bin/sh
# %s
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "cgi-ok $REQUEST_METHOD uid=$(id -u)"
if [ -n "$CONTENT_LENGTH" ]; then echo "body=$(head -c "$CONTENT_LENGTH")"; fi
""" % MARKER

# Started as the test's user; with a uid, drops to it once the server's code
# is imported (and compiled: the stdlib's CLI is its module's __main__ block).
LAUNCH = r"""
# (the modules both CLIs import lazily: after the drop, an interpreter under
# /root could not read them)
import argparse, contextlib, encodings.idna, gettext, http.server, locale, os, sys
which, directory, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = ["--cgi", "-b", "127.0.0.1", "-d", directory, "0"]
if which == "fasthttp":
    from fasthttp.__main__ import main
else:
    with open(http.server.__file__, encoding="utf-8") as f:
        code = compile(f.read(), http.server.__file__, "exec")
if uid >= 0:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
if which == "fasthttp":
    sys.exit(main(args))
sys.argv = ["http.server", *args]
exec(code, {"__name__": "__main__", "__file__": http.server.__file__})
"""


def _identities():
    if os.geteuid() != 0:
        return ["user"]
    return ["root", "nobody"]


@pytest.fixture
def site():
    """A directory every user can read (pytest's tmp_path is not, as root)."""
    d = Path(tempfile.mkdtemp(prefix="fasthttp-cgi-"))
    os.chmod(d, 0o755)
    (d / "cgi-bin").mkdir(mode=0o755)
    script = d / "cgi-bin" / "t.sh"
    script.write_bytes(SCRIPT)
    script.chmod(0o755)
    (d / "hello.txt").write_bytes(b"hello, world\n")
    (d / "hello.txt").chmod(0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def start():
    procs = []

    def run(which, directory, identity):
        uid = gid = -1
        if identity == "nobody":
            entry = pwd.getpwnam("nobody")
            uid, gid = entry.pw_uid, entry.pw_gid
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, which, str(directory), str(uid), str(gid)],
            env=env, cwd=str(directory), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        line = readline_within(proc.stdout, TIMEOUT)
        if line is None:
            line = b"(no line within %d s)" % TIMEOUT
        match = re.search(rb"Serving HTTP on 127\.0\.0\.1 port (\d+)", line)
        assert match, line + proc.stderr.read1()
        return int(match.group(1))

    yield run
    for proc in procs:
        end_process(proc, TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()


def _request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _exchanges(port):
    return {
        "GET": _request(port, "GET", "/cgi-bin/t.sh"),
        "GET?query": _request(port, "GET", "/cgi-bin/t.sh?a=1"),
        "HEAD": _request(port, "HEAD", "/cgi-bin/t.sh"),
        "POST": _request(port, "POST", "/cgi-bin/t.sh", body=b"posted"),
        "file": _request(port, "GET", "/hello.txt"),
    }


@pytest.mark.skipif(not HAS_CGI, reason="no CGI in this Python's http.server (3.15+)")
@pytest.mark.parametrize("identity", _identities())
def test_cgi_script_runs_and_its_source_is_never_sent(start, site, identity):
    ours = _exchanges(start("fasthttp", site, identity))
    stock = _exchanges(start("http.server", site, identity))
    for name, (_status, body) in ours.items():
        assert MARKER not in body, f"{name}: the script's source was sent"
    uid = os.geteuid() if identity == "user" else pwd.getpwnam("nobody").pw_uid
    assert ours["GET"] == (200, b"cgi-ok GET uid=%d\n" % uid)
    assert ours["GET?query"] == ours["GET"]
    assert ours["HEAD"] == (200, b"")
    assert ours["POST"] == (200, b"cgi-ok POST uid=%d\nbody=posted\n" % uid)
    assert ours["file"] == (200, b"hello, world\n")
    assert ours == stock


@pytest.mark.skipif(HAS_CGI, reason="this Python's http.server has CGI (3.14 and older)")
def test_cgi_option_without_cgi_in_the_stdlib_is_a_one_line_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fasthttp", "--cgi", "-d", str(tmp_path), "0"],
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 2     # as stock 3.15's --cgi: argparse's usage error
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "--cgi" in lines[0] and "3.14" in lines[0]
