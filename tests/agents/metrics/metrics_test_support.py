"""Helpers shared by the metrics tests (a uniquely named module: `conftest` is ambiguous across dirs)."""

from __future__ import annotations

from typing import Any

import libvirt
from lxml import etree


class CountingConnection:
    """Instrumentation around a real virConnect: forwards everything, counts the bulk stats calls."""

    def __init__(self, conn: libvirt.virConnect, *, only: list[libvirt.virDomain] | None = None) -> None:
        self._conn = conn
        # On a shared qemu:///system other processes' guests come and go; `only` keeps the bulk call to
        # this test's domains (the same groups and flags, through libvirt's per-list bulk call).
        self._only = only
        self.stats_calls: list[tuple[int, int]] = []

    def getAllDomainStats(self, stats: int = 0, flags: int = 0) -> list[tuple[libvirt.virDomain, dict]]:
        self.stats_calls.append((stats, flags))
        if self._only is not None:
            return self._conn.domainListGetStats(self._only, stats, flags)
        return self._conn.getAllDomainStats(stats, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def domain_xml(name: str, *, domain_type: str = "test", memory_mib: int = 64, vcpus: int = 1) -> str:
    dom = etree.Element("domain", type=domain_type)
    etree.SubElement(dom, "name").text = name
    etree.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    etree.SubElement(dom, "vcpu").text = str(vcpus)
    os_el = etree.SubElement(dom, "os")
    etree.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    etree.SubElement(dom, "devices")
    return etree.tostring(dom, encoding="unicode")
