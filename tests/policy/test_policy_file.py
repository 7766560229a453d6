"""DCLOUD_POLICY_FILE: partial versions override the defaults, the latest effective one is current,
a bad file stops startup naming the version and the field, and no pinned version is ever guessed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from controlplane.config import Settings
from controlplane.errors import Conflict
from controlplane.main import create_app
from controlplane.policy_registry import (
    PolicyFileInvalid,
    UnknownPolicyVersion,
    configure_policies,
    current_policy,
    known_policies,
    load_policy_file,
    pinned_policy,
    policy_for,
)
from controlplane.terms.policy import DEFAULT_POLICY
from tests.utils.policies import SLOW, SLOW_VERSION, write_policy_file

ROOT = Path(__file__).resolve().parents[2]


def test_partial_version_overrides_one_number_and_keeps_the_rest(deployed: Path) -> None:
    slow = policy_for(SLOW_VERSION)
    assert slow.restrict_after_overdue_days == 45
    assert slow.terminate_after_restriction_days == DEFAULT_POLICY.terminate_after_restriction_days == 5
    assert policy_for(DEFAULT_POLICY.version) == DEFAULT_POLICY  # the default stays for its contracts
    assert [p.version for p in known_policies()] == [DEFAULT_POLICY.version, SLOW_VERSION]


def test_current_version_is_the_latest_effective_on_the_day(deployed: Path) -> None:
    assert current_policy(date(2026, 6, 30)).version == DEFAULT_POLICY.version
    assert current_policy(date(2026, 7, 1)).version == SLOW_VERSION


def test_unknown_pinned_version_is_never_replaced_by_another(deployed: Path) -> None:
    with pytest.raises(UnknownPolicyVersion) as raised:
        policy_for("1999-01")
    assert raised.value.field == "terms_version"
    with pytest.raises(Conflict) as conflict:
        pinned_policy("1999-01")
    assert conflict.value.field == "terms_version" and "1999-01" in conflict.value.message


def test_example_file_in_deploy_loads() -> None:
    loaded = load_policy_file(ROOT / "deploy/policy.example.json")
    assert loaded and all(p.restrict_after_overdue_days == 45 for p in loaded)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({**SLOW, "restrict_after_overdue_days": -1}, "restrict_after_overdue_days"),
        ({**SLOW, "restrict_after_overdue_days": "45"}, "restrict_after_overdue_days"),
        ({**SLOW, "restrict_after_overdu_days": 45}, "restrict_after_overdu_days"),
        ({**SLOW, "late_fee_rate_monthly": "fifteen"}, "late_fee_rate_monthly"),
        ({**SLOW, "effective_from": "July"}, "effective_from"),
        ({k: v for k, v in SLOW.items() if k != "effective_from"}, "effective_from"),
        ({**SLOW, "max_extension_after_due_days": 40}, "max_extension_after_due_days"),
    ],
)
def test_malformed_version_is_rejected_naming_the_version_and_the_field(
    tmp_path: Path, entry: dict[str, Any], field: str
) -> None:
    path = write_policy_file(tmp_path / "bad.json", [entry])
    with pytest.raises(PolicyFileInvalid) as raised:
        configure_policies(str(path))
    assert raised.value.field == field
    assert field in raised.value.message and str(path) in raised.value.message
    if "version" in entry:
        assert SLOW_VERSION in raised.value.message
    assert [p.version for p in known_policies()] == [DEFAULT_POLICY.version]  # nothing half-registered


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{not json", "policy_file"),
        ('{"version": "x"}', "policies"),
        (
            '[{"version": "a", "effective_from": "2027-01-01"},'
            ' {"version": "a", "effective_from": "2027-02-01"}]',
            "version",
        ),
        (
            '[{"version": "a", "effective_from": "2027-01-01"},'
            ' {"version": "b", "effective_from": "2027-01-01"}]',
            "effective_from",
        ),
    ],
)
def test_malformed_file_is_rejected_naming_the_field(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyFileInvalid) as raised:
        load_policy_file(path)
    assert raised.value.field == field


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileInvalid) as raised:
        load_policy_file(tmp_path / "absent.json")
    assert raised.value.field == "policy_file"


def test_a_bad_file_stops_the_app_at_startup(tmp_path: Path) -> None:
    path = write_policy_file(tmp_path / "bad.json", [{**SLOW, "penalty_rate": "-60/100"}])
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", policy_file=str(path))
    with pytest.raises(PolicyFileInvalid, match="penalty_rate"):
        create_app(settings=settings)


def test_the_app_registers_the_file_at_startup(tmp_path: Path, policy_file: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", policy_file=str(policy_file))
    create_app(settings=settings).state.engine.dispose()
    assert policy_for(SLOW_VERSION).restrict_after_overdue_days == 45
