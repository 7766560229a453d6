"""Test-only crash points: a job kills its own process (SIGKILL, no cleanup) at a named point.

Armed only by DCLOUD_TEST_CRASH_POINT (`Settings.test_crash_point`, unset by default), for the tests that
prove what a control plane killed between deciding and notifying leaves behind. The services never know:
they take an optional hook and call it at their step boundaries; this module turns the setting into the
hook that kills, or into no hook at all.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

from controlplane.config import CrashPoint, Settings
from controlplane.services.notices import DeliveryHook, DeliveryStep

log = logging.getLogger(__name__)

_DELIVERY_STEPS = {
    CrashPoint.NOTICE_CLAIMED: DeliveryStep.CLAIMED,
    CrashPoint.NOTICE_HANDED_OVER: DeliveryStep.HANDED_OVER,
}


def _die(point: CrashPoint) -> None:
    log.warning("test crash point %s reached: killing this process (pid %d)", point, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def sweep_commit_hook(settings: Settings) -> Callable[[int], None] | None:
    """For `sweep.apply(after_commit=)`: dies after the first contract's transaction committed."""
    if settings.test_crash_point != CrashPoint.SWEEP_CONTRACT_COMMITTED:
        return None
    log.warning("test crash point %s armed", settings.test_crash_point)

    def crash(_contract_id: int) -> None:
        _die(CrashPoint.SWEEP_CONTRACT_COMMITTED)

    return crash


def delivery_hook(settings: Settings) -> DeliveryHook | None:
    """For `deliver_due_notices(after_step=)`: dies the first time a notice passes the armed step."""
    point = settings.test_crash_point
    if point is None or point not in _DELIVERY_STEPS:
        return None
    log.warning("test crash point %s armed", point)
    armed = _DELIVERY_STEPS[point]

    def crash(step: DeliveryStep, _notice_id: int) -> None:
        if step == armed:
            _die(point)

    return crash
