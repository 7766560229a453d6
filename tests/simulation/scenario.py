"""Who does what and when: seeded random customers (openings, plan changes, payments on time, late,
partial or never, overpayments, disputes, outages, termination requests) and staff (extensions, dispute
answers, ex-officio proposals confirmed by a second operator). Each event goes to the API with the
actor's own token and, the same moment, to the oracle's books.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.simulation.books import Books
from tests.simulation.harness import World
from tests.simulation.oracle import (
    TERMINATION_NOTICE,
    Contract,
    acts_on,
    first_day,
    month_of,
)

Event = Callable[[date], None]
# Payment habits, with their weights in the population.
PROFILES = {"on_time": 50, "late": 18, "partial": 10, "never": 8, "overpay": 7, "erratic": 7}
RATES = (33_000, 55_000, 99_000, 150_000, 270_000)


class Expectation(AssertionError):
    """The API's answer to an action differs from what the terms (the oracle) say it must be."""


@dataclass
class Scenario:
    world: World
    books: Books
    rng: random.Random
    contracts: int
    first_day: date
    open_until: date
    agenda: dict[date, list[tuple[int, Event]]] = field(default_factory=lambda: defaultdict(list))
    profile: dict[int, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _order: int = 0

    def plan(self, day: date, event: Event) -> None:
        self._order += 1
        self.agenda[day].append((self._order, event))

    def events_of(self, day: date) -> list[Event]:
        return [e for _, e in sorted(self.agenda.pop(day, []), key=lambda pair: pair[0])]

    # -- population ----------------------------------------------------------------------------
    def populate(self) -> None:
        """Customers first (a fifth hold two contracts, so credit and payments cross contracts), then
        each contract's opening on a random day of the opening window."""
        self.world.at(self.first_day, 8)
        span = (self.open_until - self.first_day).days
        customer: int | None = None
        for n in range(self.contracts):
            if customer is None or self.rng.random() >= 0.2:
                customer = self._new_customer(n)
            opens = self.first_day + timedelta(days=self.rng.randrange(span))
            opens = opens.replace(day=min(opens.day, 28))  # Feb 29 never anchors a one-year term
            self.plan(opens, self._opening(n, customer))

    def _opening(self, n: int, customer: int) -> Event:
        def opening(today: date) -> None:
            self.open_contract(n, customer, today)

        return opening

    def open_contract(self, n: int, customer: int, today: date) -> None:
        w, t = self.world, self.world.tokens
        self.world.at(today, 9)
        rate = self.rng.choice(RATES)
        discount = self.rng.choice((0, 0, 0, rate // 10))
        body = {
            "customer_id": customer,
            "plan": f"std-{rate // 1000}",
            "monthly_fee": rate,
            "discount": discount,
            "desired_open_date": today.isoformat(),
        }
        contract = w.call("POST", "/v1/contracts", t.billing, json=body, expect=201).json()
        cid = contract["id"]
        # Art. 8(6): an unpaid balance past due on another service of the customer withholds approval.
        owing = sum(
            i.outstanding
            for c in self.books.customer_contracts(customer)
            for i in c.invoices
            if i.due < today
        )
        expected = "held" if owing else "applied"
        self._expect(
            contract["state"] == expected,
            f"contract {cid} was {contract['state']}, owing {owing:,} elsewhere",
        )
        if owing:
            self.counts["held_for_arrears"] += 1
            return
        w.call("POST", f"/v1/contracts/{cid}/approve", t.operator)
        w.call("POST", f"/v1/contracts/{cid}/activate", t.operator, json={})
        w.heartbeat()
        server = {"name": f"sim-{n}", "vcpus": 1, "memory_mib": 64, "disk_gib": 1, "contract_id": cid}
        c = self.books.open(cid, customer, today, rate - discount)
        c.server_id = w.call("POST", "/v1/servers", t.operator, json=server, expect=201).json()["id"]
        self.profile[cid] = self.rng.choices(list(PROFILES), weights=list(PROFILES.values()))[0]
        self.counts["openings"] += 1
        self._maybe_plan_change(c, today)
        self._maybe_customer_termination(c, today)

    def _new_customer(self, n: int) -> int:
        body = {
            "name": f"dctest sim 고객 {n}",
            "email": f"sim{n}@example.kr",
            "address": "서울특별시 중구",
            "contact_name": "김",
            "contact_phone": "02-555-0101",
        }
        customer: int = self.world.call(
            "POST", "/v1/customers", self.world.tokens.billing, json=body, expect=201
        ).json()["id"]
        return customer

    # -- plan changes and terminations ---------------------------------------------------------
    def _maybe_plan_change(self, c: Contract, today: date) -> None:
        if self.rng.random() >= 0.12:
            return
        when = today + timedelta(days=self.rng.randrange(40, 200))
        effective = first_day(month_of(when)) if self.rng.random() < 0.5 else when
        rate = self.rng.choice(RATES)
        asked = effective - timedelta(days=self.rng.randrange(1, 25))

        def change(day: date) -> None:
            if c.termination is not None or self.world_state(c) not in ("active", "restricted"):
                return
            self.world.at(day, 11)
            body = {"effective_from": effective.isoformat(), "monthly_fee": rate}
            self.world.call(
                "POST", f"/v1/contracts/{c.id}/plan-changes", self.world.tokens.billing, json=body, expect=201
            )
            c.fee_periods.append((effective, rate))
            c.fee_periods.sort()
            self.counts["plan_changes"] += 1

        self.plan(max(asked, today + timedelta(days=1)), change)

    def _maybe_customer_termination(self, c: Contract, today: date) -> None:
        if self.rng.random() >= 0.08:
            return
        ask_on = today + timedelta(days=self.rng.randrange(20, 300))
        withdraw = self.rng.random() < 0.3

        def request(day: date) -> None:
            if c.termination is not None or c.proposal_pending or self.books.overdue(c, day):
                return
            if self.world_state(c) != "active":
                return
            # At most 30 days ahead: nothing unpaid now can reach its restriction day (D+31) before then.
            last = min(day + timedelta(days=self.rng.randrange(TERMINATION_NOTICE, 31)), c.term_end)
            if last < acts_on(day, TERMINATION_NOTICE - 1):
                return
            self.world.at(day, 14)
            body = {
                "kind": "customer_request",
                "reason": "moving elsewhere",
                "effective_on": last.isoformat(),
            }
            made = self.world.call(
                "POST",
                f"/v1/contracts/{c.id}/terminations",
                self.world.tokens.operator,
                json=body,
                expect=201,
            ).json()
            self.books.request_termination(c, last, day)
            self._expect(
                made["penalty"] == c.termination.penalty,
                f"contract {c.id}: penalty {made['penalty']} != {c.termination.penalty} (Art. 32(3))",
            )
            self.counts["customer_terminations"] += 1
            if withdraw:
                self.plan(
                    day + timedelta(days=self.rng.randrange(1, (last - day).days + 1)),
                    self._withdrawal(c, made["id"]),
                )

        self.plan(ask_on, request)

    def _withdrawal(self, c: Contract, tid: int) -> Event:
        def withdraw(day: date) -> None:
            if c.termination is None or c.termination.started_on is not None:
                return
            self.world.at(day, 15)
            self.world.call(
                "POST",
                f"/v1/terminations/{tid}/withdraw",
                self.world.tokens.operator,
                json={"reason": "stays"},
            )
            self.books.withdraw(c)
            self.counts["withdrawals"] += 1

        return withdraw

    def world_state(self, c: Contract) -> str:
        return str(self.world.call("GET", f"/v1/contracts/{c.id}", self.world.tokens.billing).json()["state"])

    def _expect(self, ok: bool, what: str) -> None:
        if not ok:
            raise Expectation(what)
