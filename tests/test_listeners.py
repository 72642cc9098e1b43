"""Where the CLI listens (fasthttp/listeners.py): Unix sockets (stale files,
permissions, restarts), inherited sockets (--fd, systemd)."""
import json
import os
import socket
import sys

import cli_support
from cli_support import (
    BODY,
    fails_with,
    get,
    stop,
    unix_get,
)

site, run_cli = cli_support.site, cli_support.run_cli     # fixtures


def test_unix_socket_with_workers(run_cli, tmp_path):
    path = str(tmp_path / "fasthttp.sock")
    stale = socket.socket(socket.AF_UNIX)      # a killed server's socket file
    stale.bind(path)
    stale.close()
    proc, _ = run_cli("--unix-socket", path, "--workers", "2",
                      "--access-log", "json", listen=())
    assert proc.banner == b"Serving HTTP on unix:%s ...\n" % path.encode()
    for _ in range(3):
        assert unix_get(path) == (200, BODY)
    # A second server on the same live socket: refused, the file is kept.
    fails_with("fasthttp: cannot listen on unix:%s: Address already in use" % path,
               "--unix-socket", path)
    code, out, err = stop(proc)
    assert code == 0
    records = [json.loads(line) for line in err.decode().splitlines()]
    assert [(r["remote"], r["status"], r["size"]) for r in records
            if r["event"] == "request"] == [("unix:", 200, 13)] * 3
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
    assert get(port) == (200, BODY)
    assert stop(proc)[0] == 0


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
    assert get(port) == (200, BODY)
    assert stop(proc)[0] == 0

