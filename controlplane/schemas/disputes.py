"""Invoice dispute schemas (Art. 35(1),(2))."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from controlplane.models.disputes import DisputeOutcome
from controlplane.schemas.types import PositiveWon, Text, Won


class DisputeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveWon = Field(description="the disputed part of the invoice, KRW")
    reason: Text = Field(min_length=1, max_length=1000)


class DisputeAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: DisputeOutcome
    corrected_amount: Won = Field(default=0, description="the credit note for `corrected`, KRW")
    answer: Text = Field(min_length=1, max_length=1000)


class DisputePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int
    contract_id: int
    amount: int
    reason: str
    filed_at: datetime
    filed_by: str
    answer_due_on: date
    answered_at: datetime | None
    answered_by: str | None
    outcome: DisputeOutcome | None
    corrected_amount: int
    answer: str | None
    restrict_not_before: date | None
