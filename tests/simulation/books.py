"""The oracle's books: every contract, invoice, payment and decision the terms require, kept apart from
the product and fed the same events. `oracle.py` holds the formulas; this module holds the state and
the order of the day (renewal, invoicing, the sweep's decisions, the day's payments and answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.simulation.oracle import (
    TERMINATE_AFTER_RESTRICTION,
    Contract,
    Invoice,
    Month,
    Termination,
    accrue,
    acts_on,
    first_day,
    last_day,
    month_of,
    next_month,
    one_year_on,
    penalty,
    plan_amount,
    previous_month,
    vat_on,
)


@dataclass
class Books:
    contracts: dict[int, Contract] = field(default_factory=dict)
    credit: dict[int, int] = field(default_factory=dict)  # customer -> cash credit (Art. 35(3))
    cash_in: dict[int, int] = field(default_factory=dict)  # customer -> money received
    _seq: int = 0

    # -- life cycle ----------------------------------------------------------------------------
    def open(self, contract_id: int, customer: int, open_date: date, rate: int) -> Contract:
        c = Contract(contract_id, customer, open_date, [(open_date, rate)], one_year_on(open_date))
        self.contracts[contract_id] = c
        self.credit.setdefault(customer, 0)
        self.cash_in.setdefault(customer, 0)
        return c

    def renew(self, today: date) -> None:
        """Art. 18: a term that ended before today renews for a year, unless the contract is ending."""
        for c in self.contracts.values():
            ending = c.termination is not None and c.termination.kind != "proposal"
            if not ending and c.term_end < today:
                c.term_end = one_year_on(c.term_end + timedelta(days=1))

    def customer_contracts(self, customer: int) -> list[Contract]:
        return [c for c in self.contracts.values() if c.customer == customer]

    # -- invoicing (Art. 31, 32, 34) -----------------------------------------------------------
    def billable(self, c: Contract, m: Month) -> bool:
        if c.open_date > last_day(m) or any(i.month == m for i in c.invoices):
            return False
        owing = any(i.paid < i.total and i.due < last_day(m) for i in c.invoices)
        return not c.ended_before(m) or owing

    def invoice_month(self, m: Month, today: date) -> None:
        """The run for month `m`: accrual through the month's last day (the last day of service on a
        final statement), then one invoice per billable contract, in contract order."""
        ids = sorted(cid for cid, c in self.contracts.items() if self.billable(c, m))
        for cid in ids:
            c = self.contracts[cid]
            last = c.service_last_day
            through = last if last is not None and first_day(m) <= last <= last_day(m) else last_day(m)
            for inv in sorted(c.open_invoices(), key=lambda i: (i.due, i.seq)):
                if inv.due < through:
                    c.unbilled_late += accrue(inv, through)
        for cid in ids:
            self._issue(self.contracts[cid], m, today)

    def _issue(self, c: Contract, m: Month, today: date) -> None:
        plan = plan_amount(c, m)
        sla = c.outage_credit_pending
        pen = c.termination.penalty if c.termination and month_of(c.termination.effective_on) == m else 0
        if not plan and not sla and not c.unbilled_late and not pen:
            return
        supply = sum(plan) - sla
        vat = vat_on(supply)
        total = supply + vat + c.unbilled_late + pen
        used = min(self.credit[c.customer], total) if total > 0 else 0
        self.credit[c.customer] -= used
        self._seq += 1
        following = next_month(m)
        inv = Invoice(
            c.id,
            m,
            self._seq,
            today,
            last_day(following),
            supply,
            vat,
            c.unbilled_late,
            pen,
            used,
            total - used,
        )
        if inv.total <= 0:
            inv.paid = inv.total
        c.invoices.append(inv)
        c.unbilled_late, c.outage_credit_pending = 0, 0

    # -- money (Art. 34, 35) -------------------------------------------------------------------
    def _open_of(self, customer: int, contract_id: int | None, issued_by: date) -> list[Invoice]:
        contracts = [self.contracts[contract_id]] if contract_id else self.customer_contracts(customer)
        found = [i for c in contracts for i in c.open_invoices() if i.issued_on <= issued_by]
        return sorted(found, key=lambda i: (i.due, i.month, i.seq))

    def _settle(self, invoices: list[Invoice], amount: int, today: date) -> int:
        for inv in invoices:
            part = min(amount, inv.outstanding)
            if part <= 0:
                continue
            if today > inv.due:
                self.contracts[inv.contract].unbilled_late += accrue(inv, today)
            inv.paid += part
            amount -= part
            if amount == 0:
                break
        return amount

    def pay(self, customer: int, amount: int, contract_id: int | None, today: date) -> None:
        self.cash_in[customer] += amount
        left = self._settle(self._open_of(customer, contract_id, today), amount, today)
        if left > 0:
            self.credit[customer] += left
            self.settle_credit(customer, today)

    def settle_credit(self, customer: int, today: date) -> None:
        """Art. 35(3): cash credit settles the customer's open invoices, oldest first, as it arises."""
        if self.credit[customer] > 0:
            self.credit[customer] = self._settle(
                self._open_of(customer, None, today), self.credit[customer], today
            )

    def overdue(self, c: Contract, today: date) -> int:
        """What is past due on `today` after open disputes, less the customer's credit (Art. 35(3))."""
        owed = sum(i.overdue_for_restriction() for i in c.invoices if i.due < today)
        return max(0, owed - self.credit[c.customer])

    def restrictable(self, c: Contract, today: date) -> list[Invoice]:
        """Invoices whose own restriction day has come and that are still unpaid (disputes excluded)."""
        return [i for i in c.invoices if i.restriction_day() <= today and i.overdue_for_restriction() > 0]

    # -- disputes (Art. 35(1),(2)) and extensions (Art. 33(1)) --------------------------------
    def _accrue_through(self, inv: Invoice, today: date) -> None:
        """A dispute filed or answered changes what bears late fees: what accrued so far is carried."""
        if today > inv.due:
            self.contracts[inv.contract].unbilled_late += accrue(inv, today)

    def dispute(self, inv: Invoice, amount: int, today: date) -> None:
        self._accrue_through(inv, today)
        inv.disputed_open = amount

    def answer(self, inv: Invoice, corrected: int, today: date) -> None:
        customer = self.contracts[inv.contract].customer
        self._accrue_through(inv, today)
        if corrected < inv.disputed_open:
            inv.upheld_not_before = acts_on(today, 7)
        inv.disputed_open = 0
        if corrected:
            inv.total -= corrected
            inv.corrected += corrected
            if inv.paid > inv.total:
                self.credit[customer] += inv.paid - inv.total
                inv.paid = inv.total
            self.settle_credit(customer, today)

    # -- the sweep's decisions (Art. 33(1), 21(1), 16(5)) ---------------------------------------
    def sweep(self, today: date) -> None:
        """What the terms require at the day's sweep: restrict, lift, terminate, end customer requests."""
        for c in self.contracts.values():
            t = c.termination
            if (
                t is not None
                and t.started_on is None
                and t.kind == "customer_request"
                and today > t.effective_on
            ):
                t.started_on = today
            if t is not None and t.started_on is not None:
                continue
            self._nonpayment(c, today)

    def _nonpayment(self, c: Contract, today: date) -> None:
        due_now = self.restrictable(c, today)
        if c.restricted_since is None:
            if due_now:
                c.restricted_since = today
            return
        if not due_now:
            c.restricted_since = None
        elif today >= acts_on(c.restricted_since, TERMINATE_AFTER_RESTRICTION) and (
            c.termination is None or c.termination.kind != "customer_request"
        ):
            pen = penalty(c, today)
            c.termination = Termination("nonpayment", today, today, pen, started_on=today)
            c.restricted_since = None
            c.proposal_pending = False  # the policy's decision takes a waiting proposal over

    def lift_if_paid(self, c: Contract, today: date) -> None:
        """Art. 16(5): paid in full (or the restriction day moved) lifts at once."""
        if c.restricted_since is not None and not self.restrictable(c, today):
            c.restricted_since = None

    # -- terminations (Art. 20, 21) ------------------------------------------------------------
    def request_termination(self, c: Contract, last: date, today: date) -> None:
        c.termination = Termination("customer_request", last, today, penalty(c, last))

    def withdraw(self, c: Contract) -> None:
        c.termination = None

    def confirmable(self, c: Contract, today: date) -> bool:
        """An ex-officio termination (ground: money owed) is refused for a contract that is paid up."""
        return self.overdue(c, today) > 0

    def confirm_ex_officio(self, c: Contract, today: date) -> None:
        c.termination = Termination("ex_officio", today, today, penalty(c, today), started_on=today)
        c.restricted_since = None
        c.proposal_pending = False

    # -- what the checks ask -------------------------------------------------------------------
    def expected_state(self, c: Contract) -> str:
        if c.termination is not None and c.termination.started_on is not None:
            return "terminating"
        return "restricted" if c.restricted_since is not None else "active"

    def invoiced_paid_outstanding_credited(self, customer: int) -> tuple[int, int, int, int]:
        invoices = [i for c in self.customer_contracts(customer) for i in c.invoices]
        invoiced = sum(i.gross for i in invoices)
        outstanding = sum(i.outstanding for i in invoices)
        credited = sum(i.corrected for i in invoices)
        paid = self.cash_in[customer] - self.credit[customer]
        return invoiced, paid, outstanding, credited

    @staticmethod
    def month_before(today: date) -> Month:
        return previous_month(month_of(today))
