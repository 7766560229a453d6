"""An ex-officio termination (ground: money owed) is refused while everything past due is under open
dispute (Art. 35(1): the disputed part does not count as overdue). Found by the time-travel simulation
(seed 6): a customer who disputed its whole invoice, answered late by the company, was terminated and
wiped on a second operator's confirmation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.db import session_scope
from controlplane.errors import Conflict
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.enforcement import disputes as dispute_service
from controlplane.services.enforcement import terminations as termination_service
from tests.utils.factories import make_invoice, make_world, noon

DUE = date(2027, 2, 28)
LATER = DUE + timedelta(days=10)


def _contract_with_invoice(engine: Engine, *, dispute: int) -> int:
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        invoice = make_invoice(session, contract, total=110_000)
        ids = contract.id or 0, invoice.id or 0
    with Session(engine) as session:
        dispute_service.file_dispute(
            session,
            invoice_id=ids[1],
            amount=dispute,
            reason="wrong fee",
            now=noon(DUE - timedelta(days=20)),
            actor="billing:a",
        )
    return ids[0]


def _propose_and_confirm(engine: Engine, contract_id: int) -> None:
    with Session(engine) as session:
        proposed = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=noon(LATER),
            actor="billing:park",
            token_id=101,
            request=TerminationCreate(kind="ex_officio", reason="fees unpaid"),  # type: ignore[arg-type]
        )
        termination_id = proposed.id or 0
    with Session(engine) as session:
        confirmer = termination_service.Confirmer(actor="operator:lee", role="operator", token_id=202)
        termination_service.confirm_termination(
            session, termination_id=termination_id, now=noon(LATER), confirmer=confirmer
        )


def test_confirming_is_refused_when_all_that_is_past_due_is_under_open_dispute(engine: Engine) -> None:
    contract_id = _contract_with_invoice(engine, dispute=110_000)
    with pytest.raises(Conflict, match="paid up"):
        _propose_and_confirm(engine, contract_id)


def test_confirming_goes_ahead_when_an_undisputed_part_is_past_due(engine: Engine) -> None:
    contract_id = _contract_with_invoice(engine, dispute=60_000)
    _propose_and_confirm(engine, contract_id)
