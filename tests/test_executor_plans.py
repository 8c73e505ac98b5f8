"""Plans per executor: an oblast sees its own target; a programme-level plan is labelled as such."""

from __future__ import annotations

import openpyxl
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate import layout as L
from consolidate.cli import main
from consolidate.template import write_templates
from consolidate.workspace import open_workspace


def planned_cell(path, key):
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(L.SHEET_EXECUTION).to_python()
    codes = [str(c) for c in rows[L.CODE_ROW - 1]]
    for r in rows[L.FIRST_DATA_ROW - 1:]:
        if r and r[0] == key:
            return r[codes.index("planned")]
    raise KeyError(key)


def templates(ws, tmp_path, name):
    cat = open_workspace(ws.root).catalogue
    files = write_templates(cat, tmp_path / name, "2024", "x", ["UA-21", "UA-07"])
    return {t.executor: t.path for t in files}


def test_programme_plan_is_labelled_and_own_plans_come_through_the_workbook(workspace, tmp_path):
    before = templates(workspace, tmp_path, "before")
    # today's case: 20000 is the programme's target for all regions, not Закарпатська ОВА's
    assert planned_cell(before["UA-21"], "T4.7.1") == "20000 (план на програму загалом)"

    book = tmp_path / "catalogue.xlsx"
    CliRunner().invoke(main, ["catalogue", "export", str(book), "-w", str(workspace.root)])
    wb = openpyxl.load_workbook(book)
    sheet = wb["Показники"]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "T4.7.1")
    plans_col = [c.value for c in sheet[1]].index("Плани виконавців") + 1
    sheet.cell(row, plans_col).value = "UA-21=850; UA-07=1 200"
    wb.save(book)
    res = CliRunner().invoke(main, ["catalogue", "import", str(book), "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output

    ind = open_workspace(workspace.root).catalogue.get("T4.7.1")
    assert ind.plans == (("UA-21", 850.0), ("UA-07", 1200.0)) and ind.planned == 20000
    after = templates(workspace, tmp_path, "after")
    assert planned_cell(after["UA-21"], "T4.7.1") == 850
    assert planned_cell(after["UA-07"], "T4.7.1") == 1200


def test_a_plan_for_an_executor_not_named_in_the_measure_is_refused(workspace, tmp_path):
    book = tmp_path / "catalogue.xlsx"
    CliRunner().invoke(main, ["catalogue", "export", str(book), "-w", str(workspace.root)])
    wb = openpyxl.load_workbook(book)
    sheet = wb["Показники"]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "T4.7.1")
    plans_col = [c.value for c in sheet[1]].index("Плани виконавців") + 1
    sheet.cell(row, plans_col).value = "MSP=5; UA-07=багато"
    wb.save(book)
    res = CliRunner().invoke(main, ["catalogue", "import", str(book), "-w", str(workspace.root)])
    assert res.exit_code == 2
    assert f"клітинка {openpyxl.utils.get_column_letter(plans_col)}{row}" in res.output and "UA-07=багато" in res.output
