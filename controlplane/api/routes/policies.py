"""/v1/policies: the terms policy versions of this deployment (Art. 3(4)), readable by every role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from controlplane import policy_registry as policy_service
from controlplane.api.deps import ClockDep, CurrentPrincipal
from controlplane.schemas.policies import PolicyPublic, policy_public
from controlplane.schemas.types import Key
from controlplane.terms.calendar import seoul_date

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", response_model=list[PolicyPublic])  # type: ignore[valid-type]
def list_policies(_who: CurrentPrincipal, clock: ClockDep) -> list[Any]:
    """Every version, oldest effective first; `current` marks the one new applications get today."""
    current = policy_service.current_policy(seoul_date(clock())).version
    return [
        policy_public(p, current=p.version == current, builtin=policy_service.is_builtin(p))
        for p in policy_service.known_policies()
    ]


@router.get("/{version}", response_model=PolicyPublic)
def get_policy(version: Key, _who: CurrentPrincipal, clock: ClockDep) -> Any:
    policy = policy_service.policy_or_not_found(version)
    current = policy_service.current_policy(seoul_date(clock())).version
    return policy_public(policy, current=policy.version == current, builtin=policy_service.is_builtin(policy))
