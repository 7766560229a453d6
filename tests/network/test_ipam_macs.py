"""Random MACs for leases (issue 13, item 5): locally administered, unicast, and not a sequence."""

from __future__ import annotations

import re

from network.ipam import random_mac

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def test_random_macs_are_locally_administered_unicast() -> None:
    macs = [random_mac() for _ in range(2000)]
    assert all(_MAC.match(m) for m in macs)
    first_octets = {int(m[:2], 16) for m in macs}
    assert all(o & 0x02 and not o & 0x01 for o in first_octets)
    # The other six bits of the first octet are random too: 64 possible values, 2000 draws.
    assert len(first_octets) > 32


def test_random_macs_do_not_repeat() -> None:
    assert len({random_mac() for _ in range(2000)}) == 2000
