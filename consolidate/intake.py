"""Reading a returned workbook: safety pre-scan, identification, mapping by row key, validation.

:func:`read_return` is a pure function of the file's bytes and the catalogue: it reads nothing but
those bytes, writes nothing, and returns a :class:`~consolidate.model.Return` with the values
that passed validation and every finding (file, sheet, A1 cell, row key, severity, Ukrainian
message, value found, value expected).  It runs in worker processes (see :mod:`consolidate.inbox`).

Reading rules (the workbook contract is :mod:`consolidate.layout`):

* Formats are recognised by content, never by file name: .xlsx, .xlsm (macros never run), .xls, .ods.
* Zip containers are pre-scanned before any parser sees them (entry count, entry and total sizes,
  compression ratio, parts larger than declared), and the used area of every xlsx sheet is bounded
  (a single far-away cell makes calamine allocate the whole rectangle and abort the process).  The
  pre-scan bounds cell references; a hostile file that still brings the reader down (cells written
  without references, .xls and .ods are not pre-scanned) costs only itself: it is read in a worker
  process and quarantined as "reader-crashed".
* Values come from python-calamine; formulas are never evaluated.  calamine shows an error value
  and a formula without a cached value as an empty cell, so xlsx data sheets are checked for both
  in their XML.  openpyxl (defusedxml-protected, read-only) is opened only to learn whether a
  percent cell holding 0–1 was typed as "90%".
* Identification: the meta sheet (very hidden, hidden or visible), then the custom document
  properties; the title sheet's executor name is compared with them and is the fallback when
  both are gone (a copy-pasted workbook).
* Data sheets are found by the column codes of their hidden row 1, else by the header labels,
  else by the row keys in column A; rows are mapped by key, columns by code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import python_calamine
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from xlsxwriter.utility import xl_col_to_name

from . import layout as L
from .catalogue import Catalogue, FundingLine, Indicator, Measure, Task
from .errors import ConsolidateError
from .model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING, CellValue, Finding, Return
from .numbers import Parsed, format_value, is_nothing, parse_number

MiB = 1024 * 1024
_INF = float("inf")


@dataclass(frozen=True)
class Limits:
    """Caps applied before a parser sees the file."""

    max_file_bytes: int = 50 * MiB
    max_entries: int = 2000
    max_entry_bytes: int = 100 * MiB
    max_total_bytes: int = 300 * MiB
    max_ratio: int = 200            # uncompressed / compressed, for entries of at least ratio_floor bytes
    ratio_floor: int = 1 * MiB
    max_cells: int = 2_000_000      # rows × columns of the used area of one sheet


LIMITS = Limits()

FORMATS = ("xlsx", "xlsm", "xls", "ods")
FORMAT_NAMES = ".xlsx, .xlsm, .xls, .ods"

# Finding codes that send a file to quarantine: it could not be read or not be identified.
QUARANTINE_CODES = frozenset({
    "not-a-workbook", "encrypted", "too-large", "zip-bomb", "unreadable", "reader-crashed",
    "not-identified", "wrong-programme", "wrong-period", "unknown-executor", "unsafe-xml",
})

SHEET_LABELS = {"funding": L.SHEET_FUNDING, "execution": L.SHEET_EXECUTION, "proposals": L.SHEET_PROPOSALS}
SHEET_ORDER = ("funding", "execution", "proposals")
# Codes that must all be in a row for it to be a sheet's code row (the first match wins, in this order).
KIND_CODES = {"funding": ("key", "financed", "cash"), "execution": ("key", "actual", "status", "narrative"),
              "proposals": ("key", "text")}
# Labels of the input columns: enough of them in one row make it a header row of that kind.
KIND_LABEL_CODES = {"funding": ("financed", "cash", "budget_code", "nil"),
                    "execution": ("actual", "numerator", "status", "narrative"), "proposals": ("text",)}
INPUTS = {"funding": L.FUNDING_INPUTS, "execution": L.EXECUTION_INPUTS, "proposals": ("text",)}
SCAN_ROWS = 12          # code / header rows are searched this far down
META_SCAN_ROWS = 40
TITLE_SCAN_ROWS = 60
PERCENT_TOLERANCE = 0.5  # percentage points between a reported percent and numerator / denominator
SNIFF_PART_BYTES = 64 * 1024  # mimetype and [Content_Types].xml are a few hundred bytes
ENCRYPTED_MESSAGE = "Файл захищено паролем на відкриття: його неможливо прочитати. Зніміть пароль і надішліть файл знову."
UNSAFE_XML_MESSAGE = ("Файл містить XML з оголошеннями сутностей (DTD), яких Excel і LibreOffice не записують: ознака "
                      "навмисно зміненого файлу; сутності не розкривалися, файл не прочитано. Надішліть файл, збережений "
                      "в Excel чи LibreOffice.")
MAX_TEXT = 32767         # characters in one cell: Excel's limit; longer text was not typed in a spreadsheet
ROWS_WITHOUT_KEY_SHOWN = 10  # "row-without-key" findings per sheet; the rest are summed up in one more

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


# ---------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------

def status_of(ret: Return) -> str:
    """Quarantined when unreadable or unidentified; else by the worst severity found."""
    if any(f.code in QUARANTINE_CODES for f in ret.findings):
        return QUARANTINED
    if ret.errors:
        return ACCEPTED_ERRORS
    if ret.warnings:
        return ACCEPTED_WARNINGS
    return ACCEPTED


def sniff_format(data: bytes) -> str:
    """"xlsx", "xlsm", "ods", "xls", "encrypted", or "" (not a workbook we read) — from the bytes only."""
    return _sniff(data)[0]


def _sniff(data: bytes) -> tuple[str, zipfile.ZipFile | None]:
    if data.startswith(_ZIP_MAGIC):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            names = zf.NameToInfo
            if "mimetype" in names and _small_part(zf, "mimetype").strip() == ODS_MIME:
                return "ods", zf
            if "xl/workbook.xml" in names:
                return ("xlsm" if b"macroEnabled" in _small_part(zf, "[Content_Types].xml") else "xlsx"), zf
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, ValueError):
            return "", None
        return "", None
    if data.startswith(_OLE_MAGIC):
        if _utf16("EncryptionInfo") in data or _utf16("EncryptedPackage") in data:
            return "encrypted", None
        if _utf16("Workbook") in data or _utf16("Book") in data:
            return "xls", None
    return "", None


def _small_part(zf: zipfile.ZipFile, name: str) -> bytes:
    """A part read while sniffing, before the size checks: only if it is as small as such a part is."""
    info = zf.NameToInfo.get(name)
    return zf.read(info) if info is not None and info.file_size <= SNIFF_PART_BYTES else b""


def crash_finding(name: str) -> Finding:
    """The finding of a file that crashed the reader process (see :mod:`consolidate.inbox`)."""
    return Finding(name, ERROR, "reader-crashed",
                   "Під час читання файлу програма читання аварійно завершила роботу (двічі): файл пошкоджено або "
                   "він надто складний. Відкрийте його в Excel чи LibreOffice, збережіть як .xlsx і надішліть знову.")


def read_return(source: Path | str | bytes, name: str, catalogue: Catalogue, limits: Limits = LIMITS) -> Return:
    """Read one returned file (a path or its bytes); ``name`` is the original file name, used as data only."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    reader = _Reader(data, name, _index(catalogue), limits)
    try:
        reader.read()
    except _Reject as stop:
        reader.findings.append(stop.finding)
    except DefusedXmlException:  # a DTD in a part parsed with defusedxml: nothing was expanded or fetched
        reader.findings.append(Finding(name, ERROR, "unsafe-xml", UNSAFE_XML_MESSAGE))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a part read later (properties) is damaged or lies
        reader.findings.append(reader._unreadable(exc).finding)
    return reader.result()


# ---------------------------------------------------------------------------------
# catalogue index (computed once per catalogue object; the template version hashes the catalogue)
# ---------------------------------------------------------------------------------

@dataclass
class _Expected:
    """The rows an executor's return must have."""

    funding: dict[str, FundingLine]
    measures: dict[str, Measure]
    indicators: dict[str, Indicator]


class _Index:
    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.version = catalogue.template_version
        self._expected: dict[str, _Expected] = {}
        self._by_name: dict[str, object] = {}
        self._executors_of: dict[str, set[str]] = {m.id: set(catalogue.executors_of(m.id)) for m in catalogue.measures}

    def expected(self, executor: str) -> _Expected:
        if executor not in self._expected:
            cat = self.catalogue
            measures = {m.id: m for m in cat.measures if executor in self._executors_of[m.id]}
            self._expected[executor] = _Expected(
                funding={f.id: f for f in cat.funding_for(executor)},
                measures=measures,
                indicators={i.id: i for i in cat.indicators if i.measure_id in measures})
        return self._expected[executor]

    def executor_named(self, name: str):
        """The registered executor with this name (memoised: every return names its executor)."""
        if name not in self._by_name:
            self._by_name[name] = self.catalogue.registry.find_by_name(name)
        return self._by_name[name]


_INDEX: list[_Index] = []


def prepare(catalogue: Catalogue) -> None:
    """Compute what reading needs from the catalogue now (e.g. before forking reader processes)."""
    _index(catalogue)


def _index(catalogue: Catalogue) -> _Index:
    if not _INDEX or _INDEX[0].catalogue is not catalogue:
        _INDEX[:] = [_Index(catalogue)]
    return _INDEX[0]


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------

class _Reject(Exception):
    """Stop reading: the file goes to quarantine with this finding."""

    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _shown(value) -> str:
    """A cell value as the clerk would read it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ІСТИНА" if value else "ХИБНІСТЬ"
    if isinstance(value, (int, float)):
        return format_value(float(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _text(value) -> str:
    """A cell value as stored text: strings as typed (trimmed), other values as shown."""
    if isinstance(value, str):
        return value.strip()
    return _shown(value).strip()


_COLUMN_NAMES = [xl_col_to_name(c) for c in range(64)]


def _a1(r: int, c: int) -> str:
    """A1 reference of a 0-based (row, column)."""
    return f"{_COLUMN_NAMES[c] if c < len(_COLUMN_NAMES) else xl_col_to_name(c)}{r + 1}"


def _norm(value) -> str:
    return " ".join(str(value).split()).casefold()


def _size(n: int) -> str:
    return f"{n / MiB:.1f} МіБ" if n >= MiB else f"{n} байт"


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


# An r attribute (of a row or a cell) beyond row 999 or column ZZ.  calamine accepts any letter case,
# quoting and spacing, and refuses a cell reference without a row number.
_FAR_REF = re.compile(rb'r\s*=\s*["\'](?:[A-Za-z]{3,}[0-9]|[A-Za-z]{1,2}[0-9]{4}|[0-9]{4})')
_XML_SPACE = frozenset(b" \t\r\n")
_TAG = re.compile(rb'<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>')
_REF_ATTR = re.compile(rb'(?:^|\s)r\s*=\s*["\']([A-Za-z]*)([0-9]*)["\']')
# An error value, or a formula element (every sheet with formulas has a closing </f> or a prefixed :f>).
_SPECIAL_MARKERS = (b"</f>", b":f>", b't="e"')
_CELL_REF = re.compile(r"\s*([A-Za-z]+)([0-9]*)\s*$")
_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?([\w.-]+)(\s[^>]*)?/?>")
_ATTRIBUTE = re.compile(rb"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _attributes(text: bytes | None) -> dict[str, str]:
    """Attributes of one start tag (entities resolved; no DTD, so nothing can expand)."""
    out = {}
    for m in _ATTRIBUTE.finditer(text or b""):
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        out[m.group(1).decode("utf-8", "replace")] = html.unescape(raw.decode("utf-8", "replace"))
    return out


def _cells(xml: bytes) -> bytes:
    """The part of a worksheet where cells can be: from the first to the last mention of sheetData.

    Validations, formats and page setup (large in the templates) follow it; a part without sheetData has no cells.
    """
    first = xml.find(b"sheetData")
    return xml[first:xml.rfind(b"sheetData") + 9] if first >= 0 else b""


def _has_far_ref(xml: bytes) -> bool:
    return any(xml[m.start() - 1] in _XML_SPACE for m in _FAR_REF.finditer(xml) if m.start())


def _used_area(xml: bytes) -> tuple[int, int]:
    """Rows and columns of the rectangle calamine allocates for a sheet (cells with content only).

    Positions follow the same rules as the reader: a ``row`` or ``c`` without ``r`` follows the previous one.
    """
    row, col, max_row, max_col = -1, -1, -1, -1
    for m in _TAG.finditer(xml):
        attrs = m.group(2)
        ref = _REF_ATTR.search(attrs)
        if m.group(1) == b"row":
            row = int(ref.group(2)) - 1 if ref and ref.group(2) else row + 1
            col = -1
            continue
        if ref and ref.group(1):
            col = _col_number(ref.group(1)) - 1
            if ref.group(2):
                row = int(ref.group(2)) - 1
        else:
            col += 1
        if not attrs.rstrip().endswith(b"/"):
            max_row, max_col = max(max_row, row), max(max_col, col)
    return max_row + 1, max_col + 1


# ---------------------------------------------------------------------------------
# the xlsx container: parts calamine does not expose
# ---------------------------------------------------------------------------------

_PARTS_SEEN: dict[tuple[bytes, bytes], dict[str, str]] = {}


def _parse_sheet_parts(book: bytes, rels: bytes) -> dict[str, str]:
    """Sheet name → zip part, from workbook.xml and its relationships (small parts read with patterns)."""
    targets = {}
    for m in _ELEMENT.finditer(rels):
        if m.group(1) == b"Relationship":
            attrs = _attributes(m.group(2))
            if attrs.get("Id") and attrs.get("Target"):
                target = attrs["Target"]
                targets[attrs["Id"]] = (target.lstrip("/") if target.startswith("/")
                                        else posixpath.normpath(posixpath.join("xl", target)))
    parts = {}
    for m in _ELEMENT.finditer(book):
        if m.group(1) == b"sheet":
            attrs = _attributes(m.group(2))
            rid = next((v for k, v in attrs.items() if k.rsplit(":", 1)[-1] == "id"), None)
            if attrs.get("name") and rid in targets:
                parts[attrs["name"]] = targets[rid]
    return parts


class _Xlsx:
    """Worksheet XML of an xlsx/xlsm, bounded before calamine sees it."""

    def __init__(self, data: bytes, zf: zipfile.ZipFile, name: str, limits: Limits):
        self.data, self.zf, self.name = data, zf, name
        self.parts = self._sheet_parts()
        # Every part calamine could read as a worksheet is scanned: the parts the workbook names, and any
        # other part in xl/worksheets/ (a relationship target may be written in several ways).
        scanned = {p for p in self.parts.values() if p in zf.NameToInfo}
        scanned |= {n for n in zf.NameToInfo if n.startswith("xl/worksheets/") and n.endswith(".xml")}
        by_part = {part: self._inflate(part) for part in sorted(scanned)}
        sheet_of = {part: sheet for sheet, part in self.parts.items()}
        for part, xml in by_part.items():
            if _has_far_ref(_cells(xml)):
                rows, cols = _used_area(xml)
                if rows * cols > limits.max_cells:
                    sheet = sheet_of.get(part, part)
                    raise _Reject(Finding(
                        name, ERROR, "too-large",
                        f"Аркуш «{sheet}» займає {rows} рядків × {cols} колонок (понад {limits.max_cells} клітинок): "
                        f"файл не відкривався. Видаліть зайві далекі клітинки і надішліть файл знову.",
                        sheet=sheet, found=f"{rows} × {cols}", expected=f"≤ {limits.max_cells} клітинок"))
        self.sheet_xml = {sheet: by_part[part] for sheet, part in self.parts.items() if part in by_part}

    def _inflate(self, part: str) -> bytes:
        """A part's bytes, decompressed straight from the local entry, never beyond its declared size."""
        info = self.zf.NameToInfo[part]
        start = info.header_offset
        header = self.data[start:start + 30]
        if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 1 or header[:4] != b"PK\x03\x04":
            return self.zf.read(info)  # stored, encrypted or odd: zipfile's own reader (bounded by the declared size)
        begin = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        xml = inflater.decompress(self.data[begin:begin + info.compress_size], info.file_size + 1)
        if len(xml) > info.file_size:
            raise _Reject(Finding(self.name, ERROR, "zip-bomb", f"Частина «{part}» після розпакування більша, ніж "
                                                           f"заявлено в архіві: ознака «zip-бомби», файл не відкривався.",
                                  found=part))
        return xml

    def _sheet_parts(self) -> dict[str, str]:
        if "xl/_rels/workbook.xml.rels" not in self.zf.NameToInfo:
            return {}
        key = (self._inflate("xl/workbook.xml"), self._inflate("xl/_rels/workbook.xml.rels"))
        if key not in _PARTS_SEEN:  # returns made from one template share these two parts
            if len(_PARTS_SEEN) > 256:
                _PARTS_SEEN.clear()
            _PARTS_SEEN[key] = _parse_sheet_parts(*key)
        return dict(_PARTS_SEEN[key])

    def special_cells(self, sheet: str) -> dict[tuple[int, int], tuple[str, str]]:
        """Cells calamine shows as empty that are not: (row, col) → ("error", "#DIV/0!") or ("formula", "=…")."""
        xml = self.sheet_xml.get(sheet, b"")
        cells = _cells(xml)
        if not any(marker in cells for marker in _SPECIAL_MARKERS):
            return {}
        found: dict[tuple[int, int], tuple[str, str]] = {}
        row, col = -1, -1
        for event, el in SafeET.iterparse(io.BytesIO(xml), events=("start", "end")):
            tag = _local(el.tag)
            if event == "start":
                if tag == "row":
                    row = int(el.get("r")) - 1 if (el.get("r") or "").isdigit() else row + 1
                    col = -1
                elif tag == "c":
                    m = _CELL_REF.match(el.get("r") or "")
                    if m:
                        col = _col_number(m.group(1).encode()) - 1
                        row = int(m.group(2)) - 1 if m.group(2) else row
                    else:
                        col += 1
                continue
            if tag != "c":
                if tag == "row":
                    el.clear()
                continue
            kind = el.get("t", "n")
            children = {_local(ch.tag): ch for ch in el}
            value = children.get("v")
            value_text = value.text if value is not None else None
            if kind == "e":
                found[(row, col)] = ("error", value_text or "#ПОМИЛКА")
            elif "f" in children and not value_text and kind not in ("str", "inlineStr"):
                found[(row, col)] = ("formula", "=" + (children["f"].text or ""))
        return found

    def custom_properties(self) -> dict[str, str]:
        try:
            root = SafeET.fromstring(self.zf.read("docProps/custom.xml"))
        except (KeyError, SafeET.ParseError):
            return {}
        props = {}
        for prop in root:
            name = prop.get("name") or ""
            if name.startswith(L.CUSTOM_PREFIX):
                props[name[len(L.CUSTOM_PREFIX):]] = "".join(prop.itertext()).strip()
        return props


def _ods_custom_properties(zf: zipfile.ZipFile) -> dict[str, str]:
    try:
        root = SafeET.fromstring(zf.read("meta.xml"))
    except (KeyError, SafeET.ParseError):
        return {}
    props = {}
    for el in root.iter():
        if _local(el.tag) == "user-defined":
            name = next((v for k, v in el.attrib.items() if _local(k) == "name"), "")
            if name.startswith(L.CUSTOM_PREFIX):
                props[name[len(L.CUSTOM_PREFIX):]] = (el.text or "").strip()
    return props


# ---------------------------------------------------------------------------------
# sheets
# ---------------------------------------------------------------------------------

@dataclass
class _Sheet:
    index: int
    name: str
    rows: list[list]

    def value(self, r: int, c: int | None):
        if c is None or r >= len(self.rows):
            return ""
        row = self.rows[r]
        return row[c] if c < len(row) else ""


@dataclass
class _DataSheet:
    kind: str
    sheet: _Sheet
    cols: dict[str, int]            # column code → 0-based column
    found_by: str                   # "codes", "labels" or "keys"
    special: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)   # column code → column letters (A1 references)

    def __post_init__(self):
        self.letters = {code: _a1(0, c)[:-1] for code, c in self.cols.items()}

    def ref(self, r: int, code: str) -> str:
        letters = self.letters.get(code)
        return f"{letters}{r + 1}" if letters is not None else ""


def _code_row(sheet: _Sheet) -> tuple[str, dict[str, int]] | None:
    for r in range(min(SCAN_ROWS, len(sheet.rows))):
        if "key" not in sheet.rows[r]:  # every code row has the key column (cheap test first)
            continue
        cells = {}
        for c, v in enumerate(sheet.rows[r]):
            if isinstance(v, str) and v.strip():
                cells.setdefault(v.strip(), c)
        for kind in SHEET_ORDER:
            if all(code in cells for code in KIND_CODES[kind]):
                known = {code for code, _ in L.SHEET_KINDS[kind]}
                return kind, {code: c for code, c in cells.items() if code in known}
    return None


def _label_row(sheet: _Sheet) -> tuple[str, dict[str, int]] | None:
    for r in range(min(SCAN_ROWS, len(sheet.rows))):
        cells = {}
        for c, v in enumerate(sheet.rows[r]):
            if isinstance(v, str) and v.strip():
                cells.setdefault(_norm(v), c)
        for kind in SHEET_ORDER:
            columns = L.SHEET_KINDS[kind]
            labels = {_norm(label): code for code, label in columns}
            hits = sum(1 for code, label in columns if code in KIND_LABEL_CODES[kind] and _norm(label) in cells)
            if hits >= min(2, len(KIND_LABEL_CODES[kind])):
                return kind, {labels[text]: c for text, c in cells.items() if text in labels}
    return None


def _key_kind(sheet: _Sheet, catalogue: Catalogue) -> str | None:
    """Kind of a sheet that lost its code and header rows, from the row keys in column A."""
    counts = {"funding": 0, "execution": 0, "proposals": 0}
    for row in sheet.rows[:500]:
        key = row[0].strip() if row and isinstance(row[0], str) else ""
        item = catalogue.get(key) if key else None
        if isinstance(item, FundingLine):
            counts["funding"] += 1
        elif isinstance(item, (Measure, Indicator)):
            counts["execution"] += 1
        elif key in L.PROPOSAL_KEYS:
            counts["proposals"] += 1
    kind = max(counts, key=counts.get)
    needed = 2 if kind == "proposals" else 1
    return kind if counts[kind] >= needed else None


def _meta_rows(sheet: _Sheet) -> dict[str, str] | None:
    found = {}
    for row in sheet.rows[:META_SCAN_ROWS]:
        if len(row) >= 2 and isinstance(row[0], str) and row[0].strip() in L.META_KEYS:
            found.setdefault(row[0].strip(), _text(row[1]))
            if len(found) == len(L.META_KEYS):
                break
    return found if found.get("programme") == L.PROGRAMME_TAG else None


def _title_values(sheet: _Sheet) -> dict[str, str] | None:
    wanted = {L.TITLE_EXECUTOR_LABEL: "executor", L.TITLE_PERIOD_LABEL: "period"}
    found = {}
    for row in sheet.rows[:TITLE_SCAN_ROWS]:
        for c, v in enumerate(row[:4]):
            if isinstance(v, str) and v.strip() in wanted:
                value = next((_text(x) for x in row[c + 1:] if _text(x)), "")
                found.setdefault(wanted[v.strip()], value)
        if len(found) == len(wanted):
            break
    return found if "executor" in found else None


# ---------------------------------------------------------------------------------
# the reader
# ---------------------------------------------------------------------------------

@dataclass
class _Number:
    """A numeric input cell after parsing: ``state`` is "number", "empty", "dash" or "invalid"."""

    state: str
    value: float | None = None
    text: str = ""
    ref: str = ""
    raw: object = None


class _Reader:
    def __init__(self, data: bytes, name: str, index: _Index, limits: Limits):
        self.data, self.name, self.index, self.limits = data, name, index, limits
        self.catalogue = index.catalogue
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.findings: list[Finding] = []
        self.values: list[CellValue] = []
        self.executor: str | None = None
        self.period: str | None = None
        self.version: str | None = None
        self.identified_by = ""
        self.fmt = ""
        self.zip: zipfile.ZipFile | None = None
        self.xlsx: _Xlsx | None = None
        self.sheets: list[_Sheet] = []
        self._formats_book = None       # openpyxl read-only workbook, opened on first need
        self._formats_tried = False

    # --- findings ------------------------------------------------------------------------
    def add(self, severity: str, code: str, message: str, sheet: str = "", cell: str = "", row_key: str = "",
            found: str = "", expected: str = "") -> None:
        self.findings.append(Finding(self.name, severity, code, message, sheet, cell, row_key, found, expected))

    def reject(self, code: str, message: str, found: str = "", expected: str = "", sheet: str = "") -> _Reject:
        return _Reject(Finding(self.name, ERROR, code, message, sheet, "", "", found, expected))

    def result(self) -> Return:
        order = {s.name: s.index for s in self.sheets}

        def position(f: Finding):
            if not f.sheet:
                return (0, 0, 0, 0)
            if not f.cell:
                return (1, order.get(f.sheet, 99), 0, 0)
            m = re.match(r"([A-Z]+)(\d+)", f.cell)
            return (1, order.get(f.sheet, 99), int(m.group(2)), _col_number(m.group(1).encode()))

        findings = sorted(self.findings, key=position)
        quarantined = any(f.code in QUARANTINE_CODES for f in findings)
        return Return(self.name, self.sha256, self.executor, self.period, self.version,
                      [] if quarantined else self.values, findings, self.identified_by)

    # --- the steps ------------------------------------------------------------------------
    def read(self) -> None:
        self._check_container()
        self._load_sheets()
        meta, title, data_sheets = self._classify()
        self._identify(meta, title, bool(data_sheets))
        self._check_sheets(data_sheets)
        expected = self.index.expected(self.executor)
        for kind in SHEET_ORDER:
            ds = data_sheets.get(kind)
            if ds is None:
                continue
            if self.xlsx is not None and ds.found_by != "keys":
                ds.special = self.xlsx.special_cells(ds.sheet.name)
            getattr(self, f"_read_{kind}")(ds, expected)

    def _check_container(self) -> None:
        lim = self.limits
        if len(self.data) > lim.max_file_bytes:
            raise self.reject("too-large", f"Файл завеликий для прийому ({_size(len(self.data))}; допустимо до "
                                           f"{_size(lim.max_file_bytes)}): файл не відкривався.",
                              found=_size(len(self.data)), expected=f"≤ {_size(lim.max_file_bytes)}")
        self.fmt, self.zip = _sniff(self.data)
        if self.fmt == "encrypted":
            raise self.reject("encrypted", ENCRYPTED_MESSAGE)
        if not self.fmt:
            raise self.reject("not-a-workbook", f"Файл не є електронною таблицею у підтримуваному форматі "
                                                f"({FORMAT_NAMES}).", found=_describe(self.data),
                              expected=FORMAT_NAMES)
        if self.zip is None:
            return
        infos = self.zip.infolist()
        if len(infos) > lim.max_entries:
            raise self.reject("zip-bomb", f"Файл містить {len(infos)} частин (допустимо до {lim.max_entries}): "
                                          f"ознака «zip-бомби», файл не відкривався.",
                              found=str(len(infos)), expected=f"≤ {lim.max_entries}")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > lim.max_entry_bytes or total > lim.max_total_bytes:
                raise self.reject("too-large", f"Вміст файлу після розпакування завеликий ({_size(total)}): "
                                               f"файл не відкривався.", found=_size(total),
                                  expected=f"≤ {_size(lim.max_total_bytes)}")
            if info.file_size >= lim.ratio_floor and info.file_size > lim.max_ratio * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                raise self.reject("zip-bomb", f"Частина «{info.filename}» стиснута в {ratio} разів (допустимо до "
                                              f"{lim.max_ratio}): ознака «zip-бомби», файл не відкривався.",
                                  found=f"{ratio}:1", expected=f"≤ {lim.max_ratio}:1")
        if self.fmt in ("xlsx", "xlsm"):
            try:
                self.xlsx = _Xlsx(self.data, self.zip, self.name, lim)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
                raise self._unreadable(exc) from exc

    def _unreadable(self, exc: Exception) -> _Reject:
        return self.reject("unreadable", f"Файл пошкоджено: його не вдалося прочитати ({type(exc).__name__}: "
                                         f"{str(exc)[:200]}). Відкрийте його в Excel чи LibreOffice, збережіть і "
                                         f"надішліть знову.")

    def _load_sheets(self) -> None:
        try:  # the very bytes that were hashed and checked, whatever the file on disk does meanwhile
            with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.data)) as wb:
                for i, meta in enumerate(wb.sheets_metadata):
                    if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                        continue
                    rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
                    self.sheets.append(_Sheet(i, meta.name, rows))
        except python_calamine.PasswordError as exc:
            raise self.reject("encrypted", ENCRYPTED_MESSAGE) from exc
        except Exception as exc:  # the parser's boundary with untrusted bytes: any failure means unreadable
            raise self._unreadable(exc) from exc

    def _classify(self) -> tuple[dict[str, str] | None, dict[str, str] | None, dict[str, _DataSheet]]:
        """The meta sheet's values, the title sheet's values and the data sheets, each found by content."""
        meta: dict[str, str] | None = None
        title: dict[str, str] | None = None
        data: dict[str, _DataSheet] = {}
        for sheet in self.sheets:
            located = self._locate_by_codes(sheet)
            if located is None:
                if meta is None and (found := _meta_rows(sheet)) is not None:
                    meta = found
                    continue
                if title is None and (found := _title_values(sheet)) is not None:
                    title = found
                    continue
                located = self._locate(sheet)
            if located is None:
                continue
            if located.kind in data:
                first = data[located.kind].sheet.name
                self.add(WARNING, "duplicate-sheet",
                         f"Аркуш «{sheet.name}» повторює аркуш «{first}» ({SHEET_LABELS[located.kind]}); його не "
                         f"прочитано.", sheet=sheet.name, found=sheet.name, expected=first)
                continue
            data[located.kind] = located
        return meta, title, data

    @staticmethod
    def _locate_by_codes(sheet: _Sheet) -> _DataSheet | None:
        found = _code_row(sheet)
        return _DataSheet(found[0], sheet, found[1], "codes") if found else None

    def _locate(self, sheet: _Sheet) -> _DataSheet | None:
        """A data sheet that lost its code row: by the header labels, else by the row keys in column A."""
        found = _label_row(sheet)
        if found:
            return _DataSheet(found[0], sheet, found[1], "labels")
        kind = _key_kind(sheet, self.catalogue)
        if kind is None:
            return None
        self.add(WARNING, "columns-assumed",
                 f"На аркуші «{sheet.name}» немає рядка із заголовками колонок; колонки визначено за стандартним "
                 f"розташуванням шаблону. Перевірте, чи значення прочитано правильно.", sheet=sheet.name)
        return _DataSheet(kind, sheet, {code: c for c, (code, _) in enumerate(L.SHEET_KINDS[kind])}, "keys")

    # --- identification ----------------------------------------------------------------------
    def _properties(self) -> dict[str, str] | None:
        if self.xlsx is not None:
            props = self.xlsx.custom_properties()
        elif self.fmt == "ods" and self.zip is not None:
            props = _ods_custom_properties(self.zip)
        else:
            props = {}
        return props if props.get("programme") == L.PROGRAMME_TAG else None

    def _identify(self, meta, title, has_data: bool) -> None:
        cat, registry = self.catalogue, self.catalogue.registry
        sources: list[tuple[str, dict[str, str]]] = [("meta", meta)] if meta else []
        if meta is None or title is None:  # the properties only matter without one of the two
            props = self._properties()
            if props:
                sources.append(("properties", props))
        for _, src in sources:
            code = src.get("programme_code", "")
            if code != cat.programme.code:
                raise self.reject("wrong-programme", f"Файл належить до іншої програми («{code}»), а не до "
                                                     f"«{cat.programme.code}».", found=code,
                                  expected=cat.programme.code)
        title = title or {}
        title_name = title.get("executor", "")
        title_exec = self.index.executor_named(title_name) if title_name else None
        title_period = next(iter((title.get("period") or "").split()), "")  # "2024 (2024 рік)" → "2024"

        if not sources:
            if not title_name or not has_data:
                raise self.reject("not-identified",
                                  "Не вдалося визначити, чий це звіт: у файлі немає ні службових відомостей шаблону, "
                                  "ні титульного аркуша з назвою виконавця. Надішліть файл, отриманий від "
                                  "Мінсоцполітики, заповнений без перенесення в інший файл.")
            if title_exec is None:
                raise self.reject("unknown-executor", f"Виконавця «{title_name}» (титульний аркуш) немає в реєстрі "
                                                      f"виконавців.", found=title_name)
            if not title_period:
                raise self.reject("not-identified", "Не вдалося визначити звітний період: службових відомостей "
                                                    "немає, а на титульному аркуші період не вказано.")
            self.executor, self.identified_by = title_exec.code, "title"
            self.add(WARNING, "identified-by-title",
                     f"Службові відомості файлу втрачено (схоже, дані перенесено в інший файл); виконавця визначено "
                     f"за титульним аркушем: {title_exec.full_name}.", found=title_name, expected=title_exec.code)
            self._set_period(title_period)
            return

        codes = [src.get("executor_code", "") for _, src in sources]
        if title_exec is not None:
            self.executor = title_exec.code
            for code in dict.fromkeys(codes):
                if code != title_exec.code:
                    self.add(ERROR, "metadata-edited",
                             f"Службові відомості файлу змінено: у них зазначено виконавця «{code}», а на "
                             f"титульному аркуші — {title_exec.full_name} ({title_exec.code}). Звіт прийнято від "
                             f"виконавця, названого на титульному аркуші.", found=code, expected=title_exec.code)
            trusted = [(by, src) for by, src in sources if src.get("executor_code") == title_exec.code]
            self.identified_by = trusted[0][0] if trusted else "title"
        else:
            if len(set(codes)) > 1:
                title_says = f"назву «{title_name}» не знайдено в реєстрі" if title_name else "виконавця не названо"
                raise self.reject("not-identified", f"Не вдалося визначити, чий це звіт: службові відомості "
                                                    f"суперечать одні одним ({', '.join(dict.fromkeys(codes))}), "
                                                    f"а на титульному аркуші {title_says}.",
                                  found=", ".join(dict.fromkeys(codes)))
            code = codes[0]
            if code not in registry:
                raise self.reject("unknown-executor", f"Виконавця «{code}» немає в реєстрі виконавців.", found=code)
            self.executor = code
            self.identified_by = sources[0][0]
            trusted = sources
            if title_name:
                self.add(WARNING, "title-edited",
                         f"Назву виконавця на титульному аркуші («{title_name}») не знайдено в реєстрі; виконавця "
                         f"визначено за службовими відомостями: {registry[code].full_name}.",
                         found=title_name, expected=registry[code].full_name)

        periods = [src.get("period", "") for _, src in (trusted or sources)]
        if title_period:
            for period in dict.fromkeys(p for p in periods if p != title_period):
                self.add(ERROR, "metadata-edited",
                         f"Службові відомості файлу змінено: у них зазначено звітний період «{period}», а на "
                         f"титульному аркуші — «{title_period}». Звіт прийнято за період з титульного аркуша.",
                         found=period, expected=title_period)
            period = title_period
        elif len(set(periods)) == 1:
            period = periods[0]
        else:
            raise self.reject("not-identified", f"Не вдалося визначити звітний період: службові відомості "
                                                f"суперечать одні одним ({', '.join(dict.fromkeys(periods))}).")
        self._set_period(period)
        if trusted:
            self.version = trusted[0][1].get("template_version") or None
        if self.version and self.version != self.index.version:
            self.add(WARNING, "stale-template",
                     f"Звіт заповнено за іншою версією шаблону ({self.version}; чинна — {self.index.version}). "
                     f"Рядки зіставлено за ключами; перевірте зауваження щодо рядків.",
                     found=self.version, expected=self.index.version)

    def _set_period(self, period: str) -> None:
        self.period = period
        try:
            self.catalogue.check_period(period)
        except ConsolidateError as exc:
            raise self.reject("wrong-period", f"{exc}: звіт за інший звітний цикл не приймається.",
                              found=period, expected=f"{self.catalogue.programme.report_year} або "
                                                     f"{self.catalogue.programme.report_year}-Q1…Q4") from exc

    def _check_sheets(self, data_sheets: dict[str, _DataSheet]) -> None:
        expected = self.index.expected(self.executor)
        needed = {"funding": bool(expected.funding), "execution": bool(expected.measures), "proposals": False}
        for kind in SHEET_ORDER:
            ds = data_sheets.get(kind)
            if ds is None:
                if needed[kind]:
                    self.add(ERROR, "missing-sheet", f"У файлі немає аркуша «{SHEET_LABELS[kind]}» (не знайдено аркуша "
                                                     f"з його колонками чи рядками): його дані не прочитано.",
                             expected=SHEET_LABELS[kind])
                continue
            for code in ("key", *INPUTS[kind]):
                if code not in ds.cols:
                    label = dict(L.SHEET_KINDS[kind])[code]
                    self.add(ERROR, "missing-column", f"На аркуші «{ds.sheet.name}» немає колонки «{label}»: її "
                                                      f"значення не прочитано.", sheet=ds.sheet.name, expected=label)

    # --- rows ------------------------------------------------------------------------------
    def _rows(self, ds: _DataSheet, belongs) -> dict[str, int]:
        """Row key → row index of the rows that belong to this executor; findings for the others.

        ``belongs(key)`` returns None for a row of this executor, "skip" for a row to ignore silently,
        or a finding ``(code, message)`` for a row that is not accepted.
        """
        sheet, key_col = ds.sheet, ds.cols.get("key")
        if key_col is None:
            return {}
        header = {"key", _norm(dict(L.SHEET_KINDS[ds.kind])["key"])}  # the key cell of the code and header rows
        inputs = [ds.cols[c] for c in INPUTS[ds.kind] if c in ds.cols]
        rows: dict[str, int] = {}
        seen: dict[str, int] = {}
        data_started = False
        keyless_count = 0
        summed: list[int] = []      # rows with data but no key beyond those reported one by one
        for r, row in enumerate(sheet.rows):
            raw = row[key_col] if key_col < len(row) else ""
            key = raw.strip() if type(raw) is str else _text(raw)
            if not key:
                if data_started and any(_text(sheet.value(r, c)) or (r, c) in ds.special for c in inputs):
                    keyless_count += 1
                    if keyless_count > ROWS_WITHOUT_KEY_SHOWN:
                        summed.append(r)
                        continue
                    self.add(WARNING, "row-without-key",
                             f"Рядок {r + 1} не має службового ключа, але містить дані; їх не прочитано. Не "
                             f"додавайте рядків — впишіть дані у відповідні рядки шаблону.",
                             sheet=sheet.name, cell=_a1(r, key_col))
                continue
            if key.casefold() in header:
                continue
            data_started = True
            if key in seen:
                self.add(ERROR, "duplicate-key", f"Рядок з ключем «{key}» повторюється (уперше — рядок "
                                                 f"{seen[key] + 1}); повтор не прочитано.",
                         sheet=sheet.name, cell=_a1(r, key_col), row_key=key, found=key)
                continue
            seen[key] = r
            verdict = belongs(key)
            if verdict == "skip":
                continue
            if verdict is not None:
                code, message = verdict
                self.add(ERROR, code, message, sheet=sheet.name, cell=_a1(r, key_col), row_key=key, found=key)
                continue
            rows[key] = r
        if summed:
            first, last, extra = summed[0], summed[-1], len(summed)
            span = f"рядок {first + 1}" if first == last else f"рядки {first + 1}–{last + 1}"
            self.add(WARNING, "row-without-key",
                     f"Ще рядків без службового ключа, але з даними: {extra} ({span}); їх не прочитано. Не додавайте "
                     f"рядків — впишіть дані у відповідні рядки шаблону.",
                     sheet=sheet.name, cell=_a1(first, key_col), found=str(extra))
        return rows

    def _missing_row(self, ds: _DataSheet, key: str, what: str) -> None:
        self.add(ERROR, "missing-row", f"На аркуші «{ds.sheet.name}» немає рядка «{key}» ({what}): рядок видалено, "
                                       f"тож його дані не подано.", sheet=ds.sheet.name, row_key=key, expected=key)

    def _unknown(self, key: str, ds: _DataSheet):
        return ("unknown-key", f"Невідомий ключ рядка «{key}»: такого рядка на аркуші «{SHEET_LABELS[ds.kind]}» "
                               f"у програмі немає; рядок не прочитано.")

    def _foreign(self, key: str, what: str):
        return ("not-executor-row", f"Рядок «{key}» ({what}) не стосується виконавця {self.executor}: його не названо "
                                    f"виконавцем; рядок не прочитано.")

    # --- cells ------------------------------------------------------------------------------
    def _special(self, ds: _DataSheet, r: int, code: str, key: str) -> bool:
        """A finding for an error value or an uncomputed formula shown as empty; True if there was one."""
        hit = ds.special.get((r, ds.cols[code])) if code in ds.cols else None
        if hit is None:
            return False
        kind, text = hit
        if kind == "error":
            self._error_value(ds, r, code, key, text)
        else:
            self.add(ERROR, "formula-no-value",
                     "Клітинка містить формулу без обчисленого значення (файл збережено програмою, що не обчислює "
                     "формул); формули не обчислюються під час прийому — впишіть значення.",
                     sheet=ds.sheet.name, cell=ds.ref(r, code), row_key=key, found=text)
        return True

    def _error_value(self, ds: _DataSheet, r: int, code: str, key: str, text: str) -> None:
        self.add(ERROR, "error-value", f"Клітинка містить помилку обчислення «{text}»; впишіть значення.",
                 sheet=ds.sheet.name, cell=ds.ref(r, code), row_key=key, found=text)

    def _number(self, ds: _DataSheet, r: int, code: str, key: str, unit: str) -> _Number:
        """Parse a numeric input; findings for text, error values and negative numbers."""
        c = ds.cols.get(code)
        if c is None:
            return _Number("invalid")
        raw = ds.sheet.value(r, c)
        ref = f"{ds.letters[code]}{r + 1}"
        kind = type(raw)
        if (kind is float or kind is int) and 0 <= raw < _INF:  # a plain number (the usual cell): as parse_number
            value = float(raw)
            return _Number("number", value, format_value(value), ref, raw)
        if raw == "" and self._special(ds, r, code, key):
            return _Number("invalid", ref=ref)
        p: Parsed = parse_number(raw)
        if p.kind == "number" and p.value >= 0 and not (p.percent_sign and unit != "percent"):
            return _Number("number", p.value, raw if isinstance(raw, str) else format_value(p.value), ref, raw)
        where = dict(sheet=ds.sheet.name, cell=ref, row_key=key, found=_shown(raw))
        if p.kind == "empty":
            return _Number("dash", text=_text(raw), ref=ref, raw=raw) if _text(raw) else _Number("empty", ref=ref)
        if p.kind == "error":
            self._error_value(ds, r, code, key, _shown(raw))
            return _Number("invalid", ref=ref)
        if p.kind == "text" or (p.percent_sign and unit != "percent"):
            what = "дату" if isinstance(raw, (dt.date, dt.time, dt.timedelta)) else "текст"
            self.add(ERROR, "text-in-number", f"Очікується число, а в клітинці {what} «{_shown(raw)}»; значення не "
                                              f"прийнято.", expected="число", **where)
            return _Number("invalid", ref=ref)
        self.add(ERROR, "negative", f"Від’ємне значення {_shown(p.value)}: значення не може бути меншим за 0; "
                                    f"не прийнято.", expected="≥ 0", **where)
        return _Number("invalid", ref=ref)

    def _keep(self, ds: _DataSheet, key: str, code: str, number: float | None, text: str, ref: str) -> None:
        self.values.append(CellValue(key, code, number, text, ds.sheet.name, ref))

    def _keep_number(self, ds: _DataSheet, key: str, code: str, n: _Number) -> None:
        if n.state in ("number", "dash"):
            self._keep(ds, key, code, n.value, n.text, n.ref)

    def _text_cell(self, ds: _DataSheet, r: int, code: str, key: str) -> tuple[str, str]:
        """(text, A1 ref) of a text input; "" for blank, a dash, or an error shown as empty."""
        c = ds.cols.get(code)
        if c is None:
            return "", ""
        raw = ds.sheet.value(r, c)
        ref = f"{ds.letters[code]}{r + 1}"
        if raw == "" and self._special(ds, r, code, key):
            return "", ref
        if is_nothing(raw):
            return "", ref
        text = _text(raw)
        if len(text) > MAX_TEXT:
            self.add(WARNING, "text-too-long",
                     f"Текст у клітинці завдовжки {len(text)} символів, а в клітинці Excel їх може бути не більше "
                     f"{MAX_TEXT}; прийнято перші {MAX_TEXT} символів.", sheet=ds.sheet.name, cell=ref, row_key=key,
                     found=f"{len(text)} символів", expected=f"≤ {MAX_TEXT} символів")
            text = text[:MAX_TEXT]
        return text, ref

    def _missing(self, ds: _DataSheet, key: str, ref: str, what: str) -> None:
        self.add(WARNING, "missing-value", f"Не заповнено: {what}.", sheet=ds.sheet.name, cell=ref, row_key=key)

    # --- sheet I: funding --------------------------------------------------------------------
    def _read_funding(self, ds: _DataSheet, expected: _Expected) -> None:
        def belongs(key):
            item = self.catalogue.get(key)
            if not isinstance(item, FundingLine):
                return self._unknown(key, ds)
            if key not in expected.funding:
                return self._foreign(key, "рядок фінансування")
            return None

        rows = self._rows(ds, belongs)
        for key, line in expected.funding.items():
            if key not in rows:
                self._missing_row(ds, key, "рядок фінансування")
                continue
            r = rows[key]
            nil_text, nil_ref = self._text_cell(ds, r, "nil", key)
            nil = _norm(nil_text) == L.NIL_FUNDING
            if nil_text:
                if not nil:
                    self.add(WARNING, "invalid-choice",
                             f"У колонці «Фінансування не здійснювалось» має бути «{L.NIL_FUNDING}» або порожньо.",
                             sheet=ds.sheet.name, cell=nil_ref, row_key=key, found=nil_text, expected=L.NIL_FUNDING)
                self._keep(ds, key, "nil", None, L.NIL_FUNDING if nil else nil_text, nil_ref)
            financed = self._number(ds, r, "financed", key, "amount")
            cash = self._number(ds, r, "cash", key, "amount")
            for n, what in ((financed, "фактично профінансовано"), (cash, "касові видатки")):
                if n.state == "empty" and not nil and n.ref:
                    self._missing(ds, key, n.ref, f"{what}, тис. грн (або оберіть «{L.NIL_FUNDING}» у колонці "
                                                  f"«Фінансування не здійснювалось»)")
            if nil and any(n.state == "number" and n.value > 0 for n in (financed, cash)):
                self.add(WARNING, "nil-with-amount", "Позначено, що фінансування не здійснювалось, але вказано суму.",
                         sheet=ds.sheet.name, cell=nil_ref, row_key=key, found=nil_text)
            if financed.state == "number" and cash.state == "number" and cash.value > financed.value:
                self.add(ERROR, "cash-over-financed",
                         f"Касові видатки ({_shown(cash.value)}) більші за фактично профінансовані "
                         f"({_shown(financed.value)}); касові видатки не прийнято.",
                         sheet=ds.sheet.name, cell=cash.ref, row_key=key, found=_shown(cash.value),
                         expected=f"≤ {_shown(financed.value)}")
                cash = _Number("invalid")
            if financed.state == "number" and line.planned is not None and financed.value > line.planned:
                self.add(WARNING, "financed-over-planned",
                         f"Фактично профінансовано ({_shown(financed.value)}) більше, ніж передбачено на рік "
                         f"({_shown(line.planned)}).", sheet=ds.sheet.name, cell=financed.ref, row_key=key,
                         found=_shown(financed.value), expected=f"≤ {_shown(line.planned)}")
            self._keep_number(ds, key, "financed", financed)
            self._keep_number(ds, key, "cash", cash)
            for code in ("budget_code", "comment"):
                text, ref = self._text_cell(ds, r, code, key)
                if text:
                    self._keep(ds, key, code, None, text, ref)

    # --- sheet II: execution -------------------------------------------------------------------
    def _read_execution(self, ds: _DataSheet, expected: _Expected) -> None:
        def belongs(key):
            item = self.catalogue.get(key)
            if isinstance(item, Task):
                return "skip"
            if isinstance(item, Measure):
                return None if key in expected.measures else self._foreign(key, "захід")
            if isinstance(item, Indicator):
                return None if key in expected.indicators else self._foreign(key, f"показник заходу {item.measure_id}")
            return self._unknown(key, ds)

        rows = self._rows(ds, belongs)
        status_of_measure: dict[str, str] = {}
        for key in expected.measures:
            if key not in rows:
                self._missing_row(ds, key, "захід")
                continue
            status_of_measure[key] = self._measure(ds, rows[key], key)
        for key, ind in expected.indicators.items():
            if key not in rows:
                self._missing_row(ds, key, "показник")
                continue
            self._indicator(ds, rows[key], ind, status_of_measure.get(ind.measure_id, ""))

    def _measure(self, ds: _DataSheet, r: int, key: str) -> str:
        status, ref = self._text_cell(ds, r, "status", key)
        if status:
            canonical = next((s for s in L.STATUS_VALUES if _norm(s) == _norm(status)), None)
            if canonical is None:
                self.add(WARNING, "invalid-choice",
                         f"Стан виконання має бути одним зі значень списку: {', '.join(L.STATUS_VALUES)}.",
                         sheet=ds.sheet.name, cell=ref, row_key=key, found=status, expected=", ".join(L.STATUS_VALUES))
            status = canonical or status
            self._keep(ds, key, "status", None, status, ref)
        elif ref:
            self._missing(ds, key, ref, "стан виконання заходу")
        narrative, nref = self._text_cell(ds, r, "narrative", key)
        if narrative:
            self._keep(ds, key, "narrative", None, narrative, nref)
        elif nref and status != L.NIL_STATUS:
            self._missing(ds, key, nref, "інформація про виконання заходу")
        return status

    def _indicator(self, ds: _DataSheet, r: int, ind: Indicator, measure_status: str) -> None:
        key = ind.id
        if not ind.numeric or ind.unit == "text":
            text, ref = self._text_cell(ds, r, "actual", key)
            if text:
                self._keep(ds, key, "actual", None, text, ref)
            elif ref and measure_status != L.NIL_STATUS:
                self._missing(ds, key, ref, "фактично досягнуте значення показника")
            return
        percent = ind.unit == "percent"
        actual = self._number(ds, r, "actual", key, ind.unit)
        num = self._number(ds, r, "numerator", key, "number") if percent else _Number("empty")
        den = self._number(ds, r, "denominator", key, "number") if percent else _Number("empty")
        if percent and actual.state == "number" and 0 < actual.value <= 1 and not isinstance(actual.raw, str) \
                and self._percent_formatted(ds, r, "actual"):
            actual.value = round(actual.value * 100, 10)
            actual.text = format_value(actual.value)
        where = dict(sheet=ds.sheet.name, cell=actual.ref, row_key=key)
        if actual.state == "number":
            if percent and actual.value > 100:
                self.add(WARNING, "percent-over-100", f"Відсоток {_shown(actual.value)} більший за 100.",
                         found=_shown(actual.value), expected="0–100", **where)
            if ind.unit == "count" and not float(actual.value).is_integer():
                self.add(WARNING, "fractional-count", f"Кількість має бути цілим числом, а вказано "
                                                      f"{_shown(actual.value)}.",
                         found=_shown(actual.value), expected="ціле число", **where)
        if num.state == "number" and den.state == "number":
            if num.value > den.value:
                self.add(WARNING, "numerator-over-denominator",
                         f"Чисельник ({_shown(num.value)}) більший за знаменник ({_shown(den.value)}).",
                         sheet=ds.sheet.name, cell=num.ref, row_key=key, found=_shown(num.value),
                         expected=f"≤ {_shown(den.value)}")
            elif actual.state == "number" and den.value > 0:
                computed = 100 * num.value / den.value
                if abs(actual.value - computed) > PERCENT_TOLERANCE:
                    self.add(WARNING, "percent-mismatch",
                             f"Відсоток {_shown(actual.value)} не відповідає чисельнику і знаменнику "
                             f"({_shown(num.value)} / {_shown(den.value)} = {_shown(round(computed, 1))} %).",
                             found=_shown(actual.value), expected=_shown(round(computed, 1)), **where)
        has_pair = num.state == "number" and den.state == "number"
        if actual.state == "empty" and actual.ref and measure_status != L.NIL_STATUS and not has_pair:
            self._missing(ds, key, actual.ref, "фактично досягнуте значення показника")
        for code, n in (("actual", actual), ("numerator", num), ("denominator", den)):
            self._keep_number(ds, key, code, n)

    def _percent_formatted(self, ds: _DataSheet, r: int, code: str) -> bool:
        """Whether an xlsx cell has a percent number format (typed as "90%", stored as 0.9)."""
        if self.fmt not in ("xlsx", "xlsm"):
            return False
        if not self._formats_tried:
            self._formats_tried = True
            import openpyxl  # only here: calamine does not expose number formats

            try:
                self._formats_book = openpyxl.load_workbook(io.BytesIO(self.data), read_only=True, data_only=True)
            except Exception:  # openpyxl refuses what calamine read: no format information, keep the value
                self._formats_book = None
        wb = self._formats_book
        if wb is None or ds.sheet.name not in wb.sheetnames:
            return False
        c = ds.cols[code]
        for row in wb[ds.sheet.name].iter_rows(min_row=r + 1, max_row=r + 1, min_col=c + 1, max_col=c + 1):
            for cell in row:
                return "%" in re.sub(r'"[^"]*"|\\.', "", getattr(cell, "number_format", "") or "")
        return False

    # --- sheet III: proposals -------------------------------------------------------------------
    def _read_proposals(self, ds: _DataSheet, expected: _Expected) -> None:
        rows = self._rows(ds, lambda key: None if key in L.PROPOSAL_KEYS else self._unknown(key, ds))
        for key in L.PROPOSAL_KEYS:
            if key in rows:
                text, ref = self._text_cell(ds, rows[key], "text", key)
                if text:
                    self._keep(ds, key, "text", None, text, ref)


def _describe(data: bytes) -> str:
    """What a file that is not a workbook seems to be (for the clerk)."""
    if not data:
        return "порожній файл"
    if data.startswith(b"%PDF"):
        return "документ PDF"
    if data.startswith(_ZIP_MAGIC):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
            return "пошкоджений архів ZIP"
        if "word/document.xml" in names:
            return "документ Word (.docx)"
        if "xl/workbook.bin" in names:
            return "книга Excel у двійковому форматі (.xlsb)"
        return "архів ZIP"
    if data.startswith(_OLE_MAGIC):
        return "документ Microsoft Office, що не є книгою Excel"
    return "невідомий формат"
