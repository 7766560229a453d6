"""The OpenAPI says what the API really does: one error body for every 4xx (the shape `errors.py` sends),
the bearer security scheme on every route that needs a token, and the 401/403/404/409/413 answers, so a
schema-driven tester can check authentication and errors too. A route that may answer 503 says so
with `responses=unavailable(...)`."""

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
# RFC 9083 section 6: what an RDAP client gets for a bad or unknown query, in RDAP's own media type.
RDAP_ERROR: dict[str, Any] = {
    "title": "RdapError",
    "type": "object",
    "required": ["errorCode", "title"],
    "properties": {
        "rdapConformance": {"type": "array", "items": {"type": "string"}},
        "errorCode": {"type": "integer"},
        "title": {"type": "string"},
        "description": {"type": "array", "items": {"type": "string"}},
    },
}
_RDAP_MEDIA = "application/rdap+json"
_RDAP_ANSWERS = {
    "200": ("the registry's record (RFC 9083)", {"type": "object"}),
    "400": ("not an IP address or CIDR", {"$ref": "#/components/schemas/RdapError"}),
    "404": ("not managed by this registry", {"$ref": "#/components/schemas/RdapError"}),
}
# Bodies the parser cannot read at all (not UTF-8, not JSON of any kind) are FastAPI's 400.
_UNREADABLE = "the body could not be read (not UTF-8 JSON)"
# Routes that answer with something other than JSON, and the media type they send.
_NOT_JSON = {"/v1/addresses/export.csv": ("text/csv", {"type": "string"})}
_AUTHED = {"401": "no valid bearer token", "403": "the token's role may not do this"}
_ALWAYS = {
    "404": "no such resource (or not visible to this token)",
    "409": "conflicts with the current state; `detail` names the rule",
    "413": "request body over 1 MiB",
    "422": "invalid input; `field` names it",
}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds before asking this replica again (another replica may answer at once)",
        "schema": {"type": "integer"},
    }
}


def unavailable(description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that may answer 503 (`errors.Unavailable`): the error body, Retry-After."""
    return {503: {"description": description, "content": _ERROR, "headers": _RETRY_AFTER}}


def _public(path: str) -> bool:
    """Routes that need no token: Prometheus scrapes and RDAP (RFC 9083)."""
    return path == "/metrics" or path.startswith("/rdap")


def _own_media_types(path: str, responses: dict[str, Any]) -> None:
    """RDAP answers in application/rdap+json, errors included; the CSV export in text/csv."""
    if path.startswith("/rdap"):
        for code, (description, schema) in _RDAP_ANSWERS.items():
            responses[code] = {"description": description, "content": {_RDAP_MEDIA: {"schema": schema}}}
    elif path in _NOT_JSON:
        media, schema = _NOT_JSON[path]
        responses["200"]["content"] = {media: {"schema": schema}}


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
                if "requestBody" in operation:
                    responses["400"] = {"description": _UNREADABLE, "content": _ERROR}
                _own_media_types(path, responses)
        components["schemas"]["RdapError"] = RDAP_ERROR
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
