"""One simulation run: N contracts over M months, day by day, invariants checked after every day.

A day, in Seoul time: 00:30 renewal job, 01:00 invoicing job (it runs daily, and invoices on the 1st),
02:00 enforcement sweep job, then the outbox and an agent pass; the day's customer and staff events from
09:00 on (each with its own token through the API), the outbox and the agent again; at 23:00 the checks.

`python -m tests.simulation.run` (what `make soak` runs) takes DCLOUD_SIM_SEED, DCLOUD_SIM_CONTRACTS
and DCLOUD_SIM_MONTHS from the environment and prints the invariant counts. DCLOUD_SIM_UNTIL=YYYY-MM-DD
stops after that day without changing the draws (the run is still sized by its months), so a failing
day of a long run replays without the months after it.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from tests.simulation.books import Books
from tests.simulation.habits import Habits
from tests.simulation.harness import World, world
from tests.simulation.invariants import Checker, Tally
from tests.simulation.oracle import month_of, previous_month
from tests.simulation.scenario import Scenario

START = date(2027, 1, 1)


@dataclass(frozen=True)
class Plan:
    seed: int
    contracts: int
    months: int
    until: date | None = None  # the last day simulated, if before the plan's own last day

    @classmethod
    def from_env(cls, *, contracts: int, months: int, seed: int | None = None) -> Plan:
        """DCLOUD_SIM_SEED wins; else the given seed; else a fresh random one (printed on failure)."""
        chosen = os.environ.get("DCLOUD_SIM_SEED") or seed or random.SystemRandom().randrange(1, 2**31)
        seed = int(chosen)
        until = os.environ.get("DCLOUD_SIM_UNTIL")
        return cls(
            seed,
            int(os.environ.get("DCLOUD_SIM_CONTRACTS") or contracts),
            int(os.environ.get("DCLOUD_SIM_MONTHS") or months),
            date.fromisoformat(until) if until else None,
        )

    @property
    def last_day(self) -> date:
        y, m = START.year + (START.month - 1 + self.months) // 12, (START.month - 1 + self.months) % 12 + 1
        return date(y, m, 1) - timedelta(days=1)

    @property
    def stop_after(self) -> date:
        """The last day simulated: `until` cuts the run short, the openings stay where `months` put them."""
        return min(self.last_day, self.until) if self.until is not None else self.last_day


@dataclass
class Result:
    plan: Plan
    tally: Tally
    counts: dict[str, int]
    seconds: float


def simulate(plan: Plan, tmp_path: Path) -> Result:
    started = time.monotonic()
    cut = f" until={plan.until}" if plan.until is not None else ""
    print(
        f"simulation: DCLOUD_SIM_SEED={plan.seed} contracts={plan.contracts} months={plan.months}{cut}",
        flush=True,
    )
    tally = Tally()
    with world(tmp_path, START) as w:
        books = Books()
        scenario = Scenario(w, books, random.Random(plan.seed), plan.contracts, START, _open_until(plan))
        habits = Habits(scenario)
        checker = Checker(w, books, tally, plan.seed)
        scenario.populate()
        day = START
        while day <= plan.stop_after:
            _one_day(w, books, scenario, habits, day)
            checker.end_of_day(day)
            if day.day == 1:  # a long soak shows how far it got
                print(f"  {day}: {time.monotonic() - started:.0f}s", flush=True)
            day += timedelta(days=1)
        counts = dict(scenario.counts)
    return Result(plan, tally, counts, time.monotonic() - started)


def _open_until(plan: Plan) -> date:
    """Openings are spread over the first 60 % of the run, so most contracts see a year or more."""
    return START + timedelta(days=max(1, int((plan.last_day - START).days * 0.6)))


def _one_day(w: World, books: Books, scenario: Scenario, habits: Habits, day: date) -> None:
    w.at(day, 0, 30)
    w.run_renewal()
    books.renew(day)
    w.at(day, 1)
    w.run_invoicing()
    if day.day == 1:
        month = previous_month(month_of(day))
        before = {c.id: len(c.invoices) for c in books.contracts.values()}
        books.invoice_month(month, day)
        _link_invoice_ids(w, books, month)
        for c in books.contracts.values():
            for inv in c.invoices[before.get(c.id, 0) :]:
                habits.on_invoiced(c, inv, day)
    w.at(day, 2)
    w.run_sweep()
    books.sweep(day)
    w.deliver_notices()
    w.agent_pass()
    for event in scenario.events_of(day):
        event(day)
    w.at(day, 21)
    w.deliver_notices()
    w.agent_pass()
    w.at(day, 23)


def _link_invoice_ids(w: World, books: Books, month: tuple[int, int]) -> None:
    """The API's ids of the month's invoices, so the simulated customers can pay and dispute them."""
    first = date(month[0], month[1], 1).isoformat()
    with w.engine.connect() as db:
        ids = dict(
            db.execute(text("SELECT contract_id, id FROM invoices WHERE month = :m"), {"m": first}).all()
        )
    for c in books.contracts.values():
        for inv in c.invoices:
            if inv.month == month:
                inv.api_id = ids.get(c.id)


def main() -> int:
    plan = Plan.from_env(contracts=1000, months=24)
    with tempfile.TemporaryDirectory(prefix="dctest-sim-") as tmp:
        result = simulate(plan, Path(tmp))
    print(f"\n{plan.contracts} contracts over {plan.months} months, seed {plan.seed}: {result.seconds:.0f}s")
    print("events: " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items())))
    print(result.tally.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
