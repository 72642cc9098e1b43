"""Servers for the tests: an in-process server on a thread of its own, a free
port, a subprocess ended by PID. Every wait is bounded."""
import signal
import socket
import subprocess
import threading
from contextlib import contextmanager

import fasthttp

TIMEOUT = 5.0
SERVERS = [fasthttp.ThreadingHTTPServer, fasthttp.LoopHTTPServer]


class Hello(fasthttp.BaseHTTPRequestHandler):
    """GET: 16 KiB of x; POST: the body read, echoed. HTTP/1.1, quiet."""

    protocol_version = "HTTP/1.1"
    body = b"x" * 16384

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_POST(self):
        body = self.read_body()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def files_handler(directory):
    """SimpleHTTPRequestHandler over `directory`, HTTP/1.1, quiet."""

    class Files(fasthttp.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format, *args):  # noqa: A002
            pass

    return Files


def free_port():
    """A 127.0.0.1 port nothing listens on (for a server that cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(httpd):
    """httpd.serve_forever() on a daemon thread named "serve_forever" (polling
    every 50 ms); the thread, started."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name="serve_forever", daemon=True)
    thread.start()
    return thread


def start_server(server_class, handler, address=("127.0.0.1", 0)):
    """server_class(address, handler), serving on a thread: (httpd, thread)."""
    httpd = server_class(address, handler)
    return httpd, serve_in_thread(httpd)


def stop_serving(httpd, thread, timeout=TIMEOUT):
    """shutdown(), server_close(), join: True when the thread has ended."""
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout)
    return not thread.is_alive()


@contextmanager
def threaded_server(server_class, handler, address=("127.0.0.1", 0), **attributes):
    """server_class (a subclass with `attributes` set, if any) serving `handler`
    on a thread; stopped, closed and joined on the way out."""
    if attributes:
        server_class = type("Server", (server_class,), attributes)
    httpd, thread = start_server(server_class, handler, address)
    try:
        yield httpd
    finally:
        assert stop_serving(httpd, thread)


def end_process(proc, timeout=TIMEOUT):
    """End a server subprocess by PID if it still runs: SIGTERM (graceful),
    then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
