"""Container checks: what a file is (from its bytes, never its name) and whether it is safe to parse.

Every format is bounded before anything is materialised: zip containers (xlsx, xlsm, ods) by entry
count, sizes and compression ratio, then per format — xlsx worksheet areas and shared-string copies
(:mod:`.xlsx`), ods repeated rows and columns (:mod:`.ods`), xls sheet areas from its BIFF records
(:mod:`.biff`).  Encryption is recognised in every format (OOXML EncryptionInfo, BIFF FILEPASS, ODF
manifest encryption data).  A valid but unusual file is given to calamine as a normalised copy (an
.xls stream name in another letter case, a relocated xlsx workbook part, xlsm macro sheets, an indented
ods); ``rd.data`` stays the bytes received, hashed and archived.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from ..wording import plural
from ..ziputil import entries as zip_entries
from . import biff, ods, reasons
from .common import ENCRYPTED_MESSAGE, FORMAT_NAMES, UNSAFE_XML_MESSAGE, Reading, Reject, size_text
from .xlsx import Xlsx, declares_entities, inflate, unsafe_part, workbook_part

SNIFF_PART_BYTES = 64 * 1024  # mimetype and [Content_Types].xml are a few hundred bytes
OLE_MAGIC = biff.OLE_MAGIC
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
CALAMINE_STREAMS = ("Workbook", "WORKBOOK", "Book", "BOOK")  # the names calamine finds
XLS_NAME_SPELLINGS = (*CALAMINE_STREAMS, "workbook", "book")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    NotImplementedError,
)
_WORKBOOK_ENTRIES = (b"[Content_Types].xml", b"mimetype", b"_rels/", b"docProps/", b"xl/", b"META-INF/", b"content.xml")


def sniff_format(data: bytes) -> str:
    """ "xlsx", "xlsm", "ods", "xls", "encrypted", or "" (not a workbook we read) — from the bytes only."""
    return sniff(data)[0]


def sniff(data: bytes) -> tuple[str, zipfile.ZipFile | None]:
    """The format and, for a zip container, the open archive."""
    if data.startswith(ZIP_MAGIC):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except _ZIP_ERRORS:
            return "", None
        fmt = _zip_format(zf)
        return (fmt, zf) if fmt else ("", None)
    if data.startswith(OLE_MAGIC):
        try:
            ole = biff.Ole(data)
        except biff.Damaged:  # a damaged container: by the stream names still visible in it
            return (
                "encrypted"
                if _names_in(data, ("EncryptionInfo", "EncryptedPackage"))
                else "xls"
                if _names_in(data, XLS_NAME_SPELLINGS)
                else ""
            ), None
        if ole.find(biff.ENCRYPTED_NAMES):
            return "encrypted", None
        if ole.find(biff.WORKBOOK_NAMES):
            return "xls", None
    return "", None


def _zip_format(zf: zipfile.ZipFile) -> str:
    try:
        if "mimetype" in zip_entries(zf) and _small_part(zf, "mimetype").strip() == ODS_MIME:
            return "ods"
        if workbook_part(zf) is not None:
            return "xlsm" if b"macroEnabled" in _small_part(zf, "[Content_Types].xml") else "xlsx"
    except _ZIP_ERRORS:
        pass
    return ""


def _names_in(data: bytes, names: tuple[str, ...]) -> bool:
    return any(name.encode("utf-16-le") in data for name in names)


def _small_part(zf: zipfile.ZipFile, name: str) -> bytes:
    """A part read while sniffing, before the size checks: only if it is as small as such a part is."""
    info = zip_entries(zf).get(name)
    return zf.read(info) if info is not None and info.file_size <= SNIFF_PART_BYTES else b""


def check_container(rd: Reading) -> None:
    """Format, encryption and bounds; sets ``rd.fmt``, ``rd.zip``, ``rd.xlsx``, ``rd.source``, or raises Reject."""
    lim = rd.limits
    if len(rd.data) > lim.max_file_bytes:
        raise rd.reject(
            "too-large",
            f"Файл завеликий для прийому ({size_text(len(rd.data))}; допустимо до "
            f"{size_text(lim.max_file_bytes)}): файл не відкривався.",
            found=size_text(len(rd.data)),
            expected=f"≤ {size_text(lim.max_file_bytes)}",
        )
    if rd.data.startswith(OLE_MAGIC):
        _check_ole(rd)
    elif rd.data.startswith(ZIP_MAGIC):
        _check_zip(rd)
    else:
        raise _not_a_workbook(rd)


def _not_a_workbook(rd: Reading) -> Reject:
    return rd.reject(
        "not-a-workbook",
        f"Файл не є електронною таблицею у підтримуваному форматі ({FORMAT_NAMES}).",
        found=describe(rd.data),
        expected=FORMAT_NAMES,
    )


def _too_large_sheet(rd: Reading, sheet: str, rows: int, cols: int, cap: int) -> Reject:
    return rd.reject(
        "too-large",
        f"Аркуш «{sheet}» займає {plural(rows, 'рядок')} × {plural(cols, 'колонка', 'колонки', 'колонок')} (понад {cap} клітинок): "
        f"файл не відкривався. Видаліть зайві далекі клітинки і надішліть файл знову.",
        sheet=sheet,
        found=f"{rows} × {cols}",
        expected=f"≤ {cap} клітинок",
    )


def _bound(rd: Reading, areas: list[tuple[str, int, int]], text_bytes: int, cap: int | None = None) -> None:
    """Each sheet's rectangle, their sum (at most ``cap``, default the workbook limit), and the text to
    materialise, within the limits."""
    lim, total = rd.limits, 0
    cap = lim.max_workbook_cells if cap is None else cap
    for sheet, rows, cols in areas:
        if rows * cols > min(lim.max_cells, cap):
            raise _too_large_sheet(rd, sheet, rows, cols, min(lim.max_cells, cap))
        total += rows * cols
    if total > cap:
        raise rd.reject(
            "too-large",
            f"Аркуші книги разом займають {total} клітинок (допустимо до {cap}): файл не "
            f"відкривався. Видаліть зайві аркуші чи далекі клітинки і надішліть файл знову.",
            found=str(total),
            expected=f"≤ {cap} клітинок",
        )
    if text_bytes > lim.max_text_bytes:
        raise rd.reject(
            "too-large",
            f"Текст у клітинках книги після розгортання повторів займає "
            f"{size_text(text_bytes)} (допустимо до {size_text(lim.max_text_bytes)}): файл "
            f"не відкривався.",
            found=size_text(text_bytes),
            expected=f"≤ {size_text(lim.max_text_bytes)}",
        )


def _check_ole(rd: Reading) -> None:
    try:
        ole = biff.Ole(rd.data)
        if ole.find(biff.ENCRYPTED_NAMES):
            raise rd.reject("encrypted", ENCRYPTED_MESSAGE)
        entry = ole.find(biff.WORKBOOK_NAMES)
        if entry is None:
            raise _not_a_workbook(rd)
        rd.fmt = "xls"
        book = biff.scan(ole, entry, rd.limits.max_stream_bytes)
    except biff.Damaged as exc:
        if rd.fmt != "xls":  # the directory itself is damaged: what do the names still visible say?
            if _names_in(rd.data, ("EncryptionInfo", "EncryptedPackage")):
                raise rd.reject("encrypted", ENCRYPTED_MESSAGE) from exc
            if exc.kind != "truncated" and not _names_in(rd.data, XLS_NAME_SPELLINGS):
                raise _not_a_workbook(rd) from exc
        if exc.kind == "too-large":
            raise rd.reject(
                "too-large",
                f"Книга .xls завелика для прийому (понад "
                f"{size_text(rd.limits.max_stream_bytes)} даних): файл не відкривався.",
                expected=f"≤ {size_text(rd.limits.max_stream_bytes)}",
            ) from exc
        raise reasons.unreadable(
            rd.name, "truncated" if exc.kind == "truncated" else "ole-damaged", reasons.detail_of(exc)
        ) from exc
    if book.encrypted:
        raise rd.reject("encrypted", ENCRYPTED_MESSAGE)
    sheets = [s for s in book.sheets if s.kind == 0]
    _bound(
        rd,
        [(s.name, max(s.claimed[0], s.used[0]), max(s.claimed[1], s.used[1])) for s in sheets],
        3 * sum(s.string_chars for s in book.sheets),
    )
    if entry.name not in CALAMINE_STREAMS:  # e.g. "workbook": calamine looks for these spellings only
        patched = bytearray(rd.data)
        patched[entry.offset : entry.offset + 2 * len(entry.name)] = entry.name.title().encode("utf-16-le")
        rd.source = bytes(patched)


def _check_zip(rd: Reading) -> None:
    lim = rd.limits
    try:
        rd.zip = zipfile.ZipFile(io.BytesIO(rd.data))
    except _ZIP_ERRORS:
        rd.zip = None
    if rd.zip is None:
        if _looks_like_a_workbook(rd.data):  # a workbook's zip that does not open: cut short or damaged
            truncated = b"PK\x05\x06" not in rd.data[-65_557:]
            raise reasons.unreadable(
                rd.name,
                "truncated" if truncated else "zip-damaged",
                "no end of central directory" if truncated else "central directory unreadable",
            )
        raise _not_a_workbook(rd)
    rd.fmt = _zip_format(rd.zip)
    if not rd.fmt:
        raise _not_a_workbook(rd)
    infos = rd.zip.infolist()
    if len(infos) > lim.max_entries:
        raise rd.reject(
            "zip-bomb",
            f"Файл містить {len(infos)} частин (допустимо до {lim.max_entries}): "
            f"ознака «zip-бомби», файл не відкривався.",
            found=str(len(infos)),
            expected=f"≤ {lim.max_entries}",
        )
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > lim.max_entry_bytes or total > lim.max_total_bytes:
            raise rd.reject(
                "too-large",
                f"Вміст файлу після розпакування завеликий ({size_text(total)}): файл не відкривався.",
                found=size_text(total),
                expected=f"≤ {size_text(lim.max_total_bytes)}",
            )
        if info.file_size >= lim.ratio_floor and info.file_size > lim.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise rd.reject(
                "zip-bomb",
                f"Частина «{info.filename}» стиснута в {ratio} разів (допустимо до "
                f"{lim.max_ratio}): ознака «zip-бомби», файл не відкривався.",
                found=f"{ratio}:1",
                expected=f"≤ {lim.max_ratio}:1",
            )
    try:
        for info in infos:  # every XML part calamine or this tool may parse: entity declarations refused first
            if info.filename.endswith((".xml", ".rels")) and unsafe_part(rd.data, rd.zip, info.filename, rd.name):
                raise rd.reject("unsafe-xml", UNSAFE_XML_MESSAGE, found=info.filename)
        if rd.fmt == "ods":
            _check_ods(rd, rd.zip)
        else:
            rd.xlsx = Xlsx(rd.data, rd.zip, rd.name, lim)
            _bound(rd, rd.xlsx.areas, 0)  # the other sheets are under 1,000 rows × 702 columns each
            rd.source = rd.xlsx.calamine_package() or rd.data
    except Reject:
        raise
    except _ZIP_ERRORS as exc:
        raise reasons.from_exception(rd.name, exc) from exc


def _check_ods(rd: Reading, zf: zipfile.ZipFile) -> None:
    if ods.encrypted(zf):
        raise rd.reject("encrypted", ENCRYPTED_MESSAGE)
    if "content.xml" not in zip_entries(zf):
        raise reasons.unreadable(rd.name, "part-missing", "content.xml")
    content = inflate(rd.data, zf, "content.xml", rd.name)
    if declares_entities(content):
        raise rd.reject("unsafe-xml", UNSAFE_XML_MESSAGE, found="content.xml")
    found = ods.scan(content)
    _bound(
        rd,
        [(s.name, s.rows, s.cols) for s in found.sheets],
        sum(s.text_bytes for s in found.sheets),
        rd.limits.max_ods_cells,
    )
    if found.indented:
        rd.source = ods.normalised(rd.data, zf, content)


def _looks_like_a_workbook(data: bytes) -> bool:
    """A zip whose first entries are those of an office package (the names are stored in the clear)."""
    head = data[:4096]
    pos = head.find(b"PK\x03\x04")
    while 0 <= pos <= len(head) - 30:
        n = int.from_bytes(head[pos + 26 : pos + 28], "little")
        if head[pos + 30 : pos + 30 + n].startswith(_WORKBOOK_ENTRIES):
            return True
        pos = head.find(b"PK\x03\x04", pos + 4)
    return False


def describe(data: bytes) -> str:
    """What a file that is not a workbook seems to be (for the clerk)."""
    if not data:
        return "порожній файл"
    if data.startswith(b"%PDF"):
        return "документ PDF"
    if data.startswith(ZIP_MAGIC):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except _ZIP_ERRORS:
            return "пошкоджений архів ZIP"
        if "word/document.xml" in names:
            return "документ Word (.docx)"
        if "xl/workbook.bin" in names:
            return "книга Excel у двійковому форматі (.xlsb)"
        return "архів ZIP"
    if data.startswith(OLE_MAGIC):
        return "документ Microsoft Office, що не є книгою Excel"
    return "невідомий формат"
