"""The worksheet XML of an xlsx/xlsm, read before calamine sees it.

calamine allocates the whole used rectangle of a sheet, so a single far-away cell reference can make
it take gigabytes: :class:`Xlsx` inflates each worksheet part (never beyond its declared size), bounds
the used area by the references it holds, and later finds the cells calamine shows as empty although
they are not (error values, formulas without a cached value).  Small parts are read with patterns;
XML that must be parsed goes through defusedxml.
"""

from __future__ import annotations

import functools
import html
import io
import posixpath
import re
import zipfile
import zlib

from defusedxml import ElementTree as SafeET

from .. import layout as L
from ..model import ERROR, Finding
from .common import Limits, Reject, col_number, local

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
            col = col_number(ref.group(1)) - 1
            if ref.group(2):
                row = int(ref.group(2)) - 1
        else:
            col += 1
        if not attrs.rstrip().endswith(b"/"):
            max_row, max_col = max(max_row, row), max(max_col, col)
    return max_row + 1, max_col + 1



@functools.lru_cache(maxsize=256)  # returns made from one template share these two parts
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


class Xlsx:
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
                    raise Reject(Finding(
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
            raise Reject(Finding(self.name, ERROR, "zip-bomb", f"Частина «{part}» після розпакування більша, ніж "
                                                          f"заявлено в архіві: ознака «zip-бомби», файл не відкривався.",
                                 found=part))
        return xml

    def _sheet_parts(self) -> dict[str, str]:
        if "xl/_rels/workbook.xml.rels" not in self.zf.NameToInfo:
            return {}
        return dict(_parse_sheet_parts(self._inflate("xl/workbook.xml"), self._inflate("xl/_rels/workbook.xml.rels")))

    def special_cells(self, sheet: str) -> dict[tuple[int, int], tuple[str, str]]:
        """Cells calamine shows as empty that are not: (row, col) → ("error", "#DIV/0!") or ("formula", "=…")."""
        xml = self.sheet_xml.get(sheet, b"")
        cells = _cells(xml)
        if not any(marker in cells for marker in _SPECIAL_MARKERS):
            return {}
        found: dict[tuple[int, int], tuple[str, str]] = {}
        row, col = -1, -1
        for event, el in SafeET.iterparse(io.BytesIO(xml), events=("start", "end")):
            tag = local(el.tag)
            if event == "start":
                if tag == "row":
                    row = int(el.get("r")) - 1 if (el.get("r") or "").isdigit() else row + 1
                    col = -1
                elif tag == "c":
                    m = _CELL_REF.match(el.get("r") or "")
                    if m:
                        col = col_number(m.group(1).encode()) - 1
                        row = int(m.group(2)) - 1 if m.group(2) else row
                    else:
                        col += 1
                continue
            if tag != "c":
                if tag == "row":
                    el.clear()
                continue
            kind = el.get("t", "n")
            children = {local(ch.tag): ch for ch in el}
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

