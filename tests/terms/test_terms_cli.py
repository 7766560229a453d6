"""`dcloud terms ...`: text and JSON output naming clauses; bad input exits 2 naming the flag."""

import argparse
import json
import subprocess
import sys

import pytest

from controlplane.cli import main as dcloud_main
from controlplane.cli.terms import add_parsers


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = dcloud_main(["terms", *argv])
    except SystemExit as exc:  # argparse rejects unparsable flags itself
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_add_parsers_registers_terms_on_a_dcloud_parser() -> None:
    parser = argparse.ArgumentParser(prog="dcloud")
    add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "terms",
            "late-fee",
            "--unpaid",
            "100000",
            "--due",
            "2027-01-31",
            "--paid-on",
            "2027-03-03",
            "--json",
        ]
    )
    assert args.func(args) == 0


def test_late_fee_prints_the_amount_and_its_clause(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "late-fee", "--unpaid", "100000", "--due", "2027-01-31", "--paid-on", "2027-03-03"
    )
    assert code == 0
    assert "Late fee (Art. 34): 1,528 KRW" in out
    assert "31 overdue days" in out


def test_late_fee_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "late-fee", "--unpaid", "100000", "--due", "2027-01-31", "--paid-on", "2027-03-03")
    assert doc["late_fee"]["amount"] == 1528
    assert doc["late_fee"]["clause"] == "Art. 34"
    assert doc["late_fee"]["overdue_days"] == 31


def test_prorate_json_spans_months(capsys: pytest.CaptureFixture[str]) -> None:
    # 100,000 x 15/31 + 100,000 + 100,000 x 10/31 = 180,645.16 -> 180,645
    doc = run_json(capsys, "prorate", "--monthly-fee", "100000", "--from", "2027-01-17", "--to", "2027-03-10")
    fee = doc["prorated_fee"]
    assert (fee["amount"], fee["clause"]) == (180_645, "Art. 32(4)")
    assert [(m["month"], m["days"], m["days_in_month"]) for m in fee["months"]] == [
        ("2027-01", 15, 31),
        ("2027-02", 28, 28),
        ("2027-03", 10, 31),
    ]


def test_prorate_text_names_the_clause(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "prorate", "--monthly-fee", "100000", "--from", "2028-02-01", "--to", "2028-02-29"
    )
    assert code == 0 and "Prorated fee (Art. 32(2),(4)): 100,000 KRW" in out


def test_deadlines_json_with_and_without_extension(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "deadlines", "--due", "2027-02-28")
    restriction = doc["deadlines"]["restriction"]
    assert {k: restriction[k] for k in ("date", "clause", "extended")} == {
        "date": "2027-03-31",
        "clause": "Art. 33(1)",
        "extended": False,
    }
    assert "2027-03-01 … 2027-03-30" in restriction["counting"]
    termination = doc["deadlines"]["termination"]
    assert (termination["date"], termination["clause"]) == ("2027-04-06", "Art. 21(1)")
    assert "2027-04-01 … 2027-04-05" in termination["counting"]
    doc = run_json(capsys, "deadlines", "--due", "2027-03-31", "--extension-until", "2027-05-31")
    assert doc["deadlines"]["restriction"]["date"] == "2027-05-31"
    assert doc["deadlines"]["termination"]["date"] == "2027-06-06"


def test_deadlines_rejects_an_extension_past_due_plus_61(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deadlines", "--due", "2027-03-31", "--extension-until", "2027-06-01")
    assert code == 2 and out == ""
    assert "--extension-until" in err and "2027-05-31" in err


def test_penalty_json(capsys: pytest.CaptureFixture[str]) -> None:
    # 0.6 x 100,000 x (16/31 + 9) = 570,967.74 -> 570,967
    doc = run_json(
        capsys,
        "penalty",
        "--monthly-fees",
        "100000,90000,110000",
        "--terminate-on",
        "2027-03-15",
        "--contract-end",
        "2027-12-31",
    )
    assert (doc["penalty"]["amount"], doc["penalty"]["clause"]) == (570_967, "Art. 32(3)")
    assert doc["penalty"]["remaining_months"] == "295/31"


def test_penalty_after_refused_fee_increase_is_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "penalty",
        "--monthly-fees",
        "100000",
        "--terminate-on",
        "2027-03-15",
        "--contract-end",
        "2027-12-31",
        "--refused-fee-increase",
    )
    assert code == 0 and "(Art. 17(3)): 0 KRW" in out


def test_refund_json_names_each_deduction_clause(capsys: pytest.CaptureFixture[str]) -> None:
    # 1,080,000 - (180,000 + 90,000 x 15/31) - 120,000 - 100,000 = 636,451.61 -> 636,451
    doc = run_json(
        capsys,
        "refund",
        "--prepaid",
        "1080000",
        "--annual-discount",
        "120000",
        "--start",
        "2027-01-01",
        "--terminate-on",
        "2027-03-15",
        "--penalty",
        "100000",
    )
    refund = doc["refund"]
    assert (refund["amount"], refund["clause"]) == (636_451, "Art. 20(7)")
    assert refund["penalty"] == {"amount": 100_000, "currency": "KRW", "clause": "Art. 32(3)"}
    assert refund["annual_discount"]["clause"] == "Art. 20(7)"


def test_sla_credit_json(capsys: pytest.CaptureFixture[str]) -> None:
    # see test_terms_availability: crossing Apr 11 12:30; credited Apr 11 and Apr 20 x 10,000
    doc = run_json(
        capsys,
        "sla-credit",
        "--monthly-fee",
        "300000",
        "--month",
        "2027-04",
        "--outage",
        "2027-04-10T00:00/2027-04-10T00:00/2027-04-12T00:00",
        "--outage",
        "2027-04-20T10:00/2027-04-20T10:00/2027-04-20T12:00",
    )
    credit = doc["sla_credit"]
    assert (credit["amount"], credit["clause"]) == (20_000, "Art. 36(3)")
    assert credit["credited_days"] == ["2027-04-11", "2027-04-20"]


def test_sla_credit_reads_offsets_and_seoul_local_times(capsys: pytest.CaptureFixture[str]) -> None:
    # 2027-04-09T15:00Z is 2027-04-10T00:00 KST: the same incident as above, given in UTC.
    doc = run_json(
        capsys,
        "sla-credit",
        "--monthly-fee",
        "300000",
        "--month",
        "2027-04",
        "--outage",
        "2027-04-09T15:00Z/2027-04-09T15:00Z/2027-04-11T15:00Z",
    )
    assert doc["sla_credit"]["credited_days"] == ["2027-04-11"]
    assert doc["sla_credit"]["amount"] == 10_000


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["late-fee", "--unpaid", "-5", "--due", "2027-01-31", "--paid-on", "2027-03-03"], "--unpaid"),
        (["late-fee", "--unpaid", "100", "--due", "2027-02-30", "--paid-on", "2027-03-03"], "--due"),
        (["late-fee", "--unpaid", "100", "--due", "2027-01-31"], "--paid-on"),
        (["prorate", "--monthly-fee", "100", "--from", "2027-03-02", "--to", "2027-03-01"], "--to"),
        (
            [
                "penalty",
                "--monthly-fees",
                "100,x",
                "--terminate-on",
                "2027-03-15",
                "--contract-end",
                "2027-12-31",
            ],
            "--monthly-fees",
        ),
        (
            [
                "penalty",
                "--monthly-fees",
                "100",
                "--terminate-on",
                "2027-03-15",
                "--contract-end",
                "2027-01-31",
            ],
            "--contract-end",
        ),
        (
            [
                "refund",
                "--prepaid",
                "1",
                "--annual-discount",
                "0",
                "--start",
                "2027-03-01",
                "--terminate-on",
                "2027-02-01",
            ],
            "--terminate-on",
        ),
        (["sla-credit", "--monthly-fee", "1", "--month", "2027-13"], "--month"),
        (
            ["sla-credit", "--monthly-fee", "1", "--month", "2027-04", "--outage", "2027-04-01T00:00"],
            "--outage",
        ),
        (
            [
                "sla-credit",
                "--monthly-fee",
                "1",
                "--month",
                "2027-04",
                "--outage",
                "2027-04-02T00:00/2027-04-02T00:00/2027-04-01T00:00",
            ],
            "--outage",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert flag in err
    assert out == ""


def test_module_runs_without_the_dcloud_entry_point() -> None:
    argv = [sys.executable, "-m", "controlplane.cli", "terms", "deadlines", "--due", "2027-02-28"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Restriction (Art. 33(1)): 2027-03-31" in proc.stdout


def test_dcloud_entry_point_dispatches_terms(capsys: pytest.CaptureFixture[str]) -> None:
    code = dcloud_main(
        [
            "terms",
            "late-fee",
            "--unpaid",
            "100000",
            "--due",
            "2027-01-31",
            "--paid-on",
            "2027-03-03",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["late_fee"]["amount"] == 1528
