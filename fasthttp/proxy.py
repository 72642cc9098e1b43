"""Who the client is: the peer's address, or the one a trusted proxy tells.

Behind a reverse proxy (nginx) every request comes from the proxy; the
proxy names the client in X-Forwarded-For. That header is believed only
from peers listed in --forwarded-allow-ips (ForwardedTrust), and only for
what it can be: an IP address. Anything else (a name, a port, text with
control characters) keeps the peer's address, as nginx's realip module
does. Compare uvicorn's middleware/proxy_headers.py.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Union

from fasthttp import server

__all__ = ["ForwardedTrust", "PeerMixIn", "ForwardedMixIn", "UNIX_PEER"]

#: client_address of a client on a Unix socket (the kernel gives ''); nginx
#: writes the same for such a client's $remote_addr.
UNIX_PEER = ("unix:", 0)

_IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
_IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

if TYPE_CHECKING:
    _HandlerBase = server.BaseHTTPRequestHandler
else:
    _HandlerBase = object


def ip_address(text: str) -> _IPAddress | None:
    """`text` as an IP address, or None. An IPv6 zone ("fe80::1%eth0") is
    refused: it is free text."""
    try:
        address: _IPAddress = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped:
            return address.ipv4_mapped    # an IPv4 client of a dual-stack socket
    return address


class ForwardedTrust:
    """Which peers may tell the client's address in X-Forwarded-For."""

    def __init__(self, spec: str) -> None:
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        self.anyone = "*" in entries
        self.unix = "unix" in entries
        self.networks: list[_IPNetwork] = [
            ipaddress.ip_network(e, strict=False) for e in entries if e not in ("*", "unix")]

    def __bool__(self) -> bool:
        return self.anyone or self.unix or bool(self.networks)

    def trusts(self, host: str) -> bool:
        if self.anyone:
            return True
        if host == UNIX_PEER[0]:
            return self.unix
        address = ip_address(host)
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: list[str] | None) -> str | None:
        """The client's address if `peer` is trusted and says one, else None.
        Each proxy appends the address it got the request from, so read from
        the right: the first address not trusted is the client; addresses to
        its left are whatever that client wrote. A hop that is not an IP
        address ends the walk with None: the peer's address stands."""
        if not forwarded_for or not self.trusts(peer):
            return None
        hops = [h.strip(" \t") for field in forwarded_for for h in field.split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if ip_address(hop) is None:
                return None
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else None


class PeerMixIn(_HandlerBase):
    """Keeps the connection's peer; gives a Unix socket's client a sane
    client_address (handlers and the log line read client_address[0])."""

    _fh_peer: Any = None

    def __init__(self, request: Any, client_address: Any, server: Any,
                 *args: Any, **kwargs: Any) -> None:
        if not (isinstance(client_address, tuple) and client_address):
            client_address = UNIX_PEER
        self._fh_peer = client_address
        super().__init__(request, client_address, server, *args, **kwargs)


class ForwardedMixIn(_HandlerBase):
    """client_address from X-Forwarded-For, when the peer is a trusted proxy.
    Decided per request: one upstream connection carries many clients."""

    forwarded_trust: ForwardedTrust
    _fh_peer: Any

    def parse_request(self) -> bool:
        peer = self._fh_peer or self.client_address
        self.client_address = peer
        ok: bool = super().parse_request()
        if ok:
            client = self.forwarded_trust.client(
                str(peer[0]), self.headers.get_all("X-Forwarded-For"))
            if client is not None:
                self.client_address = (client, 0)
        return ok
