"""How periods of days are counted (Civil Act Art. 157, 159): the rule behind every "N days" of the terms.

A period of N days that runs from an event on day E does not count E (the event happens after 00:00):
it covers E+1 … E+N and expires at the end of E+N. An action allowed "after" the period happens on
E+N+1 at the earliest; a right "within" the period lasts through the end of E+N. A period that starts
at 00:00 of a day (an effective date, an open date) counts that day. Every deadline says which
counting gave it, so an auditor can redo the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Counting(StrEnum):
    # Civil Act Art. 157 main text: the first day (the event's) is not counted.
    FROM_EVENT = "civil-act-157: event day not counted"
    # Civil Act Art. 157 proviso: a period that starts at 00:00 counts its first day.
    FROM_START_OF_DAY = "civil-act-157-proviso: first day counted"


@dataclass(frozen=True, slots=True)
class Period:
    """`days` calendar days counted from `anchor` under `counting`."""

    anchor: date
    days: int
    counting: Counting = Counting.FROM_EVENT

    @property
    def first_day(self) -> date:
        return self.anchor + timedelta(days=1) if self.counting is Counting.FROM_EVENT else self.anchor

    @property
    def expires_end_of(self) -> date:
        """The last day inside the period: a right "within" it lasts through the end of this day."""
        return self.first_day + timedelta(days=self.days - 1)

    @property
    def acts_on(self) -> date:
        """The first day an action allowed "after" the period may be taken."""
        return self.expires_end_of + timedelta(days=1)

    def describe(self) -> str:
        """`30 days after 2027-02-28 (03-01 … 03-30, civil-act-157: ...)`: the arithmetic, for records."""
        return (
            f"{self.days} days from {self.anchor.isoformat()} ({self.first_day.isoformat()} … "
            f"{self.expires_end_of.isoformat()}, {self.counting.value}); "
            f"acts on {self.acts_on.isoformat()}"
        )


def days_after(anchor: date, days: int) -> Period:
    """The period of `days` that follows an event on `anchor` (the event's day not counted)."""
    return Period(anchor, days, Counting.FROM_EVENT)


def days_from_start_of(anchor: date, days: int) -> Period:
    """The period of `days` that begins at 00:00 of `anchor` (that day counted)."""
    return Period(anchor, days, Counting.FROM_START_OF_DAY)
