"""The deletion journal: durable entries, tombstones, ids that cannot escape the journal directory."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.journal import STEP_BEGIN, STEP_WIPE, DeletionEntry, DeletionJournal, WipeRecord
from controlplane.protocol import DesiredServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _entry(server_id: str) -> DeletionEntry:
    server = DesiredServer(
        id=server_id, name="x", vcpus=1, memory_mib=64, disk_gib=1, desired_state="deleted", generation=1
    )
    return DeletionEntry(server=server, domain_name=f"dcloud-{server_id}", started_at=NOW)


def test_entry_survives_a_new_journal_object_with_its_wipe_results(tmp_path) -> None:
    entry = _entry("dctest-a")
    journal = DeletionJournal(tmp_path)
    journal.record(entry, STEP_BEGIN)
    entry.wiped["v0"] = WipeRecord(
        name="v0", path="/p/v0", capacity_bytes=10, bytes_overwritten=4, method="zero+fsync",
        started_at=NOW, finished_at=NOW,
    )  # fmt: skip
    journal.record(entry, STEP_WIPE)

    reloaded = DeletionJournal(tmp_path).load("dctest-a")

    assert reloaded == entry
    assert reloaded.steps == [STEP_BEGIN, STEP_WIPE]
    report = reloaded.to_report()
    assert report.bytes_overwritten == 4 and report.method == "zero+fsync"
    assert not list((tmp_path / "deletions").glob("*.tmp"))


def test_the_after_step_hook_runs_once_the_step_is_durable(tmp_path) -> None:
    seen: list[tuple[str, list[str]]] = []

    def hook(step: str) -> None:  # what a crash at this instant would leave on disk
        loaded = DeletionJournal(tmp_path).load("dctest-h")
        seen.append((step, loaded.steps if loaded else []))

    journal = DeletionJournal(tmp_path, after_step=hook)
    entry = _entry("dctest-h")
    journal.record(entry, STEP_BEGIN)
    journal.record(entry, STEP_WIPE)

    assert seen == [(STEP_BEGIN, [STEP_BEGIN]), (STEP_WIPE, [STEP_BEGIN, STEP_WIPE])]


def test_acknowledge_leaves_a_tombstone_and_drops_the_entry(tmp_path) -> None:
    journal = DeletionJournal(tmp_path)
    journal.record(_entry("dctest-b"), STEP_BEGIN)

    journal.acknowledge("dctest-b")

    assert journal.load("dctest-b") is None
    assert journal.acknowledged("dctest-b")
    assert journal.acknowledged_ids() == {"dctest-b"}
    journal.forget_acknowledged("dctest-b")
    assert not journal.acknowledged("dctest-b")


def test_hostile_ids_stay_inside_the_journal_directory(tmp_path) -> None:
    journal = DeletionJournal(tmp_path / "state")
    journal.record(_entry("../../escape"), STEP_BEGIN)
    journal.acknowledge("../../escape")

    assert not (tmp_path / "escape.json").exists()
    assert journal.acknowledged_ids() == {"../../escape"}
    assert all(p.is_relative_to(tmp_path / "state") for p in tmp_path.rglob("*") if p.is_file())
