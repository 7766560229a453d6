"""Images servers boot from: the file the control plane keeps, its checksum, format and sizes (issue 9)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime, new_id
from controlplane.protocol import DiskFormat


class ImageState(StrEnum):
    IMPORTING = "importing"
    ACTIVE = "active"
    FAILED = "failed"
    DELETED = "deleted"


# The only disk formats accepted (the wire's enum): everything else is refused at import.
ImageFormat = DiskFormat


class Image(SQLModel, table=True):
    __tablename__ = "images"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=128)
    state: str = Field(default=ImageState.IMPORTING, max_length=16, index=True)
    failure_reason: str | None = Field(default=None, max_length=1024)
    # Where it came from: an http(s) URL or a path under one of the import directories.
    source: str = Field(max_length=2048)
    # The checksum the operator gave (verified at import) and the one computed while streaming.
    expected_sha256: str | None = Field(default=None, max_length=64)
    sha256: str | None = Field(default=None, max_length=64)
    disk_format: str | None = Field(default=None, max_length=16)
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    virtual_size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    min_disk_gib: int | None = None
    # Hidden images stay usable by the servers built on them but are refused to new servers.
    hidden: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
