"""The national report as a Word document (and PDF), read back with python-docx, compared with
the xlsx report and with the ministry's 2024 report (the seed text)."""

from __future__ import annotations

import copy
import dataclasses
import io
import re
import struct
import subprocess

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from python_calamine import CalamineWorkbook

from consolidate import office
from consolidate.catalogue import GROUPS
from consolidate.errors import ConsolidateError
from consolidate.numbers import format_amount, format_value
from consolidate.reconcile import SUBTOTAL_KINDS, SUBTOTAL_LABELS, reconcile
from consolidate.report import status_line
from consolidate.report import S1_HEADERS, S1_ID_COL, S2_HEADERS, S2_ID_COL, SECTION1, SECTION2, build_report
from consolidate.report_docx import (ANNEX_TITLE, FONT, FONT_FALLBACK, PROGRAMME_TOTAL, SECTION1_TITLE,
                                     SECTION2_TITLE, SECTION3_TITLE, build_docx, docx_to_text, write_pdf)
from consolidate.seed import amount, funding_line_id, funding_source_holder, parse_seed, seed_path

from .conftest import ROOT, need_binary
from .util import make_returns

NEVER = "MKIP"  # an executor that never reports
INJECTION = "=HYPERLINK(\"http://x\",\"клік\")\n@SUM(A1)"
CONTROL = "Текст із керівним символом\x07 і \x0bвертикальною табуляцією"


@pytest.fixture(scope="module")
def rec(cat, sim):
    values = copy.deepcopy({k: v for k, v in sim.values.items() if k != NEVER})
    values["NSSU"]["execution"]["T2.6"]["narrative"] = INJECTION
    values["MOZ"]["execution"]["T1.10"]["narrative"] += "\n" + CONTROL
    return reconcile(cat, "2024", make_returns(values))


@pytest.fixture(scope="module")
def data(cat, rec):
    return build_docx(cat, rec)


@pytest.fixture(scope="module")
def doc(data):
    return Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def xlsx(cat, rec):
    return build_report(cat, rec)


@pytest.fixture(scope="module")
def text(data):
    return docx_to_text(data)


def _xlsx_rows(data: bytes, sheet: str):
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet).to_python()


def _cell_text(tc) -> str:
    return "\n".join(Paragraph(p, None).text for p in tc.p_lst)


def _rows(table) -> list[list]:
    """A table's rows as lists of w:tc elements (merged-away cells are absent or vMerge=continue)."""
    return [list(tr.tc_lst) for tr in table._tbl.tr_lst]


def _texts(row) -> list[str]:
    return ["" if tc.vMerge == "continue" else _cell_text(tc) for tc in row]


def _bold(tc) -> bool:
    runs = [r for p in tc.p_lst for r in p.r_lst if r.text]
    return bool(runs) and all(r.rPr is not None and r.rPr.b is not None and r.rPr.b.val for r in runs)


def _amount(x) -> str:
    return format_amount(x, 1, thin=True)


def _section_of_tables(doc) -> list[int]:
    """Index of the document section each table stands in."""
    out, section = [], 0
    for el in doc.element.body.iterchildren():
        if el.tag == qn("w:tbl"):
            out.append(section)
        elif el.tag == qn("w:p") and el.find(qn("w:pPr") + "/" + qn("w:sectPr")) is not None:
            section += 1
    return out


def _subtotal_blocks(table) -> dict:
    """{task number or None: {kind: (row tcs)}} from the 7-cell subtotal rows of section I."""
    blocks: dict = {}
    current = None
    for row in _rows(table):
        if len(row) != 7:
            continue
        texts = _texts(row)
        if texts[0].startswith("Разом за завданням"):
            current = int(texts[0].split()[-1])
        elif texts[0] == PROGRAMME_TOTAL:
            current = None
        kind = next(k for k, label in SUBTOTAL_LABELS.items() if texts[1] == label)
        blocks.setdefault(current, {})[kind] = row
    return blocks


# ---------------------------------------------------------------------------------
# structure
# ---------------------------------------------------------------------------------

def test_sections_orientation_and_tables(doc):
    sections = doc.sections
    assert len(sections) == 3
    for s in sections[:2]:
        assert s.orientation == WD_ORIENT.LANDSCAPE and s.page_width > s.page_height
        assert round(s.page_width.mm) == 297 and round(s.page_height.mm) == 210
    assert sections[2].orientation == WD_ORIENT.PORTRAIT and sections[2].page_width < sections[2].page_height
    tables = doc.tables
    assert len(tables) == 3  # I, II, annex (МКІП has not reported)
    assert len(tables[0].columns) == 9
    assert len(tables[1].columns) == 7
    assert _section_of_tables(doc)[:2] == [0, 1]  # each table on its own landscape section
    total_width = sum(c.width for c in tables[0].columns)
    usable = sections[0].page_width - sections[0].left_margin - sections[0].right_margin
    assert abs(total_width - usable) < 36000  # within 1 mm of the text width


def test_header_rows_repeat(doc):
    s1, s2 = doc.tables[0], doc.tables[1]
    for table, headers in ((s1, S1_HEADERS), (s2, S2_HEADERS[:7])):
        first = table._tbl.tr_lst[0]
        assert first.trPr is not None and first.trPr.find(qn("w:tblHeader")) is not None
        assert _texts(first.tc_lst) == list(headers)
        assert all(tr.trPr is None or tr.trPr.find(qn("w:tblHeader")) is None for tr in table._tbl.tr_lst[1:])


def test_body_titles_and_footer(doc, cat):
    paragraphs = [p.text for p in doc.paragraphs]
    assert paragraphs[0] == "ЗВІТ"
    assert paragraphs[1] == f"про результати виконання {cat.programme.title_genitive} у 2024 році"
    titles = [t for t in paragraphs if t in (SECTION1_TITLE, SECTION2_TITLE, SECTION3_TITLE)]
    assert titles == [SECTION1_TITLE, SECTION2_TITLE, SECTION3_TITLE]
    footer = doc.sections[0].footer._element
    instr = [i.text.strip() for i in footer.iter(qn("w:instrText"))]
    assert instr == ["PAGE", "NUMPAGES"]
    assert "Сторінка" in "".join(footer.itertext())
    for s in doc.sections[1:]:
        assert s.footer.is_linked_to_previous


def test_merged_task_and_measure_cells(doc, cat):
    rows = _rows(doc.tables[0])[1:]
    data_rows = [r for r in rows if len(r) == 9]
    assert data_rows[0][0].vMerge == "restart" and _cell_text(data_rows[0][0]).startswith("2. ")
    assert data_rows[0][1].vMerge == "restart" and _cell_text(data_rows[0][1]).startswith("1) ")
    assert data_rows[1][0].vMerge == "continue" and data_rows[1][1].vMerge == "continue"
    # one «restart» per task and per measure with several lines
    restarts = [_cell_text(r[0]) for r in data_rows if r[0].vMerge != "continue" and _cell_text(r[0])]
    tasks_with_funding = [t for t in cat.tasks if any(cat.measure(f.measure_id).task_id == t.id for f in cat.funding)]
    assert restarts == [f"{t.number}. {t.name}" for t in tasks_with_funding]
    # subtotal rows: label merged over two columns and six rows, kind label over two columns
    sub = [r for r in rows if len(r) == 7]
    assert len(sub) == 6 * (len(tasks_with_funding) + 1)
    assert all(r[0].grid_span == 2 and r[1].grid_span == 2 for r in sub)
    assert [r[0].vMerge for r in sub[:6]] == ["restart"] + ["continue"] * 5
    # section II: measure, executors and narrative merged down the measure's indicator rows
    rows2 = _rows(doc.tables[1])[1:]
    t1_10 = next(i for i, r in enumerate(rows2) if _cell_text(r[1]).startswith("10) нормативно-правове"))
    assert all(rows2[t1_10][c].vMerge in (None, "restart") for c in (1, 5, 6))
    multi = next(i for i, r in enumerate(rows2) if r[1].vMerge == "restart")
    assert all(rows2[multi + 1][c].vMerge == "continue" for c in (1, 5, 6))
    assert rows2[multi + 1][2].vMerge is None and _cell_text(rows2[multi + 1][2])


def test_subtotal_rows_bold_with_reconciled_figures(cat, doc, rec, xlsx):
    blocks = _subtotal_blocks(doc.tables[0])
    funded = [t.number for t in cat.tasks if any(cat.measure(f.measure_id).task_id == t.id for f in cat.funding)]
    assert list(blocks) == funded + [None] == [2, 3, 4, 6, 7, None]
    for task, kinds in blocks.items():
        assert list(kinds) == list(SUBTOTAL_KINDS)
        assert _texts(kinds["total"])[0] == (PROGRAMME_TOTAL if task is None else f"Разом за завданням {task}")
        for kind, row in kinds.items():
            st = rec.subtotal(None if task is None else f"T{task}", kind)
            assert all(_bold(tc) for tc in row if _cell_text(tc)), (task, kind)
            assert _texts(row)[2:6] == [_amount(v) for v in (st.programme_amount, st.planned, st.financed, st.cash)]
    total = [t.replace("\u2009", "") for t in _texts(blocks[None]["total"])[2:6]]
    assert total == ["3406,4", "1014,5", "985,6", "608,5"]  # the seed prints 3406,0 (its task 7 subtotal is 142,0)
    assert "\u2009" in _texts(blocks[None]["total"])[2]  # thin-space groups, as in the seed
    # the same figures as the xlsx report's cached subtotal values
    xrows = _xlsx_rows(xlsx, SECTION1)
    for i, r in enumerate(xrows):
        if str(r[0]) == "Разом по Програмі":
            assert [_amount(x) for x in r[4:8]] == _texts(blocks[None]["total"])[2:6]
            assert [_amount(x) for x in xrows[i + 4][4:8]] == _texts(blocks[None]["local"])[2:6]


def test_section_one_lines_equal_xlsx(doc, xlsx):
    xrows = [r for r in _xlsx_rows(xlsx, SECTION1) if str(r[S1_ID_COL]).startswith("F.")]
    drows = [_texts(r) for r in _rows(doc.tables[0])[1:] if len(r) == 9]
    assert len(drows) == len(xrows) == 33
    for x, d in zip(xrows, drows):
        assert d[2] == x[2] and d[3] == x[3], x[S1_ID_COL]
        for c in range(4, 8):
            expected = _amount(x[c]) if isinstance(x[c], (int, float)) else x[c]
            assert d[c] == expected, (x[S1_ID_COL], c)
        assert d[8] == x[8]


def test_section_two_values_equal_xlsx(cat, doc, rec, xlsx):
    xrows = [r for r in _xlsx_rows(xlsx, SECTION2) if "." in str(r[S2_ID_COL])]
    rows = _rows(doc.tables[1])[1:]
    drows = [_texts(r) for r in rows if not (r[0].vMerge == "restart" and _cell_text(r[0]))]
    task_rows = [_texts(r)[0] for r in rows if r[0].vMerge == "restart" and _cell_text(r[0])]
    assert task_rows == [f"{t.number}. {t.name}" for t in cat.tasks]
    assert len(drows) == len(xrows)
    compared = 0
    for x, d in zip(xrows, drows):
        assert d[2] == x[2], x[S2_ID_COL]
        assert d[3] == (format_value(x[3]) if isinstance(x[3], (int, float)) else x[3])
        shown = d[4].split("\n")[0]
        ir = next(r for r in rec.indicators if r.indicator.id == x[S2_ID_COL])
        expected = format_value(x[4]) if isinstance(x[4], (int, float)) else x[4]
        if ir.incomplete and isinstance(x[4], (int, float)):
            expected += " *"  # one short marker; who is missing is said once, below the table
        assert shown == expected, x[S2_ID_COL]
        if isinstance(x[4], (int, float)):
            compared += 1
    assert compared >= 40
    # the narrative: agency headers then paragraphs, as reconciled
    mr = next(m for m in rec.measures if m.measure.id == "T1.10")
    cell = next(r[6] for r in rows if _cell_text(r[1]).startswith("10) нормативно-правове"))
    status = status_line(cat, mr)  # the status the executors chose, first (italic)
    assert status.startswith("Стан: ")
    assert _cell_text(cell) == status + "\n" + mr.narrative_text().replace("\x07", "").replace("\x0b", "")
    headers = [Paragraph(p, None) for p in cell.p_lst]
    assert headers[0].text == status and all(r.italic for r in headers[0].runs)
    assert headers[1].text == mr.blocks[0].header and all(r.bold for r in headers[1].runs)


def test_text_export_reads_like_the_seed(cat, text):
    seed_text = seed_path().read_text(encoding="utf-8")

    def titles(t):
        norm = [" ".join(line.split()) for line in t.split("\n")]
        return [line for line in norm if line in (SECTION1_TITLE, SECTION2_TITLE, SECTION3_TITLE)]

    assert titles(seed_text) == titles(text) == [SECTION1_TITLE, SECTION2_TITLE, SECTION3_TITLE]
    seed, ours = parse_seed(), parse_seed(text)
    assert ours.title_lines[:2] == ["ЗВІТ", f"про результати виконання {cat.programme.title_genitive} у 2024 році"]
    group_labels = {label for label, _ in GROUPS.values()}

    def line_ids(report):
        out = []
        for row in report.funding:
            if row.holder in group_labels and not row.measure_row:
                row = dataclasses.replace(row, holder="")  # the seed leaves a group holder's cell empty
            source, holder = funding_source_holder(row, cat.registry)
            out.append(funding_line_id(f"T{row.task}.{row.measure}", source, holder))
        return out

    assert line_ids(ours) == line_ids(seed)  # same section I rows, same order
    for s_row, o_row in zip(seed.funding, ours.funding):
        for raw_s, raw_o in ((s_row.financed, o_row.financed), (s_row.cash, o_row.cash)):
            if amount(raw_s) is not None and amount(raw_o) is not None:
                assert round(amount(raw_o), 1) == round(amount(raw_s), 1), s_row.line
    assert [(s.task, s.kind) for s in ours.subtotals] == [(t, k) for t in (2, 3, 4, 6, 7, None)
                                                          for k in SUBTOTAL_KINDS]
    assert [(r.task, r.measure) for r in ours.execution] == [(r.task, r.measure) for r in seed.execution]
    assert ours.proposals.startswith("Пропонується продовжити виконання завдань і заходів")


def test_fonts_render_cyrillic(doc, data):
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    rfonts = defaults.find(qn("w:rFonts"))
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        assert rfonts.get(qn(attr)) == FONT
    assert rfonts.get(qn("w:asciiTheme")) is None
    assert defaults.find(qn("w:lang")).get(qn("w:val")) == "uk-UA"
    normal = doc.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:cs")) == FONT and normal.get(qn("w:eastAsia")) == FONT
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        fonts = z.read("word/fontTable.xml").decode("utf-8")
        assert "docProps/thumbnail.jpeg" not in z.namelist()
    assert re.search(rf'<w:font w:name="{FONT}">\s*<w:altName w:val="{FONT_FALLBACK}"/>', fonts)


def test_text_is_inserted_as_text(doc, text):
    assert INJECTION in text
    assert "Текст із керівним символом і вертикальною табуляцією" in text
    body = doc.element.body
    assert next(body.iter(qn("w:instrText")), None) is None
    assert next(body.iter(qn("w:fldSimple")), None) is None
    assert next(body.iter(qn("w:hyperlink")), None) is None


def test_annex_and_draft(cat, sim, rec, text):
    assert ANNEX_TITLE in text
    annex = text[text.index(ANNEX_TITLE):]
    assert "\tМКІП\n\tцентральний орган\n\tне подано" in annex
    draft = build_docx(cat, rec, draft="ЧЕРНЕТКА: дані не затверджено")
    d = Document(io.BytesIO(draft))
    assert d.paragraphs[0].text == "ЧЕРНЕТКА: дані не затверджено"
    assert d.sections[0].header.paragraphs[0].text == "ЧЕРНЕТКА: дані не затверджено"
    # everyone reported (some with an empty return): the report has no annex
    values = {code: sim.values.get(code, {}) for code in cat.expected_executors()}
    full = reconcile(cat, "2024", make_returns(values))
    assert not full.missing_executors
    full_text = docx_to_text(build_docx(cat, full))
    assert ANNEX_TITLE not in full_text
    assert full_text.rstrip().endswith(full.proposals[-1].text.strip() + "\nАвтор пропозиції: Мінсоцполітики")


def test_docx_to_text_format(text):
    lines = text.split("\n")
    s1 = lines.index(SECTION1_TITLE)
    assert lines[s1 + 1:s1 + 3] == ["\tНайменування завдання", "\tНайменування заходу"]
    assert lines[s1 + 10] == ""  # the header row's nine cells, then an empty line
    assert lines[s1 + 11].startswith("\t2. ")


# ---------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------

def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def pdf(data, tmp_path_factory):
    need_binary("soffice")
    out = tmp_path_factory.mktemp("pdf") / "Звіт 2024.pdf"
    assert write_pdf(data, out) == out
    return out


@pytest.mark.slow  # LibreOffice
def test_pdf_has_the_programme_total_line(pdf):
    pdftotext = need_binary("pdftotext")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    layout = subprocess.run(["timeout", "60", pdftotext, "-layout", "-enc", "UTF-8", str(pdf), "-"],
                            capture_output=True, timeout=90, check=True).stdout.decode("utf-8")
    assert re.search(r"Разом по Програмі\s+Усього\s+3\s?406,4\s+1\s?014,5\s+985,6\s+608,5\s+-", layout)
    assert re.search(r"Разом за завданням 7\s+Усього\s+142,4", layout)
    pages = office.pdf_text(pdf).split("\f")
    assert SECTION1_TITLE in pages[0]
    s2 = next(i for i, p in enumerate(pages) if SECTION2_TITLE in p)
    s3 = next(i for i, p in enumerate(pages) if SECTION3_TITLE in p)
    assert 0 < s2 < s3
    assert "Найменування показника" in " ".join(pages[s2 + 1].split())  # the header row repeats


@pytest.mark.slow  # LibreOffice
def test_pdf_pages_are_landscape_for_the_tables(pdf, tmp_path):
    need_binary("pdftoppm")
    need_binary("pdftotext")
    pages = office.pdf_text(pdf).split("\f")
    s2 = next(i for i, p in enumerate(pages) if SECTION2_TITLE in p) + 1
    s3 = next(i for i, p in enumerate(pages) if SECTION3_TITLE in p) + 1
    for page in (1, s2):
        (png,) = office.pdf_to_png(pdf, tmp_path / f"p{page}", page, page, dpi=30)
        w, h = _png_size(png)
        assert w > h and abs(w / h - 297 / 210) < 0.02
    (png,) = office.pdf_to_png(pdf, tmp_path / "p3", s3, s3, dpi=30)
    w, h = _png_size(png)
    assert h > w


def test_write_pdf_without_libreoffice(monkeypatch, tmp_path, data):
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    with pytest.raises(ConsolidateError, match="LibreOffice не встановлено"):
        write_pdf(data, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_docs_pictures_are_committed():
    for name in ("report-section1.png", "report-section2.png"):
        png = ROOT / "docs" / name
        assert png.is_file(), name
        w, h = _png_size(png)
        assert w > h and w >= 1000
        assert (ROOT / "docs" / "report.md").read_text(encoding="utf-8").count(name) >= 1


# ---------------------------------------------------------------------------------
# the CLI: consolidate report --format docx|pdf|all
# ---------------------------------------------------------------------------------

def _record_return(ws) -> None:
    from consolidate.ledger import Ledger
    from consolidate.model import ACCEPTED, Return

    from .util import cell_values

    ret = Return(file="MINJUST.xlsx", sha256=f"{7:064x}", executor="MINJUST", period="2024",
                 template_version=ws.catalogue.template_version, identified_by="meta",
                 values=cell_values({"funding": {"F.T2.2.SG.MINJUST": {"financed": 1234.5, "cash": 9.0}}}))
    with Ledger(ws.ledger_path) as ledger:
        receipt = ledger.record(ret, status=ACCEPTED, original_name=ret.file, size=1,
                                received_at="2025-01-10T10:00:00", archive_path=f"archive/{ret.sha256}.xlsx",
                                fmt="xlsx")
        # 1234,5 is twelve times what the programme provides: confirmed by the clerk (consolidate.outliers)
        from consolidate.review import outliers_of

        sub = ledger.submission(receipt.file.submission_id)
        ledger.record_confirmations([c.outlier for c in outliers_of(ws.catalogue, ledger, sub)], operator="Тест",
                                    reason="Перевірено", confirmed_at="2025-01-11T10:00:00")
        ledger.record_review(executor="MINJUST", period="2024", submission_id=receipt.file.submission_id,
                             decision="accept", comment="", operator="Тест", decided_at="2025-01-11T10:00:00")


@pytest.mark.slow  # LibreOffice
def test_cli_report_docx_and_pdf(workspace, monkeypatch):
    from click.testing import CliRunner

    from consolidate.cli import main

    _record_return(workspace)
    run = CliRunner().invoke
    res = run(main, ["report", "--format", "docx", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    text = docx_to_text((workspace.out / "report-2024.docx").read_bytes())
    assert "\t1\u2009234,5\n\t9,0\n" in text
    assert ANNEX_TITLE in text  # most executors have not reported
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    res = run(main, ["report", "--format", "pdf", "-w", str(workspace.root)])
    assert res.exit_code != 0 and "LibreOffice не встановлено" in res.output
    assert not (workspace.out / "report-2024.pdf").exists()
    monkeypatch.undo()
    need_binary("soffice")
    res = run(main, ["report", "--format", "all", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    for ext in ("xlsx", "docx", "pdf"):
        assert (workspace.out / f"report-2024.{ext}").stat().st_size > 0
    assert (workspace.out / "report-2024.pdf").read_bytes()[:5] == b"%PDF-"
