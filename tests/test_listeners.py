"""Where the CLI listens (fasthttp/listeners.py): Unix sockets (stale files,
permissions, restarts), inherited sockets (--fd, systemd)."""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import cli_support
import pytest
from cli_support import (
    BACKEND_ARGV,
    BODY,
    TIMEOUT,
    fails_with,
    get,
    readline,
    stop,
    unix_get,
    wait_until,
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


# -- the socket file's permissions ------------------------------------------------------

def _unprivileged_user():
    """(name, uid, gid) of the user nginx's workers run as on Debian."""
    for name in ("www-data", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    return None


@pytest.fixture
def shared_dir():
    """A directory other users may enter (pytest's tmp_path is the owner's only)."""
    path = tempfile.mkdtemp(prefix="fasthttp-sock-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_unix_socket_mode_and_group(run_cli, shared_dir):
    path = os.path.join(shared_dir, "fasthttp.sock")
    user = _unprivileged_user() if os.geteuid() == 0 else None
    gid = user[2] if user else os.getegid()
    proc, _ = run_cli("--unix-socket", path, "--unix-socket-mode", "660",
                      "--unix-socket-group", grp.getgrgid(gid).gr_name, listen=())
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, gid)
    assert unix_get(path) == (200, BODY)
    assert stop(proc)[0] == 0


_CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    sys.exit(e.strerror)
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv")
                    or not _unprivileged_user(), reason="needs root, setpriv and www-data")
@pytest.mark.parametrize("options, reachable", [
    ((), False),                # 0755 from the umask: only its owner may connect
    (("--unix-socket-mode", "660", "--unix-socket-group", "{group}"), True)])
def test_unprivileged_user_connects_only_when_allowed(run_cli, shared_dir, options, reachable):
    """nginx's workers run as www-data on Debian (15.4): the README's recipe
    gives them the socket with --unix-socket-mode 660 --unix-socket-group."""
    name, uid, gid = _unprivileged_user()
    group = grp.getgrgid(gid).gr_name
    path = os.path.join(shared_dir, "fasthttp.sock")
    old_umask = os.umask(0o022)                 # as a service starts
    try:
        proc, _ = run_cli("--unix-socket", path, *[o.format(group=group) for o in options],
                          listen=())
    finally:
        os.umask(old_umask)
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
    out = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups",
                          python, "-c", _CONNECT, path],
                         capture_output=True, timeout=TIMEOUT)
    assert (out.returncode == 0) == reachable, out.stderr
    if not reachable:
        assert b"Permission denied" in out.stderr
    assert stop(proc)[0] == 0


# -- restarts: the file goes with the process that made it -----------------------------

def _slow_unix_request(path, seconds, result):
    def run():
        try:
            result.append(unix_get(path, "/slow?%s" % seconds))
        except Exception as exc:
            result.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _refused(path):
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
        return False
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    finally:
        probe.close()


def test_unix_socket_restart_keeps_the_new_instance_socket(run_cli, tmp_path):
    """18.13: while the old instance drains after SIGTERM its socket file
    looks stale; the new one replaces it; the old one, exiting, must not
    remove the new one's socket."""
    path = str(tmp_path / "fasthttp.sock")
    old, _ = run_cli("--unix-socket", path, "--graceful-timeout", "5",
                     listen=(), argv0=BACKEND_ARGV)
    result = []
    slow = _slow_unix_request(path, 3, result)
    time.sleep(1)                               # in the handler's sleep now
    old.send_signal(signal.SIGTERM)
    wait_until(lambda: _refused(path), what="the old instance to stop listening")
    assert os.path.exists(path)                 # still there: it drains
    new, _ = run_cli("--unix-socket", path, listen=())
    slow.join(TIMEOUT)
    assert result == [(200, b"slow")]           # the old one finished its request
    assert old.wait(TIMEOUT) == 0
    assert unix_get(path) == (200, BODY)        # the new one still answers there
    assert stop(new)[0] == 0
    assert not os.path.exists(path)             # and removes its own at exit


def test_unix_socket_exit_leaves_another_file_at_its_path(run_cli, tmp_path):
    path = str(tmp_path / "fasthttp.sock")
    proc, _ = run_cli("--unix-socket", path, listen=())
    os.unlink(path)
    with open(path, "w") as f:                  # someone else's file now
        f.write("not yours\n")
    assert stop(proc)[0] == 0
    with open(path) as f:
        assert f.read() == "not yours\n"


def test_unix_socket_instances_started_together_one_serves(site, tmp_path):
    """Checking for a stale file, binding and listening happen under a lock:
    of instances started at once, one serves, the others say the address is
    in use, and the socket file reaches the one that serves."""
    path = str(tmp_path / "fasthttp.sock")
    procs = [subprocess.Popen([sys.executable, "-m", "fasthttp", "--unix-socket", path,
                               "-d", str(site)], env=cli_support.cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    try:
        serving = []
        for proc in procs:
            line = readline(proc.stdout)
            if line.startswith(b"Serving HTTP"):
                serving.append(proc)
            else:
                assert proc.wait(TIMEOUT) == 1
                assert b"Address already in use" in proc.stderr.read()
        assert len(serving) == 1
        assert unix_get(path) == (200, BODY)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(TIMEOUT)
            proc.stdout.close()
            proc.stderr.close()
