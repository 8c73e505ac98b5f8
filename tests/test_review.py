"""Review workflow: slot states, approved-only report, nil reports, dry run, audited adjustments."""

from __future__ import annotations

import email
import hashlib
import json
from email import policy

import openpyxl
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate.cli import main
from consolidate.filler import fill_workbook
from consolidate.inbox import run_intake
from consolidate.ledger import Ledger
from consolidate.reconcile import reconcile_ledger
from consolidate.report import S2_ID_COL
from consolidate.review import (APPROVED, EXPECTED, RECEIVED, RESUBMITTED, RETURNED, slots_from_ledger)
from consolidate.template import build_workbook

from .intake_util import complete, merged

OP = ["--operator", "Іваненко"]


def _send(ws, executor, values, name):
    src = ws.root / f"t-{executor}.xlsx"
    src.write_bytes(build_workbook(ws.catalogue, executor, "2024", "x"))
    path = fill_workbook(src, ws.inbox / name, values)
    src.unlink()
    return path


def _slot(ws, code):
    with Ledger(ws.ledger_path) as ledger:
        return next(s for s in slots_from_ledger(ws.catalogue, ledger, "2024") if s.executor == code)


def _run(ws, *args):
    return CliRunner().invoke(main, [*args, "-w", str(ws.root)])


def test_slot_walks_through_every_state_and_only_approved_reach_report(workspace):
    ws = workspace
    assert _slot(ws, "MINJUST").state == EXPECTED
    bad = merged(complete(), {"execution": {"T2.2.1": {"actual": "багато"}}})
    _send(ws, "MINJUST", bad, "minjust.xlsx")
    run_intake(ws)
    assert _slot(ws, "MINJUST").state == RECEIVED

    # a report built now has nothing from MINJUST; a draft has it, marked on every sheet
    assert _run(ws, "report").exit_code == 0
    rows = CalamineWorkbook.from_path(str(ws.out / "report-2024.xlsx")).get_sheet_by_name("II. Виконання").to_python()
    t42 = next(r for r in rows if r[S2_ID_COL] == "T4.2.1")
    assert t42[4] == "не подано"
    res = _run(ws, "report", "--include-unapproved", "--out", str(ws.out / "draft.xlsx"))
    assert res.exit_code == 0, res.output
    wb = CalamineWorkbook.from_path(str(ws.out / "draft.xlsx"))
    for name in wb.sheet_names:
        assert str(wb.get_sheet_by_name(name).to_python()[0][0]).startswith("ЧЕРНЕТКА"), name
    draft_rows = wb.get_sheet_by_name("II. Виконання").to_python()
    assert next(r for r in draft_rows if r[S2_ID_COL] == "T4.2.1")[4] == 8000

    res = _run(ws, "review", "return", "MINJUST", *OP)
    assert res.exit_code != 0 and "comment" in res.output.lower()
    res = _run(ws, "review", "return", "MINJUST", "--comment", "Виправте кількість у T2.2.1", *OP)
    assert res.exit_code == 0, res.output
    slot = _slot(ws, "MINJUST")
    assert slot.state == RETURNED and slot.comment == "Виправте кількість у T2.2.1" and slot.decided_by == "Іваненко"
    [eml] = list((ws.out / "mail" / "2024").glob("return-MINJUST-*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    assert "Виправте кількість у T2.2.1" in body and "T2.2.1" in body
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "minjust.xlsx"

    _send(ws, "MINJUST", complete(), "minjust-виправлено.xlsx")
    run_intake(ws)
    assert _slot(ws, "MINJUST").state == RESUBMITTED
    res = _run(ws, "review", "accept", "MINJUST", *OP)
    assert res.exit_code == 0, res.output
    slot = _slot(ws, "MINJUST")
    assert slot.state == APPROVED and slot.approved.id == slot.latest.id
    assert _run(ws, "review", "accept", "MINJUST", *OP).exit_code != 0  # already approved
    assert _run(ws, "report").exit_code == 0
    rows = CalamineWorkbook.from_path(str(ws.out / "report-2024.xlsx")).get_sheet_by_name("II. Виконання").to_python()
    assert next(r for r in rows if r[S2_ID_COL] == "T2.2.1")[4] == 42
    assert not str(rows[0][0]).startswith("ЧЕРНЕТКА")
    listing = _run(ws, "review", "list")
    assert "MINJUST" in listing.output and "затверджено" in listing.output


def test_accepting_a_return_with_errors_needs_force(workspace):
    ws = workspace
    _send(ws, "MINJUST", merged(complete(), {"execution": {"T2.2.1": {"actual": "багато"}}}), "m.xlsx")
    run_intake(ws)
    res = _run(ws, "review", "accept", "MINJUST", *OP)
    assert res.exit_code != 0 and "помилки" in res.output
    assert _run(ws, "review", "accept", "MINJUST", "--force", *OP).exit_code == 0


def test_nil_report_is_not_a_missing_one(workspace):
    ws = workspace
    nil = {"funding": {key: {"nil": "так"} for key in ("F.T2.2.SG.MINJUST", "F.T4.2.SG.MINJUST")},
           "execution": {mid: {"status": "не здійснювалось"} for mid in ("T2.2", "T3.7", "T4.2", "T6.10")}}
    _send(ws, "MINJUST", nil, "nil.xlsx")
    [outcome] = run_intake(ws)
    assert not [f for f in outcome.findings if f.code == "missing-value"]
    assert _run(ws, "review", "accept", "MINJUST", *OP).exit_code == 0
    status = json.loads(_run(ws, "status", "--json").stdout)
    rows = {r["executor"]: r for r in status["executors"]}
    assert rows["MINJUST"]["state_label"].startswith("подано без")
    assert rows["DMS"]["state"] == "overdue" and rows["DMS"]["state_label"] == "прострочено"  # today is past the 2024 deadline
    assert _run(ws, "report").exit_code == 0
    wb = CalamineWorkbook.from_path(str(ws.out / "report-2024.xlsx"))
    ii = wb.get_sheet_by_name("II. Виконання").to_python()
    assert next(r for r in ii if r[S2_ID_COL] == "T4.2.1")[4] == "не здійснювалось"   # MINJUST alone
    assert next(r for r in ii if r[S2_ID_COL] == "T1.9.1")[4] == "не подано"          # DMS never reported
    i = wb.get_sheet_by_name("I. Фінансування").to_python()
    line = next(r for r in i if r[11] == "F.T4.2.SG.MINJUST")
    assert line[6] == "не здійснювалось"


def _tree_hash(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_dry_run_changes_nothing(workspace):
    ws = workspace
    _send(ws, "MINJUST", complete(), "first.xlsx")
    run_intake(ws)
    _send(ws, "MINJUST", merged(complete(), {"execution": {"T2.2.1": {"actual": 43}}}), "second.xlsx")
    (ws.inbox / "broken.xlsx").write_bytes(b"not a workbook")
    before = _tree_hash(ws.root)
    res = _run(ws, "intake", "--dry-run", "--json")
    assert _tree_hash(ws.root) == before
    assert res.exit_code == 1  # a file would be quarantined
    items = {i["file"]: i for i in json.loads(res.stdout)}
    assert items["second.xlsx"]["supersedes"] is not None and items["second.xlsx"]["executor"] == "MINJUST"
    assert items["broken.xlsx"]["state"] == "quarantined"
    res = _run(ws, "intake", "--dry-run")
    assert "Пробний прийом" in res.output and _tree_hash(ws.root) == before


def test_adjustment_bounds_audit_and_undo(workspace):
    ws = workspace
    values = {"NPU": {"T3.5": {"status": "виконано", "narrative": "Участь у 24 заходах."}, "T3.5.1": {"actual": 24}},
              "MVS": {"T3.5": {"status": "виконано", "narrative": "Участь у 20 заходах."}, "T3.5.1": {"actual": 20}}}
    for code, execution in values.items():
        _send(ws, code, {"execution": execution}, f"{code}.xlsx")
    run_intake(ws)
    assert _run(ws, "review", "accept", "NPU", "MVS", *OP).exit_code == 0
    res = _run(ws, "adjust", "T3.5.1", "50", "--reason", "разом", *OP)
    assert res.exit_code != 0 and "від 24" in res.output and "до 44" in res.output
    assert _run(ws, "adjust", "T3.5.1", "30", *OP).exit_code != 0  # a reason is mandatory
    res = _run(ws, "adjust", "T3.5.1", "30", "--reason", "6 заходів МВС окремі від НПУ", *OP)
    assert res.exit_code == 0, res.output
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, "2024")
    ir = next(r for r in rec.indicators if r.indicator.id == "T3.5.1")
    assert ir.value == 30 and ir.computed == 24 and ir.adjustment.operator == "Іваненко"
    assert _run(ws, "report").exit_code == 0
    wb = openpyxl.load_workbook(ws.out / "report-2024.xlsx", read_only=True)
    ii = [r for r in wb["II. Виконання"].iter_rows(values_only=True)]
    assert next(r for r in ii if r[S2_ID_COL] == "T3.5.1")[4] == 30
    checks = [r for r in wb["Звірка"].iter_rows(values_only=True)]
    adjusted = [r for r in checks if r[7] == "adjusted"]
    assert adjusted and "Іваненко" in adjusted[0][3] and "6 заходів МВС" in adjusted[0][3]
    res = _run(ws, "explain", "T3.5.1")
    assert "СКОРИГОВАНО ВРУЧНУ: 30" in res.output and "чинне" in res.output
    assert _run(ws, "adjust", "T3.5.1", "100", "--reason", "за даними ОГП", "--force", *OP).exit_code == 0
    assert _run(ws, "adjust", "T3.5.1", "--undo", *OP).exit_code == 0
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, "2024")
        trail = ledger.adjustments(period="2024", item="T3.5.1")
    assert next(r for r in rec.indicators if r.indicator.id == "T3.5.1").value == 24
    assert len(trail) == 2 and all(a.undone_at for a in trail) and trail[1].forced == 1
    res = _run(ws, "explain", "T3.5.1")
    assert "скасовано" in res.output and "СКОРИГОВАНО" not in res.output
    assert _run(ws, "adjust", "T3.5.1", "--undo", *OP).exit_code != 0  # nothing active to undo
