"""End to end: servers created over the API reach libvirt through the real agent, and back."""

from __future__ import annotations

import libvirt
import pytest

from tests.e2e.stack import LiveStack, wait_for

pytestmark = [pytest.mark.libvirt]


def _action(stack: LiveStack, server_id: str, action: str) -> None:
    response = stack.api("POST", f"/v1/servers/{server_id}/{action}")
    assert response.status_code == 200, response.text


def _observed(stack: LiveStack, server_id: str) -> str:
    return str(stack.api("GET", f"/v1/servers/{server_id}").json()["observed_state"])


def test_server_runs_suspends_resumes_stops_and_is_wiped_on_delete(stack: LiveStack) -> None:
    server = stack.create_server("dctest e2e web")
    sid = server["id"]
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")
    wait_for(lambda: _observed(stack, sid) == "running", what="observed running reported")

    _action(stack, sid, "suspend")
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_PAUSED, what="domain paused")
    wait_for(lambda: _observed(stack, sid) == "paused", what="observed paused reported")

    _action(stack, sid, "resume")
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running again")

    _action(stack, sid, "stop")
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_SHUTOFF, what="domain shut off")

    response = stack.api("DELETE", f"/v1/servers/{sid}")
    assert response.status_code in (200, 202), response.text
    wait_for(lambda: stack.domain_state(sid) is None, what="domain gone")
    record = wait_for(
        lambda: (r := stack.api("GET", f"/v1/servers/{sid}/deletion-record")).status_code == 200 and r.json(),
        what="the deletion record",
    )
    assert record["bytes_overwritten"] >= 0
    assert [v["name"] for v in record["volumes"]] == [f"dcloud-{sid}-disk0"]
    assert record["started_at"] <= record["finished_at"]
    assert not any(name.startswith(f"dcloud-{sid}") for name in stack.volumes())


def test_managed_save_suspend_frees_ram_and_resume_restores(managedsave_stack: LiveStack) -> None:
    stack = managedsave_stack
    sid = stack.create_server("dctest e2e saved")["id"]
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")

    _action(stack, sid, "suspend")
    wait_for(lambda: stack.has_managed_save(sid), what="a managed save image")
    assert stack.domain_state(sid) == libvirt.VIR_DOMAIN_SHUTOFF
    wait_for(lambda: _observed(stack, sid) == "saved", what="observed saved reported")

    _action(stack, sid, "resume")
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain restored")
    assert not stack.has_managed_save(sid)


def test_nasty_name_reaches_libvirt_title_exactly(stack: LiveStack) -> None:
    name = "a'<b>&\""
    sid = stack.create_server(name)["id"]
    wait_for(lambda: stack.domain_state(sid) is not None, what="domain defined")
    dom = stack.conn.lookupByName(f"dcloud-{sid}")
    assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None) == name
