"""bench/soak.py, short: 3,000 mixed requests (keep-alive, pipelined, one connection each,
invalid, cut short) against fasthttp.ThreadingHTTPServer and fasthttp.LoopHTTPServer, each in
a subprocess. Exit 0 means every request that should be answered was, with the expected
status; RSS and fd count came back to their post-warm-up level. `make soak` is the full run
(200,000 requests)."""
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"

pytestmark = pytest.mark.skipif(not SOAK.is_file(), reason="bench/soak.py is not here "
                                "(tests copied away from the source tree)")


@pytest.mark.parametrize("server", ["threading", "loop"])
def test_soak_smoke(server):
    cmd = [sys.executable, str(SOAK), "--server", server, "--requests", "3000",
           "--warmup", "600", "--clients", "2", "--timeout", "3", "--max-seconds", "45",
           "--settle-seconds", "5"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
    output = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, output
    assert "verdict: PASS" in output
