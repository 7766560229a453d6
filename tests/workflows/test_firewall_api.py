"""The firewall add-on (Art. 22(3) 2.2): a rule set on every server of the contract, billed as a monthly
add-on, removed with the contract (Art. 20(8))."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from controlplane.models.billing import AddOn
from tests.utils.api import Api
from tests.utils.terminations import start_policy_termination
from tests.utils.workflows import contract_with_servers, desired

RULES: dict[str, Any] = {
    "inbound_default": "drop",
    "outbound_default": "accept",
    "monthly_fee": 5_000,
    "rules": [
        {"direction": "in", "protocol": "tcp", "port_from": 22, "prefix": "198.51.100.0/24"},
        {"direction": "in", "protocol": "tcp", "port_from": 80, "port_to": 443},
    ],
}


def _put(api: Api, contract_id: int, body: dict[str, Any] = RULES) -> Any:
    return api.call("PUT", f"/v1/contracts/{contract_id}/firewall", role="operator", json=body)


def test_a_rule_set_is_served_to_every_server_of_the_contract(api: Api) -> None:
    contract_id, ids = contract_with_servers(api)
    assert _put(api, contract_id).status_code == 200
    served = desired(api)
    names = {served[i].firewall.name for i in ids if served[i].firewall}
    assert names == {f"dcloud-fw-c{contract_id}"}
    assert [r.port_from for r in served[ids[0]].firewall.rules] == [22, 80]  # type: ignore[union-attr]


def test_other_contracts_servers_get_no_firewall(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    _other, other_ids = contract_with_servers(api, servers=1)
    _put(api, contract_id)
    assert desired(api)[other_ids[0]].firewall is None


def test_the_first_rule_set_starts_a_monthly_add_on_with_its_fee(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    _put(api, contract_id)
    _put(api, contract_id, {**RULES, "rules": []})  # a change is no second add-on
    with Session(api.engine) as session:
        add_ons = session.exec(select(AddOn).where(AddOn.contract_id == contract_id)).all()
    assert [(a.name, a.billing, a.fee) for a in add_ons] == [("firewall", "monthly", 5_000)]


def test_changing_the_rules_bumps_the_revision_and_the_servers_generation(api: Api) -> None:
    contract_id, ids = contract_with_servers(api, servers=1)
    _put(api, contract_id)
    before = desired(api)[ids[0]].generation
    response = _put(api, contract_id, {**RULES, "inbound_default": "accept", "rules": []})
    assert response.json()["revision"] == 2
    served = desired(api)[ids[0]]
    assert served.generation > before and served.firewall is not None and served.firewall.rules == []


def test_a_port_on_an_icmp_rule_is_refused(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    body = {**RULES, "rules": [{"direction": "in", "protocol": "icmp", "port_from": 1}]}
    response = _put(api, contract_id, body)
    assert response.status_code == 422 and "ports apply to tcp and udp" in response.text


def test_a_prefix_with_host_bits_is_refused_naming_the_field(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    body = {**RULES, "rules": [{"direction": "in", "protocol": "tcp", "prefix": "198.51.100.7/24"}]}
    response = _put(api, contract_id, body)
    assert response.status_code == 422 and "prefix" in response.text


def test_termination_removes_the_rule_set_and_its_add_on(api: Api) -> None:
    contract_id, ids = contract_with_servers(api)
    _put(api, contract_id)
    start_policy_termination(api.engine, contract_id, api.clock())
    assert {desired(api)[i].firewall for i in ids} == {None}
    assert api.call("GET", f"/v1/contracts/{contract_id}/firewall").json()["removed_at"] is not None
    with Session(api.engine) as session:
        add_on = session.exec(select(AddOn).where(AddOn.contract_id == contract_id)).one()
    assert add_on.removed_at is not None


def test_a_removed_firewall_cannot_be_set_again_on_a_terminating_contract(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    _put(api, contract_id)
    start_policy_termination(api.engine, contract_id, api.clock())
    assert _put(api, contract_id).status_code == 409
