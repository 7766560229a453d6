"""The wire format between the control plane and host agents (both sides import this module).

The agent pulls `GET /v1/hosts/{host}/desired-state`, converges libvirt, and pushes
`POST /v1/hosts/{host}/observed-state`. Heartbeats are `POST /v1/hosts/{host}/heartbeat`.
Before the irreversible wipe step the agent re-reads one server with
`GET /v1/hosts/{host}/servers/{server_id}/desired-state` and wipes only if it still says `deleted`.
To act on orders at once rather than at its next poll, the agent long-polls
`GET /v1/hosts/{host}/desired-state/watch?since=<version>&wait_s=<0..60>` (a `DesiredVersion`), starting
from the version sent with the desired state in the `X-Desired-Version` header.
A server built from an image names it in `DesiredServer.image`; an agent whose host lacks the file
streams it from `GET /v1/hosts/{host}/images/{image_id}/file` (Range honoured, so a cut download resumes;
the `ETag` is the image's sha256) and verifies the sha256 before caching it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field


class DesiredState(StrEnum):
    """What the control plane orders for a server; the stores and the wire carry these values."""

    RUNNING = "running"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class ObservedState(StrEnum):
    """What the agent saw in libvirt (saved = managed save image, RAM freed)."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    SAVED = "saved"
    SHUTOFF = "shutoff"
    DELETED = "deleted"
    ERROR = "error"


# The observed state said in the desired state's words, so an order and what the host shows compare
# directly: `suspended` is observed as libvirt's `paused` (RAM kept) or `saved` (managed save).
# `pending` and `error` have no order of their own and stay as they are.
AS_DESIRED: dict[ObservedState, str] = {
    ObservedState.RUNNING: DesiredState.RUNNING.value,
    ObservedState.PAUSED: DesiredState.SUSPENDED.value,
    ObservedState.SAVED: DesiredState.SUSPENDED.value,
    ObservedState.SHUTOFF: DesiredState.STOPPED.value,
    ObservedState.DELETED: DesiredState.DELETED.value,
    ObservedState.PENDING: ObservedState.PENDING.value,
    ObservedState.ERROR: ObservedState.ERROR.value,
}


def observed_as(state: str) -> frozenset[ObservedState]:
    """The libvirt states that read as `state` in the desired vocabulary (`suspended`: paused, saved)."""
    return frozenset(observed for observed, word in AS_DESIRED.items() if word == state)


# What an agent reports is stored: no NUL or other control characters (PostgreSQL cannot store NUL), and
# no integer past a signed 64-bit column. Agents import this module, so it stays on pydantic alone.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Reported = Annotated[str, Field(max_length=4096, pattern=_PRINTABLE)]
ReportedId = Annotated[str, Field(min_length=1, max_length=128, pattern=_PRINTABLE)]
ByteCount = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]


class DiskFormat(StrEnum):
    """The only image formats dcloud accepts; every qemu-img call names one (never lets it guess)."""

    RAW = "raw"
    QCOW2 = "qcow2"


class DomainType(StrEnum):
    """libvirt domain types: kvm in production; qemu (TCG) where KVM is a software hypervisor."""

    KVM = "kvm"
    QEMU = "qemu"
    TEST = "test"


class NetworkAttachment(BaseModel):
    """One interface on the host's libvirt network, bound to the server's address (Art. 24)."""

    network: str
    mac: str
    ip: str
    # For the guest's own static configuration (first-boot network-config); None where the pool has none.
    prefix: int | None = None
    gateway: str | None = None
    dns: list[str] = Field(default_factory=list)


class DesiredImage(BaseModel):
    """The image a server's disk is built on, as the control plane recorded it at import."""

    id: str
    sha256: str
    disk_format: DiskFormat
    size_bytes: int
    virtual_size_bytes: int


class FirstBoot(BaseModel):
    """What the NoCloud seed tells cloud-init: the guest's name and who may log in."""

    hostname: str
    ssh_authorized_keys: list[str] = Field(default_factory=list)
    # A crypt(3) hash only: dcloud never carries a plaintext password.
    password_hash: str | None = None


class RebootOrder(BaseModel):
    """The latest reboot ordered; the agent carries out each `seq` once (soft: ACPI/agent; hard: reset)."""

    seq: int
    hard: bool = False


class FirewallAction(StrEnum):
    ACCEPT = "accept"
    DROP = "drop"


class FirewallDirection(StrEnum):
    """Seen from the server: `in` is traffic to it, `out` traffic it sends (libvirt's nwfilter sense)."""

    IN = "in"
    OUT = "out"


class FirewallProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ALL = "all"


class FirewallRule(BaseModel):
    """One allow rule of a customer's firewall add-on (Art. 22(3) 2.2). `prefix` is the remote side:
    the source of inbound traffic, the destination of outbound traffic; None is anywhere."""

    direction: FirewallDirection
    protocol: FirewallProtocol
    port_from: int | None = Field(default=None, ge=1, le=65535)
    port_to: int | None = Field(default=None, ge=1, le=65535)
    prefix: str | None = Field(default=None, max_length=43)


class FirewallSet(BaseModel):
    """A contract's rule set, applied as the nwfilter `name` on every interface of its servers."""

    name: str = Field(pattern=r"^dcloud-fw-[A-Za-z0-9_.-]{1,64}$")
    inbound_default: FirewallAction = FirewallAction.DROP
    outbound_default: FirewallAction = FirewallAction.ACCEPT
    rules: list[FirewallRule] = Field(default_factory=list, max_length=256)


class DesiredServer(BaseModel):
    id: str
    name: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    desired_state: DesiredState
    generation: int
    # Partial restriction (Art. 16(4)-3..5): outbound TCP 25 blocked while the server keeps running.
    block_outbound_smtp: bool = False
    # Set by a suspend-and-resume maintenance window (Art. 14(2)): managed-save whatever the agent's own
    # suspend mode, so the host can be worked on with the guest's memory on disk. None: the agent's mode.
    suspend_mode: Literal["pause", "managedsave"] | None = None
    # Network quarantine (Art. 16(4)-6,13,14,16): only DHCP, ARP and the company's management prefixes.
    quarantine: bool = False
    quarantine_allow: list[str] = Field(default_factory=list, max_length=64)
    # Bandwidth cap (Art. 16(4)-17): libvirt `<bandwidth>` average, kilobytes per second, each direction.
    bandwidth_kbytes: int | None = Field(default=None, ge=1, le=2**31 - 1)
    firewall: FirewallSet | None = None
    networks: list[NetworkAttachment] = Field(default_factory=list)
    # Issue 9: None keeps the old behaviour (a blank raw disk, no seed, the host's domain type).
    image: DesiredImage | None = None
    first_boot: FirstBoot | None = None
    domain_type: DomainType | None = None
    reboot: RebootOrder | None = None


def traffic_key(server: DesiredServer) -> str:
    """Everything besides the generation that shapes a server's interfaces (filters, bandwidth)."""
    fw = server.firewall.model_dump_json() if server.firewall else ""
    return f"{server.quarantine}|{','.join(server.quarantine_allow)}|{server.bandwidth_kbytes}|{fw}"


class HostDesiredState(BaseModel):
    host: str
    servers: list[DesiredServer]


class ObservedServer(BaseModel):
    id: ReportedId
    state: ObservedState
    detail: Reported | None = None
    generation: ByteCount | None = None
    # The size the running definition has (a resize is "observed" once these match the order).
    vcpus: ByteCount | None = None
    memory_mib: ByteCount | None = None
    disk_bytes: ByteCount | None = None


class WipedVolume(BaseModel):
    name: Reported
    path: Reported
    capacity_bytes: ByteCount
    bytes_overwritten: ByteCount


class SharedBase(BaseModel):
    """An image base the server's overlay was built on: shared, holding no customer data, never wiped."""

    name: Reported
    path: Reported
    image_id: Reported
    customer_data: bool = False
    # Other overlays on this host still on it when the server was deleted (it stays cached either way).
    other_users: ByteCount = 0


class DeletionReport(BaseModel):
    server_id: ReportedId
    domain_name: Reported
    volumes: list[WipedVolume] = Field(max_length=1024)
    shared_bases: list[SharedBase] = Field(default_factory=list, max_length=16)
    bytes_overwritten: ByteCount
    method: Reported
    # Aware instants only: a naive one names no moment (the control plane bounds them, deletion_times.py).
    started_at: AwareDatetime
    finished_at: AwareDatetime


class OrphanReport(BaseModel):
    domain_name: Reported
    domain_uuid: Reported
    state: ObservedState


class HostObservedState(BaseModel):
    servers: list[ObservedServer] = Field(default_factory=list)
    deletions: list[DeletionReport] = Field(default_factory=list)
    orphans: list[OrphanReport] = Field(default_factory=list)
    # True on a full resync: servers missing from `servers` are then known to have no domain.
    full: bool = True


class Heartbeat(BaseModel):
    agent_version: Reported = "0.1.0"
    libvirt_uri: Reported
    libvirt_connected: bool
    # The hypervisor's identity (libvirt's capabilities host UUID) while connected: the control plane
    # refuses a second host row claiming a hypervisor another live agent already serves.
    libvirt_host_id: Annotated[str, Field(min_length=1, max_length=255, pattern=_PRINTABLE)] | None = None
    # The active libvirt networks on the host (address pools are checked against them); None: not known.
    networks: list[Annotated[str, Field(max_length=64, pattern=_PRINTABLE)]] | None = Field(
        default=None, max_length=256
    )


# The header on `desired-state` carrying the version of the state it lists.
DESIRED_VERSION_HEADER = "X-Desired-Version"


class DesiredVersion(BaseModel):
    """An opaque fingerprint of a host's desired state; any change to that state changes it."""

    version: str


# Serial console relay (controlplane/services/fleet/console.py). The agent long-polls
# `GET /v1/hosts/{host}/console-sessions/watch?seen=<id>&wait_s=<0..60>`, which answers as soon as a
# session it has not seen is waiting (or at `wait_s` with what is there); for each it opens the domain's
# console and attaches a WebSocket to `stream_url` (its agent token in the Authorization header), over
# which raw console bytes flow both ways as binary messages. The agent closes that socket with
# CONSOLE_UNAVAILABLE and a reason when the domain has no console to open.
CONSOLE_UNAVAILABLE = 4404


class ConsoleOrder(BaseModel):
    session_id: str
    server_id: str
    stream_url: str
    attach_by: datetime


class ConsoleOrders(BaseModel):
    sessions: list[ConsoleOrder] = Field(default_factory=list)
