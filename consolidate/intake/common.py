"""What every step of reading a return shares: limits, constants, the per-file reading state, small helpers.

:class:`Reading` is the state of one file being read (its bytes, findings, values, what was identified);
the step modules (:mod:`.container`, :mod:`.identify`, :mod:`.sheets`, :mod:`.values`, :mod:`.rules`)
are functions of it.  A step that must stop raises :class:`Reject` with the finding that sends the file
to quarantine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xlsxwriter.utility import xl_col_to_name

from .. import layout as L
from ..model import ERROR, CellValue, Finding, Return
from ..numbers import format_value
from ..vocabulary import Severity

if TYPE_CHECKING:
    from .identify import Index
    from .sheets import Sheet
    from .xlsx import Xlsx

MiB = 1024 * 1024
INF = float("inf")


@dataclass(frozen=True)
class Limits:
    """Caps applied before a parser sees the file."""

    max_file_bytes: int = 50 * MiB
    max_entries: int = 2000
    max_entry_bytes: int = 40 * MiB
    max_total_bytes: int = 120 * MiB
    max_ratio: int = 200  # uncompressed / compressed, for entries of at least ratio_floor bytes
    ratio_floor: int = 1 * MiB
    max_cells: int = 2_000_000  # rows × columns of the used area of one sheet
    max_workbook_cells: int = 2_000_000  # the same, summed over the sheets of a workbook
    max_ods_cells: int = 1_000_000  # calamine's ods reader holds every sheet at once, ~2.4× the memory per cell
    max_text_bytes: int = 32 * MiB  # text calamine materialises: a shared string once per cell that shows it
    max_stream_bytes: int = 40 * MiB  # the workbook stream of an .xls


LIMITS = Limits()

FORMATS = ("xlsx", "xlsm", "xls", "ods")
FORMAT_NAMES = ".xlsx, .xlsm, .xls, .ods"

# Finding codes that send a file to quarantine: it could not be read or not be identified.
QUARANTINE_CODES = frozenset(
    {
        "not-a-workbook",
        "encrypted",
        "too-large",
        "zip-bomb",
        "unreadable",
        "reader-crashed",
        "not-identified",
        "wrong-programme",
        "wrong-period",
        "unknown-executor",
        "unsafe-xml",
    }
)

SHEET_LABELS = {"funding": L.SHEET_FUNDING, "execution": L.SHEET_EXECUTION, "proposals": L.SHEET_PROPOSALS}
SHEET_ORDER = ("funding", "execution", "proposals")
INPUTS = {"funding": L.FUNDING_INPUTS, "execution": L.EXECUTION_INPUTS, "proposals": ("text",)}
ENCRYPTED_MESSAGE = (
    "Файл захищено паролем на відкриття: його неможливо прочитати. Зніміть пароль і надішліть файл знову."
)
UNSAFE_XML_MESSAGE = (
    "Файл містить XML з оголошеннями сутностей (DTD), яких Excel і LibreOffice не записують: ознака "
    "навмисно зміненого файлу; сутності не розкривалися, файл не прочитано. Надішліть файл, збережений "
    "в Excel чи LibreOffice."
)
MAX_TEXT = 32767  # characters in one cell: Excel's limit; longer text was not typed in a spreadsheet
ROWS_WITHOUT_KEY_SHOWN = 10  # "row-without-key" findings per sheet; the rest are summed up in one more


class Reject(Exception):
    """Stop reading: the file goes to quarantine with this finding."""

    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


class Reading:
    """One file being read: its bytes and what has been learnt from them so far."""

    def __init__(self, data: bytes, name: str, index: Index, limits: Limits):
        self.data, self.name, self.index, self.limits = data, name, index, limits
        self.catalogue = index.catalogue
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.findings: list[Finding] = []
        self.values: list[CellValue] = []
        self.executor: str | None = None
        self.period: str | None = None
        self.version: str | None = None
        self.identified_by = ""
        self.assigned: tuple[str, str] | None = None  # (executor, period) decided by the clerk (quarantine assign)
        self.fmt = ""
        self.zip: zipfile.ZipFile | None = None
        self.xlsx: Xlsx | None = None
        self.source = data  # the bytes calamine opens: the file, or a normalised copy of it
        self.sheets: list[Sheet] = []

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        sheet: str = "",
        cell: str = "",
        row_key: str = "",
        found: str = "",
        expected: str = "",
    ) -> None:
        self.findings.append(Finding(self.name, severity, code, message, sheet, cell, row_key, found, expected))

    def reject(self, code: str, message: str, found: str = "", expected: str = "", sheet: str = "") -> Reject:
        return Reject(Finding(self.name, ERROR, code, message, sheet, "", "", found, expected))

    def result(self) -> Return:
        """The return: findings in sheet and cell order; no values if the file is quarantined."""
        order = {s.name: s.index for s in self.sheets}

        def position(f: Finding):
            if not f.sheet:
                return (0, 0, 0, 0)
            if not f.cell:
                return (1, order.get(f.sheet, 99), 0, 0)
            m = re.match(r"([A-Z]+)(\d+)", f.cell)
            assert m is not None  # the cells of findings are a1() references
            return (1, order.get(f.sheet, 99), int(m.group(2)), col_number(m.group(1).encode()))

        findings = sorted(self.findings, key=position)
        quarantined = any(f.code in QUARANTINE_CODES for f in findings)
        return Return(
            self.name,
            self.sha256,
            self.executor,
            self.period,
            self.version,
            [] if quarantined else self.values,
            findings,
            self.identified_by,
        )


def local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def shown(value) -> str:
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


def text_of(value) -> str:
    """A cell value as stored text: strings as typed (trimmed), other values as shown."""
    if isinstance(value, str):
        return value.strip()
    return shown(value).strip()


_COLUMN_NAMES = [xl_col_to_name(c) for c in range(64)]


def a1(r: int, c: int) -> str:
    """A1 reference of a 0-based (row, column)."""
    return f"{_COLUMN_NAMES[c] if c < len(_COLUMN_NAMES) else xl_col_to_name(c)}{r + 1}"


def norm(value) -> str:
    """Text compared loosely: whitespace collapsed, case folded."""
    return " ".join(str(value).split()).casefold()


def size_text(n: int) -> str:
    return f"{n / MiB:.1f} МіБ" if n >= MiB else f"{n} байт"


def col_number(letters: bytes) -> int:
    """1-based column number of column letters (b"A" → 1)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n
