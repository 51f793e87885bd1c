"""Which hosts and IP addresses a user-supplied URL may reach: public ones only, unless configured.

Pure checks, no I/O: the fetcher resolves names and asks here about every address it would use.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from service.core.config import Settings
from service.errors import UrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NAT64 prefixes translate to IPv4 behind the gateway, which may be internal.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_REFUSED_CLASSES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


def refusal_reason(address: IPAddress) -> str | None:
    """Why address is not a public unicast destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.sixtofour is not None or address.teredo is not None:
            return "an IPv6 tunnel address wrapping IPv4"
        if any(address in network for network in _NAT64):
            return "a NAT64 address"
        if address.is_site_local:
            return "a site-local address"
    for attribute, name in _REFUSED_CLASSES:
        if getattr(address, attribute):
            return f"a {name} address"
    if not address.is_global:
        return "not a globally routable address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    allowed_hosts: tuple[str, ...] = ()
    exempt_networks: tuple[IPNetwork, ...] = ()  # tests/dev only: see URL_ALLOWED_PRIVATE_NETWORKS

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        return cls(
            tuple(settings.url_allowed_hosts),
            tuple(ipaddress.ip_network(network) for network in settings.url_allowed_private_networks),
        )

    def check_host(self, host: str) -> None:
        """Refuse a host outside URL_ALLOWED_HOSTS (when that list is set); `*.x.org` matches subdomains."""
        if not self.allowed_hosts or any(_host_matches(host, pattern) for pattern in self.allowed_hosts):
            return
        raise UrlRefused(f"host {host!r} is not in the allowed host list")

    def check_address(self, host: str, address: IPAddress) -> None:
        if any(address.version == net.version and address in net for net in self.exempt_networks):
            return
        reason = refusal_reason(address)
        if reason is not None:
            raise UrlRefused(f"host {host!r} resolves to {reason}; only public addresses may be fetched")


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern
