"""Schemas of blocks, terminations, outages and the enforcement sweep."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controlplane.models.enforcement import BlockScope, Termination, TerminationStatus, termination_status
from controlplane.schemas.types import Day, Id, Line, Moment, Text
from controlplane.terms.lifecycle import TerminationKind

BlockKind = Literal["spam", "security", "emergency", "operator"]


class BlockCreate(BaseModel):
    """An operator restriction (Art. 16(4) items 1-18, or an emergency under Art. 16(1)).

    `notice="before"`: the notice is sent now and the block starts at `starts_at` (in the future).
    `notice="after"`: notice first was impractical; the block starts now and the notice follows at once,
    with `notice_after_reason` saying why.
    """

    model_config = ConfigDict(extra="forbid")

    kind: BlockKind
    scope: BlockScope = BlockScope.FULL
    item: int | None = Field(default=None, ge=1, le=18, strict=True)  # strict: `true` is not item 1
    # A `bandwidth` block's cap in kilobytes per second, each direction (Art. 16(4)-17).
    bandwidth_kbytes: int | None = Field(default=None, ge=8, le=10_000_000, strict=True)
    reason: Text = Field(min_length=1, max_length=400)
    notice: Literal["before", "after"]
    starts_at: Moment | None = None
    planned_end: Moment | None = None
    notice_after_reason: Text | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _cap_only_for_bandwidth(self) -> BlockCreate:
        if (self.scope == BlockScope.BANDWIDTH) != (self.bandwidth_kbytes is not None):
            raise ValueError("bandwidth_kbytes is given exactly when scope is bandwidth")
        return self


class BlockLift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=400)


class BlockPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    kind: str
    scope: str
    clause: str
    item: int | None
    bandwidth_kbytes: int | None = None
    reason: str
    invoice_id: int | None
    started_at: datetime
    planned_end: datetime | None
    notice_sent_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    created_by: str


class TerminationCreate(BaseModel):
    """`customer_request` needs 7 days notice (Art. 20(2)); `effective_on` is the last day of service."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[TerminationKind.CUSTOMER_REQUEST, TerminationKind.EX_OFFICIO, TerminationKind.INSOLVENCY]
    reason: Text = Field(min_length=1, max_length=400)
    effective_on: Day | None = None
    refused_fee_increase: bool = False
    clause: Line | None = Field(default=None, max_length=64)


class TerminationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    kind: TerminationKind
    clause: str
    reason: str
    requested_at: datetime
    effective_on: date
    refused_fee_increase: bool
    penalty: int
    refund: int
    decided_by: str
    confirmed_by: str | None
    confirmed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    started_at: datetime | None
    wipe_ordered_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None
    status: TerminationStatus

    @model_validator(mode="before")
    @classmethod
    def _derive_status(cls, data: Any) -> Any:
        if isinstance(data, Termination):
            return {**data.model_dump(), "status": termination_status(data)}
        return data


class TerminationWithdraw(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=400)


class OutageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_id: Id
    started_at: Moment
    reported_at: Moment | None = None
    company_aware_at: Moment | None = None
    resolved_at: Moment | None = None
    company_fault: bool = True
    excluded_reason: Literal["maintenance", "customer_request", "art_15", "art_39"] | None = None
    cause_learned_at: Moment | None = None


class OutageUpdate(BaseModel):
    """Fields left out stay as they are; `null` clears the ones that may be empty (an outage not yet
    resolved). `company_fault` is never empty: omit it to keep it, `null` is a 422, not a 500."""

    model_config = ConfigDict(extra="forbid")

    resolved_at: Moment | None = None
    # None only as the "left out" default (never validated, so never sent on): the type refuses null.
    company_fault: bool = Field(default=None, description="omit to keep the current value")  # type: ignore[assignment]
    excluded_reason: Literal["maintenance", "customer_request", "art_15", "art_39"] | None = None
    cause_learned_at: Moment | None = None


class OutagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contract_id: int
    started_at: datetime
    reported_at: datetime | None
    company_aware_at: datetime | None
    resolved_at: datetime | None
    company_fault: bool
    excluded_reason: str | None
    cause_learned_at: datetime | None
    credit_amount: int | None
    credited_on_invoice_id: int | None


class AvailabilityPublic(BaseModel):
    contract_id: int
    month: str
    availability_percent: str
    counted_minutes: str
    credit: int
    clause: str
    capped: bool
    credited_days: list[date]


class ApplyResultPublic(BaseModel):
    as_of: date
    applied: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    failed: list[dict[str, Any]]


class ExtensionCreate(BaseModel):
    """Art. 33(1): an operator moves the restriction of one invoice to at most 60 days after its due date."""

    model_config = ConfigDict(extra="forbid")

    extension_until: Day
