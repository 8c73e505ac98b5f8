"""Container checks: what a file is (from its bytes, never its name) and whether it is safe to parse.

Zip containers (xlsx, xlsm, ods) are pre-scanned before any parser sees them: entry count, entry and
total sizes, compression ratio; xlsx worksheet parts are bounded by :class:`~.xlsx.Xlsx`.  Then the
sheets are loaded with python-calamine from the very bytes that were hashed and checked.
"""

from __future__ import annotations

import io
import zipfile

import python_calamine

from .common import ENCRYPTED_MESSAGE, FORMAT_NAMES, Reading, Reject, size_text
from .sheets import Sheet
from .xlsx import Xlsx

SNIFF_PART_BYTES = 64 * 1024  # mimetype and [Content_Types].xml are a few hundred bytes
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def sniff_format(data: bytes) -> str:
    """"xlsx", "xlsm", "ods", "xls", "encrypted", or "" (not a workbook we read) — from the bytes only."""
    return sniff(data)[0]


def sniff(data: bytes) -> tuple[str, zipfile.ZipFile | None]:
    """The format and, for a zip container, the open archive."""
    if data.startswith(ZIP_MAGIC):
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
    if data.startswith(OLE_MAGIC):
        if _utf16("EncryptionInfo") in data or _utf16("EncryptedPackage") in data:
            return "encrypted", None
        if _utf16("Workbook") in data or _utf16("Book") in data:
            return "xls", None
    return "", None


def _small_part(zf: zipfile.ZipFile, name: str) -> bytes:
    """A part read while sniffing, before the size checks: only if it is as small as such a part is."""
    info = zf.NameToInfo.get(name)
    return zf.read(info) if info is not None and info.file_size <= SNIFF_PART_BYTES else b""


def check_container(rd: Reading) -> None:
    """Format, size and zip pre-scan; sets ``rd.fmt``, ``rd.zip`` and (xlsx) ``rd.xlsx``, or raises Reject."""
    lim = rd.limits
    if len(rd.data) > lim.max_file_bytes:
        raise rd.reject("too-large", f"Файл завеликий для прийому ({size_text(len(rd.data))}; допустимо до "
                                     f"{size_text(lim.max_file_bytes)}): файл не відкривався.",
                        found=size_text(len(rd.data)), expected=f"≤ {size_text(lim.max_file_bytes)}")
    rd.fmt, rd.zip = sniff(rd.data)
    if rd.fmt == "encrypted":
        raise rd.reject("encrypted", ENCRYPTED_MESSAGE)
    if not rd.fmt:
        raise rd.reject("not-a-workbook", f"Файл не є електронною таблицею у підтримуваному форматі "
                                          f"({FORMAT_NAMES}).", found=describe(rd.data),
                        expected=FORMAT_NAMES)
    if rd.zip is None:
        return
    infos = rd.zip.infolist()
    if len(infos) > lim.max_entries:
        raise rd.reject("zip-bomb", f"Файл містить {len(infos)} частин (допустимо до {lim.max_entries}): "
                                    f"ознака «zip-бомби», файл не відкривався.",
                        found=str(len(infos)), expected=f"≤ {lim.max_entries}")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > lim.max_entry_bytes or total > lim.max_total_bytes:
            raise rd.reject("too-large", f"Вміст файлу після розпакування завеликий ({size_text(total)}): "
                                         f"файл не відкривався.", found=size_text(total),
                            expected=f"≤ {size_text(lim.max_total_bytes)}")
        if info.file_size >= lim.ratio_floor and info.file_size > lim.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise rd.reject("zip-bomb", f"Частина «{info.filename}» стиснута в {ratio} разів (допустимо до "
                                        f"{lim.max_ratio}): ознака «zip-бомби», файл не відкривався.",
                            found=f"{ratio}:1", expected=f"≤ {lim.max_ratio}:1")
    if rd.fmt in ("xlsx", "xlsm"):
        try:
            rd.xlsx = Xlsx(rd.data, rd.zip, rd.name, lim)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
            raise unreadable(rd, exc) from exc


def unreadable(rd: Reading, exc: BaseException) -> Reject:
    return rd.reject("unreadable", f"Файл пошкоджено: його не вдалося прочитати ({type(exc).__name__}: "
                                   f"{str(exc)[:200]}). Відкрийте його в Excel чи LibreOffice, збережіть і "
                                   f"надішліть знову.")


def load_sheets(rd: Reading) -> None:
    """Every worksheet's values, from calamine (formulas are never evaluated)."""
    try:  # the very bytes that were hashed and checked, whatever the file on disk does meanwhile
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(rd.data)) as wb:
            for i, meta in enumerate(wb.sheets_metadata):
                if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                    continue
                rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
                rd.sheets.append(Sheet(i, meta.name, rows))
    except python_calamine.PasswordError as exc:
        raise rd.reject("encrypted", ENCRYPTED_MESSAGE) from exc
    except Exception as exc:  # the parser's boundary with untrusted bytes: any failure means unreadable
        raise unreadable(rd, exc) from exc


def describe(data: bytes) -> str:
    """What a file that is not a workbook seems to be (for the clerk)."""
    if not data:
        return "порожній файл"
    if data.startswith(b"%PDF"):
        return "документ PDF"
    if data.startswith(ZIP_MAGIC):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
            return "пошкоджений архів ZIP"
        if "word/document.xml" in names:
            return "документ Word (.docx)"
        if "xl/workbook.bin" in names:
            return "книга Excel у двійковому форматі (.xlsb)"
        return "архів ZIP"
    if data.startswith(OLE_MAGIC):
        return "документ Microsoft Office, що не є книгою Excel"
    return "невідомий формат"
