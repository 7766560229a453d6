"""Enforcement sweep plan for 100,000 contracts with invoices and payments, on SQLite and PostgreSQL,
against one raw SQL scan of the same rows (contracts joined to invoices) in the same run. Target: 5x.

Each backend gets its own scratch store (a temp SQLite file; a PostgreSQL database dcbench_<random>),
removed afterwards. `python -m bench --only sweep`; DCLOUD_BENCH_CONTRACTS=10000 for a quick run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

if __package__ in (None, ""):  # `python bench/sweep.py`: make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from bench.pg import bench_database
from bench.result import Result
from controlplane.db import make_engine, session_scope
from controlplane.models import Block, Contract, Customer, Invoice, Payment
from controlplane.services.enforcement import sweep as enforcement
from controlplane.store_metadata import load_all_models
from controlplane.terms.calendar import seoul_midnight

CONTRACTS = int(os.environ.get("DCLOUD_BENCH_CONTRACTS", "100000"))
TARGET_RATIO = 5.0
AS_OF = date(2027, 4, 15)
NOW = seoul_midnight(AS_OF) + timedelta(hours=2)
T0 = datetime(2027, 1, 1, tzinfo=UTC)
CHUNK = 5000
RAW_SCAN = text(
    "SELECT c.id, c.state, i.id, i.due_date, i.total, i.paid_amount, i.paid_in_full_at, i.extension_until "
    "FROM contracts c LEFT JOIN invoices i ON i.contract_id = c.id"
)


@contextmanager
def _sqlite() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="dcbench-sweep-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/sweep.db")
        load_all_models().create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _insert(session: Session, table: object, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start : start + CHUNK])  # type: ignore[call-overload]


def _seed(engine: Engine, n: int) -> None:
    """Two invoices per contract (Feb, Mar); Feb is paid for 88%, unpaid 10%, restricted 2%."""
    with session_scope(engine) as session:
        _insert(
            session,
            Customer.__table__,
            [
                {
                    "kind": "organisation",
                    "name": f"c{i}",
                    "email": f"c{i}@example.kr",
                    "address": "Seoul",
                    "contact_name": "n",
                    "contact_phone": "02",
                    "whois_hide_name": False,
                    "whois_hide_address": False,
                    "whois_hide_phone": False,
                    "is_minor": False,
                    "has_delinquency_record": False,
                    "created_at": T0,
                }
                for i in range(n)
            ],
        )
        _insert(
            session,
            Contract.__table__,
            [
                {
                    "customer_id": i + 1,
                    "state": "restricted" if i % 50 == 0 else "active",
                    "plan": "std",
                    "monthly_fee": 100_000,
                    "discount": 0,
                    "billing_cycle": "monthly",
                    "desired_open_date": date(2027, 1, 1),
                    "term_start": date(2027, 1, 1),
                    "term_end": date(2027, 12, 31),
                    "terms_version": "2025-01",
                    "extra_addresses_allowed": 0,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for i in range(n)
            ],
        )
        invoices, payments, blocks = [], [], []
        for i in range(n):
            unpaid = i % 10 == 0
            invoices.append(
                _invoice(i + 1, date(2027, 1, 1), date(2027, 2, 28) - timedelta(days=i % 20), paid=not unpaid)
            )
            invoices.append(_invoice(i + 1, date(2027, 2, 1), date(2027, 3, 31), paid=i % 3 == 0))
            if not unpaid:
                payments.append(
                    {
                        "customer_id": i + 1,
                        "contract_id": i + 1,
                        "idempotency_key": f"p{i}",
                        "amount": 110_000,
                        "received_at": T0,
                        "method": "bank_transfer",
                    }
                )
            if i % 50 == 0:
                blocks.append(
                    {
                        "contract_id": i + 1,
                        "kind": "nonpayment",
                        "scope": "full",
                        "clause": "Art. 33(1)",
                        "reason": "bench",
                        "started_at": NOW - timedelta(days=i % 7),
                        "created_by": "bench",
                    }
                )
        _insert(session, Invoice.__table__, invoices)
        _insert(session, Payment.__table__, payments)
        _insert(session, Block.__table__, blocks)


def _invoice(contract_id: int, month: date, due: date, *, paid: bool) -> dict[str, object]:
    return {
        "contract_id": contract_id,
        "month": month,
        "issued_at": T0,
        "send_by": due,
        "due_date": due,
        "supply_amount": 100_000,
        "vat_amount": 10_000,
        "total": 110_000,
        "paid_amount": 110_000 if paid else 0,
        "paid_in_full_at": T0 if paid else None,
    }


def _best_of(runs: int, func: object) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        value = func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best, value


def _measure(engine: Engine, backend: str) -> Result:
    _seed(engine, CONTRACTS)

    def scan() -> int:
        with engine.connect() as conn:
            return len(conn.execute(RAW_SCAN).fetchall())

    def plan() -> int:
        with Session(engine) as session:
            return len(enforcement.plan(session, AS_OF, now=NOW))

    scan_s, rows = _best_of(3, scan)
    plan_s, actions = _best_of(3, plan)
    assert isinstance(actions, int) and actions > 0
    return Result(
        f"sweep plan {CONTRACTS:,} contracts ({backend})",
        plan_s,
        "s",
        baseline=scan_s,
        baseline_name=f"one raw SQL scan of the same {rows:,} contract x invoice rows",
        target=TARGET_RATIO,
        note=f"{actions:,} actions decided",
    )


def run() -> list[Result]:
    results = []
    with _sqlite() as engine:
        results.append(_measure(engine, "SQLite"))
    with bench_database() as engine:
        results.append(_measure(engine, "PostgreSQL"))
    return results


if __name__ == "__main__":
    from bench.result import HEADER, format_row

    print(HEADER)
    for result in run():
        print(format_row(result))
