"""Customer schemas (Art. 2, 24(6)): who the customer is, how to reach them, what WHOIS may show."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.schemas.types import Line, PositiveWon

# Deliberately plain: one @, no spaces, a dot in the domain. Deliverability is the SMTP relay's job.
# No control characters either: an address ends up in a mail header.
_ATOM = r"[^@\s\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=f"^{_ATOM}@{_ATOM}\\.{_ATOM}$")]
# Korean and international numbers: digits with optional +, spaces, dashes, parentheses.
Phone = Annotated[str, Field(min_length=7, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]{5,30}[0-9]$")]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["organisation", "person"] = "organisation"
    name: Line = Field(min_length=1, max_length=200)
    name_en: Line | None = Field(default=None, min_length=1, max_length=200)
    billing_party: Line | None = Field(default=None, min_length=1, max_length=200)
    email: Email
    sms_phone: Phone | None = None
    address: Line = Field(min_length=1, max_length=400)
    address_en: Line | None = Field(default=None, min_length=1, max_length=400)
    address_district: Line | None = Field(default=None, min_length=1, max_length=200)
    zip_code: str | None = Field(default=None, min_length=3, max_length=16, pattern=r"^[0-9A-Za-z -]+$")
    contact_name: Line = Field(min_length=1, max_length=100)
    contact_phone: Phone
    contact_email: Email | None = None
    whois_hide_name: bool = False
    whois_hide_address: bool = False
    whois_hide_phone: bool = False
    is_minor: bool = False
    has_delinquency_record: bool = False


class CustomerPublic(BaseModel):
    id: int
    kind: str
    name: str
    name_en: str | None
    billing_party: str | None
    email: str
    sms_phone: str | None
    address: str
    address_en: str | None
    address_district: str | None
    zip_code: str | None
    contact_name: str
    contact_phone: str
    contact_email: str | None
    whois_hide_name: bool
    whois_hide_address: bool
    whois_hide_phone: bool
    is_minor: bool
    has_delinquency_record: bool
    created_at: datetime


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveWon | None = Field(default=None, description="omit to refund the whole remaining credit")


class RefundPublic(BaseModel):
    customer_id: int
    arrears_deducted: int
    refunded: int
    credit_balance: int


class CreditPublic(BaseModel):
    customer_id: int
    balance: int
