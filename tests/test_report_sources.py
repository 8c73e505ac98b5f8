"""Section I's subtotal rows only for the funding sources a programme has lines of (xlsx and docx).

The second programme (tests/second_programme.py) has oblast-budget and other lines and no state-budget ones: its
blocks are «Усього», «– місцевий бюджет», «– інші».  The bundled 2024 programme has state-budget lines of the
general fund only: it keeps the form's whole state-budget block (the budget, its general and special funds).
"""

from __future__ import annotations

import io
import re

import docx
import openpyxl
import pytest

from consolidate.filler import plausible_values
from consolidate.reconcile import SUBTOTAL_KINDS, SUBTOTAL_LABELS, reconcile, subtotal_kinds
from consolidate.report import SECTION1, build_report
from consolidate.report_docx import build_docx

from .conftest import need_binary
from .second_programme import YEAR, catalogue
from .util import make_returns

STATE_WORDS = ("державний бюджет", "загальний фонд", "спеціальний фонд")


@pytest.fixture(scope="module")
def second():
    cat = catalogue()
    values = {code: plausible_values(cat, code, n) for n, code in enumerate(cat.expected_executors())}
    rec = reconcile(cat, str(YEAR), make_returns(values, str(YEAR)))
    return cat, rec, build_report(cat, rec)


def test_subtotal_kinds_follow_the_sources():
    assert subtotal_kinds(["local", "other", "local"]) == ("total", "local", "other")
    assert subtotal_kinds(["state_general", "other"]) == ("total", "state", "state_general", "state_special", "other")
    assert subtotal_kinds(["state_special"]) == ("total", "state", "state_general", "state_special")
    assert subtotal_kinds(["local", "none"]) == ("total", "local")
    assert subtotal_kinds([]) == ("total",)
    assert subtotal_kinds(["state_general", "state_special", "local", "other"]) == SUBTOTAL_KINDS


def _blocks(ws) -> dict[str, list[tuple[int, str]]]:
    """Each subtotal block of section I: its label → [(row, the row's kind label)]."""
    rows = list(ws.iter_rows(values_only=True))
    starts = [i for i, r in enumerate(rows) if str(r[0] or "").startswith("Разом ")]
    out = {}
    for start in starts:
        block = []
        for i in range(start, len(rows)):
            if i > start and (rows[i][0] or str(rows[i][2] or "") not in SUBTOTAL_LABELS.values()):
                break
            block.append((i + 1, rows[i][2]))
        out[rows[start][0]] = block
    return out


def test_no_state_budget_subtotals_for_a_programme_without_state_budget_lines(second):
    cat, rec, data = second
    assert {f.source for f in cat.funding} == {"local", "other"}
    assert rec.subtotal_kinds == ("total", "local", "other")
    assert {s.kind for s in rec.subtotals} == {"total", "local", "other"}
    assert rec.subtotal(None, "state") is None

    formulas = openpyxl.load_workbook(io.BytesIO(data))[SECTION1]
    cached = openpyxl.load_workbook(io.BytesIO(data), data_only=True)[SECTION1]
    sheet_text = "\n".join(str(c) for r in cached.iter_rows(values_only=True) for c in r if c is not None).lower()
    assert not [w for w in STATE_WORDS if w in sheet_text]
    blocks = _blocks(cached)
    tasks = [t for t in cat.tasks if cat.measures_of_task(t.id) and any(cat.funding_of(m.id) for m in
                                                                          cat.measures_of_task(t.id))]
    assert len(blocks) == len(tasks) + 1 and "Разом по Програмі" in blocks
    for label, block in blocks.items():
        assert [kind for _, kind in block] == ["Усього", "– місцевий бюджет", "– інші"], label
        (total_row, _), (local_row, _), (other_row, _) = block
        for col in "EFGH":   # programme amount, planned, financed, cash
            assert formulas[f"{col}{total_row}"].value == f"={col}{local_row}+{col}{other_row}", (label, col)
            assert formulas[f"{col}{local_row}"].value.startswith("=SUMIFS(")
            assert cached[f"{col}{total_row}"].value == pytest.approx(
                cached[f"{col}{local_row}"].value + cached[f"{col}{other_row}"].value)
        task = None if label == "Разом по Програмі" else f"Z{label.split()[-1]}"
        total = rec.subtotal(task, "total")
        assert cached[f"E{total_row}"].value == pytest.approx(total.programme_amount)
        assert cached[f"H{total_row}"].value == pytest.approx(total.cash)
    assert rec.subtotal(None, "total").programme_amount == pytest.approx(
        sum(f.programme_amount or 0 for f in cat.funding))

    document = docx.Document(io.BytesIO(build_docx(cat, rec)))
    rows = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    text = "\n".join(c for r in rows for c in r).lower()
    assert not [w for w in STATE_WORDS if w in text]
    kinds = [r[2] for r in rows if len(r) > 2 and r[2] in SUBTOTAL_LABELS.values()]
    assert kinds == ["Усього", "– місцевий бюджет", "– інші"] * (len(tasks) + 1)


def test_the_bundled_programme_keeps_the_whole_state_budget_block(cat, sim):
    assert "state_special" not in {f.source for f in cat.funding}  # general fund only, as the 2024 report
    rec = reconcile(cat, "2024", make_returns(sim.values))
    assert rec.subtotal_kinds == SUBTOTAL_KINDS
    blocks = _blocks(openpyxl.load_workbook(io.BytesIO(build_report(cat, rec)), data_only=True)[SECTION1])
    assert blocks and all([k for _, k in b] == [SUBTOTAL_LABELS[k] for k in SUBTOTAL_KINDS] for b in blocks.values())
    assert rec.subtotal(None, "state_special").programme_amount == 0


@pytest.mark.slow  # LibreOffice
def test_libreoffice_computes_the_subtotals_the_report_caches(second, tmp_path):
    """The subtotal formulas of a programme without state-budget lines, recalculated by LibreOffice, give the
    values the report caches."""
    need_binary("soffice")
    from consolidate import office

    _, _, data = second
    src = tmp_path / "report.xlsx"
    src.write_bytes(data)
    back = office.convert(src, "xlsx", tmp_path / "recalc", recalc=True)
    ours = openpyxl.load_workbook(src, data_only=True)[SECTION1]
    theirs = openpyxl.load_workbook(back, data_only=True)[SECTION1]
    formulas = openpyxl.load_workbook(src)[SECTION1]
    compared = 0
    for row in formulas.iter_rows():
        for c in row:
            if isinstance(c.value, str) and re.match(r"=(SUMIFS\(|[A-Z]+\d+\+)", c.value):
                assert theirs[c.coordinate].value == pytest.approx(ours[c.coordinate].value), c.coordinate
                compared += 1
    assert compared == 4 * 3 * len(_blocks(ours))
