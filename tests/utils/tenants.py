"""Two tenants side by side, each with one of everything a customer can own, and a token for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from controlplane.models import Host
from controlplane.models.auth import Role
from controlplane.models.billing import Payment
from controlplane.models.disputes import Dispute
from controlplane.models.enforcement import Block, Outage, Termination
from controlplane.models.server import DeletionRecord, DesiredState
from tests.utils.api import Api
from tests.utils.factories import make_contract, make_customer, make_invoice, make_server

T = datetime(2027, 2, 1, 3, 0, tzinfo=UTC)


@dataclass(frozen=True)
class TenantWorld:
    """The ids of one customer's resources, by the path parameter that names them."""

    token: str
    customer_id: int
    contract_id: int
    server_id: str
    deleted_server_id: str
    invoice_id: int
    dispute_id: int
    payment_id: int
    block_id: int
    termination_id: int
    outage_id: int

    def ids(self) -> dict[str, str]:
        return {
            "customer_id": str(self.customer_id),
            "contract_id": str(self.contract_id),
            "server_id": self.server_id,
            "invoice_id": str(self.invoice_id),
            "dispute_id": str(self.dispute_id),
            "payment_id": str(self.payment_id),
            "block_id": str(self.block_id),
            "termination_id": str(self.termination_id),
            "outage_id": str(self.outage_id),
        }


def make_tenant(api: Api, session: Session, host: Host, label: str) -> TenantWorld:
    """A customer with an active contract, a running and a wiped server, an invoice with a dispute, a
    payment, a lifted block, a withdrawn termination and an outage; plus a customer token for it."""
    customer = make_customer(session, name=f"tenant {label}", email=f"{label}@example.kr")
    contract = make_contract(session, customer)
    server = make_server(session, host, contract, f"dctest-{label}")
    gone = make_server(
        session, host, contract, f"dctest-{label}-gone", desired_state=DesiredState.DELETED, deleted_at=T
    )
    invoice = make_invoice(session, contract)
    rows = [
        Dispute(
            invoice_id=invoice.id or 0,
            contract_id=contract.id or 0,
            amount=1000,
            reason="wrong",
            filed_at=T,
            filed_by="billing:b",
            answer_due_on=date(2027, 2, 8),
        ),
        Payment(customer_id=customer.id or 0, idempotency_key=f"pay-{label}", amount=5000, received_at=T),
        Block(
            contract_id=contract.id or 0,
            kind="operator",
            clause="Art. 16(4)-1",
            reason="lifted long ago",
            started_at=T,
            lifted_at=T + timedelta(hours=1),
            created_by="operator:o",
        ),
        Termination(
            contract_id=contract.id or 0,
            kind="customer_request",
            clause="Art. 20(2)",
            reason="changed its mind",
            requested_at=T,
            effective_on=date(2027, 3, 31),
            decided_by="billing:b",
            withdrawn_at=T + timedelta(days=1),
        ),
        Outage(contract_id=contract.id or 0, started_at=T, reported_at=T, resolved_at=T + timedelta(hours=2)),
        DeletionRecord(
            server_id=gone.id,
            host_id=host.id or 0,
            domain_name=f"dcloud-{gone.id}",
            volumes=[],
            bytes_overwritten=0,
            method="zero",
            started_at=T,
            finished_at=T,
            received_at=T,
        ),
    ]
    for row in rows:
        session.add(row)
    session.flush()
    dispute, payment, block, termination, outage = rows[:5]
    session.commit()
    token = api.token_for(Role.CUSTOMER, customer_id=customer.id, name=f"tenant-{label}")
    return TenantWorld(
        token=token,
        customer_id=customer.id or 0,
        contract_id=contract.id or 0,
        server_id=server.id,
        deleted_server_id=gone.id,
        invoice_id=invoice.id or 0,
        dispute_id=dispute.id or 0,  # type: ignore[attr-defined]
        payment_id=payment.id or 0,  # type: ignore[attr-defined]
        block_id=block.id or 0,  # type: ignore[attr-defined]
        termination_id=termination.id or 0,  # type: ignore[attr-defined]
        outage_id=outage.id or 0,  # type: ignore[attr-defined]
    )
