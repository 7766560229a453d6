"""Test-only crash points of the agent: it kills itself (SIGKILL, no cleanup) right after a delete step.

Armed only by DCLOUD_TEST_AGENT_CRASH_POINT (`Settings.test_agent_crash_point`, unset by default) for the
tests proving that an agent killed at any step of a delete finishes it after a restart. The value is a
journal step (agents/journal.py), optionally `:N` for the Nth time the step passes (`wipe:2`: after the
second volume's wipe). The delete sequence never knows: the journal calls its `after_step` hook, and
this module turns the setting into a hook that kills, or into no hook at all.
"""

from __future__ import annotations

import logging
import os
import signal

from agents.journal import STEPS, StepHook

log = logging.getLogger(__name__)


class BadCrashPoint(ValueError):
    """The crash point names no journal step, or a count below 1."""


def parse_crash_point(value: str) -> tuple[str, int]:
    """`STEP[:N]` -> (step, N); N defaults to 1."""
    step, _, count = value.partition(":")
    if step not in STEPS:
        raise BadCrashPoint(f"crash point {value!r}: {step!r} is not one of {', '.join(STEPS)}")
    try:
        nth = int(count) if count else 1
    except ValueError as exc:
        raise BadCrashPoint(f"crash point {value!r}: {count!r} is not a count") from exc
    if nth < 1:
        raise BadCrashPoint(f"crash point {value!r}: the count starts at 1")
    return step, nth


def step_hook(crash_point: str | None) -> StepHook | None:
    """For `DeletionJournal(after_step=)`: dies the Nth time the armed step becomes durable."""
    if crash_point is None:
        return None
    armed, nth = parse_crash_point(crash_point)
    log.warning("test crash point %s armed", crash_point)
    seen = 0

    def crash(step: str) -> None:
        nonlocal seen
        if step != armed:
            return
        seen += 1
        if seen == nth:
            log.warning("test crash point %s reached: killing pid %d", crash_point, os.getpid())
            os.kill(os.getpid(), signal.SIGKILL)

    return crash
