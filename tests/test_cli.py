"""python -m fasthttp: http.server's options plus --workers, --tls-*, --server,
--version, and one line (exit 1) for each reason not to start.

Where it listens: test_listeners.py; the logs: test_accesslog.py; proxies:
test_proxy.py; signals and workers: test_supervisor.py. Every server is a
subprocess, stopped by PID; every wait is bounded."""
import http.client
import platform
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time

import cli_support
import pytest
from certs import client_context, make_cert
from cli_support import BODY, TIMEOUT, cli, fails_with, get, stop

import fasthttp
from fasthttp import __main__ as cli_module

site, run_cli = cli_support.site, cli_support.run_cli     # fixtures

def test_sigint_prints_the_stdlib_message(run_cli):
    proc, port = run_cli("--access-log", "off")
    assert get(port)[0] == 200
    code, out, err = stop(proc, signal.SIGINT)
    assert code == 0
    assert b"Keyboard interrupt received, exiting." in out
    assert b"Traceback" not in err


def test_https(run_cli, cert):
    certfile, keyfile = cert
    proc, port = run_cli("--tls-cert", certfile, "--tls-key", keyfile, "--workers", "2")
    assert proc.banner.startswith(b"Serving HTTPS on 127.0.0.1")
    assert b"(https://127.0.0.1:%d/)" % port in proc.banner
    assert get(port, tls=True) == (200, BODY)
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run([curl, "--insecure", "-sS", "--max-time", str(TIMEOUT),
                              "https://127.0.0.1:%d/hello.txt" % port],
                             capture_output=True, timeout=TIMEOUT + 5)
        assert out.returncode == 0, out.stderr
        assert out.stdout == BODY
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get(port)  # plain HTTP to the HTTPS port
    code, out, err = stop(proc)
    assert code == 0


def test_https_password_file(run_cli, tmp_path):
    certfile, keyfile = make_cert(tmp_path, password="pw-123")
    pwfile = tmp_path / "pw.txt"
    pwfile.write_text("pw-123\n")
    proc, port = run_cli("--tls-cert", certfile, "--tls-key", keyfile,
                         "--tls-password-file", str(pwfile))
    assert get(port, tls=True) == (200, BODY)
    assert stop(proc)[0] == 0


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



def test_version():
    out = cli("--version")
    assert out.returncode == 0
    assert out.stdout.decode() == _implementation() + "\n"


def test_help_documents_every_option():
    out = cli("--help")
    assert out.returncode == 0
    text = out.stdout.decode()
    for action in cli_module.build_parser()._actions:
        assert action.help, action.dest                # each one says what it does
        for option in action.option_strings or [action.dest]:
            assert option in text, option


def test_banner_says_which_path_and_server_runs(run_cli):
    proc, port = run_cli("--server", "loop")
    assert proc.details.decode().startswith(_implementation() + "; LoopHTTPServer; pid ")
    assert get(port) == (200, BODY)          # -d reaches LoopHTTPServer's handlers too
    assert stop(proc)[0] == 0


# -- one line, exit status 1, for each reason not to start ----------------------------



@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use(workers):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        fails_with("fasthttp: cannot listen on 127.0.0.1 port %d: Address already in use" % port,
                   "-b", "127.0.0.1", str(port), "--workers", workers)


def test_missing_directory(tmp_path):
    fails_with("fasthttp: --directory %s: no such directory" % (tmp_path / "nope"),
               "-d", str(tmp_path / "nope"), "0")


def test_unresolvable_bind():
    out = cli("-b", "nosuch.invalid", "0")
    # The resolver's own words end the line (glibc: "Name or service not known").
    assert out.returncode == 1
    assert re.fullmatch(rb"fasthttp: cannot resolve --bind nosuch\.invalid: [^\n]+\n", out.stderr)


def test_missing_certificate_or_key_names_the_file(tmp_path, cert):
    fails_with("fasthttp: TLS certificate file not found: %s" % (tmp_path / "c.pem"),
               "0", "--tls-cert", str(tmp_path / "c.pem"))
    fails_with("fasthttp: TLS key file not found: %s" % (tmp_path / "k.pem"),
               "0", "--tls-cert", cert[0], "--tls-key", str(tmp_path / "k.pem"))


def test_encrypted_key_wrong_or_no_password_never_prompts(tmp_path):
    certfile, keyfile = make_cert(tmp_path, password="pw-123")
    (tmp_path / "wrong.txt").write_text("nope\n")
    # A new session has no controlling terminal: a prompt could not be answered.
    fails_with("fasthttp: TLS key %s is encrypted: give its password with --tls-password-file"
               % keyfile, "0", "--tls-cert", certfile, "--tls-key", keyfile,
               start_new_session=True)
    fails_with("fasthttp: wrong password for TLS key %s" % keyfile,
               "0", "--tls-cert", certfile, "--tls-key", keyfile,
               "--tls-password-file", str(tmp_path / "wrong.txt"), start_new_session=True)
    fails_with("fasthttp: cannot read --tls-password-file %s: No such file or directory"
               % (tmp_path / "none.txt"), "0", "--tls-cert", certfile, "--tls-key", keyfile,
               "--tls-password-file", str(tmp_path / "none.txt"))


def test_bad_fd_and_usage_errors(tmp_path):
    fails_with("fasthttp: --fd 0: not a socket (Socket operation on non-socket)", "--fd", "0")
    (tmp_path / "file").write_text("")
    fails_with("fasthttp: --unix-socket %s: the file exists and is not a socket"
               % (tmp_path / "file"), "--unix-socket", str(tmp_path / "file"))


def test_negative_fd_and_ports_out_of_range_are_one_line():
    fails_with("fasthttp: --fd -1: not a file descriptor", "--fd", "-1")
    fails_with("fasthttp: port -1: a TCP port is 0 to 65535", "-1")
    fails_with("fasthttp: port 65536: a TCP port is 0 to 65535", "-b", "127.0.0.1", "65536")


@pytest.mark.parametrize("args", [["--fd", "3", "8000"], ["--unix-socket", "x", "-b", "::1"],
                                  ["--server", "loop", "--tls-cert", "c.pem"],
                                  ["--forwarded-allow-ips", "10.0.0.300"],
                                  ["--unix-socket", "x", "--unix-socket-mode", "888"],
                                  ["--unix-socket", "x", "--unix-socket-mode", "1777"],
                                  ["--unix-socket", "x", "--unix-socket-group", "no-such-group"],
                                  ["--unix-socket-mode", "660"], ["--unix-socket-group", "0"]])
def test_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exit:
        cli_module.main(args)
    assert exit.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- what the README and --help say ----------------------------------------------------

README = cli_support.ROOT / "README.md"


def test_help_and_readme_say_what_the_threading_server_does():
    """The engine: a thread for a handler that waits, not a thread per
    connection (nor per request)."""
    text = " ".join(cli("--help").stdout.decode().split())
    assert "one that waits gets a thread of its own" in text
    assert "thread per connection" not in text and "thread per request" not in text
    readme = README.read_text()
    assert ("| `ThreadingHTTPServer` | the connection engine: a handler runs on the thread "
            "where its request became complete; one that waits gets a thread of its own"
            in readme)


def test_default_bind_is_the_stdlib_choice_and_the_readme_says_it(run_cli):
    """No -b: the address http.server's CLI picks (IPv4's 0.0.0.0 on a
    stock resolver), as the README says."""
    import http.server as stdlib
    family, address = vars(stdlib)["_get_best_family"](None, 0)
    proc, port = run_cli(listen=("0",))
    host = proc.banner.split(b" on ")[1].split(b" port ")[0].decode()
    assert host == address[0]
    assert get(port)[0] == 200
    assert "all interfaces, IPv4 and IPv6" not in README.read_text()
    assert stop(proc)[0] == 0


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_bind_to_ipv6_any_takes_ipv4_clients_too(run_cli):
    """`-b ::`: the README's way to serve IPv6 and IPv4 on one socket."""
    try:
        proc, port = run_cli(listen=("0", "-b", "::"))
    except AssertionError:
        pytest.skip("cannot bind ::")
    assert get(port) == (200, BODY)                 # over IPv4 (127.0.0.1)
    conn = http.client.HTTPConnection("::1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/hello.txt")
        assert conn.getresponse().read() == BODY
    except OSError:
        pass    # a host without an IPv6 loopback: the IPv4 half is the point here
    finally:
        conn.close()
    assert stop(proc)[0] == 0


# -- TLS clients that go away ----------------------------------------------------------

def _tls_client_goes_away(port, how):
    """Handshake, ask for a large file, then leave without reading it: a
    close without TLS's close_notify, or a reset."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    tls = client_context().wrap_socket(raw)
    tls.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    if how == "reset":
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    tls.close()


@pytest.mark.parametrize("log", ["common", "json"])
def test_tls_client_gone_after_the_handshake_is_one_line(run_cli, site, cert, log):
    (site / "big.bin").write_bytes(b"x" * (4 << 20))    # more than the socket buffers
    proc, port = run_cli("--tls-cert", cert[0], "--tls-key", cert[1], "--access-log", log)
    for how in ["close", "reset"] * 3:
        _tls_client_goes_away(port, how)
    time.sleep(0.5)
    assert get(port, tls=True) == (200, BODY)          # and it serves on
    code, out, err = stop(proc)
    assert code == 0
    assert b"Traceback" not in err and b"----" not in err, err.decode()[:3000]
    gone = [line for line in err.splitlines() if b"closed the connection" in line]
    assert len(gone) <= 6
    others = [line for line in err.splitlines() if line not in gone]
    if log == "json":
        assert all(line.startswith(b"{") for line in err.splitlines())
    else:
        assert all(b'"GET /' in line for line in others), others
