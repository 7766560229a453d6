"""Who held an address when (kept after termination), and the current assignments for the registry."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.models import Customer
from network import ipam
from network.csv_cells import csv_cell
from network.models import AddressLease, AddressPool


@dataclass(frozen=True)
class Tenure:
    """One holder of one address: customer, contract, server, from, to (None while still held)."""

    lease_id: int
    address: str
    pool: str
    kind: str
    server_id: str
    contract_id: int | None
    customer_id: int | None
    customer_name: str | None
    leased_at: datetime
    released_at: datetime | None


def _tenure(lease: AddressLease, pool: AddressPool, customer: Customer | None) -> Tenure:
    assert lease.id is not None
    return Tenure(
        lease_id=lease.id,
        address=lease.address,
        pool=pool.name,
        kind=lease.kind,
        server_id=lease.server_id,
        contract_id=lease.contract_id,
        customer_id=lease.customer_id,
        customer_name=customer.name if customer else None,
        leased_at=lease.leased_at,
        released_at=lease.released_at,
    )


def _joined() -> object:
    return (
        select(AddressLease, AddressPool, Customer)
        .join(AddressPool, col(AddressPool.id) == AddressLease.pool_id)
        .join(Customer, col(Customer.id) == AddressLease.customer_id, isouter=True)
    )


def address_history(session: Session, *, address: str) -> list[Tenure]:
    """Every lease of the address, oldest first; the address is given in any standard notation."""
    canonical = str(ipam.parse_address(address, field="ip"))
    stmt = _joined().where(AddressLease.address == canonical).order_by(col(AddressLease.leased_at))  # type: ignore[attr-defined]
    return [_tenure(lease, pool, customer) for lease, pool, customer in session.exec(stmt).all()]


def holder_at(session: Session, *, address: str, at: datetime) -> Tenure | None:
    """The lease that covered the address at that instant (leased_at <= at < released_at)."""
    for tenure in reversed(address_history(session, address=address)):
        if tenure.leased_at <= at and (tenure.released_at is None or at < tenure.released_at):
            return tenure
    return None


CSV_COLUMNS = [
    "address",
    "pool",
    "kind",
    "customer_id",
    "customer_name",
    "contract_id",
    "server_id",
    "leased_at",
]


def current_holder_ids(session: Session) -> list[int]:
    """The customers holding an address now: whose names the registry export carries."""
    stmt = select(AddressLease.customer_id).where(
        col(AddressLease.released_at).is_(None), col(AddressLease.customer_id).is_not(None)
    )
    return sorted({cid for cid in session.exec(stmt).all() if cid is not None})


def current_assignments_csv(session: Session) -> Iterator[str]:
    """Active leases as CSV rows for submission to the address registry, streamed chunk by chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    stmt = _joined().where(col(AddressLease.released_at).is_(None)).order_by(col(AddressLease.id))  # type: ignore[attr-defined]
    for lease, pool, customer in session.exec(stmt).yield_per(1000):
        t = _tenure(lease, pool, customer)
        row = [t.address, t.pool, t.kind, t.customer_id, t.customer_name, t.contract_id, t.server_id]
        writer.writerow([csv_cell(v) for v in row] + [t.leased_at.isoformat()])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
