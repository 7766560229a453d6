"""The contract row lock that orders a payment against an enforcement action on the same contract.

Lock order (shared with `controlplane.services.billing.payments`): the contract row first, then its invoices,
blocks and servers. Whoever holds the lock decides from facts read after taking it, so a payment that
commits first is seen by the sweep, and a sweep that commits first is undone by the payment's lift.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.errors import NotFound
from controlplane.models.customer import Contract


def lock_contract(session: Session, contract_id: int, *, field: str = "contract_id") -> Contract:
    """`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite a no-op UPDATE takes the database write lock.

    SQLite ignores FOR UPDATE and begins its transaction lazily at the first write, so without the
    no-op write a read-decide-write sequence could act on a snapshot another writer already changed.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Contract).where(col(Contract.id) == contract_id).values(id=col(Contract.id)))
    query = (
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    contract = session.exec(query).first()
    if contract is None:
        raise NotFound(f"no contract {contract_id}", field=field)
    return contract
