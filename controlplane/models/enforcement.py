"""Restrictions as rows (blocks), terminations, and outage records for availability credit."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class BlockScope(StrEnum):
    """What a block restricts: everything (servers suspended) or one part while the server keeps running."""

    FULL = "full"
    SMTP = "smtp"  # outbound TCP 25 dropped (Art. 16(4)-2..5, 26(6))
    QUARANTINE = "quarantine"  # only DHCP, ARP and management traffic (Art. 16(4)-6, 13, 14, 16)
    BANDWIDTH = "bandwidth"  # the interface capped at `bandwidth_kbytes` (Art. 16(4)-17)


PARTIAL_SCOPES = (BlockScope.SMTP, BlockScope.QUARANTINE, BlockScope.BANDWIDTH)


class Block(SQLModel, table=True):
    """One restriction of a contract's service. The contract is restricted while any block is active.

    Paying in full lifts only a `nonpayment` block (Art. 16(5)); the others need an operator.
    `scope` is a `BlockScope`: `full` suspends the servers, the partial ones keep them running.
    """

    __tablename__ = "blocks"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    kind: str = Field(max_length=16)  # nonpayment, spam, security, emergency, operator
    scope: str = Field(default="full", max_length=16)
    clause: str = Field(max_length=64)
    item: int | None = None  # Art. 16(4) item number 1..18
    bandwidth_kbytes: int | None = None  # the cap of a `bandwidth` block, KB/s each direction
    reason: str = Field(max_length=400)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    planned_end: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    notice_sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    lifted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    lifted_by: str | None = Field(default=None, max_length=128)
    created_by: str = Field(max_length=128)


class Termination(SQLModel, table=True):
    """The decision to end a contract and its settlement; completed when every deletion record is in."""

    __tablename__ = "terminations"
    __table_args__ = (UniqueConstraint("contract_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    kind: str = Field(max_length=32)  # customer_request, nonpayment, ex_officio, insolvency, cure_failed
    clause: str = Field(max_length=64)
    reason: str = Field(max_length=400)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    effective_on: date
    refused_fee_increase: bool = False
    penalty: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    refund: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    decided_by: str = Field(max_length=128)
    confirmed_by: str | None = Field(default=None, max_length=128)
    # Two people for anything irreversible: the proposer's token may never confirm (Art. 20(5), 21).
    proposed_by_token: int | None = None
    confirmed_by_token: int | None = None
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    withdrawn_by: str | None = Field(default=None, max_length=128)
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # When the servers were first ordered deleted: only once the termination notice reached the relay.
    wipe_ordered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Service ended (every server wiped); the record completes only once nothing is unpaid.
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class TerminationStatus(StrEnum):
    PROPOSED = "proposed"  # awaiting a second operator
    SCHEDULED = "scheduled"  # a customer's request, before its last day has ended
    WITHDRAWN = "withdrawn"
    TERMINATING = "terminating"  # started: servers stopped, then wiped once the notice is out
    AWAITING_SETTLEMENT = "awaiting_settlement"  # service ended, something unpaid: listed for collection
    COMPLETED = "completed"


def termination_status(t: Termination) -> TerminationStatus:
    if t.withdrawn_at is not None:
        return TerminationStatus.WITHDRAWN
    if t.completed_at is not None:
        return TerminationStatus.COMPLETED
    if t.ended_at is not None:
        return TerminationStatus.AWAITING_SETTLEMENT
    if t.started_at is not None:
        return TerminationStatus.TERMINATING
    return TerminationStatus.PROPOSED if t.confirmed_by is None else TerminationStatus.SCHEDULED


class Outage(SQLModel, table=True):
    """An incident affecting a contract, for availability credit (Art. 36, 37)."""

    __tablename__ = "outages"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    company_aware_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    company_fault: bool = True
    excluded_reason: str | None = Field(default=None, max_length=64)  # maintenance, customer_request, art15..
    cause_learned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    credit_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    credited_on_invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
