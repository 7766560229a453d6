"""A customer as a hostile user would write it, for the tests of what WHOIS and RDAP send out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from controlplane.db import session_scope
from network.pools import PoolSpec, create_pool
from network.service import allocate_server_address
from tests.utils.factories import make_contract, make_customer, make_host, make_server

# A forged WHOIS line, a terminal escape, NUL, BEL, a right-to-left override, a bidi isolate and a C1
# line break (NEL). The API refuses these (`Line`), but rows written before that rule, or by another
# path than the API, still reach the output.
HOSTILE = "\r\nfake-key: value\x1b[2J\x00\x07\u202e\u2066\x85"
PUBLISHED = ("name", "name_en", "address", "address_en", "zip_code", "contact_name", "contact_phone")


def make_hostile_holder(engine: Engine, *, at: datetime) -> str:
    """The address leased to a customer whose every published field ends with HOSTILE."""
    with session_scope(engine) as s:
        spec = PoolSpec(name="hostile", cidr="198.51.100.0/24", network_name="n", gateway="198.51.100.1")
        create_pool(s, spec=spec, at=at)
        fields = {field: f"{field}{HOSTILE}" for field in PUBLISHED}
        customer = make_customer(s, contact_email=f"evil@example.kr{HOSTILE}", **fields)
        server = make_server(s, make_host(s, "hv-evil"), make_contract(s, customer), "evil")
        lease = allocate_server_address(s, server=server, at=at)
        assert lease is not None
        return lease.address
