"""Imports every module that defines tables, so SQLModel.metadata is complete (app, Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel


def load_all_models() -> MetaData:
    import controlplane.models  # noqa: F401
    import network.models  # noqa: F401

    return SQLModel.metadata
