"""Contract schemas: apply (Art. 5, 6), hold (Art. 8), activate (Art. 9(1)), plan changes and add-ons."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.models.customer import ContractState
from controlplane.schemas.servers import ServerResize
from controlplane.schemas.types import Day, Id, Line, Text, Whole

MAX_FEE = 10**12  # a trillion won a month is already absurd; anything above is a typo


class ContractApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id
    plan: Line = Field(min_length=1, max_length=64)
    monthly_fee: Whole = Field(ge=0, le=MAX_FEE)
    discount: Whole = Field(default=0, ge=0, le=MAX_FEE)
    billing_cycle: Literal["monthly", "annual_prepaid"] = "monthly"
    # Art. 30(2)-3, 20(7): agreed discount per prepaid term, won; only for billing_cycle annual_prepaid.
    annual_prepay_discount: Whole = Field(default=0, ge=0, le=12 * MAX_FEE)
    desired_open_date: Day


class ContractHold(BaseModel):
    """An operator's reason to withhold approval: Art. 8 item 1..9."""

    model_config = ConfigDict(extra="forbid")

    item: Whole = Field(ge=1, le=9)
    note: Text | None = Field(default=None, max_length=300)


class ContractActivate(BaseModel):
    """Opening day defaults to the desired one; a later day needs the reason sent to the customer."""

    model_config = ConfigDict(extra="forbid")

    open_date: Day | None = None
    reason: Text | None = Field(default=None, min_length=1, max_length=300)


class PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Line | None = Field(default=None, min_length=1, max_length=64)
    effective_from: Day
    monthly_fee: Whole = Field(ge=0, le=MAX_FEE)
    discount: Whole = Field(default=0, ge=0, le=MAX_FEE)
    # The new plan's server size (issue 9): checked when the change is recorded, applied to every live
    # server of the contract on `effective_from` (Seoul; at once when that is today or earlier). Disks
    # only grow; vCPUs and memory take effect at the next boot. None keeps each server's own.
    server_size: ServerResize | None = None


class PendingPlanChange(BaseModel):
    """A plan change not yet in force (Seoul today), or whose server size waits for its day's job."""

    effective_from: date
    monthly_fee: int
    discount: int
    server_size: ServerResize | None


class AddOnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=128)
    billing: Literal["one_off", "monthly"]
    fee: Whole = Field(default=0, ge=0, le=MAX_FEE)
    started_on: Day
    ended_on: Day | None = None


class AddOnPublic(BaseModel):
    id: int
    contract_id: int
    name: str
    billing: str
    fee: int
    started_on: date
    ended_on: date | None


class ContractPublic(BaseModel):
    id: int
    customer_id: int
    state: ContractState
    state_reason: str | None
    plan: str
    monthly_fee: int
    discount: int
    billing_cycle: str
    annual_prepay_discount: int = 0
    desired_open_date: date
    term_start: date | None
    term_end: date | None
    terms_version: str
    created_at: datetime
    updated_at: datetime
    # `monthly_fee`, `discount` and `plan` are the latest agreed, which may start later: these say when.
    pending_plan_changes: list[PendingPlanChange] = []
