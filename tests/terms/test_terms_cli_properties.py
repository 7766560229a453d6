"""Property tests of `dcloud terms` (hypothesis): every money and date input, valid or not.

Whatever a billing clerk types, the command answers with a result (exit 0) or with one error line
naming the flag (exit 2, after argparse's usage lines), never a traceback. Every amount it prints is a
whole number of won, and it is the exact value the clause describes floored once (원 미만 절사), not
a sum of amounts each floored on its own.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from controlplane.cli import main as dcloud_main
from controlplane.terms.policy import DEFAULT_POLICY

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# What a person might type into a money flag: plausible amounts, huge ones, and junk.
won_text = st.one_of(
    st.integers(0, 10**8).map(str),
    st.integers(0, 10**400).map(str),
    st.sampled_from([10**15, 10**15 + 1, 10**308, 10**309]).map(str),
    st.integers(-(10**6), -1).map(str),
    st.sampled_from(["", " ", "1e5", "1,000", "10.5", "NaN", "inf", "٣٠٠", "²", "0x10", "+5", "9" * 5000]),
    st.text(max_size=12),
)
# ... and into a date flag: days in and far outside the years the terms reason about, and junk.
day = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
near_day = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
date_text = st.one_of(
    near_day.map(date.isoformat),
    day.map(date.isoformat),
    st.sampled_from(["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "2100-12-31", "2000-01-01"]),
    st.sampled_from(["", "2027-02-30", "0000-03-01", "2027-13-01", "20270301", "2027-W05-1", "today"]),
    st.text(max_size=12),
)
month_text = st.one_of(
    near_day.map(lambda d: d.isoformat()[:7]),
    day.map(lambda d: d.isoformat()[:7]),
    st.sampled_from(["", "0000-03", "0001-01", "9999-12", "2100-12", "2027-00", "2027-1", "2027/03"]),
    st.text(max_size=8),
)
moment = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
moment_text = st.one_of(
    st.builds(lambda d, h: f"{d.isoformat()}T{h:02d}:00:00+09:00", near_day, st.integers(0, 23)),
    moment.map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "", "T", "2027-03-01T25:00"]),
    st.text(max_size=12),
)
outage_text = st.one_of(
    st.builds(lambda a, b, c: f"{a}/{b}/{c}", moment_text, moment_text, moment_text),
    st.builds(
        lambda start, minutes, notice: "/".join(
            t.isoformat()
            for t in (start, start + timedelta(minutes=notice), start + timedelta(minutes=minutes))
        ),
        st.datetimes(min_value=datetime(2027, 3, 1), max_value=datetime(2027, 3, 30)),
        st.integers(0, 5000),
        st.integers(0, 60),
    ),
    st.text(max_size=20),
)
fee_list_text = st.one_of(st.lists(won_text, min_size=0, max_size=4).map(",".join), st.text(max_size=12))


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        code = dcloud_main(["terms", *argv])
    except SystemExit as exc:  # argparse's own refusal of a value
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _result_or_one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any] | None:
    """The JSON result, or None after checking the refusal is one error line naming a flag."""
    code, out, err = _run(capsys, [*argv, "--json"])
    assert "Traceback" not in err + out, err
    if code == 0:
        doc: dict[str, Any] = json.loads(out)
        return doc
    assert code == 2, (code, err)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and not out, err
    assert errors[0].startswith(f"dcloud terms {argv[0]}: error: ") and "--" in errors[0], err
    return None


def _amounts(doc: Any) -> list[Any]:
    """Every `amount` in a result document, at any depth."""
    if isinstance(doc, dict):
        found = [doc["amount"]] if "amount" in doc else []
        return found + [a for value in doc.values() for a in _amounts(value)]
    if isinstance(doc, list):
        return [a for value in doc for a in _amounts(value)]
    return []


def _whole_won(doc: dict[str, Any]) -> None:
    amounts = _amounts(doc)
    assert amounts and all(type(a) is int and a >= 0 for a in amounts), amounts


@SETTINGS
@given(unpaid=won_text, due=date_text, paid_on=date_text)
@example(unpaid="100", due="0001-01-01", paid_on="9999-12-31")
def test_late_fee_is_a_floored_whole_won_or_one_error(
    capsys: pytest.CaptureFixture[str], unpaid: str, due: str, paid_on: str
) -> None:
    doc = _result_or_one_error(
        capsys, ["late-fee", f"--unpaid={unpaid}", f"--due={due}", f"--paid-on={paid_on}"]
    )
    if doc is None:
        return
    _whole_won(doc)
    fee = doc["late_fee"]
    p = DEFAULT_POLICY
    exact = (
        Fraction(fee["unpaid"]) * p.late_fee_rate_monthly * p.late_fee_months_per_year * fee["overdue_days"]
    )
    assert fee["amount"] == math.floor(exact / p.late_fee_days_per_year)


@SETTINGS
@given(fee=won_text, first=date_text, last=date_text)
@example(fee=str(10**400), first="2027-01-01", last="2027-01-15")
def test_prorated_fee_is_the_exact_sum_floored_once_or_one_error(
    capsys: pytest.CaptureFixture[str], fee: str, first: str, last: str
) -> None:
    doc = _result_or_one_error(capsys, ["prorate", f"--monthly-fee={fee}", f"--from={first}", f"--to={last}"])
    if doc is None:
        return
    _whole_won(doc)
    result = doc["prorated_fee"]
    assert result["amount"] == math.floor(sum(Fraction(m["exact_amount"]) for m in result["months"]))


@SETTINGS
@given(due=date_text, extension=st.one_of(st.none(), date_text))
@example(due="9999-12-31", extension=None)
def test_deadlines_are_days_or_one_error(
    capsys: pytest.CaptureFixture[str], due: str, extension: str | None
) -> None:
    argv = ["deadlines", f"--due={due}"] + ([] if extension is None else [f"--extension-until={extension}"])
    doc = _result_or_one_error(capsys, argv)
    if doc is None:
        return
    plan = doc["deadlines"]
    restriction, termination = (date.fromisoformat(plan[k]["date"]) for k in ("restriction", "termination"))
    assert date.fromisoformat(plan["due"]) < restriction < termination


@SETTINGS
@given(fees=fee_list_text, terminate_on=date_text, contract_end=date_text, refused=st.booleans())
def test_penalty_is_the_exact_product_floored_once_or_one_error(
    capsys: pytest.CaptureFixture[str], fees: str, terminate_on: str, contract_end: str, refused: bool
) -> None:
    argv = [
        "penalty",
        f"--monthly-fees={fees}",
        f"--terminate-on={terminate_on}",
        f"--contract-end={contract_end}",
    ]
    doc = _result_or_one_error(capsys, argv + (["--refused-fee-increase"] if refused else []))
    if doc is None:
        return
    _whole_won(doc)
    penalty = doc["penalty"]
    exact = (
        DEFAULT_POLICY.penalty_rate
        * Fraction(penalty["average_monthly_fee"])
        * Fraction(penalty["remaining_months"])
    )
    assert penalty["amount"] == (0 if refused else math.floor(exact))


@SETTINGS
@given(prepaid=won_text, discount=won_text, start=date_text, terminate_on=date_text, penalty=won_text)
def test_refund_is_the_exact_remainder_floored_once_or_one_error(
    capsys: pytest.CaptureFixture[str],
    prepaid: str,
    discount: str,
    start: str,
    terminate_on: str,
    penalty: str,
) -> None:
    argv = ["refund", f"--prepaid={prepaid}", f"--annual-discount={discount}", f"--start={start}"]
    doc = _result_or_one_error(capsys, [*argv, f"--terminate-on={terminate_on}", f"--penalty={penalty}"])
    if doc is None:
        return
    _whole_won(doc)
    refund = doc["refund"]
    used = Fraction(refund["fee_for_period_used"]["exact"])
    rest = refund["prepaid"] - used - refund["annual_discount"]["amount"] - refund["penalty"]["amount"]
    assert refund["amount"] == max(0, math.floor(rest))


@SETTINGS
@given(fee=won_text, month=month_text, outages=st.lists(outage_text, max_size=3))
def test_sla_credit_is_whole_days_floored_once_and_capped_or_one_error(
    capsys: pytest.CaptureFixture[str], fee: str, month: str, outages: list[str]
) -> None:
    argv = ["sla-credit", f"--monthly-fee={fee}", f"--month={month}", *(f"--outage={o}" for o in outages)]
    doc = _result_or_one_error(capsys, argv)
    if doc is None:
        return
    _whole_won(doc)
    credit = doc["sla_credit"]
    monthly_fee = int(fee)
    exact = min(Fraction(credit["daily_fee"]) * len(credit["credited_days"]), Fraction(monthly_fee))
    assert credit["amount"] == math.floor(exact) <= monthly_fee
