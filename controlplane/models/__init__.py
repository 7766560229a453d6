"""Every table of the store; importing this package registers them all on SQLModel.metadata."""

from controlplane.models.audit import AuditEvent
from controlplane.models.auth import ApiToken, Role
from controlplane.models.billing import (
    AddOn,
    CreditEntry,
    FeePeriod,
    Invoice,
    InvoiceLine,
    LateFee,
    Payment,
    PaymentAllocation,
)
from controlplane.models.console import ConsoleSession, ConsoleSessionState, ConsoleTicket
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.disputes import Dispute
from controlplane.models.enforcement import Block, Outage, Termination
from controlplane.models.host import Host, HostAdminState, HostHealth, OrphanDomain
from controlplane.models.image import Image, ImageFormat, ImageState
from controlplane.models.jobs import JobOutcome, JobRun
from controlplane.models.maintenance import (
    MaintenanceServerRecord,
    MaintenanceWindow,
    MaintenanceWindowHost,
)
from controlplane.models.notices import Notice
from controlplane.models.server import DeletionRecord, DesiredState, ObservedState, Server
from controlplane.models.terms_response import TermsResponse
from controlplane.models.workflows import (
    AddressAgreement,
    FeeIncrease,
    FirewallRule,
    FirewallRuleSet,
    SpamComplaint,
    Succession,
)

__all__ = [
    "AddOn",
    "AddressAgreement",
    "ApiToken",
    "AuditEvent",
    "Block",
    "ConsoleSession",
    "ConsoleSessionState",
    "ConsoleTicket",
    "Contract",
    "ContractState",
    "CreditEntry",
    "Customer",
    "DeletionRecord",
    "DesiredState",
    "Dispute",
    "FeeIncrease",
    "FeePeriod",
    "FirewallRule",
    "FirewallRuleSet",
    "Host",
    "HostAdminState",
    "HostHealth",
    "Image",
    "ImageFormat",
    "ImageState",
    "Invoice",
    "InvoiceLine",
    "JobOutcome",
    "JobRun",
    "LateFee",
    "MaintenanceServerRecord",
    "MaintenanceWindow",
    "MaintenanceWindowHost",
    "Notice",
    "ObservedState",
    "OrphanDomain",
    "Outage",
    "Payment",
    "PaymentAllocation",
    "Role",
    "Server",
    "SpamComplaint",
    "Succession",
    "Termination",
    "TermsResponse",
]
