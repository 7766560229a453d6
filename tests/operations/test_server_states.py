"""One state vocabulary between desired and observed, and a server list that filters by state and hides
wiped servers unless asked."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from controlplane.models import Server
from tests.utils.api import Api


def _observe(api: Api, server_id: str, state: str) -> None:
    body = {"servers": [{"id": server_id, "state": state}], "full": False}
    assert api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=body).status_code == 204


def test_a_suspended_server_observed_paused_or_saved_is_suspended_and_converged(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server("s1")
    api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator")
    for libvirt_word in ("paused", "saved"):
        _observe(api, server["id"], libvirt_word)
        shown = api.call("GET", f"/v1/servers/{server['id']}").json()
        assert (shown["desired_state"], shown["observed_state"]) == ("suspended", libvirt_word)
        assert (shown["state"], shown["converged"]) == ("suspended", True)


def test_a_server_still_running_after_a_stop_order_is_not_converged(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server("s1")
    _observe(api, server["id"], "running")
    api.call("POST", f"/v1/servers/{server['id']}/stop", role="operator")
    shown = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert (shown["state"], shown["converged"]) == ("running", False)
    _observe(api, server["id"], "shutoff")
    shown = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert (shown["state"], shown["converged"]) == ("stopped", True)


def test_the_list_filters_by_desired_state(api: Api) -> None:
    api.add_host("hv1")
    kept, stopped = api.add_server("kept"), api.add_server("stopped")
    api.call("POST", f"/v1/servers/{stopped['id']}/stop", role="operator")
    names = [s["name"] for s in api.call("GET", "/v1/servers", params={"desired_state": "stopped"}).json()]
    assert names == ["stopped"]
    assert api.call("GET", "/v1/servers", params={"desired_state": "paused"}).status_code == 422
    assert kept["id"] in {s["id"] for s in api.call("GET", "/v1/servers").json()}


def test_the_list_hides_wiped_servers_unless_asked(api: Api) -> None:
    api.add_host("hv1")
    gone = api.add_server("gone")
    api.add_server("here")
    with Session(api.engine) as session:
        row = session.get(Server, gone["id"])
        assert row is not None
        row.deleted_at = datetime(2027, 3, 2, tzinfo=UTC)
        session.add(row)
        session.commit()
    assert [s["name"] for s in api.call("GET", "/v1/servers").json()] == ["here"]
    listed = api.call("GET", "/v1/servers", params={"include_deleted": "true"}).json()
    assert {s["name"] for s in listed} == {"gone", "here"}


def test_the_list_filters_by_state_as_shown(api: Api) -> None:
    api.add_host("hv1")
    paused, saved, running = api.add_server("paused"), api.add_server("saved"), api.add_server("running")
    for server, libvirt_word in ((paused, "paused"), (saved, "saved"), (running, "running")):
        _observe(api, server["id"], libvirt_word)

    def named(state: str) -> list[str]:
        return sorted(s["name"] for s in api.call("GET", "/v1/servers", params={"state": state}).json())

    assert (named("suspended"), named("running"), named("stopped")) == (["paused", "saved"], ["running"], [])
    assert api.call("GET", "/v1/servers", params={"state": "paused"}).status_code == 422


def test_listing_deleted_servers_by_state_shows_them(api: Api) -> None:
    api.add_host("hv1")
    gone = api.add_server("gone")
    api.add_server("here")
    _observe(api, gone["id"], "deleted")
    with Session(api.engine) as session:
        row = session.get(Server, gone["id"])
        assert row is not None
        row.deleted_at = datetime(2027, 3, 2, tzinfo=UTC)
        session.add(row)
        session.commit()
    assert [s["name"] for s in api.call("GET", "/v1/servers", params={"state": "deleted"}).json()] == ["gone"]
    assert "gone" not in {s["name"] for s in api.call("GET", "/v1/servers").json()}
