"""Invoice disputes (Art. 35(1),(2)): filed within 15 days of the invoice being sent, answered within 7."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"
    CORRECTED = "corrected"


class Dispute(SQLModel, table=True):
    """While `answered_at` is empty the disputed `amount` counts neither towards restriction nor late fees.

    The answer upholds the amount (its restriction day is then never before `restrict_not_before`, 7 full
    days after the answer) or corrects the invoice by `corrected_amount` (a credit note)."""

    __tablename__ = "invoice_disputes"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=1000)
    filed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    filed_by: str = Field(max_length=128)
    answer_due_on: date
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_by: str | None = Field(default=None, max_length=128)
    outcome: str | None = Field(default=None, max_length=16)  # upheld, corrected
    corrected_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    answer: str | None = Field(default=None, max_length=1000)
    restrict_not_before: date | None = None
