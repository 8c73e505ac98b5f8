"""Hostile variants of real workbooks, made by code: patched BIFF records, renamed OLE streams, ODS and xlsx parts."""

from __future__ import annotations

import io
import re
import struct
import zipfile

from consolidate.intake import biff


def _xls_stream(data: bytes):
    ole = biff.Ole(data)
    entry = ole.find(biff.WORKBOOK_NAMES)
    return ole, entry, ole.read(entry, len(data))


def _file_offset(ole: biff.Ole, entry: biff.Entry, pos: int) -> int:
    assert entry.size >= ole.cutoff, "a workbook stream in the mini stream is not patched here"
    return ole.stream_offsets(entry)[pos // ole.sector] + pos % ole.sector


def xls_patch_records(data: bytes, patch) -> bytes:
    """``patch(kind, body, sheet_index)`` returns a new body of the same length (or None): written in place."""
    ole, entry, stream = _xls_stream(data)
    out = bytearray(data)
    sheet = -1
    for pos, kind, body in biff.records(stream):
        if kind == biff.BOF and pos:
            sheet += 1
        new = patch(kind, body, sheet)
        if new is not None:
            assert len(new) == len(body)
            for i, byte in enumerate(new):
                out[_file_offset(ole, entry, pos + 4 + i)] = byte
    return bytes(out)


def xls_claiming(data: bytes, rows: int, cols: int, sheet: int = 2) -> bytes:
    """The DIMENSIONS record of one sheet claims rows × cols."""
    def patch(kind, body, index):
        if kind == biff.DIMENSIONS and index == sheet:
            return struct.pack("<IIHH", 0, rows, 0, cols) + body[12:]
    return xls_patch_records(data, patch)


def xls_far_cell(data: bytes, row: int = 65535, col: int = 255, sheet: int = 2) -> bytes:
    """The last number/label cell of one sheet moved to (row, col)."""
    ole, entry, stream = _xls_stream(data)
    index, last = -1, None
    for pos, kind, body in biff.records(stream):
        if kind == biff.BOF and pos:
            index += 1
        if index == sheet and kind in (0x0203, biff.LABELSST, 0x027E):
            last = pos
    out = bytearray(data)
    for i, byte in enumerate(struct.pack("<HH", row, col)):
        out[_file_offset(ole, entry, last + 4 + i)] = byte
    return bytes(out)


def xls_stream_renamed(data: bytes, name: str) -> bytes:
    """The workbook stream's directory entry renamed (e.g. WORKBOOK or BOOK, as reporting tools write it)."""
    ole = biff.Ole(data)
    entry = ole.find(biff.WORKBOOK_NAMES)
    out = bytearray(data)
    out[entry.offset:entry.offset + 64] = (name.encode("utf-16-le") + b"\0" * 64)[:64]
    out[entry.offset + 64:entry.offset + 66] = struct.pack("<H", 2 * len(name) + 2)
    return bytes(out)


def zip_parts(data: bytes) -> dict[str, bytes]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: zf.read(i) for i in zf.infolist()}


def zipped(parts: dict[str, bytes], stored: tuple[str, ...] = ("mimetype",)) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(name, body, zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


_ODS_TAG = re.compile(rb"<(/?)((?:table|office):[\w.-]+|(?<=/)text:p)(?=[\s/>])[^>]*>(?=<)")


def ods_indented(data: bytes) -> bytes:
    """content.xml as some office suites write it: every table element and paragraph end on its own line, indented."""
    parts = zip_parts(data)
    depth = 0

    def indent(m: re.Match) -> bytes:
        nonlocal depth
        tag = m.group(0)
        if m.group(1):
            depth = max(0, depth - 1)
        elif not tag.endswith(b"/>") and m.group(2) != b"text:p":
            depth += 1
        return tag + b"\n" + b"  " * depth

    parts["content.xml"] = _ODS_TAG.sub(indent, parts["content.xml"])
    return zipped(parts)


def xlsx_relocated(data: bytes, to: str = "xl/book.xml") -> bytes:
    """The workbook part moved (the package's _rels/.rels and content types say where), as some tools write it."""
    parts = zip_parts(data)
    folder, name = to.rsplit("/", 1)
    parts[to] = parts.pop("xl/workbook.xml")
    rels = parts.pop("xl/_rels/workbook.xml.rels")
    if folder != "xl":  # targets are relative to the workbook's folder
        rels = re.sub(rb'Target="(?!/)([^"]+)"', lambda m: b'Target="/xl/' + m.group(1) + b'"', rels)
    parts[f"{folder}/_rels/{name}.rels"] = rels
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b'Target="xl/workbook.xml"', f'Target="{to}"'.encode())
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b'PartName="/xl/workbook.xml"',
                                                                        f'PartName="/{to}"'.encode())
    return zipped(parts, stored=())


MACROSHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              b'<xm:macrosheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
              b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
              b'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><sheetData>'
              b'<row r="1"><c r="A1" t="str"><f>EXEC("calc.exe")</f><v></v></c></row>'
              b'<row r="2"><c r="A2" t="b"><f>HALT()</f><v>1</v></c></row></sheetData></xm:macrosheet>')


def xlsm_with_macro_sheet(data: bytes) -> bytes:
    """An .xlsm with an Excel 4.0 macro sheet (never run: its formulas are only XML here)."""
    parts = zip_parts(data)
    parts["xl/macrosheets/sheet1.xml"] = MACROSHEET
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdMacro1" Type="http://schemas.microsoft.com/office/2006/'
                             b'relationships/xlMacrosheet" Target="macrosheets/sheet1.xml"/></Relationships>')
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"</sheets>", b'<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" name="Macro1" '
                     b'sheetId="99" state="hidden" r:id="rIdMacro1"/></sheets>')
    types = parts["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    parts["[Content_Types].xml"] = types.replace(
        b"</Types>", b'<Override PartName="/xl/macrosheets/sheet1.xml" '
                     b'ContentType="application/vnd.ms-excel.macrosheet+xml"/></Types>')
    return zipped(parts, stored=())


def zip_bad_crc(data: bytes, part: str) -> bytes:
    """One entry's CRC-32 wrong (local header and central directory), its data intact."""
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(part)
    bad = struct.pack("<I", info.CRC ^ 0x5A5A5A5A)
    out[info.header_offset + 14:info.header_offset + 18] = bad
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + name_len] == part.encode():
            out[pos + 16:pos + 20] = bad
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def xls_formula_overrun(data: bytes) -> bytes:
    """Every FORMULA record claims a parsed expression longer than the record (calamine 0.37 panics on it)."""
    def patch(kind, body, index):
        if kind == 0x0006 and len(body) >= 22:
            return body[:20] + struct.pack("<H", 0xFFF0) + body[22:]
    return xls_patch_records(data, patch)


# ---------------------------------------------------------------------------------
# huge claims in every format (each file at most a few megabytes)
# ---------------------------------------------------------------------------------

def _with_sheet_xml(data: bytes, part: str, rows_xml: bytes) -> bytes:
    parts = zip_parts(data)
    parts[part] = parts[part].replace(b"</sheetData>", rows_xml + b"</sheetData>")
    return zipped(parts, stored=())


def xlsx_cells_without_references(data: bytes, part: str, cells: int) -> bytes:
    """One more row of ``cells`` numbers written without r attributes (their columns follow one another)."""
    return _with_sheet_xml(data, part, b'<row r="40">' + b"".join(b"<c><v>%d</v></c>" % i for i in range(cells))
                           + b"</row>")


def xlsx_shared_string_copies(data: bytes, part: str, cells: int, length: int = 32_000) -> bytes:
    """``cells`` cells showing one shared string of ``length`` characters (calamine copies it into each)."""
    parts = zip_parts(data)
    if "xl/sharedStrings.xml" not in parts:  # openpyxl writes inline strings: the table and its relationship added
        parts["xl/sharedStrings.xml"] = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"></sst>'
        parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>", b'<Relationship Id="rSst" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                                 b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                         b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    sst = parts["xl/sharedStrings.xml"]
    count = sst.count(b"<si>")
    parts["xl/sharedStrings.xml"] = sst.replace(b"</sst>", b"<si><t>" + b"x" * length + b"</t></si></sst>")
    rows = b"".join(b'<row r="%d"><c r="K%d" t="s"><v>%d</v></c></row>' % (r, r, count) for r in range(40, 40 + cells))
    parts[part] = parts[part].replace(b"</sheetData>", rows + b"</sheetData>")
    return zipped(parts, stored=())


def xlsx_many_wide_sheets(data: bytes, sheets: int) -> bytes:
    """``sheets`` more sheets, each with one cell at ZZ999 (a 999 × 702 rectangle each, no far reference)."""
    parts = zip_parts(data)
    body = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1"><v>1</v></c></row><row r="999"><c r="ZZ999"><v>1</v></c></row></sheetData></worksheet>')
    rels, book, types = parts["xl/_rels/workbook.xml.rels"], parts["xl/workbook.xml"], parts["[Content_Types].xml"]
    for i in range(sheets):
        parts[f"xl/worksheets/wide{i}.xml"] = body
        rels = rels.replace(b"</Relationships>", b'<Relationship Id="rWide%d" Type="http://schemas.openxmlformats.org/'
                            b'officeDocument/2006/relationships/worksheet" Target="worksheets/wide%d.xml"/>'
                            b"</Relationships>" % (i, i))
        book = book.replace(b"</sheets>", b'<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                            b'relationships" name="Wide%d" sheetId="%d" r:id="rWide%d"/></sheets>' % (i, 100 + i, i))
        types = types.replace(b"</Types>", b'<Override PartName="/xl/worksheets/wide%d.xml" ContentType="application/'
                              b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>' % i)
    parts["xl/_rels/workbook.xml.rels"], parts["xl/workbook.xml"], parts["[Content_Types].xml"] = rels, book, types
    return zipped(parts, stored=())


def ods_repeated(data: bytes, rows: int, cols: int, text: bytes = b"1") -> bytes:
    """A row of cells with content, repeated: ``rows`` × ``cols`` copies claimed in a few hundred bytes."""
    parts = zip_parts(data)
    xml = parts["content.xml"]
    at = xml.index(b"</table:table-row>") + len(b"</table:table-row>")  # after the first row of the first sheet
    row = (b'<table:table-row table:number-rows-repeated="%d"><table:table-cell table:number-columns-repeated="%d" '
           b'office:value-type="string"><text:p>%s</text:p></table:table-cell></table:table-row>' % (rows, cols, text))
    parts["content.xml"] = xml[:at] + row + xml[at:]
    return zipped(parts)
