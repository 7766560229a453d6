"""Who a maintenance window affects, and their notices (Art. 10(8), 13) through the outbox.

The affected customers are the holders of the servers on the window's hosts when the notice is
decided. Each (window, revision, customer) is queued once (the dedupe key), so reruns of the transitions
job never notify twice, a new revision (changed time) notifies again, and a customer whose server
arrived on the host after the announcement is told when the window starts.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.models.customer import Contract, Customer
from controlplane.models.maintenance import MaintenanceWindow, MaintenanceWindowHost
from controlplane.models.notices import Notice
from controlplane.models.server import DesiredState, Server
from controlplane.notify.maintenance_messages import maintenance_cancel_notice, maintenance_notice
from controlplane.services.notices import queue_notice

_KEY = "maintenance:"


def _revision_key(window: MaintenanceWindow, customer_id: int) -> str:
    return f"{_KEY}{window.id}:r{window.revision}:c{customer_id}"


def affected(session: Session, window: MaintenanceWindow) -> dict[int, tuple[Customer, int, list[str]]]:
    """customer id -> (customer, one contract of theirs, their server names) on the window's hosts."""
    query = (
        select(Server, Contract, Customer)
        .join(MaintenanceWindowHost, col(MaintenanceWindowHost.host_id) == col(Server.host_id))
        .join(Contract, col(Contract.id) == col(Server.contract_id))
        .join(Customer, col(Customer.id) == col(Contract.customer_id))
        .where(
            MaintenanceWindowHost.window_id == window.id,
            col(Server.deleted_at).is_(None),
            Server.desired_state != DesiredState.DELETED.value,
        )
        .order_by(col(Server.name))
    )
    found: dict[int, tuple[Customer, int, list[str]]] = {}
    for server, contract, customer in session.exec(query).all():
        entry = found.setdefault(customer.id or 0, (customer, contract.id or 0, []))
        entry[2].append(server.name)
    return found


def notify_affected(
    session: Session, window: MaintenanceWindow, *, now: datetime, rescheduled: bool = False
) -> list[int]:
    """Queues the window's notice (this revision) to every affected customer; returns their ids."""
    customers = affected(session, window)
    for customer_id, (customer, contract_id, servers) in sorted(customers.items()):
        draft = maintenance_notice(
            window_id=window.id or 0,
            kind=window.kind,
            action=window.action,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reason=window.reason,
            servers=servers,
            rescheduled=rescheduled,
        )
        queue_notice(
            session,
            customer=customer,
            contract_id=contract_id,
            draft=draft,
            dedupe_key=_revision_key(window, customer_id),
            now=now,
        )
    return sorted(customers)


def notify_cancelled(session: Session, window: MaintenanceWindow, *, reason: str, now: datetime) -> list[int]:
    """Tells every customer who was notified of any revision that the window is off."""
    told = session.exec(
        select(Notice.customer_id, Notice.contract_id)
        .where(col(Notice.dedupe_key).startswith(f"{_KEY}{window.id}:r"))
        .distinct()
    ).all()
    contracts = {customer_id: contract_id for customer_id, contract_id in told}
    for customer_id, contract_id in sorted(contracts.items()):
        customer = session.get(Customer, customer_id)
        if customer is None:
            continue
        draft = maintenance_cancel_notice(
            window_id=window.id or 0,
            kind=window.kind,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reason=reason,
        )
        key = f"{_KEY}{window.id}:cancel:c{customer_id}"
        queue_notice(
            session, customer=customer, contract_id=contract_id, draft=draft, dedupe_key=key, now=now
        )
    return sorted(contracts)
