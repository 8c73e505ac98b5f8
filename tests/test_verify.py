"""consolidate verify: each kind of damage to the archive, the quarantine and the ledger is caught."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from consolidate import inbox
from consolidate.cli import main
from consolidate.verify import verify_workspace

from .intake_util import complete, filled, merged

NOT_A_WORKBOOK = b"%PDF-1.4 a scanned letter"


@pytest.fixture
def received(workspace, tmp_path):
    """A workspace after one intake: two accepted returns and one quarantined file."""
    cat = workspace.catalogue
    shutil.copyfile(filled(cat, tmp_path, "a.xlsx"), workspace.inbox / "a.xlsx")
    shutil.copyfile(filled(cat, tmp_path, "b.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": 7}}})),
                    workspace.inbox / "b.xlsx")
    (workspace.inbox / "лист.pdf").write_bytes(NOT_A_WORKBOOK)
    outcomes = inbox.run_intake(workspace, workers=0)
    assert len(outcomes) == 3
    return workspace, outcomes


def codes(ws) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in verify_workspace(ws).problems]


def verify_cli(ws, *args):
    return CliRunner().invoke(main, ["verify", "-w", str(ws.root), *args])


def test_a_workspace_after_intake_is_well(received):
    ws, _ = received
    result = verify_workspace(ws)
    assert result.ok and result.problems == []
    assert (result.ledger_files, result.quarantined, result.archive_files, result.quarantine_files, result.notes) == (
        3, 1, 3, 1, 1)
    res = verify_cli(ws)
    assert res.exit_code == 0, res.output
    assert "Усе гаразд" in res.output and "записів про файли — 3" in res.output


def test_an_empty_workspace_is_well_and_no_ledger_is_created(workspace):
    assert verify_workspace(workspace).ok
    assert not workspace.ledger_path.exists()


def test_a_deleted_archive_copy(received):
    ws, outcomes = received
    rel = outcomes[0].record.archive_path
    (ws.root / rel).unlink()
    assert codes(ws) == [("archive-missing", rel)]
    res = verify_cli(ws)
    assert res.exit_code == 1
    assert "Знайдено проблем: 1" in res.output and "немає архівної копії: " + rel in res.output
    assert "«a.xlsx»" in res.output


def test_a_flipped_byte_in_an_archive_copy(received):
    ws, outcomes = received
    rel = outcomes[1].record.archive_path
    path = ws.root / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert codes(ws) == [("archive-mismatch", rel)]
    assert "архівну копію змінено" in verify_cli(ws).output


def test_an_unknown_file_dropped_into_the_archive(received):
    ws, _ = received
    stranger = ws.archive / "ab" / "чужий.xlsx"
    stranger.parent.mkdir(parents=True, exist_ok=True)
    stranger.write_bytes(b"PK\x03\x04 not ours")
    assert codes(ws) == [("archive-unknown", "archive/ab/чужий.xlsx")]
    res = verify_cli(ws, "--json")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["ok"] is False and [p["code"] for p in data["problems"]] == ["archive-unknown"]
    assert "покладено вручну" in data["problems"][0]["message"]


def test_an_archived_file_of_an_interrupted_intake_points_at_the_inbox(received, tmp_path):
    """Killed after the archive copy and before the ledger: the file is still in the inbox."""
    ws, _ = received
    data = filled(ws.catalogue, tmp_path, "c.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": 9}}}))
    body = data.read_bytes()
    digest = __import__("hashlib").sha256(body).hexdigest()
    (ws.inbox / "c.xlsx").write_bytes(body)
    copy = ws.archive / digest[:2] / f"{digest}.xlsx"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(body)
    (ws.archive / digest[:2] / f".{digest}.xlsx.tmp").write_bytes(body[:100])
    problems = verify_workspace(ws).problems
    assert [p.code for p in problems] == ["temp-leftover", "archive-unknown"]
    assert "чекає в inbox/" in problems[1].message
    inbox.run_intake(ws, workers=0)  # the next intake records it and completes the archive
    (ws.archive / digest[:2] / f".{digest}.xlsx.tmp").unlink()
    assert verify_workspace(ws).ok


def test_a_deleted_quarantine_note_and_quarantined_copy(received):
    ws, outcomes = received
    bad = outcomes[2]
    kept = ws.quarantine / f"{bad.sha256}.{bad.record.format}"
    note = kept.with_name(kept.name + ".txt")
    note.unlink()
    assert codes(ws) == [("note-missing", f"quarantine/{kept.name}.txt")]
    res = verify_cli(ws)
    assert res.exit_code == 1 and "немає опису причин" in res.output
    note.write_text("Файл не прийнято", encoding="utf-8")
    kept.unlink()
    assert codes(ws) == [("quarantine-missing", f"quarantine/{kept.name}"),
                         ("note-orphan", f"quarantine/{kept.name}.txt")]


def test_a_changed_or_unknown_file_in_quarantine(received):
    ws, outcomes = received
    bad = outcomes[2]
    kept = ws.quarantine / f"{bad.sha256}.{bad.record.format}"
    kept.write_bytes(NOT_A_WORKBOOK + b"!")
    (ws.quarantine / "extra.xlsx").write_bytes(b"x")
    assert codes(ws) == [("quarantine-mismatch", f"quarantine/{kept.name}"),
                         ("quarantine-unknown", "quarantine/extra.xlsx")]


def test_a_ledger_row_pointing_outside_the_archive(received):
    ws, outcomes = received
    with sqlite3.connect(ws.ledger_path) as db:
        db.execute("UPDATE files SET archive_path = '../../etc/passwd' WHERE id = ?", (outcomes[0].record.id,))
    assert codes(ws) == [("archive-path", "../../etc/passwd"), ("archive-unknown", outcomes[0].record.archive_path)]


def test_a_damaged_ledger_is_reported(received):
    ws, _ = received
    with sqlite3.connect(ws.ledger_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(ws.ledger_path.read_bytes())
    raw[:16] = b"not a database!!"
    ws.ledger_path.write_bytes(bytes(raw))
    res = verify_cli(ws)
    assert res.exit_code == 2
    assert "Журнал" in res.output and "Traceback" not in res.output
