"""Reconciliation at national scale gives what the pairwise scans gave: hromadas writing about the same measures."""

from __future__ import annotations

import importlib.util
import json

import pytest

from consolidate import reconcile as R
from consolidate.model import CellValue, Submission
from consolidate.neardup import similar

from .conftest import ROOT

pytestmark = pytest.mark.slow  # scale

SHEETS = {"funding": "I. Фінансування", "execution": "II. Виконання", "proposals": "III. Пропозиції"}


def _bench():
    spec = importlib.util.spec_from_file_location("national_scale", ROOT / "benchmarks" / "national_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def national():
    """A synthetic programme of 120 executors (100 hromadas) and every executor's return, in memory."""
    bench = _bench()
    cat = bench.synthetic_catalogue(120)
    returns = []
    for n, code in enumerate(cat.expected_executors()):
        cells = [CellValue(key, fld, float(v) if isinstance(v, (int, float)) else None, str(v), SHEETS[kind], "E5")
                 for kind, rows in bench.executor_values(cat, code, n).items()
                 for key, cols in rows.items() for fld, v in cols.items()]
        returns.append((Submission(n + 1, code, "2024", f"{n:064x}", f"{n:04d}.xlsx", "2025-01-10T10:00:00+02:00",
                                   "accepted", "v"), cells))
    return cat, returns


def _scan(texts: list[str], *, query_short: bool = True) -> list[int | None]:
    """What the index replaced: every earlier kept text compared in order."""
    kept: list[int] = []
    out: list[int | None] = []
    for text in texts:
        found = None
        if query_short or len(text) >= R.MIN_PARAGRAPH:
            found = next((k for k in kept if similar(text, texts[k], R.NEAR_DUPLICATE, R.MIN_PARAGRAPH)), None)
        if found is None:
            kept.append(len(out))
        out.append(found)
    return out


def _view(cat, rec):
    return {"summary": json.dumps(R.summary_dict(cat, rec), sort_keys=True, default=str),
            "narratives": [m.narrative_text() for m in rec.measures], "twins": [m.twins for m in rec.measures],
            "proposals": rec.proposals, "conflicts": [R.conflict_dict(c) for c in rec.conflicts]}


def test_near_duplicate_index_gives_the_scan_result(national, monkeypatch):
    cat, returns = national
    fast = R.reconcile(cat, "2024", returns)
    kinds = {c.kind for c in fast.conflicts}
    assert "duplicate-paragraph" in kinds  # copied texts are in the data
    monkeypatch.setattr(R, "_near_duplicates", _scan)
    assert _view(cat, fast) == _view(cat, R.reconcile(cat, "2024", returns))


def test_find_is_the_scan(national):
    cat, returns = national
    rec = R.reconcile(cat, "2024", returns)

    def scan(item_id):
        for coll, attr in ((rec.indicators, "indicator"), (rec.funding, "line"), (rec.measures, "measure")):
            for r in coll:
                if getattr(r, attr).id == item_id:
                    return r
        return None

    ids = [i.id for i in cat.indicators] + [f.id for f in cat.funding] + [m.id for m in cat.measures] + ["NONE", "H0001"]
    for item_id in ids:
        assert rec.find(item_id) is scan(item_id)
    rec.indicators.pop()  # the index follows a changed result list
    assert rec.find(cat.indicators[-1].id) is None


def test_report_sheets_written_row_by_row_hold_what_in_memory_sheets_held(national, monkeypatch):
    import io

    import openpyxl

    from consolidate import report, xlsx_fast

    cat, returns = national
    rec = R.reconcile(cat, "2024", returns)

    def sheets(data: bytes) -> dict:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        def style(c):
            return (c.font.name, c.font.sz, c.font.b, c.font.color.rgb if c.font.color else None, c.fill.fgColor.rgb,
                    c.number_format, c.border.left.style, c.alignment.horizontal, c.alignment.vertical,
                    c.alignment.wrap_text)

        return {ws.title: ([[(c.value, style(c)) for c in row] for row in ws.iter_rows()],
                           {r: d.height for r, d in ws.row_dimensions.items() if d.height},
                           sorted(str(m) for m in ws.merged_cells.ranges),
                           ws.auto_filter.ref, ws.freeze_panes) for ws in wb.worksheets}

    if xlsx_fast._FAST is None:
        pytest.skip(f"no fast path on xlsxwriter {xlsx_fast.XLSXWRITER_VERSION}")
    monkeypatch.delenv(xlsx_fast.PUBLIC_API_ENV, raising=False)
    streamed = sheets(report.build_report(cat, rec, draft="ЧЕРНЕТКА"))
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "1")  # xlsxwriter's own worksheets, cells written one by one
    held = sheets(report.build_report(cat, rec, draft="ЧЕРНЕТКА"))
    assert streamed == held
    assert len(streamed[report.SHEET_SOURCES][0]) > 3000
