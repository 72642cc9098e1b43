"""python -m fasthttp: http.server's options plus --workers, --tls-*, --access-log
and a graceful stop on SIGTERM / Ctrl-C."""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_tls import client_context, make_cert

import fasthttp
from fasthttp import __main__ as cli

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10
BODY = b"hello, world\n"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "hello.txt").write_bytes(BODY)
    return tmp_path


@pytest.fixture
def run_cli(site):
    """Start `python -m fasthttp ... -p 0`; the port is read from its banner."""
    procs = []

    def run(*args, wait_port=True):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", "fasthttp", "0", "-b", "127.0.0.1",
                                 "-d", str(site), *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        if not wait_port:
            return proc, None
        line = _readline(proc.stdout)
        assert line.startswith(b"Serving HTTP"), line
        proc.banner = line
        return proc, int(line.split(b" port ")[1].split()[0])

    yield run
    for proc in procs:  # by PID: SIGTERM (graceful), then SIGKILL
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()


def _readline(stream):
    result = []
    t = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    t.start()
    t.join(TIMEOUT)
    assert result, "no banner within %s s" % TIMEOUT
    return result[0]


def _get(port, path="/hello.txt", tls=False):
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                           context=client_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers={"User-Agent": "cli-test"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def test_default_access_log_and_graceful_sigterm(run_cli):
    proc, port = run_cli()
    assert _get(port) == (200, BODY)
    code, out, err = _stop(proc)
    assert code == 0
    assert b"(http://127.0.0.1:%d/)" % port in proc.banner
    assert b'"GET /hello.txt HTTP/1.1" 200 -' in err  # http.server's line


def test_sigint_prints_the_stdlib_message(run_cli):
    proc, port = run_cli("--access-log", "off")
    assert _get(port)[0] == 200
    code, out, err = _stop(proc, signal.SIGINT)
    assert code == 0
    assert b"Keyboard interrupt received, exiting." in out
    assert b"Traceback" not in err


def test_access_log_off_keeps_errors(run_cli):
    proc, port = run_cli("--access-log", "off")
    assert _get(port)[0] == 200
    assert _get(port, "/missing")[0] == 404
    code, out, err = _stop(proc)
    assert code == 0
    assert b"GET /hello.txt" not in err
    assert b"code 404, message File not found" in err  # log_error still writes


def test_access_log_json_with_workers(run_cli):
    proc, port = run_cli("--access-log", "json", "--workers", "2")
    assert b"2 workers" in _readline(proc.stdout)
    for _ in range(40):
        assert _get(port) == (200, BODY)
    assert _get(port, "/missing")[0] == 404
    code, out, err = _stop(proc)
    assert code == 0
    records = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    ok = [r for r in records if r["status"] == 200]
    assert len(ok) == 40
    assert ok[0]["method"] == "GET" and ok[0]["path"] == "/hello.txt"
    assert ok[0]["version"] == "HTTP/1.1" and ok[0]["remote"] == "127.0.0.1"
    assert ok[0]["user_agent"] == "cli-test"
    assert any(r["status"] == 404 for r in records)
    assert proc.pid not in {r["pid"] for r in records}
    # Both workers usually appear in 40 requests; on a busy 2-core machine one
    # may take them all, which is not an error: the worker tests check spread.


def test_cli_handler_class_leaves_the_base_alone():
    base = fasthttp.SimpleHTTPRequestHandler
    before = (base.log_request, base.log_message, base.protocol_version)
    for fmt in cli.ACCESS_LOG_FORMATS:
        sub = cli.cli_handler_class(base, "HTTP/1.1", fmt)
        assert issubclass(sub, base) and sub is not base
        assert sub.protocol_version == "HTTP/1.1"
        assert sub.log_message is base.log_message
    assert (base.log_request, base.log_message, base.protocol_version) == before
    with pytest.raises(ValueError):
        cli.cli_handler_class(base, "HTTP/1.0", "xml")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("clicert"))


def test_https(run_cli, cert):
    certfile, keyfile = cert
    proc, port = run_cli("--tls-cert", certfile, "--tls-key", keyfile, "--workers", "2")
    assert proc.banner.startswith(b"Serving HTTPS on 127.0.0.1")
    assert b"(https://127.0.0.1:%d/)" % port in proc.banner
    assert _get(port, tls=True) == (200, BODY)
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run([curl, "--insecure", "-sS", "--max-time", str(TIMEOUT),
                              "https://127.0.0.1:%d/hello.txt" % port],
                             capture_output=True, timeout=TIMEOUT + 5)
        assert out.returncode == 0, out.stderr
        assert out.stdout == BODY
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        _get(port)  # plain HTTP to the HTTPS port
    code, out, err = _stop(proc)
    assert code == 0


def test_https_password_file(run_cli, tmp_path):
    certfile, keyfile = make_cert(tmp_path, password="pw-123")
    pwfile = tmp_path / "pw.txt"
    pwfile.write_text("pw-123\n")
    proc, port = run_cli("--tls-cert", certfile, "--tls-key", keyfile,
                         "--tls-password-file", str(pwfile))
    assert _get(port, tls=True) == (200, BODY)
    assert _stop(proc)[0] == 0


def test_bad_tls_arguments_fail_fast(run_cli, cert, tmp_path):
    proc, _ = run_cli("--tls-key", cert[1], wait_port=False)
    assert proc.wait(TIMEOUT) == 2
    assert b"--tls-key requires --tls-cert" in proc.stderr.read()
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    # A bad certificate is found once, in the supervisor, before any fork.
    proc, _ = run_cli("--tls-cert", str(bogus), "--workers", "2", wait_port=False)
    assert proc.wait(TIMEOUT) != 0
    assert b"SSLError" in proc.stderr.read()
