"""python -m fasthttp: http.server's options plus --workers, --tls-*, --access-log,
--server, --unix-socket, --fd, --forwarded-allow-ips, a graceful stop on
SIGTERM / Ctrl-C, and one line (exit 1) for each reason not to start.

Every server is a subprocess, stopped by PID; every wait is bounded."""
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_tls import client_context, make_cert

import fasthttp
from fasthttp import __main__ as cli
from fasthttp import workers as fh_workers

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

    def run(*args, wait_port=True, listen=("0", "-b", "127.0.0.1"), argv0=None, **popen):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        env.update(popen.pop("env", {}))
        command = argv0 or [sys.executable, "-m", "fasthttp"]
        proc = subprocess.Popen([*command, *listen, "-d", str(site), *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
        procs.append(proc)
        if not wait_port:
            return proc, None
        line = _readline(proc.stdout)
        assert line.startswith(b"Serving HTTP"), line + proc.stderr.read1()
        proc.banner = line
        proc.details = _readline(proc.stdout)    # implementation; server; pids
        if b" port " not in line:
            return proc, None
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
    assert _get(port, "/missing")[0] == 404
    code, out, err = _stop(proc)
    assert code == 0
    assert b"(http://127.0.0.1:%d/)" % port in proc.banner
    # http.server's lines, byte for byte
    assert re.fullmatch(
        rb'127\.0\.0\.1 - - \[[^]]+\] "GET /hello\.txt HTTP/1\.1" 200 -\n'
        rb'127\.0\.0\.1 - - \[[^]]+\] code 404, message File not found\n'
        rb'127\.0\.0\.1 - - \[[^]]+\] "GET /missing HTTP/1\.1" 404 -\n', err), err


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
    assert b"2 workers" in proc.details
    for _ in range(40):
        assert _get(port) == (200, BODY)
    assert _get(port, "/missing")[0] == 404
    code, out, err = _stop(proc)
    assert code == 0
    records = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    ok = [r for r in records if r["event"] == "request" and r["status"] == 200]
    assert len(ok) == 40 and {r["size"] for r in ok} == {len(BODY)}
    assert ok[0]["method"] == "GET" and ok[0]["path"] == "/hello.txt"
    assert ok[0]["version"] == "HTTP/1.1" and ok[0]["remote"] == "127.0.0.1"
    assert ok[0]["user_agent"] == "cli-test"
    assert any(r.get("status") == 404 for r in records)
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
    assert proc.wait(TIMEOUT) == 1
    assert proc.stderr.read() == (
        b"fasthttp: cannot load TLS certificate %s: [SSL] PEM lib\n" % str(bogus).encode())


# -- --version, --help, the banner -------------------------------------------------

def _implementation():
    path = "C extension" if fasthttp.accelerated else "pure Python"
    return "fasthttp %s (%s), Python %s" % (fasthttp.__version__, path,
                                             platform.python_version())


def _cli(*args, timeout=TIMEOUT, **popen):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "fasthttp", *args], env=env,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          **popen)


def test_version():
    out = _cli("--version")
    assert out.returncode == 0
    assert out.stdout.decode() == _implementation() + "\n"


def test_help_documents_every_option():
    out = _cli("--help")
    assert out.returncode == 0
    text = out.stdout.decode()
    for action in cli.build_parser()._actions:
        assert action.help, action.dest                # each one says what it does
        for option in action.option_strings or [action.dest]:
            assert option in text, option


def test_banner_says_which_path_and_server_runs(run_cli):
    proc, port = run_cli("--server", "loop")
    assert proc.details.decode().startswith(_implementation() + "; LoopHTTPServer; pid ")
    assert _get(port) == (200, BODY)          # -d reaches LoopHTTPServer's handlers too
    assert _stop(proc)[0] == 0


# -- one line, exit status 1, for each reason not to start ----------------------------

def _fails_with(line, *args, **kw):
    out = _cli(*args, **kw)
    assert (out.returncode, out.stderr.decode()) == (1, line + "\n")
    assert out.stdout == b""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use(workers):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _fails_with("fasthttp: cannot listen on 127.0.0.1 port %d: Address already in use" % port,
                    "-b", "127.0.0.1", str(port), "--workers", workers)


def test_missing_directory(tmp_path):
    _fails_with("fasthttp: --directory %s: no such directory" % (tmp_path / "nope"),
                "-d", str(tmp_path / "nope"), "0")


def test_unresolvable_bind():
    out = _cli("-b", "nosuch.invalid", "0")
    # The resolver's own words end the line (glibc: "Name or service not known").
    assert out.returncode == 1
    assert re.fullmatch(rb"fasthttp: cannot resolve --bind nosuch\.invalid: [^\n]+\n", out.stderr)


def test_missing_certificate_or_key_names_the_file(tmp_path, cert):
    _fails_with("fasthttp: TLS certificate file not found: %s" % (tmp_path / "c.pem"),
                "0", "--tls-cert", str(tmp_path / "c.pem"))
    _fails_with("fasthttp: TLS key file not found: %s" % (tmp_path / "k.pem"),
                "0", "--tls-cert", cert[0], "--tls-key", str(tmp_path / "k.pem"))


def test_encrypted_key_wrong_or_no_password_never_prompts(tmp_path):
    certfile, keyfile = make_cert(tmp_path, password="pw-123")
    (tmp_path / "wrong.txt").write_text("nope\n")
    # A new session has no controlling terminal: a prompt could not be answered.
    _fails_with("fasthttp: TLS key %s is encrypted: give its password with --tls-password-file"
                % keyfile, "0", "--tls-cert", certfile, "--tls-key", keyfile,
                start_new_session=True)
    _fails_with("fasthttp: wrong password for TLS key %s" % keyfile,
                "0", "--tls-cert", certfile, "--tls-key", keyfile,
                "--tls-password-file", str(tmp_path / "wrong.txt"), start_new_session=True)
    _fails_with("fasthttp: cannot read --tls-password-file %s: No such file or directory"
                % (tmp_path / "none.txt"), "0", "--tls-cert", certfile, "--tls-key", keyfile,
                "--tls-password-file", str(tmp_path / "none.txt"))


def test_bad_fd_and_usage_errors(tmp_path):
    _fails_with("fasthttp: --fd 0: not a socket (Socket operation on non-socket)", "--fd", "0")
    (tmp_path / "file").write_text("")
    _fails_with("fasthttp: --unix-socket %s: the file exists and is not a socket"
                % (tmp_path / "file"), "--unix-socket", str(tmp_path / "file"))


@pytest.mark.parametrize("args", [["--fd", "3", "8000"], ["--unix-socket", "x", "-b", "::1"],
                                  ["--server", "loop", "--tls-cert", "c.pem"],
                                  ["--forwarded-allow-ips", "10.0.0.300"]])
def test_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(args)
    assert exit.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- where it listens: a Unix socket, an inherited socket ----------------------------

def _unix_get(path, target="/hello.txt"):
    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(path)

    conn = UnixConnection("localhost", timeout=TIMEOUT)
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_unix_socket_with_workers(run_cli, tmp_path):
    path = str(tmp_path / "fasthttp.sock")
    stale = socket.socket(socket.AF_UNIX)      # a killed server's socket file
    stale.bind(path)
    stale.close()
    proc, _ = run_cli("--unix-socket", path, "--workers", "2",
                      "--access-log", "json", listen=())
    assert proc.banner == b"Serving HTTP on unix:%s ...\n" % path.encode()
    for _ in range(3):
        assert _unix_get(path) == (200, BODY)
    # A second server on the same live socket: refused, the file is kept.
    _fails_with("fasthttp: cannot listen on unix:%s: Address already in use" % path,
                "--unix-socket", path)
    code, out, err = _stop(proc)
    assert code == 0
    records = [json.loads(line) for line in err.decode().splitlines()]
    assert [(r["remote"], r["status"], r["size"]) for r in records] == [("unix:", 200, 13)] * 3
    assert not os.path.exists(path)           # removed by the process that made it


def test_inherited_fd_with_workers(run_cli):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        proc, banner_port = run_cli("--fd", str(fd), "--workers", "2", listen=(),
                                    pass_fds=[fd])
    assert banner_port == port
    assert b"; socket from fd %d; 2 workers" % fd in proc.details
    assert _get(port) == (200, BODY)
    assert _stop(proc)[0] == 0


def test_systemd_socket_activation(run_cli):
    """LISTEN_PID/LISTEN_FDS for this very process, the socket as fd 3: served
    without --fd, as systemd starts deploy/fasthttp.service."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        # What systemd does before it execs the service.
        activate = ("import os, sys; os.dup2(%d, 3); "
                    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
                    "os.execv(sys.executable, [sys.executable, '-m', 'fasthttp', *sys.argv[1:]])"
                    % fd)
        proc, banner_port = run_cli(argv0=[sys.executable, "-c", activate], listen=(),
                                    pass_fds=[fd])
    assert banner_port == port
    assert b"; socket from systemd (fd 3); pid " in proc.details
    assert _get(port) == (200, BODY)
    assert _stop(proc)[0] == 0


# -- the access log --------------------------------------------------------------------

@pytest.mark.parametrize("server", cli.SERVER_CLASSES)
def test_json_log_size_duration_and_errors(run_cli, site, server):
    (site / "big.bin").write_bytes(b"x" * 300_000)
    proc, port = run_cli("--access-log", "json", "--server", server, "-p", "HTTP/1.1")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for method, path in [("GET", "/hello.txt"), ("HEAD", "/hello.txt"), ("GET", "/big.bin"),
                         ("GET", "/missing")]:
        # Ignored: no --forwarded-allow-ips
        conn.request(method, path, headers={"X-Forwarded-For": "203.0.113.7"})
        resp = conn.getresponse()
        resp.read()
    error_body = int(resp.headers["Content-Length"])       # the 404's
    conn.close()
    code, out, err = _stop(proc)
    records = [json.loads(line) for line in err.decode().splitlines()]
    requests = [r for r in records if r["event"] == "request"]
    assert [(r["method"], r["status"], r["size"]) for r in requests] == [
        ("GET", 200, len(BODY)), ("HEAD", 200, 0), ("GET", 200, 300_000),
        ("GET", 404, error_body)]
    assert all(isinstance(r["duration_ms"], float) and 0 <= r["duration_ms"] < 10_000
               for r in requests)
    assert [r["connection_requests"] for r in requests] == [1, 2, 3, 4]   # one connection
    assert {r["remote"] for r in records} == {"127.0.0.1"}
    errors = [r for r in records if r["event"] == "error"]
    assert [(e["message"], e["path"], e["remote"]) for e in errors] == [
        ("code 404, message File not found", "/missing", "127.0.0.1")]
    assert b"code 404" not in err.replace(json.dumps(errors[0]).encode(), b"")


def _reset_mid_response(port):
    """Ask for a large file, read a little, then reset the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("server, log", [("threading", "common"), ("loop", "json")])
def test_client_reset_is_one_line(run_cli, site, server, log):
    (site / "big.bin").write_bytes(b"x" * (8 << 20))   # more than the socket buffers
    proc, port = run_cli("--access-log", log, "--server", server)
    _reset_mid_response(port)
    time.sleep(0.3)
    assert _get(port) == (200, BODY)           # and it serves on
    code, out, err = _stop(proc)
    assert code == 0
    assert b"Traceback" not in err and b"----" not in err
    lines = [line for line in err.decode().splitlines() if "closed the connection" in line]
    assert len(lines) == 1, err
    if log == "json":
        record = json.loads(lines[0])
        assert record["event"] == "disconnect" and record["remote"] == "127.0.0.1"
        assert re.fullmatch(r"client closed the connection \((ConnectionResetError|BrokenPipeError)\)",
                            record["message"])
    else:
        assert re.fullmatch(r"127\.0\.0\.1 - - \[[^]]+\] client closed the connection "
                            r"\((ConnectionResetError|BrokenPipeError)\)", lines[0])


class _GoneHandler(fasthttp.BaseHTTPRequestHandler):
    def do_GET(self):
        raise BrokenPipeError(32, "Broken pipe")      # as a write to a closed peer

    def log_message(self, *args):
        pass


def _one_request(httpd):
    with socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.recv(10)


def test_serve_logs_a_reset_in_one_line_the_library_classes_keep_the_traceback(capfd):
    # Drop-in classes: socketserver's handle_error, as http.server has it.
    for cls in (fasthttp.HTTPServer, fasthttp.ThreadingHTTPServer, fasthttp.LoopHTTPServer,
                fasthttp.ThreadingHTTPSServer):
        assert cls.handle_error is socketserver.BaseServer.handle_error
    httpd = fasthttp.HTTPServer(("127.0.0.1", 0), _GoneHandler)
    with httpd:
        thread = threading.Thread(target=httpd.handle_request)
        thread.start()
        _one_request(httpd)
        thread.join(TIMEOUT)
    assert "Traceback" in capfd.readouterr().err

    def ready(server):      # (called before serving starts)
        def client():
            _one_request(server)
            server.stop()
        threading.Thread(target=client, daemon=True).start()

    fasthttp.serve(_GoneHandler, ("127.0.0.1", 0), ready=ready, poll_interval=0.05)
    err = capfd.readouterr().err
    assert err == "fasthttp: 127.0.0.1 closed the connection (BrokenPipeError)\n"
    # A class with a handle_error of its own keeps it.
    class Own(fasthttp.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass
    assert fh_workers._graceful_class(Own).handle_error is Own.handle_error


# -- trusting a proxy --------------------------------------------------------------

def test_forwarded_trust_rules():
    trust = cli.ForwardedTrust("127.0.0.1, 10.0.0.0/8,unix")
    assert not cli.ForwardedTrust("")
    assert trust.client("127.0.0.1", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("::ffff:127.0.0.1", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("unix:", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("192.0.2.1", ["203.0.113.7"]) is None        # untrusted peer
    assert trust.client("127.0.0.1", None) is None
    # From the right: the first address not trusted; what the client wrote to
    # its left does not count.
    assert trust.client("127.0.0.1", ["1.1.1.1, 203.0.113.7, 10.1.2.3"]) == "203.0.113.7"
    assert trust.client("127.0.0.1", ["1.1.1.1", "10.1.2.3"]) == "1.1.1.1"
    assert trust.client("127.0.0.1", ["10.9.9.9, 10.1.2.3"]) == "10.9.9.9"   # all trusted
    assert cli.ForwardedTrust("*").client("192.0.2.1", ["203.0.113.7"]) == "203.0.113.7"


def test_forwarded_for_in_the_log_when_trusted(run_cli):
    proc, port = run_cli("--access-log", "json", "-p", "HTTP/1.1",
                         "--forwarded-allow-ips", "127.0.0.1")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for forwarded in ["203.0.113.7", None]:      # one connection, two clients
        conn.request("GET", "/hello.txt",
                     headers={"X-Forwarded-For": forwarded} if forwarded else {})
        conn.getresponse().read()
    conn.close()
    code, out, err = _stop(proc)
    remotes = [json.loads(line)["remote"] for line in err.decode().splitlines()]
    assert remotes == ["203.0.113.7", "127.0.0.1"]
