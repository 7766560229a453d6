"""The one place that turns domain errors into HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
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
