"""Leasing addresses (Art. 24(1),(2)) on SQLite and PostgreSQL: one per server, quarantine, agreements."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from controlplane.errors import Conflict
from network.models import AddressLease
from network.pools import PoolSpec, create_pool, utilisation
from network.service import (
    ExtraAddressNotAgreed,
    Holder,
    PoolExhausted,
    allocate_extra_address,
    allocate_in_pool,
    allocate_server_address,
    attachments_for,
    release_server_addresses,
    unused_mac,
)
from tests.utils.factories import make_contract, make_customer, make_host, make_server


def _pool(session: Session, clock: FixedClock, cidr: str = "192.0.2.0/29", **kw: object) -> int:
    spec = PoolSpec(
        name=kw.pop("name", "p1"), cidr=cidr, network_name="dctest-net", gateway="192.0.2.1", **kw
    )  # type: ignore[arg-type]
    pool = create_pool(session, spec=spec, at=clock())
    assert pool.id is not None
    return pool.id


def test_each_server_gets_one_address_skipping_network_gateway_and_broadcast(
    engine: Engine, clock: FixedClock
) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        host = make_host(s)
        contract = make_contract(s, make_customer(s))
        addresses = [
            allocate_server_address(s, server=make_server(s, host, contract, f"s{i}"), at=clock()).address  # type: ignore[union-attr]
            for i in range(5)
        ]
    assert addresses == ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"]


def test_allocation_is_idempotent_per_server(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        server = make_server(s, make_host(s))
        first = allocate_server_address(s, server=server, at=clock())
        again = allocate_server_address(s, server=server, at=clock())
    assert first is not None and again is not None and first.id == again.id


def test_no_pool_for_the_host_means_no_address(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock, host_names=("other-host",))
        assert allocate_server_address(s, server=make_server(s, make_host(s, "hv1")), at=clock()) is None


def test_pool_bound_to_the_host_is_preferred(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        create_pool(
            s,
            spec=PoolSpec(name="hv1only", cidr="198.51.100.0/28", network_name="n2", host_names=("hv1",)),
            at=clock(),
        )
        lease = allocate_server_address(s, server=make_server(s, make_host(s, "hv1")), at=clock())
    assert lease is not None and lease.address == "198.51.100.1"


def test_exhausted_pool_is_a_409_class_error(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        host = make_host(s)
        for i in range(5):
            allocate_server_address(s, server=make_server(s, host, name=f"s{i}"), at=clock())
        with pytest.raises(PoolExhausted, match="all assigned or in quarantine"):
            allocate_server_address(s, server=make_server(s, host, name="one-too-many"), at=clock())


def test_released_address_rests_30_days_then_the_longest_released_comes_back_first(
    engine: Engine, clock: FixedClock
) -> None:
    with session_scope(engine) as s:
        pool_id = _pool(s, clock)
        host = make_host(s)
        servers = [make_server(s, host, name=f"s{i}") for i in range(5)]
        for server in servers:
            allocate_server_address(s, server=server, at=clock())
        release_server_addresses(s, server_id=servers[3].id, at=clock())  # .5 released first
        clock.advance(days=1)
        release_server_addresses(s, server_id=servers[1].id, at=clock())  # .3 released a day later
        clock.advance(days=29)  # .5 has rested 30 days, .3 only 29
        newcomer = make_server(s, host, name="new1")
        assert allocate_server_address(s, server=newcomer, at=clock()).address == "192.0.2.5"  # type: ignore[union-attr]
        with pytest.raises(PoolExhausted):
            allocate_server_address(s, server=make_server(s, host, name="new2"), at=clock())
        clock.advance(days=1)
        assert (
            allocate_server_address(s, server=make_server(s, host, name="new3"), at=clock()).address
            == "192.0.2.3"
        )  # type: ignore[union-attr]
        from network.pools import get_pool

        use = utilisation(s, pool=get_pool(s, pool_id), at=clock())
    assert (use.size, use.assigned, use.quarantined, use.free) == (5, 5, 0, 0)


def test_utilisation_counts_quarantined_addresses(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        pool_id = _pool(s, clock)
        host = make_host(s)
        server = make_server(s, host)
        allocate_server_address(s, server=server, at=clock())
        released = release_server_addresses(s, server_id=server.id, at=clock())
        assert [lease.address for lease in released] == ["192.0.2.2"]
        assert (
            release_server_addresses(s, server_id=server.id, at=clock()) == []
        )  # releasing twice is a no-op
        from network.pools import get_pool

        use = utilisation(s, pool=get_pool(s, pool_id), at=clock())
    assert (use.size, use.assigned, use.quarantined, use.free) == (5, 0, 1, 4)


def test_database_rejects_a_second_active_holder(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        lease = allocate_server_address(s, server=make_server(s, make_host(s)), at=clock())
        assert lease is not None
        pool_id, address = lease.pool_id, lease.address
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(
            AddressLease(
                pool_id=pool_id,
                address=address,
                addr_offset=2,
                mac=unused_mac(s),
                server_id="x",
                leased_at=clock(),
            )
        )
        s.flush()


def test_extra_address_needs_the_contracts_agreement(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        host = make_host(s)
        customer = make_customer(s)
        plain = make_contract(s, customer)
        server = make_server(s, host, plain)
        with pytest.raises(ExtraAddressNotAgreed, match="no agreement"):
            allocate_extra_address(s, server=server, contract=plain, at=clock())
        agreed = make_contract(
            s, customer, extra_addresses_allowed=1, extra_addresses_approved_by="operator:kim"
        )
        server2 = make_server(s, host, agreed, "s2")
        allocate_server_address(s, server=server2, at=clock())
        extra = allocate_extra_address(s, server=server2, contract=agreed, at=clock())
        assert extra is not None and extra.kind == "extra"
        with pytest.raises(ExtraAddressNotAgreed, match="already uses its 1"):
            allocate_extra_address(s, server=server2, contract=agreed, at=clock())
        attachments = attachments_for(s, [server2.id, server.id])
    nets = attachments[server2.id]
    assert [a.ip for a in nets] == ["192.0.2.2", "192.0.2.3"]  # primary first
    assert attachments[server.id] == []


def test_attachment_macs_are_random_locally_administered_unicast_and_unique_per_lease(
    engine: Engine, clock: FixedClock
) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        host = make_host(s)
        servers = [make_server(s, host, name=f"s{i}") for i in range(3)]
        for server in servers:
            allocate_server_address(s, server=server, at=clock())
        attachments = attachments_for(s, [sv.id for sv in servers])
    macs = [attachments[sv.id][0].mac for sv in servers]
    assert len(set(macs)) == 3
    assert not {m for m in macs if m.startswith("02:dc:00:00:00:")}  # not the old lease-id sequence
    for mac in macs:
        first_octet = int(mac.split(":")[0], 16)
        assert first_octet & 0b10 and not first_octet & 0b1  # locally administered, unicast
    assert {attachments[sv.id][0].network for sv in servers} == {"dctest-net"}


def test_an_address_held_outside_the_cursor_is_skipped_not_doubled(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        pool_id = _pool(s, clock)
        # A lease written by hand (say, a migration from the old registry) on the cursor's next address.
        s.add(
            AddressLease(
                pool_id=pool_id,
                address="192.0.2.2",
                addr_offset=2,
                mac="02:dc:00:00:00:99",
                server_id="legacy",
                leased_at=clock(),
            )
        )
        s.flush()
        lease = allocate_server_address(s, server=make_server(s, make_host(s)), at=clock())
    assert lease is not None and lease.address == "192.0.2.3"


def test_a_mac_already_in_the_store_is_redrawn(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        pool_id = _pool(s, clock)
        first = allocate_server_address(s, server=make_server(s, make_host(s)), at=clock())
        assert first is not None
        draws = iter([first.mac.upper(), first.mac, "06:00:00:00:00:07"])  # a forced collision, twice
        second = allocate_in_pool(
            s, pool_id=pool_id, holder=Holder("s2", None, None), at=clock(), draw_mac=lambda: next(draws)
        )
    assert second is not None and second.mac == "06:00:00:00:00:07"


def test_a_mac_source_that_only_collides_is_a_conflict_not_a_loop(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        pool_id = _pool(s, clock)
        first = allocate_server_address(s, server=make_server(s, make_host(s)), at=clock())
        assert first is not None
        with pytest.raises(Conflict, match="MAC draws all collided"):
            allocate_in_pool(
                s, pool_id=pool_id, holder=Holder("s2", None, None), at=clock(), draw_mac=lambda: first.mac
            )


def test_database_rejects_a_repeated_mac_even_on_a_released_lease(engine: Engine, clock: FixedClock) -> None:
    with session_scope(engine) as s:
        _pool(s, clock)
        server = make_server(s, make_host(s))
        lease = allocate_server_address(s, server=server, at=clock())
        assert lease is not None
        release_server_addresses(s, server_id=server.id, at=clock())
        pool_id, mac = lease.pool_id, lease.mac
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(
            AddressLease(
                pool_id=pool_id, address="192.0.2.6", addr_offset=6, mac=mac, server_id="x", leased_at=clock()
            )
        )
        s.flush()
