"""Maintenance test helpers: Seoul times, and a world of two hosts and two customers' servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.services.fleet.maintenance_run import WindowReport, advance_windows
from controlplane.terms.calendar import SEOUL
from tests.utils.api import Api


def seoul(text: str) -> datetime:
    """`2027-03-20 01:00` read as Asia/Seoul."""
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


@dataclass
class World:
    api: Api
    hosts: dict[str, int]
    customers: dict[str, int]
    servers: dict[str, str]

    def create(self, **body: Any) -> Any:
        payload = {"kind": "regular", "action": "none", "hosts": ["dctest-hv1"], **body}
        for key in ("starts_at", "ends_at"):
            if isinstance(payload.get(key), datetime):
                payload[key] = payload[key].isoformat()
        return self.api.call("POST", "/v1/maintenance-windows", role="operator", json=payload)

    def advance(self, at: datetime) -> WindowReport:
        self.api.clock.now = at
        return advance_windows(self.api.engine, now=at)
