"""Token expiry (enforced with the injected clock, shown in listings, bounded) and the customer binding."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from controlplane.cli import main
from controlplane.db import make_engine
from controlplane.models.auth import ApiToken, Role
from tests.utils.api import T0, Api
from tests.utils.factories import make_customer


@pytest.fixture
def customer_id(api: Api) -> int:
    with Session(api.engine) as session:
        customer = make_customer(session)
        session.commit()
        return customer.id or 0


def _create(api: Api, **body: object) -> Any:
    return api.call("POST", "/v1/tokens", json={"role": "auditor", "name": "t", **body})


def test_an_expired_token_is_refused_with_401(api: Api) -> None:
    expires = T0 + timedelta(hours=1)
    created = _create(api, expires_at=expires.isoformat()).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/audit", headers=auth).status_code == 200
    api.clock.now = expires
    refused = api.client.get("/v1/audit", headers=auth)
    assert (refused.status_code, refused.json()["detail"]) == (401, "unknown, revoked or expired token")


def test_the_expiry_is_shown_in_the_token_listing(api: Api) -> None:
    expires = T0 + timedelta(days=30)
    created = _create(api, expires_at=expires.isoformat()).json()
    listed = {t["id"]: t for t in api.call("GET", "/v1/tokens").json()}
    assert listed[created["id"]]["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    assert all("expires_at" in t for t in listed.values())


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=732)])
def test_an_expiry_now_in_the_past_or_absurdly_far_is_refused(api: Api, offset: timedelta) -> None:
    response = _create(api, expires_at=(T0 + offset).isoformat())
    assert (response.status_code, response.json()["field"]) == (422, "expires_at")
    assert api.count(ApiToken) == len(api.tokens)


def test_a_naive_expiry_is_refused(api: Api) -> None:
    response = _create(api, expires_at="2027-04-01T00:00:00")
    assert (response.status_code, response.json()["field"]) == (422, "expires_at")


def test_a_customer_token_needs_an_existing_customer(api: Api, customer_id: int) -> None:
    missing = api.call("POST", "/v1/tokens", json={"role": "customer", "name": "c"})
    unknown = api.call("POST", "/v1/tokens", json={"role": "customer", "name": "c", "customer_id": 999})
    assert (missing.status_code, missing.json()["field"]) == (422, "customer_id")
    assert (unknown.status_code, unknown.json()["field"]) == (422, "customer_id")
    bound = api.call("POST", "/v1/tokens", json={"role": "customer", "name": "c", "customer_id": customer_id})
    assert (bound.status_code, bound.json()["customer_id"]) == (201, customer_id)


def test_only_customer_tokens_are_bound_to_a_customer(api: Api, customer_id: int) -> None:
    response = _create(api, customer_id=customer_id)
    assert (response.status_code, response.json()["field"]) == (422, "customer_id")


def test_a_customer_token_cannot_mint_tokens(api: Api, customer_id: int) -> None:
    token = api.token_for(Role.CUSTOMER, customer_id=customer_id)
    response = api.client.post(
        "/v1/tokens", json={"role": "admin", "name": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DCLOUD_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    return url


def _stored(db: str) -> ApiToken:
    engine = make_engine(db)
    try:
        with Session(engine) as session:
            rows = list(session.exec(select(ApiToken)).all())
            assert len(rows) == 1
            return rows[0]
    finally:
        engine.dispose()


def test_cli_expires_in_sets_the_expiry(db: str) -> None:
    assert main(["token", "create", "--role", "auditor", "--expires-in", "12h"]) == 0
    row = _stored(db)
    assert row.expires_at is not None
    assert timedelta(hours=11, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=12)


def test_cli_expires_at_refuses_the_past(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "auditor", "--expires-at", "2001-01-01T00:00:00+09:00"]) == 1
    assert "expires_at: the expiry must lie in the future" in capsys.readouterr().err


def test_cli_expires_at_needs_an_offset(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["token", "create", "--role", "auditor", "--expires-at", "2030-01-01T00:00:00"])
    assert "needs a UTC offset" in capsys.readouterr().err


def test_cli_customer_token_needs_an_existing_customer(db: str) -> None:
    assert main(["token", "create", "--role", "customer", "--customer", "7"]) == 1  # no such customer
