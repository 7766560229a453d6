"""The firewall add-on (Art. 22(3) 2.2): a contract's allow rules and default policy per direction."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from controlplane.protocol import FirewallAction, FirewallDirection, FirewallProtocol
from controlplane.schemas.types import Day, Line, Won


class FirewallRuleIn(BaseModel):
    """An allow rule; ports only for tcp/udp (the server's port inbound, the remote port outbound)."""

    model_config = ConfigDict(extra="forbid")

    direction: FirewallDirection
    protocol: FirewallProtocol
    port_from: int | None = Field(default=None, ge=1, le=65535, strict=True)
    port_to: int | None = Field(default=None, ge=1, le=65535, strict=True)
    prefix: Line | None = Field(
        default=None, max_length=43, description="remote IPv4 prefix, e.g. 198.51.100.0/24"
    )

    @field_validator("prefix")
    @classmethod
    def _ipv4_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IP prefix with its host bits clear: {exc}") from None
        if net.version != 4:
            raise ValueError("only IPv4 prefixes: servers carry IPv4 addresses only (Art. 24)")
        return str(net)

    @model_validator(mode="after")
    def _ports_fit(self) -> FirewallRuleIn:
        has_ports = self.port_from is not None or self.port_to is not None
        if has_ports and self.protocol not in (FirewallProtocol.TCP, FirewallProtocol.UDP):
            raise ValueError("ports apply to tcp and udp rules only")
        if self.port_to is not None and (self.port_from is None or self.port_to < self.port_from):
            raise ValueError("port_to needs a port_from no greater than it")
        return self


class FirewallPut(BaseModel):
    """The whole rule set, replacing the previous one; the first one starts the add-on's billing."""

    model_config = ConfigDict(extra="forbid")

    inbound_default: FirewallAction = FirewallAction.DROP
    outbound_default: FirewallAction = FirewallAction.ACCEPT
    rules: list[FirewallRuleIn] = Field(default_factory=list, max_length=64)
    monthly_fee: Won = 0
    started_on: Day | None = None


class FirewallPublic(BaseModel):
    id: int
    contract_id: int
    add_on_id: int | None
    inbound_default: str
    outbound_default: str
    revision: int
    rules: list[FirewallRuleIn]
    filter_name: str
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None
