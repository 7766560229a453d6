"""Address arithmetic on netaddr, with no store: parsing, reserved addresses, offsets, overlap, MACs.

An address is named inside its pool by its offset from the network address, so the store can keep a
cursor and a free list of offsets instead of building an IPSet of the whole pool.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import netaddr  # type: ignore[import-untyped]

from controlplane.errors import InvalidInput

# First octet of a MAC: bit 1 set means locally administered, bit 0 set would mean multicast.
_LOCALLY_ADMINISTERED, _MULTICAST = 0x02, 0x01


@dataclass(frozen=True)
class PoolShape:
    """A validated pool: its network, gateway and every address that is never handed out."""

    network: netaddr.IPNetwork
    gateway: netaddr.IPAddress | None
    reserved_offsets: frozenset[int]

    @property
    def version(self) -> int:
        return int(self.network.version)

    @property
    def size(self) -> int:
        """Addresses that can be handed out: the network minus its reserved ones."""
        return int(self.network.size) - len(self.reserved_offsets)

    def address_at(self, offset: int) -> netaddr.IPAddress:
        return netaddr.IPAddress(int(self.network.first) + offset, self.version)

    def offset_of(self, address: netaddr.IPAddress) -> int:
        return int(address) - int(self.network.first)


def parse_network(cidr: str, *, field: str = "cidr") -> netaddr.IPNetwork:
    """A CIDR in canonical form; host bits set (10.0.0.1/24) is an error, not silently truncated."""
    if not isinstance(cidr, str) or "/" not in cidr:
        raise InvalidInput(f"{cidr!r} needs a prefix length (e.g. 192.0.2.0/24)", field=field)
    try:
        network = netaddr.IPNetwork(cidr.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise InvalidInput(f"{cidr!r} is not a valid CIDR", field=field) from exc
    if network.ip != network.network:
        raise InvalidInput(f"{cidr!r} has host bits set; did you mean {network.cidr}?", field=field)
    return network.cidr


def parse_address(text: str, *, field: str = "address") -> netaddr.IPAddress:
    """One IPv4 or IPv6 address in any standard notation (no prefix, no legacy short IPv4 forms)."""
    try:
        return netaddr.IPAddress(text.strip(), flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise InvalidInput(f"{text!r} is not a valid IP address", field=field) from exc


def _reserved_offsets(
    network: netaddr.IPNetwork, gateway: netaddr.IPAddress | None, reserved: list[netaddr.IPAddress]
) -> frozenset[int]:
    first, size = int(network.first), int(network.size)
    offsets = {0}  # the network address (IPv6: the subnet-router anycast address)
    if network.version == 4 and size > 2:
        offsets.add(size - 1)  # broadcast
    if network.version == 4 and size <= 2:
        offsets = set()  # RFC 3021 point-to-point /31 and a /32 have neither
    offsets.update(int(a) - first for a in ([gateway] if gateway else []) + reserved)
    return frozenset(offsets)


def shape_pool(cidr: str, gateway: str | None, reserved: list[str]) -> PoolShape:
    """Validates a pool definition; every error names the field at fault."""
    network = parse_network(cidr)
    gw = parse_address(gateway, field="gateway") if gateway else None
    extra = [parse_address(r, field="reserved") for r in reserved]
    for addr, field in [(gw, "gateway"), *((r, "reserved") for r in extra)]:
        if addr is None:
            continue
        if addr.version != network.version:
            message = f"{addr} is IPv{addr.version} but the pool is IPv{network.version}"
            raise InvalidInput(message, field=field)
        if addr not in network:
            raise InvalidInput(f"{addr} is outside {network}", field=field)
    shape = PoolShape(network=network, gateway=gw, reserved_offsets=_reserved_offsets(network, gw, extra))
    if shape.size <= 0:
        raise InvalidInput(f"{network} has no address left to hand out", field="cidr")
    return shape


def overlapping(candidate: netaddr.IPNetwork, existing: list[str]) -> str | None:
    """The first existing CIDR that shares an address with the candidate, if any."""
    for cidr in existing:
        other = netaddr.IPNetwork(cidr)
        if other.version != candidate.version:
            continue
        if other.first <= candidate.last and candidate.first <= other.last:
            return cidr
    return None


def random_mac() -> str:
    """A random locally administered unicast MAC: 46 random bits, so a guest's MAC reveals no lease id."""
    first, *rest = secrets.token_bytes(6)
    octets = ((first | _LOCALLY_ADMINISTERED) & ~_MULTICAST, *rest)
    return ":".join(f"{o:02x}" for o in octets)


def range_of(text: str) -> netaddr.IPNetwork:
    """An RDAP/WHOIS query: an address (as a /32 or /128) or a CIDR, always in canonical form."""
    if "/" in text:
        return parse_network(text, field="query")
    address = parse_address(text, field="query")
    return netaddr.IPNetwork(f"{address}/{32 if address.version == 4 else 128}")
