"""200 servers on one agent, on libvirt's in-memory test:///default driver."""

from __future__ import annotations

import time
from typing import Any

import libvirt

from agents.driver import LibvirtDriver
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics
from agents.reconcile import Reconciler
from tests.agents.reconcile.sources import MemorySource

SERVERS = 200
# Driver calls that may change libvirt; everything else only reads.
MUTATIONS = frozenset(
    {
        "ensure_pool",
        "ensure_defined",
        "ensure_network_binding",
        "start",
        "stop",
        "suspend",
        "resume",
        "destroy_and_undefine",
        "delete_volume",
        "remove_network_binding",
    }
)


class RecordingDriver:
    """Passes everything to the real driver and records the calls that could change libvirt."""

    def __init__(self, driver: LibvirtDriver) -> None:
        self._driver = driver
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._driver, name)
        if name not in MUTATIONS:
            return attr

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args[0] if args else None))
            return attr(*args, **kwargs)

        return recorded


def _ours(conn: libvirt.virConnect, run_id: str) -> dict[str, tuple[int, str]]:
    """name -> (state, inactive XML) of every domain of this run, as libvirt reports them."""
    return {
        d.name(): (d.state()[0], d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        for d in conn.listAllDomains(0)
        if run_id in d.name()
    }


def test_200_servers_converge_and_a_second_pass_changes_nothing(
    test_conn, run_id, make_server, tmp_path
) -> None:
    source = MemorySource([make_server(i, "running") for i in range(SERVERS)])
    driver = LibvirtDriver(test_conn, pool_name=run_id, pool_path=f"/{run_id}", stop_timeout_s=1.0)
    driver.ensure_pool()
    spy = RecordingDriver(driver)
    reconciler = Reconciler(spy, source, DeletionJournal(tmp_path), AgentMetrics())

    started = time.monotonic()
    first = reconciler.run_once()
    elapsed = time.monotonic() - started

    assert first.errors == {}
    domains = _ours(test_conn, run_id)
    assert len(domains) == SERVERS
    assert {state for state, _xml in domains.values()} == {libvirt.VIR_DOMAIN_RUNNING}
    assert {s.state for s in source.reports[-1].servers} == {"running"}
    assert elapsed < 30, f"first pass over {SERVERS} servers took {elapsed:.1f}s"

    spy.calls.clear()
    second = reconciler.run_once()
    assert spy.calls == []
    assert second.errors == {}
    assert _ours(test_conn, run_id) == domains

    # A full resync re-verifies every definition but still changes nothing in libvirt.
    reconciler.run_once(resync=True)
    assert {name for name, _ in spy.calls} <= {"ensure_defined", "ensure_network_binding"}
    assert _ours(test_conn, run_id) == domains
