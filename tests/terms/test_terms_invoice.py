"""Art. 30-32: invoice lines for month M, supply amount, VAT shown separately, send-by and due dates."""

from datetime import date

from controlplane.terms.calendar import YearMonth
from controlplane.terms.clauses import Clause
from controlplane.terms.invoice import (
    AddOnBilling,
    AddOnPeriod,
    InvoiceLine,
    PlanPeriod,
    draft_invoice,
    invoice_dates,
)
from controlplane.terms.policy import DEFAULT_POLICY


def test_invoice_is_sent_by_the_10th_and_due_the_last_day_of_the_next_month() -> None:
    assert invoice_dates(YearMonth(2027, 3), policy=DEFAULT_POLICY) == (date(2027, 4, 10), date(2027, 4, 30))


def test_december_invoice_is_due_at_the_end_of_january_next_year() -> None:
    assert invoice_dates(YearMonth(2027, 12), policy=DEFAULT_POLICY) == (date(2028, 1, 10), date(2028, 1, 31))


def test_january_2028_invoice_is_due_on_29_february() -> None:
    assert invoice_dates(YearMonth(2028, 1), policy=DEFAULT_POLICY)[1] == date(2028, 2, 29)


def test_due_date_on_a_sunday_is_not_shifted() -> None:
    # 2027-02-28 is a Sunday; the January 2027 invoice is still due that day.
    due = invoice_dates(YearMonth(2027, 1), policy=DEFAULT_POLICY)[1]
    assert due == date(2027, 2, 28) and due.weekday() == 6


def test_opening_month_invoice_prorates_plan_and_lists_add_ons_with_vat_separate() -> None:
    month = YearMonth(2027, 3)
    draft = draft_invoice(
        month,
        [PlanPeriod(100_000, date(2027, 3, 16), discount=10_000)],
        [
            AddOnPeriod("setup", AddOnBilling.ONE_OFF, 50_000, date(2027, 3, 20)),
            AddOnPeriod("backup", AddOnBilling.MONTHLY, 10_000, date(2027, 1, 1)),
            AddOnPeriod("monitoring", AddOnBilling.MONTHLY, 0, date(2027, 3, 16)),
        ],
        policy=DEFAULT_POLICY,
    )
    # plan: (100,000 - 10,000) x 16/31 = 46,451.61 -> 46,451; setup 50,000; backup whole month 10,000;
    # monitoring free 0. supply 106,451; VAT 10% = 10,645.1 -> 10,645; total 117,096.
    assert [line.amount for line in draft.lines] == [46_451, 50_000, 10_000, 0]
    assert (draft.supply_amount, draft.vat, draft.total) == (106_451, 10_645, 117_096)
    assert str(draft.vat_clause) == "Art. 32(5)"
    assert (draft.send_by, draft.due) == (date(2027, 4, 10), date(2027, 4, 30))


def test_plan_change_inside_a_month_prorates_each_plan_by_its_days() -> None:
    # April: 10/30 x 100,000 = 33,333.33 -> 33,333; 20/30 x 200,000 = 133,333.33 -> 133,333
    draft = draft_invoice(
        YearMonth(2027, 4),
        [
            PlanPeriod(100_000, date(2027, 1, 1), date(2027, 4, 10)),
            PlanPeriod(200_000, date(2027, 4, 11)),
        ],
        policy=DEFAULT_POLICY,
    )
    assert [line.amount for line in draft.lines] == [33_333, 133_333]
    assert (draft.supply_amount, draft.vat) == (166_666, 16_666)  # VAT 16,666.6 -> 16,666


def test_termination_inside_a_month_bills_through_the_termination_day() -> None:
    # May 1..20 = 20/31 x 100,000 = 64,516.13 -> 64,516
    draft = draft_invoice(
        YearMonth(2027, 5), [PlanPeriod(100_000, date(2027, 1, 1), date(2027, 5, 20))], policy=DEFAULT_POLICY
    )
    assert draft.supply_amount == 64_516
    assert (draft.lines[0].first, draft.lines[0].last) == (date(2027, 5, 1), date(2027, 5, 20))


def test_one_off_add_on_is_billed_only_in_its_month() -> None:
    add_on = AddOnPeriod("setup", AddOnBilling.ONE_OFF, 50_000, date(2027, 3, 20))
    plan = [PlanPeriod(100_000, date(2027, 3, 1))]
    assert draft_invoice(YearMonth(2027, 4), plan, [add_on], policy=DEFAULT_POLICY).supply_amount == 100_000


def test_no_lines_before_the_contract_opened() -> None:
    draft = draft_invoice(YearMonth(2027, 2), [PlanPeriod(100_000, date(2027, 3, 1))], policy=DEFAULT_POLICY)
    assert draft.lines == () and draft.total == 0


def test_credit_reduces_supply_and_untaxed_late_fee_is_added_after_vat() -> None:
    credit = InvoiceLine("SLA credit", -20_000, Clause("Art. 36(3)"))
    late = InvoiceLine("late fee", 1_528, Clause("Art. 34"), taxable=False)
    plan = [PlanPeriod(100_000, date(2027, 1, 1))]
    draft = draft_invoice(YearMonth(2027, 4), plan, adjustments=[credit, late], policy=DEFAULT_POLICY)
    # supply 100,000 - 20,000 = 80,000; VAT 8,000; total 80,000 + 8,000 + 1,528 = 89,528
    assert (draft.supply_amount, draft.vat) == (80_000, 8_000)
    assert (draft.untaxed_amount, draft.total) == (1_528, 89_528)
