"""Request size limit: a body over 1 MiB is a 413 before anything parses it, declared or streamed."""

from __future__ import annotations

from collections.abc import Iterator

from controlplane.api.limits import MAX_BODY_BYTES
from controlplane.models.customer import Customer
from tests.utils.api import Api

HUGE = b'{"name": "' + b"x" * (2 * MAX_BODY_BYTES) + b'"}'


def test_a_declared_body_over_1_mib_is_413(api: Api) -> None:
    response = api.call(
        "POST", "/v1/customers", role="billing", content=HUGE, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert len(response.content) < 200  # nothing of the body echoed
    assert api.count(Customer) == 0


def test_a_streamed_body_over_1_mib_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for start in range(0, len(HUGE), 64 * 1024):
            yield HUGE[start : start + 64 * 1024]

    response = api.call(
        "POST",
        "/v1/customers",
        role="billing",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert api.count(Customer) == 0


def test_a_body_just_under_the_limit_is_parsed(api: Api) -> None:
    body = b'{"pad": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    response = api.call(
        "POST", "/v1/customers", role="billing", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["field"]) == (422, "name")
    assert "xxxx" not in response.text
