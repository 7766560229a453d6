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


def test_openapi_documents_the_bearer_scheme_and_every_error_answer(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()

    assert schema["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert responses["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, path
            assert {"404", "409", "413"} <= set(responses), path
            public = path == "/metrics" or path.startswith("/rdap")
            assert ("security" in operation) is not public, path
            assert public or {"401", "403"} <= set(responses), path
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_the_error_bodies_the_api_sends_have_the_documented_shape(api: Api) -> None:
    required = api.client.get("/openapi.json").json()["components"]["schemas"]["ErrorBody"]["required"]

    unauthenticated = api.call("GET", "/v1/customers", role=None)
    invalid = api.call("POST", "/v1/customers", json={"name": ""})

    assert unauthenticated.status_code == 401 and invalid.status_code == 422
    for body in (unauthenticated.json(), invalid.json()):
        assert set(required) <= set(body) and isinstance(body["detail"], str)
    assert invalid.json()["field"] and isinstance(invalid.json()["errors"], list)
