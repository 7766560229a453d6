"""The commands added to cover the API send what their routes accept: each is run against the app and
its answer compared with what the API itself shows afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from controlplane.cli import build_parser
from controlplane.db import session_scope
from tests.utils.api import Api, make_api
from tests.utils.factories import make_world


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.add_host("dctest-hv1")
    return harness


def _json(api: Api, capsys: pytest.CaptureFixture[str], *argv: str, role: str = "admin") -> Any:
    args = build_parser().parse_args([*argv, "--json"])
    api.client.headers["Authorization"] = f"Bearer {api.tokens[role]}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    return json.loads(out) if out.strip() else None


def _contract(api: Api) -> int:
    with session_scope(api.engine) as session:
        contract, _ = make_world(session, servers=0)
        return contract.id or 0


def test_outage_create_then_update(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    contract = _contract(api)
    made = _json(
        api, capsys, "outage", "create", "--contract", str(contract),
        "--started-at", "2027-03-01T10:00+09:00", "--reported-at", "2027-03-01T10:05+09:00", role="operator",
    )  # fmt: skip
    _json(
        api, capsys, "outage", "update", str(made["id"]), "--resolved-at", "2027-03-01T12:00+09:00",
        "--company-fault", role="operator",
    )  # fmt: skip
    listed = _json(api, capsys, "outage", "list", "--contract", str(contract))
    assert [(o["id"], o["company_fault"]) for o in listed] == [(made["id"], True)]
    assert listed[0]["resolved_at"] is not None


def test_fee_increase_proposed_to_a_contract(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    contract = _contract(api)
    _json(
        api, capsys, "fee-increase", "create", "--contract", str(contract), "--new-monthly-fee", "120000",
        "--effective-from", "2027-06-01", "--reason", "power prices",
    )  # fmt: skip
    listed = _json(api, capsys, "fee-increase", "list", "--contract", str(contract))
    assert [(p["new_monthly_fee"], p["effective_from"]) for p in listed] == [(120000, "2027-06-01")]


def test_firewall_set_shown_and_removed(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    contract = str(_contract(api))
    rules = '[{"direction": "in", "protocol": "tcp", "port_from": 22, "port_to": 22}]'
    _json(api, capsys, "contract", "set-firewall", contract, "--rules", rules, "--inbound-default", "drop")
    shown = _json(api, capsys, "contract", "firewall", contract)
    assert (shown["inbound_default"], shown["rules"][0]["port_from"]) == ("drop", 22)
    _json(api, capsys, "contract", "remove-firewall", contract)
    assert api.call("GET", f"/v1/contracts/{contract}/firewall").json()["removed_at"] is not None


def test_enforcement_plan_and_policy_list_answer(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(api, capsys, "enforcement", "plan") == api.call("GET", "/v1/enforcement/plan").json()
    assert _json(api, capsys, "policy", "list") == api.call("GET", "/v1/policies").json()


def test_a_server_resized_and_rebooted(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    server = api.add_server("dctest-a")["id"]
    resized = _json(api, capsys, "server", "resize", server, "--memory-mib", "2048", role="operator")
    assert resized["memory_mib"] == 2048
    _json(api, capsys, "server", "reboot", server, role="operator")


def test_server_list_by_state_and_with_deleted(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    kept, gone = api.add_server("dctest-kept")["id"], api.add_server("dctest-gone")["id"]
    body = {"servers": [{"id": kept, "state": "paused"}, {"id": gone, "state": "deleted"}], "full": False}
    assert api.call(
        "POST", "/v1/hosts/dctest-hv1/observed-state", role="agent:dctest-hv1", json=body
    ).is_success
    assert [s["id"] for s in _json(api, capsys, "server", "list", "--state", "suspended")] == [kept]
    assert [s["id"] for s in _json(api, capsys, "server", "list", "--state", "deleted")] == [gone]
