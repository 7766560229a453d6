"""An action the reconciler does not know fails loudly for its server instead of doing nothing."""

from __future__ import annotations

import pytest

import agents.reconcile
from tests.agents.reconcile.sources import MemorySource


def test_an_unknown_action_is_an_error_for_that_server_not_a_silent_no_op(
    test_conn, make_reconciler, make_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(0, "running")
    source = MemorySource([server])
    reconciler, driver = make_reconciler(test_conn, source)
    monkeypatch.setitem(agents.reconcile._TRANSITIONS, "running", {"shutoff": "reboot"})

    result = reconciler.run_once()

    (observed,) = source.reports[-1].servers
    assert observed.state == "error" and "reboot" in (observed.detail or "")
    assert set(result.errors) == {server.id}
    assert driver.observe(server.id) == "shutoff"
