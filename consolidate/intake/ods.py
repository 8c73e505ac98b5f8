"""An .ods before calamine sees it: encryption, the cells its repeat attributes make, indentation.

* Encrypted: ODF lists ``<manifest:encryption-data>`` for every encrypted part in META-INF/manifest.xml.
* Repeats: ``table:number-rows-repeated`` and ``table:number-columns-repeated`` multiply a row or a cell;
  LibreOffice writes them for the empty rest of a sheet (16,384 columns, a million rows), which costs
  nothing, but a cell *with content* repeated that far makes calamine build every copy.  :func:`scan`
  walks content.xml's tags (patterns, nothing expanded) and counts, per sheet, the rectangle that
  cells with content span and the text their copies carry.
* Indentation: some office suites write whitespace between the table elements of content.xml, which
  calamine refuses ("Expecting 'table-cell', found Text").  Whitespace between two structural tags is
  not content (ODF: element-only), so :func:`normalised` removes exactly that and nothing inside a
  paragraph; calamine then reads the same cells LibreOffice shows.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from ..ziputil import entries as zip_entries

MANIFEST = "META-INF/manifest.xml"
MANIFEST_BYTES = 1024 * 1024
CELL_OVERHEAD = 48  # bytes a cell with text costs beyond its text (calamine's String, then a Python str)

_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>")
_REPEAT = re.compile(rb"number-(rows|columns)-repeated\s*=\s*[\"']\s*([0-9]{1,12})")
_VALUE_TYPE = re.compile(rb"value-type\s*=")
_NAME = re.compile(rb"(?:^|\s)(?:[\w.-]+:)?name\s*=\s*\"([^\"]*)\"")
# Whitespace between two tags of which one is a table element, or between two paragraphs of a cell.
_GAP = re.compile(rb"(<(/?)(?:[\w.-]+:)?([\w.-]+)[^>]*>)[ \t\r\n]+(?=<(/?)(?:[\w.-]+:)?([\w.-]+))")
_STRUCTURE = frozenset(
    {
        b"table",
        b"table-row",
        b"table-cell",
        b"covered-table-cell",
        b"table-column",
        b"table-columns",
        b"table-header-rows",
        b"table-rows",
        b"table-row-group",
        b"table-column-group",
        b"table-header-columns",
        b"spreadsheet",
        b"body",
        b"shapes",
        b"named-expressions",
        b"named-range",
        b"database-ranges",
        b"database-range",
        b"calculation-settings",
        b"content-validations",
        b"content-validation",
        b"table-protection",
        b"forms",
        b"scripts",
        b"font-face-decls",
        b"automatic-styles",
        b"document-content",
    }
)
_INDENTED = re.compile(rb"<(?:[\w.-]+:)?(?:table-row|table-cell|covered-table-cell)(?=[\s/>])[^>]*>[ \t\r\n]+<")


@dataclass
class Sheet:
    name: str
    rows: int = 0  # rows × columns of the rectangle cells with content span
    cols: int = 0
    text_bytes: int = 0  # bytes of the content of every cell copy, and CELL_OVERHEAD for each


@dataclass
class Scan:
    sheets: list[Sheet] = field(default_factory=list)
    indented: bool = False


def encrypted(zf: zipfile.ZipFile) -> bool:
    info = zip_entries(zf).get(MANIFEST)
    if info is None or info.file_size > MANIFEST_BYTES:
        return False
    return b"encryption-data" in zf.read(info)


def scan(content: bytes) -> Scan:
    """Per sheet, the rectangle and the text that calamine would materialise from content.xml."""
    out = Scan(indented=_INDENTED.search(content) is not None)
    sheet: Sheet | None = None
    row = col = 0
    row_repeat = 1
    row_max_col = -1  # last column with content in the current row, -1 if none
    row_text = 0
    max_row = max_col = -1
    cell_start = -1
    cell_repeat = 1
    depth = 0  # nesting of table elements (a sub-table inside a cell is counted with its cell)
    for m in _TAG.finditer(content):
        closing, tag, attrs = m.group(1), m.group(2), m.group(3)
        empty = attrs.endswith(b"/")
        if tag == b"table":
            if closing:
                depth -= 1
                if depth == 0 and sheet is not None:
                    sheet.rows, sheet.cols = max_row + 1, max_col + 1
                    sheet = None
            elif not empty:
                depth += 1
                if depth == 1:
                    name = _NAME.search(attrs)
                    sheet = Sheet(name.group(1).decode("utf-8", "replace") if name else "")
                    out.sheets.append(sheet)
                    row, max_row, max_col = 0, -1, -1
            continue
        if sheet is None or depth != 1:
            continue
        if tag == b"table-row":
            if closing:
                if row_max_col >= 0:
                    max_row = max(max_row, row + row_repeat - 1)
                    max_col = max(max_col, row_max_col)
                    sheet.text_bytes += row_text * row_repeat
                row += row_repeat
                continue
            row_repeat = _repeat(attrs, b"rows")
            col, row_max_col, row_text = 0, -1, 0
            if empty:
                row += row_repeat
            continue
        # a cell
        if closing:
            if cell_start >= 0:
                row_text += (m.start() - cell_start + CELL_OVERHEAD) * cell_repeat
                cell_start = -1
            continue
        cell_repeat = _repeat(attrs, b"columns")
        if not empty or _VALUE_TYPE.search(attrs):
            row_max_col = col + cell_repeat - 1
            cell_start = -1 if empty else m.end()
        col += cell_repeat
    return out


def _repeat(attrs: bytes, what: bytes) -> int:
    for m in _REPEAT.finditer(attrs):
        if m.group(1) == what:
            return max(1, int(m.group(2)))
    return 1


def _drop_gap(m: re.Match) -> bytes:
    before, after = m.group(3), m.group(5)
    if before in _STRUCTURE or after in _STRUCTURE or (before == b"p" and m.group(2) and after == b"p"):
        return m.group(1)
    return m.group(0)


def normalised(data: bytes, zf: zipfile.ZipFile, content: bytes) -> bytes:
    """The same package with the insignificant whitespace of content.xml removed (other parts as they were)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in zf.infolist():
            body = _GAP.sub(_drop_gap, content) if info.filename == "content.xml" else zf.read(info)
            dst.writestr(
                info.filename, body, zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            )
    return out.getvalue()
