"""Who the client is behind a proxy (fasthttp/proxy.py): X-Forwarded-For from
trusted peers only."""
import http.client
import json

import cli_support
from cli_support import TIMEOUT, stop

from fasthttp.proxy import ForwardedTrust

site, run_cli = cli_support.site, cli_support.run_cli     # fixtures


def test_forwarded_trust_rules():
    trust = ForwardedTrust("127.0.0.1, 10.0.0.0/8,unix")
    assert not ForwardedTrust("")
    assert trust.client("127.0.0.1", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("::ffff:127.0.0.1", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("unix:", ["203.0.113.7"]) == "203.0.113.7"
    assert trust.client("192.0.2.1", ["203.0.113.7"]) is None        # untrusted peer
    assert trust.client("127.0.0.1", None) is None
    # From the right: the first address not trusted; what the client wrote to
    # its left does not count.
    assert trust.client("127.0.0.1", ["1.1.1.1, 203.0.113.7, 10.1.2.3"]) == "203.0.113.7"
    assert trust.client("127.0.0.1", ["1.1.1.1", "10.1.2.3"]) == "1.1.1.1"
    assert trust.client("127.0.0.1", ["10.9.9.9, 10.1.2.3"]) == "10.9.9.9"   # all trusted
    assert ForwardedTrust("*").client("192.0.2.1", ["203.0.113.7"]) == "203.0.113.7"


def test_forwarded_for_in_the_log_when_trusted(run_cli):
    proc, port = run_cli("--access-log", "json", "-p", "HTTP/1.1",
                         "--forwarded-allow-ips", "127.0.0.1")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for forwarded in ["203.0.113.7", None]:      # one connection, two clients
        conn.request("GET", "/hello.txt",
                     headers={"X-Forwarded-For": forwarded} if forwarded else {})
        conn.getresponse().read()
    conn.close()
    code, out, err = stop(proc)
    records = [json.loads(line) for line in err.decode().splitlines()]
    remotes = [r["remote"] for r in records if r["event"] == "request"]
    assert remotes == ["203.0.113.7", "127.0.0.1"]
