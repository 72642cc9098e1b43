"""A typed handler on fasthttp: checked by `make typecheck` (mypy --strict).

Not collected by pytest (no test_ prefix); it also runs as a tiny server:

    python tests/typing_example.py [port]
"""
from __future__ import annotations

import json
import sys
from http import HTTPStatus

import fasthttp
from fasthttp import BaseHTTPRequestHandler, BodyError, ThreadingHTTPServer


class JSONEcho(BaseHTTPRequestHandler):
    """GET: a greeting; POST: the request body echoed back as JSON."""

    protocol_version = "HTTP/1.1"
    max_body_bytes = 1 << 20

    def _send(self, status: HTTPStatus, body: bytes,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        user_agent: str | None = self.headers.get("User-Agent")
        payload = {"path": self.path, "user_agent": user_agent,
                   "accelerated": fasthttp.accelerated, "version": fasthttp.__version__}
        self._send(HTTPStatus.OK, json.dumps(payload).encode())

    do_HEAD = do_GET

    def do_POST(self) -> None:
        try:
            body: bytes = self.read_body()
        except BodyError as err:
            # The error response (400/413) has been sent already.
            self.log_error("body refused: %d %s", err.status, err.reason)
            return
        content_type = self.headers.get_content_type()
        reply = {"received": len(body), "content_type": content_type,
                 "text": body.decode("utf-8", "replace")}
        self._send(HTTPStatus.OK, json.dumps(reply).encode())

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("json-echo: " + (format % args) + "\n")


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8000
    with ThreadingHTTPServer(("127.0.0.1", port), JSONEcho) as httpd:
        host, bound = httpd.server_address[:2]
        print(f"serving on http://{host!s}:{bound}/", flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
