"""`dcloud terms ...` calculates with the deployment's policy (DCLOUD_POLICY_FILE), not the built-in one.

Expected numbers come from the policy file and the terms functions, never from hand-counted days.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from controlplane.cli import main
from controlplane.terms.late_fee import late_fee
from controlplane.terms.overdue import latest_extension_date, nonpayment_deadlines
from controlplane.terms.policy import DEFAULT_POLICY, Policy
from tests.utils.policies import SLOW, SLOW_VERSION

# In force from 2026-07-01: restriction 45 days after due, late fee 12/1000 a month.
SLOW_POLICY = Policy.from_dict(SLOW)
DUE, PAID = date(2027, 1, 31), date(2027, 3, 3)


LATE_FEE = ("late-fee", "--unpaid", "100000", "--due", DUE.isoformat(), "--paid-on", PAID.isoformat())


@pytest.fixture
def policy_env(policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DCLOUD_POLICY_FILE set as a deployment sets it; `dcloud` loads it itself."""
    monkeypatch.setenv("DCLOUD_POLICY_FILE", str(policy_file))
    return policy_file


def terms(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main(["terms", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["terms", *argv]) == 0
    return capsys.readouterr().out


def test_late_fee_uses_the_policy_files_rate(policy_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = terms(capsys, *LATE_FEE)
    expected = late_fee(100_000, DUE, PAID, policy=SLOW_POLICY).amount
    assert expected != late_fee(100_000, DUE, PAID, policy=DEFAULT_POLICY).amount  # the file matters
    assert (doc["late_fee"]["amount"], doc["policy_version"]) == (expected, SLOW_VERSION)


def test_late_fee_formula_shows_the_policy_files_numbers(
    policy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = text(capsys, *LATE_FEE)
    assert f"100,000 x {SLOW['late_fee_rate_monthly']} x {SLOW_POLICY.late_fee_months_per_year} x" in out
    assert f"terms version {SLOW_VERSION} (deployment" in out


def test_deadlines_use_the_policy_files_restriction_days(
    policy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = terms(capsys, "deadlines", "--due", DUE.isoformat())["deadlines"]
    plan = nonpayment_deadlines(DUE, None, policy=SLOW_POLICY)
    assert plan.restriction_on != nonpayment_deadlines(DUE, None, policy=DEFAULT_POLICY).restriction_on
    assert doc["restriction"]["date"] == plan.restriction_on.isoformat()
    assert doc["termination"]["date"] == plan.termination_on.isoformat()
    assert doc["latest_extension"]["date"] == latest_extension_date(DUE, policy=SLOW_POLICY).isoformat()


def test_a_due_date_before_the_files_version_uses_the_version_then_in_force(
    policy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    due = date(2026, 5, 31)
    doc = terms(capsys, "deadlines", "--due", due.isoformat())
    assert doc["policy_version"] == DEFAULT_POLICY.version
    assert (
        doc["deadlines"]["restriction"]["date"]
        == nonpayment_deadlines(due, None, policy=DEFAULT_POLICY).restriction_on.isoformat()
    )


def test_policy_version_flag_picks_a_version(policy_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = terms(capsys, "deadlines", "--due", DUE.isoformat(), "--policy-version", DEFAULT_POLICY.version)
    assert (
        doc["deadlines"]["restriction"]["date"]
        == nonpayment_deadlines(DUE, None, policy=DEFAULT_POLICY).restriction_on.isoformat()
    )


def test_an_unknown_policy_version_exits_2_naming_the_flag(
    policy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["terms", *LATE_FEE, "--policy-version", "1999-01"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--policy-version" in err and "1999-01" in err
