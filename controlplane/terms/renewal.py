"""Automatic renewal (Art. 18) and the terms version a renewed contract is pinned to (Art. 3(4))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.calendar import add_days, term_end
from controlplane.terms.clauses import ART_3_4, ART_18, Clause
from controlplane.terms.policy import Policy


@dataclass(frozen=True, slots=True)
class Term:
    """A contract term, `first`..`last` inclusive, `months` long."""

    first: date
    last: date
    months: int


@dataclass(frozen=True, slots=True)
class RenewalDecision:
    renews: bool
    clause: Clause
    reason: str
    next_term: Term | None = None
    terms_version: str | None = None


def base_term(start: date, policy: Policy) -> Term:
    """Art. 18: the base term is 1 year from the open date (opened on the 31st: see `term_end`)."""
    months = 12 * policy.base_term_years
    return Term(start, term_end(start, months), months)


def next_term(current: Term) -> Term:
    """The same length again, starting the day after the current term's last day."""
    start = add_days(current.last, 1)
    return Term(start, term_end(start, current.months), current.months)


def decide_renewal(
    current: Term,
    current_version: str,
    *,
    termination_requested: bool,
    latest_version: str | None = None,
    objected_to_latest: bool = False,
    accepted_latest: bool = False,
) -> RenewalDecision:
    """What happens at the end of `current`: renew on the same conditions, or end.

    Art. 3(4): a customer who objected to a newer terms version keeps the old one to the end of the
    term, and may renew only by accepting the new version.
    """
    if termination_requested:
        return RenewalDecision(False, ART_18, "the customer asked to terminate at the end of the term")
    newer = latest_version is not None and latest_version != current_version
    if newer and objected_to_latest and not accepted_latest:
        return RenewalDecision(
            False, ART_3_4, f"the customer objected to terms {latest_version} and has not accepted them"
        )
    version = latest_version if newer else current_version
    return RenewalDecision(
        True, ART_18, "renewed for the same term on the same conditions", next_term(current), version
    )
