"""reconcile / explain / report commands over a real ledger."""

from __future__ import annotations

import json

from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate.cli import main
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED, Return

from .util import cell_values


def _record(ws, executor, kinds, n):
    ret = Return(file=f"{executor}.xlsx", sha256=f"{n:064x}", executor=executor, period="2024",
                 template_version=ws.catalogue.template_version, values=cell_values(kinds), identified_by="meta")
    with Ledger(ws.ledger_path) as ledger:
        ledger.record(ret, status=ACCEPTED, original_name=ret.file, size=1, received_at="2025-01-10T10:00:00",
                      archive_path=f"archive/{ret.sha256}.xlsx", fmt="xlsx")


def test_reconcile_explain_report(workspace):
    _record(workspace, "DMS", {"execution": {"T1.9.1": {"actual": 3}}}, 1)
    _record(workspace, "MVS", {"execution": {"T1.9.1": {"actual": 2}}}, 2)
    _record(workspace, "MINJUST", {"funding": {"F.T2.2.SG.MINJUST": {"financed": 10.5, "cash": 9.0}}}, 3)
    run = CliRunner().invoke
    res = run(main, ["reconcile", "--json", "-w", str(workspace.root)])
    assert json.loads(res.output)["reported"] == []  # nothing approved yet: nothing feeds the report
    res = run(main, ["review", "accept", "DMS", "MVS", "MINJUST", "--operator", "Тест", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    res = run(main, ["reconcile", "--json", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    ind = next(i for i in data["indicators"] if i["id"] == "T1.9.1")
    assert ind["value"] == 3 and ind["rule"] == "lead"
    assert any(c["kind"] == "lead-mismatch" and c["item"] == "T1.9.1" for c in data["conflicts"])

    res = run(main, ["explain", "T1.9.1", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "ДМС: 3" in res.output and "МВС: 2" in res.output and "клітинка" in res.output
    res = run(main, ["explain", "F.T2.2.SG.MINJUST", "-w", str(workspace.root)])
    assert "профінансовано: 10,5; касові видатки: 9" in res.output
    res = run(main, ["explain", "NOPE", "-w", str(workspace.root)])
    assert res.exit_code == 2 and "Немає показника" in res.output

    res = run(main, ["report", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    path = workspace.out / "report-2024.xlsx"
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("I. Фінансування").to_python()
    line = next(r for r in rows if r[11] == "F.T2.2.SG.MINJUST")
    assert line[6] == 10.5 and line[7] == 9.0
    assert not list(workspace.out.glob(".*.tmp"))
