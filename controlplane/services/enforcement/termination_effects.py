"""What a started termination does, in order (Art. 20(3),(8)): contract `terminating`, servers stopped,
add-ons removed, the notice queued; the servers ordered deleted only once that notice reached the relay;
the contract `terminated` once every deletion record is in (addresses released, refund credited), the
record then completing once nothing is unpaid (termination_settlement)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict
from controlplane.models.billing import AddOn, CreditEntry
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.enforcement import Termination
from controlplane.models.server import DesiredState, Server
from controlplane.notify.messages import termination_refund_notice
from controlplane.services.audit import record_change
from controlplane.services.billing.credits import settle_with_credit
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.effects import (
    contract_servers,
    queue_contract_notice,
    set_contract_state,
    set_server_desired,
)
from controlplane.services.enforcement.termination_rules import LIVE
from controlplane.services.enforcement.termination_settlement import settle_if_paid
from controlplane.services.fleet.firewall import remove_firewall
from controlplane.services.notices import email_notice_out, on_notice_settled, queue_notice
from controlplane.terms.actions import NoticeKind
from controlplane.terms.calendar import seoul_date
from controlplane.terms.clauses import ART_20_7
from network.service import release_server_addresses


def start_termination(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> None:
    """Contract `terminating`, every server stopped, add-ons removed (Art. 20(3),(8)), the notice queued;
    the servers are ordered deleted once that notice is out (`release_wipe_orders`).

    The caller holds the contract lock; the state is re-checked here, at the moment deletion is asked.
    """
    if contract.state == ContractState.TERMINATED:
        return
    if termination.withdrawn_at is not None or termination.confirmed_by is None:
        raise Conflict(
            f"termination {termination.id} is not confirmed; nothing is deleted", field="termination_id"
        )
    if contract.state not in (*LIVE, ContractState.TERMINATING):
        raise Conflict(f"contract {contract.id} is {contract.state}; it cannot be terminated", field="state")
    clause = termination.clause
    set_contract_state(
        session,
        contract,
        ContractState.TERMINATING,
        at=at,
        actor=actor,
        clause=clause,
        reason=termination.reason,
    )
    assert contract.state == ContractState.TERMINATING  # deletion is only ever asked for this state
    if termination.wipe_ordered_at is None:
        for server in contract_servers(session, contract.id or 0):  # service ends; data kept until wiped
            if server.desired_state != DesiredState.DELETED:
                set_server_desired(
                    session, server, DesiredState.STOPPED, at=at, actor=actor, clause=clause, action="stop"
                )
    _remove_add_ons(session, contract, at=at)
    remove_firewall(session, contract, at=at, actor=actor, clause="Art. 20(8)")
    if termination.started_at is None:
        termination.started_at = at
        session.add(termination)
        queue_contract_notice(
            session,
            contract,
            kind=NoticeKind.TERMINATION,
            clause=clause,
            subject=f"Contract {contract.id} is terminated",
            body=(
                f"Contract {contract.id} is terminated under {clause}: {termination.reason}\n"
                "Its servers and add-on services are deleted and cannot be restored (Art. 20(8)).\n"
                f"Penalty: {termination.penalty:,} KRW (Art. 32(3)); refund: {termination.refund:,} KRW "
                "(Art. 20(7)).\n"
            ),
            key=termination_notice_key(termination.id or 0),
            at=at,
        )
        session.flush()
    release_wipe_orders(session, contract, termination, at=at, actor=actor)


def termination_notice_key(termination_id: int) -> str:
    return f"termination:{termination_id}:notice"


def release_wipe_orders(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> bool:
    """Orders every server of a terminating contract deleted, but only once the termination notice reached
    the mail relay (or exhausted its retries, which pages an operator). True once ordered."""
    if contract.state != ContractState.TERMINATING or termination.started_at is None:
        return False
    if termination.wipe_ordered_at is None:
        out = email_notice_out(session, termination_notice_key(termination.id or 0))
        if out is None:
            return False
        termination.wipe_ordered_at = at
        session.add(termination)
        record_change(
            session,
            at=at,
            actor=actor,
            entity_type="termination",
            entity_id=termination.id or 0,
            action="wipe_ordered",
            clause="Art. 20(8)",
            after={"notice": out},
        )
    for server in contract_servers(session, contract.id or 0):
        set_server_desired(
            session, server, DesiredState.DELETED, at=at, actor=actor, clause="Art. 20(8)", action="delete"
        )
    return True


def _remove_add_ons(session: Session, contract: Contract, *, at: datetime) -> None:
    # Art. 20(3): add-ons, free ones included, end with the contract.
    query = select(AddOn).where(AddOn.contract_id == contract.id, col(AddOn.removed_at).is_(None))
    for add_on in session.exec(query).all():
        add_on.removed_at = at
        add_on.ended_on = add_on.ended_on or seoul_date(at)
        session.add(add_on)
        record_change(
            session,
            at=at,
            actor="system:enforcement",
            entity_type="add_on",
            entity_id=add_on.id or 0,
            action="remove",
            clause="Art. 20(3)",
            after={"name": add_on.name, "fee": add_on.fee},
        )


def complete_termination(session: Session, contract: Contract, *, at: datetime, actor: str) -> bool:
    """Ends the contract once no server is left unwiped; releases the addresses (Art. 20(8), 24(2))."""
    if contract.state != ContractState.TERMINATING:
        return False
    if contract_servers(session, contract.id or 0):
        return False  # a deletion record is still missing
    for server_id in session.exec(select(Server.id).where(Server.contract_id == contract.id)).all():
        release_server_addresses(session, server_id=server_id, at=at)
    termination = session.exec(
        select(Termination).where(
            Termination.contract_id == contract.id, col(Termination.withdrawn_at).is_(None)
        )
    ).first()
    set_contract_state(
        session,
        contract,
        ContractState.TERMINATED,
        at=at,
        actor=actor,
        clause="Art. 20(8)",
        reason="every server deleted and wiped; addresses released",
    )
    if termination is not None and termination.ended_at is None:
        termination.ended_at = at
        session.add(termination)
        # Once only: ended_at is set in this transaction, under the caller's contract lock.
        _credit_refund(session, contract, termination, at=at, actor=actor)
        settle_if_paid(session, termination, at=at, actor=actor)
    return True


def _credit_refund(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> None:
    """Art. 20(7): the annual-prepay refund becomes credit once the contract has ended; it offsets the
    next invoices or is paid out on request, arrears first (Art. 35)."""
    if termination.refund <= 0:
        return
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None  # a contract's customer is a foreign key
    session.add(
        CreditEntry(
            customer_id=contract.customer_id,
            amount=termination.refund,
            reason="refund",
            clause=str(ART_20_7),
            at=at,
        )
    )
    queue_notice(
        session,
        customer=customer,
        contract_id=contract.id,
        draft=termination_refund_notice(contract_id=contract.id or 0, amount=termination.refund),
        dedupe_key=f"termination:{termination.id}:refund",
        now=at,
    )
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action="refund_credit",
        clause=str(ART_20_7),
        after={"credited": termination.refund},
    )
    settle_with_credit(session, customer_id=contract.customer_id, now=at, actor=actor)


def _release_after_notice(session: Session, key: str, now: datetime) -> None:
    """The termination notice just left the outbox (`termination:<id>:notice:<channel>`): order the wipe."""
    termination = session.get(Termination, int(key.split(":")[1]))
    if termination is None or termination.started_at is None or termination.wipe_ordered_at is not None:
        return
    contract = lock_contract(session, termination.contract_id)
    release_wipe_orders(session, contract, termination, at=now, actor="system:notice-delivery")


on_notice_settled("termination:", _release_after_notice)
