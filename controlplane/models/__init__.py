"""Every table of the store; importing this package registers them all on SQLModel.metadata."""

from controlplane.models.audit import AuditEvent
from controlplane.models.auth import ApiToken, Role
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.host import Host, HostAdminState, HostHealth, OrphanDomain
from controlplane.models.server import DeletionRecord, DesiredState, ObservedState, Server

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Contract",
    "ContractState",
    "Customer",
    "DeletionRecord",
    "DesiredState",
    "Host",
    "HostAdminState",
    "HostHealth",
    "ObservedState",
    "OrphanDomain",
    "Role",
    "Server",
]
