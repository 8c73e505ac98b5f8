"""xlsxwriter's private parts, in one place: the fast paths of the templates and of the national report.

The rest of the package uses xlsxwriter's public API only (``xlsxwriter.Workbook``, its worksheets' ``write_*``,
``set_*``, ``merge_range`` …, ``xlsxwriter.utility``) and asks this module for its workbooks:

* :func:`template_workbook` — a workbook for a template.  Fast path: formulas rewritten once per process, the
  ``<sheetData>`` rows and the shared strings written without xlsxwriter's per-cell generic path, formats
  copied from prototypes, styles.xml reused.  **Same bytes** as xlsxwriter's own workbook
  (tests/test_templates.py compares them).
* :func:`report_workbook` and :func:`add_streamed_sheet` — the national report.  Fast path: the long sheets
  (section I, «Звірка», «Стан звітування», «Джерела») are written a whole row at a time straight to a
  temporary file (xlsxwriter's constant_memory mode for those sheets only), shared strings without the
  per-string regular expressions, the zip deflated at level 1.  Not the same bytes as the public path
  (another compression level, another order of the shared strings); the same cells, formats, heights,
  merges and filters read back (tests/test_reconcile_scale.py).

The fast path is used only with the xlsxwriter versions in :data:`FAST_VERSIONS` (the versions the suite
passes on with it; pyproject pins the versions the suite passes on at all) and only while the environment
variable ``CONSOLIDATE_PUBLIC_API`` is not set to a non-empty value other than ``0``.  On any other
version, or with that variable set, every workbook is xlsxwriter's own, written through its public API;
``.ci/run`` runs the template and report tests that way too.  What each fast path saves at 1,500 executors
is in docs/performance.md («Private fast paths»).

Nothing here changes xlsxwriter for anyone else: no class or module attribute of xlsxwriter is replaced;
the fast classes are subclasses used only for the workbooks made here.
"""

from __future__ import annotations

import copy
import os
import re
import zipfile
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


def fast_path() -> bool:
    """Whether the workbooks made now take the fast path."""
    return _FAST is not None and not public_api_forced()


def template_workbook(target, options: dict) -> xlsxwriter.Workbook:
    """A workbook for a template (same bytes on both paths)."""
    if fast_path():
        return _FAST["TemplateWorkbook"](target, options)
    return xlsxwriter.Workbook(target, options)


def report_workbook(target, options: dict) -> xlsxwriter.Workbook:
    """A workbook for the national report, whose long sheets come from :func:`add_streamed_sheet`."""
    if fast_path():
        return _FAST["ReportWorkbook"](target, options)
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
    if fast_path() and isinstance(wb, _FAST["ReportWorkbook"]):
        ws = wb.add_worksheet(name, worksheet_class=_FAST["StreamedSheet"])
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
                    raise TypeError(f"cell {xl_col_to_name(col)}{row + 1}: {kind.__name__} is not text, a number "
                                    f"or a formula")
            if height is not None:
                ws.set_row(row, height)
            row += 1
        self._last_row = row - 1
        return row


def _define_fast() -> dict[str, Any]:
    """The fast path's subclasses of xlsxwriter's internals (defined only on a version they were tested on)."""
    from xlsxwriter.format import Format
    from xlsxwriter.packager import Packager
    from xlsxwriter.sharedstrings import SharedStrings
    from xlsxwriter.worksheet import CellBlankTuple as _BLANK
    from xlsxwriter.worksheet import CellNumberTuple as _NUMBER
    from xlsxwriter.worksheet import CellStringTuple as _STRING
    from xlsxwriter.worksheet import Worksheet

    col_names: dict[int, str] = {}

    class TemplateSheet(Worksheet):
        """xlsxwriter's worksheet with shortcuts that write xlsxwriter's own bytes, faster.

        Formulas: xlsxwriter rewrites every formula and conditional-format criterion with some thirty
        regular expressions (for functions newer than Excel 2010); every template carries the same few
        dozen formulas, and that rewriting was half the time of generating a template.  The result
        depends on the formula and two flags only, so it is computed once per process.

        Cells: the <sheetData> loop below (see there).  Templates address cells by (row, col) only, so
        the writers are xlsxwriter's undecorated ones, without its A1-notation check on every call.
        """

        write_string = Worksheet._write_string
        write_number = Worksheet._write_number
        write_blank = Worksheet._write_blank

        _prepared: dict[tuple[str, bool, bool], str] = {}

        def _prepare_formula(self, formula, expand_future_functions=False):
            key = (formula, bool(expand_future_functions), bool(getattr(self, "use_future_functions", False)))
            prepared = self._prepared.get(key)
            if prepared is None:
                if len(self._prepared) >= 4096:  # bounded: the templates' formulas are a fixed few dozen
                    self._prepared.clear()
                prepared = self._prepared[key] = super()._prepare_formula(formula, expand_future_functions)
            return prepared

        # The <sheetData> rows.  xlsxwriter's own loop spends most of a template's XML time on the
        # generic path of every cell (attribute escaping of values that never need it, a column scan
        # per row for the spans); the loops below write the same bytes for the cells templates have
        # (strings, numbers, blanks) and hand every other cell to xlsxwriter's ``_write_cell``.

        def _calculate_spans(self):
            if self.comments:
                return super()._calculate_spans()
            # the first and last column with a cell in each block of 16 rows
            blocks: dict[int, list[int]] = {}
            row_min, row_max, col_min, col_max = self.dim_rowmin, self.dim_rowmax, self.dim_colmin, self.dim_colmax
            for row_num, cells in self.table.items():
                if not cells or not row_min <= row_num <= row_max:
                    continue
                lo, hi = min(cells), max(cells)
                if lo < col_min or hi > col_max:
                    cols = [c for c in cells if col_min <= c <= col_max]
                    if not cols:
                        continue
                    lo, hi = min(cols), max(cols)
                block = blocks.get(row_num // 16)
                if block is None:
                    blocks[row_num // 16] = [lo, hi]
                else:
                    if lo < block[0]:
                        block[0] = lo
                    if hi > block[1]:
                        block[1] = hi
            self.row_spans = {b: f"{lo + 1}:{hi + 1}" for b, (lo, hi) in blocks.items()}

        def _row_start(self, row: int, spans, info) -> str:
            """The <row> start tag xlsxwriter's ``_write_row`` writes for a row with cells."""
            if info is not None:
                height, row_format, hidden, level, collapsed = (info.height, info.row_format, info.hidden,
                                                                info.level, info.collapsed)
            else:
                height, row_format, hidden, level, collapsed = None, None, 0, 0, 0
            if height is None:
                height = self.default_row_height
            tag = f'<row r="{row + 1}"'
            if spans:
                tag += f' spans="{spans}"'
            if row_format:
                xf_index = row_format._get_xf_index()
                if xf_index:
                    tag += f' s="{xf_index}"'
                tag += ' customFormat="1"'
            custom_height = height != self.original_row_height or height != self.default_row_height
            if custom_height:
                tag += f' ht="{height * 0.75:.16g}"'
            if hidden:
                tag += ' hidden="1"'
            if custom_height:
                tag += ' customHeight="1"'
            if level:
                tag += f' outlineLevel="{level}"'
            if collapsed:
                tag += ' collapsed="1"'
            if self.excel_version == 2010:
                tag += ' x14ac:dyDescent="0.25"'
            return tag + ">"

        def _write_rows(self):
            if self.comments or self.constant_memory:
                return super()._write_rows()
            self._calculate_spans()
            write = self.fh.write
            table, row_info, col_info, spans = self.table, self.row_info, self.col_info, self.row_spans
            col_min, col_max = self.dim_colmin, self.dim_colmax
            style: dict = {}  # format -> its ' s="index"' (the index is fixed once a format is used)

            def style_of(fmt):
                attr = style.get(fmt)
                if attr is None:
                    attr = style[fmt] = f' s="{fmt._get_xf_index()}"'
                return attr

            for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
                cells = table.get(row_num)
                info = row_info.get(row_num)
                if not cells:
                    if row_num in row_info:
                        self._write_empty_row(row_num, spans.get(row_num // 16), info)
                    continue
                write(self._row_start(row_num, spans.get(row_num // 16), info))
                row_str = str(row_num + 1)
                row_format = info.row_format if info is not None else None
                for col_num in sorted(cells):
                    if not col_min <= col_num <= col_max:
                        continue
                    cell = cells[col_num]
                    kind = type(cell)
                    if kind is not _STRING and kind is not _NUMBER and kind is not _BLANK:
                        self._write_cell(row_num, col_num, cell)
                        continue
                    col_str = col_names.get(col_num)
                    if col_str is None:
                        col_str = col_names[col_num] = xl_col_to_name(col_num)
                    fmt = cell.format
                    if fmt:
                        s_attr = style.get(fmt) or style_of(fmt)
                    elif row_format:
                        s_attr = style_of(row_format)
                    elif col_num in col_info and col_info[col_num].column_format is not None:
                        s_attr = style_of(col_info[col_num].column_format)
                    else:
                        s_attr = ""
                    if kind is _STRING:
                        write(f'<c r="{col_str}{row_str}"{s_attr} t="s"><v>{cell.string}</v></c>')
                    elif kind is _NUMBER:
                        write(f'<c r="{col_str}{row_str}"{s_attr}><v>{cell.number:.16G}</v></c>')
                    else:
                        write(f'<c r="{col_str}{row_str}"{s_attr}/>')
                write("</row>")

    # A shared string that xlsxwriter writes as it is: no XML or _xHHHH_ escape, no control character, no
    # leading or trailing whitespace (xml:space="preserve"), not a rich string.
    sst_special = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")

    class FastSharedStrings(SharedStrings):
        """xlsxwriter's sharedStrings.xml; a plain string (most of them) skips the five regular
        expressions xlsxwriter's ``_write_si`` runs on each.  Same bytes (tests/test_templates.py)."""

        def _write_sst_strings(self):
            write, special = self.fh.write, sst_special.search
            for string in self.string_table.string_array:
                if special(string) is None:
                    write(f"<si><t>{string}</t></si>")
                else:
                    self._write_si(string)

    class FastStringsPackager(Packager):
        """xlsxwriter's packager writing sharedStrings.xml through :class:`FastSharedStrings` (the templates
        and the national report)."""

        def _write_shared_strings_file(self):
            if not self.workbook.str_table.count:
                return
            sst = FastSharedStrings()
            sst.string_table = self.workbook.str_table
            sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
            sst._assemble_xml_file()

    class TemplatePackager(FastStringsPackager):
        # styles.xml of the workbooks made so far, by the formats they use (see TemplateWorkbook.add_format)
        _styles: dict[tuple, str] = {}

        def _write_styles_file(self):
            wb = self.workbook
            if wb._styles_xml is not None:  # found by wb._prepare_format_properties
                self._filename("xl/styles.xml").write(wb._styles_xml)
                return
            super()._write_styles_file()
            key = wb._styles_key() if self.in_memory else None
            if key is not None:
                if len(self._styles) >= 64:  # bounded: templates use one or two orders of the same formats
                    self._styles.clear()
                self._styles[key] = self.filenames[-1][0].getvalue()

    class TemplateWorkbook(xlsxwriter.Workbook):
        """xlsxwriter's workbook; formats are made once per process and copied into each workbook.

        Every template makes the same two dozen formats, and parsing their properties (colours, fonts,
        borders) was a tenth of a template's time; so was writing styles.xml, which depends only on which
        formats the workbook uses, in which order.  A format is copied from the first one made in this
        process with the same properties (formats are never changed after ``add_format``); styles.xml is
        written once per sequence of such formats.  Same bytes as xlsxwriter (tests/test_templates.py).
        """

        worksheet_class = TemplateSheet
        _prototypes: dict[tuple, Format] = {}
        _styles_xml: str | None = None

        def _prepare_format_properties(self):
            # The formats in index order are all styles.xml needs to be found; the indices of fonts, borders,
            # fills and number formats set by the rest are read by styles.xml only.
            self._prepare_formats()
            key = self._styles_key() if self.in_memory else None
            self._styles_xml = TemplatePackager._styles.get(key) if key is not None else None
            if self._styles_xml is None:
                super()._prepare_format_properties()

        def _get_packager(self):
            return TemplatePackager()

        def add_format(self, properties=None):
            merged = self.default_format_properties.copy()
            if properties:
                merged.update(properties)
            try:
                key = tuple(sorted(merged.items()))
                proto = self._prototypes.get(key)
            except TypeError:  # a property value that cannot be a key: xlsxwriter's own way
                return super().add_format(properties)
            if proto is None:
                if len(self._prototypes) >= 1024:
                    self._prototypes.clear()
                proto = self._prototypes[key] = Format(merged)
                proto._get_format_key()  # cached in the format, copied with it
                proto._prototype_key = key
            fmt = copy.copy(proto)
            fmt.xf_format_indices = self.xf_format_indices
            fmt.dxf_format_indices = self.dxf_format_indices
            self.formats.append(fmt)
            return fmt

        def _styles_key(self):
            """What styles.xml depends on: the formats in index order, or None if one was not made here."""
            try:
                xf = tuple(f._prototype_key for f in self.xf_formats)
                dxf = tuple(f._prototype_key for f in self.dxf_formats)
            except AttributeError:
                return None
            return xf, dxf, bool(self.has_comments), tuple(self.custom_colors), tuple(self.palette)

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
            if first_row < self.previous_row or (first_row == self.previous_row
                                                 and (self.table.get(first_row) or first_row in self.row_info)):
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
                        row_cells = "".join(f'<c r="{columns[c]}{{0}}"{self._style(f)} t="s"><v>{{{c + 1}}}</v></c>'
                                            for c, f in enumerate(formats))
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
                        raise TypeError(f"cell {columns[col]}{r}: {kind.__name__} is not text, a number or a "
                                        f"formula")
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
        """The report's workbook: shared strings through :class:`FastStringsPackager` (tens of thousands at
        national scale), the zip deflated at level 1 — a quarter of the time of zlib's default for 20 % more
        bytes (the report is tens of MB of XML at national scale).  xlsxwriter has no option for the level;
        its ``_store_workbook`` is replayed here with a ZipFile of that level, for this workbook only."""

        def _get_packager(self):
            return FastStringsPackager()

        def _store_workbook(self) -> None:
            import xlsxwriter.workbook as module

            saved = module.ZipFile
            module_zip = _LevelOneZip
            # the module's ZipFile name is looked up when _store_workbook runs; one store at a time
            with _STORE_LOCK:
                module.ZipFile = module_zip
                try:
                    super()._store_workbook()
                finally:
                    module.ZipFile = saved

    return {"TemplateSheet": TemplateSheet, "TemplatePackager": TemplatePackager,
            "TemplateWorkbook": TemplateWorkbook, "FastSharedStrings": FastSharedStrings,
            "StreamedSheet": StreamedSheet, "ReportWorkbook": ReportWorkbook}


class _LevelOneZip(zipfile.ZipFile):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "compresslevel": 1})


import threading  # noqa: E402

_STORE_LOCK = threading.Lock()
_FAST = _load_fast()
