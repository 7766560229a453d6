"""The network module's policy numbers, read from the one terms policy (TERMS-MAP: numbers live there).

Quarantine (`address_quarantine_days`) follows the version of the contract that released the address
(Art. 3(4): each contract is pinned to its version); an address without a contract rests by the
deployment's version in force on the day of reuse.
"""

from __future__ import annotations

import logging
from datetime import datetime

from controlplane.policy_registry import UnknownPolicyVersion, current_policy, known_policies, policy_for
from controlplane.terms.calendar import seoul_date

log = logging.getLogger(__name__)


def quarantine_days(at: datetime | None = None) -> int:
    """Days a released address rests before reuse under the deployment's version in force at `at`."""
    return current_policy(seoul_date(at) if at is not None else None).address_quarantine_days


def shortest_quarantine_days() -> int:
    """No address can come back sooner than this, whatever its releasing contract's version."""
    return min(p.address_quarantine_days for p in known_policies())


def uniform_quarantine_days() -> int | None:
    """The one quarantine every version shares (the usual case: no per-address look-up needed), else None."""
    days = {p.address_quarantine_days for p in known_policies()}
    return days.pop() if len(days) == 1 else None


def pinned_quarantine_days(terms_version: str | None, at: datetime) -> int:
    """The releasing contract's version's quarantine; the deployment's current one without a contract.

    An unknown pinned version takes the longest quarantine of any version: reusing an address too early
    can hand the former holder's traffic to someone else, resting it longer only delays reuse."""
    if terms_version is None:
        return quarantine_days(at)
    try:
        return policy_for(terms_version).address_quarantine_days
    except UnknownPolicyVersion as exc:
        log.warning("address quarantine: %s; using the longest quarantine", exc.message)
        return max(p.address_quarantine_days for p in known_policies())
