"""A suspend-and-resume window on a real libvirt host: at its start every running server is managed-saved
by the agent (RAM on disk, domain off with its save image) even though the agent's own suspend mode is
`pause`; at its end each one is restored and running, and each server's outcome is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import libvirt
import pytest

from controlplane.clock import FixedClock
from controlplane.services.fleet.maintenance_run import advance_windows
from tests.e2e.stack import LiveStack, start_stack, wait_for
from tests.utils.maintenance import seoul

pytestmark = [pytest.mark.libvirt]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(seoul("2027-03-02 12:00"))


@pytest.fixture
def live(tmp_path: Path, clock: FixedClock) -> Iterator[LiveStack]:
    stack = start_stack(tmp_path, clock=clock)  # suspend_mode "pause": the window must still save
    try:
        yield stack
    finally:
        stack.stop()


def _window(stack: LiveStack, window_id: int) -> dict[str, Any]:
    response = stack.api("GET", f"/v1/maintenance-windows/{window_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _observed(stack: LiveStack, server_id: str) -> str:
    return str(stack.api("GET", f"/v1/servers/{server_id}").json()["observed_state"])


def test_suspend_and_resume_saves_servers_at_the_start_and_runs_them_after_the_end(
    live: LiveStack, clock: FixedClock
) -> None:
    sids = [live.create_server(f"dctest e2e maint {i}")["id"] for i in range(2)]
    for sid in sids:
        wait_for(lambda sid=sid: live.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")
    body = {
        "kind": "irregular",
        "action": "suspend-and-resume",
        "reason": "hypervisor firmware update",
        "starts_at": (clock() + timedelta(hours=1)).isoformat(),
        "ends_at": (clock() + timedelta(hours=2)).isoformat(),
        "hosts": [live.host_name],
    }
    created = live.api("POST", "/v1/maintenance-windows", json=body)
    assert created.status_code == 201, created.text
    window_id = created.json()["id"]

    clock.advance(hours=1)
    advance_windows(live.engine, now=clock())
    for sid in sids:
        wait_for(lambda sid=sid: live.has_managed_save(sid), what="a managed save image")
        assert live.domain_state(sid) == libvirt.VIR_DOMAIN_SHUTOFF
        wait_for(lambda sid=sid: _observed(live, sid) == "saved", what="observed saved reported")
    advance_windows(live.engine, now=clock())
    assert {r["outcome"] for r in _window(live, window_id)["servers"]} == {"saved"}

    clock.advance(hours=1)
    advance_windows(live.engine, now=clock())
    for sid in sids:
        wait_for(lambda sid=sid: live.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain restored")
        assert not live.has_managed_save(sid)
        wait_for(lambda sid=sid: _observed(live, sid) == "running", what="observed running reported")
    advance_windows(live.engine, now=clock())
    window = _window(live, window_id)
    assert window["state"] == "completed"
    assert sorted((r["server_id"], r["outcome"]) for r in window["servers"]) == sorted(
        (sid, "restored") for sid in sids
    )
