"""What `/v1/policies` returns: every number of one terms policy version, flat and named as in `Policy`."""

from __future__ import annotations

import dataclasses
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from controlplane.terms.policy import DEFAULT_POLICY, Policy


def _api_type(value: Any) -> Any:
    # Fractions travel as exact "15/1000"-style strings (Policy.to_dict), never as floats.
    if isinstance(value, Fraction):
        return str
    return type(value)


class _PolicyMeta(BaseModel):
    current: bool = Field(description="the version new applications are pinned to today")
    source: Literal["built-in", "deployment"] = Field(description="the code default or DCLOUD_POLICY_FILE")


# Built from the dataclass, so a number added to Policy shows up here without a second list to keep.
PolicyPublic: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PolicyPublic",
    __base__=_PolicyMeta,
    **{f.name: (_api_type(getattr(DEFAULT_POLICY, f.name)), ...) for f in dataclasses.fields(Policy)},
)


def policy_public(policy: Policy, *, current: bool, builtin: bool) -> BaseModel:
    values = policy.to_dict()
    values["effective_from"] = date.fromisoformat(values["effective_from"])
    return PolicyPublic(**values, current=current, source="built-in" if builtin else "deployment")
