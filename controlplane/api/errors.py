"""The one place that turns domain errors into HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from controlplane.errors import (
    Conflict,
    DcloudError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

_STATUS: list[tuple[type[DcloudError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
]


def status_for(exc: DcloudError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


async def _dcloud_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DcloudError)
    status = status_for(exc)
    body: dict[str, object] = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DcloudError, _dcloud_error)


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def field_of(error: dict[str, Any]) -> str:
    """`("body", "vcpus")` -> `vcpus`; malformed JSON or a missing/non-object body -> `body`."""
    loc = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return "body"
    if len(loc) > 1 and loc[0] in _LOCATIONS:
        return ".".join(loc[1:])
    return ".".join(loc) or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    first: dict[str, Any] = errors[0] if errors else {}
    field = field_of(first)
    message = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        message = f"malformed JSON: {first.get('ctx', {}).get('error', message)}"
    return JSONResponse(
        status_code=422, content={"detail": f"{field}: {message}", "field": field, "errors": errors}
    )


def install_validation_handler(app: FastAPI) -> None:
    """422 with `field` naming the first bad input (dotted), the same shape as InvalidInput."""
    app.add_exception_handler(RequestValidationError, _validation_error)
