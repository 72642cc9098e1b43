"""Chooses the request-path implementation: the C extension, or its pure-Python twin.

Both provide the same names with the same behaviour (the tests run against
each): parse_request_line, read_headers, SocketReader, SocketWriter.
FASTHTTP_PURE=1 in the environment forces the pure-Python one.
"""
import os

accelerated = False
if os.environ.get("FASTHTTP_PURE", "") not in ("1", "true", "yes"):
    try:
        from fasthttp._speedups import (  # noqa: F401
            SocketReader,
            SocketWriter,
            parse_request_line,
            read_headers,
        )
        accelerated = True
    except ImportError:
        pass
if not accelerated:
    from fasthttp._pure import (  # noqa: F401
        SocketReader,
        SocketWriter,
        parse_request_line,
        read_headers,
    )
