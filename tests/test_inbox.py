"""Receiving files: archive, quarantine, ledger, inbox; reader processes; the intake and history commands."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys

import pytest
from click.testing import CliRunner

from consolidate import inbox, intake
from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, QUARANTINED

from .intake_util import complete, filled, merged

NOT_A_WORKBOOK = b"%PDF-1.4 scanned letter"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop(ws, src, name: str, mtime: int | None = None):
    """Put a file into the workspace inbox (optionally with a given modification time)."""
    dst = ws.inbox / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    if mtime is not None:
        os.utime(dst, (mtime, mtime))
    return dst


def test_received_files_are_archived_recorded_and_taken_out_of_the_inbox(workspace, tmp_path):
    ret_file = filled(workspace.catalogue, tmp_path, "r.xlsx")
    drop(workspace, ret_file, "Звіт Мін’юсту.xlsx", mtime=1_700_000_000)
    pdf = tmp_path / "лист.pdf"
    pdf.write_bytes(NOT_A_WORKBOOK)
    drop(workspace, pdf, "пошта/лист.pdf", mtime=1_700_000_100)
    outcomes = inbox.run_intake(workspace)
    assert [(o.name, o.state, o.moved) for o in outcomes] == [
        ("Звіт Мін’юсту.xlsx", ACCEPTED, True), ("лист.pdf", QUARANTINED, True)]
    assert list(p for p in workspace.inbox.rglob("*") if p.is_file()) == []

    data = ret_file.read_bytes()
    digest = sha(data)
    archived = workspace.root / f"archive/{digest[:2]}/{digest}.xlsx"
    assert archived.read_bytes() == data
    with Ledger(workspace.ledger_path) as ledger:
        (sub,) = ledger.latest_submissions("2024")
        assert (sub.executor, sub.original_name, sub.sha256, sub.status) == (
            "MINJUST", "Звіт Мін’юсту.xlsx", digest, ACCEPTED)
        assert sub.archive_path == f"archive/{digest[:2]}/{digest}.xlsx"
        assert ledger.values(sub.id) == intake.read_return(data, "Звіт Мін’юсту.xlsx", workspace.catalogue).values
        record = ledger.file(digest)
        assert (record.size, record.format) == (len(data), "xlsx")
        (bad,) = ledger.quarantined()
        assert (bad.original_name, bad.format, bad.submission_id) == ("лист.pdf", "pdf", None)
        assert [f.code for f in ledger.file_findings(bad.id)] == ["not-a-workbook"]
    kept = workspace.quarantine / f"{sha(NOT_A_WORKBOOK)}.pdf"
    assert kept.read_bytes() == NOT_A_WORKBOOK
    note = (workspace.quarantine / f"{kept.name}.txt").read_text(encoding="utf-8")
    assert "Файл: лист.pdf" in note and "Файл не є електронною таблицею" in note and "документ PDF" in note
    assert (workspace.root / f"archive/{sha(NOT_A_WORKBOOK)[:2]}/{sha(NOT_A_WORKBOOK)}.pdf").exists()


def test_same_bytes_twice_are_received_once_and_a_newer_return_supersedes(workspace, tmp_path):
    first = filled(workspace.catalogue, tmp_path, "v1.xlsx")
    drop(workspace, first, "v1.xlsx")
    inbox.run_intake(workspace)
    drop(workspace, first, "копія v1.xlsx")
    (again,) = inbox.run_intake(workspace)
    assert (again.state, again.label, again.moved, again.executor) == (inbox.ALREADY, "вже отримано", True, "MINJUST")
    second = filled(workspace.catalogue, tmp_path, "v2.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": 43}}}))
    drop(workspace, second, "v2.xlsx")
    (newer,) = inbox.run_intake(workspace)
    with Ledger(workspace.ledger_path) as ledger:
        history = ledger.submissions(executor="MINJUST")
        assert [s.original_name for s in history] == ["v1.xlsx", "v2.xlsx"]
        assert newer.superseded == history[0].id and history[0].superseded_by == history[1].id
        assert [s.sha256 for s in ledger.latest_submissions("2024")] == [sha(second.read_bytes())]
        assert len(ledger.files()) == 2


@pytest.mark.parametrize("workers", [0, 2])
def test_the_same_bytes_twice_in_one_run(workspace, tmp_path, workers):
    src = filled(workspace.catalogue, tmp_path, "r.xlsx")
    drop(workspace, src, "a.xlsx", mtime=1_700_000_000)
    drop(workspace, src, "b.xlsx", mtime=1_700_000_001)
    outcomes = inbox.run_intake(workspace, workers=workers)
    assert [(o.name, o.state, o.moved) for o in outcomes] == [("a.xlsx", ACCEPTED, True), ("b.xlsx", inbox.ALREADY, True)]
    assert outcomes[1].record == outcomes[0].record
    with Ledger(workspace.ledger_path) as ledger:
        assert [f.original_name for f in ledger.files()] == ["a.xlsx"]


def test_within_one_run_the_later_modified_file_is_the_newer_return(workspace, tmp_path):
    older = filled(workspace.catalogue, tmp_path, "a.xlsx")
    newer = filled(workspace.catalogue, tmp_path, "b.xlsx", merged(complete(), {"execution": {"T4.2.1": {"actual": 1}}}))
    drop(workspace, newer, "a-newer.xlsx", mtime=1_700_000_500)
    drop(workspace, older, "z-older.xlsx", mtime=1_700_000_000)
    outcomes = inbox.run_intake(workspace)
    assert [o.name for o in outcomes] == ["z-older.xlsx", "a-newer.xlsx"]
    with Ledger(workspace.ledger_path) as ledger:
        assert [s.original_name for s in ledger.latest_submissions("2024")] == ["a-newer.xlsx"]


def test_paths_outside_the_inbox_are_read_but_never_moved(workspace, tmp_path):
    outside = filled(workspace.catalogue, tmp_path, "elsewhere.xlsx")
    (outcome,) = inbox.run_intake(workspace, [outside])
    assert (outcome.state, outcome.moved) == (ACCEPTED, False) and outside.exists()


def test_editor_lock_files_and_hidden_files_are_left_alone(workspace, tmp_path):
    for name in (".gitkeep", "~$Звіт.xlsx", "Thumbs.db", ".~lock.Звіт.xlsx#"):
        (workspace.inbox / name).write_bytes(b"x")
    assert inbox.run_intake(workspace) == []
    assert len(list(workspace.inbox.iterdir())) == 4


def test_a_file_changed_after_it_was_read_stays_in_the_inbox(workspace, tmp_path, monkeypatch):
    path = drop(workspace, filled(workspace.catalogue, tmp_path, "r.xlsx"), "r.xlsx")
    record = Ledger.record

    def record_then_touch(self, *args, **kwargs):  # the clerk saves a new version meanwhile
        receipt = record(self, *args, **kwargs)
        with open(path, "ab") as fh:
            fh.write(b"\0")
        return receipt
    monkeypatch.setattr(Ledger, "record", record_then_touch)
    (outcome,) = inbox.run_intake(workspace, workers=0)
    assert (outcome.state, outcome.moved) == (ACCEPTED, False) and path.exists()


def test_a_missing_archive_copy_is_restored_from_the_same_bytes(workspace, tmp_path):
    src = filled(workspace.catalogue, tmp_path, "r.xlsx")
    drop(workspace, src, "r.xlsx")
    (first,) = inbox.run_intake(workspace)
    archived = workspace.root / first.record.archive_path
    archived.unlink()
    drop(workspace, src, "r (1).xlsx")
    (again,) = inbox.run_intake(workspace)
    assert again.state == inbox.ALREADY and archived.read_bytes() == src.read_bytes()


def test_a_file_that_crashes_the_reader_costs_only_that_file(workspace, tmp_path, monkeypatch):
    """python-calamine aborts the process on some hostile files: the reader process dies, intake goes on."""
    if inbox.START_METHOD != "fork":
        pytest.skip("the stand-in crash is installed in the parent and inherited through fork (Linux)")
    read = intake.read_return

    def crashing(source, name, catalogue, *args):
        if name == "crash.xlsx":
            os.kill(os.getpid(), signal.SIGKILL)
        return read(source, name, catalogue, *args)
    monkeypatch.setattr(intake, "read_return", crashing)
    good = filled(workspace.catalogue, tmp_path, "good.xlsx")
    other = filled(workspace.catalogue, tmp_path, "other.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": 7}}}))
    drop(workspace, good, "a.xlsx", mtime=1_700_000_000)
    drop(workspace, filled(workspace.catalogue, tmp_path, "c.xlsx", merged(complete(), {"proposals": {"P2": {"text": "x"}}})),
         "crash.xlsx", mtime=1_700_000_001)
    drop(workspace, other, "b.xlsx", mtime=1_700_000_002)
    outcomes = inbox.run_intake(workspace, workers=2)
    assert [(o.name, o.state) for o in outcomes] == [("a.xlsx", ACCEPTED), ("crash.xlsx", QUARANTINED),
                                                     ("b.xlsx", ACCEPTED)]
    assert [f.code for f in outcomes[1].findings] == ["reader-crashed"]
    assert list(workspace.inbox.iterdir()) == []


def test_reading_in_this_process_and_in_reader_processes_agree(workspace, tmp_path):
    from consolidate.workspace import init_workspace

    other = init_workspace(tmp_path / "ws2")
    files = [filled(workspace.catalogue, tmp_path, f"{n}.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": n}}}))
             for n in (1, 2, 3)] + [filled(workspace.catalogue, tmp_path, "bad.xlsx", merged(complete(), {
                 "execution": {"T2.2.1": {"actual": "багато"}}}))]
    for i, f in enumerate(files):
        drop(workspace, f, f.name, mtime=1_700_000_000 + i)
        drop(other, f, f.name, mtime=1_700_000_000 + i)
    pooled = inbox.run_intake(workspace, workers=2)
    local = inbox.run_intake(other, workers=0)
    assert [(o.name, o.state, o.findings) for o in pooled] == [(o.name, o.state, o.findings) for o in local]
    assert [o.state for o in local] == [ACCEPTED, ACCEPTED, ACCEPTED, ACCEPTED_ERRORS]


def test_readers_started_by_spawn_as_on_windows(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(inbox, "START_METHOD", "spawn")
    for n in (1, 2):
        drop(workspace, filled(workspace.catalogue, tmp_path, f"{n}.xlsx", merged(complete(), {
            "execution": {"T2.2.1": {"actual": n}}})), f"{n}.xlsx", mtime=1_700_000_000 + n)
    assert [o.state for o in inbox.run_intake(workspace, workers=2)] == [ACCEPTED, ACCEPTED]


def test_a_second_intake_at_the_same_time_is_refused(workspace, tmp_path, monkeypatch):
    drop(workspace, filled(workspace.catalogue, tmp_path, "r.xlsx"), "r.xlsx")
    monkeypatch.setattr(inbox, "LOCK_WAIT", 0.3)
    with inbox._Lock(workspace.root / inbox.LOCK_FILE):
        with pytest.raises(ConsolidateError, match="вже триває прийом"):
            inbox.run_intake(workspace)
    assert (workspace.inbox / "r.xlsx").exists()
    assert [o.state for o in inbox.run_intake(workspace)] == [ACCEPTED]


# ---------------------------------------------------------------------------------
# the commands
# ---------------------------------------------------------------------------------

def test_intake_command_summary_and_exit_codes(workspace, tmp_path):
    runner = CliRunner()
    drop(workspace, filled(workspace.catalogue, tmp_path, "good.xlsx"), "good.xlsx", mtime=1_700_000_000)
    res = runner.invoke(main, ["intake", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "без зауважень: good.xlsx → MINJUST, 2024" in res.output and "Усього 1 файл — без зауважень: 1." in res.output

    drop(workspace, filled(workspace.catalogue, tmp_path, "bad.xlsx", merged(complete(), {
        "funding": {"F.T4.2.SG.MINJUST": {"nil": None, "financed": 10, "cash": 12.5}}})), "bad.xlsx")
    (workspace.inbox / "лист.pdf").write_bytes(NOT_A_WORKBOOK)
    res = runner.invoke(main, ["intake", "-w", str(workspace.root)])
    assert res.exit_code == 1, res.output
    assert "з помилками: bad.xlsx → MINJUST, 2024 (1 помилка, 1 попередження); замінює звіт №1" in res.output
    assert "«I. Фінансування» H6: Касові видатки (12,5) більші за фактично профінансовані (10)" in res.output
    assert "відхилено (карантин): лист.pdf (1 помилка)" in res.output
    assert f"причини: {workspace.quarantine / sha(NOT_A_WORKBOOK)}.pdf.txt" in res.output

    res = runner.invoke(main, ["intake", "-w", str(workspace.root)])
    assert res.exit_code == 0 and "Нових файлів немає" in res.output
    res = runner.invoke(main, ["intake", "-w", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "не є робочою текою" in res.output


def test_intake_json_lists_every_finding(workspace, tmp_path):
    drop(workspace, filled(workspace.catalogue, tmp_path, "r.xlsx", merged(complete(), {
        "execution": {"T2.2.1": {"actual": "багато"}}})), "r.xlsx")
    res = CliRunner().invoke(main, ["intake", "--json", "-w", str(workspace.root)])
    assert res.exit_code == 1
    data = json.loads(res.output)
    (entry,) = data["files"]
    assert (entry["file"], entry["status"], entry["status_label"], entry["executor"], entry["moved_from_inbox"]) == (
        "r.xlsx", ACCEPTED_ERRORS, "з помилками", "MINJUST", True)
    assert entry["findings"] == [{
        "file": "r.xlsx", "severity": "error", "severity_label": "помилка", "code": "text-in-number",
        "message": "Очікується число, а в клітинці текст «багато»; значення не прийнято.",
        "sheet": "II. Виконання", "cell": "E7", "row_key": "T2.2.1", "found": "багато", "expected": "число", "detail": ""}]
    assert data["summary"] == {ACCEPTED_ERRORS: 1}


def test_history_command(workspace, tmp_path):
    runner = CliRunner()
    drop(workspace, filled(workspace.catalogue, tmp_path, "v1.xlsx"), "v1.xlsx")
    runner.invoke(main, ["intake", "-w", str(workspace.root)])
    drop(workspace, filled(workspace.catalogue, tmp_path, "v2.xlsx", merged(complete(), {
        "execution": {"T2.2.1": {"actual": 42.5}}})), "v2.xlsx")
    runner.invoke(main, ["intake", "-w", str(workspace.root)])
    res = runner.invoke(main, ["history", "Мін’юст", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "Історія звітів: Міністерство юстиції України (MINJUST)"
    assert "№1" in lines[1] and "без зауважень — замінено звітом №2" in lines[1]
    assert "№2" in lines[3] and "з попередженнями — чинний (1 попередження)" in lines[3]
    assert lines[2].strip().startswith("v1.xlsx → archive/")
    data = json.loads(runner.invoke(main, ["history", "MINJUST", "--json", "-w", str(workspace.root)]).output)
    assert [(f["original_name"], f["superseded_by"]) for f in data["files"]] == [("v1.xlsx", 2), ("v2.xlsx", None)]
    assert data["files"][1]["findings"][0]["code"] == "fractional-count"
    res = runner.invoke(main, ["history", "MVS", "-w", str(workspace.root)])
    assert "ще нічого не отримано" in res.output
    res = runner.invoke(main, ["history", "Нікому", "-w", str(workspace.root)])
    assert res.exit_code == 2 and "Невідомий виконавець «Нікому»" in res.output


def test_readers_that_retire_after_a_large_file_lose_no_job(workspace, tmp_path, monkeypatch):
    """A reader still much larger than it started after a file is replaced; the jobs sent to it go to the next."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the threshold is set in the parent and inherited through fork (Linux)")
    monkeypatch.setattr(inbox, "RETIRE_GROWTH_BYTES", -1 << 40)  # every reader retires after every file
    for n in range(4):
        drop(workspace, filled(workspace.catalogue, tmp_path, f"{n}.xlsx", merged(complete(), {
            "execution": {"T2.2.1": {"actual": n + 1}}})), f"{n}.xlsx", mtime=1_700_000_000 + n)
    outcomes = inbox.run_intake(workspace, workers=2)
    assert [(o.name, o.state) for o in outcomes] == [(f"{n}.xlsx", ACCEPTED) for n in range(4)]
    assert not [f for o in outcomes for f in o.findings if f.code == "reader-crashed"]
