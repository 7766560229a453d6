"""Customers (Art. 2) and their contracts (Art. 5-9, 18); the terms version each contract is pinned to."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime
from controlplane.terms.lifecycle import State


class CustomerKind(StrEnum):
    ORGANISATION = "organisation"
    PERSON = "person"


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=CustomerKind.ORGANISATION, max_length=16)
    name: str = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    # Art. 2(3): the party that pays may differ from the one that uses the service.
    billing_party: str | None = Field(default=None, max_length=200)
    email: str = Field(max_length=254)
    sms_phone: str | None = Field(default=None, max_length=32)
    address: str = Field(max_length=400)
    address_en: str | None = Field(default=None, max_length=400)
    # District-level address shown in WHOIS when the detailed address is hidden (Art. 24(6)).
    address_district: str | None = Field(default=None, max_length=200)
    zip_code: str | None = Field(default=None, max_length=16)
    contact_name: str = Field(max_length=100)
    contact_phone: str = Field(max_length=32)
    contact_email: str | None = Field(default=None, max_length=254)
    whois_hide_name: bool = False
    whois_hide_address: bool = False
    whois_hide_phone: bool = False
    is_minor: bool = False
    has_delinquency_record: bool = False
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# The contract states are the terms' life cycle (terms/lifecycle.py); the store keeps their values.
ContractState = State


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL_PREPAID = "annual_prepaid"


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    state: str = Field(default=ContractState.APPLIED, max_length=16, index=True)
    state_reason: str | None = Field(default=None, max_length=400)
    plan: str = Field(max_length=64)
    monthly_fee: int
    discount: int = 0
    billing_cycle: str = Field(default=BillingCycle.MONTHLY, max_length=16)
    # Art. 30(2)-3, 20(7): the discount agreed for prepaying a term, in won per term; taken back when an
    # annually prepaid contract ends early. Renewals keep it (Art. 18: the same conditions).
    annual_prepay_discount: int = 0
    desired_open_date: date
    term_start: date | None = None
    term_end: date | None = None
    terms_version: str = Field(max_length=32)
    # Extra addresses beyond the one per server need an agreement (Art. 24(1)).
    extra_addresses_allowed: int = 0
    extra_addresses_approved_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
