"""xlsxwriter's private parts, in one place: the fast paths of the templates and of the national report.

The rest of the package uses xlsxwriter's public API only (``xlsxwriter.Workbook``, its worksheets' ``write_*``,
``set_*``, ``merge_range`` …, ``xlsxwriter.utility``) and asks this module for its workbooks:

* :func:`template_workbook` — a workbook for a template.  Fast path: every formula and conditional-format
  criterion is rewritten by xlsxwriter (some thirty regular expressions, for functions newer than Excel 2010)
  once per process instead of once per use; every template carries the same few dozen.  **Same bytes** as
  xlsxwriter's own workbook (tests/test_templates.py, tests/test_scale_lookups.py compare them).
* :func:`report_workbook` and :func:`add_streamed_sheet` — the national report.  Fast path: the long sheets
  (section I, «Звірка», «Стан звітування», «Джерела») are written a whole row at a time straight to a
  temporary file (xlsxwriter's constant_memory mode for those sheets only).  Not the same bytes as the
  public path (the shared strings in another order); the same cells, formats, heights, merges and filters
  read back (tests/test_reconcile_scale.py).

Measured at 1,500 executors (docs/performance.md, «Private fast paths»): the formula cache saves ~2–3.5 s
of ~15 s of templates, the streamed sheets ~2.5–2.7 s of ~3.5 s of the report.  Other private shortcuts
measured there saved under 2 s each and were removed (the <sheetData> loop, the undecorated writers, the
shared strings without regular expressions, copied formats and reused styles.xml, the zip at level 1).

The fast path is used only with the xlsxwriter versions in :data:`FAST_VERSIONS` (those the suite passes on
with it) and only while the environment variable ``CONSOLIDATE_PUBLIC_API`` is unset (or empty, or 0).  On
any other version, or with that variable set, every workbook is xlsxwriter's own, written through its public
API; ``.ci/run`` runs the template and report tests that way too.  Nothing here changes xlsxwriter for anyone
else: no class or module attribute of xlsxwriter is replaced; the fast classes are subclasses used only for
the workbooks made here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

PUBLIC_API_ENV = "CONSOLIDATE_PUBLIC_API"
FAST_VERSIONS = ((3, 3, 0), (3, 4, 0))  # [first, last): the versions the fast path is tested on


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts)


XLSXWRITER_VERSION = _version(getattr(xlsxwriter, "__version__", "0"))


def _load_fast() -> dict[str, Any] | None:
    """The fast path's classes, or None on a version outside :data:`FAST_VERSIONS` (or if they do not load)."""
    if not FAST_VERSIONS[0] <= XLSXWRITER_VERSION < FAST_VERSIONS[1]:
        return None
    try:
        return _define_fast()
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - only on an untested xlsxwriter
        return None


def public_api_forced() -> bool:
    """``CONSOLIDATE_PUBLIC_API`` set (not empty, not 0): xlsxwriter's public API only."""
    return os.environ.get(PUBLIC_API_ENV, "").strip() not in ("", "0")


def _fast_now() -> dict[str, Any] | None:
    """The fast path's classes if the workbooks made now take it, else None."""
    return None if public_api_forced() else _FAST


def fast_path() -> bool:
    """Whether the workbooks made now take the fast path."""
    return _fast_now() is not None


def template_workbook(target, options: dict) -> xlsxwriter.Workbook:
    """A workbook for a template (same bytes on both paths)."""
    fast = _fast_now()
    if fast is not None:
        return fast["TemplateWorkbook"](target, options)
    return xlsxwriter.Workbook(target, options)


def report_workbook(target, options: dict) -> xlsxwriter.Workbook:
    """A workbook for the national report, whose long sheets come from :func:`add_streamed_sheet`."""
    fast = _fast_now()
    if fast is not None:
        return fast["ReportWorkbook"](target, options)
    return xlsxwriter.Workbook(target, options)


class Formula(NamedTuple):
    """A formula cell for ``put_rows``: the formula (with "=") and its computed value."""

    text: str
    value: float


def add_streamed_sheet(wb: xlsxwriter.Workbook, name: str, text: Callable[[Any], str] = str):
    """A worksheet of ``wb`` with two more methods, for sheets that grow with the number of executors:

    ``put_rows(first_row, rows) -> int`` writes whole rows from ``first_row`` down and returns the row after
    the last one.  ``rows``: (values, formats, height) from column A on — a value is text (always written as
    text, never as a formula or markup, through ``text(value)``), a number, a :class:`Formula`, or None / ""
    (a blank cell, written only with a format); a height as for ``set_row`` (None: the default).  Rows go
    strictly downwards, after anything written to the sheet before (the fast path writes them to its file
    at once; a row above one already written raises ValueError).

    ``merge_rows(first_row, first_col, last_row, last_col)`` merges a range whose cells ``put_rows`` writes
    (the value in the first cell, the format in all of them).

    Everything else is the worksheet's own API.
    """
    fast = _fast_now()
    if fast is not None and isinstance(wb, fast["ReportWorkbook"]):
        ws = wb.add_worksheet(name, worksheet_class=fast["StreamedSheet"])
        ws._text = text
        return ws
    return _HeldSheet(wb.add_worksheet(name), text)


class _HeldSheet:
    """The public path of :func:`add_streamed_sheet`: an ordinary worksheet, rows written cell by cell and
    held in memory until the workbook is closed."""

    def __init__(self, ws, text: Callable[[Any], str]):
        self._ws = ws
        self._text = text
        self._last_row = -1

    def __getattr__(self, name):
        return getattr(self._ws, name)

    def merge_rows(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        self._ws.merge_range(first_row, first_col, last_row, last_col, "", None)

    def put_rows(self, first_row: int, rows: Iterable) -> int:
        if first_row <= self._last_row:
            raise ValueError(f"row {first_row} of a streamed sheet written after row {self._last_row}")
        ws, text = self._ws, self._text
        row = first_row
        for values, formats, height in rows:
            for col, value in enumerate(values):
                fmt = formats[col]
                kind = value.__class__
                if value is None or (kind is str and not value):
                    ws.write_blank(row, col, None, fmt)
                elif kind is str:
                    ws.write_string(row, col, text(value), fmt)
                elif kind is Formula:
                    ws.write_formula(row, col, value.text, fmt, value.value)
                elif isinstance(value, (int, float)) and kind is not bool:
                    ws.write_number(row, col, value, fmt)
                else:
                    raise TypeError(
                        f"cell {xl_col_to_name(col)}{row + 1}: {kind.__name__} is not text, a number or a formula"
                    )
            if height is not None:
                ws.set_row(row, height)
            row += 1
        self._last_row = row - 1
        return row


def _define_fast() -> dict[str, Any]:
    """The fast path's subclasses of xlsxwriter's internals (defined only on a version they were tested on)."""
    from xlsxwriter.worksheet import Worksheet

    class TemplateSheet(Worksheet):
        """xlsxwriter's worksheet; a formula is rewritten once per process (the result depends on the
        formula and two flags only)."""

        _prepared: dict[tuple[str, bool, bool], str] = {}

        def _prepare_formula(self, formula, expand_future_functions=False):
            key = (formula, bool(expand_future_functions), bool(getattr(self, "use_future_functions", False)))
            prepared = self._prepared.get(key)
            if prepared is None:
                if len(self._prepared) >= 4096:  # bounded: the templates' formulas are a fixed few dozen
                    self._prepared.clear()
                prepared = self._prepared[key] = super()._prepare_formula(formula, expand_future_functions)
            return prepared

    class TemplateWorkbook(xlsxwriter.Workbook):
        worksheet_class = TemplateSheet

    columns = [xl_col_to_name(c) for c in range(64)]

    class StreamedSheet(Worksheet):
        """A worksheet whose rows go to a temporary file as they are written (xlsxwriter's constant_memory
        mode, for this sheet only), whole rows at a time (``put_rows``, see :func:`add_streamed_sheet`).

        At national scale these sheets hold hundreds of thousands of cells, and xlsxwriter's per-cell
        bookkeeping (a cell object, a dimension check, an escaped in-line string) was most of the report's
        time.  Here a row is one piece of XML, and its text goes to the workbook's shared strings as in
        xlsxwriter's normal mode: a file name or a checksum repeated on every row of an executor is stored
        once.  The cells read back as those of the public path (tests/test_reconcile_scale.py).
        """

        _text: Callable[[Any], str] = str
        previous_row: int  # xlsxwriter's, set by Worksheet.__init__

        def _initialize(self, init_data):
            super()._initialize({**init_data, "constant_memory": True})
            self._shared: dict = {}  # value → its index in the workbook's shared strings
            self._styles: dict = {}  # format → its ' s="…"' attribute

        def _style(self, fmt) -> str:
            style = self._styles.get(fmt)
            if style is None:
                style = self._styles[fmt] = f' s="{fmt._get_xf_index()}"' if fmt else ""
            return style

        def _new_shared(self, value: str) -> int:
            """A text not seen before on this sheet: into the shared strings (which count this use)."""
            index = self._shared[value] = self.str_table._get_shared_string_index(self._text(value))
            return index

        def merge_rows(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
            self.merge.append([first_row, first_col, last_row, last_col])

        def put_rows(self, first_row: int, rows) -> int:
            if first_row < self.previous_row or (
                first_row == self.previous_row and (self.table.get(first_row) or first_row in self.row_info)
            ):
                raise ValueError(f"row {first_row} of a streamed sheet written after row {self.previous_row}")
            if self._check_dimensions(first_row, 0):
                raise ValueError(f"row {first_row} is outside the worksheet")
            self._write_single_row(first_row)  # what xlsxwriter still holds goes first
            sst = self.str_table
            get = self._shared.get
            templates: dict[int, tuple[object, str]] = {}  # id(formats) → (formats, a row of text cells in them)
            out: list[str] = []
            hits, r, last_col = 0, first_row, 0  # hits: text cells written (each a use of a shared string)
            known_before = len(self._shared)
            for values, formats, height in rows:
                r += 1  # the row's number in A1 notation
                if height is None and len(values) == len(formats) and all(v.__class__ is str and v for v in values):
                    # the common row, e.g. every row of «Джерела»: text only, one template for the row
                    known = templates.get(id(formats))
                    if known is None or known[0] is not formats:
                        row_cells = "".join(
                            f'<c r="{columns[c]}{{0}}"{self._style(f)} t="s"><v>{{{c + 1}}}</v></c>'
                            for c, f in enumerate(formats)
                        )
                        known = templates[id(formats)] = (formats, f'<row r="{{0}}">{row_cells}</row>')
                    hits += len(values)
                    indices = [i if (i := get(v)) is not None else self._new_shared(v) for v in values]
                    out.append(known[1].format(r, *indices))
                    if len(values) - 1 > last_col:
                        last_col = len(values) - 1
                    if len(out) == 1024:
                        self.fh.write("".join(out))
                        out.clear()
                    continue
                tag = f'<row r="{r}">'
                if height is not None:
                    px = int(height * 4.0 / 3.0 + 0.5)
                    if px != self.original_row_height or px != self.default_row_height:
                        tag = f'<row r="{r}" ht="{px * 0.75:.16g}" customHeight="1">'
                cells = [tag]
                for col, value in enumerate(values):
                    fmt = formats[col]
                    style = self._style(fmt)
                    kind = value.__class__
                    if kind is str and value:
                        index = get(value)
                        if index is None:
                            index = self._new_shared(value)
                        hits += 1
                        cells.append(f'<c r="{columns[col]}{r}"{style} t="s"><v>{index}</v></c>')
                    elif value is None or kind is str:
                        if style:
                            cells.append(f'<c r="{columns[col]}{r}"{style}/>')
                        else:
                            continue
                    elif kind is Formula:
                        text = self._escape_data(value.text.removeprefix("="))
                        cells.append(f'<c r="{columns[col]}{r}"{style}><f>{text}</f><v>{value.value}</v></c>')
                    elif isinstance(value, (int, float)) and kind is not bool:
                        cells.append(f'<c r="{columns[col]}{r}"{style}><v>{value:.16G}</v></c>')
                    else:
                        raise TypeError(f"cell {columns[col]}{r}: {kind.__name__} is not text, a number or a formula")
                    if col > last_col:
                        last_col = col
                cells.append("</row>")
                out.append("".join(cells))
                if len(out) == 1024:
                    self.fh.write("".join(out))
                    out.clear()
            self.fh.write("".join(out))
            sst.count += hits - (len(self._shared) - known_before)  # the new ones were counted when added
            if r > first_row:
                self._check_dimensions(r - 1, last_col)
                self.previous_row = r - 1
            return r

    class ReportWorkbook(xlsxwriter.Workbook):
        """The report's workbook (xlsxwriter's own; the type tells :func:`add_streamed_sheet` to stream)."""

    return {
        "TemplateSheet": TemplateSheet,
        "TemplateWorkbook": TemplateWorkbook,
        "StreamedSheet": StreamedSheet,
        "ReportWorkbook": ReportWorkbook,
    }


_FAST = _load_fast()
