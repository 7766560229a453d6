"""Settings read from the environment (DCLOUD_*) and overridable by CLI flags."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CrashPoint(StrEnum):
    """Where a test makes the control plane SIGKILL itself (DCLOUD_TEST_CRASH_POINT, scheduler/faults.py),
    at the first time the job passes it."""

    SWEEP_CONTRACT_COMMITTED = "sweep-contract-committed"  # one contract's decisions committed
    NOTICE_CLAIMED = "notice-claimed"  # a notice claimed, nothing sent
    NOTICE_HANDED_OVER = "notice-handed-over"  # the relay accepted it, `sent_at` not recorded


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DCLOUD_", extra="ignore")

    database_url: str = "sqlite:///./var/dcloud.db"
    libvirt_uri: str = "qemu:///system"
    # The agent's control plane; several replicas comma-separated, tried in turn when one fails.
    api_url: str = "http://127.0.0.1:8080"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    token: str | None = None
    host_name: str | None = None
    state_dir: str = "./var"
    # Agent behaviour
    agent_metrics_port: int = 8179  # agents.metrics.DEFAULT_METRICS_PORT
    # Where the agent's /metrics listens: loopback unless a deployment opens it to its Prometheus.
    agent_metrics_addr: str = "127.0.0.1"
    # How long /metrics reuses the slow libvirt stats groups (block, CPU time) before asking again;
    # 0 reads them on every scrape. 60 s is two scrapes at the shipped 30 s interval: rate(...[5m]) keeps
    # five distinct points per window.
    agent_stats_max_age_s: float = 60.0
    agent_poll_interval_s: float = 10.0
    agent_resync_interval_s: float = 180.0
    # Long-poll the control plane's desired-state watch so orders reach libvirt at once; the poll
    # above stays as the fallback when the watch is off or failing.
    agent_watch: bool = True
    # Servers one agent converges at once (a slow stop holds one worker, not the host), and how long a
    # pass waits for them before reporting the slow ones as busy (they report themselves when done).
    agent_max_parallel: int = 4
    agent_pass_wait_s: float = 1.0
    suspend_mode: Literal["pause", "managedsave"] = "pause"
    stop_timeout_s: float = 60.0
    # A soft reboot the guest has not carried out within this many seconds is forced by a reset
    # (agents/soft_reboot.py; Nova's wait_soft_reboot_seconds).
    soft_reboot_timeout_s: float = Field(default=120.0, ge=0)
    storage_pool: str = "dcloud"
    storage_pool_path: str = "/var/lib/dcloud/images"
    # Hosts whose heartbeats stop are "unknown" after this many missed intervals (CloudStack's rule).
    heartbeat_interval_s: float = 30.0
    heartbeat_missed_limit: int = 2
    # The company's management prefixes: all a quarantined server may still reach (Art. 16(4)-6,13,14,16),
    # besides DHCP and ARP. A JSON list in DCLOUD_MANAGEMENT_PREFIXES, e.g. '["203.0.113.0/28"]'.
    management_prefixes: list[str] = []
    whois_port: int = 4343
    # Loopback by default; production serves port 43 on a public address (deploy/dcloud.env.example).
    whois_bind: str = "127.0.0.1"
    # Notices (Art. 13): e-mail through the company's SMTP relay.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "noreply@dcloud.example"
    smtp_timeout_s: float = 10.0
    # The deployment's terms policy versions (JSON list of Policy.to_dict() objects, partial = overrides
    # of the defaults); loaded once at startup, a bad file stops startup. None: the built-in default only.
    policy_file: str | None = None
    # Logging of every entry point (controlplane/cli/logs.py): text or JSON lines, and levels per logger
    # such as "DEBUG,apscheduler=INFO" (a bare level sets the root).
    log_format: Literal["text", "json"] = "text"
    # Scheduler (scheduler/runner.py): how often each control plane checks leadership and due firings
    # (a follower takes over within one interval), and the deployment's job times (scheduler/schedule.py).
    scheduler_check_interval_s: float = 5.0
    job_times: str | None = None
    # Serial console (controlplane/services/fleet/console.py): a ticket opens one session within this
    # many seconds; the host's agent must attach within the next; a replica that agents must reach at
    # its own address (several replicas behind one balancer) sets console_relay_url to it.
    console_ticket_ttl_s: float = 30.0
    console_attach_timeout_s: float = 15.0
    console_relay_url: str | None = None
    log_levels: str | None = None
    # Images (issue 9). The control plane keeps image files under `image_dir` (DCLOUD_IMAGE_DIR, default
    # <state_dir>/images): with several API replicas, shared storage mounted on every one (a replica
    # without an image's file answers the agents 503 and they fetch it from another). It imports a local
    # file only from under one of `image_import_dirs` (default <state_dir>/import), so an operator cannot
    # turn a host file (a key, the store) into an image.
    image_dir: str | None = None
    image_import_dirs: list[str] = []
    # A URL that sends nothing for this long fails the import; the whole download has a deadline too,
    # which also bounds an agent's fetch of an image from the control plane (agents/image_fetch.py).
    image_fetch_timeout_s: float = 30.0
    image_fetch_deadline_s: float = 6 * 3600.0
    image_max_bytes: int = 256 * 1024**3
    # The agent's image cache: one libvirt dir pool per host, shared bases never holding customer data.
    image_pool: str = "dcloud-images"
    image_pool_path: str = "/var/lib/dcloud/image-cache"
    # "overlay": a qcow2 overlay on the cached base (default); "copy": a full qcow2 copy per server.
    image_disk_mode: Literal["overlay", "copy"] = "overlay"
    # A cached base no guest on the host uses and no server of the host needs is deleted once unused
    # this long (checked at most every image_prune_interval_s), like Nova's image cache manager.
    image_cache_min_age_s: float = 86400.0
    image_prune_interval_s: float = 3600.0
    # Guest hardware: libvirt's CPU mode for KVM guests, and the host's domain type (None: kvm if the
    # hypervisor offers it, else qemu). Set "qemu" where /dev/kvm is a software hypervisor (kvm_pvm).
    # None (env: DCLOUD_GUEST_CPU_MODE=null) leaves QEMU's default CPU. On a host without VT-x/AMD-V
    # (kvm_pvm) the agent falls back to that by itself: QEMU aborts on the MSRs host-model asks for.
    guest_cpu_mode: str | None = "host-model"
    # vCPUs a running guest may be hot-plugged up to on a resize (its definition's maximum); a plan
    # beyond it, a smaller plan, and any memory change take effect at the guest's next boot.
    guest_max_vcpus: int = Field(default=8, ge=0, le=255)
    domain_type: Literal["kvm", "qemu", "test"] | None = None
    # TEST ONLY, never set in a deployment: the scheduler's jobs SIGKILL their own process at this point,
    # for the crash tests (tests/billing/test_delivery_crash.py). Unset (the default) arms nothing.
    test_crash_point: CrashPoint | None = None
    # TEST ONLY, likewise: the agent SIGKILLs itself after this delete step, `STEP[:N]` for its Nth time
    # (agents/faults.py; tests/agents/reconcile/test_crash_two_volumes.py). Unset arms nothing.
    test_agent_crash_point: str | None = None

    def images_path(self) -> str:
        return self.image_dir or f"{self.state_dir.rstrip('/')}/images"

    def import_roots(self) -> list[str]:
        return self.image_import_dirs or [f"{self.state_dir.rstrip('/')}/import"]


@lru_cache
def get_settings() -> Settings:
    return Settings()
