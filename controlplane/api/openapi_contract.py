"""The OpenAPI says what the API really does: one error body for every 4xx (the shape `errors.py` sends),
the bearer security scheme on every route that needs a token, and the 401/403/404/409/413 answers, so a
schema-driven tester can check authentication and errors too."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "what is wrong, in one line; never echoes input values"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "the input at fault"},
        "errors": {
            "type": "array",
            "description": "422 only: every invalid input (type, location, message)",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_AUTHED = {"401": "no valid bearer token", "403": "the token's role may not do this"}
_ALWAYS = {
    "404": "no such resource (or not visible to this token)",
    "409": "conflicts with the current state; `detail` names the rule",
    "413": "request body over 1 MiB",
    "422": "invalid input; `field` names it",
}


def _public(path: str) -> bool:
    """Routes that need no token: Prometheus scrapes and RDAP (RFC 9083)."""
    return path == "/metrics" or path.startswith("/rdap")


def install_openapi_contract(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["ErrorBody"] = ERROR_BODY
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                answers = dict(_ALWAYS) if _public(path) else {**_AUTHED, **_ALWAYS}
                if not _public(path):
                    operation["security"] = [{"bearer": []}]
                for code, description in answers.items():
                    responses[code] = {"description": description, "content": _ERROR}
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
