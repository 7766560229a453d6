"""Monthly invoicing for 100,000 contracts on PostgreSQL (target: under 60 s on 2 cores), beside a
bulk-insert baseline writing the same number of invoice, line and notice rows in the same run.

Runs in its own database dcbench_<random>, dropped afterwards. `python -m bench --only invoicing`;
DCLOUD_BENCH_CONTRACTS=10000 for a quick run.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, date, datetime
from typing import Any

if __package__ in (None, ""):  # `python bench/invoicing.py`: make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import Engine, func, insert, select

from bench.pg import bench_database
from bench.result import Result
from controlplane.db import session_scope
from controlplane.models import Contract, Customer, Invoice, InvoiceLine, Notice
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.inserts import insert_ignoring_conflicts
from controlplane.terms.calendar import YearMonth

CONTRACTS = int(os.environ.get("DCLOUD_BENCH_CONTRACTS", "100000"))
TARGET_SECONDS = 60.0
NOW = datetime(2027, 4, 1, tzinfo=UTC)
CHUNK = 5000


def _seed(engine: Engine, n: int) -> None:
    """One customer per contract; a tenth open mid-March so their lines are prorated."""
    customers = [
        {
            "kind": "organisation",
            "name": f"c{i}",
            "email": f"c{i}@example.kr",
            "address": "Seoul",
            "contact_name": "n",
            "contact_phone": "02-555-0101",
            "whois_hide_name": False,
            "whois_hide_address": False,
            "whois_hide_phone": False,
            "is_minor": False,
            "has_delinquency_record": False,
            "created_at": NOW,
        }
        for i in range(n)
    ]
    with session_scope(engine) as session:
        for start in range(0, n, CHUNK):
            session.execute(insert(Customer.__table__), customers[start : start + CHUNK])  # type: ignore[arg-type]
        ids = list(session.execute(select(Customer.__table__.c.id).order_by("id")).scalars())  # type: ignore[attr-defined]
        contracts = [
            {
                "customer_id": cid,
                "state": "active",
                "plan": "std",
                "monthly_fee": 100_000 + (i % 7) * 1000,
                "discount": 0,
                "billing_cycle": "monthly",
                "desired_open_date": date(2027, 1, 1),
                "term_start": date(2027, 3, 15) if i % 10 == 0 else date(2027, 1, 1),
                "term_end": date(2027, 12, 31),
                "terms_version": "2025-01",
                "extra_addresses_allowed": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, cid in enumerate(ids)
        ]
        for start in range(0, n, CHUNK):
            session.execute(insert(Contract.__table__), contracts[start : start + CHUNK])  # type: ignore[arg-type]


def _baseline(engine: Engine, n: int) -> float:
    """The same rows (invoice, line, notice per contract) written with the same array inserts, nothing
    computed: the floor the run's own work is measured against."""
    started = time.perf_counter()
    with session_scope(engine) as session:
        contract_ids = list(session.execute(select(Contract.__table__.c.id)).scalars())  # type: ignore[attr-defined]
        for start in range(0, n, CHUNK):
            chunk = contract_ids[start : start + CHUNK]
            rows = [
                {
                    "contract_id": c,
                    "month": date(2027, 2, 1),
                    "issued_at": NOW,
                    "send_by": date(2027, 3, 10),
                    "due_date": date(2027, 3, 31),
                    "supply_amount": 100_000,
                    "vat_amount": 10_000,
                    "total": 110_000,
                    "paid_amount": 0,
                }
                for c in chunk
            ]
            table: Any = Invoice.__table__
            inv = [r[0] for r in insert_ignoring_conflicts(session, table, rows, returning=["id"])]
            insert_ignoring_conflicts(
                session,
                InvoiceLine.__table__,  # type: ignore[arg-type]
                [
                    {
                        "invoice_id": i,
                        "kind": "plan",
                        "description": "std",
                        "clause": "Art. 32(4)",
                        "amount": 100_000,
                        "period_from": date(2027, 2, 1),
                        "period_to": date(2027, 2, 28),
                    }
                    for i in inv
                ],
            )
            insert_ignoring_conflicts(
                session,
                Notice.__table__,  # type: ignore[arg-type]
                [
                    {
                        "customer_id": 1,
                        "contract_id": c,
                        "channel": "email",
                        "kind": "invoice",
                        "clause": "Art. 31(1)",
                        "recipient": "x@example.kr",
                        "subject": "s",
                        "body": "b",
                        "dedupe_key": f"base:{c}",
                        "created_at": NOW,
                        "next_attempt_at": NOW,
                        "attempts": 0,
                    }
                    for c in chunk
                ],
            )
    return time.perf_counter() - started


def run() -> list[Result]:
    with bench_database() as engine:
        _seed(engine, CONTRACTS)
        baseline = _baseline(engine, CONTRACTS)
        started = time.perf_counter()
        report = generate_invoices(engine, month=YearMonth(2027, 3), as_of=date(2027, 4, 1), now=NOW)
        elapsed = time.perf_counter() - started
        rerun_started = time.perf_counter()
        generate_invoices(engine, month=YearMonth(2027, 3), as_of=date(2027, 4, 1), now=NOW)
        rerun = time.perf_counter() - rerun_started
        with session_scope(engine) as session:
            made = session.execute(
                select(func.count())
                .select_from(Invoice.__table__)
                .where(Invoice.__table__.c.month == date(2027, 3, 1))  # type: ignore[attr-defined]
            ).scalar_one()
    assert made == CONTRACTS == report.created, (made, report)
    return [
        Result(
            f"invoicing {CONTRACTS:,} contracts (PostgreSQL)",
            elapsed,
            "s",
            baseline=baseline,
            baseline_name="bulk insert of the same rows",
            note=f"target < {TARGET_SECONDS:.0f} s; "
            f"{'PASS' if elapsed < TARGET_SECONDS else 'MISS'}; rerun (nothing to do) {rerun:.1f} s",
        ),
    ]


if __name__ == "__main__":
    from bench.result import HEADER, format_row

    print(HEADER)
    for result in run():
        print(format_row(result))
