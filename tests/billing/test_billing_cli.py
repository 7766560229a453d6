"""`dcloud invoices run|preview` on a SQLite store, and the scheduler's invoicing job."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from controlplane.cli import main
from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.models import Contract, Customer, Invoice
from scheduler.jobs.billing import invoice_previous_month
from scheduler.registry import JobContext


@pytest.fixture
def store(
    sqlite_store_url: str,
    customer_factory: Callable[..., Customer],
    contract_factory: Callable[..., Contract],
) -> tuple[str, int]:
    url = sqlite_store_url
    engine = make_engine(url)
    with Session(engine) as session:
        contract = contract_factory(
            session, customer_factory(session), monthly_fee=310_000, term_start=date(2027, 3, 11)
        )
        session.commit()
        contract_id = contract.id or 0
    engine.dispose()
    return url, contract_id


def test_preview_then_run_print_the_same_invoice(
    store: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url, contract_id = store

    assert (
        main(
            [
                "--database-url",
                url,
                "invoices",
                "preview",
                "--contract",
                str(contract_id),
                "--month",
                "2027-03",
                "--json",
            ]
        )
        == 0
    )
    preview = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "--database-url",
                url,
                "invoices",
                "run",
                "--month",
                "2027-03",
                "--as-of",
                "2027-04-01",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)

    assert (preview["supply_amount"], preview["vat"], preview["total"]) == (210_000, 21_000, 231_000)
    assert preview["lines"][0]["clause"] == "Art. 30(2)-1, Art. 32(4)"
    assert (report["created"], report["considered"]) == (1, 1)


def test_run_for_a_month_not_over_fails_naming_month(
    store: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = store

    status = main(["--database-url", url, "invoices", "run", "--month", "2027-04", "--as-of", "2027-04-20"])

    assert status == 1
    assert "month:" in capsys.readouterr().err


def test_invoicing_job_bills_the_previous_month_once(store: tuple[str, int]) -> None:
    url, _ = store
    engine = make_engine(url)
    clock = FixedClock(datetime(2027, 4, 1, 16, 0, tzinfo=UTC))  # 2 April in Seoul
    ctx = JobContext(engine=engine, settings=Settings(database_url=url), clock=clock)

    invoice_previous_month(ctx)
    invoice_previous_month(ctx)

    with Session(engine) as session:
        months = session.exec(select(Invoice.month, func.count()).group_by(Invoice.month)).all()
    engine.dispose()
    assert months == [(date(2027, 3, 1), 1)]
