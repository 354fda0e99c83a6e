"""Who is asking, and over what: the client's address and scheme, as a trusted reverse proxy reports
them.

Rules:
- Only a request whose peer is one of `[api] trusted_proxies` (addresses or networks) has its
  X-Forwarded-For and X-Forwarded-Proto believed; anyone else could write them to dodge the login
  rate limit or to pass for HTTPS. None are trusted by default.
- The client is the last address of X-Forwarded-For that is not itself a trusted proxy (a proxy
  appends the peer it saw; addresses further left were written by the client and prove nothing).
- The scheme is the last value of X-Forwarded-Proto (the nearest proxy's), else the connection's.
"""

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (`10.0.0.1`, `10.0.0.0/8`, `::1`) as networks; ValueError names a bad
    one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{entry.strip()!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed."""

    def __init__(self, entries: Iterable[str] = ()):
        self._networks = parse_networks(entries)

    def trusts(self, address: str | None) -> bool:
        """True when `address` is one of the trusted proxies."""
        if not address or not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_address(self, request: web.Request) -> str:
        """The address of the client behind any trusted proxies ("" when the peer is unknown)."""
        peer = request.remote or ""
        if not self.trusts(peer):
            return peer
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
        for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            if not self.trusts(hop):
                return hop
        return peer

    def is_https(self, request: web.Request) -> bool:
        """True when the client reached vmbox over HTTPS: directly, or through a trusted proxy."""
        if self.trusts(request.remote):
            forwarded = ",".join(request.headers.getall("X-Forwarded-Proto", []))
            protos = [part.strip().lower() for part in forwarded.split(",") if part.strip()]
            if protos:
                return protos[-1] == "https"
        return (
            request.transport is not None
            and request.transport.get_extra_info("sslcontext") is not None
        )
