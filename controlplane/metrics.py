"""The control plane's /metrics: fleet and enforcement state read from the store at scrape time.

Every replica reads the same database, so every replica reports the same numbers; a store error
yields `dcloud_store_up 0` and the other families instead of a failed scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.metrics_scheduling import record_scheduler_leader, scheduling_families
from controlplane.models import Contract, DesiredState, Host, ObservedState, OrphanDomain, Server
from controlplane.models.audit import AuditEvent
from controlplane.models.customer import ContractState
from controlplane.models.disputes import Dispute
from controlplane.models.enforcement import Block
from controlplane.models.notices import Notice
from controlplane.personal_data import PERSONAL_DATA_READ
from controlplane.policy_registry import known_policies
from controlplane.services.enforcement.spam_metrics import spam_deadlines
from controlplane.services.fleet.hosts import host_health
from controlplane.services.notices import MAX_ATTEMPTS
from controlplane.terms.actions import NoticeKind
from controlplane.terms.calendar import seoul_date
from network.metrics import register_network_metrics

log = logging.getLogger(__name__)

__all__ = ["ControlPlaneCollector", "build_registry", "record_scheduler_leader"]

# Every labelled gauge starts each known label set at 0: an alert on `x > 0` and a dashboard's graph need
# the series to exist before the first event, and `absent()` then means "not scraped", never "none yet".
_BLOCK_KINDS = ("nonpayment", "spam", "security", "emergency", "operator")
_BLOCK_SCOPES = ("full", "smtp")
_CHANNELS = ("email", "sms")


class ControlPlaneCollector(Collector):
    def __init__(self, engine: Engine, clock: Clock, settings: Settings) -> None:
        self.engine, self.clock, self.settings = engine, clock, settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dcloud_store_up", "1 when the store answered this scrape")
        try:
            with Session(self.engine) as session:
                families = list(self._families(session, self.clock()))
        except Exception:  # the scrape must still say that the store is down
            log.exception("control plane metrics unavailable")
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _families(self, session: Session, now: datetime) -> Iterator[Metric]:
        yield self._hosts(session, now)
        yield from self._servers(session, now)
        yield _grouped(
            session,
            "dcloud_contracts",
            "Contracts by life-cycle state (map section 1)",
            col(Contract.state),
            "state",
            known=[state.value for state in ContractState],
        )
        yield self._unknown_policies(session)
        blocks = GaugeMetricFamily(
            "dcloud_active_blocks",
            "Active restrictions by kind and scope (Art. 16, 33)",
            labels=["kind", "scope"],
        )
        query = (
            select(Block.kind, Block.scope, func.count())
            .where(col(Block.lifted_at).is_(None))
            .group_by(col(Block.kind), col(Block.scope))
        )
        counts = {(kind, scope): 0 for kind in _BLOCK_KINDS for scope in _BLOCK_SCOPES}
        for kind, scope, count in session.exec(query).all():
            counts[(kind, scope)] = count
        for (kind, scope), count in sorted(counts.items()):
            blocks.add_metric([kind, scope], float(count))
        yield blocks
        yield self._notices(session, now)
        orphans = GaugeMetricFamily(
            "dcloud_orphan_domains", "Domains on hosts that dcloud does not own (reported, never destroyed)"
        )
        orphans.add_metric([], float(session.exec(select(func.count()).select_from(OrphanDomain)).one()))
        yield orphans
        yield self._refused_deletions(session)
        yield self._personal_data_reads(session)
        yield self._exhausted_notices(session)
        yield self._open_disputes(session, now)
        yield from scheduling_families(session, now)
        yield spam_deadlines(session, now)

    def _refused_deletions(self, session: Session) -> Metric:
        """Deletion records refused because the server was never ordered deleted (forged or buggy agent)."""
        family = CounterMetricFamily(
            "dcloud_deletion_records_refused",
            "Deletion records an agent sent for a server the control plane never ordered deleted",
        )
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "deletion_refused")
        family.add_metric([], float(session.exec(query).one()))
        return family

    def _personal_data_reads(self, session: Session) -> Metric:
        """Staff reads of customers' personal data (Art. 10(4)), one per customer read: audited."""
        family = CounterMetricFamily(
            "dcloud_personal_data_reads",
            "Staff reads of a customer's personal data, each on the audit trail (Art. 10(4))",
        )
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == PERSONAL_DATA_READ)
        family.add_metric([], float(session.exec(query).one()))
        return family

    def _open_disputes(self, session: Session, now: datetime) -> Metric:
        """Art. 35(1): open disputes by how close their 7-day answer deadline is."""
        family = GaugeMetricFamily(
            "dcloud_disputes_open", "Open invoice disputes by answer deadline (Art. 35(1))", labels=["due"]
        )
        today = seoul_date(now)
        counts = {"overdue": 0, "due_within_1_day": 0, "pending": 0}
        open_ones = select(col(Dispute.answer_due_on)).where(col(Dispute.answered_at).is_(None))
        for (due_on,) in session.execute(open_ones).all():
            left = (due_on - today).days
            counts["overdue" if left < 0 else "due_within_1_day" if left <= 1 else "pending"] += 1
        for label, count in counts.items():
            family.add_metric([label], float(count))
        return family

    def _exhausted_notices(self, session: Session) -> Metric:
        """Notices given up after every retry: a person must reach the customer (pages an operator)."""
        family = GaugeMetricFamily(
            "dcloud_notices_exhausted", "Notices never delivered after every retry, by kind", labels=["kind"]
        )
        query = (
            select(Notice.kind, func.count())
            .where(col(Notice.sent_at).is_(None), col(Notice.attempts) >= MAX_ATTEMPTS)
            .group_by(col(Notice.kind))
        )
        counts = dict.fromkeys((kind.value for kind in NoticeKind), 0)
        counts.update(session.exec(query).all())
        for kind, count in sorted(counts.items()):
            family.add_metric([kind], float(count))
        return family

    def _unknown_policies(self, session: Session) -> Metric:
        """Contracts pinned to a version this deployment does not know: the sweep withholds their actions."""
        family = GaugeMetricFamily(
            "dcloud_contracts_unknown_policy",
            "Live contracts pinned to a policy version this deployment lacks (no enforcement for them)",
        )
        known = [p.version for p in known_policies()]
        query = (
            select(func.count())
            .select_from(Contract)
            .where(col(Contract.terms_version).not_in(known), col(Contract.state) != "terminated")
        )
        family.add_metric([], float(session.exec(query).one()))
        return family

    def _hosts(self, session: Session, now: datetime) -> Metric:
        family = GaugeMetricFamily("dcloud_hosts", "Hypervisor hosts by derived health", labels=["health"])
        counts = {"up": 0, "unknown": 0, "maintenance": 0}
        for host in session.exec(select(Host)).all():
            counts[host_health(host, now=now, settings=self.settings).value] += 1
        for health, count in counts.items():
            family.add_metric([health], float(count))
        return family

    def _servers(self, session: Session, now: datetime) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "dcloud_servers",
            "Servers not yet wiped, by desired and observed state",
            labels=["desired", "observed"],
        )
        query = (
            select(Server.desired_state, Server.observed_state, func.count())
            .where(col(Server.deleted_at).is_(None))
            .group_by(col(Server.desired_state), col(Server.observed_state))
        )
        counts = {(d.value, o.value): 0 for d in DesiredState for o in ObservedState}
        for desired, observed, count in session.exec(query).all():
            counts[(desired, observed)] = count
        for (desired, observed), count in sorted(counts.items()):
            family.add_metric([desired, observed], float(count))
        yield family
        oldest = session.exec(
            select(func.min(Server.updated_at)).where(
                Server.desired_state == DesiredState.DELETED, col(Server.deleted_at).is_(None)
            )
        ).one()
        pending = GaugeMetricFamily(
            "dcloud_deletion_pending_oldest_seconds",
            "Age of the oldest delete order without a deletion record (0 when none)",
        )
        pending.add_metric([], _age(oldest, now))
        yield pending

    def _notices(self, session: Session, now: datetime) -> Metric:
        family = GaugeMetricFamily(
            "dcloud_notices_unsent", "Queued notices not yet delivered, by channel", labels=["channel"]
        )
        query = (
            select(Notice.channel, func.count())
            .where(col(Notice.sent_at).is_(None))
            .group_by(col(Notice.channel))
        )
        counts = dict.fromkeys(_CHANNELS, 0)
        counts.update(session.exec(query).all())
        for channel, count in sorted(counts.items()):
            family.add_metric([channel], float(count))
        return family


def _grouped(
    session: Session, name: str, doc: str, column: object, label: str, *, known: list[str]
) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=[label])
    counts = dict.fromkeys(known, 0)
    for value, count in session.exec(select(column, func.count()).group_by(column)).all():  # type: ignore[call-overload]
        counts[str(value)] = count
    for value, count in sorted(counts.items()):
        family.add_metric([value], float(count))
    return family


def _age(then: datetime | None, now: datetime) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # aggregate functions bypass the column type on SQLite
        from datetime import UTC

        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def build_registry(engine: Engine, clock: Clock, settings: Settings) -> CollectorRegistry:
    """One registry per app: the control plane's own families plus the network module's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ControlPlaneCollector(engine, clock, settings))
    ProcessCollector(registry=registry)  # process_* (CPU, memory, open fds) of this replica
    register_network_metrics(registry, engine, clock)
    return registry
