"""The one versioned policy: every number of TERMS-MAP.md, named, overridable per deployment.

Contracts are pinned to a policy version (Art. 3(4)); a deployment overrides values through `from_dict`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from controlplane.terms.errors import PolicyInvalid


@dataclass(frozen=True)
class Policy:
    """Defaults are the map's numbers; each field names the clause it implements."""

    version: str = "2025-01"
    effective_from: date = date(2025, 1, 1)
    # Art. 3(2),(3): when the version was announced to customers, and whether it is unfavourable to them
    # (30 days notice instead of 7). No announcement: a deployment-internal override, no customer notice.
    announced_on: date | None = None
    unfavourable: bool = False
    # Art. 33(1), 21(1): restrict once 30 full days after due have passed (due+31, Civil Act counting),
    # terminate once 5 full days after the restriction day have passed (restriction+6), an approved
    # extension moves the restriction at most to the day after 60 full days (due+61).
    restrict_after_overdue_days: int = 30
    terminate_after_restriction_days: int = 5
    max_extension_after_due_days: int = 60
    auto_terminate_nonpayment: bool = True
    # Art. 20(4): a termination caused by the customer's fault (ex officio, Art. 21) bears the penalty.
    penalty_on_ex_officio: bool = True
    # Not in the terms: how many days before a nonpayment restriction the customer is warned.
    restriction_warning_days: int = 7
    # Art. 34: late fee 15/1000 a month, annualised (x 12) and charged per day of a 365-day year.
    late_fee_rate_monthly: Fraction = Fraction(15, 1000)
    late_fee_months_per_year: int = 12
    late_fee_days_per_year: int = 365
    # Art. 32(5): VAT on the supply amount, shown separately.
    vat_rate: Fraction = Fraction(1, 10)
    # Art. 31(1): invoice for M sent by the 10th of M+1, due the last day of M+1.
    invoice_send_by_day: int = 10
    # Art. 32(3): penalty 60% of the average of the last 3 monthly fees x remaining months.
    penalty_rate: Fraction = Fraction(60, 100)
    penalty_fee_history_months: int = 3
    # Art. 35(1), 26(4),(5), 19(2), 37(2), 3(2), 9(2), 20(2).
    dispute_window_days: int = 15
    dispute_answer_days: int = 7
    spam_answer_days: int = 7
    spam_fix_report_days: int = 7
    succession_filing_days: int = 30
    claim_window_months: int = 3
    term_change_notice_days: int = 7
    # Art. 3(3): objections through the 7th day counting the effective date itself (E … E+6).
    objection_days: int = 7
    unfavourable_term_change_notice_days: int = 30
    open_date_postpone_notice_days: int = 3
    termination_notice_days: int = 7
    # Art. 16(4),(5), 21(4): other restrictions last at most 1 month; cure within 1 month after.
    restriction_max_months: int = 1
    cure_period_months: int = 1
    # Art. 36(2),(3): availability threshold, minimum outage, grace after notice.
    sla_threshold_percent: Fraction = Fraction(95)
    outage_min_minutes: int = 30
    outage_grace_minutes: int = 30
    # Art. 18: base term, renewed for the same term.
    base_term_years: int = 1
    # Art. 10(8)-1: regular maintenance inside 00:00-07:00 Seoul, announced this many days ahead.
    maintenance_from_hour: int = 0
    maintenance_until_hour: int = 7
    maintenance_notice_days: int = 7
    # Network: a released address waits this long before it is lent again (not in the terms).
    address_quarantine_days: int = 30
    # Art. 24(1): one address per server unless agreed otherwise.
    addresses_per_server: int = 1

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; fractions as `"15/1000"`-style strings, dates ISO."""
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Policy:
        """Defaults overridden by `values`; unknown keys are rejected so a typo cannot go unnoticed."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PolicyInvalid(f"unknown policy field {unknown[0]!r}", field=unknown[0])
        parsed = {name: _load(known[name], name, raw) for name, raw in values.items()}
        return cls(**parsed)

    def replace(self, **changes: Any) -> Policy:
        return dataclasses.replace(self, **changes)


_NON_NUMBER_FIELDS = {
    "version",
    "effective_from",
    "announced_on",
    "unfavourable",
    "auto_terminate_nonpayment",
    "penalty_on_ex_officio",
}
_BOOL_FIELDS = {"auto_terminate_nonpayment", "unfavourable", "penalty_on_ex_officio"}
_FRACTION_FIELDS = {"late_fee_rate_monthly", "vat_rate", "penalty_rate", "sla_threshold_percent"}
_POSITIVE_FIELDS = {
    "late_fee_months_per_year",
    "late_fee_days_per_year",
    "base_term_years",
    "penalty_fee_history_months",
    "objection_days",
}


def _validate(policy: Policy) -> None:
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        if f.name in _NON_NUMBER_FIELDS:
            continue
        if isinstance(value, bool) or not isinstance(value, int | Fraction):
            raise PolicyInvalid(f"{f.name} must be a number, got {value!r}", field=f.name)
        if value < 0:
            raise PolicyInvalid(f"{f.name} must not be negative, got {value}", field=f.name)
        if f.name in _POSITIVE_FIELDS and value == 0:
            raise PolicyInvalid(f"{f.name} must be positive", field=f.name)
    _validate_ranges(policy)


def _validate_ranges(policy: Policy) -> None:
    if not policy.version:
        raise PolicyInvalid("version must not be empty", field="version")
    if not isinstance(policy.effective_from, date):
        raise PolicyInvalid("effective_from must be a date", field="effective_from")
    if policy.announced_on is not None and not isinstance(policy.announced_on, date):
        raise PolicyInvalid("announced_on must be a date", field="announced_on")
    if not 1 <= policy.invoice_send_by_day <= 28:
        raise PolicyInvalid(
            "invoice_send_by_day must be 1..28 so it exists in every month", field="invoice_send_by_day"
        )
    if not policy.maintenance_from_hour < policy.maintenance_until_hour <= 24:
        raise PolicyInvalid(
            "maintenance hours must satisfy from < until <= 24", field="maintenance_until_hour"
        )
    if policy.sla_threshold_percent > 100:
        raise PolicyInvalid("sla_threshold_percent must be at most 100", field="sla_threshold_percent")
    if policy.max_extension_after_due_days < policy.restrict_after_overdue_days:
        raise PolicyInvalid(
            "max_extension_after_due_days must not be before the regular restriction",
            field="max_extension_after_due_days",
        )


def _dump(value: Any) -> Any:
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _load(spec: dataclasses.Field[Any], name: str, raw: Any) -> Any:
    try:
        if name == "effective_from" or (name == "announced_on" and raw is not None):
            return raw if isinstance(raw, date) else date.fromisoformat(raw)
        if name == "announced_on":
            return None
        if name in _FRACTION_FIELDS:
            return Fraction(raw)
        if name == "version":
            return str(raw)
        if name in _BOOL_FIELDS:
            if not isinstance(raw, bool):
                raise TypeError("expected true or false")
            return raw
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise TypeError("expected an integer")
        return raw
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise PolicyInvalid(f"{name}: {exc}", field=name) from exc


DEFAULT_POLICY = Policy()

__all__ = ["DEFAULT_POLICY", "Policy"]
