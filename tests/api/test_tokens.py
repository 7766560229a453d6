"""Tokens: plaintext shown once, only a hash stored, revocation takes effect at once."""

from __future__ import annotations

from sqlmodel import Session, select

from controlplane.models.auth import ApiToken
from controlplane.services.tokens import hash_token
from tests.utils.api import Api


def test_token_is_returned_once_and_stored_only_as_a_hash(api: Api) -> None:
    created = api.call("POST", "/v1/tokens", json={"role": "auditor", "name": "audit-bot"})
    assert created.status_code == 201
    plaintext = created.json()["token"]
    with Session(api.engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.name == "audit-bot")).one()
    assert row.token_hash == hash_token(plaintext) != plaintext
    listed = api.call("GET", "/v1/tokens").json()
    assert all("token" not in t and "token_hash" not in t for t in listed)
    ok = api.client.get("/v1/audit", headers={"Authorization": f"Bearer {plaintext}"})
    assert ok.status_code == 200


def test_revoked_token_is_refused(api: Api) -> None:
    created = api.call("POST", "/v1/tokens", json={"role": "operator", "name": "ops"}).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/hosts", headers=auth).status_code == 200
    assert api.call("DELETE", f"/v1/tokens/{created['id']}").status_code == 204
    assert api.client.get("/v1/hosts", headers=auth).status_code == 401
    assert api.call("DELETE", f"/v1/tokens/{created['id']}").status_code == 409


def test_agent_token_needs_a_known_host(api: Api) -> None:
    missing = api.call("POST", "/v1/tokens", json={"role": "agent", "name": "a"})
    assert (missing.status_code, missing.json()["field"]) == (422, "host")
    unknown = api.call("POST", "/v1/tokens", json={"role": "agent", "name": "a", "host": "nope"})
    assert (unknown.status_code, unknown.json()["field"]) == (422, "host")
    api.add_host("hv1")
    bound = api.call("POST", "/v1/tokens", json={"role": "agent", "name": "a", "host": "hv1"})
    assert bound.status_code == 201 and bound.json()["host"] == "hv1"


def test_only_agent_tokens_are_bound_to_a_host(api: Api) -> None:
    api.add_host("hv1")
    response = api.call("POST", "/v1/tokens", json={"role": "operator", "name": "o", "host": "hv1"})
    assert (response.status_code, response.json()["field"]) == (422, "host")


def test_unknown_role_is_refused_naming_role(api: Api) -> None:
    before = api.count(ApiToken)
    response = api.call("POST", "/v1/tokens", json={"role": "root", "name": "x"})
    assert (response.status_code, response.json()["field"]) == (422, "role")
    assert api.count(ApiToken) == before


def test_a_disclosure_token_is_never_minted_through_the_api(api: Api) -> None:
    before = api.count(ApiToken)

    refused = api.call("POST", "/v1/tokens", json={"role": "disclosure", "name": "police-liaison"})

    assert refused.status_code == 409 and refused.json()["field"] == "role"
    assert api.count(ApiToken) == before
