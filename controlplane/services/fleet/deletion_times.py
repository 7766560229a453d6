"""The instants of an agent's deletion record must be possible ones (Art. 20(8): the record is evidence).

A wipe cannot have started before the control plane ordered it, nor finished in the future, nor finished
before it started. The agent's clock may run a little ahead of ours (NTP on two machines), so "the
future" allows CLOCK_SKEW. Naive instants never get this far: the wire format takes only aware ones.
Each violation is a 422 naming the field (`deletions.<i>.started_at`), and the whole report is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from controlplane.errors import InvalidInput
from controlplane.models.enforcement import Termination
from controlplane.models.server import DesiredState, Server
from controlplane.protocol import DeletionReport

CLOCK_SKEW = timedelta(minutes=5)


def check_deletion_times(
    session: Session, *, deletions: Sequence[DeletionReport], servers: Mapping[str, Server], now: datetime
) -> None:
    for i, report in enumerate(deletions):
        where = f"deletions.{i}"
        for name in ("started_at", "finished_at"):
            if getattr(report, name) > now + CLOCK_SKEW:
                raise InvalidInput(f"{name} lies in the future", field=f"{where}.{name}")
        if report.finished_at < report.started_at:
            raise InvalidInput("finished_at is before started_at", field=f"{where}.finished_at")
        server = servers.get(report.server_id)
        ordered = _ordered_at(session, server) if server is not None else None
        if ordered is not None and report.started_at < ordered:
            raise InvalidInput(
                f"started_at is before the wipe was ordered ({ordered.isoformat()})",
                field=f"{where}.started_at",
            )


def _ordered_at(session: Session, server: Server) -> datetime | None:
    """When the wipe was ordered: the termination's wipe order for a contract's server (Art. 20(8)),
    else the delete order itself (the last change of an uncontracted server)."""
    if server.desired_state != DesiredState.DELETED:
        return None
    if server.contract_id is None:
        return server.updated_at
    return session.exec(
        select(Termination.wipe_ordered_at).where(
            Termination.contract_id == server.contract_id, col(Termination.withdrawn_at).is_(None)
        )
    ).first()
