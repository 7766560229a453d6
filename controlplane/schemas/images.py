"""Image schemas (issue 9): what an import accepts and what an image looks like through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controlplane.models.image import ImageState
from controlplane.protocol import DiskFormat
from controlplane.schemas.types import IntegerOnly, Line

MAX_MIN_DISK_GIB = 64 * 1024
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ImageImport(BaseModel):
    """Exactly one source: an http(s) URL, or a file under the control plane's import directories."""

    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=128)
    source_url: Line | None = Field(
        default=None, min_length=8, max_length=2048, pattern=r"^[hH][tT][tT][pP][sS]?://"
    )
    source_path: Line | None = Field(default=None, min_length=2, max_length=2048, pattern=r"^/")
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN, description="verified when given")
    min_disk_gib: Annotated[int, Field(ge=1, le=MAX_MIN_DISK_GIB), IntegerOnly] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImageImport:
        if (self.source_url is None) == (self.source_path is None):
            raise ValueError("give exactly one of source_url and source_path")
        return self

    @property
    def source(self) -> str:
        return self.source_url or self.source_path or ""


class ImageHide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: bool = True


class ImagePublic(BaseModel):
    id: str
    name: str
    state: ImageState
    failure_reason: str | None
    source: str
    sha256: str | None
    expected_sha256: str | None
    disk_format: DiskFormat | None
    size_bytes: int | None
    virtual_size_bytes: int | None
    min_disk_gib: int | None
    hidden: bool
    created_at: datetime
    updated_at: datetime
