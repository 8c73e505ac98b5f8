"""A bounded fuzz test of the container pre-scan and the readers (hypothesis; a fixed budget, run by CI).

Valid workbooks of each container — an xlsx return, an .xls written by xlwt, an .ods written here — are
cut, overwritten and spliced by hypothesis; random bytes behind each magic number too.  Whatever comes
out, nothing escapes: no exception, no panic, no English library text in a message; a quarantined file
has one of the quarantine codes.  The low-level scanners (OLE directory, BIFF records, ODS tags) raise
nothing but their own ``Damaged``.  ``derandomize`` makes every CI run try the same examples.
"""

from __future__ import annotations

import functools
import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consolidate.intake import QUARANTINE_CODES, biff, ods, read_return, sniff_format, status_of
from consolidate.workspace import open_workspace

from .conftest import ROOT
from .intake_util import filled
from .test_intake_corpus import ukrainian

BUDGET = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def catalogue():
    return open_workspace(ROOT).catalogue


@functools.cache
def bases() -> tuple[bytes, ...]:
    import tempfile
    from pathlib import Path

    import xlwt

    with tempfile.TemporaryDirectory() as folder:
        xlsx = filled(catalogue(), Path(folder), "r.xlsx").read_bytes()
    book = xlwt.Workbook()
    sheet = book.add_sheet("Аркуш1")
    for r in range(40):
        sheet.write(r, 0, f"рядок {r}")
        sheet.write(r, 1, r * 1.5)
        sheet.write(r, 2, xlwt.Formula(f"B{r + 1}*2"))
    buf = io.BytesIO()
    book.save(buf)
    return xlsx, buf.getvalue(), minimal_ods()


def minimal_ods() -> bytes:
    content = (b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"><office:body>'
               b'<office:spreadsheet><table:table table:name="Sheet1">'
               + b"".join(b'<table:table-row><table:table-cell office:value-type="string"><text:p>a%d</text:p>'
                          b'</table:table-cell><table:table-cell office:value-type="float" office:value="%d">'
                          b'<text:p>%d</text:p></table:table-cell><table:table-cell table:number-columns-repeated='
                          b'"3"/></table:table-row>' % (i, i, i) for i in range(30))
               + b'<table:table-row table:number-rows-repeated="1048540"><table:table-cell '
                 b'table:number-columns-repeated="16384"/></table:table-row></table:table></office:spreadsheet>'
                 b'</office:body></office:document-content>')
    manifest = (b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                b'opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
                b'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                b'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    return out.getvalue()


def test_the_fuzz_bases_are_read():
    xlsx, xls, ods_ = bases()
    assert [sniff_format(b) for b in (xlsx, xls, ods_)] == ["xlsx", "xls", "ods"]
    assert status_of(read_return(xlsx, "r.xlsx", catalogue())) == "accepted"
    for data in (xls, ods_):  # not returns of the template, but readable workbooks
        assert [f.code for f in read_return(data, "r", catalogue()).findings] == ["not-identified"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(bases())))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("byte", "bytes", "cut", "splice", "zero")))
        at = draw(st.integers(0, len(data) - 1))
        if op == "byte":
            data[at] = draw(st.integers(0, 255))
        elif op == "bytes":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at:at + len(chunk)] = chunk
        elif op == "cut" and len(data) > 64:
            del data[at:]
        elif op == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "zero":
            data[at:at + 512] = bytes(min(512, len(data) - at))
        if len(data) < 8:
            break
    return bytes(data)


magic_noise = st.builds(lambda magic, body: magic + body,
                        st.sampled_from((biff.OLE_MAGIC, b"PK\x03\x04", b"PK\x05\x06")), st.binary(max_size=4096))


def check(data: bytes) -> None:
    ret = read_return(data, "файл.xlsx", catalogue())
    state = status_of(ret)
    if state == "quarantined":
        assert [f for f in ret.findings if f.code in QUARANTINE_CODES], ret.findings
    for f in ret.findings:
        assert ukrainian(f.message), f.message


@BUDGET
@given(mutated())
def test_mutated_workbooks_are_read_or_quarantined_with_a_reason(data):
    check(data)


@BUDGET
@given(magic_noise)
def test_noise_behind_each_magic_number_is_quarantined_with_a_reason(data):
    check(data)
    assert status_of(read_return(data, "x", catalogue())) == "quarantined"


@BUDGET
@given(mutated())
def test_the_scanners_raise_nothing_but_damaged(data):
    sniff_format(data)
    if data.startswith(biff.OLE_MAGIC):
        try:
            ole = biff.Ole(data)
            entry = ole.find(biff.WORKBOOK_NAMES)
            if entry is not None:
                biff.scan(ole, entry, 1 << 26)
        except biff.Damaged:
            pass
    else:
        try:
            content = zipfile.ZipFile(io.BytesIO(data)).read("content.xml")
        except Exception:  # not the scanner under test: the archive itself is broken
            return
        found = ods.scan(content)
        assert all(s.rows >= 0 and s.cols >= 0 and s.text_bytes >= 0 for s in found.sheets)
