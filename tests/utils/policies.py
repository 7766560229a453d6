"""Policy versions for tests: the built-in default and a deployed "slow" one with every number changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "2025-01"
SLOW_VERSION = "2026-07"  # restrict_after_overdue_days=45 and the other overrides below
SLOW = {
    "version": SLOW_VERSION,
    "effective_from": "2026-07-01",
    "restrict_after_overdue_days": 45,
    "max_extension_after_due_days": 75,
    "late_fee_rate_monthly": "12/1000",
    "address_quarantine_days": 60,
    "termination_notice_days": 14,
    "invoice_send_by_day": 5,
}


def write_policy_file(path: Path, entries: Any) -> Path:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path
