"""A deletion record's instants must be possible: aware, not in the future beyond a small clock skew,
not finished before started, not started before the wipe was ordered. Each is a 422 naming the field,
and nothing of the report is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controlplane.models.server import DeletionRecord
from tests.utils.api import T0, Api


def _deletion(server_id: str, started: str, finished: str) -> dict[str, Any]:
    disk = {
        "name": f"dcloud-{server_id}-disk0",
        "path": f"/var/lib/dcloud/images/dcloud-{server_id}-disk0",
        "capacity_bytes": 10 << 30,
        "bytes_overwritten": 10 << 30,
    }
    return {
        "server_id": server_id,
        "domain_name": f"dcloud-{server_id}",
        "volumes": [disk],
        "bytes_overwritten": 10 << 30,
        "method": "zero-fill",
        "started_at": started,
        "finished_at": finished,
    }


@pytest.fixture
def ordered(api: Api) -> str:
    """A server ordered deleted at T0 + 1 h (the fixed clock then moves 1 h further)."""
    api.add_host("hv1")
    server_id: str = api.add_server(host="hv1")["id"]
    api.clock.advance(hours=1)
    assert api.call("DELETE", f"/v1/servers/{server_id}", role="operator").status_code == 202
    api.clock.advance(hours=1)
    return server_id


def _report(api: Api, deletion: dict[str, Any]) -> Any:
    body = {
        "servers": [{"id": deletion["server_id"], "state": "deleted"}],
        "deletions": [deletion],
        "full": False,
    }
    return api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=body)


def iso(offset: timedelta) -> str:
    return (T0 + offset).isoformat()


H = timedelta(hours=1)
CASES = [
    (iso(1.5 * H), "2027-03-02T10:40:00", "finished_at"),  # naive
    ("2027-03-02T10:30:00", iso(1.5 * H), "started_at"),  # naive
    (iso(1.5 * H), iso(2 * H + timedelta(minutes=6)), "finished_at"),  # future beyond the skew
    (iso(1.5 * H), iso(1.25 * H), "finished_at"),  # finished before it started
    (iso(0.5 * H), iso(1.5 * H), "started_at"),  # started before the delete order
    ("0001-01-01T00:00:00+14:00", iso(1.5 * H), "started_at"),  # before any order
]


@pytest.mark.parametrize(("started", "finished", "field"), CASES)
def test_impossible_instants_are_refused_naming_the_field(
    api: Api, ordered: str, started: str, finished: str, field: str
) -> None:
    response = _report(api, _deletion(ordered, started, finished))
    assert (response.status_code, response.json()["field"]) == (422, f"deletions.0.{field}"), response.text
    assert api.count(DeletionRecord) == 0
    assert api.call("GET", f"/v1/servers/{ordered}").json()["observed_state"] != "deleted"


def test_a_record_within_the_clock_skew_is_accepted(api: Api, ordered: str) -> None:
    response = _report(api, _deletion(ordered, iso(1.5 * H), iso(2 * H + timedelta(minutes=4))))
    assert response.status_code == 204, response.text
    assert api.count(DeletionRecord) == 1
