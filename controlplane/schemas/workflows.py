"""Schemas of the terms' workflows: spam complaints (Art. 26), fee increases (Art. 17), open-date
postponement (Art. 9(2)), legal succession (Art. 19), address agreements (Art. 24(1))."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from controlplane.schemas.types import Count, Day, Id, Key, Line, Moment, PositiveWon, Text
from controlplane.terms.deadlines import Deadline


class DeadlinePublic(BaseModel):
    """A deadline with its counting (TERMS-MAP "How periods are counted"): the right lasts through the end
    of `expires_end_of`; what the terms allow "after" it happens on `acts_on` at the earliest."""

    clause: str
    what: str
    expires_end_of: date
    acts_on: date
    counting: str

    @classmethod
    def of(cls, deadline: Deadline) -> DeadlinePublic:
        return cls(
            clause=str(deadline.clause),
            what=deadline.what,
            expires_end_of=deadline.expires_end_of,
            acts_on=date.fromordinal(deadline.on.toordinal() + 1),
            counting=deadline.counting,
        )


class SpamComplaintCreate(BaseModel):
    """A complaint names the address or the server it is about (at least one)."""

    model_config = ConfigDict(extra="forbid")

    complainant: Line = Field(min_length=1, max_length=200)
    received_at: Moment
    evidence: Text = Field(min_length=1, max_length=4000)
    address: Line | None = Field(default=None, max_length=45)
    server_id: Key | None = None

    @field_validator("address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("not an IP address") from None

    @model_validator(mode="after")
    def _names_a_source(self) -> SpamComplaintCreate:
        if self.address is None and self.server_id is None:
            raise ValueError("name the address or the server_id the complaint is about")
        return self


class SpamAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Text = Field(min_length=1, max_length=2000)


class SpamAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Text = Field(min_length=1, max_length=2000)


class SpamFixReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: Text = Field(min_length=1, max_length=2000)


class SpamRestrict(BaseModel):
    """The operator's confirmation of the plan's proposal: an outbound SMTP block (Art. 26(6), 16(4)-3..5)."""

    model_config = ConfigDict(extra="forbid")

    item: int = Field(default=4, ge=3, le=5, strict=True)
    reason: Text | None = Field(default=None, max_length=400)


class SpamComplaintPublic(BaseModel):
    id: int
    complainant: str
    received_at: datetime
    evidence: str
    address: str | None
    server_id: str | None
    contract_id: int | None
    answered_at: datetime | None
    answer: str | None
    customer_asked_at: datetime | None
    fix_reported_at: datetime | None
    fix_report: str | None
    block_id: int | None
    answer_due: DeadlinePublic
    fix_report_due: DeadlinePublic | None
    answered_in_time: bool | None
    fix_reported_in_time: bool | None


class FeeIncreaseCreate(BaseModel):
    """The company's proposal to the named contracts (Art. 17(2))."""

    model_config = ConfigDict(extra="forbid")

    contract_ids: list[Id] = Field(min_length=1, max_length=1000)
    new_monthly_fee: PositiveWon
    effective_from: Day
    reason: Text = Field(min_length=1, max_length=400)


class FeeIncreaseAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["accepted", "refused"]


class FeeIncreasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    effective_from: date
    old_monthly_fee: int
    new_monthly_fee: int
    reason: str
    proposed_at: datetime
    answer: str | None
    answered_at: datetime | None


class PostponeOpenDate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_open_date: Day
    reason: Text = Field(min_length=1, max_length=400)


class SuccessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_customer_id: Id
    kind: Literal["merger", "inheritance", "transfer"]
    event_on: Day


class SuccessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    from_customer_id: int
    to_customer_id: int
    kind: str
    event_on: date
    filed_at: datetime
    filing_deadline: DeadlinePublic | None = None


class AddressAgreementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extra_addresses: Count = Field(le=1024)
    agreed_by: Line = Field(min_length=1, max_length=200)
    agreed_at: Moment


class AddressAgreementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    extra_addresses: int
    agreed_by: str
    agreed_at: datetime
    recorded_by: str
    ended_at: datetime | None
