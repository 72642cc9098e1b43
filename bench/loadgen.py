"""wrk, the load generator of the end-to-end benchmarks: found (or apt-installed), run in its
own process for a bounded time, its output read; Lua scripts for requests its command line
cannot make (a method, a body, a corpus request's headers).

    wrk = find_wrk(install=False)
    res = run_wrk(wrk, "http://127.0.0.1:8000/", connections=32, duration=5, latency=True)
    res["rps"], res["requests"], res["p99_ms"], res["errors"]
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from processes import find_tool, pinned, run_bounded

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def find_wrk(install: bool) -> str | None:
    return find_tool("wrk", "wrk", install)


def wrk_version(wrk: str) -> str:
    return subprocess.run([wrk, "--version"], capture_output=True, text=True,
                          check=False).stdout.split("\n")[0].strip()


def run_wrk(wrk: str, url: str, *, connections: int, duration: float, latency: bool = False,
            script: Path | None = None, headers: Sequence[str] = (),
            cpu: int | None = None) -> dict[str, Any]:
    """wrk -t1 for *duration* seconds (whole ones: wrk reads no fraction) against *url*: its
    figures (parse_wrk). RuntimeError if wrk fails."""
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
    cmd += ["--latency"] if latency else []
    for header in headers:
        cmd += ["-H", header]
    cmd += ["-s", str(script)] if script else []
    code, out, err = run_bounded(pinned(cpu, [*cmd, url]), timeout=duration + 60)
    if code != 0:
        raise RuntimeError(f"wrk failed ({code}): {err or out}")
    return parse_wrk(out)


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """rps, requests, elapsed_ms, p50/p75/p90/p99_ms (with --latency), socket_errors by kind,
    non_2xx, and errors (socket errors + non-2xx answers)."""
    res: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    res["requests"] = int(m.group(1)) if m else 0
    res["elapsed_ms"] = to_ms(m.group(2)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    res["errors"] = sum(res["socket_errors"].values()) + res["non_2xx"]
    return res


def lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly *data*."""
    return '"' + "".join(f"\\{b:03d}" if not 0x20 <= b < 0x7F or b in b'"\\' else chr(b)
                         for b in data) + '"'


def wrk_script(path: Path, method: str, *, target: str | None = None,
               headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Path:
    """Write a wrk Lua script sending *method* (*target*, *headers*, *body*) to *path*.
    wrk.headers is a table: a repeated header name keeps its last value only."""
    lines = [f"wrk.method = {lua_string(method.encode())}"]
    if target is not None:
        lines.append(f"wrk.path = {lua_string(target.encode('latin-1'))}")
    if body:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines += [f"wrk.headers[{lua_string(k.encode('latin-1'))}] = {lua_string(v.encode('latin-1'))}"
              for k, v in headers]
    path.write_text("\n".join(lines) + "\n")
    return path


def corpus_script(request: Path, workdir: Path) -> Path:
    """A wrk script sending the method, target and headers of a body-less corpus request."""
    head, _, body = request.read_bytes().partition(b"\r\n\r\n")
    if body:
        raise SystemExit(f"{request.name}: only body-less requests are supported")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")
    headers = [(name.strip(), value.strip())
               for name, _, value in (line.partition(":") for line in lines[1:])]
    return wrk_script(workdir / f"{request.stem}.lua", method, target=target, headers=headers)
