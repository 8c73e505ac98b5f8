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

The steps, one module each: :mod:`.container` (what the file is, zip pre-scan, loading the sheets),
:mod:`.xlsx`, :mod:`.ods`, :mod:`.biff` (each format bounded and inspected before calamine),
:mod:`.load` (calamine, every failure a reason: :mod:`.reasons`), :mod:`.identify` (whose return, which period),
:mod:`.sheets` (which sheet is which, rows by key), :mod:`.values` and :mod:`.rules` (value rules);
:mod:`.common` holds the limits and the per-file :class:`~.common.Reading` state they share.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from defusedxml import DefusedXmlException

from ..catalogue import Catalogue
from ..model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, Finding, Return
from . import reasons
from .common import (
    FORMAT_NAMES,
    FORMATS,
    LIMITS,
    MAX_TEXT,
    QUARANTINE_CODES,
    ROWS_WITHOUT_KEY_SHOWN,
    SHEET_ORDER,
    UNSAFE_XML_MESSAGE,
    Limits,
    Reading,
    Reject,
)
from .container import ODS_MIME, check_container, sniff_format
from .identify import identify, index_of, prepare
from .load import load_sheets
from .rules import RULES
from .sheets import check_sheets, classify
from .values import Cells

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "LIMITS",
    "MAX_TEXT",
    "ODS_MIME",
    "QUARANTINE_CODES",
    "ROWS_WITHOUT_KEY_SHOWN",
    "Limits",
    "crash_finding",
    "prepare",
    "read_return",
    "sniff_format",
    "status_of",
]


def status_of(ret: Return) -> str:
    """Quarantined when unreadable or unidentified; else by the worst severity found."""
    if any(f.code in QUARANTINE_CODES for f in ret.findings):
        return QUARANTINED
    if ret.errors:
        return ACCEPTED_ERRORS
    if ret.warnings:
        return ACCEPTED_WARNINGS
    return ACCEPTED


def crash_finding(name: str) -> Finding:
    """The finding of a file that crashed the reader process (see :mod:`consolidate.inbox`)."""
    return Finding(
        name,
        ERROR,
        "reader-crashed",
        "Під час читання файлу програма читання аварійно завершила роботу (двічі): файл пошкоджено або "
        "він надто складний. Відкрийте його в Excel чи LibreOffice, збережіть як .xlsx і надішліть знову.",
    )


def read_return(
    source: Path | str | bytes,
    name: str,
    catalogue: Catalogue,
    limits: Limits = LIMITS,
    assigned: tuple[str, str] | None = None,
) -> Return:
    """Read one returned file (a path or its bytes); ``name`` is the original file name, used as data only.

    ``assigned``: (executor, period) the clerk decided for a file that could not be identified
    (``consolidate quarantine assign``); the file is then read as that executor's return.
    """
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    rd = Reading(data, name, index_of(catalogue), limits)
    rd.assigned = assigned
    try:
        _read(rd)
    except Reject as stop:
        rd.findings.append(stop.finding)
    except DefusedXmlException:  # a DTD in a part parsed with defusedxml: nothing was expanded or fetched
        rd.findings.append(Finding(name, ERROR, "unsafe-xml", UNSAFE_XML_MESSAGE))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a part read later (properties) is damaged or lies
        rd.findings.append(reasons.from_exception(name, exc).finding)
    except BaseException as exc:
        if not reasons.is_panic(exc):
            raise
        rd.findings.append(reasons.from_exception(name, exc).finding)  # a panic outside calamine's loading
    ret = rd.result()
    # A workspace with several reporting years (history.attach_years): a return of another of its years is
    # read with that year's catalogue instead of being refused as «інший період».
    others = catalogue._memo.get("other_years")
    if others:
        wrong = next((f for f in ret.findings if f.code == "wrong-period"), None)
        year = wrong.found[:4] if wrong is not None else ""
        if year.isdigit() and int(year) in others:
            return read_return(data, name, others[int(year)], limits, assigned)
    return ret


def _read(rd: Reading) -> None:
    """The steps, in order; any of them may raise Reject."""
    check_container(rd)
    load_sheets(rd)
    meta, title, data_sheets = classify(rd)
    identify(rd, meta, title, bool(data_sheets))
    assert rd.executor is not None  # identify set it or raised Reject
    expected = rd.index.expected(rd.executor)
    check_sheets(rd, data_sheets, expected)
    cells = Cells(rd)
    for kind in SHEET_ORDER:
        ds = data_sheets.get(kind)
        if ds is None:
            continue
        if rd.xlsx is not None and ds.found_by != "keys":
            ds.special = rd.xlsx.special_cells(ds.sheet.name)
        RULES[kind](cells, ds, expected)
