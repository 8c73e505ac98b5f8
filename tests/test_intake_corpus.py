"""Other people's files: a regression corpus built here by code, each case with its own Ukrainian reason.

A valid return (xlsx; its LibreOffice .ods and .xls copies) cut at every tenth, fuzzed byte by byte,
encrypted (msoffcrypto for xlsx, LibreOffice for .xls and .ods), made to claim huge areas in every
format, with its .xls stream named in capitals, its xlsx workbook part moved, a macro sheet added, an
indented content.xml, one bad CRC, a Rust panic inside the reader.  Every file is read or quarantined
with a reason in Ukrainian; the library's own words stay in ``Finding.detail``; nothing escapes as a
traceback, in this process, in reader processes or in the dry run.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate import inbox
from consolidate.cli import main
from consolidate.intake import QUARANTINE_CODES, read_return, reasons, sniff_format, status_of
from consolidate.model import ACCEPTED, QUARANTINED
from consolidate.workspace import init_workspace

from .conftest import ROOT, need_binary
from .corpus_util import (ods_indented, ods_repeated, xls_claiming, xls_far_cell, xls_formula_overrun,
                          xls_stream_renamed, xlsm_with_macro_sheet, xlsx_cells_without_references,
                          xlsx_many_wide_sheets, xlsx_relocated, xlsx_shared_string_copies, zip_bad_crc, zip_parts,
                          zipped)
from .intake_util import EXECUTION, FUNDING, brief, filled, sheet_part, values_by_key

LATIN_WORD = re.compile(r"[A-Za-z]{4,}")   # an English word in a message meant for the clerk
# Latin words a Ukrainian message may name: formats and programs
ALLOWED_LATIN = {"Excel", "LibreOffice", "xlsx", "xlsm", "ods", "xls", "docx", "xlsb", "ZIP", "XML", "DTD", "PDF"}


def ukrainian(message: str) -> bool:
    """Ukrainian text; Latin words only for formats, programs, and names quoted «…» (parts, sheets, values)."""
    bare = re.sub(r"«[^»]*»", "", message)
    return bool(re.search("[а-яіїєґ]", message)) and not (set(LATIN_WORD.findall(bare)) - ALLOWED_LATIN)


def assert_quarantined_with_reason(ret, code: str | None = None, starts: str = "") -> None:
    assert status_of(ret) == QUARANTINED, brief(ret.findings)
    (finding,) = [f for f in ret.findings if f.code in QUARANTINE_CODES]
    assert code is None or finding.code == code, brief(ret.findings)
    assert ukrainian(finding.message), finding.message
    assert finding.message.startswith(starts), finding.message
    assert not ret.values


@pytest.fixture(scope="module")
def good(cat, tmp_path_factory) -> dict[str, bytes]:
    """A filled return as xlsx, and (when LibreOffice is there) its .ods and .xls copies."""
    folder = tmp_path_factory.mktemp("corpus")
    src = filled(cat, folder, "return.xlsx")
    out = {"xlsx": src.read_bytes()}
    if shutil.which("soffice"):
        from consolidate.office import convert

        for fmt in ("ods", "xls"):
            out[fmt] = convert(src, fmt, folder / fmt).read_bytes()
    return out


def office_copy(good, fmt: str) -> bytes:
    need_binary("soffice")
    return good[fmt]


# ---------------------------------------------------------------------------------
# cut, fuzzed
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", pytest.param("ods", marks=pytest.mark.slow),
                                 pytest.param("xls", marks=pytest.mark.slow)])
def test_a_return_cut_at_every_tenth_says_it_was_cut(cat, good, fmt):
    data = good["xlsx"] if fmt == "xlsx" else office_copy(good, fmt)
    for tenth in range(1, 10):
        ret = read_return(data[:len(data) * tenth // 10], f"r.{fmt}", cat)
        assert_quarantined_with_reason(ret, "unreadable", "Файл обрізано")
        assert ret.findings[0].detail  # what exactly was missing, for developers
    ret = read_return(data[:-1], f"r.{fmt}", cat)  # one byte short (99 %: calamine panicked on such an .xls)
    assert status_of(ret) in (QUARANTINED, ACCEPTED)
    if status_of(ret) == QUARANTINED:
        assert_quarantined_with_reason(ret)


def fuzzed(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 2, 4, 16))):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


@pytest.mark.parametrize("fmt", ["xlsx", pytest.param("ods", marks=pytest.mark.slow),
                                 pytest.param("xls", marks=pytest.mark.slow)])
def test_fuzzed_bytes_of_each_container_are_read_or_quarantined_with_a_reason(cat, good, fmt, capfd):
    data = good["xlsx"] if fmt == "xlsx" else office_copy(good, fmt)
    rng = random.Random(f"fuzz-{fmt}")
    states = {}
    for _ in range(150):
        ret = read_return(fuzzed(data, rng), f"r.{fmt}", cat)
        states[status_of(ret)] = states.get(status_of(ret), 0) + 1
        if status_of(ret) == QUARANTINED:
            assert_quarantined_with_reason(ret)
        for f in ret.findings:
            assert ukrainian(f.message), f.message
    print(fmt, states)
    assert "panicked" not in capfd.readouterr().err


# ---------------------------------------------------------------------------------
# encrypted
# ---------------------------------------------------------------------------------

def lo_encrypted(src: bytes, suffix: str, filter_name: str, tmp_path: Path) -> bytes:
    """The file saved by LibreOffice with a password to open (its Python-UNO bridge: python3-uno)."""
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import uno"], capture_output=True) if os.path.exists(python) else None
    if probe is None or probe.returncode:
        msg = "python3-uno is not installed (apt-get install python3-uno; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    path, out = tmp_path / f"plain.{suffix}", tmp_path / f"secret.{suffix}"
    path.write_bytes(src)
    subprocess.run([python, str(ROOT / "tests" / "tools" / "lo_encrypt.py"), str(path), str(out), filter_name,
                    "пароль", str(tmp_path / "lo-profile")], check=True, timeout=180)
    return out.read_bytes()


def test_an_xlsx_encrypted_by_msoffcrypto_is_password_protected(cat, good):
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(good["xlsx"])).encrypt("пароль", out)
    ret = read_return(out.getvalue(), "r.xlsx", cat)
    assert_quarantined_with_reason(ret, "encrypted", "Файл захищено паролем")


@pytest.mark.slow
@pytest.mark.parametrize("fmt,filter_name", [("xls", "MS Excel 97"), ("ods", "calc8")])
def test_xls_and_ods_saved_with_a_password_by_libreoffice_are_password_protected(cat, good, tmp_path, fmt,
                                                                                 filter_name):
    secret = lo_encrypted(office_copy(good, fmt), fmt, filter_name, tmp_path)
    assert secret != good[fmt]
    ret = read_return(secret, f"r.{fmt}", cat)
    assert_quarantined_with_reason(ret, "encrypted", "Файл захищено паролем")  # not «пошкоджено»


# ---------------------------------------------------------------------------------
# huge claims, bounded before anything is materialised
# ---------------------------------------------------------------------------------

def test_huge_claims_in_xlsx_are_refused_before_reading(cat, good):
    data = good["xlsx"]
    part = sheet_part(data, EXECUTION)
    cases = {
        "cells without references, a 40th row of 1 million": (xlsx_cells_without_references(data, part, 1_000_000),
                                                               EXECUTION),
        "40 sheets of 999 × 702 (no reference past ZZ999)": (xlsx_many_wide_sheets(data, 40), ""),
        "20,000 cells showing one 32,000-character shared string": (xlsx_shared_string_copies(data, part, 20_000),
                                                                   ""),
    }
    for what, (hostile, sheet) in cases.items():
        assert len(hostile) < 10 * 1024 * 1024, what
        ret = read_return(hostile, "r.xlsx", cat)
        assert_quarantined_with_reason(ret, None)
        assert ret.findings[0].code in ("too-large", "zip-bomb"), (what, brief(ret.findings))
        if sheet:
            assert ret.findings[0].sheet == sheet, what


@pytest.mark.slow
def test_huge_claims_in_xls_and_ods_are_refused_before_reading(cat, good):
    xls, ods = office_copy(good, "xls"), office_copy(good, "ods")
    cases = {
        "xls: one cell at IV65536": (xls_far_cell(xls), "xls", EXECUTION),
        "xls: DIMENSIONS claims 65,536 × 256": (xls_claiming(xls, 65536, 256), "xls", EXECUTION),
        "xls: DIMENSIONS first row past the last": (_wrapped_dims(xls), "xls", EXECUTION),
        "ods: a number cell repeated 1,000,000 × 16,000": (ods_repeated(ods, 1_000_000, 16_000), "ods", None),
        "ods: 30,000 characters repeated 200 × 10": (ods_repeated(ods, 10, 200, b"y" * 30_000), "ods", None),
    }
    for what, (hostile, fmt, sheet) in cases.items():
        ret = read_return(hostile, f"r.{fmt}", cat)
        assert_quarantined_with_reason(ret, "too-large")
        if sheet:
            assert ret.findings[0].sheet == sheet, what


def _wrapped_dims(xls: bytes) -> bytes:
    """DIMENSIONS whose first row is past its last: calamine 0.37 reserved (last - first) × … wrapping to 2^32."""
    import struct

    from .corpus_util import xls_patch_records

    def patch(kind, body, index):
        if kind == 0x0200 and index == 2:
            return struct.pack("<IIHH", 50, 16, 0, 10) + body[12:]
    return xls_patch_records(xls, patch)


# ---------------------------------------------------------------------------------
# readable workbooks that were refused
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_xls_streams_named_in_capitals_or_lower_case_are_read_like_the_original(cat, good):
    xls = office_copy(good, "xls")
    expected = values_by_key(read_return(xls, "r.xls", cat))
    for name in ("WORKBOOK", "BOOK", "Book", "workbook"):
        renamed = xls_stream_renamed(xls, name)
        assert sniff_format(renamed) == "xls", name
        ret = read_return(renamed, "r.xls", cat)
        assert status_of(ret) == ACCEPTED and values_by_key(ret) == expected, (name, brief(ret.findings))


def test_an_xlsx_whose_workbook_part_is_elsewhere_is_found_through_its_relationships(cat, good):
    expected = read_return(good["xlsx"], "r.xlsx", cat)
    for where in ("xl/book.xml", "wb/workbook.xml"):
        moved = xlsx_relocated(good["xlsx"], where)
        assert "xl/workbook.xml" not in zip_parts(moved) and sniff_format(moved) == "xlsx"
        ret = read_return(moved, "r.xlsx", cat)
        assert status_of(ret) == ACCEPTED and values_by_key(ret) == values_by_key(expected), where
        assert (ret.executor, ret.identified_by) == ("MINJUST", "meta")


def test_an_xlsm_with_a_macro_sheet_is_read_and_its_macros_never_run(cat, good, tmp_path):
    xlsm = xlsm_with_macro_sheet(good["xlsx"])
    assert sniff_format(xlsm) == "xlsm"
    ret = read_return(xlsm, "r.xlsm", cat)
    assert status_of(ret) == ACCEPTED and values_by_key(ret) == values_by_key(read_return(good["xlsx"], "r", cat))
    assert "calc.exe" not in json.dumps([v._asdict() for v in ret.values], ensure_ascii=False)


@pytest.mark.slow
def test_the_macro_sheet_workbook_is_one_libreoffice_opens(good, tmp_path):
    need_binary("soffice")
    from consolidate.office import convert

    src = tmp_path / "macro.xlsm"
    src.write_bytes(xlsm_with_macro_sheet(good["xlsx"]))
    assert sniff_format(convert(src, "ods", tmp_path / "ods").read_bytes()) == "ods"


def test_a_single_bad_crc_is_a_damaged_file_not_a_zip_bomb(cat, good):
    data = good["xlsx"]
    ret = read_return(zip_bad_crc(data, sheet_part(data, FUNDING)), "r.xlsx", cat)
    assert_quarantined_with_reason(ret, "unreadable", "Файл пошкоджено: стиснені дані")
    assert "CRC" in ret.findings[0].detail


def test_xml_entity_declarations_used_in_ods_content_are_unsafe_xml(cat, good):
    parts = zip_parts(good["xlsx"])
    part = sheet_part(good["xlsx"], EXECUTION)
    lol = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;'
           b'&a;&a;&a;">]>')
    parts[part] = lol + parts[part].replace(b"<sheetData>", b"<sheetData><!-- &b; -->", 1).replace(
        b"</sheetData>", b'<row r="90"><c r="A90" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData>')
    ret = read_return(zipped(parts, stored=()), "r.xlsx", cat)
    assert_quarantined_with_reason(ret, "unsafe-xml")


@pytest.mark.slow
def test_an_indented_ods_copy_of_a_template_is_read_with_identical_values(cat, good):
    ods = office_copy(good, "ods")
    indented = ods_indented(ods)
    assert b"\n  <table:table-cell" in zip_parts(indented)["content.xml"]
    original, ret = read_return(ods, "r.ods", cat), read_return(indented, "r.ods", cat)
    assert status_of(ret) == status_of(original) == ACCEPTED
    assert values_by_key(ret) == values_by_key(original) and brief(ret.findings) == brief(original.findings)
    assert (ret.executor, ret.period, ret.identified_by) == (original.executor, original.period, "meta")


# ---------------------------------------------------------------------------------
# a panic inside the reader: a reason, never a traceback
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_rust_panic_in_the_reader_is_a_reason_in_this_process_in_reader_processes_and_in_the_dry_run(
        cat, good, tmp_path, capfd):
    panicking = xls_formula_overrun(office_copy(good, "xls"))
    ret = read_return(panicking, "r.xls", cat)
    assert_quarantined_with_reason(ret, "unreadable", "Файл пошкоджено: його вміст суперечить формату")
    assert ret.findings[0].detail.startswith("PanicException")
    assert "panicked" in ret.findings[0].detail  # Rust's own message, captured from stderr for developers
    err = capfd.readouterr().err
    assert "panicked" not in err and "Traceback" not in err

    ws = init_workspace(tmp_path / "ws")
    (ws.inbox / "звіт.xls").write_bytes(panicking)
    (ws.inbox / "добрий.xlsx").write_bytes(good["xlsx"])
    dry = CliRunner().invoke(main, ["intake", "--dry-run", "--json", "-w", str(ws.root)])
    assert dry.exit_code == 1, dry.output
    files = {f["file"]: f for f in json.loads(dry.output)}
    assert files["звіт.xls"]["state"] == QUARANTINED and files["добрий.xlsx"]["state"] == ACCEPTED
    assert files["звіт.xls"]["findings"][0]["detail"].startswith("PanicException")
    outcomes = inbox.run_intake(ws, workers=2)
    assert {o.name: o.state for o in outcomes} == {"звіт.xls": QUARANTINED, "добрий.xlsx": ACCEPTED}
    crashed = next(o for o in outcomes if o.name == "звіт.xls")
    assert [f.code for f in crashed.findings] == ["unreadable"]  # read, not "reader-crashed": nothing died
    note = next(ws.quarantine.glob("*.xls.txt")).read_text(encoding="utf-8")
    assert "суперечить формату" in note and "Panic" not in note and "panicked" not in note
    err = capfd.readouterr().err
    assert "panicked" not in err and "Traceback" not in err


def test_a_panic_from_the_reader_library_is_caught_where_reading_happens(cat, good, monkeypatch):
    import python_calamine

    class PanicException(BaseException):  # what pyo3 raises: not an Exception
        pass

    def panic(*args, **kwargs):
        raise PanicException("index out of bounds: the len is 3 but the index is 7")
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", panic)
    ret = read_return(good["xlsx"], "r.xlsx", cat)
    assert_quarantined_with_reason(ret, "unreadable", "Файл пошкоджено: його вміст суперечить формату")
    assert "index out of bounds" in ret.findings[0].detail and "index" not in ret.findings[0].message


# ---------------------------------------------------------------------------------
# every reader error class: a Ukrainian reason
# ---------------------------------------------------------------------------------

def test_every_reader_error_class_maps_to_a_ukrainian_reason():
    import zipfile
    import zlib
    from xml.etree.ElementTree import ParseError

    import python_calamine

    cases = {
        python_calamine.XmlError("unexpected tag"): "xml-damaged",
        python_calamine.ZipError("invalid checksum"): "zip-damaged",
        python_calamine.WorksheetNotFound("x"): "part-missing",
        python_calamine.CalamineError("Unexpected end of file"): "truncated",
        python_calamine.CalamineError("BIFF5 is not supported"): "unsupported",
        python_calamine.CalamineError("Cannot detect file format"): "unreadable",
        zipfile.BadZipFile("Bad CRC-32 for file"): "zip-damaged",
        zlib.error("invalid distance too far back"): "zip-damaged",
        EOFError(): "truncated",
        ParseError("mismatched tag"): "xml-damaged",
        KeyError("xl/styles.xml"): "part-missing",
        MemoryError(): "unreadable",
    }
    for exc, kind in cases.items():
        assert reasons.kind_of(exc) == kind, exc
        finding = reasons.from_exception("r.xlsx", exc).finding
        assert finding.code == "unreadable" and ukrainian(finding.message), finding.message
        assert finding.detail.startswith(type(exc).__name__)
    for kind, message in reasons.MESSAGES.items():
        assert ukrainian(message), kind


def test_the_raw_error_is_kept_in_the_ledger_and_the_json_not_in_the_note(cat, good, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    (ws.inbox / "cut.xlsx").write_bytes(good["xlsx"][:5000])
    res = CliRunner().invoke(main, ["intake", "--json", "-w", str(ws.root)])
    (entry,) = json.loads(res.output)["files"]
    assert entry["findings"][0]["detail"] and entry["findings"][0]["message"].startswith("Файл обрізано")
    from consolidate.ledger import Ledger

    with Ledger(ws.ledger_path) as ledger:
        (record,) = ledger.quarantined()
        assert ledger.file_findings(record.id)[0].detail == entry["findings"][0]["detail"]
    note = next(ws.quarantine.glob("*.txt")).read_text(encoding="utf-8")
    assert entry["findings"][0]["detail"] not in note and "Файл обрізано" in note



def test_entity_bombs_in_shared_strings_and_styles_are_unsafe_xml_not_damaged(cat, good):
    from .hostile_util import billion_laughs, with_doctype

    base = xlsx_shared_string_copies(good["xlsx"], sheet_part(good["xlsx"], EXECUTION), 3, 10)
    parts = zip_parts(base)
    bodies = {"xl/sharedStrings.xml": ("sst", parts["xl/sharedStrings.xml"].replace(b"<t>xxxxxxxxxx</t>",
                                                                                    b"<t>&lol9;</t>")),
              "xl/styles.xml": ("styleSheet", parts["xl/styles.xml"].replace(b"</styleSheet>",
                                                                            b"<extLst>&lol9;</extLst></styleSheet>"))}
    for part, (root, body) in bodies.items():
        ret = read_return(zipped({**parts, part: with_doctype(body, root, billion_laughs())}, stored=()), "r.xlsx",
                          cat)
        assert_quarantined_with_reason(ret, "unsafe-xml")  # calamine would say "unknown entity": «пошкоджено»
        assert ret.findings[0].found == part


@pytest.mark.slow
def test_the_xls_scanner_counts_the_shared_strings_calamine_shows(tmp_path):
    """Rich text and strings continued across CONTINUE records: the scan's lengths are what calamine reads."""
    need_binary("soffice")
    import openpyxl
    import python_calamine
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    from consolidate.intake import biff
    from consolidate.office import convert

    wb = openpyxl.Workbook()
    for r in range(1, 3000):
        wb.active.cell(r, 1, CellRichText([TextBlock(InlineFont(b=True), "Жирний " * (r % 7 + 1)),
                                           f" звичайний текст рядка {r} " * 3, TextBlock(InlineFont(i=True), "курсив")]))
        wb.active.cell(r, 2, f"простий текст {r} " * (r % 50))
    wb.save(tmp_path / "rich.xlsx")
    data = convert(tmp_path / "rich.xlsx", "xls", tmp_path / "xls").read_bytes()
    ole = biff.Ole(data)
    book = biff.scan(ole, ole.find(biff.WORKBOOK_NAMES), 1 << 26)
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert book.sheets[0].string_chars == sum(len(c) for row in rows for c in row if isinstance(c, str)) > 1_000_000
    assert book.sheets[0].used == (len(rows), 2)
