"""Law-enforcement disclosure (Art. 24(5)) and usage-information requests to customers (Art. 24(4))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from controlplane import personal_data
from controlplane.errors import InvalidInput, NotFound
from controlplane.models import Customer
from network import ipam
from network.history import holder_at
from network.models import AddressLease, Disclosure, UsageInfoRequest

# Art. 24(5): these three and nothing else.
DISCLOSED_FIELDS = ("customer_name", "contact_name", "contact_phone")
# The same three as the customer's own field names, for the audit of who read them (Art. 10(4)).
DISCLOSED_CUSTOMER_FIELDS = ("name", "contact_name", "contact_phone")


@dataclass(frozen=True)
class DisclosureRequest:
    address: str
    at: datetime
    request_number: str
    agency: str


def disclose_holder(
    session: Session, *, request: DisclosureRequest, requested_by: str, now: datetime
) -> Disclosure:
    """Records the request and what it returned; `returned` is None when nobody held the address then.

    The record is written whether or not there was a holder: every disclosure request is logged.
    """
    if request.at.tzinfo is None:
        raise InvalidInput("the point in time needs a timezone", field="at")
    if request.at > now:
        raise InvalidInput("the point in time is in the future: nobody has used the address then", field="at")
    address = str(ipam.parse_address(request.address, field="address"))
    tenure = holder_at(session, address=address, at=request.at)
    customer = session.get(Customer, tenure.customer_id) if tenure and tenure.customer_id else None
    returned = None
    if customer is not None:
        returned = dict(
            zip(DISCLOSED_FIELDS, (customer.name, customer.contact_name, customer.contact_phone), strict=True)
        )
    record = Disclosure(
        requested_at=now,
        requested_by=requested_by,
        address=address,
        at=request.at,
        request_number=request.request_number,
        agency=request.agency,
        lease_id=tenure.lease_id if tenure and customer else None,
        returned=returned,
    )
    session.add(record)
    session.commit()
    if customer is not None and customer.id is not None:
        reads = {customer.id: DISCLOSED_CUSTOMER_FIELDS}
        personal_data.record_reads(
            session, now=now, actor=requested_by, reads=reads, via="POST /v1/disclosures"
        )
    return record


def list_disclosures(
    session: Session, *, actor: str, now: datetime, limit: int = 100, offset: int = 0
) -> list[Disclosure]:
    """The disclosure log, newest first; what it shows of each holder is a personal-data read."""
    stmt = select(Disclosure).order_by(col(Disclosure.id).desc()).offset(offset).limit(limit)
    records = list(session.exec(stmt).all())
    lease_ids = {r.lease_id for r in records if r.returned and r.lease_id is not None}
    holders = session.exec(select(AddressLease.customer_id).where(col(AddressLease.id).in_(lease_ids))).all()
    reads = personal_data.same_fields(holders, DISCLOSED_CUSTOMER_FIELDS)
    personal_data.record_reads(session, now=now, actor=actor, reads=reads, via="GET /v1/disclosures")
    return records


def request_usage_information(
    session: Session, *, customer_id: int, reason: str, requested_by: str, now: datetime
) -> UsageInfoRequest:
    """Asks a customer how it uses the addresses it holds now (Art. 24(4)); the addresses are recorded."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"no customer with id {customer_id}", field="customer_id")
    addresses = session.exec(
        select(AddressLease.address)
        .where(AddressLease.customer_id == customer_id, col(AddressLease.released_at).is_(None))
        .order_by(col(AddressLease.id))
    ).all()
    record = UsageInfoRequest(
        customer_id=customer_id,
        addresses=list(addresses),
        reason=reason,
        requested_by=requested_by,
        requested_at=now,
    )
    session.add(record)
    session.commit()
    return record


def record_usage_response(
    session: Session, *, request_id: int, response: str, now: datetime
) -> UsageInfoRequest:
    record = session.get(UsageInfoRequest, request_id)
    if record is None:
        raise NotFound(f"no usage-information request {request_id}", field="request_id")
    record.response = response
    record.responded_at = now
    session.add(record)
    session.commit()
    return record


def list_usage_requests(session: Session, *, customer_id: int | None = None) -> list[UsageInfoRequest]:
    stmt = select(UsageInfoRequest).order_by(col(UsageInfoRequest.id).desc())
    if customer_id is not None:
        stmt = stmt.where(UsageInfoRequest.customer_id == customer_id)
    return list(session.exec(stmt).all())
