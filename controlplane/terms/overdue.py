"""Nonpayment enforcement (Art. 33(1), 21(1), 16(5)): deadlines from their anchors and the decided actions.

Deadlines come from the due date and from the day the restriction actually began, never from "today",
so a sweep that missed days still restricts first and terminates only 5 days after that restriction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from controlplane.terms.actions import Action, ActionKind, NoticeKind
from controlplane.terms.calendar import add_days
from controlplane.terms.clauses import ART_16_5, ART_21_1, ART_33_1, Clause
from controlplane.terms.errors import ExtensionTooLate, TermsError
from controlplane.terms.money import Won
from controlplane.terms.policy import DEFAULT_POLICY, Policy


def regular_restriction_date(due: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 33(1): restricted once the invoice is unpaid 30 days after its due date."""
    return add_days(due, policy.restrict_after_overdue_days)


def latest_extension_date(due: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 33(1) proviso: an approved extension moves the restriction at most to due + 60 days."""
    return add_days(due, policy.max_extension_after_due_days)


def restriction_date(due: date, extension_until: date | None = None,
                     policy: Policy = DEFAULT_POLICY) -> date:
    """The day service is restricted: due + 30, or the approved extension date (<= due + 60)."""
    if extension_until is None:
        return regular_restriction_date(due, policy)
    latest = latest_extension_date(due, policy)
    if extension_until > latest:
        raise ExtensionTooLate(
            f"an extension may move the restriction at most to {latest.isoformat()} "
            f"({policy.max_extension_after_due_days} days after the due date {due.isoformat()}), "
            f"not to {extension_until.isoformat()}",
            field="extension_until",
        )
    regular = regular_restriction_date(due, policy)
    if extension_until < regular:
        raise TermsError(
            f"an extension must not restrict earlier than the regular date {regular.isoformat()}",
            field="extension_until",
        )
    return extension_until


def termination_date(restricted_on: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 21(1) via 33(1): terminated if still unpaid 5 days after the restriction actually began."""
    return add_days(restricted_on, policy.terminate_after_restriction_days)


@dataclass(frozen=True, slots=True)
class Deadlines:
    due: date
    restriction_on: date
    restriction_clause: Clause
    termination_on: date
    termination_clause: Clause
    extended: bool


def nonpayment_deadlines(due: date, extension_until: date | None = None,
                         policy: Policy = DEFAULT_POLICY) -> Deadlines:
    """Planned dates if the service is restricted on its restriction date (billing desk view)."""
    restrict_on = restriction_date(due, extension_until, policy)
    return Deadlines(due, restrict_on, ART_33_1, termination_date(restrict_on, policy), ART_21_1,
                     extension_until is not None)


@dataclass(frozen=True, slots=True)
class UnpaidInvoice:
    invoice_id: str
    due: date
    unpaid: Won


@dataclass(frozen=True, slots=True)
class NonpaymentFacts:
    """What the store knows about one contract's arrears on the sweep day.

    `restricted_since` is the day the current (unlifted) nonpayment block began, if any;
    `extension_until` is an operator-approved Art. 33(1) extension.
    """

    contract_id: str
    invoices: Sequence[UnpaidInvoice]
    as_of: date
    restricted_since: date | None = None
    extension_until: date | None = None


def decide_nonpayment(facts: NonpaymentFacts, policy: Policy = DEFAULT_POLICY) -> list[Action]:
    """The actions the terms require today for this contract's nonpayment; empty when none."""
    overdue = sorted((i for i in facts.invoices if i.unpaid > 0), key=lambda i: (i.due, i.invoice_id))
    if not overdue:
        return _lift(facts) if facts.restricted_since is not None else []
    if facts.restricted_since is None:
        return _restrict_or_warn(facts, overdue, policy)
    return _terminate_if_due(facts, overdue, policy)


def _lift(facts: NonpaymentFacts) -> list[Action]:
    # Art. 16(5): once the cause is resolved (paid in full), service is restored at once.
    key = f"contract:{facts.contract_id}:nonpayment-block:{facts.restricted_since}"
    reason = "every invoice is paid in full; the nonpayment restriction is lifted"
    return [
        Action(ActionKind.LIFT, ART_16_5, reason, facts.as_of, f"{key}:lift"),
        Action(ActionKind.NOTIFY, ART_16_5, reason, facts.as_of, f"{key}:lifted-notice",
               notice=NoticeKind.LIFTED),
    ]


def _anchored_restriction(facts: NonpaymentFacts, oldest: UnpaidInvoice, policy: Policy) -> date:
    """Restriction day of the oldest unpaid invoice; an extension older than that invoice is ignored."""
    regular = regular_restriction_date(oldest.due, policy)
    extension = facts.extension_until
    if extension is None or extension <= regular:
        return regular
    return restriction_date(oldest.due, extension, policy)


def _restrict_or_warn(facts: NonpaymentFacts, overdue: list[UnpaidInvoice], policy: Policy) -> list[Action]:
    oldest = overdue[0]
    restrict_on = _anchored_restriction(facts, oldest, policy)
    ids = tuple(i.invoice_id for i in overdue)
    key = f"contract:{facts.contract_id}:invoice:{oldest.invoice_id}:restrict:{restrict_on}"
    total = sum(i.unpaid for i in overdue)
    if facts.as_of >= restrict_on:
        late_by = (facts.as_of - oldest.due).days
        reason = (f"invoice {oldest.invoice_id} due {oldest.due.isoformat()} unpaid {late_by} days "
                  f"after its due date ({total:,} KRW unpaid in all); restriction day was "
                  f"{restrict_on.isoformat()}; termination if still unpaid on "
                  f"{termination_date(facts.as_of, policy).isoformat()}")
        return [
            Action(ActionKind.RESTRICT, ART_33_1, reason, restrict_on, key, invoice_ids=ids),
            Action(ActionKind.NOTIFY, ART_33_1, reason, restrict_on, f"{key}:notice",
                   notice=NoticeKind.RESTRICTED, invoice_ids=ids),
        ]
    if (restrict_on - facts.as_of).days <= policy.restriction_warning_days:
        reason = (f"invoice {oldest.invoice_id} due {oldest.due.isoformat()} is unpaid "
                  f"({total:,} KRW in all); service will be restricted on {restrict_on.isoformat()}")
        return [Action(ActionKind.NOTIFY, ART_33_1, reason, restrict_on, f"{key}:warning",
                       notice=NoticeKind.RESTRICTION_WARNING, invoice_ids=ids)]
    return []


def _terminate_if_due(facts: NonpaymentFacts, overdue: list[UnpaidInvoice], policy: Policy) -> list[Action]:
    assert facts.restricted_since is not None
    terminate_on = termination_date(facts.restricted_since, policy)
    if facts.as_of < terminate_on:
        return []
    ids = tuple(i.invoice_id for i in overdue)
    total = sum(i.unpaid for i in overdue)
    key = f"contract:{facts.contract_id}:nonpayment-block:{facts.restricted_since}:terminate"
    reason = (f"still {total:,} KRW unpaid {policy.terminate_after_restriction_days} days after the "
              f"restriction began on {facts.restricted_since.isoformat()}")
    automatic = policy.auto_terminate_nonpayment
    notice = NoticeKind.TERMINATION if automatic else NoticeKind.TERMINATION_ELIGIBLE
    return [
        Action(ActionKind.TERMINATE, ART_21_1, reason, terminate_on, key, automatic=automatic,
               invoice_ids=ids),
        Action(ActionKind.NOTIFY, ART_21_1, reason, terminate_on, f"{key}:notice", notice=notice,
               invoice_ids=ids),
    ]
