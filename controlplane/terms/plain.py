"""Turns terms results into plain JSON-ready values (for the CLI, the API and audit records)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from fractions import Fraction
from typing import Any

from controlplane.terms.calendar import MonthSpan, YearMonth
from controlplane.terms.clauses import Clause


def to_plain(value: Any) -> Any:
    """dataclasses -> dicts, dates ISO, clauses as citations, exact fractions as `"p/q"` strings."""
    if isinstance(value, Clause | YearMonth | Enum):
        return str(value.value) if isinstance(value, Enum) else str(value)
    if isinstance(value, MonthSpan):
        return {
            "month": str(value.month),
            "first": value.first.isoformat(),
            "last": value.last.isoformat(),
            "days": value.days,
            "days_in_month": value.month.days,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [to_plain(v) for v in items]
    return value
