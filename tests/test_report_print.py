"""The xlsx report prints as the legal form: rendered through a real LibreOffice to PDF (and PNG) and checked.

Sections I and II have exactly the form's 9 and 7 printed columns, wrap, fit the page's width at a readable
size, repeat their header rows and number the pages; no cell's text is cut off (every word of every cell is
on the printed pages — the check fails on a report whose rows are too low, tested); a partial report (4 of 46
returns) stays short; the docx's appendix names files without breaking them; the executor's template prints
«III. Пропозиції» on one page.
"""

from __future__ import annotations

import dataclasses
import html
import io
import re
import subprocess
from collections import Counter

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from consolidate import office
from consolidate import report as R
from consolidate.reconcile import reconcile
from consolidate.report_docx import ANNEX_TITLE, build_docx
from consolidate.template import build_workbook

from .conftest import need_binary
from .util import make_returns

pytestmark = pytest.mark.slow
PARTIAL = ("NADS", "UA-07", "MINJUST", "NPU")  # 4 of 46 returns
WORD = re.compile(r"[^\W\d_]{3,}[’']?[^\W\d_]*")


def _pdf(tmp_path, name: str, data: bytes):
    need_binary("soffice")
    need_binary("pdftotext")
    src = tmp_path / name
    src.write_bytes(data)
    return office.convert(src, "pdf", tmp_path / "pdf", timeout=300)


def _pages(pdf) -> list[list[str]]:
    """The words of each page, as placed on it (pdftotext -bbox: no de-hyphenation, no reading order)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[html.unescape(w) for w in re.findall(r"<word [^>]*>([^<]*)</word>", page)]
            for page in out.split("<page ")[1:]]


def _section_pages(pages: list[list[str]]) -> dict[str, list[int]]:
    """Page numbers of section I, II and the rest (by the header each sheet repeats on every page)."""
    found: dict[str, list[int]] = {"I": [], "II": [], "other": []}
    for i, words in enumerate(pages, start=1):
        text = " ".join(words)
        if "Касові видатки" in text:
            found["I"].append(i)
        elif "Найменування показника" in text:
            found["II"].append(i)
        else:
            found["other"].append(i)
    return found


def _cut_off_words(data: bytes, pages: list[list[str]], section_pages: list[int]) -> dict[str, int]:
    """Words of the cells of sections I and II that are missing from their printed pages (count per word)."""
    printed = Counter(w for i in section_pages for w in pages[i - 1])
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    wanted: Counter = Counter()
    for sheet, columns in ((R.SECTION1, len(R.S1_HEADERS)), (R.SECTION2, len(R.S2_HEADERS))):
        for row in wb.get_sheet_by_name(sheet).to_python():
            for value in row[:columns]:
                if isinstance(value, str):
                    wanted.update(w for w in value.split() if WORD.fullmatch(w))
    return {w: n - printed[w] for w, n in wanted.items() if printed[w] < n}


@pytest.fixture(scope="module")
def full_rec(cat, sim):
    return reconcile(cat, "2024", make_returns({k: v for k, v in sim.values.items() if k != "MKIP"}))


@pytest.fixture(scope="module")
def partial_rec(cat, sim):
    return reconcile(cat, "2024", make_returns({k: sim.values[k] for k in PARTIAL}))


def test_the_form_settings(cat, full_rec):
    wb = openpyxl.load_workbook(io.BytesIO(R.build_report(cat, full_rec)))
    for sheet, n in ((R.SECTION1, 9), (R.SECTION2, 7)):
        ws = wb[sheet]
        hidden = {c for d in ws.column_dimensions.values() if d.hidden for c in range(d.min, d.max + 1)}
        visible = [c for c in range(1, ws.max_column + 1) if c not in hidden]
        assert len(visible) == n, sheet
        assert re.fullmatch(rf".*!\$A\$1:\${'ABCDEFGHI'[n - 1]}\$\d+", ws.print_area), ws.print_area
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1) \
            and ws.page_setup.fitToHeight in (0, "0")  # one page wide (1 is the default, omitted), any height
        assert ws.print_title_rows  # the header row repeats on every page
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
        widths = [ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width for c in visible]
        # A4 landscape less the margins is ~1045 px; a column of width w is ~7w + 5 px: scale ≥ 90 %
        assert sum(7 * w + 5 for w in widths) <= 1045 / 0.9, (sheet, widths)
        fonts = {ws.cell(r, c).font.sz for r in range(1, 60) for c in range(1, n + 1) if ws.cell(r, c).value}
        assert min(fonts) >= 8, fonts
        wraps = {ws.cell(r, c).alignment.wrap_text for r in range(9, 40) for c in range(1, n + 1)
                 if isinstance(ws.cell(r, c).value, str)}
        assert wraps == {True}, sheet


def test_rendered_report_has_no_cut_off_text(cat, full_rec, partial_rec, tmp_path, monkeypatch):
    data = R.build_report(cat, full_rec)
    pages = _pages(_pdf(tmp_path, "full.xlsx", data))
    sections = _section_pages(pages)
    assert _cut_off_words(data, pages, sections["I"] + sections["II"]) == {}
    full = {k: len(v) for k, v in sections.items()}

    partial = R.build_report(cat, partial_rec)
    ppdf = _pdf(tmp_path, "partial.xlsx", partial)
    ppages = _pages(ppdf)
    psections = _section_pages(ppages)
    assert _cut_off_words(partial, ppages, psections["I"] + psections["II"]) == {}
    # a partial report reads: a short marker per cell, who is missing said once (below section II)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(partial)).get_sheet_by_name(R.SECTION2).to_python()
    assert all(len(r[4]) <= 20 for r in rows[3:] if isinstance(r[4], str))
    notes = [r[0] for r in rows if str(r[0]).startswith(R.PARTIAL_MARK + " Неповні дані")]
    assert len(notes) == 1 and "42 з 46" in notes[0]
    part = {k: len(v) for k, v in psections.items()}
    assert part["II"] <= full["II"] and part["I"] <= full["I"]
    assert part["I"] + part["II"] <= 30  # measured: 6 + 21 (docs/report.md)
    print(f"\npages: full (45 of 46) {full}; partial (4 of 46) {part}")

    # the control: rows too low for their text are caught
    [png] = office.pdf_to_png(ppdf, tmp_path / "page", first_page=psections["II"][0], last_page=psections["II"][0])
    assert png.stat().st_size > 10_000  # section II's first page as a picture (what the clerk prints)
    monkeypatch.setattr(R, "_height", lambda *a, **k: 15.0)
    low = R.build_report(cat, partial_rec)
    lpages = _pages(_pdf(tmp_path, "low.xlsx", low))
    assert sum(_cut_off_words(low, lpages, [i for i in range(1, len(lpages) + 1)]).values()) > 100


def test_docx_appendix_optional_dates_and_unbroken_file_names(cat, partial_rec, tmp_path):
    rows = R.default_status_rows(cat, partial_rec)
    long = "Звіт 2024 — Мінцифри (MINTSYFRY).xlsx"
    rows = [dataclasses.replace(r, file=long, received="2025-01-22T09:05:00") if r.executor == "NPU" else r
            for r in rows]
    data = build_docx(cat, partial_rec, rows)
    pages = _pages(_pdf(tmp_path, "partial.docx", data))
    words = [w for p in pages for w in p]
    assert ANNEX_TITLE.split()[0] in words
    assert "(MINTSYFRY).xlsx" in words and "22" in words and "січня" in words
    assert not [w for w in words if w in ("xl", "sx", "xls", ".xlsx")]
    print(f"\ndocx → pdf, 4 of 46 returns: {len(pages)} pages")
    assert len(pages) <= 40  # measured: 34 (66 before one marker per cell)
    without = build_docx(cat, partial_rec, rows, appendix=False)
    wpages = _pages(_pdf(tmp_path, "no-appendix.docx", without))
    assert "(MINTSYFRY).xlsx" not in [w for p in wpages for w in p] and len(wpages) < len(pages)


def test_template_proposals_sheet_prints_on_one_page(cat, tmp_path):
    pages = _pages(_pdf(tmp_path, "template.xlsx", build_workbook(cat, "UA-07", "2024", "x")))
    start = next(i for i, words in enumerate(pages) if "Пропозиції" in words and "щодо" in words
                 and "III." in words)
    assert len(pages) - start == 1, [len(p) for p in pages[start:]]
