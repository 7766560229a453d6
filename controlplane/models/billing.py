"""Billing facts: fee periods, add-ons, invoices and their lines, payments, late fees, the credit ledger."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class FeePeriod(SQLModel, table=True):
    """The plan fee in force from a date on; a change inside a month is prorated by day (Art. 32(2))."""

    __tablename__ = "fee_periods"
    __table_args__ = (UniqueConstraint("contract_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    effective_from: date
    monthly_fee: int
    discount: int = 0
    # The plan from `effective_from` on; NULL keeps the previous period's (rows from before 0018: the
    # contract's own plan).
    plan: str | None = Field(default=None, max_length=64)
    # A plan change's server size (issue 9) reaches the servers on `effective_from` (Seoul), not when it
    # is asked for: NULL sizes keep each server's own; `server_size_settled_at` is when the size was acted
    # on (applied, or skipped because the contract had ended), NULL while it waits for its day.
    server_vcpus: int | None = None
    server_memory_mib: int | None = None
    server_disk_gib: int | None = None
    server_size_settled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class AddOn(SQLModel, table=True):
    """An add-on service (Art. 30): one-off or monthly, free or paid; free ones end with the contract."""

    __tablename__ = "add_ons"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    name: str = Field(max_length=128)
    billing: str = Field(max_length=16)  # "one_off" | "monthly"
    fee: int = 0
    started_on: date
    ended_on: date | None = None
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Invoice(SQLModel, table=True):
    """One invoice per contract and month of use, enforced here, so reruns never double-bill (Art. 31)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("contract_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    month: date  # first day of the month of use
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    send_by: date
    due_date: date = Field(index=True)
    supply_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    vat_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    paid_in_full_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Art. 33(1): an operator may move the restriction as far as 60 days after the due date.
    extension_until: date | None = None
    extension_approved_by: str | None = Field(default=None, max_length=128)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    kind: str = Field(max_length=32)  # plan, add_on, late_fee, sla_credit, credit
    description: str = Field(max_length=400)
    clause: str = Field(max_length=64)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    period_from: date | None = None
    period_to: date | None = None


class Payment(SQLModel, table=True):
    """A payment received; the idempotency key makes a retried POST return the first result."""

    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    method: str = Field(default="bank_transfer", max_length=32)
    reference: str | None = Field(default=None, max_length=128)


class PaymentAllocation(SQLModel, table=True):
    """How much of a payment went to which invoice (oldest first)."""

    __tablename__ = "payment_allocations"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class LateFee(SQLModel, table=True):
    """Art. 34 late fee on an amount paid after its due date; billed on the next invoice."""

    __tablename__ = "late_fees"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payments.id")
    principal: int = Field(sa_column=Column(BigInteger, nullable=False))
    overdue_days: int
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    billed_on_invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    # The last overdue day this row covers (accrual rows); None on rows of the part of a payment paid late.
    accrued_through: date | None = None


class CreditEntry(SQLModel, table=True):
    """The customer's credit ledger (Art. 35): overpayments in, offsets and refunds out. Balance = sum."""

    __tablename__ = "credit_entries"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # + credit, - used or refunded
    reason: str = Field(max_length=32)  # overpayment, offset, refund, sla_credit
    clause: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payment_id: int | None = Field(default=None, foreign_key="payments.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
