"""Several reporting years in one workspace: new-year, a 2025 cycle, the 2024 report unchanged byte for byte."""

from __future__ import annotations

import pytest

import shutil

import openpyxl
from click.testing import CliRunner

from consolidate.catalogue import load_catalogue
from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.ledger import Ledger
from consolidate.workflows.catalogue import folder_digest
from consolidate.workspace import open_workspace

EXECUTORS = ("MINJUST", "UA-07", "MSP")


def run(*args, code=0):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (code if isinstance(code, tuple) else (code,)), res.output
    return res


def cycle(ws, period: str, n: int) -> None:
    """Templates for a few executors, filled, dropped into inbox/, received, accepted."""
    args = ["templates", "-w", ws.root, "--period", period]
    for e in EXECUTORS:
        args += ["-e", e]
    run(*args)
    cat = open_workspace(ws.root).catalogue_for(period)
    for i, e in enumerate(EXECUTORS):
        src = next((ws.out / "templates" / period).glob(f"*{e}*.xlsx"))
        fill_workbook(src, ws.inbox / f"{e}-{period}.xlsx", plausible_values(cat, e, n + i))
    res = CliRunner().invoke(main, ["intake", "-w", str(ws.root), "--period", period])
    assert res.exit_code in (0, 1), res.output
    run("review", "accept", *EXECUTORS, "-w", ws.root, "--period", period, "--force")


@pytest.mark.slow   # a whole cycle: in CI's run, not in the fast one
def test_new_year_then_a_2025_cycle_leaves_2024_reproducible(workspace, tmp_path):
    ws = workspace
    cycle(ws, "2024", 1)
    run("report", "-w", ws.root, "--period", "2024", "--format", "all", "--out", tmp_path / "r2024.xlsx",
        "--as-of", "2025-02-01")
    first = {ext: (tmp_path / f"r2024.{ext}").read_bytes() for ext in ("xlsx", "docx")}
    digest_2024 = folder_digest(ws.templates_dir)

    res = run("catalogue", "new-year", "2025", "-w", ws.root)
    assert "2025" in res.output
    c24, c25 = load_catalogue(ws.templates_dir), load_catalogue(ws.templates_dir / "2025")
    assert c25.programme.report_year == 2025 and c25.programme.deadline.year == c24.programme.deadline.year + 1
    assert [i.id for i in c25.indicators] == [i.id for i in c24.indicators]
    assert [f.id for f in c25.funding] == [f.id for f in c24.funding]
    assert list(c25.registry) == list(c24.registry)
    assert all(i.planned is None for i in c25.indicators) and all(f.planned is None for f in c25.funding)
    assert [f.programme_amount for f in c25.funding] == [f.programme_amount for f in c24.funding]
    run("catalogue", "new-year", "2025", "-w", ws.root, code=(1, 2))  # not twice
    res = run("catalogue", "check", "-w", ws.root, "-p", "2024")
    assert "звітний рік: 2024" in res.output and "звітні роки робочої теки: 2024, 2025" in res.output
    assert "звітний рік: 2025" in run("catalogue", "check", "-w", ws.root).output

    # plans for 2025 through the workbook; the 2024 catalogue is not touched
    book = tmp_path / "план-2025.xlsx"
    run("catalogue", "export", book, "-w", ws.root, "-p", "2025")
    wb = openpyxl.load_workbook(book)
    assert wb["Програма"]["B9"].value == 2025
    wb["Показники"]["E2"] = 3
    wb["Фінансування"]["G2"] = 12.5
    wb.save(book)
    run("catalogue", "import", book, "-w", ws.root)
    assert folder_digest(ws.templates_dir) == digest_2024
    c25 = load_catalogue(ws.templates_dir / "2025")
    assert c25.indicators[0].planned == 3 and c25.funding[0].planned == 12.5

    cycle(ws, "2025", 7)
    run("report", "-w", ws.root, "--period", "2025", "--format", "xlsx", "--out", tmp_path / "r2025.xlsx")
    # beside the legal form: 2025 against 2024 (the same IDs), on a sheet of its own
    from python_calamine import CalamineWorkbook
    book25 = CalamineWorkbook.from_path(str(tmp_path / "r2025.xlsx"))
    assert "Попередній рік" in book25.sheet_names
    rows = book25.get_sheet_by_name("Попередній рік").to_python()
    assert rows[0][4:6] == ["Факт, 2024", "Факт, 2025"]
    ind = next(i for m in c25.measures_for("MINJUST") for i in c25.indicators_of(m.id) if i.unit == "count"
               and c25.executors_of(m.id) == ["MINJUST"])
    line = next(r for r in rows if r[0] == ind.id)
    assert isinstance(line[4], float) and isinstance(line[5], float) and line[4] != line[5]
    assert line[6] == line[5] - line[4]
    assert "Попередній рік" not in CalamineWorkbook.from_path(str(tmp_path / "r2024.xlsx")).sheet_names
    run("status", "-w", ws.root, "--period", "2025", code=1)  # others outstanding
    run("status", "-w", ws.root, "--period", "2024", code=1)

    # The default is now 2025; the 2024 report regenerates byte for byte from the ledger.
    assert open_workspace(ws.root).catalogue.programme.report_year == 2025
    run("report", "-w", ws.root, "--period", "2024", "--format", "all", "--out", tmp_path / "again.xlsx",
        "--as-of", "2025-02-01")
    assert (tmp_path / "again.xlsx").read_bytes() == first["xlsx"]
    assert (tmp_path / "again.docx").read_bytes() == first["docx"]

    with Ledger(ws.ledger_path) as ledger:
        versions = ledger.catalogue_versions()
        issued = ledger.templates_issued()
        subs = {s.period: s.template_version for s in ledger.submissions()}
    assert {v[1] for v in versions} == {2024, 2025}
    assert {(t[1], t[2]) for t in issued} == {("2024", c24.template_version), ("2025", c25.template_version)}
    assert subs == {"2024": c24.template_version, "2025": c25.template_version}


def test_a_year_not_started_is_named(workspace):
    res = run("templates", "-w", workspace.root, "--period", "2026", code=(1, 2))
    assert "new-year 2026" in res.output
    res = run("catalogue", "new-year", "2023", "-w", workspace.root, code=(1, 2))
    assert "2024" in res.output


def test_intake_reads_each_return_with_its_own_years_catalogue(workspace):
    ws = workspace
    run("catalogue", "new-year", "2025", "-w", ws.root)
    for period in ("2024", "2025-Q1"):
        run("templates", "-w", ws.root, "-p", period, "-e", "MINJUST")
        cat = open_workspace(ws.root).catalogue_for(period)
        src = next((ws.out / "templates" / period).glob("*.xlsx"))
        fill_workbook(src, ws.inbox / f"MINJUST-{period}.xlsx", plausible_values(cat, "MINJUST", 2))
    res = CliRunner().invoke(main, ["intake", "-w", str(ws.root)])  # no --period: each file by its own year
    assert res.exit_code == 0, res.output
    with Ledger(ws.ledger_path) as ledger:
        got = {s.period: s.template_version for s in ledger.submissions("MINJUST")}
    assert got == {"2024": load_catalogue(ws.templates_dir).template_version,
                   "2025-Q1": load_catalogue(ws.templates_dir / "2025").template_version}
    assert not list(ws.quarantine.iterdir())
    # a catalogue read on its own (no other years attached) refuses another year, as before
    src = next((ws.out / "templates" / "2024").glob("*.xlsx"))
    from consolidate.intake import read_return
    ret = read_return(src.read_bytes(), "x.xlsx", load_catalogue(ws.templates_dir / "2025"))
    assert any(f.code == "wrong-period" for f in ret.findings)
