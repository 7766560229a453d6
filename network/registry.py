"""What WHOIS and RDAP publish about an address range, with the customer's privacy choices applied.

One lookup and one privacy rule feed both protocols, so WHOIS and RDAP can never disagree about
what a customer hid (Art. 24(6): name, detailed address and phone may be hidden).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import netaddr  # type: ignore[import-untyped]
from sqlmodel import Session, col, select

from controlplane.models import Customer
from network import ipam
from network.identity import OperatorIdentity
from network.models import AddressLease, AddressPool

# What must never reach a WHOIS or RDAP client raw: C0 and C1 controls and DEL (CR/LF would start a
# forged WHOIS line, ESC drives the terminal, NUL and BEL confuse clients), the Unicode line/paragraph
# separators, and the bidi marks, embeddings, overrides and isolates (they reorder what is shown).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`text` with each control or bidi character written as `\\uXXXX` (LF becomes `\\u000a`): visible
    in WHOIS text, and in JSON text the escape JSON itself defines, so the decoded value is unchanged."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class PublicContact:
    """A customer (or the company) as the registry may show it."""

    org_name: str
    org_name_en: str
    address: str
    address_en: str
    zip_code: str
    contact_name: str
    contact_name_en: str
    phone: str
    email: str
    hidden: tuple[str, ...] = field(default_factory=tuple)  # "name", "address", "phone"


@dataclass(frozen=True)
class RegistryRecord:
    """One published range: a customer assignment (a single address) or an unassigned pool range."""

    network: netaddr.IPNetwork
    kind: str  # "assignment" or "allocation"
    handle: str
    name: str
    holder: PublicContact
    registered_at: datetime
    last_changed_at: datetime
    pool: AddressPool


def operator_contact(identity: OperatorIdentity) -> PublicContact:
    return PublicContact(
        org_name=identity.name,
        org_name_en=identity.name_en,
        address=identity.address,
        address_en=identity.address_en,
        zip_code=identity.zip_code,
        contact_name=identity.role_contact_name,
        contact_name_en=identity.role_contact_name_en,
        phone=identity.role_phone,
        email=identity.role_email,
    )


def public_contact(customer: Customer, identity: OperatorIdentity) -> PublicContact:
    """The customer with hidden fields replaced (Art. 24(6)): generic label, district, role contact."""
    hidden = tuple(
        name
        for name, flag in (
            ("name", customer.whois_hide_name),
            ("address", customer.whois_hide_address),
            ("phone", customer.whois_hide_phone),
        )
        if flag
    )
    hide_name, hide_address, hide_phone = ("name" in hidden, "address" in hidden, "phone" in hidden)
    district = customer.address_district or "대한민국"
    # Hiding the name or the phone hides the person too: the company's role contact answers instead.
    role = hide_name or hide_phone
    return PublicContact(
        org_name=identity.hidden_org_label if hide_name else customer.name,
        org_name_en=identity.hidden_org_label_en if hide_name else (customer.name_en or customer.name),
        address=district if hide_address else customer.address,
        address_en=(district if hide_address else (customer.address_en or customer.address)),
        zip_code="" if hide_address else (customer.zip_code or ""),
        contact_name=identity.role_contact_name if role else customer.contact_name,
        contact_name_en=identity.role_contact_name_en if role else customer.contact_name,
        phone=identity.role_phone if hide_phone else customer.contact_phone,
        email=identity.role_email if role else (customer.contact_email or customer.email),
        hidden=hidden,
    )


def _containing_pool(session: Session, query: netaddr.IPNetwork) -> AddressPool | None:
    for pool in session.exec(select(AddressPool).where(AddressPool.ip_version == query.version)).all():
        network = netaddr.IPNetwork(pool.cidr)
        if network.first <= query.first and query.last <= network.last:
            return pool
    return None


def active_lease_at(session: Session, address: str) -> AddressLease | None:
    return session.exec(
        select(AddressLease).where(AddressLease.address == address, col(AddressLease.released_at).is_(None))
    ).first()


def _pool_record(pool: AddressPool, identity: OperatorIdentity) -> RegistryRecord:
    return RegistryRecord(
        network=netaddr.IPNetwork(pool.cidr),
        kind="allocation",
        handle=f"{identity.handle}-POOL-{pool.id}",
        name=f"{identity.handle}-{pool.name}".upper(),
        holder=operator_contact(identity),
        registered_at=pool.created_at,
        last_changed_at=pool.created_at,
        pool=pool,
    )


def lookup(session: Session, query: str, identity: OperatorIdentity) -> RegistryRecord | None:
    """The most specific published range containing the query (an address or a CIDR); None if ours not."""
    network = ipam.range_of(query)
    pool = _containing_pool(session, network)
    if pool is None:
        return None
    if network.size != 1:
        return _pool_record(pool, identity)
    lease = active_lease_at(session, str(network.ip))
    customer = session.get(Customer, lease.customer_id) if lease and lease.customer_id else None
    if lease is None or customer is None:
        return _pool_record(pool, identity)
    return RegistryRecord(
        network=network,
        kind="assignment",
        handle=f"{identity.handle}-LEASE-{lease.id}",
        name=f"{identity.handle}-CUSTOMER-{lease.id}",
        holder=public_contact(customer, identity),
        registered_at=lease.leased_at,
        last_changed_at=lease.leased_at,
        pool=pool,
    )
