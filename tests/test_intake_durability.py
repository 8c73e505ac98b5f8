"""Intake's durability barrier: a file leaves the inbox only after its archive copy is flushed to disk.

Archive and quarantine files are written without an fsync each; the barrier flushes them all (one
syncfs per filesystem on Linux, an fsync per file elsewhere), then the ledger, and only then are the
recorded files taken out of the inbox.
"""

from __future__ import annotations

import hashlib
import shutil

import pytest

from consolidate import fileutil, inbox
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED, QUARANTINED

from .intake_util import complete, filled, merged


def _drop(ws, src, name):
    dst = ws.inbox / name
    shutil.copyfile(src, dst)
    return dst


def _watch(monkeypatch):
    """Record every barrier: the files flushed, and which inbox files existed at that moment."""
    calls: list[dict] = []
    flush = inbox._make_durable
    sync = Ledger.sync

    def make_durable(files):
        calls.append({"files": set(files), "inbox": set(), "ledger_synced": False})
        flush(files)

    def ledger_sync(self):
        if calls:
            calls[-1]["ledger_synced"] = True
        sync(self)

    def retire(path, seen, original=inbox._retire):  # the barrier retires files after flushing
        calls[-1]["inbox"].add(path.name)
        return original(path, seen)

    monkeypatch.setattr(inbox, "_make_durable", make_durable)
    monkeypatch.setattr(Ledger, "sync", ledger_sync)
    monkeypatch.setattr(inbox, "_retire", retire)
    return calls


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-per-file"])
@pytest.mark.parametrize("workers", [0, 2])
def test_files_leave_the_inbox_only_after_their_copies_and_the_ledger_are_flushed(workspace, tmp_path, monkeypatch,
                                                                                   syncfs, workers):
    if syncfs and fileutil._SYNCFS is None:
        pytest.skip("no syncfs on this platform")
    fsynced = []
    if not syncfs:
        monkeypatch.setattr(fileutil, "_SYNCFS", None)
        real = fileutil.fsync_file
        monkeypatch.setattr(fileutil, "fsync_file", lambda path: (fsynced.append(path), real(path)))
    calls = _watch(monkeypatch)
    monkeypatch.setattr(inbox, "BARRIER_EVERY", 2)
    monkeypatch.setattr(inbox, "IN_FLIGHT_PER_WORKER", 1)
    sources = [filled(workspace.catalogue, tmp_path, f"r{i}.xlsx", merged(complete(), {"proposals": {"P1": {
        "text": f"Пропозиція {i}"}}})) for i in range(3)]
    for i, src in enumerate(sources):
        _drop(workspace, src, f"{i}.xlsx")
    pdf = tmp_path / "лист.pdf"
    pdf.write_bytes(b"%PDF-1.4 not a workbook")
    _drop(workspace, pdf, "лист.pdf")

    outcomes = inbox.run_intake(workspace, workers=workers)
    assert sorted(o.state for o in outcomes) == [ACCEPTED] * 3 + [QUARANTINED] and all(o.moved for o in outcomes)
    assert len(calls) >= 2  # every two recorded files, and at the end
    flushed: set = set()
    for call in calls:
        flushed |= call["files"]
        for name in call["inbox"]:
            o = next(o for o in outcomes if o.path.name == name)
            assert workspace.root / o.record.archive_path in flushed, name
            assert call["ledger_synced"], name
    digest = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert {workspace.quarantine / f"{digest}.pdf", workspace.quarantine / f"{digest}.pdf.txt"} <= flushed
    if not syncfs:
        assert set(fsynced) == flushed


def test_a_copy_a_killed_run_left_unflushed_is_flushed_before_the_inbox_file_goes(workspace, tmp_path, monkeypatch):
    src = filled(workspace.catalogue, tmp_path, "r.xlsx")
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    left = workspace.root / "archive" / digest[:2] / f"{digest}.xlsx"  # written, never flushed, then killed
    left.parent.mkdir(parents=True)
    left.write_bytes(data)
    _drop(workspace, src, "r.xlsx")
    calls = _watch(monkeypatch)
    (outcome,) = inbox.run_intake(workspace, workers=0)
    assert outcome.state == ACCEPTED and outcome.moved
    assert left in calls[-1]["files"] and calls[-1]["inbox"] == {"r.xlsx"}


def test_big_files_in_flight_are_bounded_by_bytes_and_all_received(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(inbox, "BYTES_IN_FLIGHT", 1)  # every file is bigger: one at a time, still every file
    for i in range(4):
        _drop(workspace, filled(workspace.catalogue, tmp_path, f"r{i}.xlsx", merged(complete(), {"proposals": {
            "P1": {"text": f"Пропозиція {i}"}}})), f"{i}.xlsx")
    outcomes = inbox.run_intake(workspace, workers=2)
    assert len(outcomes) == 4 and all(o.moved for o in outcomes)
    assert sum(o.superseded is not None for o in outcomes) == 3
