"""What shapes a server's traffic right now: partial restrictions in force (TERMS-MAP §3) and its
contract's firewall add-on (Art. 22(3) 2.2). The agent turns these into nwfilters and `<bandwidth>`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.config import get_settings
from controlplane.models.enforcement import PARTIAL_SCOPES, Block, BlockScope
from controlplane.models.server import Server
from controlplane.models.workflows import FirewallRule, FirewallRuleSet
from controlplane.protocol import FirewallRule as WireRule
from controlplane.protocol import FirewallSet


@dataclass
class ServerTraffic:
    block_outbound_smtp: bool = False
    quarantine: bool = False
    quarantine_allow: list[str] = field(default_factory=list)
    bandwidth_kbytes: int | None = None
    firewall: FirewallSet | None = None


def firewall_filter_name(contract_id: int) -> str:
    return f"dcloud-fw-c{contract_id}"


def traffic_for(
    session: Session,
    servers: Collection[Server],
    at: datetime,
    *,
    management_prefixes: list[str] | None = None,
) -> dict[str, ServerTraffic]:
    """Server id -> its traffic shape at `at` (two queries for any number of servers). A quarantined
    server may reach `management_prefixes` (default: the deployment's `DCLOUD_MANAGEMENT_PREFIXES`)."""
    allow = list(get_settings().management_prefixes if management_prefixes is None else management_prefixes)
    out = {s.id: ServerTraffic() for s in servers}
    by_contract: dict[int, list[str]] = {}
    for server in servers:
        if server.contract_id is not None:
            by_contract.setdefault(server.contract_id, []).append(server.id)
    if not by_contract:
        return out
    for block in _partial_blocks(session, list(by_contract), at):
        for server_id in by_contract.get(block.contract_id, []):
            _apply_block(out[server_id], block, allow)
    for contract_id, firewall in firewalls_for(session, list(by_contract)).items():
        for server_id in by_contract[contract_id]:
            out[server_id].firewall = firewall
    return out


def _apply_block(traffic: ServerTraffic, block: Block, allow: list[str]) -> None:
    if block.scope == BlockScope.SMTP:
        traffic.block_outbound_smtp = True
    elif block.scope == BlockScope.QUARANTINE:
        traffic.quarantine = True
        traffic.quarantine_allow = allow
    elif block.scope == BlockScope.BANDWIDTH and block.bandwidth_kbytes is not None:
        # Two caps at once: the tighter one holds.
        current = traffic.bandwidth_kbytes
        traffic.bandwidth_kbytes = min(current, block.bandwidth_kbytes) if current else block.bandwidth_kbytes


def _partial_blocks(session: Session, contract_ids: list[int], at: datetime) -> list[Block]:
    query = select(Block).where(
        col(Block.contract_id).in_(contract_ids),
        col(Block.scope).in_([s.value for s in PARTIAL_SCOPES]),
        col(Block.lifted_at).is_(None),
        col(Block.started_at) <= at,
    )
    return list(session.exec(query.order_by(col(Block.id))).all())


def firewalls_for(session: Session, contract_ids: list[int]) -> dict[int, FirewallSet]:
    """Contract id -> the rule set in force (removed ones are gone from every server)."""
    sets = session.exec(
        select(FirewallRuleSet).where(
            col(FirewallRuleSet.contract_id).in_(contract_ids), col(FirewallRuleSet.removed_at).is_(None)
        )
    ).all()
    if not sets:
        return {}
    rules: dict[int, list[FirewallRule]] = {}
    query = select(FirewallRule).where(col(FirewallRule.rule_set_id).in_([s.id for s in sets]))
    for rule in session.exec(query.order_by(col(FirewallRule.position))).all():
        rules.setdefault(rule.rule_set_id, []).append(rule)
    return {
        s.contract_id: FirewallSet(
            name=firewall_filter_name(s.contract_id),
            inbound_default=s.inbound_default,  # type: ignore[arg-type]
            outbound_default=s.outbound_default,  # type: ignore[arg-type]
            rules=[WireRule.model_validate(r, from_attributes=True) for r in rules.get(s.id or 0, [])],
        )
        for s in sets
    }
