"""`dcloud <resource> <action>` shows what the API answered: a table by default, the API's own JSON body
with --json; every refusal (404, 409, 422) is one line naming the problem with a non-zero exit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from controlplane.cli import build_parser
from controlplane.db import session_scope
from tests.utils.api import Api, make_api
from tests.utils.factories import make_customer, make_invoice, make_world


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.add_host("dctest-hv1")
    return harness


def _cli(
    api: Api, capsys: pytest.CaptureFixture[str], *argv: str, role: str = "admin"
) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    api.client.headers["Authorization"] = f"Bearer {api.tokens[role]}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    return code, out, err


def _json(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = _cli(api, capsys, *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


def _customer_id(api: Api) -> int:
    with session_scope(api.engine) as session:
        return make_customer(session).id or 0


def test_server_create_prints_the_created_server_as_a_field_table(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(
        api, capsys, "server", "create", "--name", "dctest-web", "--vcpus", "2", "--memory-mib", "1024",
        "--disk-gib", "5",
    )  # fmt: skip
    assert code == 0
    rows = dict(line.split(None, 1) for line in out.splitlines()[2:] if len(line.split(None, 1)) == 2)
    assert (rows["name"], rows["vcpus"], rows["host"]) == ("dctest-web", "2", "dctest-hv1")


def test_server_list_is_a_table_with_one_row_per_server(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = api.add_server("dctest-a"), api.add_server("dctest-b")
    code, out, _ = _cli(api, capsys, "server", "list")
    header, rule, *rows = out.splitlines()
    assert code == 0 and header.split()[:3] == ["ID", "NAME", "HOST"] and set(rule) <= {"-", " "}
    # Both made at the same clock instant: the API orders them by id, so compare without order.
    assert sorted(row.split()[:2] for row in rows) == sorted(
        [[first["id"], "dctest-a"], [second["id"], "dctest-b"]]
    )


@pytest.mark.parametrize("action", ["start", "stop", "suspend", "resume", "delete"])
def test_server_actions_print_the_api_answer_as_json(
    api: Api, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    server = api.add_server("dctest-act")
    answer = _json(api, capsys, "server", action, server["id"])
    assert answer == api.call("GET", f"/v1/servers/{server['id']}").json()


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (("server", "list"), "/v1/servers"),
        (("host", "show", "dctest-hv1"), "/v1/hosts/dctest-hv1"),
        (("host", "orphans", "dctest-hv1"), "/v1/hosts/dctest-hv1/orphans"),
        (("customer", "list"), "/v1/customers"),
        (("contract", "list"), "/v1/contracts"),
        (("token", "list"), "/v1/tokens"),
        (("audit", "list", "--entity-type", "host"), "/v1/audit?entity_type=host"),
    ],
)
def test_json_is_the_api_body_itself(
    api: Api, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], path: str
) -> None:
    api.add_server("dctest-j")
    _customer_id(api)
    assert _json(api, capsys, *argv) == api.call("GET", path).json()


def test_customer_create_then_show(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    created = _json(
        api, capsys, "customer", "create", "--name", "Hanbit Ltd", "--email", "ops@hanbit.example",
        "--address", "1 Sejong-daero, Seoul", "--contact-name", "Kim", "--contact-phone", "+82-2-555-0100",
    )  # fmt: skip
    assert (created["name"], created["kind"]) == ("Hanbit Ltd", "organisation")
    code, out, _ = _cli(api, capsys, "customer", "show", str(created["id"]))
    assert code == 0 and "Hanbit Ltd" in out and "ops@hanbit.example" in out


def test_contract_apply_approve_and_change_plan(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    customer = _customer_id(api)
    contract = _json(
        api, capsys, "contract", "create", "--customer", str(customer), "--plan", "vm-small",
        "--monthly-fee", "50000", "--desired-open-date", "2027-03-10",
    )  # fmt: skip
    assert (contract["customer_id"], contract["monthly_fee"]) == (customer, 50000)
    approved = _json(api, capsys, "contract", "approve", str(contract["id"]))
    assert approved["state"] != contract["state"]
    listed = _json(api, capsys, "contract", "list", "--customer", str(customer))
    assert [c["id"] for c in listed] == [contract["id"]]


def test_host_set_state_puts_the_host_in_maintenance(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _json(api, capsys, "host", "set-state", "dctest-hv1", "maintenance")["admin_state"] == "maintenance"
    )


def test_token_issue_through_the_api_shows_the_secret_once(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = _json(api, capsys, "token", "issue", "--role", "auditor", "--name", "dctest-auditor")
    assert issued["token"] and issued["role"] == "auditor"
    assert "dctest-auditor" in _cli(api, capsys, "token", "list")[1]


def _refusal(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _cli(api, capsys, *argv)
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_an_unknown_server_is_one_line_naming_the_404(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refusal(api, capsys, "server", "show", "no-such-server")
    assert err.startswith("dcloud server show: error: (404)") and "no-such-server" in err


def test_bad_input_is_one_line_naming_the_field(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refusal(
        api, capsys, "server", "create", "--name", "dctest-x", "--vcpus", "0", "--memory-mib", "1024",
        "--disk-gib", "5",
    )  # fmt: skip
    assert "(422)" in err and "vcpus" in err


def test_a_conflict_is_one_line_with_the_409(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    customer = _customer_id(api)
    contract = _json(
        api, capsys, "contract", "create", "--customer", str(customer), "--plan", "vm-small",
        "--monthly-fee", "50000", "--desired-open-date", "2027-03-10",
    )  # fmt: skip
    _json(api, capsys, "contract", "approve", str(contract["id"]))
    err = _refusal(api, capsys, "contract", "approve", str(contract["id"]))
    assert "(409)" in err


def _invoiced_contract(api: Api) -> tuple[int, int, int]:
    """(customer, contract, invoice) of a contract with one unpaid invoice."""
    with session_scope(api.engine) as session:
        contract, _ = make_world(session, servers=0)
        invoice = make_invoice(session, contract)
        return contract.customer_id, contract.id or 0, invoice.id or 0


def test_invoice_list_and_show_are_the_api_bodies(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    _, contract, invoice = _invoiced_contract(api)
    assert [i["id"] for i in _json(api, capsys, "invoice", "list", str(contract))] == [invoice]
    assert (
        _json(api, capsys, "invoice", "show", str(invoice))
        == api.call("GET", f"/v1/invoices/{invoice}").json()
    )
    code, out, _ = _cli(api, capsys, "invoice", "list", str(contract))
    assert code == 0 and out.splitlines()[0].split()[:3] == ["ID", "CONTRACT_ID", "MONTH"]


def test_invoice_run_prints_the_run_report(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(api, capsys, "invoice", "run", "--month", "2027-02", "--as-of", "2027-03-01")
    assert report["month"] == "2027-02" and "created" in report


def test_payment_create_then_show(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    customer, _, _ = _invoiced_contract(api)
    paid = _json(
        api, capsys, "payment", "create", "--customer", str(customer), "--amount", "110000",
        "--reference", "dctest-ref", "--idempotency-key", "dctest-key-1",
    )  # fmt: skip
    assert (paid["amount"], paid["reference"]) == (110000, "dctest-ref")
    assert _json(api, capsys, "payment", "show", str(paid["id"])) == paid


def test_block_create_list_and_lift(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    _, contract, _ = _invoiced_contract(api)
    block = _json(
        api, capsys, "block", "create", str(contract), "--kind", "spam", "--notice", "after",
        "--reason", "dctest spam relay", "--scope", "smtp", "--item", "1",
        "--notice-after-reason", "relay active",
    )  # fmt: skip
    assert (block["contract_id"], block["scope"]) == (contract, "smtp")
    assert [b["id"] for b in _json(api, capsys, "block", "list", str(contract))] == [block["id"]]
    lifted = _json(api, capsys, "block", "lift", str(block["id"]), "--reason", "relay closed")
    assert lifted["lifted_at"] is not None


def test_customer_credit_is_the_api_body(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    customer, _, _ = _invoiced_contract(api)
    credit = _json(api, capsys, "customer", "credit", str(customer))
    assert credit == api.call("GET", f"/v1/customers/{customer}/credit").json()


def test_contract_change_plan_add_on_preview_and_terminate(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _, contract, _ = _invoiced_contract(api)
    change = _json(
        api, capsys, "contract", "change-plan", str(contract), "--effective-from", "2027-05-01",
        "--monthly-fee", "70000",
    )  # fmt: skip
    assert change["monthly_fee"] == 70000
    add_on = _json(
        api, capsys, "contract", "add-on", str(contract), "--name", "dctest-backup", "--billing", "monthly",
        "--fee", "5000", "--started-on", "2027-04-01",
    )  # fmt: skip
    assert add_on["name"] == "dctest-backup"
    preview = _json(api, capsys, "contract", "preview", str(contract), "--month", "2027-04")
    assert preview == api.call("GET", f"/v1/contracts/{contract}/invoices/preview?month=2027-04").json()
    ended = _json(
        api, capsys, "contract", "terminate", str(contract), "--kind", "customer_request",
        "--last-day", "2027-05-31", "--reason", "dctest moving",
    )  # fmt: skip
    assert ended["contract_id"] == contract
