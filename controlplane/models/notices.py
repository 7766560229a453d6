"""The notice outbox (Art. 13): written in the decision's transaction, delivered afterwards, at least once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class Notice(SQLModel, table=True):
    __tablename__ = "notices"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    channel: str = Field(max_length=8)  # email, sms
    kind: str = Field(max_length=32)  # approval, invoice, restriction_before, restriction_after, ...
    clause: str = Field(max_length=64)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    # The same decision never queues the same notice twice, whatever reruns.
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str | None = Field(default=None, max_length=1000)
