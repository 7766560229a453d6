"""The one place that turns domain errors into HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from controlplane.api.limits import BodyTooLarge
from controlplane.errors import (
    Conflict,
    DcloudError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)

_STATUS: list[tuple[type[DcloudError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (Unavailable, 503),
]


def status_for(exc: DcloudError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def error_body(exc: DcloudError) -> dict[str, object]:
    """The JSON every refusal carries (an HTTP answer, or a WebSocket's denial response)."""
    body: dict[str, object] = {"detail": _safe_text(exc.message)}
    if exc.field:
        body["field"] = _safe_text(exc.field)
    return body


async def _dcloud_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DcloudError)
    status = status_for(exc)
    body = error_body(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _too_large(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return JSONResponse(
        status_code=413, content={"detail": exc.detail, "field": "body"}, headers={"Connection": "close"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DcloudError, _dcloud_error)
    app.add_exception_handler(BodyTooLarge, _too_large)


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _safe_text(text: str) -> str:
    """`text`, with anything unprintable escaped: a lone surrogate or a control character that slipped
    into a message (a name the client sent) must neither break the response nor forge a log line."""
    if text.isprintable():
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else json.dumps(c)[1:-1] for c in text
    )


def _safe_part(part: object) -> str:
    # A location part may be a key the client sent (an unknown field).
    return _safe_text(str(part))


def field_of(error: dict[str, Any]) -> str:
    """`("body", "vcpus")` -> `vcpus`; malformed JSON or a missing/non-object body -> `body`."""
    loc = [_safe_part(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return "body"
    if len(loc) > 1 and loc[0] in _LOCATIONS:
        return ".".join(loc[1:])
    return ".".join(loc) or "body"


def _public_error(error: dict[str, Any]) -> dict[str, Any]:
    """What a client may see of one error: never `input` (it may be NaN, a lone surrogate, a NUL or
    50 MiB, and echoing personal data back is a leak) and never `ctx` (it can carry the input too)."""
    return {
        "type": str(error.get("type", "")),
        "loc": [_safe_part(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
    }


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    first: dict[str, Any] = raw[0] if raw else {}
    field = field_of(first)
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        # The parser's own message ("Expecting value") names a position, never the bytes.
        message = f"malformed JSON: {first.get('ctx', {}).get('error', message)}"
    errors = [_public_error(e) for e in raw]
    return JSONResponse(
        status_code=422, content={"detail": f"{field}: {message}", "field": field, "errors": errors}
    )


def install_validation_handler(app: FastAPI) -> None:
    """422 with `field` naming the first bad input (dotted), the same shape as InvalidInput."""
    app.add_exception_handler(RequestValidationError, _validation_error)
