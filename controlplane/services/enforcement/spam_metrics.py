"""/metrics family of spam complaint deadlines (Art. 26(4),(5)), read at scrape time."""

from __future__ import annotations

from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlmodel import Session

from controlplane.services.enforcement.spam import open_deadlines
from controlplane.terms.calendar import seoul_date


def spam_deadlines(session: Session, now: datetime) -> Metric:
    """Art. 26(4),(5): running and missed spam deadlines, by stage and by how close their last day is."""
    family = GaugeMetricFamily(
        "dcloud_spam_deadlines",
        "Spam complaint deadlines still open: the answer (Art. 26(4)) and the fix report (Art. 26(5))",
        labels=["stage", "due"],
    )
    today = seoul_date(now)
    counts = {
        (stage, due): 0
        for stage in ("answer", "fix_report")
        for due in ("overdue", "due_within_1_day", "pending")
    }
    for stage, last_day in open_deadlines(session):
        left = (last_day - today).days
        counts[(stage, "overdue" if left < 0 else "due_within_1_day" if left <= 1 else "pending")] += 1
    for (stage, due), count in counts.items():
        family.add_metric([stage, due], float(count))
    return family
