"""What happens to each invoice once issued, by the customer's habit: paid on time, late, in part, never,
more than owed; disputed and answered; extended by an operator; and, for those who never pay, an
ex-officio termination proposed by billing and confirmed (or not) by a second operator. Also outages and
the availability claims they give rise to.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from controlplane.terms.calendar import SEOUL
from tests.simulation.oracle import (
    DISPUTE_WINDOW,
    MAX_EXTENSION_AFTER_DUE,
    Contract,
    Invoice,
    acts_on,
    last_day,
    month_of,
    sla_credit,
)
from tests.simulation.scenario import Expectation, Scenario


class Habits:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.w = scenario.world
        self.books = scenario.books
        self.rng = scenario.rng

    # -- after every invoice -------------------------------------------------------------------
    def on_invoiced(self, c: Contract, inv: Invoice, today: date) -> None:
        if inv.total <= 0:
            return
        profile = self.s.profile[c.id]
        if profile == "erratic":
            profile = self.rng.choice(("on_time", "late", "partial", "never", "overpay"))
        pay_on = today + timedelta(days=self.rng.randrange(0, (inv.due - today).days + 1))
        if self.rng.random() < 0.06:
            self._dispute(c, inv, today, profile)
            return
        if profile == "on_time":
            self.s.plan(pay_on, self._payment(c, inv, 1.0))
        elif profile == "overpay":
            self.s.plan(pay_on, self._payment(c, inv, self.rng.choice((1.5, 2.0, 3.0))))
        elif profile == "late":
            late = inv.due + timedelta(days=self.rng.choice((1, 5, 12, 29, 30, 31, 33, 36, 45)))
            self.s.plan(late, self._payment(c, inv, 1.0))
            if self.rng.random() < 0.3:
                self.s.plan(inv.due + timedelta(days=self.rng.randrange(10, 40)), self._extension(c, inv))
        elif profile == "partial":
            self.s.plan(pay_on, self._payment(c, inv, self.rng.choice((0.3, 0.5, 0.9))))
            if self.rng.random() < 0.6:
                self.s.plan(inv.due + timedelta(days=self.rng.randrange(20, 40)), self._payment(c, inv, 1.0))
        else:  # never
            if self.rng.random() < 0.35:
                self.s.plan(inv.due + timedelta(days=self.rng.randrange(3, 34)), self._proposal(c))
        if profile == "on_time" and self.rng.random() < 0.02:  # a proposal against a paying customer
            self.s.plan(inv.due + timedelta(days=self.rng.randrange(1, 20)), self._proposal(c))
        self._maybe_outage(c, today)

    # -- payments (Art. 34, 35) ----------------------------------------------------------------
    def _payment(self, c: Contract, inv: Invoice, share: float) -> object:
        def pay(day: date) -> None:
            owed = inv.outstanding
            if owed <= 0 and share <= 1.0:
                return
            amount = max(1, int(max(owed, 1) * share)) if share != 1.0 else owed
            pooled = len(self.books.customer_contracts(c.customer)) > 1 and self.rng.random() < 0.5
            self.w.at(day, 10)
            key = f"sim-{c.id}-{inv.seq}-{day.isoformat()}-{self.s.counts['payments']}"
            body = {"customer_id": c.customer, "amount": amount, "idempotency_key": key}
            if not pooled:
                body["contract_id"] = c.id
            self.w.call("POST", "/v1/payments", self.w.tokens.billing, json=body, expect=201)
            self.books.pay(c.customer, amount, None if pooled else c.id, day)
            for other in self.books.customer_contracts(c.customer):
                self.books.lift_if_paid(other, day)
            self.s.counts["payments"] += 1

        return pay

    # -- disputes (Art. 35(1),(2)) -------------------------------------------------------------
    def _dispute(self, c: Contract, inv: Invoice, today: date, profile: str) -> None:
        whole = self.rng.random() < 0.4
        amount = inv.total if whole else max(1, int(inv.total * self.rng.choice((0.1, 0.3, 0.6))))
        filed = today + timedelta(days=self.rng.randrange(0, DISPUTE_WINDOW + 1))
        # Mostly within the 7 days; sometimes the company answers late, so a dispute is open past due.
        late_answer = self.rng.random() < 0.3
        answered = filed + timedelta(
            days=self.rng.randrange(40, 70) if late_answer else self.rng.randrange(1, 8)
        )
        if late_answer:
            self.s.plan(inv.due + timedelta(days=self.rng.randrange(2, 20)), self._proposal(c))
        corrected = self.rng.choice((0, 0, amount, max(1, amount // 2)))

        def file(day: date) -> None:
            self.w.at(day, 12)
            body = {"amount": amount, "reason": "the March fee looks wrong"}
            made = self.w.call(
                "POST", f"/v1/invoices/{inv.api_id}/disputes", self.w.tokens.billing, json=body, expect=201
            )
            self.books.dispute(inv, amount, day)
            self.s.counts["disputes"] += 1
            self.s.plan(answered, answer_it(made.json()["id"]))
            if not whole and profile != "never":  # those who pay pay the undisputed part on time
                self.s.plan(inv.due, self._undisputed(c, inv))

        def answer_it(dispute_id: int) -> object:
            def answer(day: date) -> None:
                self.w.at(day, 16)
                outcome = "corrected" if corrected else "upheld"
                body = {"outcome": outcome, "corrected_amount": corrected, "answer": "checked"}
                self.w.call("POST", f"/v1/disputes/{dispute_id}/answer", self.w.tokens.operator, json=body)
                self.books.answer(inv, corrected, day)
                for other in self.books.customer_contracts(c.customer):
                    self.books.lift_if_paid(other, day)
                if profile != "never":
                    self.s.plan(day + timedelta(days=self.rng.randrange(1, 20)), self._payment(c, inv, 1.0))

            return answer

        self.s.plan(filed, file)

    def _undisputed(self, c: Contract, inv: Invoice) -> object:
        def pay(day: date) -> None:
            part = inv.outstanding - inv.disputed_open
            if part > 0:
                self._payment_of(c, inv, part, day)

        return pay

    def _payment_of(self, c: Contract, inv: Invoice, amount: int, day: date) -> None:
        self.w.at(day, 10)
        key = f"sim-{c.id}-{inv.seq}-part-{day.isoformat()}"
        body = {"customer_id": c.customer, "contract_id": c.id, "amount": amount, "idempotency_key": key}
        self.w.call("POST", "/v1/payments", self.w.tokens.billing, json=body, expect=201)
        self.books.pay(c.customer, amount, c.id, day)
        self.books.lift_if_paid(c, day)
        self.s.counts["payments"] += 1

    # -- extensions (Art. 33(1)) ---------------------------------------------------------------
    def _extension(self, c: Contract, inv: Invoice) -> object:
        def extend(day: date) -> None:
            if inv.outstanding <= 0 or c.termination is not None:
                return
            until = inv.due + timedelta(days=self.rng.randrange(32, MAX_EXTENSION_AFTER_DUE + 2))
            self.w.at(day, 13)
            body = {"extension_until": until.isoformat()}
            self.w.call("POST", f"/v1/invoices/{inv.api_id}/extension", self.w.tokens.operator, json=body)
            inv.extension = until
            self.books.lift_if_paid(c, day)
            self.s.counts["extensions"] += 1

        return extend

    # -- ex-officio terminations: two people (Art. 20(5), 21) ----------------------------------
    def _proposal(self, c: Contract) -> object:
        def propose(day: date) -> None:
            if c.termination is not None or c.proposal_pending:
                return
            if self.s.world_state(c) not in ("active", "restricted"):
                return
            self.w.at(day, 17)
            body = {"kind": "ex_officio", "reason": "fees unpaid"}
            made = self.w.call(
                "POST", f"/v1/contracts/{c.id}/terminations", self.w.tokens.billing, json=body, expect=201
            ).json()
            c.proposal_pending = True
            self.s.counts["ex_officio_proposals"] += 1
            refused = self.w.call(
                "POST", f"/v1/terminations/{made['id']}/confirm", self.w.tokens.billing, expect=409
            )
            self.s._expect("two-person rule" in refused.text, f"billing confirmed termination {made['id']}")
            if self.rng.random() < 0.7:
                self.s.plan(
                    day + timedelta(days=self.rng.randrange(1, 12)), self._confirmation(c, made["id"])
                )

        return propose

    def _confirmation(self, c: Contract, tid: int) -> object:
        def confirm(day: date) -> None:
            if not c.proposal_pending or c.termination is not None:
                return
            self.w.at(day, 18)
            allowed = self.books.confirmable(c, day)
            path = f"/v1/terminations/{tid}/confirm"
            response = self.w.call("POST", path, self.w.tokens.second_operator, expect=(200, 409))
            if allowed != (response.status_code == 200):
                raise Expectation(
                    f"contract {c.id}: ex-officio confirmation answered {response.status_code} but the "
                    f"contract {'owes' if allowed else 'owes nothing'} past due after credit and open "
                    f"disputes ({self.books.overdue(c, day):,} KRW): {response.text[:300]}"
                )
            if allowed:
                self.books.confirm_ex_officio(c, day)
                self.s.counts["ex_officio_confirmed"] += 1
            else:
                body = {"reason": "paid meanwhile"}
                self.w.call("POST", f"/v1/terminations/{tid}/withdraw", self.w.tokens.operator, json=body)
                c.proposal_pending = False
                self.s.counts["ex_officio_refused_paid_up"] += 1

        return confirm

    # -- outages and availability credit (Art. 36, 37) -----------------------------------------
    def _maybe_outage(self, c: Contract, today: date) -> None:
        if self.rng.random() >= 0.05 or len(c.fee_periods) > 1:
            return
        day = today + timedelta(days=self.rng.randrange(2, 20))
        hours = self.rng.choice((0.4, 3, 30, 40, 60, 80))
        started = datetime(day.year, day.month, day.day, 3, 0, tzinfo=SEOUL)
        resolved = started + timedelta(hours=hours)
        if month_of(resolved.date()) != month_of(day) or resolved.date() >= last_day(month_of(day)):
            return

        def outage(on: date) -> None:
            if c.termination is not None or self.s.world_state(c) not in ("active", "restricted"):
                return
            self.w.at(resolved.date(), 20)
            body = {
                "contract_id": c.id,
                "started_at": started.isoformat(),
                "reported_at": started.isoformat(),
                "resolved_at": resolved.isoformat(),
            }
            self.w.call("POST", "/v1/outages", self.w.tokens.operator, json=body, expect=201)
            month = f"{day.year:04d}-{day.month:02d}"
            claim = self.w.call(
                "POST", f"/v1/contracts/{c.id}/availability-claims?month={month}", self.w.tokens.billing
            )
            expected = sla_credit(c.rate_on(day), month_of(day), started, started, resolved)
            if claim.json()["credit"] != expected:
                raise Expectation(
                    f"contract {c.id}: availability credit {claim.json()['credit']} != {expected} "
                    f"for {month} (Art. 36(3))"
                )
            c.outage_credit_pending += expected
            self.s.counts["outages"] += 1

        self.s.plan(resolved.date(), outage)


__all__ = ["Expectation", "Habits", "acts_on"]
