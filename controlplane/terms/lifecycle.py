"""The contract life cycle (map section 1) as a pure transition table, each transition with its clause."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controlplane.terms.clauses import Clause
from controlplane.terms.errors import IllegalTransition


class State(StrEnum):
    APPLIED = "applied"
    HELD = "held"
    APPROVED = "approved"
    ACTIVE = "active"
    RESTRICTED = "restricted"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


class TerminationKind(StrEnum):
    """Why a contract ends, each kind with its clause; stored as `terminations.kind`."""

    CUSTOMER_REQUEST = "customer_request"  # Art. 20(2)
    INSOLVENCY = "insolvency"  # Art. 20(5)
    EX_OFFICIO = "ex_officio"  # Art. 21(1)
    NONPAYMENT = "nonpayment"  # Art. 21(1)
    CURE_FAILED = "cure_failed"  # Art. 21(4)
    TERMS_NOT_ACCEPTED = "terms_not_accepted"  # Art. 3(4)


class Event(StrEnum):
    HOLD = "hold"
    APPROVE = "approve"
    OPEN = "open"
    RESTRICT = "restrict"
    LIFT = "lift"
    TERMINATE = "terminate"
    COMPLETE_TERMINATION = "complete_termination"


@dataclass(frozen=True, slots=True)
class Transition:
    event: Event
    source: State
    target: State
    clause: Clause


_S = State
_ANY_LIVE = (_S.APPLIED, _S.HELD, _S.APPROVED, _S.ACTIVE, _S.RESTRICTED)
_RULES: list[tuple[Event, tuple[State, ...], State, str]] = [
    (Event.HOLD, (_S.APPLIED,), _S.HELD, "Art. 8"),
    (Event.APPROVE, (_S.APPLIED, _S.HELD), _S.APPROVED, "Art. 7(2)"),
    (Event.OPEN, (_S.APPROVED,), _S.ACTIVE, "Art. 9(1), Art. 23"),
    # A second block on a restricted contract keeps it restricted; blocks are rows, not states.
    (Event.RESTRICT, (_S.ACTIVE, _S.RESTRICTED), _S.RESTRICTED, "Art. 16, Art. 33(1)"),
    (Event.LIFT, (_S.RESTRICTED,), _S.ACTIVE, "Art. 16(5)"),
    (Event.TERMINATE, _ANY_LIVE, _S.TERMINATING, "Art. 20, Art. 21"),
    (Event.COMPLETE_TERMINATION, (_S.TERMINATING,), _S.TERMINATED, "Art. 20(8)"),
]

TRANSITIONS: dict[tuple[State, Event], Transition] = {
    (source, event): Transition(event, source, target, Clause(clause))
    for event, sources, target, clause in _RULES
    for source in sources
}


def transition(current: State | str, event: Event | str) -> Transition:
    """The transition `event` makes from `current`; IllegalTransition (naming `current`) if none."""
    state, ev = State(current), Event(event)
    found = TRANSITIONS.get((state, ev))
    if found is None:
        raise IllegalTransition(state.value, ev.value)
    return found


def allowed_events(current: State | str) -> list[Event]:
    state = State(current)
    return [event for (source, event) in TRANSITIONS if source is state]
