"""The agent's desired-state watch end to end: with a poll (and resync) interval of a minute, orders placed
through the API still reach libvirt within a couple of seconds, because the watch wakes the agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.e2e.stack import LiveStack, start_stack, wait_for

pytestmark = [pytest.mark.libvirt]

LONG_POLL_S = 60.0
# An order's budget: the watch's 0.1 s check, one pass, the libvirt call, a loaded 2-core machine.
PROMPT_S = 4.0


@pytest.fixture
def slow_poll_stack(tmp_path: Path) -> Iterator[LiveStack]:
    live = start_stack(tmp_path, poll_interval_s=LONG_POLL_S)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def unwatched_stack(tmp_path: Path) -> Iterator[LiveStack]:
    live = start_stack(tmp_path, poll_interval_s=LONG_POLL_S, watch=False)
    try:
        yield live
    finally:
        live.stop()


def _order(stack: LiveStack, method: str, path: str) -> float:
    response = stack.api(method, path)
    assert response.status_code in (200, 202), response.text
    return time.monotonic()


def _took(stack: LiveStack, sid: str, state: int | None, since: float, what: str) -> float:
    wait_for(lambda: stack.domain_state(sid) == state, timeout=PROMPT_S, what=what)
    return time.monotonic() - since


def test_orders_reach_libvirt_at_once_despite_a_one_minute_poll(slow_poll_stack: LiveStack) -> None:
    stack = slow_poll_stack
    assert stack.agent_settings.agent_poll_interval_s == LONG_POLL_S
    created = time.monotonic()
    sid = stack.create_server("dctest watch")["id"]
    _took(stack, sid, libvirt.VIR_DOMAIN_RUNNING, created, "the created domain running")

    since = _order(stack, "POST", f"/v1/servers/{sid}/suspend")
    _took(stack, sid, libvirt.VIR_DOMAIN_PAUSED, since, "the domain paused")
    since = _order(stack, "POST", f"/v1/servers/{sid}/resume")
    _took(stack, sid, libvirt.VIR_DOMAIN_RUNNING, since, "the domain running again")
    since = _order(stack, "DELETE", f"/v1/servers/{sid}")
    _took(stack, sid, None, since, "the domain gone")


def test_without_the_watch_an_order_waits_for_the_poll(unwatched_stack: LiveStack) -> None:
    """The control: the same order with the watch off has not reached libvirt after the same budget."""
    stack = unwatched_stack
    sid = stack.create_server("dctest unwatched")["id"]
    time.sleep(PROMPT_S)
    assert stack.domain_state(sid) is None
