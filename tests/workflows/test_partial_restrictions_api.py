"""Partial restrictions (TERMS-MAP §3): each a block row with its clause, served to the agent while the
servers keep running, and gone from the desired state exactly when lifted."""

from __future__ import annotations

from tests.utils.api import Api
from tests.utils.workflows import block, contract_with_servers, desired, lift
from tests.workflows.conftest import MANAGEMENT


def test_quarantine_is_served_with_the_management_prefixes_while_servers_keep_running(api: Api) -> None:
    contract_id, ids = contract_with_servers(api)
    response = block(api, contract_id, scope="quarantine", item=14)
    assert response.status_code == 201, response.text
    assert (response.json()["clause"], response.json()["scope"]) == ("Art. 16(4)-14", "quarantine")
    served = desired(api)
    assert [(served[i].quarantine, served[i].quarantine_allow) for i in ids] == [(True, MANAGEMENT)] * 2
    assert {served[i].desired_state for i in ids} == {"running"}


def test_lifting_a_quarantine_removes_it_from_the_desired_state(api: Api) -> None:
    contract_id, ids = contract_with_servers(api, servers=1)
    block_id = block(api, contract_id, scope="quarantine", item=6).json()["id"]
    assert lift(api, block_id).status_code == 200
    assert desired(api)[ids[0]].quarantine is False


def test_bandwidth_cap_is_served_to_every_server_of_the_contract(api: Api) -> None:
    contract_id, ids = contract_with_servers(api)
    response = block(api, contract_id, kind="operator", scope="bandwidth", item=17, bandwidth_kbytes=1250)
    assert response.status_code == 201, response.text
    assert response.json()["clause"] == "Art. 16(4)-17"
    assert {desired(api)[i].bandwidth_kbytes for i in ids} == {1250}


def test_two_bandwidth_caps_serve_the_tighter_and_lifting_it_restores_the_other(api: Api) -> None:
    contract_id, ids = contract_with_servers(api, servers=1)
    block(api, contract_id, kind="operator", scope="bandwidth", item=17, bandwidth_kbytes=2000)
    tight = block(api, contract_id, kind="operator", scope="bandwidth", item=17, bandwidth_kbytes=500).json()
    assert desired(api)[ids[0]].bandwidth_kbytes == 500
    lift(api, tight["id"])
    assert desired(api)[ids[0]].bandwidth_kbytes == 2000


def test_lifting_the_bandwidth_cap_uncaps_the_servers(api: Api) -> None:
    contract_id, ids = contract_with_servers(api, servers=1)
    block_id = block(
        api, contract_id, kind="operator", scope="bandwidth", item=17, bandwidth_kbytes=800
    ).json()
    lift(api, block_id["id"])
    assert desired(api)[ids[0]].bandwidth_kbytes is None


def test_a_bandwidth_block_without_its_cap_is_refused(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    response = block(api, contract_id, kind="operator", scope="bandwidth", item=17)
    assert response.status_code == 422
    assert "bandwidth_kbytes" in response.text


def test_quarantine_for_an_item_it_does_not_answer_is_refused_naming_the_item(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    response = block(api, contract_id, scope="quarantine", item=4)
    assert response.status_code == 422, response.text
    assert "item" in response.text


def test_a_partial_restriction_changes_the_agents_watch_version(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=1)
    before = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").headers["X-Desired-Version"]
    block(api, contract_id, scope="quarantine", item=13)
    after = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").headers["X-Desired-Version"]
    assert before != after
