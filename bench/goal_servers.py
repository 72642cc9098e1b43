"""The servers of bench/engine_goals.py: servers.py's hello servers with three slow paths.

    python bench/goal_servers.py KIND PORT CPU_ITERATIONS

KIND is stdlib-tuned, fasthttp or fasthttp-loop (as in servers.py), or fasthttp-before:
fasthttp.ThreadingHTTPServer imported from PYTHONPATH as it is given (an older checkout,
engine_goals.py --before DIR), not from this working tree. The handler is servers.py's hello
handler, with these paths doing something first and then answering the same hello:

  /sleep     time.sleep(0.05)       a handler that waits 50 ms
  /sleep1    time.sleep(1)          a handler that waits 1 s
  /cpu       spin(CPU_ITERATIONS)   ~1 ms of pure Python (the caller calibrates the count
                                    once, so every server does the same work)

Every other path (/ included) is the hello, after one dict look-up. A module of its own rather
than three more paths in servers.py: the load test's hello handler stays exactly as it is, and
only the goals' servers pay for the look-up. Prints ``READY <port>`` once it listens.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable

import servers

KINDS = ("stdlib-tuned", "fasthttp", "fasthttp-loop", "fasthttp-before")
SLEEP_S = 0.05


def spin(iterations: int) -> int:
    """Pure-Python work: *iterations* turns of a loop that holds the GIL throughout."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def make_goal_handler(base: type, *, tuned: bool, cpu_iterations: int) -> type:
    """servers.make_hello_handler(base, tuned=tuned), with /sleep, /sleep1 and /cpu."""
    hello = servers.make_hello_handler(base, tuned=tuned)
    slow: dict[str, Callable[[], object]] = {
        "/sleep": functools.partial(time.sleep, SLEEP_S),
        "/sleep1": functools.partial(time.sleep, 1.0),
        "/cpu": functools.partial(spin, cpu_iterations)}

    class GoalHandler(hello):  # type: ignore[valid-type,misc]
        def do_GET(self) -> None:
            work = slow.get(self.path)
            if work is not None:
                work()
            hello.do_GET(self)

    return GoalHandler


def serve_before(port: int, cpu_iterations: int) -> None:
    """The older checkout's ThreadingHTTPServer (fasthttp from PYTHONPATH, as given)."""
    import fasthttp  # noqa: PLC0415 - from PYTHONPATH on purpose: not servers.import_fasthttp

    sys.stderr.write(f"fasthttp {getattr(fasthttp, '__version__', '?')} from {fasthttp.__file__}, "
                     f"accelerated={getattr(fasthttp, 'accelerated', '?')}\n")
    handler = make_goal_handler(fasthttp.BaseHTTPRequestHandler, tuned=False,
                                cpu_iterations=cpu_iterations)
    servers.serve(fasthttp.ThreadingHTTPServer(("127.0.0.1", port), handler))


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in KINDS:
        sys.stderr.write(f"usage: python goal_servers.py {{{','.join(KINDS)}}} PORT CPU_ITERATIONS\n")
        return 2
    kind, port, cpu_iterations = argv[0], int(argv[1]), int(argv[2])
    try:
        if kind == "fasthttp-before":
            serve_before(port, cpu_iterations)
        else:
            servers.serve_threading(kind, port, functools.partial(
                make_goal_handler, cpu_iterations=cpu_iterations))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
