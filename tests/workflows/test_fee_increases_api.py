"""Fee increases need consent (Art. 17(2),(3)) through the API: the fee billed follows the answer."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from controlplane.models.notices import Notice
from tests.utils.api import Api
from tests.utils.workflows import contract_with_servers


def _propose(api: Api, contract_id: int, fee: int = 120_000, effective_from: str = "2027-04-01") -> Any:
    body = {"contract_ids": [contract_id], "new_monthly_fee": fee, "effective_from": effective_from,
            "reason": "power costs"}  # fmt: skip
    return api.call("POST", "/v1/fee-increases", role="billing", json=body)


def _answer(api: Api, proposal_id: int, answer: str) -> Any:
    path = f"/v1/fee-increases/{proposal_id}/answer"
    return api.call("POST", path, role="billing", json={"answer": answer})


def _plan_lines(api: Api, contract_id: int, month: str) -> list[tuple[str, str, int]]:
    response = api.call("GET", f"/v1/contracts/{contract_id}/invoices/preview?month={month}", role="billing")
    assert response.status_code == 200, response.text
    return [
        (ln["period_from"], ln["period_to"], ln["amount"])
        for ln in response.json()["lines"]
        if ln["kind"] == "plan"
    ]


def test_an_unanswered_increase_keeps_the_old_fee(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    assert _propose(api, contract_id).status_code == 201
    assert _plan_lines(api, contract_id, "2027-04") == [("2027-04-01", "2027-04-30", 100_000)]


def test_an_accepted_increase_applies_from_its_date(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    proposal = _propose(api, contract_id).json()[0]
    assert _answer(api, proposal["id"], "accepted").status_code == 200
    assert _plan_lines(api, contract_id, "2027-04") == [("2027-04-01", "2027-04-30", 120_000)]


def test_an_acceptance_after_the_date_applies_from_the_acceptance_day(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    proposal = _propose(api, contract_id, effective_from="2027-03-01").json()[0]
    _answer(api, proposal["id"], "accepted")  # the clock says 2027-03-02
    assert [line[:2] for line in _plan_lines(api, contract_id, "2027-03")] == [
        ("2027-03-01", "2027-03-01"),
        ("2027-03-02", "2027-03-31"),
    ]


def test_a_refusal_keeps_the_old_fee(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    proposal = _propose(api, contract_id).json()[0]
    assert _answer(api, proposal["id"], "refused").json()["answer"] == "refused"
    assert _plan_lines(api, contract_id, "2027-04") == [("2027-04-01", "2027-04-30", 100_000)]


def test_a_refusal_opens_a_termination_without_penalty(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    _answer(api, _propose(api, contract_id).json()[0]["id"], "refused")
    body = {"kind": "customer_request", "reason": "refused the new fee", "effective_on": "2027-03-31",
            "refused_fee_increase": True}  # fmt: skip
    response = api.call("POST", f"/v1/contracts/{contract_id}/terminations", role="billing", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["penalty"] == 0


def test_a_penalty_free_termination_without_a_refusal_is_refused_naming_the_field(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    body = {"kind": "customer_request", "reason": "cheaper elsewhere", "effective_on": "2027-03-31",
            "refused_fee_increase": True}  # fmt: skip
    response = api.call("POST", f"/v1/contracts/{contract_id}/terminations", role="billing", json=body)
    assert response.status_code == 422 and "refused_fee_increase" in response.text


def test_a_lower_fee_is_not_a_fee_increase(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    response = _propose(api, contract_id, fee=90_000)
    assert response.status_code == 422 and "new_monthly_fee" in response.text


def test_answering_twice_is_refused(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    proposal = _propose(api, contract_id).json()[0]
    _answer(api, proposal["id"], "refused")
    assert _answer(api, proposal["id"], "accepted").status_code == 409


def test_the_proposal_is_noticed_to_the_customer_with_the_right_to_refuse(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    _propose(api, contract_id)
    with Session(api.engine) as session:
        notices = session.exec(select(Notice).where(Notice.kind == "fee_increase_proposed")).all()
    assert notices and all("Art. 17(3)" in n.body and "2027-04-01" in n.body for n in notices)


def test_an_increase_is_measured_against_the_fee_in_force_on_its_date(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)  # 100,000 a month
    body = {"effective_from": "2027-06-01", "monthly_fee": 200_000}  # a bigger plan from June
    assert (
        api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body).status_code
        == 201
    )
    response = _propose(api, contract_id, fee=150_000, effective_from="2027-04-01")
    assert response.status_code == 201, response.text
    assert response.json()[0]["old_monthly_fee"] == 100_000
