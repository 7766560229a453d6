"""Facts the enforcement sweep decides from, loaded in bulk: a handful of set-wise queries whatever the
number of contracts (no query per contract), as plain tuples rather than ORM objects.

The same loaders, filtered to one contract, give `apply` its fresh facts after the contract lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, union
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controlplane.models.billing import Invoice
from controlplane.models.customer import Contract, ContractState
from controlplane.models.disputes import Dispute
from controlplane.models.enforcement import Block, Termination
from controlplane.models.server import DeletionRecord, DesiredState, Server
from controlplane.models.workflows import SpamComplaint
from controlplane.services.billing.credits import credit_balances
from controlplane.services.billing.dispute_holds import open_disputed_amounts
from controlplane.terms.calendar import seoul_date
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.policy import Policy

IN_SERVICE = (ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


@dataclass(frozen=True, slots=True)
class InvoiceFact:
    invoice_id: int
    due: date
    unpaid: int  # net of any amount under open dispute (Art. 35)
    extension_until: date | None
    restrict_not_before: date | None = None  # an upheld dispute: 7 full days after the answer


@dataclass(frozen=True, slots=True)
class BlockFact:
    block_id: int
    kind: str
    scope: str
    clause: str
    item: int | None
    started_at: datetime
    planned_end: datetime | None


@dataclass(frozen=True, slots=True)
class TerminationFact:
    termination_id: int
    kind: TerminationKind
    clause: str
    effective_on: date
    confirmed: bool
    started: bool
    ended: bool = False  # every server wiped: awaiting settlement until nothing is unpaid


@dataclass(frozen=True, slots=True)
class ServerCounts:
    alive: int = 0  # not yet wiped
    running: int = 0
    not_deleted: int = 0  # desired state other than deleted
    wiped: int = 0  # deletion record in


@dataclass
class ContractFacts:
    contract_id: int
    state: str
    terms_version: str = ""  # the pinned policy version (Art. 3(4)) its decisions use
    customer_id: int = 0
    invoices: list[InvoiceFact] = field(default_factory=list)
    blocks: list[BlockFact] = field(default_factory=list)
    termination: TerminationFact | None = None
    servers: ServerCounts = field(default_factory=ServerCounts)
    open_disputes: list[tuple[int, date]] = field(default_factory=list)  # (dispute id, answer due on)
    # Art. 26(5),(6): (complaint id, last day of the fix report) of reports missed, not yet restricted.
    spam_fix_missed: list[tuple[int, date]] = field(default_factory=list)

    @property
    def nonpayment_block(self) -> BlockFact | None:
        return next((b for b in self.blocks if b.kind == "nonpayment"), None)


def load_facts(
    session: Session,
    *,
    as_of: date,
    at: datetime,
    policies: Iterable[Policy],
    contract_ids: Collection[int] | None = None,
) -> dict[int, ContractFacts]:
    """Every contract the sweep may have to act on, keyed by id: arrears, blocks, terminations.

    `policies` are the versions the contracts may be pinned to; invoices are loaded up to the latest
    horizon among them, so each contract's own version still sees every invoice it needs."""
    facts: dict[int, ContractFacts] = {}
    horizon = max(invoice_horizon(as_of, p) for p in policies)
    for contract_id, state, version, customer_id in _contracts_in_play(session, contract_ids, horizon):
        facts[contract_id] = ContractFacts(contract_id, state, version, customer_id)
    _add_invoices(session, facts, horizon=horizon, contract_ids=contract_ids)
    _count_credit_as_paid(session, facts)
    _add_blocks(session, facts, at=at, contract_ids=contract_ids)
    _add_terminations(session, facts, contract_ids=contract_ids)
    _add_open_disputes(session, facts, contract_ids)
    _add_spam_fix_missed(session, facts, as_of, contract_ids)
    _add_server_counts(session, facts)
    return {cid: f for cid, f in facts.items() if _in_play(f)}


def _in_play(f: ContractFacts) -> bool:
    return bool(
        f.invoices
        or f.blocks
        or f.termination
        or f.open_disputes
        or f.spam_fix_missed
        or f.state == ContractState.TERMINATING
    )


def _restrict_ids(query, column, contract_ids: Collection[int] | None):  # type: ignore[no-untyped-def]
    return query if contract_ids is None else query.where(column.in_(list(contract_ids)))


def invoice_horizon(as_of: date, policy: Policy) -> date:
    """The latest due date that can matter on `as_of`: an extension only moves restriction later, so an
    invoice due after this cannot need even the pre-restriction warning yet."""
    return as_of - timedelta(days=policy.restrict_after_overdue_days - policy.restriction_warning_days)


def _contracts_in_play(
    session: Session, contract_ids: Collection[int] | None, horizon: date
) -> list[tuple[int, str, str, int]]:
    """Contracts in service or being terminated; `applied`, `held`, `terminated` ones have nothing due."""
    states = (*IN_SERVICE, ContractState.TERMINATING.value, ContractState.TERMINATED.value)
    query = sa_select(
        col(Contract.id), col(Contract.state), col(Contract.terms_version), col(Contract.customer_id)
    ).where(col(Contract.state).in_(states))
    query = _restrict_ids(query, col(Contract.id), contract_ids)
    if contract_ids is None:
        # Only contracts with something pending: arrears, a block, a termination, or terminating.
        pending: Any = union(
            select(Invoice.contract_id).where(
                col(Invoice.paid_in_full_at).is_(None), col(Invoice.due_date) <= horizon
            ),
            select(Block.contract_id).where(col(Block.lifted_at).is_(None)),
            select(Termination.contract_id).where(col(Termination.completed_at).is_(None)),
            select(Dispute.contract_id).where(col(Dispute.answered_at).is_(None)),
            select(SpamComplaint.contract_id).where(
                col(SpamComplaint.fix_report_due_on).is_not(None),
                col(SpamComplaint.fix_reported_at).is_(None),
                col(SpamComplaint.block_id).is_(None),
            ),
        )
        query = query.where(
            (col(Contract.id).in_(pending)) | (col(Contract.state) == ContractState.TERMINATING.value)
        )
    return [
        (int(cid), str(state), str(version), int(customer))
        for cid, state, version, customer in session.execute(query).all()
    ]


def _add_invoices(
    session: Session, facts: dict[int, ContractFacts], *, horizon: date, contract_ids: Collection[int] | None
) -> None:
    query = sa_select(
        col(Invoice.id),
        col(Invoice.contract_id),
        col(Invoice.due_date),
        col(Invoice.total) - col(Invoice.paid_amount),
        col(Invoice.extension_until),
    ).where(
        col(Invoice.paid_in_full_at).is_(None),
        col(Invoice.total) > col(Invoice.paid_amount),
        col(Invoice.due_date) <= horizon,
    )
    query = _restrict_ids(query, col(Invoice.contract_id), contract_ids)
    rows = [r for r in session.execute(query).all() if r[1] in facts and facts[r[1]].state in IN_SERVICE]
    disputed = open_disputed_amounts(session, [int(r[0]) for r in rows])
    not_before = _upheld_not_before(session, [int(r[0]) for r in rows])
    for inv_id, contract_id, due, unpaid, extension in rows:
        left = int(unpaid) - disputed.get(inv_id, 0)
        if left > 0:
            fact = InvoiceFact(inv_id, due, left, extension, not_before.get(inv_id))
            facts[contract_id].invoices.append(fact)


def _upheld_not_before(session: Session, invoice_ids: list[int]) -> dict[int, date]:
    if not invoice_ids:
        return {}
    query = (
        sa_select(col(Dispute.invoice_id), func.max(col(Dispute.restrict_not_before)))
        .where(col(Dispute.invoice_id).in_(invoice_ids), col(Dispute.restrict_not_before).is_not(None))
        .group_by(col(Dispute.invoice_id))
    )
    return {int(i): d for i, d in session.execute(query).all()}


def _add_open_disputes(
    session: Session, facts: dict[int, ContractFacts], contract_ids: Collection[int] | None
) -> None:
    query = sa_select(col(Dispute.id), col(Dispute.contract_id), col(Dispute.answer_due_on)).where(
        col(Dispute.answered_at).is_(None)
    )
    query = _restrict_ids(query, col(Dispute.contract_id), contract_ids).order_by(col(Dispute.id))
    for dispute_id, contract_id, due_on in session.execute(query):
        if contract_id in facts:
            facts[contract_id].open_disputes.append((int(dispute_id), due_on))


def _add_spam_fix_missed(
    session: Session, facts: dict[int, ContractFacts], as_of: date, contract_ids: Collection[int] | None
) -> None:
    """Complaints whose fix report period has fully expired before `as_of` with no report and no block."""
    query = sa_select(
        col(SpamComplaint.id), col(SpamComplaint.contract_id), col(SpamComplaint.fix_report_due_on)
    ).where(
        col(SpamComplaint.fix_report_due_on) < as_of,
        col(SpamComplaint.fix_reported_at).is_(None),
        col(SpamComplaint.block_id).is_(None),
    )
    query = _restrict_ids(query, col(SpamComplaint.contract_id), contract_ids).order_by(col(SpamComplaint.id))
    for complaint_id, contract_id, due_on in session.execute(query):
        if contract_id in facts:
            facts[contract_id].spam_fix_missed.append((int(complaint_id), due_on))


def _count_credit_as_paid(session: Session, facts: dict[int, ContractFacts]) -> None:
    """Art. 35(3): credit is money paid. A customer's cash credit covers its arrears oldest first, so the
    plan never restricts what `apply` would settle from credit before deciding."""
    owing = [f for f in facts.values() if f.invoices]
    if not owing:
        return
    balances = credit_balances(session, sorted({f.customer_id for f in owing}))
    for customer_id, balance in balances.items():
        if balance <= 0:
            continue
        mine = [(inv, f) for f in owing if f.customer_id == customer_id for inv in f.invoices]
        for invoice, fact in sorted(mine, key=lambda pair: (pair[0].due, pair[0].invoice_id)):
            covered = min(balance, invoice.unpaid)
            balance -= covered
            index = fact.invoices.index(invoice)
            fact.invoices[index] = replace(invoice, unpaid=invoice.unpaid - covered)
        for fact in {id(f): f for _, f in mine}.values():
            fact.invoices = [i for i in fact.invoices if i.unpaid > 0]


def _add_blocks(
    session: Session, facts: dict[int, ContractFacts], *, at: datetime, contract_ids: Collection[int] | None
) -> None:
    query = sa_select(
        col(Block.id),
        col(Block.contract_id),
        col(Block.kind),
        col(Block.scope),
        col(Block.clause),
        col(Block.item),
        col(Block.started_at),
        col(Block.planned_end),
    ).where(col(Block.lifted_at).is_(None))
    query = _restrict_ids(query, col(Block.contract_id), contract_ids).order_by(col(Block.id))
    for block_id, contract_id, kind, scope, clause, item, started, planned_end in session.execute(query):
        found = facts.get(contract_id)
        if found is not None:
            found.blocks.append(
                BlockFact(
                    block_id,
                    kind,
                    scope,
                    clause,
                    item,
                    _aware(started),
                    _aware(planned_end) if planned_end else None,
                )
            )


def _add_terminations(
    session: Session, facts: dict[int, ContractFacts], contract_ids: Collection[int] | None
) -> None:
    query = sa_select(
        col(Termination.id),
        col(Termination.contract_id),
        col(Termination.kind),
        col(Termination.clause),
        col(Termination.effective_on),
        col(Termination.confirmed_by),
        col(Termination.started_at),
        col(Termination.ended_at),
    ).where(col(Termination.completed_at).is_(None), col(Termination.withdrawn_at).is_(None))
    query = _restrict_ids(query, col(Termination.contract_id), contract_ids)
    for tid, contract_id, kind, clause, effective_on, confirmed_by, started, ended in session.execute(query):
        found = facts.get(contract_id)
        if found is not None:
            found.termination = TerminationFact(
                tid,
                TerminationKind(kind),
                clause,
                effective_on,
                confirmed_by is not None,
                started is not None,
                ended is not None,
            )


def _add_server_counts(session: Session, facts: dict[int, ContractFacts]) -> None:
    """Server counts only for the contracts a decision needs them for (blocked or terminating)."""
    wanted = [
        cid
        for cid, f in facts.items()
        if f.blocks
        or f.state == ContractState.TERMINATING
        or (f.termination is not None and f.termination.started)
    ]
    if not wanted:
        return
    wiped = col(DeletionRecord.id).is_not(None)
    query = (
        sa_select(
            col(Server.contract_id),
            func.sum(case((col(Server.deleted_at).is_(None), 1), else_=0)),
            func.sum(
                case(
                    (
                        and_(
                            col(Server.deleted_at).is_(None),
                            col(Server.desired_state) == DesiredState.RUNNING.value,
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            func.sum(case((col(Server.desired_state) != DesiredState.DELETED.value, 1), else_=0)),
            func.sum(case((wiped, 1), else_=0)),
        )
        .outerjoin(DeletionRecord, col(DeletionRecord.server_id) == col(Server.id))
        .group_by(col(Server.contract_id))
    )
    counts: dict[int, ServerCounts] = defaultdict(ServerCounts)
    for chunk_start in range(0, len(wanted), 5000):
        chunk = wanted[chunk_start : chunk_start + 5000]
        for cid, alive, running, not_deleted, n_wiped in session.execute(
            query.where(col(Server.contract_id).in_(chunk))
        ):
            counts[cid] = ServerCounts(
                int(alive or 0), int(running or 0), int(not_deleted or 0), int(n_wiped or 0)
            )
    for cid in wanted:
        facts[cid].servers = counts[cid]


def _aware(moment: datetime) -> datetime:
    # Core selects bypass the UTCDateTime result processor on some paths; SQLite hands back naive UTC.
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def seoul_day(moment: datetime) -> date:
    return seoul_date(_aware(moment))
