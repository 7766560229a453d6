"""What schemathesis found, each pinned as one plain test (issue 11): the class it belongs to is fixed
in one place (the schema's declared types, or the OpenAPI contract), these keep it fixed."""

from __future__ import annotations

from sqlmodel import Session

from controlplane.models.enforcement import Outage
from tests.fuzz.world import seed_world
from tests.utils.api import Api


def test_a_null_for_a_field_that_is_never_empty_is_a_422_and_changes_nothing(api: Api) -> None:
    seed_world(api)

    response = api.call("PATCH", "/v1/outages/1", role="operator", json={"company_fault": None})

    assert response.status_code == 422 and response.json()["field"] == "company_fault"
    with Session(api.engine) as session:
        outage = session.get(Outage, 1)
        assert outage is not None and outage.company_fault is True


def test_an_unreadable_body_is_a_documented_400(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    response = api.call(
        "POST", "/v1/customers", content=b"\xaa", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400 and isinstance(response.json()["detail"], str)
    assert "400" in spec["paths"]["/v1/customers"]["post"]["responses"]


def test_rdap_and_the_csv_export_are_documented_in_the_media_types_they_send(api: Api) -> None:
    seed_world(api)
    paths = api.client.get("/openapi.json").json()["paths"]

    rdap = api.client.get("/rdap/ip/not-an-address")
    csv = api.call("GET", "/v1/addresses/export.csv")

    assert rdap.status_code == 400 and rdap.headers["content-type"].startswith("application/rdap+json")
    assert "application/rdap+json" in paths["/rdap/ip/{address}"]["get"]["responses"]["400"]["content"]
    assert csv.headers["content-type"].startswith("text/csv")
    assert "text/csv" in paths["/v1/addresses/export.csv"]["get"]["responses"]["200"]["content"]
