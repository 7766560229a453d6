"""The global `dcloud` flags and the Settings they override (environment first, then the flag)."""

from __future__ import annotations

import argparse

from controlplane.config import Settings

GLOBAL_FLAGS = {
    "database_url": ("--database-url", "store URL (DCLOUD_DATABASE_URL; default sqlite:///./var/dcloud.db)"),
    "api_url": (
        "--api-url",
        "control plane URL(s) the agent talks to, comma-separated replicas (DCLOUD_API_URL)",
    ),
    "token": ("--token", "bearer token for the agent (DCLOUD_TOKEN)"),
    "libvirt_uri": ("--libvirt-uri", "libvirt connection of this host (DCLOUD_LIBVIRT_URI)"),
    "host_name": ("--host-name", "this host's name in dcloud (DCLOUD_HOST_NAME; default: hostname)"),
    "state_dir": ("--state-dir", "where tokens and local state live (DCLOUD_STATE_DIR; default ./var)"),
    "log_format": ("--log-format", "log lines on stderr as text or JSON lines (DCLOUD_LOG_FORMAT)"),
    "log_levels": ("--log-levels", "levels per logger, e.g. DEBUG,apscheduler=INFO (DCLOUD_LOG_LEVELS)"),
}
_CHOICES = {"log_format": ("text", "json")}


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    for key, (flag, help_) in GLOBAL_FLAGS.items():
        parser.add_argument(flag, dest=key, help=help_, choices=_CHOICES.get(key))


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment first, then any global flag given on the command line."""
    overrides = {key: getattr(args, key) for key in GLOBAL_FLAGS if getattr(args, key, None) is not None}
    return Settings(**overrides)
