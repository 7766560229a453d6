"""Tenancy: which customer a resource belongs to, so a `customer` token is kept to its own.

Every tenant-visible resource belongs to exactly one customer, through its contract (servers, invoices,
disputes, blocks, terminations, outages) or directly (contracts, payments, the customer itself). A
resource of another customer and a resource that does not exist are told apart by nobody: both are the
same `NotFound`, with the same message, raised before the resource is read (ids cannot be probed).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from controlplane.errors import NotFound
from controlplane.models.billing import Invoice, Payment
from controlplane.models.customer import Contract, Customer
from controlplane.models.disputes import Dispute
from controlplane.models.enforcement import Block, Termination
from controlplane.models.server import Server


class Owned(StrEnum):
    """The kinds of resource a tenant may own, named as the API names them."""

    CUSTOMER = "customer"
    CONTRACT = "contract"
    SERVER = "server"
    INVOICE = "invoice"
    DISPUTE = "dispute"
    PAYMENT = "payment"
    BLOCK = "block"
    TERMINATION = "termination"


def _via_contract(model: Any) -> Callable[[Session, Any], int | None]:
    def owner(session: Session, resource_id: Any) -> int | None:
        row = session.get(model, resource_id)
        contract_id = getattr(row, "contract_id", None) if row is not None else None
        return _contract_owner(session, contract_id) if contract_id is not None else None

    return owner


def _contract_owner(session: Session, contract_id: Any) -> int | None:
    contract = session.get(Contract, contract_id)
    return contract.customer_id if contract is not None else None


def _customer_itself(session: Session, customer_id: Any) -> int | None:
    return customer_id if session.get(Customer, customer_id) is not None else None


def _payment_owner(session: Session, payment_id: Any) -> int | None:
    payment = session.get(Payment, payment_id)
    return payment.customer_id if payment is not None else None


_OWNER: dict[Owned, Callable[[Session, Any], int | None]] = {
    Owned.CUSTOMER: _customer_itself,
    Owned.CONTRACT: _contract_owner,
    Owned.SERVER: _via_contract(Server),
    Owned.INVOICE: _via_contract(Invoice),
    Owned.DISPUTE: _via_contract(Dispute),
    Owned.PAYMENT: _payment_owner,
    Owned.BLOCK: _via_contract(Block),
    Owned.TERMINATION: _via_contract(Termination),
}


def owner_of(session: Session, kind: Owned, resource_id: int | str) -> int | None:
    """The customer id `resource_id` belongs to, or None (no such resource, or nobody's: a server
    without a contract belongs to no tenant)."""
    return _OWNER[kind](session, resource_id)


def ensure_owned(
    session: Session, *, customer_id: int, kind: Owned, resource_id: int | str, field: str
) -> None:
    """Passes if the resource is `customer_id`'s; otherwise the NotFound a missing one would give."""
    if owner_of(session, kind, resource_id) != customer_id:
        shown = repr(resource_id) if isinstance(resource_id, str) else str(resource_id)
        raise NotFound(f"no {kind.value} {shown}", field=field)


def contracts_of(customer_id: int) -> Any:
    """The ids of a customer's contracts, as a subquery for `col(X.contract_id).in_(...)`."""
    return select(Contract.id).where(Contract.customer_id == customer_id)
