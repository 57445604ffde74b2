"""Where webhooks may go: public addresses over https, unless the operator allows a network (an SSRF guard).

A webhook's URL is given by an organisation's maintainer, and Lotse's servers POST to it: left open, a
maintainer could make them call the cloud's metadata service, a database in the same network or an admin
port on loopback. So a target is checked when it is saved and again before each request: its name is
resolved and every address must be global (not private, loopback, link-local, shared, reserved or
multicast; IPv4 inside IPv6 is unwrapped), unless it lies in a network the operator allows
(``LOTSE_WEBHOOK_ALLOWED_NETWORKS``, e.g. ``127.0.0.0/8,::1/128`` for the demo, or a municipal
network's range). Plain http is accepted only into an allowed network. Cloud metadata names and
addresses are refused always. The request then goes to the address that was checked, so that a name
that resolves differently a moment later (DNS rebinding) changes nothing.
"""

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_FORBIDDEN_CHARACTERS = frozenset("\r\n\t\x00 \\")


class UnsafeTarget(ValueError):
    """The URL may not be a webhook's target; the message says why."""


class Unresolved(UnsafeTarget):
    """The target's name does not resolve (now): it cannot be checked, nor reached."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: where to connect (``address``) and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str
    address: IpAddress

    @property
    def connect_host(self) -> str:
        return f"[{self.address}]" if self.address.version == 6 else str(self.address)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"{host} does not resolve: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allowed_networks: tuple[IpNetwork, ...] = ()
    resolve: Callable[[str, int], list[IpAddress]] = field(default=_resolve, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TargetPolicy":
        raw = env.get("LOTSE_WEBHOOK_ALLOWED_NETWORKS", "")
        try:
            networks = tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())
        except ValueError as exc:
            raise ValueError(f"LOTSE_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None
        return cls(networks)

    def check(self, url: str) -> Target:
        """The target, resolved and checked; :class:`UnsafeTarget` (or :class:`Unresolved`) if it may not be one."""
        if any(c in _FORBIDDEN_CHARACTERS or ord(c) < 32 or ord(c) == 127 for c in url):
            raise UnsafeTarget("holds spaces, control characters or backslashes")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise UnsafeTarget("is not an absolute http(s) URL")
        if parts.username or parts.password:
            raise UnsafeTarget("must not hold a user name or password (the request is signed instead)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UnsafeTarget("has no valid port") from None
        host = parts.hostname.rstrip(".")
        if host in METADATA_HOSTS or host.endswith(".internal"):
            raise UnsafeTarget(f"{host} is a cloud or internal name")
        try:
            addresses = self._addresses(host, port)
        except Unresolved:
            if parts.scheme != "https":  # plain http only into an allowed network, which a name must show
                raise UnsafeTarget("must use https (http only into a network the operator allows)") from None
            raise
        for address in addresses:
            self._check_address(address, parts.scheme)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(parts.scheme, host, port, path, addresses[0])

    def _addresses(self, host: str, port: int) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            found = self.resolve(host, port)
        if not found:
            raise Unresolved(f"{host} does not resolve")
        return found

    def _check_address(self, address: IpAddress, scheme: str) -> None:
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
        if plain in METADATA_ADDRESSES:
            raise UnsafeTarget(f"{address} is a cloud metadata address")
        allowed = any(plain in network for network in self.allowed_networks if network.version == plain.version)
        if allowed:
            return
        if not plain.is_global or plain.is_multicast:
            raise UnsafeTarget(
                f"{address} is not a public address (private, loopback, link-local or reserved); "
                "an operator may allow a network with LOTSE_WEBHOOK_ALLOWED_NETWORKS"
            )
        if scheme != "https":
            raise UnsafeTarget("must use https (http only into a network the operator allows)")
