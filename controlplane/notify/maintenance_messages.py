"""The words of maintenance notices (Art. 10(8), 13, 14(2)): Korean first, then English, Seoul times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from controlplane.notify.messages import NoticeDraft

_SEOUL = ZoneInfo("Asia/Seoul")
_ACTION_KO = {
    "none": "작업 중 서비스가 일시 중단될 수 있습니다.",
    "drain": "작업 중 해당 장비에 새 서버가 배치되지 않습니다. 기존 서버는 계속 동작합니다.",
    "suspend-and-resume": "작업 시작 시 서버 상태를 저장(일시 정지)하고, 작업 종료 후 그대로 재개합니다.",
}
_ACTION_EN = {
    "none": "The service may pause during the work.",
    "drain": "No new servers are placed on the affected hosts during the work; running servers keep running.",
    "suspend-and-resume": "Your servers are saved (paused, memory kept on disk) at the start and resumed "
    "as they were when the work ends.",
}


def _seoul(moment: datetime) -> str:
    return f"{moment.astimezone(_SEOUL):%Y-%m-%d %H:%M} KST"


def maintenance_notice(
    *,
    window_id: int,
    kind: str,
    action: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
    servers: list[str],
    rescheduled: bool,
) -> NoticeDraft:
    """Art. 10(8)-1/-2: the window's Seoul times, what happens to the servers, and why (irregular)."""
    clause = "Art. 10(8)-1" if kind == "regular" else "Art. 10(8)-2"
    span = f"{_seoul(starts_at)} ~ {_seoul(ends_at)}"
    label_ko = "정기" if kind == "regular" else "비정기"
    change = "[일정 변경] " if rescheduled else ""
    change_en = "[Rescheduled] " if rescheduled else ""
    why = f"사유 / Reason: {reason}\n" if reason else ""
    body = (
        f"{change}{label_ko} 점검 안내 (점검 번호 {window_id})\n"
        f"일시: {span}\n{_ACTION_KO[action]}\n"
        f"대상 서버: {', '.join(servers)}\n\n"
        f"{change_en}{kind.capitalize()} maintenance notice (window {window_id})\n"
        f"When: {span} (Asia/Seoul)\n{_ACTION_EN[action]}\n"
        f"Servers: {', '.join(servers)}\n{why}"
        "Service returns as soon as the work ends; maintenance time is not counted as downtime (Art. 14).\n"
    )
    subject = f"[D-Cloud] {change}점검 안내 / Maintenance {span}"
    return NoticeDraft("maintenance", clause, subject[:200], body)


def maintenance_cancel_notice(
    *, window_id: int, kind: str, starts_at: datetime, ends_at: datetime, reason: str
) -> NoticeDraft:
    span = f"{_seoul(starts_at)} ~ {_seoul(ends_at)}"
    body = (
        f"점검 취소 안내 (점검 번호 {window_id}): {span} 점검은 취소되었습니다.\n"
        f"Maintenance window {window_id} ({span}, Asia/Seoul) is cancelled.\n"
        f"사유 / Reason: {reason}\n"
    )
    clause = "Art. 10(8)-1" if kind == "regular" else "Art. 10(8)-2"
    return NoticeDraft(
        "maintenance_cancel", clause, f"[D-Cloud] 점검 취소 / Maintenance cancelled {span}", body
    )
