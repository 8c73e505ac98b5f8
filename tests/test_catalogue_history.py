"""Catalogue changes against received data: orphaning changes refused, versions kept, older templates read."""

from __future__ import annotations

import openpyxl
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.ledger import Ledger
from consolidate.workflows.catalogue import folder_digest, import_catalogue
from consolidate.workspace import open_workspace

EXECUTOR = "MINJUST"


def run(*args, code=(0,)):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in code, res.output
    return res


def _received(ws, n=1):
    run("templates", "-w", ws.root, "-e", EXECUTOR)
    src = next((ws.out / "templates" / "2024").glob(f"*{EXECUTOR}*.xlsx"))
    kept = ws.root / "old-template.xlsx"
    kept.write_bytes(src.read_bytes())
    cat = open_workspace(ws.root).catalogue
    fill_workbook(src, ws.inbox / "return.xlsx", plausible_values(cat, EXECUTOR, n))
    run("intake", "-w", ws.root, code=(0, 1))
    return cat, kept


def _book(ws, tmp_path, edit):
    path = tmp_path / "catalogue.xlsx"
    run("catalogue", "export", path, "-w", ws.root)
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def _row(ws, item_id):
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == item_id)


def test_orphaning_changes_refused_nothing_changed(workspace, tmp_path):
    cat, _ = _received(workspace)
    line = cat.funding_for(EXECUTOR)[0]
    indicator = next(i for m in cat.measures_for(EXECUTOR) for i in cat.indicators_of(m.id) if i.unit == "count")

    def edit(wb):
        wb["Фінансування"].delete_rows(_row(wb["Фінансування"], line.id))
        sheet = wb["Показники"]
        sheet.cell(_row(sheet, indicator.id), 4).value = "thousand"
    before = folder_digest(workspace.templates_dir)
    r = import_catalogue(workspace, _book(workspace, tmp_path, edit))
    assert int(r.exit_code) == 2 and not r.changed
    assert any(p.sheet == "Фінансування" and f"ID «{line.id}» вилучено з каталогу, але за нього вже отримано дані "
               f"(1 звіт за 2024 рік)" in p.message for p in r.problems), r.problems
    assert any(p.sheet == "Показники" and indicator.id in p.message and "одиницю" in p.message for p in r.problems)
    assert folder_digest(workspace.templates_dir) == before
    res = run("catalogue", "import", tmp_path / "catalogue.xlsx", "-w", workspace.root, code=(2,))
    assert "знецінило б" in res.output


def test_a_free_change_is_a_new_version_and_older_templates_are_read_with_the_difference(workspace, tmp_path):
    cat, old_template = _received(workspace)
    indicator = next(i for m in cat.measures_for(EXECUTOR) for i in cat.indicators_of(m.id))

    def edit(wb):
        sheet = wb["Показники"]
        sheet.cell(_row(sheet, indicator.id), 5).value = 99
    r = import_catalogue(workspace, _book(workspace, tmp_path, edit))
    assert r.ok and r.changed, r.problems
    new = open_workspace(workspace.root).catalogue
    assert new.template_version != cat.template_version
    with Ledger(workspace.ledger_path) as ledger:
        assert [v[0] for v in ledger.catalogue_versions(2024)] == [cat.template_version, new.template_version]
        assert [t[2] for t in ledger.templates_issued(EXECUTOR, "2024")] == [cat.template_version]
    # the executor sends a correction on the template it has (the older version)
    fill_workbook(old_template, workspace.inbox / "correction.xlsx", plausible_values(cat, EXECUTOR, 5))
    res = run("intake", "-w", workspace.root, "--json", code=(0, 1))
    assert "stale-template" in res.output
    assert f"змінено: {indicator.id} (план)" in res.output
    with Ledger(workspace.ledger_path) as ledger:
        current = ledger.latest_submissions("2024")
    assert [s.template_version for s in current] == [cat.template_version]  # the version the return used
