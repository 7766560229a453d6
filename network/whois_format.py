"""WHOIS answer text laid out like the national registry's customer records: Korean, then English."""

from __future__ import annotations

from datetime import datetime

from controlplane.terms.calendar import SEOUL
from network.identity import OperatorIdentity
from network.registry import PublicContact, RegistryRecord, escape_controls

_WIDTH = 19


def _lines(lines: list[str]) -> str:
    """The one place WHOIS text is assembled: each line escaped, then joined with CRLF (RFC 3912)."""
    return "\r\n".join(escape_controls(line) for line in lines)


def _date(at: datetime) -> str:
    """Registry dates are Seoul calendar dates, YYYYMMDD."""
    return at.astimezone(SEOUL).strftime("%Y%m%d")


def _line(label: str, value: str) -> str:
    # Korean labels are double-width on a terminal; pad by display width so the colons line up.
    width = sum(2 if ord(ch) > 0x1100 else 1 for ch in label)
    return f"{label}{' ' * max(1, _WIDTH - width)}: {value}"


def _range(record: RegistryRecord) -> str:
    net = record.network
    return f"{net[0]} - {net[-1]} (/{net.prefixlen})"


def _korean(record: RegistryRecord, query: str) -> list[str]:
    holder: PublicContact = record.holder
    label = "IPv4주소" if record.network.version == 4 else "IPv6주소"
    holder_kind = "사용자" if record.kind == "assignment" else "관리대행자"
    return [
        f"query : {query}",
        "",
        "# KOREAN(UTF8)",
        "",
        f"조회하신 {label}는 아래의 {holder_kind}에게 할당되었으며, 할당 정보는 다음과 같습니다.",
        "",
        "[ 네트워크 할당 정보 ]",
        _line(label, _range(record)),
        _line("기관명", holder.org_name),
        _line("네트워크 구분", "CUSTOMER" if record.kind == "assignment" else "ISP"),
        _line("주소", holder.address),
        _line("우편번호", holder.zip_code),
        _line("할당내역 등록일", _date(record.registered_at)),
        "",
        "[ 담당자 정보 ]",
        _line("이름", holder.contact_name),
        _line("전화번호", holder.phone),
        _line("전자우편", holder.email),
        "",
    ]


def _english(record: RegistryRecord) -> list[str]:
    holder = record.holder
    label = "IPv4 Address" if record.network.version == 4 else "IPv6 Address"
    return [
        "# ENGLISH",
        "",
        "[ Network Information ]",
        _line(label, _range(record)),
        _line("Organization Name", holder.org_name_en),
        _line("Network Type", "CUSTOMER" if record.kind == "assignment" else "ISP"),
        _line("Address", holder.address_en),
        _line("Zip Code", holder.zip_code),
        _line("Registration Date", _date(record.registered_at)),
        "",
        "[ Technical Contact Information ]",
        _line("Name", holder.contact_name_en),
        _line("Phone", holder.phone),
        _line("E-Mail", holder.email),
        "",
    ]


def _footer(record: RegistryRecord, identity: OperatorIdentity) -> list[str]:
    lines = []
    if record.holder.hidden:
        fields = ", ".join(record.holder.hidden)
        lines += [f"% Some fields ({fields}) are withheld at the customer's request (Art. 24(6)).", ""]
    lines += [f"% Abuse reports: {identity.abuse_email}", ""]
    return lines


def format_record(record: RegistryRecord, query: str, identity: OperatorIdentity) -> str:
    return _lines(_korean(record, query) + _english(record) + _footer(record, identity))


def format_no_match(query: str) -> str:
    return _lines(
        [
            f"query : {query}",
            "",
            "% 조회하신 주소에 해당하는 할당 정보가 없습니다.",
            f"% No match for {query}: this address is not managed by this registry.",
            "",
        ]
    )


def format_error(reason: str) -> str:
    """One line, never a traceback: the client learns what was wrong and nothing about the server."""
    return _lines([f"% Error: {reason}", ""])
