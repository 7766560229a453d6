"""The kinds of value the API accepts, each with its declared range: one definition, used everywhere.

Every id, amount, day, moment and string the API takes (body, path or query) is one of these, so the
OpenAPI shows its range and nothing outside it reaches the store: an integer past PostgreSQL's 2^31-1, a
day whose arithmetic overflows (`9999-12-31` + 30 days), a moment in year 1 at +14:00, a NUL byte
PostgreSQL cannot store, or a line break that would forge a line in WHOIS.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

MAX_ID = 2**31 - 1  # PostgreSQL `integer`, the narrowest id column
MAX_WON = 10**15  # a thousand trillion won: past any real bill, far inside BigInteger
MAX_COUNT = 10**9

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
FIRST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
DAY_RANGE = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"

# C0 and C1 controls, DEL, and the bidi overrides/isolates/marks (they reorder what a terminal or a
# WHOIS client shows). Written as an ECMA/Rust-compatible class so the OpenAPI `pattern` is usable.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS_BUT_NEWLINE = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
LINE_PATTERN = f"^[^{_CONTROLS}]*$"
MULTILINE_PATTERN = f"^[^{_CONTROLS_BUT_NEWLINE}]*$"
_LINE = re.compile(f"[{_CONTROLS}]")
_MULTILINE = re.compile(f"[{_CONTROLS_BUT_NEWLINE}]")


def _not_a_boolean(value: Any) -> Any:
    # JSON `true` is not a number; pydantic's lax mode would take it as 1.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be an integer, not a boolean")
    return value


def _whole_number(value: Any) -> Any:
    # Refuse 1.0, NaN and Infinity before pydantic's lax float-to-int conversion sees them.
    if isinstance(value, float):
        raise PydanticCustomError("int_type", "Input should be an integer")
    return _not_a_boolean(value)


def _printable(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if pattern.search(value):
            raise PydanticCustomError("string_control_character", f"must not contain {what}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("string_unicode", "must be valid Unicode (no lone surrogate)") from None
        return value

    return AfterValidator(check)


def _range(low: Any, high: Any) -> Any:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            message = f"must be between {low.isoformat()} and {high.isoformat()}"
            raise PydanticCustomError("out_of_range", message)
        return value

    return AfterValidator(check)


_Integer = BeforeValidator(_whole_number)
# For an optional bounded whole number: `Annotated[int, Field(ge=.., le=..), IntegerOnly] | None` (the bounds
# must sit before the validator for the OpenAPI to show them).
IntegerOnly = _Integer

# Ids of rows: in bodies, paths and queries alike.
Id = Annotated[int, Field(ge=1, le=MAX_ID), _Integer]
# Amounts of money in won: never negative, never past MAX_WON.
Won = Annotated[int, Field(ge=0, le=MAX_WON), _Integer]
PositiveWon = Annotated[int, Field(ge=1, le=MAX_WON), _Integer]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), _Integer]
# A whole number whose range the field states (`vcpus: Whole = Field(ge=1, le=64)`): the kinds above
# carry their own range, which a field's `Field(ge=..., le=...)` cannot narrow.
Whole = Annotated[int, _Integer]
# A calendar day and an aware moment inside 2000..2100: every day the terms can reason about.
Day = Annotated[
    date,
    _range(FIRST_DAY, LAST_DAY),
    Field(
        description=f"a day from {DAY_RANGE}",
        json_schema_extra={"formatMinimum": FIRST_DAY.isoformat(), "formatMaximum": LAST_DAY.isoformat()},
    ),
]
Moment = Annotated[
    AwareDatetime,
    _range(FIRST_MOMENT, LAST_MOMENT),
    Field(
        description=f"an instant with its UTC offset, from {DAY_RANGE}",
        json_schema_extra={
            "formatMinimum": FIRST_MOMENT.isoformat(),
            "formatMaximum": LAST_MOMENT.isoformat(),
        },
    ),
]
# `YYYY-MM` of a month in the same range.
MONTH_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"
MonthText = Annotated[str, Field(pattern=MONTH_PATTERN, description="YYYY-MM, 2000-01 to 2100-12")]
# Strings: one line (names, addresses, references) or text that may need a newline (reasons, answers).
Line = Annotated[
    str,
    _printable(_LINE, "control characters (C0, C1, DEL) or bidi controls"),
    Field(json_schema_extra={"pattern": LINE_PATTERN}),
]
Text = Annotated[
    str,
    _printable(_MULTILINE, "control characters other than newline and tab, or bidi controls"),
    Field(json_schema_extra={"pattern": MULTILINE_PATTERN}),
]
# A string that names a row in a path or query (a server's id, a host, a policy version, an address).
Key = Annotated[Line, Field(min_length=1, max_length=128)]
