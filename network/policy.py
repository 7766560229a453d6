"""The network module's policy numbers, read from the one terms policy (TERMS-MAP: numbers live there)."""

from __future__ import annotations

# Used only while the terms engine's Policy is not importable (it is built in parallel).
_FALLBACK_QUARANTINE_DAYS = 30


def quarantine_days() -> int:
    """Days a released address rests before reuse (policy `address_quarantine_days`, default 30)."""
    try:
        from controlplane.terms import policy as terms_policy
    except ImportError:
        return _FALLBACK_QUARANTINE_DAYS
    current = getattr(terms_policy, "DEFAULT_POLICY", None)
    if current is None:
        factory = getattr(terms_policy, "Policy", None)
        try:
            current = factory() if factory is not None else None
        except TypeError:  # a Policy that needs arguments: fall back rather than guess them
            current = None
    return int(getattr(current, "address_quarantine_days", _FALLBACK_QUARANTINE_DAYS))
