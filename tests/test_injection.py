"""Formulas and values crafted for injection stay inert text from intake to every output.

Narrative cells, proposals and a budget-programme cell carry spreadsheet formulas, a DDE payload,
an ``@`` function and signed arithmetic; the file name carries a formula and HTML.  They go through
intake → ledger → reconciliation → national report (xlsx, docx) and the status page and CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile

import openpyxl
from click.testing import CliRunner

from consolidate import inbox
from consolidate.cli import main
from consolidate.csvsafe import csv_cell
from consolidate.ledger import Ledger
from consolidate.reconcile import reconcile
from consolidate.report import build_report
from consolidate.report_docx import build_docx, docx_to_text
from consolidate.status import status_from_ledger

from .intake_util import complete, filled, merged

HYPERLINK = '=HYPERLINK("http://evil.example/x","клік")'
DDE = "=cmd|' /C calc'!A0"
AT_SUM = "@SUM(A1:A9)"
PLUS = "+1+1"
MINUS = "-2+3"
MARKUP = "<r><rPr><b/></rPr><t>жирний & </t></r>"  # xlsxwriter's own shape of a rich string
PROPOSALS = (HYPERLINK, DDE, AT_SUM, PLUS, MARKUP)
PAYLOADS = (*PROPOSALS, MINUS)
FILE_NAME = '=HYPERLINK("http:evil","x") <img src=x onerror=alert(1)>.xlsx'


def crafted(cat, folder):
    values = merged(complete(), {
        "funding": {"F.T2.2.SG.MINJUST": {"budget_code": MINUS, "comment": DDE}},
        "execution": {"T2.2": {"narrative": HYPERLINK}, "T3.7": {"narrative": DDE},
                      "T4.2": {"narrative": AT_SUM}, "T6.10": {"narrative": PLUS}},
        "proposals": {f"P{i + 1}": {"text": p} for i, p in enumerate(PROPOSALS)},
    })
    return filled(cat, folder, "crafted.xlsx", values)


def test_injection_payloads_stay_text_in_every_output(workspace, tmp_path):
    cat = workspace.catalogue
    (workspace.inbox / FILE_NAME).write_bytes(crafted(cat, tmp_path).read_bytes())
    (outcome,) = inbox.run_intake(workspace, workers=0)
    assert outcome.name == FILE_NAME and outcome.findings == []
    with Ledger(workspace.ledger_path) as ledger:
        (sub,) = ledger.latest_submissions("2024")
        stored = {(v.key, v.field): v.text for v in ledger.values(sub.id)}
        assert stored[("T2.2", "narrative")] == HYPERLINK and stored[("T3.7", "narrative")] == DDE
        assert [stored[(f"P{i + 1}", "text")] for i in range(5)] == list(PROPOSALS)
        rec = reconcile(cat, "2024", [(s, ledger.values(s.id)) for s in ledger.latest_submissions("2024")])
        rows, _ = status_from_ledger(cat, ledger, "2024", dt.date.today())

    # the national report (xlsx): every payload is a string cell, no formula carries one, no markup is copied
    report = build_report(cat, rec, rows)
    with zipfile.ZipFile(io.BytesIO(report)) as z:
        assert "<rPr><b/></rPr><t>жирний" not in z.read("xl/sharedStrings.xml").decode("utf-8")
    book = openpyxl.load_workbook(io.BytesIO(report))
    assert MARKUP in [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row]
    found: set[str] = set()
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if not isinstance(value, str):
                    continue
                hits = {p for p in PAYLOADS if p in value}
                if hits:
                    assert cell.data_type == "s", (ws.title, cell.coordinate, value)
                    found |= hits
                if cell.data_type == "f":
                    assert not re.search(r"HYPERLINK|cmd\||@SUM|evil", value), (ws.title, cell.coordinate, value)
    assert found == set(PAYLOADS)

    # the national report (docx): plain runs, no field codes
    docx = build_docx(cat, rec, rows)
    text = docx_to_text(docx)
    for p in (HYPERLINK, DDE, AT_SUM, PLUS):
        assert p in text
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode("utf-8")
    fields = re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>|<w:fldSimple [^>]*w:instr=\"([^\"]*)\"", xml)
    assert not any("HYPERLINK" in a + b or "cmd" in a + b for a, b in fields), fields
    assert "<w:hyperlink" not in xml

    # the status page (HTML) and CSV
    res = CliRunner().invoke(main, ["status", "--csv", "-w", str(workspace.root)])
    assert res.exit_code in (0, 1), res.output
    table = list(csv.reader(io.StringIO(res.stdout.lstrip("\ufeff")), delimiter=";"))
    header = table[0]
    minjust = next(r for r in table if r[0] == "MINJUST")
    assert minjust[header.index("Файл")] == "'" + FILE_NAME
    for r in table[1:]:
        for cell in r:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    page = (workspace.out / "status.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "=HYPERLINK(&quot;http:evil&quot;,&quot;x&quot;)" in page


def test_csv_cells_are_neutralised_numbers_are_kept():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "звіт.xlsx", "", 5, -3, True)] == [
        "'=1+1", "'+1", "'-2+3", "'@SUM(A1)", "'\t=1", "звіт.xlsx", "", 5, -3, 1]


def test_the_intake_console_shows_a_crafted_name_as_text(workspace, tmp_path):
    path = workspace.inbox / FILE_NAME
    path.write_bytes(crafted(workspace.catalogue, tmp_path).read_bytes())
    os.utime(path, (1_700_000_000, 1_700_000_000))
    res = CliRunner().invoke(main, ["intake", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert f"без зауважень: {FILE_NAME} → MINJUST, 2024" in res.output
