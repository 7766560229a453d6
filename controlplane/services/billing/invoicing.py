"""Monthly invoicing (Art. 31, 32): one invoice per contract and month, enforced by the database.

The run works in chunks of contracts, each in its own transaction: facts are loaded in bulk, every
invoice is computed in Python with the terms' pure functions, and invoices, lines, credit offsets and
invoice notices are written with multi-row inserts. The invoice insert is `ON CONFLICT DO NOTHING
RETURNING`, so a concurrent or repeated run writes lines only for the invoices it actually created.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, func, update
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput, NotFound
from controlplane.models.billing import CreditEntry, Invoice, InvoiceLine, LateFee
from controlplane.models.customer import Contract, Customer
from controlplane.models.enforcement import Termination
from controlplane.notify.messages import invoice_notice
from controlplane.policy_registry import policy_for
from controlplane.services.audit import record_change
from controlplane.services.billing.credits import credit_balances
from controlplane.services.billing.drafts import ContractInvoice, ExtraLine, compute_invoice
from controlplane.services.billing.facts import ContractFacts, billable_contract_ids, load_facts
from controlplane.services.billing.late_fees import accrue_contract_late_fees
from controlplane.services.contract_lock import lock_contract
from controlplane.services.inserts import insert_ignoring_conflicts, table_of
from controlplane.services.notices import ContactInfo, invoice_notice_key, notice_rows, queue_notice_rows
from controlplane.terms.calendar import YearMonth, seoul_date
from controlplane.terms.errors import TermsError

log = logging.getLogger(__name__)


class ExtraLineSource(Protocol):
    """Lines computed elsewhere (availability credit, Art. 36; early-termination penalty, Art. 32(3)): asked
    per chunk, told what got billed."""

    def lines(
        self, session: Session, contract_ids: list[int], month: YearMonth
    ) -> dict[int, list[ExtraLine]]: ...

    def billed(self, session: Session, invoice_ids: dict[int, int], month: YearMonth) -> None:
        """Called in the run's transaction with contract id -> id of the invoice just created."""


EXTRA_LINE_SOURCES: list[ExtraLineSource] = []
# Modules that register a source when imported; imported before every run so that a CLI run bills the
# same lines as the API and the scheduler (which happen to import them anyway).
EXTRA_LINE_MODULES: tuple[str, ...] = (
    "controlplane.services.enforcement.availability",
    "controlplane.services.enforcement.termination_penalty",
)


def register_extra_lines(source: ExtraLineSource) -> None:
    if source not in EXTRA_LINE_SOURCES:
        EXTRA_LINE_SOURCES.append(source)


@dataclass
class InvoiceRunReport:
    """`considered` counts every contract with an invoice or service in the month: `already_invoiced`
    are those invoiced before this run (a rerun reports them, not zero of zero)."""

    month: str
    considered: int = 0
    created: int = 0
    already_invoiced: int = 0
    nothing_to_bill: int = 0
    failed: int = 0


def generate_invoices(
    engine: Engine, *, month: YearMonth, as_of: date, now: datetime, chunk_size: int = 2000
) -> InvoiceRunReport:
    """Invoices every billable contract for `month`; idempotent, safe to run concurrently and daily."""
    if as_of > seoul_date(now):
        # As in enforcement.apply: a later day can be previewed, never acted on; else a future as_of
        # would invoice a month that is not over.
        raise InvalidInput(f"as_of {as_of} is after today ({seoul_date(now)} in Seoul)", field="as_of")
    if as_of <= month.last_day:
        raise InvalidInput(
            f"{month} is not over on {as_of.isoformat()}; invoices come after it", field="month"
        )
    report = InvoiceRunReport(str(month))
    with session_scope(engine) as session:
        ids = billable_contract_ids(session, month)
        existing = _invoiced_contracts(session, month)
    report.considered = report.already_invoiced = existing
    _accrue_late_fees(engine, ids, month)
    for start in range(0, len(ids), chunk_size):
        with session_scope(engine) as session:
            _run_chunk(session, ids[start : start + chunk_size], month, now, report)
    with session_scope(engine) as session:
        record_change(
            session,
            at=now,
            actor="system:invoicing",
            entity_type="invoice_run",
            entity_id=str(month),
            action="generate",
            clause="Art. 31(1)",
            after=vars(report),
        )
    return report


def _invoiced_contracts(session: Session, month: YearMonth) -> int:
    """Contracts with an invoice for `month` already (the run's own snapshot skips them)."""
    query = select(func.count(func.distinct(col(Invoice.contract_id)))).where(
        col(Invoice.month) == month.first_day
    )
    return int(session.exec(query).one())


def preview_invoice(session: Session, *, contract_id: int, month: YearMonth) -> ContractInvoice | None:
    """The dry run: the invoice the run would create for this contract and month, nothing written (the
    month's late-fee accrual is computed inside a savepoint that is rolled back)."""
    savepoint = session.begin_nested()
    try:
        _accrue_contract(session, contract_id, month)
        facts = load_facts(session, [contract_id])
        if contract_id not in facts:
            raise NotFound(f"no contract {contract_id}", field="contract_id")
        balances = credit_balances(session, [facts[contract_id].customer_id])
        extras = _extra_lines(session, [contract_id], month)
        try:
            return _compute(facts[contract_id], month, balances, extras)
        except TermsError as exc:
            raise InvalidInput(exc.message, field=exc.field) from exc
    finally:
        savepoint.rollback()


def _accrue_late_fees(engine: Engine, ids: list[int], month: YearMonth) -> None:
    """Art. 34, 33(2): the invoice for `month` carries the late fee accrued through its last day (through
    the last day of service on a final statement) on every invoice still unpaid then; one contract lock
    and transaction each, so a payment on the same contract is ordered against it."""
    if not ids:
        return
    with Session(engine) as session:
        owing = sorted(
            set(
                session.exec(
                    select(Invoice.contract_id).where(
                        col(Invoice.contract_id).in_(ids),
                        col(Invoice.paid_amount) < col(Invoice.total),
                        col(Invoice.due_date) < month.last_day,
                    )
                ).all()
            )
        )
    for contract_id in owing:
        with session_scope(engine) as session:
            _accrue_contract(session, contract_id, month)


def _accrue_contract(session: Session, contract_id: int, month: YearMonth) -> None:
    contract = lock_contract(session, contract_id)
    ended: date | None = session.exec(
        select(col(Termination.effective_on)).where(
            Termination.contract_id == contract_id,
            col(Termination.confirmed_by).is_not(None),
            col(Termination.withdrawn_at).is_(None),
        )
    ).first()
    # A final statement carries what accrued up to the last day of service; later statements the rest.
    through = ended if ended is not None and month.first_day <= ended <= month.last_day else month.last_day
    try:
        policy = policy_for(contract.terms_version)
    except TermsError:
        return  # an unknown pinned version is reported by the run itself; nothing is accrued on a guess
    accrue_contract_late_fees(session, contract_id, through=through, policy=policy)


def _compute(
    facts: ContractFacts, month: YearMonth, balances: dict[int, int], extras: dict[int, list[ExtraLine]]
) -> ContractInvoice | None:
    """Computes one invoice and takes the credit it uses off the customer's running balance."""
    available = max(0, balances.get(facts.customer_id, 0))
    result = compute_invoice(
        facts,
        month,
        policy_for(facts.terms_version),
        credit_available=available,
        extra=extras.get(facts.contract_id, ()),
    )
    if result is not None and result.credit_used:
        balances[facts.customer_id] = available - result.credit_used
    return result


def _load_extra_line_sources() -> None:
    for module in EXTRA_LINE_MODULES:
        importlib.import_module(module)


def _extra_lines(session: Session, ids: list[int], month: YearMonth) -> dict[int, list[ExtraLine]]:
    _load_extra_line_sources()
    merged: dict[int, list[ExtraLine]] = {}
    for source in EXTRA_LINE_SOURCES:
        for contract_id, lines in source.lines(session, ids, month).items():
            merged.setdefault(contract_id, []).extend(lines)
    return merged


def _run_chunk(
    session: Session, ids: list[int], month: YearMonth, now: datetime, report: InvoiceRunReport
) -> None:
    facts = load_facts(session, ids)
    balances = _locked_credit_balances(session, facts)
    extras = _extra_lines(session, ids, month)
    drafts: list[ContractInvoice] = []
    for contract_id in ids:
        report.considered += 1
        try:
            result = _compute(facts[contract_id], month, balances, extras)
        except TermsError as exc:  # one bad contract (or an unknown pinned version) must not stop the month
            log.error("contract %s: cannot invoice %s: %s", contract_id, month, exc.message)
            report.failed += 1
            record_change(
                session,
                at=now,
                actor="system:invoicing",
                entity_type="contract",
                entity_id=contract_id,
                action="invoice_failed",
                clause="Art. 31(1)",
                after={"month": str(month), "field": exc.field, "why": exc.message},
            )
            continue
        if result is None:
            report.nothing_to_bill += 1
        else:
            drafts.append(result)
    created = _insert_invoices(session, drafts, now)
    report.created += len(created)
    report.already_invoiced += len(drafts) - len(created)
    fresh = [d for d in drafts if d.contract_id in created]
    _insert_lines(session, fresh, created)
    _mark_late_fees_billed(session, fresh, created)
    _insert_credit_offsets(session, fresh, created, now)
    _queue_invoice_notices(session, fresh, created, now)
    for source in EXTRA_LINE_SOURCES:
        source.billed(session, {d.contract_id: created[d.contract_id] for d in fresh}, month)


def _locked_credit_balances(session: Session, facts: dict[int, ContractFacts]) -> dict[int, int]:
    """Credit balances read after locking those customers' contract rows (the payments' lock order),
    so two runs, or a run and a refund, never spend the same credit twice."""
    if not facts:
        return {}
    ids = list(facts)
    in_range = select(Contract.customer_id).where(col(Contract.id).between(min(ids), max(ids)))
    with_credit = [c for c, balance in credit_balances(session, in_range).items() if balance > 0]
    if not with_credit:
        return {}
    session.exec(
        select(Contract.id)
        .where(col(Contract.customer_id).in_(with_credit))
        .order_by(col(Contract.id))
        .with_for_update()
    ).all()
    return credit_balances(session, with_credit)


def _insert_invoices(session: Session, drafts: Sequence[ContractInvoice], now: datetime) -> dict[int, int]:
    """Inserts the invoices; returns contract id -> invoice id for the ones this run created."""
    if not drafts:
        return {}
    rows = [_invoice_row(d, now) for d in drafts]
    created = insert_ignoring_conflicts(
        session,
        table_of(Invoice),
        rows,
        conflict_columns=["contract_id", "month"],  # type: ignore[arg-type]
        returning=["id", "contract_id"],
    )
    return {int(row[1]): int(row[0]) for row in created}


def _invoice_row(d: ContractInvoice, now: datetime) -> dict[str, Any]:
    draft = d.draft
    return {
        "contract_id": d.contract_id,
        "month": draft.month.first_day,
        "issued_at": now,
        "send_by": draft.send_by,
        "due_date": draft.due,
        "supply_amount": draft.supply_amount,
        "vat_amount": draft.vat,
        "total": draft.total,
        "paid_amount": 0,
        # Nothing to pay (free add-ons only, or fully offset by credit) is paid in full on issue.
        "paid_in_full_at": now if draft.total <= 0 else None,
    }


def _insert_lines(session: Session, drafts: Sequence[ContractInvoice], created: dict[int, int]) -> None:
    rows = [
        {
            "invoice_id": created[d.contract_id],
            "kind": kind,
            "description": line.description[:400],
            "clause": str(line.clause),
            "amount": line.amount,
            "period_from": line.first,
            "period_to": line.last,
        }
        for d in drafts
        for kind, line in zip(d.kinds, d.draft.lines, strict=True)
    ]
    # VAT is not a line: it is the invoice's own field, shown separately (Art. 32(5)).
    insert_ignoring_conflicts(session, table_of(InvoiceLine), rows)


def _mark_late_fees_billed(
    session: Session, drafts: Sequence[ContractInvoice], created: dict[int, int]
) -> None:
    rows = [
        {"fee_id": fee_id, "billed_on": created[d.contract_id]} for d in drafts for fee_id in d.late_fee_ids
    ]
    if rows:
        statement = (
            update(table_of(LateFee))
            .where(table_of(LateFee).c.id == bindparam("fee_id"))
            .values(billed_on_invoice_id=bindparam("billed_on"))
        )
        session.connection().execute(statement, rows)


def _insert_credit_offsets(
    session: Session, drafts: Sequence[ContractInvoice], created: dict[int, int], now: datetime
) -> None:
    rows = [
        {
            "customer_id": d.customer_id,
            "amount": -d.credit_used,
            "reason": "offset",
            "clause": "Art. 35(3)",
            "at": now,
            "payment_id": None,
            "invoice_id": created[d.contract_id],
        }
        for d in drafts
        if d.credit_used
    ]
    insert_ignoring_conflicts(session, table_of(CreditEntry), rows)


def _contacts(session: Session, contract_ids: list[int]) -> dict[int, ContactInfo]:
    """Just the contact fields of the chunk's customers, found through the contract id range."""
    if not contract_ids:
        return {}
    rows = session.exec(
        select(Customer.id, Customer.email, Customer.sms_phone)
        .join(Contract, col(Contract.customer_id) == col(Customer.id))
        .where(col(Contract.id).between(min(contract_ids), max(contract_ids)))
        .distinct()
    ).all()
    return {cid: ContactInfo(cid, email, sms) for cid, email, sms in rows if cid is not None}


def _queue_invoice_notices(
    session: Session, drafts: Sequence[ContractInvoice], created: dict[int, int], now: datetime
) -> None:
    customers = _contacts(session, [d.contract_id for d in drafts])
    rows: list[dict[str, Any]] = []
    for d in drafts:
        draft = invoice_notice(
            contract_id=d.contract_id,
            month=str(d.draft.month),
            supply=d.draft.supply_amount,
            vat=d.draft.vat,
            total=d.draft.total,
            due=d.draft.due,
        )
        rows.extend(
            notice_rows(
                customer=customers[d.customer_id],
                contract_id=d.contract_id,
                draft=draft,
                dedupe_key=invoice_notice_key(created[d.contract_id]),
                now=now,
            )
        )
    queue_notice_rows(session, rows)
