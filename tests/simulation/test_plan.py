"""DCLOUD_SIM_UNTIL replays the first days of a long run: it stops the clock early, and every draw (the
openings are spread over the plan's own months) stays the same, so a failing day recurs without the
months after it (seed 1444545220 failed on 2028-05-01 of a 24-month run)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.simulation.run import Plan, _open_until


def test_until_stops_the_run_early_and_keeps_the_openings_of_the_full_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DCLOUD_SIM_UNTIL", "2028-05-01")
    cut = Plan.from_env(contracts=1000, months=24, seed=1444545220)
    whole = Plan(1444545220, 1000, 24)
    assert (cut.stop_after, whole.stop_after) == (date(2028, 5, 1), date(2028, 12, 31))
    assert _open_until(cut) == _open_until(whole)


def test_until_after_the_plan_ends_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCLOUD_SIM_UNTIL", "2031-01-01")
    assert Plan.from_env(contracts=40, months=14, seed=8).stop_after == date(2028, 2, 29)
