"""A Debian unstable (sid) tree, for the Pythons this machine's Debian lacks.

    python3 tools/sid_tree.py [--dir DIR] [--mirror URL] [--python 3.14 ...]

Builds DIR/root once (debootstrap --variant=minbase, then apt-get inside: each
Python with its headers, venv and CPython's test package; a C compiler; nginx,
curl and openssl for our tests), and reuses it while DIR/root/.fasthttp-tree
lists every package asked for (more Pythons: apt-get installs the rest). A
lock (DIR/lock) keeps two builds apart. Needs root: it says so in one line
and fails otherwise, as it does without debootstrap and apt-get to install it.

command() wraps a command to run inside the tree with the project mounted at
/src. Each run has its own private mount namespace (unshare --mount): /proc,
/dev and the project are bind-mounted there only, and the kernel takes them
down when the run's last process ends, however it ends (no unmount step to
miss, nothing left mounted on the host).

Only Debian's mirror and PyPI are reachable: the tree's apt uses the mirror;
pip inside gets this machine's CA bundle, pip settings and PIP_* variables.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = "/var/cache/fasthttp-sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
COMMON_PACKAGES = ["gcc", "libc6-dev", "nginx-light", "curl", "openssl", "ca-certificates"]
STAMP = ".fasthttp-tree"
UNPRIV_USER = "fasthttp-test"   # tests/ that must not run as root (see tools/test_pythons.py)
# The mirror's sid Release is often past its Valid-Until date; the archive
# signature is still checked.
APT_CONF = 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n'
# What pip needs from this machine: its CA bundle (PyPI is reached through
# it) and settings.
HOST_FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf", "/etc/xdg/pip",
              "/etc/resolv.conf"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run by `unshare --mount` (private propagation): mounts live and die with it.
_ENTER = r"""
set -e
root=$1; project=$2; shift 2
mount --rbind /dev "$root/dev"
mount --bind /proc "$root/proc"
if [ -n "$project" ]; then mkdir -p "$root/src"; mount --bind "$project" "$root/src"; fi
exec chroot "$root" "$@"
"""


class TreeError(Exception):
    """The tree cannot be built or entered here (the message says why)."""


def packages(versions: list[str]) -> list[str]:
    wanted = list(COMMON_PACKAGES)
    for v in versions:
        wanted += [f"python{v}", f"python{v}-dev", f"python{v}-venv",
                   f"libpython{v}-testsuite"]
    return wanted


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL).returncode != 0:
            raise TreeError(f"`{' '.join(cmd[:4])} ...` failed: see {log}")


def _debootstrap(log: Path) -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise TreeError("no debootstrap, and no apt-get to install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "debootstrap"]):
        with open(log, "a") as out:
            subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                           stdin=subprocess.DEVNULL)
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None)
    if not found:
        raise TreeError(f"apt-get could not install debootstrap: see {log}")
    return found


def copy_host_files(root: Path) -> None:
    """This machine's CA bundle, pip settings and resolver, into the tree
    (on every use: they may have changed, and apt may rewrite the bundle)."""
    for name in HOST_FILES:
        source = Path(name)
        target = root / name.lstrip("/")
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            shutil.copyfile(source, target)


def ensure(directory: Path, mirror: str, versions: list[str]) -> Path:
    """The tree's root, built or completed as needed. Raises TreeError."""
    if os.geteuid() != 0:
        raise TreeError("building and entering it needs root (debootstrap, chroot, mount)")
    if not shutil.which("unshare") or not shutil.which("chroot"):
        raise TreeError("unshare and chroot (util-linux, coreutils) are needed")
    directory.mkdir(parents=True, exist_ok=True)
    root = directory / "root"
    log = directory / "build.log"
    wanted = packages(versions)
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = root / STAMP
        have = stamp.read_text().split() if stamp.exists() else []
        if set(wanted) <= set(have):
            copy_host_files(root)
            return root
        log.write_text("")
        if not stamp.exists():
            print(f"sid tree: debootstrap into {root} (once; log: {log})", flush=True)
            shutil.rmtree(root, ignore_errors=True)
            _run([_debootstrap(log), "--variant=minbase", "sid", str(root), mirror], log)
            (root / "etc/apt/apt.conf.d/99fasthttp").write_text(APT_CONF)
        copy_host_files(root)
        print(f"sid tree: apt-get install {' '.join(sorted(set(wanted) - set(have)))}",
              flush=True)
        apt = ["env", "DEBIAN_FRONTEND=noninteractive", f"PATH={PATH}", "apt-get", "-q"]
        enter = command(root, None, [])
        _run(enter + apt + ["update"], log)
        _run(enter + apt + ["install", "-y"] + wanted, log)
        copy_host_files(root)       # ca-certificates rewrote the bundle
        _run(enter + ["sh", "-c", f"id -u {UNPRIV_USER} >/dev/null 2>&1 || "
                      f"useradd --system --user-group --no-create-home "
                      f"--shell /usr/sbin/nologin {UNPRIV_USER}"], log)
        stamp.write_text("\n".join(sorted(set(wanted) | set(have))) + "\n")
    return root


def command(root: Path, project: Path | None, argv: list[str]) -> list[str]:
    """argv, to run as root inside the tree, the project (if any) mounted at /src."""
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _ENTER, "sh", str(root), str(project or "")] + argv


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.environ.get("SID_DIR", DEFAULT_DIR))
    parser.add_argument("--mirror", default=DEFAULT_MIRROR)
    parser.add_argument("--python", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        root = ensure(Path(args.dir), args.mirror, args.python or ["3.14", "3.15"])
    except TreeError as exc:
        print(f"sid tree ({args.dir}): {exc}", file=sys.stderr)
        return 1
    print(f"sid tree: {root} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
