"""The terms' remaining workflows as rows: firewall rule sets (Art. 22(3) 2.2), spam complaints (Art. 26),
fee increase proposals (Art. 17(2),(3)), address agreements (Art. 24(1)) and legal successions (Art. 19)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class FirewallRuleSet(SQLModel, table=True):
    """A contract's firewall add-on: default policies per direction; its rules are `FirewallRule` rows.
    Billed through `add_on_id`; removed (never deleted) when the contract ends (Art. 20(8))."""

    __tablename__ = "firewall_rule_sets"
    __table_args__ = (UniqueConstraint("contract_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    add_on_id: int | None = Field(default=None, foreign_key="add_ons.id")
    inbound_default: str = Field(max_length=8)  # accept | drop
    outbound_default: str = Field(max_length=8)
    revision: int = 1
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class FirewallRule(SQLModel, table=True):
    """One allow rule; `prefix` is the remote end (source inbound, destination outbound), None = any."""

    __tablename__ = "firewall_rules"

    id: int | None = Field(default=None, primary_key=True)
    rule_set_id: int = Field(foreign_key="firewall_rule_sets.id", index=True)
    position: int
    direction: str = Field(max_length=8)  # in | out
    protocol: str = Field(max_length=8)  # tcp | udp | icmp | all
    port_from: int | None = None
    port_to: int | None = None
    prefix: str | None = Field(default=None, max_length=43)


class SpamComplaint(SQLModel, table=True):
    """A spam complaint (Art. 26): answered within 7 days (26(4)); a customer asked to act reports its
    fix within 7 days (26(5)), else an SMTP block is proposed for an operator to confirm (26(6))."""

    __tablename__ = "spam_complaints"

    id: int | None = Field(default=None, primary_key=True)
    complainant: str = Field(max_length=200)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    evidence: str = Field(max_length=4000)
    address: str | None = Field(default=None, max_length=45)
    server_id: str | None = Field(default=None, max_length=64)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    # Deadlines fixed when their period starts (the policy of that day), so later versions never move them.
    answer_due_on: date
    fix_report_due_on: date | None = None
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answer: str | None = Field(default=None, max_length=2000)
    customer_asked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    fix_reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    fix_report: str | None = Field(default=None, max_length=2000)
    block_id: int | None = Field(default=None, foreign_key="blocks.id")
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_by: str = Field(max_length=128)


class FeeIncrease(SQLModel, table=True):
    """The company's proposal of a higher fee from `effective_from` (Art. 17(2)): the old fee stays until
    the customer accepts; a refusal keeps it and opens a termination without penalty (Art. 17(3))."""

    __tablename__ = "fee_increases"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    effective_from: date
    old_monthly_fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    new_monthly_fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=400)
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    proposed_by: str = Field(max_length=128)
    answer: str | None = Field(default=None, max_length=8)  # accepted | refused
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_by: str | None = Field(default=None, max_length=128)


class AddressAgreement(SQLModel, table=True):
    """Art. 24(1): more than one address per server only by agreement; extra addresses stay within it."""

    __tablename__ = "address_agreements"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    extra_addresses: int
    agreed_by: str = Field(max_length=200)  # who agreed for the customer
    agreed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(max_length=128)
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Succession(SQLModel, table=True):
    """Art. 19: a contract moving to a legal successor, filed within 30 days of the event."""

    __tablename__ = "successions"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    from_customer_id: int = Field(foreign_key="customers.id")
    to_customer_id: int = Field(foreign_key="customers.id")
    kind: str = Field(max_length=16)  # merger, inheritance, transfer
    event_on: date
    filed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    filed_by: str = Field(max_length=128)
