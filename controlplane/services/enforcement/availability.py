"""Outage records and availability credit (Art. 36, 37): availability per contract and month from the
terms' `sla_credit`, a written claim within 3 months of learning the cause, and the credit as a negative
line on the next invoice (through billing's extra-line hook).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.customer import Contract
from controlplane.models.enforcement import Outage
from controlplane.models.server import Server
from controlplane.policy_registry import pinned_policy
from controlplane.schemas.enforcement import OutageCreate, OutageUpdate
from controlplane.services.audit import record_change
from controlplane.services.billing.drafts import ExtraLine
from controlplane.services.billing.fee_periods import month_rate
from controlplane.services.billing.invoicing import register_extra_lines
from controlplane.services.fleet.maintenance_windows import maintenance_spans
from controlplane.services.tenancy import contracts_of
from controlplane.terms import availability as sla
from controlplane.terms.calendar import YearMonth, seoul_date, seoul_midnight
from controlplane.terms.clauses import Clause
from controlplane.terms.deadlines import claim_window
from controlplane.terms.errors import TermsError


def outage_snapshot(outage: Outage) -> dict[str, object]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in outage.model_dump(exclude={"id"}).items()
    }


def record_outage(session: Session, *, data: OutageCreate, now: datetime, actor: str) -> Outage:
    if session.get(Contract, data.contract_id) is None:
        raise InvalidInput(f"no contract {data.contract_id}", field="contract_id")
    if data.reported_at is None and data.company_aware_at is None:
        raise InvalidInput("an outage needs reported_at or company_aware_at", field="reported_at")
    outage = Outage(**data.model_dump())
    _check_times(outage)
    session.add(outage)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="outage",
        entity_id=outage.id or 0,
        action="record",
        clause="Art. 36(2)",
        after=outage_snapshot(outage),
    )
    session.commit()
    return outage


def update_outage(
    session: Session, *, outage_id: int, data: OutageUpdate, now: datetime, actor: str
) -> Outage:
    outage = get_outage(session, outage_id)
    if outage.credited_on_invoice_id is not None:
        raise Conflict(f"outage {outage_id} is already credited on an invoice", field="outage_id")
    before = outage_snapshot(outage)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(outage, name, value)
    _check_times(outage)
    session.add(outage)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="outage",
        entity_id=outage_id,
        action="update",
        clause="Art. 36(2)",
        before=before,
        after=outage_snapshot(outage),
    )
    session.commit()
    return outage


def _check_times(outage: Outage) -> None:
    if outage.resolved_at is not None and outage.resolved_at < outage.started_at:
        raise InvalidInput("resolved_at must not be before started_at", field="resolved_at")


def get_outage(session: Session, outage_id: int) -> Outage:
    outage = session.get(Outage, outage_id)
    if outage is None:
        raise NotFound(f"no outage {outage_id}", field="outage_id")
    return outage


def list_outages(
    session: Session, *, contract_id: int | None = None, customer_id: int | None = None
) -> list[Outage]:
    """Outages by start; `customer_id` keeps a tenant's own (of its contracts)."""
    query = select(Outage)
    if customer_id is not None:
        query = query.where(col(Outage.contract_id).in_(contracts_of(customer_id)))
    if contract_id is not None:
        query = query.where(Outage.contract_id == contract_id)
    return list(session.exec(query.order_by(col(Outage.started_at))).all())


def _month_outages(session: Session, contract_id: int, month: YearMonth) -> list[Outage]:
    """Resolved outages that overlap the month (an unresolved one cannot be measured yet)."""
    query = (
        select(Outage)
        .where(
            Outage.contract_id == contract_id,
            col(Outage.resolved_at).is_not(None),
            col(Outage.started_at) < seoul_midnight(month.next().first_day),
            col(Outage.resolved_at) > seoul_midnight(month.first_day),
        )
        .order_by(col(Outage.started_at))
    )
    return list(session.exec(query).all())


def _maintenance_spans(session: Session, contract_id: int, month: YearMonth) -> list[sla.Span]:
    """The windows on any host the contract's servers were on (Art. 14(3): not downtime)."""
    host_ids = sorted(
        set(session.exec(select(Server.host_id).where(Server.contract_id == contract_id)).all())
    )
    lo, hi = seoul_midnight(month.first_day), seoul_midnight(month.next().first_day)
    return maintenance_spans(session, host_ids, lo, hi)


def _terms_outage(outage: Outage) -> sla.Outage:
    assert outage.resolved_at is not None
    excluded = sla.Exclusion(outage.excluded_reason) if outage.excluded_reason else None
    return sla.Outage(
        outage.started_at,
        sla.earlier_notice(outage.reported_at, outage.company_aware_at),
        outage.resolved_at,
        outage.company_fault,
        excluded,
    )


def availability(session: Session, *, contract_id: int, month: YearMonth) -> sla.SlaCredit:
    """Availability of the contract in `month` and the credit the terms owe for it (capped, Art. 36(4))."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(f"no contract {contract_id}", field="contract_id")
    outages = [_terms_outage(o) for o in _month_outages(session, contract_id, month)]
    policy = pinned_policy(contract.terms_version)  # threshold and minimum outage of its own version
    windows = _maintenance_spans(session, contract_id, month)
    try:
        # Art. 36(3): the daily fee of that month's own fee, not of a plan change dated later.
        return sla.sla_credit(month_rate(session, contract, month), month, outages, policy, windows)
    except TermsError as exc:
        raise InvalidInput(exc.message, field=exc.field) from exc


def claim_credit(session: Session, *, contract_id: int, month: YearMonth, now: datetime, actor: str) -> int:
    """A written claim (Art. 37): accepted only within 3 months of learning the cause; the credit is
    recorded on the month's first outage and billed on the next invoice. Returns the credit."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(f"no contract {contract_id}", field="contract_id")
    policy = pinned_policy(contract.terms_version)
    outages = _month_outages(session, contract_id, month)
    if any(o.credit_amount is not None for o in outages):
        raise Conflict(f"availability credit for {month} was already claimed", field="month")
    for outage in outages:
        learned = outage.cause_learned_at or outage.resolved_at
        assert learned is not None
        window = claim_window(
            seoul_date(learned), policy=policy, cause_arose_on=seoul_date(outage.started_at)
        )
        if not window.is_met_by(seoul_date(now)):
            raise InvalidInput(
                f"the claim window closed on {window.on.isoformat()} ({window.clause})", field="month"
            )
    credit = availability(session, contract_id=contract_id, month=month)
    if outages:
        outages[0].credit_amount = credit.amount
        for other in outages[1:]:
            other.credit_amount = 0
        session.add_all(outages)
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="contract",
            entity_id=contract_id,
            action=f"sla_claim:{month}",
            clause=str(credit.clause),
            after={"credit": credit.amount, "availability": str(credit.availability_percent)},
        )
    session.commit()
    return credit.amount


class SlaCreditLines:
    """Billing's extra-line source: claimed credits not yet on an invoice, as negative lines."""

    def lines(
        self, session: Session, contract_ids: list[int], month: YearMonth
    ) -> dict[int, list[ExtraLine]]:
        query = select(Outage.contract_id, Outage.started_at, Outage.credit_amount).where(
            col(Outage.contract_id).in_(contract_ids),
            col(Outage.credit_amount) > 0,
            col(Outage.credited_on_invoice_id).is_(None),
        )
        found: dict[int, list[ExtraLine]] = {}
        for contract_id, started_at, amount in session.execute(query):
            line = ExtraLine(
                "sla_credit",
                f"availability credit for {YearMonth.of(seoul_date(started_at))}",
                -int(amount),
                Clause("Art. 36(3)"),
            )
            found.setdefault(contract_id, []).append(line)
        return found

    def billed(self, session: Session, invoice_ids: dict[int, int], month: YearMonth) -> None:
        for contract_id, invoice_id in invoice_ids.items():
            for outage in session.exec(
                select(Outage).where(
                    Outage.contract_id == contract_id,
                    col(Outage.credit_amount) > 0,
                    col(Outage.credited_on_invoice_id).is_(None),
                )
            ).all():
                outage.credited_on_invoice_id = invoice_id
                session.add(outage)


SLA_CREDIT_LINES = SlaCreditLines()
register_extra_lines(SLA_CREDIT_LINES)


def contracts_with_outages(session: Session, month: YearMonth) -> list[int]:
    """Contracts with a resolved outage overlapping `month` (the month's SLA figures cover these)."""
    query = select(Outage.contract_id).where(
        col(Outage.resolved_at).is_not(None),
        col(Outage.started_at) < seoul_midnight(month.next().first_day),
        col(Outage.resolved_at) > seoul_midnight(month.first_day),
    )
    return sorted(set(session.exec(query).all()))
