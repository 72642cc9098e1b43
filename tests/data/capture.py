#!/usr/bin/env python3
"""Re-capture the request corpus in tests/data/requests/ from real HTTP clients.

The corpus is one ``NAME.http`` file per connection: the exact bytes a client sent
(CRLF as sent, body included). tests/ and bench/ read it; fuzz/make_seeds.py turns it into
fuzz seeds. This script is NOT run by the test suite or CI: the files are committed, and
re-capturing changes them (client versions, multipart boundaries). To re-capture::

    apt-get install -y curl wget wrk apache2-utils chromium firefox-esr   # the last two optional
    python3 -m venv /tmp/capture && /tmp/capture/bin/pip install requests httpx
    /tmp/capture/bin/python tests/data/capture.py               # every file
    /tmp/capture/bin/python tests/data/capture.py --only curl_get,post_json
    git diff --stat tests/data                                  # review, then run the tests

How it works: a tiny server on 127.0.0.1:PORT (8080 by default, so Host headers stay the
same from one capture to the next) records everything a connection sends until the
request(s) are complete, answers a minimal 200 and closes. Each capture runs one client
against it and keeps the first connection that sent something. A request carrying
``Expect: 100-continue`` is answered at once, without a 100, so only its head is recorded
(as a server refusing a large upload sees it). Clients that are not installed are skipped
with a note (their old files stay). A few requests no client here produces unprompted
(a big Chrome cookie jar) use a redirect that sets cookies first. tests/data/README.md is
rewritten with the client behind every file.
"""
from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple

DATA = Path(__file__).resolve().parent
OUT = DATA / "requests"
# Run as a script, this directory leads sys.path, and its requests/ must not shadow the
# requests package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != DATA]

BODY = b"<!doctype html><title>ok</title><p>ok</p>\n"
COOKIES = 24  # Set-Cookie headers for chrome_get_big_cookie (about 1 KiB of Cookie header)


# --------------------------------------------------------------------------- recording server


def _scan(buf: bytes) -> tuple[str, list[bytes]]:
    """-> (state, request lines): state is "more" (incomplete), "done" or "expect"
    (a complete head asking for 100-continue, none of its body sent yet)."""
    pos = 0
    lines: list[bytes] = []
    while pos < len(buf):
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            return "more", lines
        head = buf[pos:end].split(b"\r\n")
        lines.append(head[0])
        pos = end + 4
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        if fields.get(b"transfer-encoding") == b"chunked":
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return "more", lines
                size = int(buf[pos:eol].split(b";")[0], 16)
                pos = eol + 2
                if size == 0:
                    end = buf.find(b"\r\n\r\n", pos - 2)  # no trailers: the CRLF right here
                    if end < 0:
                        return "more", lines
                    pos = end + 4
                    break
                if len(buf) < pos + size + 2:
                    return "more", lines
                pos += size + 2
        elif b"content-length" in fields:
            length = int(fields[b"content-length"])
            if length and pos == len(buf) and fields.get(b"expect") == b"100-continue":
                return "expect", lines
            if len(buf) < pos + length:
                return "more", lines
            pos += length
    return "done", lines


def _response(request_line: bytes, last: bool) -> bytes:
    target = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b"/"
    if target.startswith(b"/set-cookies"):  # chrome_get_big_cookie: set cookies, then redirect
        head = b"HTTP/1.1 302 Found\r\nLocation: /app/dashboard\r\nContent-Length: 0\r\n"
        head += b"".join(b"Set-Cookie: c%d=%s%d; Path=/\r\n" % (i, b"v" * 32, i) for i in range(COOKIES))
        return head + b"Connection: close\r\n\r\n"
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n" % len(BODY))
    if last:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + (b"" if request_line.startswith(b"HEAD ") else BODY)


class Recorder:
    """Accepts connections on 127.0.0.1:port; ``recorded`` holds what each one sent."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.recorded: list[bytes | None] = []  # in accept order; None while in progress
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.recorded.append(None)
                slot = len(self.recorded) - 1
            threading.Thread(target=self._serve, args=(conn, slot), daemon=True).start()

    def _serve(self, conn: socket.socket, slot: int) -> None:
        buf = b""
        state = "more"
        lines: list[bytes] = []
        deadline = time.monotonic() + 10
        with conn:
            try:
                while time.monotonic() < deadline:
                    state, lines = _scan(buf)
                    if state == "expect":
                        break
                    # Complete: wait briefly for pipelined requests sent behind it.
                    conn.settimeout(0.15 if state == "done" and buf else 5)
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        if state == "done":
                            break
                        continue
                    if not data:
                        break
                    buf += data
            except OSError:
                pass
            with self.lock:
                self.recorded[slot] = buf
            try:
                for i, line in enumerate(lines or [b"GET / HTTP/1.1"]):
                    conn.sendall(_response(line, last=i == len(lines) - 1))
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(0.5)
                while conn.recv(65536):  # drain, so that the close sends no RST
                    pass
            except OSError:
                pass

    def reset(self) -> None:
        with self.lock:
            self.recorded.clear()

    def first(self, prefix: bytes = b"", timeout: float = 15.0) -> bytes | None:
        """The first finished connection whose bytes start with prefix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                done = [b for b in self.recorded if b]
            for b in done:
                if b.startswith(prefix):
                    return b
            time.sleep(0.05)
        return None


# --------------------------------------------------------------------------- clients


class Job(NamedTuple):
    name: str
    client: str  # the program, for the README and the "not installed" check
    how: str  # what is run, for the README
    run: Callable[[str, Path], None]  # (base URL, temp dir)
    pick: bytes = b""  # the recorded connection to keep starts with this


def _env() -> dict[str, str]:
    """No proxy may intercept 127.0.0.1 (curl, wget and the Python clients read these)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


def sh(*argv: str | bytes, files: dict[str, bytes] | None = None) -> Callable[[str, Path], None]:
    """A command line run in a temporary directory holding ``files``; {url} and {tmp} in
    its words are filled in."""

    def run(url: str, tmp: Path) -> None:
        for fname, content in (files or {}).items():
            (tmp / fname).write_bytes(content)

        def fill(a: str | bytes) -> str | bytes:
            if isinstance(a, bytes):
                return a.replace(b"{url}", url.encode()).replace(b"{tmp}", str(tmp).encode())
            return a.replace("{url}", url).replace("{tmp}", str(tmp))

        subprocess.run([fill(a) for a in argv], env=_env(), cwd=tmp, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    return run


def _requests(fn: str) -> Callable[[str, Path], None]:
    def run(url: str, tmp: Path) -> None:
        import requests

        s = requests.Session()
        s.trust_env = False
        if fn == "get":
            s.get(url + "/search", params={"q": "http parser", "page": 2}, timeout=10)
        elif fn == "json":
            s.post(url + "/api/v2/objects", timeout=10,
                   json={"id": 42, "tags": ["a", "b"], "nested": {"ok": True, "value": 3.14}})
        elif fn == "chunked":  # a generator body is sent with Transfer-Encoding: chunked
            s.post(url + "/stream", data=iter([b"Mozilla", b"Developer Network"]),
                   headers={"Content-Type": "text/plain"}, timeout=10)

    return run


def _httpx(fn: str) -> Callable[[str, Path], None]:
    def run(url: str, tmp: Path) -> None:
        import httpx

        with httpx.Client(trust_env=False, timeout=10) as c:
            if fn == "get":
                c.get(url + "/items", params={"sort": "name", "desc": "1"})
            else:
                c.post(url + "/login", data={"user": "ada", "password": "s3cr3t pass"})

    return run


def _urllib(fn: str) -> Callable[[str, Path], None]:
    def run(url: str, tmp: Path) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        if fn == "get":
            opener.open(url + "/robots.txt", timeout=10).read()
        else:
            opener.open(urllib.request.Request(url + "/comments", data=b"text=first+post&id=7"),
                        timeout=10).read()

    return run


def _http_client(fn: str) -> Callable[[str, Path], None]:
    def run(url: str, tmp: Path) -> None:
        host, port = url.removeprefix("http://").split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        if fn == "get":
            c.request("GET", "/status", headers={"Accept": "application/json"})
        elif fn == "repeated":  # the same field name several times
            c.putrequest("GET", "/multi")
            for name, value in (("Accept", "text/html"), ("Accept", "application/json"),
                                ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2"),
                                ("Cookie", "a=1"), ("Cookie", "b=2")):
                c.putheader(name, value)
            c.endheaders()
        elif fn == "chunked":  # an iterable body without a length: chunked encoding
            c.request("POST", "/upload", body=iter([b"first chunk\n", b"second\n"]),
                      headers={"Content-Type": "text/plain"})
        c.getresponse().read()
        c.close()

    return run


PIPELINE_LUA = """
-- Three requests in one write (wrk's pipelining idiom).
init = function(args)
   req = wrk.format(nil, "/") .. wrk.format(nil, "/second") .. wrk.format(nil, "/third")
end
request = function() return req end
"""

LONG_QUERY = "&".join("q%d=%s" % (i, "x" * 20) for i in range(80))
MANY_HEADERS = (["-H", "Host: api.internal:8443"]
                + [a for i in range(36) for a in ("-H", "X-Custom-Header-%02d: value-%02d-abcdefghijklmnop" % (i, i))]
                + ["-H", "X-Request-Id: 7f3c2a9e-5b1d-4e8f-a6c0-19d2b3e4f5a6",
                   "-H", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
                   "-H", "Accept: application/json", "-H", "Accept-Encoding: gzip",
                   "-H", "Connection: keep-alive"])
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir={tmp}/chromium", "--dump-dom"]

JOBS = [
    # curl
    Job("curl_get", "curl", "curl {url}/", sh("curl", "-s", "-o", "/dev/null", "{url}/")),
    Job("curl_head", "curl", "curl -I {url}/index.html", sh("curl", "-s", "-I", "{url}/index.html")),
    Job("post_form", "curl", "curl -d 'name=Ada+Lovelace&...' {url}/contact",
        sh("curl", "-s", "-o", "/dev/null", "-d",
           "name=Ada+Lovelace&email=ada%40example.org&message=Hello%2C+world%21", "{url}/contact")),
    Job("curl_multipart", "curl", "curl -F name=Ada -F file=@note.txt {url}/upload",
        sh("curl", "-s", "-o", "/dev/null", "-F", "name=Ada", "-F", "file=@note.txt;type=text/plain",
           "{url}/upload", files={"note.txt": b"a small\r\ntext file\n"})),
    Job("curl_compressed", "curl", "curl --compressed {url}/feed.xml",
        sh("curl", "-s", "-o", "/dev/null", "--compressed", "{url}/feed.xml")),
    Job("curl_custom_headers", "curl", "curl -A ... -e ... -H Authorization/X-Request-Id/Accept/Cache-Control {url}/api/me",
        sh("curl", "-s", "-o", "/dev/null", "-A", "inventory-sync/3.2 (+https://example.org/bot)",
           "-e", "https://example.org/dashboard", "-H", "Authorization: Basic YWRhOnMzY3IzdA==",
           "-H", "X-Request-Id: 2b7e1516-28ae-4d2a-abf7-158809cf4f3c", "-H", "Accept: application/json",
           "-H", "Cache-Control: no-cache", "{url}/api/me?fields=name,email")),
    Job("expect_100_put", "curl", "curl -T file.bin (1 MiB) {url}/upload/file.bin: head only",
        sh("curl", "-s", "-o", "/dev/null", "-T", "file.bin", "-H", "Content-Type: application/octet-stream",
           "{url}/upload/file.bin", files={"file.bin": bytes(1 << 20)})),
    Job("curl_post_expect", "curl", "curl --data-binary @big.txt (2 MiB) {url}/import: head only",
        sh("curl", "-s", "-o", "/dev/null", "--data-binary", "@big.txt", "{url}/import",
           files={"big.txt": b"x" * (2 << 20)})),
    Job("absolute_form_proxy", "curl", "curl -x {url} 'http://example.com:8080/path?x=1'",
        sh("curl", "-s", "-o", "/dev/null", "--noproxy", "", "-x", "{url}", "http://example.com:8080/path?x=1")),
    Job("options_star", "curl", "curl -X OPTIONS --request-target '*' {url}",
        sh("curl", "-s", "-o", "/dev/null", "-X", "OPTIONS", "--request-target", "*", "{url}")),
    Job("long_query", "curl", "curl '{url}/search?q0=xxx...&q79=xxx' (a ~2 KB request line)",
        sh("curl", "-s", "-o", "/dev/null", "{url}/search?" + LONG_QUERY)),
    Job("latin1_header_value", "curl", "curl -H $'X-Name: Jos\\xe9 M\\xfcller' {url}/caf%C3%A9",
        sh("curl", "-s", "-o", "/dev/null", "-H", b"X-Name: Jos\xe9 M\xfcller", "{url}/caf%C3%A9")),
    Job("api_many_headers", "curl", "curl with 41 -H options (Host, 36 X-Custom-Header-NN, ...)",
        sh("curl", "-s", "-o", "/dev/null", *MANY_HEADERS, "{url}/v1/items?limit=50&offset=100")),
    # wget
    Job("head_request", "wget", "wget --spider {url}/big.iso (HEAD)",
        sh("wget", "-q", "--spider", "{url}/big.iso")),
    # load generators
    Job("wrk_get", "wrk", "wrk -t1 -c1 -d1s {url}/", sh("wrk", "-t1", "-c1", "-d1s", "{url}/")),
    Job("pipelined_3", "wrk", "wrk -s pipeline.lua (3 requests per write) {url}/",
        sh("wrk", "-t1", "-c1", "-d1s", "-s", "pipeline.lua", "{url}/",
           files={"pipeline.lua": PIPELINE_LUA.encode()})),
    Job("http10_get", "ab", "ab -n1 {url}/index.html (HTTP/1.0)", sh("ab", "-q", "-n1", "{url}/index.html")),
    Job("ab_post", "ab", "ab -n1 -p body.json -T application/json {url}/api/events (HTTP/1.0)",
        sh("ab", "-q", "-n1", "-p", "body.json", "-T", "application/json", "{url}/api/events",
           files={"body.json": b'{"event": "click", "x": 10, "y": 20}'})),
    # Python clients
    Job("requests_get", "requests", "requests.get({url}/search, params=...)", _requests("get")),
    Job("post_json", "requests", "requests.post({url}/api/v2/objects, json=...)", _requests("json")),
    Job("chunked_post", "requests", "requests.post({url}/stream, data=<generator>) (chunked)",
        _requests("chunked")),
    Job("httpx_get", "httpx", "httpx.Client().get({url}/items, params=...)", _httpx("get")),
    Job("httpx_post_form", "httpx", "httpx.Client().post({url}/login, data=...)", _httpx("post")),
    Job("urllib_get", "urllib", "urllib.request urlopen({url}/robots.txt)", _urllib("get")),
    Job("urllib_post", "urllib", "urllib.request urlopen(Request({url}/comments, data=...))", _urllib("post")),
    Job("http_client_get", "http.client", "HTTPConnection.request('GET', '/status', headers=...)",
        _http_client("get")),
    Job("repeated_headers", "http.client", "HTTPConnection.putheader() twice for Accept, X-Forwarded-For, Cookie",
        _http_client("repeated")),
    Job("http_client_chunked", "http.client", "HTTPConnection.request('POST', '/upload', body=<iterator>) (chunked)",
        _http_client("chunked")),
    # browsers
    Job("chromium_get", "chromium", "chromium --headless --dump-dom {url}/docs/index.html?lang=en",
        sh(*CHROMIUM, "{url}/docs/index.html?lang=en"), pick=b"GET /docs/"),
    Job("chrome_get_big_cookie", "chromium",
        f"chromium --headless --dump-dom {{url}}/set-cookies (a 302 setting {COOKIES} cookies; the redirected request)",
        sh(*CHROMIUM, "{url}/set-cookies"), pick=b"GET /app/dashboard"),
    Job("firefox_get", "firefox", "firefox --headless --screenshot {url}/docs/index.html?lang=en",
        sh("firefox", "--headless", "--no-remote", "--profile", "{tmp}",
           "--screenshot", "{tmp}/shot.png", "{url}/docs/index.html?lang=en"), pick=b"GET /docs/"),
]

def _version(client: str) -> str:
    """e.g. "curl 7.88.1" (the first dotted number the client prints about itself)."""
    if client in ("requests", "httpx"):
        return f"{client} {__import__(client).__version__}"
    if client in ("urllib", "http.client"):
        return f"{client} (Python {platform.python_version()})"
    flag = {"ab": "-V", "wrk": "-v"}.get(client, "--version")
    try:
        out = subprocess.run([client, flag], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return client
    m = re.search(r"\d+\.\d+(?:\.\d+)*\w*", out.stdout + out.stderr)
    return f"{client} {m.group()}" if m else client


def _available(client: str) -> bool:
    if client in ("requests", "httpx"):
        try:
            __import__(client)
        except ImportError:
            return False
        return True
    return client in ("urllib", "http.client") or shutil.which(client) is not None


def _readme(rows: list[tuple[str, str, str]]) -> str:
    out = [
        "# Request corpus",
        "",
        "`requests/NAME.http`: the exact bytes one client sent on one connection (CRLF as sent,",
        "bodies included; an `Expect: 100-continue` upload stops after its head). Read by",
        "tests/test_parser.py, tests/test_wire_vs_stdlib.py, tests/test_handler_vs_stdlib.py,",
        "bench/ and fuzz/make_seeds.py; a missing corpus fails those tests.",
        "",
        "Written by `capture.py` (see its docstring to re-capture; not run by CI), which points",
        "each client at a recording server on 127.0.0.1:8080.",
        "",
        "| file | client | what was run |",
        "|---|---|---|",
    ]
    out += [f"| `{n}.http` | {c} | `{h}` |" for n, c, h in sorted(rows)]
    return "\n".join(out) + "\n"


def _previous_rows() -> dict[str, tuple[str, str, str]]:
    rows = {}
    readme = DATA / "README.md"
    if readme.is_file():
        for line in readme.read_text().splitlines():
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            if len(cells) == 3 and cells[0].endswith(".http"):
                rows[cells[0][:-5]] = (cells[0][:-5], cells[1], cells[2])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8080, help="recording server port (default 8080)")
    ap.add_argument("--only", help="comma-separated names to capture (default: all)")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    env = _env()  # the Python clients run in this process
    os.environ.clear()
    os.environ.update(env)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = _previous_rows()
    rec = Recorder(args.port)
    url = f"http://127.0.0.1:{rec.port}"
    failed = 0
    for job in JOBS:
        if only is not None and job.name not in only:
            continue
        if not _available(job.client):
            print(f"skip  {job.name}: {job.client} not installed (file left as it is)")
            continue
        rec.reset()
        with tempfile.TemporaryDirectory() as tmp:
            job.run(url, Path(tmp))
            data = rec.first(job.pick)
        if not data:
            print(f"FAIL  {job.name}: nothing recorded", file=sys.stderr)
            failed += 1
            continue
        (OUT / f"{job.name}.http").write_bytes(data)
        rows[job.name] = (job.name, _version(job.client), job.how.replace("{url}", url))
        print(f"ok    {job.name}: {len(data)} bytes, {data[:60]!r}")
    rec.sock.close()
    (DATA / "README.md").write_text(_readme(list(rows.values())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
