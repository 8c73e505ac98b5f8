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
from ..wording import plural
from ..ziputil import entries as zip_entries
from . import reasons
from .common import UNSAFE_XML_MESSAGE, Limits, Reject, col_number, local, size_text

SMALL_PART_BYTES = 64 * 1024

_FAR_REF = re.compile(rb'r\s*=\s*["\'](?:[A-Za-z]{3,}[0-9]|[A-Za-z]{1,2}[0-9]{4}|[0-9]{4})')
_XML_SPACE = frozenset(b" \t\r\n")
_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
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
    return xml[first : xml.rfind(b"sheetData") + 9] if first >= 0 else b""


def _cells_without_references(cells: bytes) -> bool:
    """Whether some cell has no r attribute (its column then follows the previous cell's, unbounded by refs)."""
    # In sheetData every "<c" starts a cell tag (text escapes "<"), and writers put r first: one literal scan.
    if b":row" not in cells and _PLAIN_CELL_WITHOUT_R_FIRST.search(cells) is None:
        return False
    return _NO_REF_CELL.search(cells) is not None


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


_ENTITY_REF = re.compile(rb"&(?!(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)[A-Za-z_][\w.:-]*;")
_PLAIN_CELL_WITHOUT_R_FIRST = re.compile(rb'<c(?! r=")')
_NO_REF_CELL = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s/>])(?![^>]*\sr\s*=)")
_STRING_CELL = re.compile(
    rb"""<(?:[\w.-]+:)?c(?=\s)[^>]*\st\s*=\s*["']s["'][^>]*>\s*<(?:[\w.-]+:)?v>\s*([0-9]{1,10})"""
)
_STRING_ITEM = re.compile(rb"<(?:[\w.-]+:)?si(?=[\s>/])")
# Without references, a rectangle of more than 2,000,000 cells takes more bytes than this: empty rows "<row/>"
# (6 bytes) times a row of cells "<c><v>1</v></c>" (15 bytes) is at most (n/12)·(n/30) for n bytes.
NO_REF_FLOOR = 24_000
INFLATE_SLACK = 1024 * 1024  # a part that inflates this far beyond its declared size is a zip bomb, not damage
MAIN_RELATIONSHIP = b"/officeDocument"
MACRO_RELATIONSHIPS = (b"/xlMacrosheet", b"/xlIntlMacrosheet", b"/dialogsheet")


def declares_entities(xml: bytes) -> bool:
    """A DOCTYPE whose entities the part then uses: never expanded, refused.

    A DOCTYPE can only stand in the prolog, before the root element: only that is looked at (comments and
    processing instructions skipped), not the whole part.
    """
    pos = 0
    while True:
        pos = xml.find(b"<", pos)
        if pos < 0:
            return False
        if xml.startswith(b"<?", pos):
            pos = xml.find(b"?>", pos) + 2
        elif xml.startswith(b"<!--", pos):
            pos = xml.find(b"-->", pos) + 3
        elif xml.startswith(b"<!DOCTYPE", pos):
            break
        else:
            return False  # the root element: no DOCTYPE
        if pos < 2:
            return False
    start = pos
    subset = xml.find(b"[", start, xml.find(b">", start) + 1 or len(xml))
    end = xml.find(b"]>", start) + 2 if subset >= 0 else xml.find(b">", start) + 1
    if end <= 1:  # a declaration never closed: nothing after it is well-formed XML anyway
        return True
    return _ENTITY_REF.search(xml, end) is not None


def inflate(data: bytes, zf: zipfile.ZipFile, part: str, name: str) -> bytes:
    """A part's bytes, decompressed straight from the local entry, never beyond its declared size.

    More than declared: a zip bomb if the stream goes on well past the declared size, damage if it ends
    soon after; the CRC-32 of what was declared must match, else the part is damaged.
    """
    info = zip_entries(zf)[part]
    start = info.header_offset
    header = data[start : start + 30]
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 1 or header[:4] != b"PK\x03\x04":
        try:  # stored, encrypted or odd: zipfile's own reader (bounded by the declared size, checks the CRC)
            return zf.read(info)
        except zipfile.BadZipFile as exc:
            raise reasons.unreadable(name, "zip-damaged", reasons.detail_of(exc, part)) from exc
    begin = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        xml = inflater.decompress(data[begin : begin + info.compress_size], info.file_size + 1)
        if len(xml) > info.file_size:
            more = inflater.decompress(inflater.unconsumed_tail, INFLATE_SLACK)
            if len(more) >= INFLATE_SLACK - 1 or not inflater.eof:
                raise Reject(
                    Finding(
                        name,
                        ERROR,
                        "zip-bomb",
                        f"Частина «{part}» після розпакування більша, ніж "
                        f"заявлено в архіві: ознака «zip-бомби», файл не "
                        f"відкривався.",
                        found=part,
                    )
                )
            raise reasons.unreadable(
                name, "zip-damaged", f"{part}: inflates to {len(xml) + len(more)} bytes, {info.file_size} declared"
            )
    except zlib.error as exc:
        raise reasons.unreadable(name, "zip-damaged", reasons.detail_of(exc, part)) from exc
    if len(xml) < info.file_size:
        raise reasons.unreadable(
            name,
            "truncated" if begin + info.compress_size > len(data) else "zip-damaged",
            f"{part}: {len(xml)} of {info.file_size} bytes",
        )
    if zlib.crc32(xml) != info.CRC:
        raise reasons.unreadable(name, "zip-damaged", f"{part}: bad CRC-32")
    return xml


PROLOG_BYTES = 4096


def unsafe_part(data: bytes, zf: zipfile.ZipFile, part: str, name: str) -> bool:
    """Whether an XML part declares entities it uses: its first bytes inflated, the whole part only if they
    hold a DOCTYPE (no writer of spreadsheets puts one there)."""
    info = zip_entries(zf)[part]
    start = info.header_offset
    header = data[start : start + 30]
    if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 1 and header[:4] == b"PK\x03\x04":
        begin = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        try:
            head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(
                data[begin : begin + info.compress_size], PROLOG_BYTES
            )
        except zlib.error:
            return False  # damaged: said so when the part is read
    elif info.compress_type == zipfile.ZIP_STORED:
        head = data[start : start + 30 + PROLOG_BYTES + 1024]
    else:
        return False
    if b"<!DOCTYPE" not in head:
        return False
    return declares_entities(inflate(data, zf, part, name))


def workbook_part(zf: zipfile.ZipFile) -> str | None:
    """The workbook part: where the package relationships (_rels/.rels) say, else xl/workbook.xml."""
    info = zip_entries(zf).get("_rels/.rels")
    if info is not None and info.file_size <= SMALL_PART_BYTES:
        try:
            rels = zf.read(info)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
            rels = b""
        if (b'"xl/workbook.xml"' in rels or b'"/xl/workbook.xml"' in rels) and "xl/workbook.xml" in zip_entries(zf):
            return "xl/workbook.xml"  # where every writer puts it (no need to parse the relationships)
        for m in _ELEMENT.finditer(rels):
            if m.group(1) == b"Relationship":
                attrs = _attributes(m.group(2))
                if attrs.get("Type", "").encode().endswith(MAIN_RELATIONSHIP) and attrs.get("Target"):
                    target = posixpath.normpath(attrs["Target"].lstrip("/"))
                    if target in zip_entries(zf) and _is_workbook_type(zf, target):
                        return target
    return "xl/workbook.xml" if "xl/workbook.xml" in zip_entries(zf) else None


def _is_workbook_type(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether [Content_Types].xml gives the main part a workbook's type (a .docx has a main part too)."""
    info = zip_entries(zf).get("[Content_Types].xml")
    types = zf.read(info) if info is not None and info.file_size <= SMALL_PART_BYTES else b""
    for m in _ELEMENT.finditer(types):
        if m.group(1) == b"Override":
            attrs = _attributes(m.group(2))
            if attrs.get("PartName", "").lstrip("/") == part:
                kind = attrs.get("ContentType", "")
                return "spreadsheetml" in kind or "ms-excel" in kind
    return part == "xl/workbook.xml"


def _rels_of(part: str) -> str:
    folder, file = posixpath.split(part)
    return posixpath.join(folder, "_rels", file + ".rels")


@functools.lru_cache(maxsize=256)  # returns made from one template share these two parts
def _parse_sheet_parts(book: bytes, rels: bytes, folder: str = "xl") -> tuple[dict[str, str], frozenset[str]]:
    """Sheet name → zip part, from the workbook part and its relationships (small parts read with patterns);
    and the names of the macro and dialog sheets among them."""
    targets, macro_ids = {}, set()
    for m in _ELEMENT.finditer(rels):
        if m.group(1) == b"Relationship":
            attrs = _attributes(m.group(2))
            if attrs.get("Id") and attrs.get("Target"):
                target = attrs["Target"]
                targets[attrs["Id"]] = (
                    target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
                )
                if attrs.get("Type", "").encode().endswith(MACRO_RELATIONSHIPS):
                    macro_ids.add(attrs["Id"])
    parts, macro = {}, set()
    for m in _ELEMENT.finditer(book):
        if m.group(1) == b"sheet":
            attrs = _attributes(m.group(2))
            rid = next((v for k, v in attrs.items() if k.rsplit(":", 1)[-1] == "id"), None)
            if attrs.get("name") and rid in targets:
                parts[attrs["name"]] = targets[rid]
                if rid in macro_ids:
                    macro.add(attrs["name"])
    return parts, frozenset(macro)


class Xlsx:
    """The parts of an xlsx/xlsm, bounded before calamine sees them; what calamine does not expose."""

    def __init__(self, data: bytes, zf: zipfile.ZipFile, name: str, limits: Limits):
        self.data, self.zf, self.name = data, zf, name
        self.book_part = workbook_part(zf) or "xl/workbook.xml"
        self.parts, self.macro_sheets = self._sheet_parts()
        # Every part calamine could read as a worksheet is scanned: the parts the workbook names, and any
        # other part in xl/worksheets/ (a relationship target may be written in several ways).
        scanned = {p for p in self.parts.values() if p in zip_entries(zf)}
        scanned |= {n for n in zip_entries(zf) if n.startswith("xl/worksheets/") and n.endswith(".xml")}
        sheet_of = {part: sheet for sheet, part in self.parts.items()}
        has_strings = any(n.lower().endswith("sharedstrings.xml") for n in zip_entries(zf))
        self.areas: list[tuple[str, int, int]] = []  # (sheet, rows, columns) of the sheets measured
        string_cells = 0
        for part in sorted(scanned):
            xml = inflate(data, zf, part, name)
            if declares_entities(xml):
                raise Reject(Finding(name, ERROR, "unsafe-xml", UNSAFE_XML_MESSAGE, found=part))
            cells = _cells(xml)
            sheet = sheet_of.get(part, part)
            if _has_far_ref(cells) or (len(cells) > NO_REF_FLOOR and _cells_without_references(cells)):
                rows, cols = _used_area(xml)
                self.areas.append((sheet, rows, cols))
                if rows * cols > limits.max_cells:
                    raise Reject(
                        Finding(
                            name,
                            ERROR,
                            "too-large",
                            f"Аркуш «{sheet}» займає {plural(rows, 'рядок')} × {plural(cols, 'колонка', 'колонки', 'колонок')} (понад {limits.max_cells} клітинок): "
                            f"файл не відкривався. Видаліть зайві далекі клітинки і надішліть файл знову.",
                            sheet=sheet,
                            found=f"{rows} × {cols}",
                            expected=f"≤ {limits.max_cells} клітинок",
                        )
                    )
            if has_strings:
                string_cells += cells.count(b't="s"') + (cells.count(b"t='s'") if b"t='" in cells else 0)

        self._bound_shared_strings(string_cells, scanned, limits)

    def _sheet_parts(self) -> tuple[dict[str, str], frozenset[str]]:
        rels = _rels_of(self.book_part)
        if rels not in zip_entries(self.zf) or self.book_part not in zip_entries(self.zf):
            return {}, frozenset()
        book = inflate(self.data, self.zf, self.book_part, self.name)
        rels_xml = inflate(self.data, self.zf, rels, self.name)
        if declares_entities(book) or declares_entities(rels_xml):
            raise Reject(Finding(self.name, ERROR, "unsafe-xml", UNSAFE_XML_MESSAGE, found=self.book_part))
        parts, macro = _parse_sheet_parts(book, rels_xml, posixpath.dirname(self.book_part))
        return dict(parts), macro

    def _bound_shared_strings(self, string_cells: int, scanned: set[str], limits: Limits) -> None:
        """calamine gives every cell its own copy of its shared string: the copies' total is bounded."""
        part = next((n for n in zip_entries(self.zf) if n.lower().endswith("sharedstrings.xml")), None)
        if part is None or not string_cells:
            return
        size = zip_entries(self.zf)[part].file_size
        if string_cells * size <= limits.max_text_bytes:  # even if every cell showed the whole table
            return
        sst = inflate(self.data, self.zf, part, self.name)
        if declares_entities(sst):
            raise Reject(Finding(self.name, ERROR, "unsafe-xml", UNSAFE_XML_MESSAGE, found=part))
        starts = [m.start() for m in _STRING_ITEM.finditer(sst)] + [len(sst)]
        lengths = [b - a for a, b in zip(starts, starts[1:])]
        total = 0
        for p in sorted(scanned):
            for m in _STRING_CELL.finditer(_cells(inflate(self.data, self.zf, p, self.name))):
                i = int(m.group(1))
                total += lengths[i] if i < len(lengths) else 0
        if total > limits.max_text_bytes:
            raise Reject(
                Finding(
                    self.name,
                    ERROR,
                    "too-large",
                    f"Текст у клітинках книги після розгортання спільних рядків займає {size_text(total)} (допустимо до "
                    f"{size_text(limits.max_text_bytes)}): файл не відкривався.",
                    found=size_text(total),
                    expected=f"≤ {size_text(limits.max_text_bytes)}",
                )
            )

    def calamine_package(self) -> bytes | None:
        """A copy calamine can open, when this package is valid but unusual; None when it opens as it is.

        calamine looks for xl/workbook.xml only and refuses macro and dialog sheets: the copy has the
        workbook part there (relationship targets made absolute) and names no macro sheet (never run
        anyway; their formulas are not data).
        """
        moved = self.book_part != "xl/workbook.xml"
        if not moved and not self.macro_sheets:
            return None
        book = inflate(self.data, self.zf, self.book_part, self.name)
        rels = inflate(self.data, self.zf, _rels_of(self.book_part), self.name)
        folder = posixpath.dirname(self.book_part)
        if moved:
            rels = re.sub(
                rb'(Target\s*=\s*")(?!/)([^"]+)"',
                lambda m: (
                    m.group(1)
                    + b"/"
                    + posixpath.normpath(posixpath.join(folder, m.group(2).decode("utf-8", "replace"))).encode()
                    + b'"'
                ),
                rels,
            )
        for sheet in self.macro_sheets:
            book = re.sub(
                rb"<(?:[\w.-]+:)?sheet\s[^>]*name\s*=\s*\"" + re.escape(html.escape(sheet).encode()) + rb'"[^>]*/>',
                b"",
                book,
            )
        replace = {
            self.book_part: ("xl/workbook.xml", book),
            _rels_of(self.book_part): ("xl/_rels/workbook.xml.rels", rels),
        }
        if moved and "[Content_Types].xml" in zip_entries(self.zf):
            types = inflate(self.data, self.zf, "[Content_Types].xml", self.name)
            replace["[Content_Types].xml"] = (
                "[Content_Types].xml",
                types.replace(f'PartName="/{self.book_part}"'.encode(), b'PartName="/xl/workbook.xml"'),
            )
        if moved and "_rels/.rels" in zip_entries(self.zf):
            package = inflate(self.data, self.zf, "_rels/.rels", self.name)
            replace["_rels/.rels"] = (
                "_rels/.rels",
                re.sub(
                    rb'Target\s*=\s*"/?' + re.escape(self.book_part.encode()) + rb'"',
                    b'Target="xl/workbook.xml"',
                    package,
                ),
            )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in self.zf.infolist():
                if info.filename in replace:
                    dst.writestr(*replace[info.filename])
                elif info.filename not in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
                    dst.writestr(
                        info.filename, b"" if info.is_dir() else inflate(self.data, self.zf, info.filename, self.name)
                    )
        return out.getvalue()

    def special_cells(self, sheet: str) -> dict[tuple[int, int], tuple[str, str]]:
        """Cells calamine shows as empty that are not: (row, col) → ("error", "#DIV/0!") or ("formula", "=…").

        The sheet's XML is inflated again here (the scan above holds no part: data sheets are few and small).
        """
        part = self.parts.get(sheet)
        xml = inflate(self.data, self.zf, part, self.name) if part is not None and part in zip_entries(self.zf) else b""
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
                props[name[len(L.CUSTOM_PREFIX) :]] = "".join(prop.itertext()).strip()
        return props
