"""The one exception that crosses from the request-head parser to the server layer."""


class HeadError(Exception):
    """The request head cannot be accepted.

    ``kind`` tells the server layer which answer http.server would give:
    ``"line_too_long"`` and ``"too_many_headers"`` (431, the stdlib's own
    limits), ``"head_too_large"`` (431, our total-size limit) or
    ``"malformed"`` (400: input RFC 9112 says a server must reject).
    ``reason`` is a short English description for the error page.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(kind, reason)
        self.kind = kind
        self.reason = reason


class BodyError(Exception):
    """read_body() refused the request body; the error response is sent.

    ``status`` is the HTTP status that was sent (400 or 413) and ``reason``
    the short description. BaseHTTPRequestHandler.handle() ends the
    connection quietly when a do_* method lets this escape.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
