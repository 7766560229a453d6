"""`dcloud maintenance …` speaks to the API (a Seoul time without an offset is read as Seoul), and
`dcloud jobs` / `dcloud jobs run NAME --as-of DATE` read and write the job-run rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.cli import build_parser, main
from controlplane.db import make_engine
from controlplane.models.jobs import JobRun
from tests.utils.api import Api, make_api


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.add_host("dctest-hv1")
    return harness


def _cli(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    api.client.headers["Authorization"] = f"Bearer {api.tokens['operator']}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_and_cancel_a_window(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(
        api, capsys, "maintenance", "create", "--kind", "regular", "--start", "2027-03-20T01:00",
        "--end", "2027-03-20T03:00", "--host", "dctest-hv1", "--action", "drain",
    )  # fmt: skip
    assert code == 0
    window = json.loads(out)
    assert (window["starts_at_seoul"], window["action"]) == ("2027-03-20 01:00 (Asia/Seoul)", "drain")
    code, out, _ = _cli(api, capsys, "maintenance", "list", "--state", "scheduled")
    assert [w["id"] for w in json.loads(out)] == [window["id"]]
    code, out, _ = _cli(api, capsys, "maintenance", "cancel", str(window["id"]), "--reason", "no parts")
    assert code == 0 and json.loads(out)["state"] == "cancelled"


def test_a_regular_window_past_seven_is_refused_on_one_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(
        api, capsys, "maintenance", "create", "--kind", "regular", "--start", "2027-03-20T06:30",
        "--end", "2027-03-20T07:30", "--host", "dctest-hv1",
    )  # fmt: skip
    assert code == 1
    assert "(422)" in err and "Art. 10(8)-1" in err and len(err.strip().splitlines()) == 1


def test_jobs_run_as_of_a_day_is_recorded_and_listed(
    sqlite_store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DCLOUD_DATABASE_URL", sqlite_store_url)
    monkeypatch.chdir(tmp_path)
    assert main(["jobs", "run", "enforcement-sweep", "--as-of", "2027-03-31"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["outcome"] == "succeeded" and ran["as_of"].startswith("2027-03-31")
    assert main(["jobs"]) == 0
    listed = {row["job"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert listed["enforcement-sweep"]["last_outcome"] == "succeeded"
    assert listed["enforcement-sweep"]["next_run"] is not None
    assert main(["jobs", "run", "no-such-job"]) == 1
    engine = make_engine(sqlite_store_url)
    with Session(engine) as session:
        (run,) = session.exec(select(JobRun)).all()
    engine.dispose()
    assert run.manual is True and run.job == "enforcement-sweep"
