"""Payment schemas: a payment received, and what it paid (allocations, late fees, credit)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from controlplane.schemas.contracts import MAX_FEE
from controlplane.schemas.types import Id, Line, Moment, Whole


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id
    contract_id: Id | None = Field(default=None, description="settle only this contract's invoices")
    amount: Whole = Field(ge=1, le=MAX_FEE)
    method: str = Field(default="bank_transfer", min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    reference: Line | None = Field(default=None, min_length=1, max_length=128)
    received_at: Moment | None = Field(default=None, description="when the money arrived; default now")
    idempotency_key: Line | None = Field(default=None, min_length=1, max_length=128)


class AllocationPublic(BaseModel):
    invoice_id: int
    amount: int


class LateFeePublic(BaseModel):
    invoice_id: int
    principal: int
    overdue_days: int
    amount: int
    clause: str = "Art. 34"


class PaymentPublic(BaseModel):
    id: int
    customer_id: int
    contract_id: int | None
    idempotency_key: str
    amount: int
    received_at: datetime
    method: str
    reference: str | None
    allocations: list[AllocationPublic]
    late_fees: list[LateFeePublic]
    credited: int
