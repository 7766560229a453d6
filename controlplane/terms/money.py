"""Integer KRW with exact intermediate arithmetic, floored to the won once per formula (원 미만 절사)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

Won = int
Exact = Fraction | Decimal | int


def exact(value: Exact) -> Fraction:
    """The value as an exact Fraction (Decimal converts without rounding)."""
    return Fraction(value)


def floor_won(value: Exact) -> Won:
    """Drops the fraction of a won; applied once, at the end of a formula, never to intermediates."""
    return math.floor(exact(value))


def format_won(amount: Won) -> str:
    """`1,528 KRW`: the billing desk's display form."""
    return f"{amount:,} KRW"
