"""Which policy (terms version) applies: the current one for new contracts, the pinned one afterwards."""

from __future__ import annotations

from controlplane.terms.policy import DEFAULT_POLICY, Policy

# Every version a contract may be pinned to (Art. 3(4)); a deployment adds its overrides here.
_POLICIES: dict[str, Policy] = {DEFAULT_POLICY.version: DEFAULT_POLICY}


def current_policy() -> Policy:
    """The version new applications are pinned to: the latest effective one."""
    return max(_POLICIES.values(), key=lambda p: p.effective_from)


def policy_for(version: str) -> Policy:
    """The policy a contract is pinned to; an unknown version falls back to the current one."""
    return _POLICIES.get(version) or current_policy()
