"""Decided actions: what the enforcement sweep should do, why (clause, reason) and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from controlplane.terms.clauses import Clause


class ActionKind(StrEnum):
    RESTRICT = "restrict"
    LIFT = "lift"
    TERMINATE = "terminate"
    NOTIFY = "notify"


class NoticeKind(StrEnum):
    RESTRICTION_WARNING = "restriction_warning"
    RESTRICTED = "restricted"
    LIFTED = "lifted"
    TERMINATION = "termination"
    TERMINATION_ELIGIBLE = "termination_eligible"


@dataclass(frozen=True, slots=True)
class Action:
    """One decision. `deadline` is the anchored day the terms first allow it (not the sweep's day).

    `automatic` is False when the terms allow the action but an operator must confirm it (Art. 21(4),
    or nonpayment termination with `auto_terminate_nonpayment` off). `key` is stable across reruns so
    whoever applies the plan can make it idempotent (one notice per key, one block per key).
    """

    kind: ActionKind
    clause: Clause
    reason: str
    deadline: date
    key: str
    automatic: bool = True
    notice: NoticeKind | None = None
    invoice_ids: tuple[str, ...] = ()
    # How `deadline` was counted (terms/periods.py), so the record shows the day the terms allowed.
    counting: str = ""
