"""A quarantine a clerk can use: the list with original names and reasons; assign — the clerk's decision."""

from __future__ import annotations

import json

from click.testing import CliRunner

from consolidate import layout as L
from consolidate.cli import main
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED_WARNINGS, QUARANTINED
from consolidate.reconcile import reconcile_ledger

from .intake_util import EXECUTOR, complete, drop_properties, edit, filled


def _run(*args):
    return CliRunner().invoke(main, list(args), prog_name="consolidate")


def _old_template(ws, name: str):
    """MINJUST's filled return without service sheet, properties or title sheet (as an old template would be)."""
    made = ws.root / "made"
    made.mkdir(exist_ok=True)
    src = filled(ws.catalogue, made, "src.xlsx", complete())

    def strip(wb):
        wb.remove(wb[L.SHEET_TITLE])
        wb.remove(wb[L.SHEET_META])
        drop_properties(wb)
    return edit(src, strip, ws.inbox / name)


def test_quarantine_list_and_assign_read_as_the_executors_return(workspace):
    ws = workspace
    w = ["-w", str(ws.root)]
    _old_template(ws, "Звіт Мін'юсту (старий шаблон).xlsx")
    (ws.inbox / "лист.pdf").write_bytes(b"%PDF-1.4 not a workbook")
    assert _run("intake", *w).exit_code == 1

    listed = _run("quarantine", "list", *w)
    assert listed.exit_code == 1, listed.output
    assert "«Звіт Мін'юсту (старий шаблон).xlsx»" in listed.output and "«лист.pdf»" in listed.output
    assert "виконавець: не визначено" in listed.output and "не визначено виконавця" in listed.output
    data = json.loads(_run("quarantine", "list", "--json", *w).output)
    old = next(f for f in data["files"] if f["original_name"].startswith("Звіт"))
    assert old["reasons"][0]["code"] == "not-identified" and old["kept_as"].startswith("quarantine/")

    res = _run("quarantine", "assign", old["sha256"][:10], EXECUTOR, "--operator", "Петренко",
               "--reason", "надіслано з адреси Мін'юсту", *w)
    assert res.exit_code == 0, res.output
    assert "Прочитано як звіт №1: з попередженнями" in res.output
    assert "виконавця визначив працівник" in res.output
    with Ledger(ws.ledger_path) as ledger:
        rec = ledger.file(old["sha256"])
        assert rec.status == ACCEPTED_WARNINGS and rec.executor == EXECUTOR and rec.identified_by == "clerk"
        assert rec.submission_id == 1
        (file_id, executor, period, operator, reason, _, sub) = ledger.assignments(rec.id)[0]
        assert (executor, period, operator, reason, sub) == (EXECUTOR, "2024", "Петренко",
                                                             "надіслано з адреси Мін'юсту", 1)
        assert ledger.values(1)                                    # read as MINJUST's return: values kept
        rec_ = reconcile_ledger(ws.catalogue, ledger, "2024", include_unapproved=True)
        assert EXECUTOR in rec_.reported
        assert [f.status for f in ledger.quarantined()] == [QUARANTINED]   # the PDF stays
    assert not (ws.quarantine / f"{old['sha256']}.xlsx").exists()            # out of the quarantine
    assert (ws.root / rec.archive_path).is_file()                            # archived byte-identical still
    assert _run("verify", *w).exit_code == 0
    assert "Звіт Мін'юсту" not in _run("quarantine", "list", *w).output
    page = (ws.out / "status.html").read_text(encoding="utf-8")
    assert 'data-executor="MINJUST"' in page and "подано з попередженнями" in page

    pdf = next(f for f in data["files"] if f["original_name"] == "лист.pdf")
    again = _run("quarantine", "assign", "лист.pdf", "MON", "--operator", "Петренко", *w)
    assert again.exit_code == 1 and "лишається в карантині" in again.output
    assert "призначено MON за 2024" in _run("quarantine", "list", *w).output
    assert pdf["sha256"]


def test_assign_refuses_unknown_files_and_accepted_ones(workspace):
    ws = workspace
    w = ["-w", str(ws.root)]
    assert _run("intake", *w).exit_code == 0
    res = _run("quarantine", "assign", "deadbeef", EXECUTOR, "--operator", "Петренко", *w)
    assert res.exit_code == 2 and "У карантині немає файлу «deadbeef»" in res.output
    res = _run("quarantine", "assign", "deadbeef", "НІХТО", "--operator", "Петренко", *w)
    assert res.exit_code == 2 and "Невідомий виконавець «НІХТО»" in res.output
