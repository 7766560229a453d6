"""`dcloud termination …` and `dcloud dispute …` speak to the API as the caller: the two-person rule and
the dispute window hold on the command line exactly as over HTTP."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine

from controlplane.cli import build_parser
from controlplane.db import session_scope
from controlplane.models.auth import Role
from tests.utils.api import Api, make_api
from tests.utils.factories import make_invoice, make_world, noon


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.clock.now = noon(date(2027, 3, 2))
    harness.tokens["operator-2"] = harness.token_for(Role.OPERATOR, name="second-operator")
    return harness


def _cli(api: Api, capsys: pytest.CaptureFixture[str], role: str, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    api.client.headers["Authorization"] = f"Bearer {api.tokens[role]}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    return code, out, err


def _unpaid_contract(api: Api) -> int:
    with session_scope(api.engine) as session:
        contract, _ = make_world(session)
        make_invoice(session, contract)
        return contract.id or 0


def test_a_proposal_confirmed_by_its_own_operator_is_refused_on_one_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    contract_id = _unpaid_contract(api)
    code, out, _ = _cli(
        api,
        capsys,
        "operator",
        "termination",
        "propose",
        str(contract_id),
        "--kind",
        "insolvency",
        "--reason",
        "bankruptcy declared",
    )
    assert code == 0
    termination_id = json.loads(out)["id"]

    code, out, err = _cli(api, capsys, "operator", "termination", "confirm", str(termination_id))

    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "(409)" in err and "two-person rule" in err


def test_a_second_operator_confirms_and_the_termination_starts(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    contract_id = _unpaid_contract(api)
    _, out, _ = _cli(
        api,
        capsys,
        "billing",
        "termination",
        "propose",
        str(contract_id),
        "--kind",
        "ex_officio",
        "--reason",
        "fraudulent application",
    )
    termination_id = json.loads(out)["id"]

    code, out, _ = _cli(api, capsys, "operator-2", "termination", "confirm", str(termination_id))

    assert code == 0 and json.loads(out)["status"] == "terminating"


def test_a_customer_request_is_withdrawn_from_the_command_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    contract_id = _unpaid_contract(api)
    _, out, _ = _cli(
        api,
        capsys,
        "billing",
        "termination",
        "request",
        str(contract_id),
        "--last-day",
        "2027-03-20",
        "--reason",
        "moving",
    )
    termination_id = json.loads(out)["id"]
    assert json.loads(out)["status"] == "scheduled"

    code, out, _ = _cli(
        api,
        capsys,
        "billing",
        "termination",
        "withdraw",
        str(termination_id),
        "--reason",
        "the customer stays",
    )

    assert code == 0 and json.loads(out)["status"] == "withdrawn"


def test_a_dispute_is_filed_and_listed_from_the_command_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(api.engine) as session:
        contract, _ = make_world(session)
        invoice_id = make_invoice(session, contract).id or 0
    code, out, _ = _cli(
        api,
        capsys,
        "billing",
        "dispute",
        "file",
        str(invoice_id),
        "--amount",
        "10000",
        "--reason",
        "double billed",
    )
    assert code == 0 and json.loads(out)["amount"] == 10_000

    code, out, _ = _cli(api, capsys, "auditor", "dispute", "list", "--open")

    assert code == 0 and [d["invoice_id"] for d in json.loads(out)] == [invoice_id]
