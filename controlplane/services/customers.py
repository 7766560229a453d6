"""Customers (Art. 2): registration and lookup; every registration is audited."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.errors import NotFound
from controlplane.models.customer import Customer
from controlplane.schemas.customers import CustomerCreate
from controlplane.services.audit import record_change


def customer_snapshot(customer: Customer) -> dict[str, object]:
    return customer.model_dump(exclude={"created_at"})


def create_customer(session: Session, *, now: datetime, actor: str, data: CustomerCreate) -> Customer:
    customer = Customer(**data.model_dump(), created_at=now)
    session.add(customer)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="customer",
        entity_id=customer.id or 0,
        action="create",
        after=customer_snapshot(customer),
        clause="Art. 2",
    )
    session.commit()
    return customer


def get_customer(session: Session, customer_id: int, *, field: str = "customer_id") -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}", field=field)
    return customer


def list_customers(
    session: Session, *, limit: int = 100, offset: int = 0, only_id: int | None = None
) -> list[Customer]:
    """Customers by id; `only_id` keeps the one a tenant may see."""
    query = select(Customer).order_by(col(Customer.id)).offset(offset).limit(limit)
    if only_id is not None:
        query = query.where(Customer.id == only_id)
    return list(session.exec(query).all())
