"""Who the client is behind a proxy (fasthttp/proxy.py): X-Forwarded-For from
trusted peers only, and only an IP address; else the peer's address."""
import http.client
import json

import cli_support
import pytest
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
    assert trust.client("127.0.0.1", ["2001:db8::7"]) == "2001:db8::7"


@pytest.mark.parametrize("forwarded", [
    "\x9b31m6.6.6.6 - - [forged]",          # text, with a raw C1 control (CSI)
    "203.0.113.7\r\n",                      # only spaces and tabs around a hop
    "example.com",                          # a name
    "203.0.113.7:4711",                     # a port
    "[2001:db8::7]",                        # brackets
    "fe80::1%eth0",                         # an IPv6 zone: free text
    "fe80::1%\x9b",
    "203.0.113.7, not-an-address",          # the hop the proxy vouches for is no address
    "unix:",
    "",
])
def test_forwarded_for_that_is_not_an_ip_address_keeps_the_peer(forwarded):
    """18.19: as nginx's realip: a value that does not parse is ignored."""
    trust = ForwardedTrust("127.0.0.1")
    assert trust.client("127.0.0.1", [forwarded]) is None


def test_forwarded_for_in_the_log_when_trusted(run_cli):
    proc, port = run_cli("--access-log", "json", "-p", "HTTP/1.1",
                         "--forwarded-allow-ips", "127.0.0.1")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for forwarded in ["203.0.113.7", None, "not-an-address"]:   # one connection, 3 clients
        conn.request("GET", "/hello.txt",
                     headers={"X-Forwarded-For": forwarded} if forwarded else {})
        conn.getresponse().read()
    conn.close()
    code, out, err = stop(proc)
    records = [json.loads(line) for line in err.decode().splitlines()]
    remotes = [r["remote"] for r in records if r["event"] == "request"]
    assert remotes == ["203.0.113.7", "127.0.0.1", "127.0.0.1"]
