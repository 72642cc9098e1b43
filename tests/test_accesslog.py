"""The CLI's logs (fasthttp/accesslog.py): http.server's common lines, JSON
records, off; a client going away in one line; stderr JSON only with
--access-log json; every field escaped, in both formats."""
import http.client
import json
import os
import re
import signal
import socket
import socketserver
import struct
import threading
import time

import cli_support
import pytest
from cli_support import BACKEND_ARGV, BODY, TIMEOUT, LineReader, get, stop

import fasthttp
from fasthttp import __main__ as cli_module
from fasthttp import graceful as fh_graceful

site, run_cli = cli_support.site, cli_support.run_cli     # fixtures

def test_default_access_log_and_graceful_sigterm(run_cli):
    proc, port = run_cli()
    assert get(port) == (200, BODY)
    assert get(port, "/missing")[0] == 404
    code, out, err = stop(proc)
    assert code == 0
    assert b"(http://127.0.0.1:%d/)" % port in proc.banner
    # http.server's lines, byte for byte
    assert re.fullmatch(
        rb'127\.0\.0\.1 - - \[[^]]+\] "GET /hello\.txt HTTP/1\.1" 200 -\n'
        rb'127\.0\.0\.1 - - \[[^]]+\] code 404, message File not found\n'
        rb'127\.0\.0\.1 - - \[[^]]+\] "GET /missing HTTP/1\.1" 404 -\n', err), err


def test_access_log_off_keeps_errors(run_cli):
    proc, port = run_cli("--access-log", "off")
    assert get(port)[0] == 200
    assert get(port, "/missing")[0] == 404
    code, out, err = stop(proc)
    assert code == 0
    assert b"GET /hello.txt" not in err
    assert b"code 404, message File not found" in err  # log_error still writes


def test_access_log_json_with_workers(run_cli):
    proc, port = run_cli("--access-log", "json", "--workers", "2")
    assert b"2 workers" in proc.details
    for _ in range(40):
        assert get(port) == (200, BODY)
    assert get(port, "/missing")[0] == 404
    code, out, err = stop(proc)
    assert code == 0
    records = [json.loads(line) for line in err.decode().splitlines()]    # JSON only
    ok = [r for r in records if r["event"] == "request" and r["status"] == 200]
    assert len(ok) == 40 and {r["size"] for r in ok} == {len(BODY)}
    assert ok[0]["method"] == "GET" and ok[0]["path"] == "/hello.txt"
    assert ok[0]["version"] == "HTTP/1.1" and ok[0]["remote"] == "127.0.0.1"
    assert ok[0]["user_agent"] == "cli-test"
    assert any(r.get("status") == 404 for r in records)
    assert proc.pid not in {r["pid"] for r in records if r["event"] == "request"}
    # Both workers usually appear in 40 requests; on a busy 2-core machine one
    # may take them all, which is not an error: the worker tests check spread.


def test_cli_handler_class_leaves_the_base_alone():
    base = fasthttp.SimpleHTTPRequestHandler
    before = (base.log_request, base.log_message, base.protocol_version)
    for fmt in cli_module.ACCESS_LOG_FORMATS:
        sub = cli_module.cli_handler_class(base, "HTTP/1.1", fmt)
        assert issubclass(sub, base) and sub is not base
        assert sub.protocol_version == "HTTP/1.1"
        assert sub.log_message is base.log_message
    assert (base.log_request, base.log_message, base.protocol_version) == before
    with pytest.raises(ValueError):
        cli_module.cli_handler_class(base, "HTTP/1.0", "xml")


@pytest.mark.parametrize("server", cli_module.SERVER_CLASSES)
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
    code, out, err = stop(proc)
    records = [json.loads(line) for line in err.decode().splitlines()]
    requests = [r for r in records if r["event"] == "request"]
    assert [(r["method"], r["status"], r["size"]) for r in requests] == [
        ("GET", 200, len(BODY)), ("HEAD", 200, 0), ("GET", 200, 300_000),
        ("GET", 404, error_body)]
    assert all(isinstance(r["duration_ms"], float) and 0 <= r["duration_ms"] < 10_000
               for r in requests)
    assert [r["connection_requests"] for r in requests] == [1, 2, 3, 4]   # one connection
    assert {r["remote"] for r in records if "remote" in r} == {"127.0.0.1"}
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
    assert get(port) == (200, BODY)           # and it serves on
    code, out, err = stop(proc)
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
    assert fh_graceful.graceful_class(Own).handle_error is Own.handle_error


# -- stderr is JSON only with --access-log json (the banner stays on stdout) -----------

def _worker_pids(port, want=2):
    pids = set()
    deadline = time.monotonic() + TIMEOUT
    while len(pids) < want:
        assert time.monotonic() < deadline, pids
        pids.add(int(get(port, "/pid")[1]))
    return pids


def test_json_stream_holds_only_json_records(run_cli):
    proc, port = run_cli("--access-log", "json", "--workers", "2", argv0=BACKEND_ARGV)
    assert proc.banner.startswith(b"Serving HTTP on 127.0.0.1 port ")  # stdout, for people
    err = LineReader(proc.stderr)

    def record(event, text=""):
        line = err.wait_for(lambda line: b'"event": "%s"' % event.encode() in line
                            and text.encode() in line, "a %s record %s" % (event, text))
        return json.loads(line)

    victim = min(_worker_pids(port))
    os.kill(victim, signal.SIGKILL)
    killed = record("worker", "%d killed by SIGKILL" % victim)
    assert killed["level"] == "warning" and killed["pid"] == proc.pid
    proc.send_signal(signal.SIGHUP)
    assert record("reload")["level"] == "info"
    record("worker", "old worker")
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        get(port, "/boom")                      # a handler's exception
    boom = record("exception")
    assert boom["message"] == "RuntimeError: boom in a handler"
    assert "Traceback" in boom["traceback"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) == 0
    err.join(TIMEOUT)
    records = [json.loads(line) for line in err.lines]      # each line one JSON object
    assert {"start", "worker", "reload", "exception", "request"} <= {r["event"] for r in records}
    start = records[0]
    assert start["event"] == "start" and start["pid"] == proc.pid and start["workers"] == 2
    assert start["url"] == "http://127.0.0.1:%d/" % port


# -- control characters: escaped in every field, common and JSON ----------------------

#: C0 (ESC, BEL), DEL and C1 (U+009B, the 8-bit CSI) as a client may send them.
_HOSTILE = "\x9b31m\x7f\x1b]0;\x07"
_RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _hostile_request(port, target, headers):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        head = "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % target
        head += "".join("%s: %s\r\n" % item for item in headers.items()) + "\r\n"
        sock.sendall(head.encode("latin-1"))
        sock.settimeout(TIMEOUT)
        while sock.recv(65536):
            pass


@pytest.mark.parametrize("log", ["common", "json"])
def test_control_characters_are_escaped_in_every_field(run_cli, log):
    proc, port = run_cli("--access-log", log, "-p", "HTTP/1.1",
                         "--forwarded-allow-ips", "127.0.0.1")
    c1 = "\x9b"
    # From a trusted proxy: a client address that is no address at all.
    _hostile_request(port, "/hello.txt", {"X-Forwarded-For": c1 + "31m 6.6.6.6 - - [forged]"})
    _hostile_request(port, "/hello.txt", {"X-Forwarded-For": "203.0.113.7, " + c1})
    _hostile_request(port, "/a%s.txt" % c1, {"User-Agent": "ua" + c1 + "x",
                                             "Referer": "r" + c1 + "\xa0"})
    _hostile_request(port, "/hello.txt", {"User-Agent": _HOSTILE})     # refused (400) or not
    code, out, err = stop(proc)
    assert code == 0
    text = err.decode("latin-1") if log == "common" else err.decode()
    assert not _RAW_CONTROLS.search(text), text
    lines = text.splitlines()
    if log == "common":
        requests = [line for line in lines if '"GET ' in line]
        assert len(requests) >= 3
        assert all(line.startswith("127.0.0.1 - - [") for line in requests), requests
        assert "\\x9b" in requests[2]         # the path, escaped as http.server does
        return
    records = [json.loads(line) for line in lines]
    values = [v for r in records for v in r.values() if isinstance(v, str)]
    assert not [v for v in values if _RAW_CONTROLS.search(v)]    # decoded, too
    requests = [r for r in records if r["event"] == "request"]
    assert [r["remote"] for r in requests[:3]] == ["127.0.0.1"] * 3
    assert requests[2]["path"] == "/a\\x9b.txt"
    assert requests[2]["user_agent"] == "ua\\x9bx"
    assert requests[2]["referer"] == "r\\x9b\xa0"       # (U+00A0 is no control)


@pytest.mark.parametrize("server", ["threading", "loop"])
def test_json_log_keeps_sendfile_and_a_stalled_reader_stalls_nobody(run_cli, site, server):
    """--access-log json (the README's nginx deployment) used to wrap the
    writer, so files were copied through the loop thread and a client that
    stopped reading held everyone else (29 s). The size is still logged."""
    (site / "big.bin").write_bytes(b"b" * (32 << 20))
    proc, port = run_cli("--access-log", "json", "--server", server)
    stalled = []
    try:
        for _ in range(20):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            stalled.append(sock)
        time.sleep(0.5)
        for _ in range(5):
            began = time.monotonic()
            assert get(port) == (200, BODY)
            assert time.monotonic() - began < 0.5
        # Queued as files (sendfile), not copied by a thread each.
        with open("/proc/%d/status" % proc.pid) as status:
            threads = int(re.search(r"Threads:\s+(\d+)", status.read()).group(1))
        assert threads < 10
    finally:
        for sock in stalled:
            sock.close()
    code, out, err = stop(proc)
    records = [json.loads(line) for line in err.decode().splitlines()]
    sizes = {r["path"]: r["size"] for r in records if r["event"] == "request"}
    assert sizes["/hello.txt"] == len(BODY) and sizes["/big.bin"] == 32 << 20
