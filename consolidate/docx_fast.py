"""python-docx's private parts, in one place: the docx report's table rows, merges, styles and XML elements.

consolidate/report_docx.py builds the report through python-docx's public API and asks this module for what that
API does not offer or does too slowly:

* :func:`element` — the WordprocessingML element under a paragraph, run, table, row or cell, for what
  python-docx has no property for (cell shading, header rows repeated on every page, rows kept on one page,
  cell margins, the page-number fields).  Fast path: the proxy's ``_element``.  Public path: ``Run.element``;
  a paragraph's ``paragraph_format.element``; a cell's first paragraph's parent; a row's and a table's
  found the same way upwards (lxml's ``getparent``).
* :func:`add_row` and :func:`merge_down` — a table row with horizontal spans, and a column of cells merged
  down.  Fast path: the row's ``w:tc`` elements written directly (``gridSpan``).  Public path:
  ``Table.add_row`` and ``_Cell.merge``.  Vertical merges set ``vMerge`` on the cells' elements on both paths
  (python-docx's ``_Cell.merge`` recurses once per row: a RecursionError beyond ~1,000 rows).
* :func:`set_style` — a paragraph's style by its id.  Fast path: ``w:pStyle`` set directly.  Public path:
  ``Paragraph.style`` by name (python-docx looks the name up among the styles each time).
* :class:`Parts` — a part's bytes (the font table's alternative font).  Fast path: the part's
  ``_blob``.  Public path: the saved document's zip rewritten with that part (:func:`finish`).

The fast path is used with the python-docx versions in :data:`FAST_VERSIONS` and while
``CONSOLIDATE_PUBLIC_API`` is unset (the same switch as :mod:`consolidate.xlsx_fast`); both give the same
document text, tables, merges and styles (tests/test_report_docx.py runs on both in .ci/run).  What the fast
path saves at 1,500 executors: docs/performance.md («Private fast paths»).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING, Any

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from .xlsx_fast import public_api_forced

if TYPE_CHECKING:
    from docx.table import _Cell as Cell
else:
    Cell = Any

FAST_VERSIONS = ((1, 1, 0), (1, 3, 0))  # [first, last): the versions the fast path is tested on


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in text.split(".")[:3])


DOCX_VERSION = _version(getattr(docx, "__version__", "0"))


def fast_path() -> bool:
    return FAST_VERSIONS[0] <= DOCX_VERSION < FAST_VERSIONS[1] and not public_api_forced()


def element(proxy):
    """The lxml element under a python-docx Paragraph, Run, Table, row or cell."""
    if fast_path():
        return proxy._element
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

    if isinstance(proxy, Run):
        return proxy.element
    if isinstance(proxy, Paragraph):
        return proxy.paragraph_format.element
    if isinstance(proxy, Table):
        raise TypeError("a table's element: table_element(doc, table)")
    if hasattr(proxy, "paragraphs"):  # a cell: the parent of its first paragraph
        return proxy.paragraphs[0].paragraph_format.element.getparent()
    if hasattr(proxy, "cells"):  # a row: the parent of its first cell
        return element(proxy.cells[0]).getparent()
    raise TypeError(f"no element for {type(proxy).__name__}")


def table_element(doc, table):
    """The ``w:tbl`` of a table just added to the document's body."""
    if fast_path():
        return table._tbl
    return [el for el in doc.element.body.iterchildren(qn("w:tbl"))][-1]


def set_style(paragraph, style_id: str, style_name: str):
    """A paragraph's style by id (the public path: by its name)."""
    if fast_path():
        paragraph._p.get_or_add_pPr().style = style_id
    else:
        paragraph.style = style_name
    return paragraph


def add_row(
    table, widths: list, spans: tuple[tuple[int, int], ...] = (), *, header: bool = False, cant_split: bool = False
) -> list[Cell]:
    """Append a row; ``spans``: (first grid column, columns) merged horizontally.  One cell per ``w:tc``."""
    if fast_path():
        from docx.table import _Cell

        tr = table.add_row()._tr
        tcs = list(tr.tc_lst)
        for start, n in sorted(spans, reverse=True):
            tcs[start].grid_span = n
            tcs[start].width = sum(widths[start : start + n])
            for tc in tcs[start + 1 : start + n]:
                tr.remove(tc)
        cells = [_Cell(tc, table) for tc in tr.tc_lst]
    else:
        row = table.add_row()
        grid = list(row.cells)
        for start, n in sorted(spans, reverse=True):
            merged = grid[start].merge(grid[start + n - 1])
            merged.width = sum(widths[start : start + n])  # python-docx sums the columns' rounded widths
        cells, seen = [], set()
        for cell in row.cells:  # a spanned cell appears once per grid column
            tc = element(cell)
            if id(tc) not in seen:
                seen.add(id(tc))
                cells.append(cell)
        tr = element(cells[0]).getparent()
    if header or cant_split:
        trpr = tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if header:
            trpr.append(OxmlElement("w:tblHeader"))
    return cells


def merge_down(cells: list[Cell]) -> None:
    """Merge a column of cells (same grid column and span) vertically; the first keeps the text."""
    if len(cells) < 2:
        return
    # not python-docx's _Cell.merge on the public path: it recurses once per row (RecursionError beyond ~1,000
    # rows: section I's task cells at 300 executors) and walks the whole table for every row
    tcs = [element(cell) for cell in cells]
    tcs[0].vMerge = "restart"
    for tc in tcs[1:]:
        tc.vMerge = "continue"


class Parts:
    """Parts whose bytes are replaced (:func:`replace_part`), applied by :meth:`finish` on the public path."""

    def __init__(self) -> None:
        self.pending: dict[str, bytes] = {}

    def replace(self, part, blob: bytes) -> None:
        if fast_path():
            part._blob = blob
        else:
            self.pending[str(part.partname).lstrip("/")] = blob

    def finish(self, data: bytes) -> bytes:
        """The saved document with the replaced parts (the public path rewrites its zip)."""
        if not self.pending:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info, self.pending.get(info.filename, src.read(info)))
        return out.getvalue()
