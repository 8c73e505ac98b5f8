"""Slips and outliers: errors that block acceptance until the clerk confirms each with a reason."""

from __future__ import annotations

import copy

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate.catalogue import load_catalogue
from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.filler import fill_workbook
from consolidate.inbox import run_intake
from consolidate.ledger import Ledger
from consolidate.model import CellValue, Submission
from consolidate.outliers import (AMOUNT_OVER_LAST_YEAR, AMOUNT_OVER_PLAN, COUNT_OVER_PLAN, PERCENT_IS_COUNT,
                                  THOUSANDS, Thresholds, find, previous_period)
from consolidate.reconcile import reconcile_ledger
from consolidate.report import S1_ID_COL
from consolidate.template import build_workbook

from .conftest import ROOT

OP = ["--operator", "Іваненко"]
SLIPPER, LINE = "UA-35", "F.T4.1.LOC.UA-35"   # Кіровоградська ОВА; «передбачено» 21,0 тис. грн


def _run(ws, *args):
    return CliRunner().invoke(main, [*args, "-w", str(ws.root)])


def _send(ws, executor, values, name):
    src = ws.root / f"t-{executor}.xlsx"
    src.write_bytes(build_workbook(ws.catalogue, executor, "2024", "x"))
    fill_workbook(src, ws.inbox / name, values)
    src.unlink()


def _plain(ws, sim, executor):
    """The executor's simulated answers without the seed's own outliers (e.g. 107 in a percent's cell)."""
    values = copy.deepcopy(sim.values[executor])
    t = Thresholds()
    for key, cols in values.get("execution", {}).items():
        ind = ws.catalogue.get(key)
        actual = cols.get("actual")
        if getattr(ind, "unit", "") and isinstance(actual, (int, float)) and (
                (ind.unit == "percent" and actual > t.percent_max)
                or (ind.unit == "count" and ind.planned and actual >= t.count_ratio * ind.planned)):
            cols["actual"] = ind.planned
            cols.pop("numerator", None)
            cols.pop("denominator", None)
    return values


def _rows(path, sheet):
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def test_hryvnias_typed_as_thousands_block_acceptance_until_confirmed_with_reason(workspace, sim):
    ws = workspace
    planned = ws.catalogue.get(LINE).planned
    right = sim.values[SLIPPER]["funding"][LINE]["financed"]
    slip = right * 1000
    values = _plain(ws, sim, SLIPPER)
    values["funding"][LINE]["financed"] = slip
    _send(ws, SLIPPER, values, "kirovohrad.xlsx")
    run_intake(ws)

    res = _run(ws, "review", "list")
    assert res.exit_code == 0 and f"затвердження блокують ймовірні помилки введення ({LINE}/financed)" in res.output
    # acceptance is refused, --force or not, and the message names the figure, the plan and how to confirm
    for extra in ([], ["--force"]):
        res = _run(ws, "review", "accept", SLIPPER, *OP, *extra)
        assert res.exit_code != 0
        assert f"{LINE}/financed" in res.output and "тисячах" in res.output, res.output
    res = _run(ws, "review", "accept", SLIPPER, *OP, "--confirm", f"{LINE}/financed")
    assert res.exit_code != 0 and "--reason" in res.output
    res = _run(ws, "review", "accept", SLIPPER, *OP, "--confirm", "F.НЕМАЄ/financed", "--reason", "так")
    assert res.exit_code != 0 and f"{LINE}/financed" in res.output

    # the approved report has nothing of it; the draft has it, marked, and lists it on «Звірка» as an error
    assert _run(ws, "report").exit_code == 0
    line_row = next(r for r in _rows(ws.out / "report-2024.xlsx", "I. Фінансування") if r[S1_ID_COL] == LINE)
    assert line_row[6] == "не подано"
    res = _run(ws, "report", "--include-unapproved", "--out", str(ws.out / "draft.xlsx"))
    assert res.exit_code == 0, res.output
    rows = _rows(ws.out / "draft.xlsx", "I. Фінансування")
    assert "непідтверджене значення" in rows[0][0]
    assert next(r for r in rows if r[S1_ID_COL] == LINE)[6] == slip
    checks = _rows(ws.out / "draft.xlsx", "Звірка")
    [row] = [r for r in checks if r[-1] == THOUSANDS]
    assert row[0] == "помилка" and row[2] == LINE and "Не підтверджено" in row[3]
    with Ledger(ws.ledger_path) as ledger:
        assert not ledger.confirmations()

    reason = "Перевірено з виконавцем телефоном: сума правильна"
    res = _run(ws, "review", "accept", SLIPPER, *OP, "--confirm", f"{LINE}/financed", "--reason", reason)
    assert res.exit_code == 0, res.output
    with Ledger(ws.ledger_path) as ledger:
        [c] = ledger.confirmations(executor=SLIPPER)
        rec = reconcile_ledger(ws.catalogue, ledger, "2024")
    assert (c.ref, c.code, c.value, c.operator, c.reason) == (f"{LINE}/financed", THOUSANDS, slip, "Іваненко", reason)
    assert not rec.unconfirmed
    [finding] = [k for k in rec.conflicts if k.kind == THOUSANDS]
    assert finding.severity == "warning" and "Іваненко" in finding.message and reason in finding.message
    assert f"{planned:g}".replace(".", ",") in finding.message
    assert _run(ws, "report").exit_code == 0
    [row] = [r for r in _rows(ws.out / "report-2024.xlsx", "Звірка") if r[-1] == THOUSANDS]
    assert reason in row[3] and "Іваненко" in row[3]


def test_a_corrected_file_lifts_the_block(workspace, sim):
    ws = workspace
    values = _plain(ws, sim, SLIPPER)
    good = values["funding"][LINE]["financed"]
    values["funding"][LINE]["financed"] = good * 1000
    _send(ws, SLIPPER, values, "first.xlsx")
    run_intake(ws)
    assert _run(ws, "review", "accept", SLIPPER, *OP).exit_code != 0
    _send(ws, SLIPPER, _plain(ws, sim, SLIPPER), "corrected.xlsx")
    run_intake(ws)
    res = _run(ws, "review", "accept", SLIPPER, *OP)
    assert res.exit_code == 0, res.output


def test_an_approved_report_refuses_an_unconfirmed_outlier(workspace, sim):
    """Approved under one threshold, an outlier under a stricter one: the report refuses, the draft marks it."""
    ws = workspace
    values = _plain(ws, sim, SLIPPER)
    planned = ws.catalogue.get(LINE).planned
    values["funding"][LINE]["financed"] = planned * 5
    _send(ws, SLIPPER, values, "five-times.xlsx")
    run_intake(ws)
    assert _run(ws, "review", "accept", SLIPPER, *OP).exit_code == 0
    config = ws.root / "consolidate.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("amount_ratio = 10", "amount_ratio = 4"),
                      encoding="utf-8")
    res = _run(ws, "report")
    assert res.exit_code != 0 and "не сформовано" in res.output and LINE in res.output, res.output
    assert not (ws.out / "report-2024.xlsx").exists()
    res = _run(ws, "report", "--include-unapproved")
    assert res.exit_code == 0, res.output
    rows = _rows(ws.out / "report-2024.xlsx", "I. Фінансування")
    assert "ЧЕРНЕТКА" in rows[0][0] and "непідтверджене значення" in rows[0][0]
    res = _run(ws, "report", "--format", "docx")
    assert res.exit_code != 0 and "не сформовано" in res.output


def test_confirm_command_records_each_with_its_own_reason(workspace, sim):
    ws = workspace
    values = _plain(ws, sim, SLIPPER)
    values["funding"][LINE]["financed"] *= 1000
    _send(ws, SLIPPER, values, "k.xlsx")
    run_intake(ws)
    res = _run(ws, "review", "confirm", SLIPPER, *OP, "--confirm", "I. Фінансування!G" + "0")
    assert res.exit_code != 0
    with Ledger(ws.ledger_path) as ledger:
        cell = next(v.cell for v in ledger.values(ledger.latest_submissions("2024")[0].id)
                    if v.key == LINE and v.field == "financed")
    res = _run(ws, "review", "confirm", SLIPPER, *OP, "--confirm", cell, "--reason", "Рішення сесії облради")
    assert res.exit_code == 0 and "Підтверджено" in res.output, res.output
    res = _run(ws, "review", "accept", SLIPPER, *OP)
    assert res.exit_code == 0, res.output


# ---- the checks themselves -----------------------------------------------------------------------------------

def _sub(executor="UA-35"):
    return Submission(1, executor, "2024", "0" * 64, "f.xlsx", "2025-01-10T10:00:00", "accepted", "1")


def _cv(key, fld, number, text="", sheet="II. Виконання", cell="E7"):
    return CellValue(key, fld, number, text or ("" if number is None else str(number)), sheet, cell)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT / "templates")


def test_each_kind_of_outlier(catalogue):
    t = Thresholds()
    line = catalogue.get(LINE)
    sub = _sub()
    codes = lambda values, previous=(): [(o.code, o.key, o.field) for o in find(catalogue, sub, values, t, previous)]  # noqa: E731
    assert codes([_cv(LINE, "financed", line.planned * 1000, sheet="I. Фінансування", cell="G9")]) == \
        [(THOUSANDS, LINE, "financed")]
    assert codes([_cv(LINE, "cash", line.planned * 10, sheet="I. Фінансування")]) == [(AMOUNT_OVER_PLAN, LINE, "cash")]
    assert codes([_cv(LINE, "financed", line.planned * 9.9, sheet="I. Фінансування")]) == []
    # a line without a plan is compared with the same line last year
    noplan = next(f for f in catalogue.funding if f.reported and not f.planned and not f.programme_amount)
    assert codes([_cv(noplan.id, "financed", 50.0)], [_cv(noplan.id, "financed", 4.0)]) == \
        [(AMOUNT_OVER_LAST_YEAR, noplan.id, "financed")]
    assert codes([_cv(noplan.id, "financed", 30.0)], [_cv(noplan.id, "financed", 4.0)]) == []
    # a count against its plan; a percent above 100 that the narrative counts as persons
    count = next(i for i in catalogue.indicators if i.unit == "count" and i.planned == 1)
    assert codes([_cv(count.id, "actual", 100.0)]) == [(COUNT_OVER_PLAN, count.id, "actual")]
    assert codes([_cv(count.id, "actual", 99.0)]) == []
    pct = catalogue.get("T2.14.2")
    [o] = find(catalogue, sub, [_cv("T2.14.2", "actual", 107.0),
                                _cv("T2.14", "narrative", None, "встановлено 107 осіб, яким надано статус")], t)
    assert o.code == PERCENT_IS_COUNT and "107 осіб" in o.message and pct.name in o.message
    assert codes([_cv("T2.14.2", "actual", 100.0)]) == []


def test_thresholds_come_from_the_workspace_settings():
    assert Thresholds.from_settings({"amount_ratio": 5, "count_ratio": 20}) == Thresholds(5.0, 1000.0, 20.0, 100.0)
    with pytest.raises(ConsolidateError, match="amount_ratio"):
        Thresholds.from_settings({"amount_ratio": "десять"})
    assert previous_period("2024") == "2023" and previous_period("2024-Q3") == "2023-Q3"


def test_last_years_line_comes_from_the_approved_return_a_year_earlier(workspace):
    """A line without a plan: compared with the same line of the executor's approved return for 2023."""
    from consolidate.model import ACCEPTED, Return
    from consolidate.review import outliers_of

    from .util import cell_values

    ws = workspace
    line = next(f for f in ws.catalogue.funding if f.reported and not f.planned and not f.programme_amount)
    with Ledger(ws.ledger_path) as ledger:
        subs = {}
        for period, financed, n in (("2023", 4.0, 1), ("2024", 52.0, 2)):
            ret = Return(file=f"{period}.xlsx", sha256=f"{n:064x}", executor=line.holder, period=period,
                         template_version=ws.catalogue.template_version, identified_by="meta",
                         values=cell_values({"funding": {line.id: {"financed": financed}}}))
            receipt = ledger.record(ret, status=ACCEPTED, original_name=ret.file, size=1,
                                    received_at=f"{int(period) + 1}-01-10T10:00:00",
                                    archive_path=f"archive/{ret.sha256}.xlsx", fmt="xlsx")
            subs[period] = ledger.submission(receipt.file.submission_id)
        assert outliers_of(ws.catalogue, ledger, subs["2024"]) == []  # 2023 not approved: nothing to compare with
        ledger.record_review(executor=line.holder, period="2023", submission_id=subs["2023"].id, decision="accept",
                             comment="", operator="Тест", decided_at="2024-01-11T10:00:00")
        [c] = outliers_of(ws.catalogue, ledger, subs["2024"])
    assert c.outlier.code == AMOUNT_OVER_LAST_YEAR and c.outlier.reference == 4.0 and "торік" in c.outlier.message
