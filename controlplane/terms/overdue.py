"""Nonpayment enforcement (Art. 33(1), 21(1), 16(5)): deadlines from their anchors and the decided actions.

Periods are counted as the Civil Act counts them (terms/periods.py): "30 days after the due date D" covers
D+1 … D+30, so the restriction happens on D+31 at the earliest; "5 days from the restriction day R"
covers R+1 … R+5, so termination happens on R+6 at the earliest. Deadlines come from the due date and
from the day the restriction actually began, never from "today", so a sweep that missed days still
restricts first and terminates only after the full 5 days of that restriction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from controlplane.terms.actions import Action, ActionKind, NoticeKind
from controlplane.terms.clauses import ART_16_5, ART_21_1, ART_33_1, Clause
from controlplane.terms.errors import ExtensionTooLate, TermsError
from controlplane.terms.money import Won
from controlplane.terms.periods import Period, days_after
from controlplane.terms.policy import Policy


def restriction_period(due: date, *, policy: Policy) -> Period:
    """Art. 33(1) "납부일을 30일 이상 경과 후": the 30 full days after the due date."""
    return days_after(due, policy.restrict_after_overdue_days)


def regular_restriction_date(due: date, *, policy: Policy) -> date:
    """Art. 33(1): the first day service may be restricted, once 30 full days after due have passed."""
    return restriction_period(due, policy=policy).acts_on


def extension_period(due: date, *, policy: Policy) -> Period:
    """Art. 33(1) proviso: an approved extension runs at most 60 full days after the due date."""
    return days_after(due, policy.max_extension_after_due_days)


def latest_extension_date(due: date, *, policy: Policy) -> date:
    """The latest restriction day an extension may set (due + 61 with the default 60 days)."""
    return extension_period(due, policy=policy).acts_on


def restriction_date(due: date, extension_until: date | None = None, *, policy: Policy) -> date:
    """The day service is restricted: the regular day, or the approved extension's day (<= the latest)."""
    if extension_until is None:
        return regular_restriction_date(due, policy=policy)
    latest = latest_extension_date(due, policy=policy)
    if extension_until > latest:
        raise ExtensionTooLate(
            f"an extension may move the restriction at most to {latest.isoformat()} "
            f"({policy.max_extension_after_due_days} full days after the due date {due.isoformat()}), "
            f"not to {extension_until.isoformat()}",
            field="extension_until",
        )
    regular = regular_restriction_date(due, policy=policy)
    if extension_until < regular:
        raise TermsError(
            f"an extension must not restrict earlier than the regular date {regular.isoformat()}",
            field="extension_until",
        )
    return extension_until


def termination_period(restricted_on: date, *, policy: Policy) -> Period:
    """Art. 33(1) "이용제한일로부터 5일 이내": the 5 full days after the restriction day."""
    return days_after(restricted_on, policy.terminate_after_restriction_days)


def termination_date(restricted_on: date, *, policy: Policy) -> date:
    """Art. 21(1) via 33(1): terminated if still unpaid once the 5 days after the restriction day passed."""
    return termination_period(restricted_on, policy=policy).acts_on


@dataclass(frozen=True, slots=True)
class Deadlines:
    due: date
    restriction_on: date
    restriction_clause: Clause
    termination_on: date
    termination_clause: Clause
    extended: bool
    restriction_counting: str = ""
    termination_counting: str = ""


def nonpayment_deadlines(due: date, extension_until: date | None = None, *, policy: Policy) -> Deadlines:
    """Planned dates if the service is restricted on its restriction date (billing desk view)."""
    restrict_on = restriction_date(due, extension_until, policy=policy)
    counting = (
        f"approved extension to {restrict_on.isoformat()}"
        if extension_until is not None
        else restriction_period(due, policy=policy).describe()
    )
    return Deadlines(
        due,
        restrict_on,
        ART_33_1,
        termination_date(restrict_on, policy=policy),
        ART_21_1,
        extension_until is not None,
        counting,
        termination_period(restrict_on, policy=policy).describe(),
    )


@dataclass(frozen=True, slots=True)
class UnpaidInvoice:
    """`unpaid` leaves out any amount under open dispute (Art. 35); `restrict_not_before` is set when a
    dispute was upheld: restriction never before 7 full days after the answer."""

    invoice_id: str
    due: date
    unpaid: Won
    extension_until: date | None = None
    restrict_not_before: date | None = None


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


def decide_nonpayment(facts: NonpaymentFacts, *, policy: Policy) -> list[Action]:
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
        Action(
            ActionKind.NOTIFY, ART_16_5, reason, facts.as_of, f"{key}:lifted-notice", notice=NoticeKind.LIFTED
        ),
    ]


def invoice_restriction_day(
    invoice: UnpaidInvoice, *, policy: Policy, extension_until: date | None = None
) -> tuple[date, str]:
    """One invoice's restriction day and how it was counted: the regular day, or its approved extension
    (an extension earlier than the regular day is ignored), never before an upheld dispute allows."""
    period = restriction_period(invoice.due, policy=policy)
    day, counting = period.acts_on, period.describe()
    extension = invoice.extension_until or extension_until
    if extension is not None and extension > period.acts_on:
        day = restriction_date(invoice.due, extension, policy=policy)
        counting = (
            f"approved extension to {extension.isoformat()} (at most "
            f"{extension_period(invoice.due, policy=policy).describe()})"
        )
    if invoice.restrict_not_before is not None and invoice.restrict_not_before > day:
        day = invoice.restrict_not_before
        counting += f"; an upheld dispute: not before {day.isoformat()} (7 full days after the answer)"
    return day, counting


def _restrict_or_warn(facts: NonpaymentFacts, overdue: list[UnpaidInvoice], policy: Policy) -> list[Action]:
    days = {
        i.invoice_id: invoice_restriction_day(
            i, policy=policy, extension_until=facts.extension_until if k == 0 else None
        )
        for k, i in enumerate(overdue)
    }
    anchor = min(overdue, key=lambda i: (days[i.invoice_id][0], i.due, i.invoice_id))
    restrict_on, counting = days[anchor.invoice_id]
    oldest = anchor
    ids = tuple(i.invoice_id for i in overdue)
    key = f"contract:{facts.contract_id}:invoice:{oldest.invoice_id}:restrict:{restrict_on}"
    total = sum(i.unpaid for i in overdue)
    if facts.as_of >= restrict_on:
        late_by = (facts.as_of - oldest.due).days
        # A late sweep restricts late, so the termination day counts from the day it really restricts.
        terminate_on = termination_date(facts.as_of, policy=policy)
        reason = (
            f"invoice {oldest.invoice_id} due {oldest.due.isoformat()} unpaid {late_by} days "
            f"after its due date ({total:,} KRW unpaid in all); the terms allowed restriction from "
            f"{restrict_on.isoformat()}, restricted on {facts.as_of.isoformat()}; termination if "
            f"still unpaid on {terminate_on.isoformat()}"
        )
        return [
            Action(
                ActionKind.RESTRICT, ART_33_1, reason, restrict_on, key, invoice_ids=ids, counting=counting
            ),
            Action(
                ActionKind.NOTIFY,
                ART_33_1,
                reason,
                restrict_on,
                f"{key}:notice",
                notice=NoticeKind.RESTRICTED,
                invoice_ids=ids,
                counting=counting,
            ),
        ]
    if (restrict_on - facts.as_of).days <= policy.restriction_warning_days:
        reason = (
            f"invoice {oldest.invoice_id} due {oldest.due.isoformat()} is unpaid "
            f"({total:,} KRW in all); service will be restricted on {restrict_on.isoformat()}"
        )
        return [
            Action(
                ActionKind.NOTIFY,
                ART_33_1,
                reason,
                restrict_on,
                f"{key}:warning",
                notice=NoticeKind.RESTRICTION_WARNING,
                invoice_ids=ids,
                counting=counting,
            )
        ]
    return []


def _terminate_if_due(facts: NonpaymentFacts, overdue: list[UnpaidInvoice], policy: Policy) -> list[Action]:
    assert facts.restricted_since is not None
    period = termination_period(facts.restricted_since, policy=policy)
    if facts.as_of < period.acts_on:
        return []
    ids = tuple(i.invoice_id for i in overdue)
    total = sum(i.unpaid for i in overdue)
    key = f"contract:{facts.contract_id}:nonpayment-block:{facts.restricted_since}:terminate"
    reason = (
        f"still {total:,} KRW unpaid once the {policy.terminate_after_restriction_days} full days "
        f"after the restriction of {facts.restricted_since.isoformat()} passed (through "
        f"{period.expires_end_of.isoformat()}); the terms allowed termination from "
        f"{period.acts_on.isoformat()}"
    )
    automatic = policy.auto_terminate_nonpayment
    notice = NoticeKind.TERMINATION if automatic else NoticeKind.TERMINATION_ELIGIBLE
    return [
        Action(
            ActionKind.TERMINATE,
            ART_21_1,
            reason,
            period.acts_on,
            key,
            automatic=automatic,
            invoice_ids=ids,
            counting=period.describe(),
        ),
        Action(
            ActionKind.NOTIFY,
            ART_21_1,
            reason,
            period.acts_on,
            f"{key}:notice",
            notice=notice,
            invoice_ids=ids,
            counting=period.describe(),
        ),
    ]
