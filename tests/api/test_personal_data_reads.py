"""Art. 10(4): every staff read of a customer's personal data leaves an audit row (who, which customer,
which fields, when); the customer reading its own data does not; the count is on /metrics."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from controlplane.models.audit import AuditEvent
from controlplane.models.auth import Role
from controlplane.personal_data import CUSTOMER_FIELDS, PERSONAL_DATA_READ
from tests.utils.api import T0, Api
from tests.utils.factories import make_customer


@pytest.fixture
def customers(api: Api) -> list[int]:
    with Session(api.engine) as session:
        ids = [make_customer(session, name=f"c{i}").id or 0 for i in range(2)]
        session.commit()
    return ids


def _reads(api: Api) -> list[AuditEvent]:
    with Session(api.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == PERSONAL_DATA_READ)
        return list(session.exec(query).all())


def test_a_staff_read_of_a_customer_is_audited_with_who_which_fields_and_when(
    api: Api, customers: list[int]
) -> None:
    assert api.call("GET", f"/v1/customers/{customers[0]}", role="operator").status_code == 200
    [event] = _reads(api)
    assert (event.actor, event.entity_type, event.entity_id) == (
        "operator:operator-token",
        "customer",
        str(customers[0]),
    )
    assert event.at == T0 and event.clause == "Art. 10(4)"
    assert event.after == {"fields": sorted(CUSTOMER_FIELDS), "via": f"GET /v1/customers/{customers[0]}"}


def test_a_listing_audits_one_read_per_customer_shown(api: Api, customers: list[int]) -> None:
    assert len(api.call("GET", "/v1/customers?limit=1", role="billing").json()) == 1
    assert [e.entity_id for e in _reads(api)] == [str(customers[0])]
    api.call("GET", "/v1/customers", role="auditor")
    assert sorted(e.entity_id for e in _reads(api)) == sorted(map(str, [customers[0], *customers]))


def test_a_customer_reading_itself_is_not_a_staff_read(api: Api, customers: list[int]) -> None:
    token = api.token_for(Role.CUSTOMER, customer_id=customers[0])
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get(f"/v1/customers/{customers[0]}", headers=headers).status_code == 200
    assert api.client.get("/v1/customers", headers=headers).status_code == 200
    assert _reads(api) == []


def test_a_refused_read_is_not_counted_as_a_read(api: Api, customers: list[int]) -> None:
    assert api.call("GET", "/v1/customers/999", role="operator").status_code == 404
    assert api.call("GET", f"/v1/customers/{customers[0]}", role="disclosure").status_code == 403
    assert _reads(api) == []


def test_personal_data_reads_are_counted_on_metrics(api: Api, customers: list[int]) -> None:
    def count() -> Any:
        text = api.client.get("/metrics").text
        return next(line for line in text.splitlines() if line.startswith("dcloud_personal_data_reads_total"))

    assert count() == "dcloud_personal_data_reads_total 0.0"
    api.call("GET", "/v1/customers", role="operator")
    assert count() == "dcloud_personal_data_reads_total 2.0"
