"""RDAP "ip network" responses (RFC 9083) with RFC 9537 redaction markers for what the customer hid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from network.identity import OperatorIdentity
from network.registry import PublicContact, RegistryRecord

RDAP_MEDIA_TYPE = "application/rdap+json"
CONFORMANCE = ["rdap_level_0", "redacted"]

_REGISTRANT = "$.entities[?(@.roles[0]=='registrant')]"
# RFC 9537 redacted names (IANA "redacted name" values) per field the customer may hide (Art. 24(6)).
_REDACTIONS: dict[str, list[tuple[str, str, str]]] = {
    "name": [
        ("Registrant Name", "replacementValue", f"{_REGISTRANT}.vcardArray[1][?(@[0]=='fn')][3]"),
        ("Registrant Organization", "replacementValue", f"{_REGISTRANT}.vcardArray[1][?(@[0]=='org')][3]"),
    ],
    "address": [
        ("Registrant Street", "replacementValue", f"{_REGISTRANT}.vcardArray[1][?(@[0]=='adr')][3]"),
        ("Registrant Postal Code", "emptyValue", f"{_REGISTRANT}.vcardArray[1][?(@[0]=='adr')][3][5]"),
    ],
    "phone": [
        ("Registrant Phone", "replacementValue", f"{_REGISTRANT}.vcardArray[1][?(@[0]=='tel')][3]"),
    ],
}


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vcard(*, fn: str, org: str | None, address: str, zip_code: str, phone: str, email: str) -> list[Any]:
    """A jCard (RFC 7095) as RDAP entities carry it; the address is one label plus structured parts."""
    properties: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn]]
    if org is not None:
        properties.append(["org", {}, "text", org])
    properties += [
        ["adr", {"label": address, "cc": "KR"}, "text", ["", "", address, "", "", zip_code, "KR"]],
        ["tel", {"type": ["voice"]}, "uri", f"tel:{phone.replace(' ', '')}"],
        ["email", {}, "text", email],
    ]
    return ["vcard", properties]


def _entity(handle: str, roles: list[str], card: list[Any]) -> dict[str, Any]:
    return {"objectClassName": "entity", "handle": handle, "roles": roles, "vcardArray": card}


def _entities(record: RegistryRecord, identity: OperatorIdentity) -> list[dict[str, Any]]:
    holder: PublicContact = record.holder
    registrant = vcard(
        fn=holder.org_name_en,
        org=holder.org_name,
        address=holder.address_en,
        zip_code=holder.zip_code,
        phone=holder.phone,
        email=holder.email,
    )
    admin = vcard(
        fn=holder.contact_name_en,
        org=None,
        address=holder.address_en,
        zip_code=holder.zip_code,
        phone=holder.phone,
        email=holder.email,
    )
    abuse = vcard(
        fn=f"{identity.name_en} Abuse",
        org=identity.name_en,
        address=identity.address_en,
        zip_code=identity.zip_code,
        phone=identity.abuse_phone,
        email=identity.abuse_email,
    )
    return [
        _entity(f"{record.handle}-REG", ["registrant"], registrant),
        _entity(f"{record.handle}-ADM", ["administrative"], admin),
        _entity(f"{identity.handle}-ABUSE", ["abuse"], abuse),
    ]


def _redacted(hidden: tuple[str, ...]) -> list[dict[str, Any]]:
    entries = []
    for field in hidden:
        for name, method, path in _REDACTIONS[field]:
            entry: dict[str, Any] = {"name": {"type": name}, "method": method, "pathLang": "jsonpath"}
            # postPath: the field is still in the response, holding the replacement or an empty value.
            entry["postPath"] = path
            entry["reason"] = {"description": "Hidden at the customer's request (Art. 24(6))"}
            entries.append(entry)
    return entries


def ip_network(record: RegistryRecord, identity: OperatorIdentity) -> dict[str, Any]:
    """The RFC 9083 section 5.4 object for one published range."""
    network = record.network
    body: dict[str, Any] = {
        "rdapConformance": list(CONFORMANCE),
        "objectClassName": "ip network",
        "handle": record.handle,
        "startAddress": str(network[0]),
        "endAddress": str(network[-1]),
        "ipVersion": f"v{network.version}",
        "name": record.name,
        "type": "ASSIGNED PA" if record.kind == "assignment" else "ALLOCATED PA",
        "country": "KR",
        "status": ["active"],
        "entities": _entities(record, identity),
        "events": [
            {"eventAction": "registration", "eventDate": _rfc3339(record.registered_at)},
            {"eventAction": "last changed", "eventDate": _rfc3339(record.last_changed_at)},
        ],
        "remarks": [
            {"title": "Network type", "description": ["CUSTOMER" if record.kind == "assignment" else "ISP"]}
        ],
        "links": [_self_link(identity, f"ip/{network.cidr}")],
        "port43": identity.whois_host,
    }
    if record.kind == "assignment":
        body["parentHandle"] = f"{identity.handle}-POOL-{record.pool.id}"
    if record.holder.hidden:
        body["redacted"] = _redacted(record.holder.hidden)
    return body


def _self_link(identity: OperatorIdentity, path: str) -> dict[str, str]:
    href = identity.rdap_base_url.rstrip("/") + "/" + path
    return {"value": href, "rel": "self", "href": href, "type": RDAP_MEDIA_TYPE}


def error_body(code: int, title: str, description: str) -> dict[str, Any]:
    """RFC 9083 section 6: errorCode, title, description, and the conformance it speaks."""
    return {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": code,
        "title": title,
        "description": [description],
    }
