"""Terms results become plain JSON values for the CLI, the API and audit records."""

import json
from datetime import date

from controlplane.terms.overdue import NonpaymentFacts, UnpaidInvoice, decide_nonpayment, nonpayment_deadlines
from controlplane.terms.plain import to_plain
from controlplane.terms.policy import DEFAULT_POLICY
from controlplane.terms.proration import prorate


def test_decided_action_becomes_plain_json_with_its_clause() -> None:
    facts = NonpaymentFacts("c-9", [UnpaidInvoice("inv-3", date(2027, 2, 28), 10)], date(2027, 3, 31))
    plain = to_plain(decide_nonpayment(facts, policy=DEFAULT_POLICY)[0])
    assert plain["kind"] == "restrict" and plain["clause"] == "Art. 33(1)"
    assert plain["deadline"] == "2027-03-31" and plain["invoice_ids"] == ["inv-3"]
    json.dumps(plain)  # serialisable as is


def test_exact_fractions_and_month_spans_stay_exact() -> None:
    plain = to_plain(prorate(100, date(2027, 1, 31), date(2027, 2, 1)))
    # 100 x 1/31 + 100 x 1/28 = 3.2258 + 3.5714 = 6.797 -> 6
    assert plain["amount"] == 6
    assert plain["months"][0]["exact_amount"] == "100/31"
    assert plain["months"][1]["span"] == {
        "month": "2027-02",
        "first": "2027-02-01",
        "last": "2027-02-01",
        "days": 1,
        "days_in_month": 28,
    }
    assert (
        to_plain(nonpayment_deadlines(date(2027, 2, 28), policy=DEFAULT_POLICY))["termination_on"]
        == "2027-04-06"
    )
