"""SoftReboots on its own: when a wait ends, what ends it, and that the loop is woken once per wait."""

from __future__ import annotations

from agents.soft_reboot import RebootWait, SoftReboots


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_wait_expires_at_its_timeout_and_wakes_the_loop_once() -> None:
    clock = Clock()
    waits = SoftReboots(120.0, clock=clock)
    waits.requested("s1", 1)
    assert waits.next_deadline() == 220.0
    clock.now = 219.9
    assert waits.state_of("s1", 1) == RebootWait.WAITING and waits.due() == set()
    clock.now = 220.0
    assert waits.state_of("s1", 1) == RebootWait.EXPIRED
    assert waits.due() == {"s1"}
    assert waits.due() == set() and waits.next_deadline() is None  # no spin while it is handled


def test_a_reboot_seen_ends_the_wait_without_a_deadline() -> None:
    clock = Clock()
    waits = SoftReboots(120.0, clock=clock)
    waits.requested("s1", 1)
    waits.guest_rebooted("s1")
    clock.now = 500.0
    assert waits.state_of("s1", 1) == RebootWait.REBOOTED
    assert waits.due() == set() and waits.next_deadline() is None


def test_a_reboot_event_without_a_wait_records_nothing() -> None:
    waits = SoftReboots(120.0, clock=Clock())
    waits.guest_rebooted("s1")  # our own hard reset, say
    assert waits.pending() == set() and waits.state_of("s1", 1) == RebootWait.NONE


def test_a_newer_order_is_asked_for_again() -> None:
    waits = SoftReboots(120.0, clock=Clock())
    waits.requested("s1", 1)
    waits.guest_rebooted("s1")
    assert waits.state_of("s1", 2) == RebootWait.NONE


def test_a_forced_reset_is_counted_and_ends_the_wait() -> None:
    forced: list[int] = []
    waits = SoftReboots(120.0, on_forced=lambda: forced.append(1), clock=Clock())
    waits.requested("s1", 1)
    waits.forced("s1")
    assert forced == [1] and waits.pending() == set()


def test_waits_of_servers_no_longer_listed_are_dropped() -> None:
    waits = SoftReboots(120.0, clock=Clock())
    waits.requested("s1", 1)
    waits.requested("s2", 1)
    waits.prune(["s2"])
    assert waits.pending() == {"s2"}
