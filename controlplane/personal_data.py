"""Audited reads of customers' personal data by staff (Art. 10(4)): who read which customer's which
fields, when, and through what.

Art. 10(4) lets the company keep personal data only to run the service and forbids giving it to a third
party without consent; an operator's read is the one use nobody else sees, so every one leaves an audit
row (`personal_data_read`, one per customer read) in the same transaction as nothing else: a read changes
no state, so the row is committed on its own, before the data leaves. A customer reading its own data is
not a staff read and is not recorded. Used by the customer routes and by the network routes (address
history, the registry export, disclosures), so it sits below both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlmodel import Session

from controlplane.models.audit import AuditEvent

PERSONAL_DATA_READ = "personal_data_read"
CLAUSE = "Art. 10(4)"

# The fields of a customer that identify or reach a person (CustomerPublic shows all of them).
CUSTOMER_FIELDS: tuple[str, ...] = (
    "name",
    "name_en",
    "billing_party",
    "email",
    "sms_phone",
    "address",
    "address_en",
    "address_district",
    "zip_code",
    "contact_name",
    "contact_phone",
    "contact_email",
)


def record_reads(
    session: Session,
    *,
    now: datetime,
    actor: str,
    reads: Mapping[int, Sequence[str]],
    via: str,
) -> None:
    """Writes and commits one audit row per customer in `reads` (customer id -> fields read)."""
    for customer_id, fields in sorted(reads.items()):
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                entity_type="customer",
                entity_id=str(customer_id),
                action=PERSONAL_DATA_READ,
                clause=CLAUSE,
                after={"fields": sorted(set(fields)), "via": via},
            )
        )
    if reads:
        session.commit()


def same_fields(customer_ids: Iterable[int | None], fields: Sequence[str]) -> dict[int, Sequence[str]]:
    """`{id: fields}` for every non-null id: the usual shape of one listing's reads."""
    return {cid: fields for cid in customer_ids if cid is not None}
