"""Why a file could not be read, in Ukrainian: one reason per class of reader failure.

The clerk and the executor see a sentence that says what happened and what to do; the library's own
(English) error is kept only in the finding's ``detail`` — the ledger and the JSON output, for developers.
"""

from __future__ import annotations

import zipfile
import zlib
from xml.etree.ElementTree import ParseError

import python_calamine

from ..model import ERROR, Finding
from .common import Reject

RESEND = "Відкрийте його в Excel чи LibreOffice, збережіть і надішліть знову."
MESSAGES = {
    "truncated": "Файл обрізано: його кінця бракує (схоже, файл не дійшов повністю під час надсилання чи "
    "копіювання), тож прочитати його неможливо. Надішліть файл ще раз.",
    "zip-damaged": "Файл пошкоджено: стиснені дані всередині книги зіпсовано (контрольна сума або розпакування "
    "не збігаються), тож прочитати його неможливо. " + RESEND,
    "xml-damaged": "Файл пошкоджено: вміст книги (XML) записано з помилками, тож прочитати його неможливо. " + RESEND,
    "ole-damaged": "Файл .xls пошкоджено: його внутрішня структура суперечлива (посилання на неіснуючі частини), "
    "тож прочитати його неможливо. " + RESEND,
    "part-missing": "Файл пошкоджено: у книзі бракує частини (аркуша чи службової частини), на яку вона "
    "посилається, тож прочитати його неможливо. " + RESEND,
    "reader-panic": "Файл пошкоджено: його вміст суперечить формату книги, і програма читання не змогла його "
    "розібрати. " + RESEND,
    "unsupported": "Книгу записано у варіанті формату, який програма не читає (наприклад, Excel 5.0/95 чи "
    "старішого). Збережіть її в Excel чи LibreOffice як .xlsx і надішліть знову.",
    "unreadable": "Файл пошкоджено: його не вдалося прочитати. " + RESEND,
}


def is_panic(exc: BaseException) -> bool:
    """A Rust panic inside a reader (pyo3's PanicException derives from BaseException, not Exception)."""
    return type(exc).__name__ == "PanicException" or (
        not isinstance(exc, Exception) and not isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))
    )


def kind_of(exc: BaseException) -> str:
    """The reason class of a reader failure."""
    text = str(exc).lower()
    if is_panic(exc):
        return "reader-panic"
    if isinstance(exc, python_calamine.ZipError) or isinstance(exc, (zipfile.BadZipFile, zlib.error)):
        if "crc" in text or "checksum" in text or isinstance(exc, zlib.error) or "invalid" in text:
            return "zip-damaged"
        return "truncated" if "eof" in text or "end of" in text or "unexpected" in text else "zip-damaged"
    if isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, (python_calamine.XmlError, ParseError)):
        return "xml-damaged"
    if isinstance(exc, (python_calamine.WorksheetNotFound, KeyError)):
        return "part-missing"
    if isinstance(exc, python_calamine.CalamineError):
        if "eof" in text or "end of file" in text or "unexpected end" in text or "too short" in text:
            return "truncated"
        if "biff5" in text or "unsupported" in text or "not supported" in text:
            return "unsupported"
        if "xml" in text:
            return "xml-damaged"
        if "cfb" in text or "sector" in text or "fat" in text:
            return "ole-damaged"
        if "zip" in text:
            return "zip-damaged"
    return "unreadable"


def detail_of(exc: BaseException, extra: str = "") -> str:
    """The raw error, for developers only (the ledger, the JSON)."""
    text = f"{type(exc).__name__}: {exc}"
    if extra:
        text += f" | {extra}"
    return text[:1000]


def unreadable(name: str, kind: str, detail: str = "") -> Reject:
    """A rejection "unreadable" with the Ukrainian reason of ``kind`` and the raw ``detail`` kept aside."""
    return Reject(Finding(name, ERROR, "unreadable", MESSAGES.get(kind, MESSAGES["unreadable"]), detail=detail))


def from_exception(name: str, exc: BaseException, extra: str = "") -> Reject:
    return unreadable(name, kind_of(exc), detail_of(exc, extra))
