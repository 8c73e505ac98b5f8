"""Real clients: a filled template saved by LibreOffice as .xlsx, .ods and .xls, and an .ods saved back
as .xlsx, reads with the same executor, values and findings as the original; what each path keeps of
the template (meta sheet, custom properties, validations, protection) is measured here and documented
in docs/client-roundtrips.md.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import zipfile

import pytest
import python_calamine

from consolidate import layout as L
from consolidate.inbox import run_intake
from consolidate.intake import read_return, sniff_format, status_of
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED_ERRORS
from consolidate.workspace import open_workspace

from .conftest import ROOT, need_binary
from .intake_util import brief, complete, edit, filled, merged

pytestmark = pytest.mark.slow  # LibreOffice

PATHS = ("LO→xlsx", "LO→ods", "LO→xls", "ods→xlsx")
# What survives each path (measured by features() below; the table of docs/client-roundtrips.md).
SURVIVAL = {
    "original": {"meta": "very hidden", "properties": True, "validations": 10, "protected": 5},
    "LO→xlsx": {"meta": "hidden", "properties": True, "validations": 10, "protected": 5},
    "LO→ods": {"meta": "hidden", "properties": True, "validations": 10, "protected": 5},
    "LO→xls": {"meta": "hidden", "properties": True, "validations": 10, "protected": 5},
    "ods→xlsx": {"meta": "hidden", "properties": True, "validations": 10, "protected": 5},
}
# An executor's answers with something for every kind of finding to survive the trip as well.
ANSWERS = merged(complete(), {
    "funding": {"F.T2.2.SG.MINJUST": {"financed": "1 234,5", "cash": 1000.25},
                "F.T4.2.SG.MINJUST": {"nil": None, "financed": 10, "cash": 12.5}},
    "execution": {"T2.2.1": {"actual": 42.5}, "T3.7.1": {"actual": "багато"},
                  "T6.10.1": {"actual": 50, "numerator": 3, "denominator": 4}},
})


@pytest.fixture(scope="module")
def cat():
    return open_workspace(ROOT).catalogue


def convert_all(src, folder) -> dict:
    """The original and its four client paths (one LibreOffice conversion at a time)."""
    from consolidate.office import convert

    out = {"original": src}
    out["LO→xlsx"] = convert(src, "xlsx", folder / "xlsx")
    out["LO→ods"] = convert(src, "ods", folder / "ods")
    out["LO→xls"] = convert(src, "xls", folder / "xls")
    out["ods→xlsx"] = convert(out["LO→ods"], "xlsx", folder / "ods-xlsx")
    return out


@pytest.fixture(scope="module")
def saved(cat, tmp_path_factory):
    need_binary("soffice")
    folder = tmp_path_factory.mktemp("clients")
    return convert_all(filled(cat, folder, "Звіт Мін'юсту.xlsx", ANSWERS), folder)


def same_values(got, expected) -> None:
    """Same keys, cells and texts; numbers equal within rounding (.xls gives whole numbers as int)."""
    a = {(v.key, v.field): v for v in got.values}
    b = {(v.key, v.field): v for v in expected.values}
    assert a.keys() == b.keys()
    for key, v in b.items():
        w = a[key]
        assert (w.text, w.sheet, w.cell) == (v.text, v.sheet, v.cell), key
        assert (w.number is None) == (v.number is None), key
        if v.number is not None:
            assert math.isclose(w.number, v.number, rel_tol=1e-9, abs_tol=1e-9), key


def test_every_client_path_reads_like_the_original(cat, saved):
    original = read_return(saved["original"], "r.xlsx", cat)
    assert status_of(original) == ACCEPTED_ERRORS
    assert {f.code for f in original.findings} >= {"cash-over-financed", "text-in-number", "fractional-count",
                                                  "percent-mismatch", "financed-over-planned"}
    for path in PATHS:
        data = saved[path].read_bytes()
        assert sniff_format(data) == saved[path].suffix[1:], path
        ret = read_return(data, saved[path].name, cat)
        assert (ret.executor, ret.period, ret.identified_by, ret.template_version) == (
            "MINJUST", "2024", "meta", cat.template_version), path
        assert brief(ret.findings) == brief(original.findings), path
        same_values(ret, original)
        assert status_of(ret) == status_of(original)


def test_every_client_path_through_the_intake(cat, saved, workspace):
    for i, path in enumerate(("original", *PATHS)):
        dst = workspace.inbox / f"{i} {path.replace('→', '-')}{saved[path].suffix}"
        shutil.copyfile(saved[path], dst)
        os.utime(dst, (1_700_000_000 + i, 1_700_000_000 + i))
    outcomes = run_intake(workspace, workers=2)
    assert [(o.state, o.executor, o.period) for o in outcomes] == [(ACCEPTED_ERRORS, "MINJUST", "2024")] * 5
    original = read_return(saved["original"], "r.xlsx", cat)
    with Ledger(workspace.ledger_path) as ledger:
        for o in outcomes:
            assert o.record.format == o.path.suffix[1:]
            stored = type(original)(o.name, o.sha256, "MINJUST", "2024", None, ledger.values(o.record.submission_id),
                                    ledger.file_findings(o.record.id))
            same_values(stored, original)
            assert brief(stored.findings) == brief(original.findings)
        assert len(ledger.submissions(executor="MINJUST")) == 5


def test_without_the_meta_sheet_each_path_still_identifies_and_maps_every_row(cat, tmp_path):
    """A clerk deleted the meta sheet: xlsx and ods keep the custom properties; from .xls, which intake reads
    no properties from, the title sheet names the executor."""
    need_binary("soffice")
    src = edit(filled(cat, tmp_path, "r.xlsx", ANSWERS), lambda wb: wb.remove(wb[L.SHEET_META]),
               tmp_path / "без meta.xlsx")
    paths = convert_all(src, tmp_path)
    original = read_return(paths["original"], "r.xlsx", cat)
    expected_by = {"original": "properties", "LO→xlsx": "properties", "LO→ods": "properties",
                   "LO→xls": "title", "ods→xlsx": "properties"}
    for path, by in expected_by.items():
        ret = read_return(paths[path], "r", cat)
        assert (ret.executor, ret.period, ret.identified_by) == ("MINJUST", "2024", by), path
        extra = [("warning", "identified-by-title", "", "", "", "Міністерство юстиції України", "MINJUST")]
        assert brief(ret.findings) == (extra if by == "title" else []) + brief(original.findings), path
        same_values(ret, original)


def features(path) -> dict:
    """What of the template a saved file still has: meta sheet visibility, custom properties,
    data validations and protected sheets (counted in the file's own format)."""
    data = path.read_bytes()
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    visibility = {m.name: m.visible for m in book.sheets_metadata}[L.SHEET_META]
    out = {"meta": ("very hidden" if visibility == python_calamine.SheetVisibleEnum.VeryHidden else
                    "hidden" if visibility == python_calamine.SheetVisibleEnum.Hidden else "visible")}
    tag = (L.CUSTOM_PREFIX + "programme").encode()
    suffix = path.suffix[1:]
    if suffix == "xlsx":
        z = zipfile.ZipFile(io.BytesIO(data))
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        out["properties"] = "docProps/custom.xml" in z.namelist() and tag in z.read("docProps/custom.xml")
        out["validations"] = sum(s.count(b"<dataValidation ") for s in sheets)
        out["protected"] = sum(b"<sheetProtection" in s for s in sheets)
    elif suffix == "ods":
        z = zipfile.ZipFile(io.BytesIO(data))
        content = z.read("content.xml")
        out["properties"] = tag in z.read("meta.xml")
        out["validations"] = content.count(b"<table:content-validation ")
        out["protected"] = content.count(b'table:protected="true"')
    else:
        import olefile

        ole = olefile.OleFileIO(io.BytesIO(data))
        summary = b"".join(ole.openstream(s).read() for s in ole.listdir() if "DocumentSummaryInformation" in s[-1])
        out["properties"] = tag in summary or tag.decode().encode("utf-16-le") in summary
        stream = ole.openstream("Workbook").read()
        records, i = [], 0
        while i + 4 <= len(stream):  # BIFF8 records: id, length, body
            rid, size = int.from_bytes(stream[i:i + 2], "little"), int.from_bytes(stream[i + 2:i + 4], "little")
            records.append((rid, stream[i + 4:i + 4 + size]))
            i += 4 + size
        out["validations"] = sum(1 for rid, _ in records if rid == 0x01BE)          # DV
        out["protected"] = sum(1 for rid, body in records if rid == 0x0012 and body[:2] == b"\x01\x00")  # PROTECT
    return out


def test_what_survives_each_path_is_as_documented(saved):
    assert {path: features(saved[path]) for path in SURVIVAL} == SURVIVAL
    doc = (ROOT / "docs" / "client-roundtrips.md").read_text(encoding="utf-8")
    for path in PATHS:
        assert path in doc
