"""The API describes itself at /openapi.json, without authentication."""

from __future__ import annotations

from tests.utils.api import Api


def test_openapi_lists_every_resource_and_no_table_internals(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert {"/v1/hosts", "/v1/servers", "/v1/tokens", "/v1/audit", "/v1/hosts/{host}/desired-state"} <= set(
        spec["paths"]
    )
    assert "token_hash" not in response.text
