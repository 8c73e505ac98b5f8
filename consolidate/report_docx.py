"""The national report as a Word document in the ministry's layout, and as PDF.

:func:`build_docx` renders a :class:`~consolidate.reconcile.Reconciliation` the way the ministry's
annual report is laid out (``data/seed_2024_report.txt`` is that report exported to text):

* the title block, then section I «Фінансування завдань та заходів програми» as a 9-column
  table on landscape A4 pages: the header row repeats on every page, the task and measure cells
  are merged down their funding lines, and every task ends with a bold subtotal block
  «Разом за завданням N» (six rows: усього, державний бюджет, загальний фонд, спеціальний
  фонд, місцевий бюджет, інші), the table with «Разом по Програмі»;
* section II «Виконання (основних) завдань та заходів програми» as a 7-column table, one row
  per indicator, the measure, its executors and its assembled narrative (paragraphs grouped
  under agency headers) merged down the measure's indicator rows;
* section III «Пропозиції щодо подальшого виконання програми» as prose (portrait page);
* while the report is incomplete (an executor has not reported) or marked as a draft, an annex
  «Стан звітування виконавців».

Amounts are thousand UAH with a decimal comma and thin-space groups
(:func:`consolidate.numbers.format_amount`).  Every figure and every marker («не подано»,
«не здійснювалось», «дані неповні») comes from the helpers the xlsx report uses
(:mod:`consolidate.report`) and the subtotals from :meth:`Reconciliation.subtotal`, so the two
reports never disagree.  Text is always inserted as text (runs), never as fields; the only
fields are the page numbers of the footer.

Fonts: Times New Roman for Latin, Cyrillic (``w:cs``) and east-Asian text alike; the font table
names Liberation Serif (metric-compatible, shipped with LibreOffice) as its alternative.

:func:`docx_to_text` exports a docx the way the seed was exported (paragraphs as lines, every
table cell as a line starting with TAB, rows separated by an empty line) — what the tests
compare with the seed.  :func:`write_pdf` converts through LibreOffice headless
(:func:`consolidate.office.convert`, always under ``timeout``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from lxml import etree

from . import docx_fast
from .catalogue import Catalogue
from .docx_fast import Cell
from .errors import ConsolidateError
from .numbers import format_amount, format_value
from .reconcile import SUBTOTAL_LABELS, Reconciliation
from .report import (
    NIL_TEXT,
    NOT_REPORTED,
    PARTIAL_MARK,
    S1_HEADERS,
    S2_HEADERS,
    StatusRow,
    atomic_write,
    default_status_rows,
    funding_display,
    holder_label,
    indicator_display,
    measure_narrative,
    partial_footnote,
    period_phrase,
    proposal_authors,
    status_line,
    subtotal_note,
    unconfirmed_banner,
)
from .vocabulary import ReportingState
from .wording import ua_date

FONT = "Times New Roman"
FONT_FALLBACK = "Liberation Serif"
LANG = "uk-UA"

TITLE = "ЗВІТ"
SECTION1_TITLE = "І. Фінансування завдань та заходів програми"
SECTION2_TITLE = "ІІ. Виконання (основних) завдань та заходів програми"
SECTION3_TITLE = "ІІІ. Пропозиції щодо подальшого виконання програми"
ANNEX_TITLE = "Додаток. Стан звітування виконавців"
ANNEX_HEADERS = ("Виконавець", "Тип", "Стан", "Отримано", "Файл")
NO_PROPOSALS = "Пропозицій не надійшло."
PROGRAMME_TOTAL = "Разом по Програмі"
TASK_TOTAL = "Разом за завданням {number}"

S2_DOCX_HEADERS = S2_HEADERS[:7]  # the seed's seven columns (the xlsx adds «Повнота даних»)

# Column widths in millimetres; each table fills the text width of a landscape A4 page
# (297 mm − 20 mm − 12 mm margins = 265 mm).
S1_WIDTHS = (27, 42, 30, 24, 25, 25, 25, 25, 42)
S2_WIDTHS = (30, 42, 36, 20, 20, 30, 87)
ANNEX_WIDTHS = (44, 24, 32, 28, 47)  # portrait A4: 210 mm − 25 mm − 10 mm = 175 mm
LANDSCAPE_MARGINS = dict(left=20, right=12, top=15, bottom=15)
PORTRAIT_MARGINS = dict(left=25, right=10, top=20, bottom=20)

SUBTOTAL_FILL = "F2F2F2"
HEADER_FILL = "E7ECF5"
DRAFT_COLOUR = RGBColor(0xC0, 0x00, 0x00)
PDF_TIMEOUT = 300

# Paragraph styles: ASCII style ids, Ukrainian names (what a clerk sees in Word's style list).
ST_TITLE, ST_LINE, ST_SECTION, ST_BODY = "ReportTitle", "ReportLine", "ReportSection", "ReportBody"
ST_CELL, ST_NUMBER, ST_VALUE = "ReportCell", "ReportNumber", "ReportValue"
ST_HEAD, ST_DRAFT = "ReportHead", "ReportDraft"
STYLE_NAMES = {
    ST_TITLE: "Звіт: заголовок",
    ST_LINE: "Звіт: реквізити",
    ST_SECTION: "Звіт: розділ",
    ST_BODY: "Звіт: текст",
    ST_CELL: "Звіт: клітинка",
    ST_NUMBER: "Звіт: сума",
    ST_VALUE: "Звіт: показник",
    ST_HEAD: "Звіт: шапка таблиці",
    ST_DRAFT: "Звіт: позначка",
}

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    """Text as a run may hold it: XML-illegal characters dropped, line ends normalised."""
    return _ILLEGAL_XML.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")


def _lines(text: object) -> list[str]:
    """A cell's text as paragraphs (TAB would read as a cell boundary in the text export)."""
    return [line.replace("\t", " ").rstrip() for line in _clean(text).split("\n")]


def _amount(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return format_amount(value, 1, thin=True)


# ---------------------------------------------------------------------------------
# document set-up: fonts, styles, sections, footer
# ---------------------------------------------------------------------------------


def _set_fonts(rpr) -> None:
    """Times New Roman for every script on a w:rPr (theme fonts removed)."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), FONT)


def _set_lang(rpr) -> None:
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), LANG)
    lang.set(qn("w:eastAsia"), LANG)
    lang.set(qn("w:bidi"), "ar-SA")


def _font_table_fallback(doc, parts: docx_fast.Parts) -> None:
    """Name Liberation Serif as Times New Roman's alternative in the font table."""
    for part in doc.part.package.iter_parts():
        if not str(part.partname).endswith("/fontTable.xml"):
            continue
        root = etree.fromstring(part.blob)
        font = next((f for f in root.findall(qn("w:font")) if f.get(qn("w:name")) == FONT), None)
        if font is None:
            font = etree.SubElement(root, qn("w:font"))
            font.set(qn("w:name"), FONT)
        alt = font.find(qn("w:altName"))
        if alt is None:
            alt = etree.Element(qn("w:altName"))
            font.insert(0, alt)
        alt.set(qn("w:val"), FONT_FALLBACK)
        charset = font.find(qn("w:charset"))
        if charset is not None:
            charset.set(qn("w:val"), "CC")  # RUSSIAN_CHARSET: the Cyrillic code page
        parts.replace(part, etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _paragraph_style(
    doc,
    style_id: str,
    size: float,
    *,
    bold: bool = False,
    align=None,
    before: float = 0,
    after: float = 0,
    indent_first: float | None = None,
    keep_next: bool = False,
    colour: RGBColor | None = None,
    base: str | None = None,
):
    style = doc.styles.add_style(STYLE_NAMES[style_id], WD_STYLE_TYPE.PARAGRAPH)
    style.style_id = style_id
    style.base_style = doc.styles[STYLE_NAMES[base]] if base else doc.styles["Normal"]
    style.quick_style = True
    style.font.size = Pt(size)
    style.font.bold = bold
    if colour is not None:
        style.font.color.rgb = colour
    pf = style.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    pf.line_spacing = 1.0
    if align is not None:
        pf.alignment = align
    if indent_first is not None:
        pf.first_line_indent = Mm(indent_first)
    if keep_next:
        pf.keep_with_next = True
    return style


def _new_document(
    catalogue: Catalogue, rec: Reconciliation, parts: docx_fast.Parts, created: dt.datetime | None = None
):
    doc = Document()
    # the template's thumbnail (a python-docx picture) would show in file managers
    rels = doc.part.package.rels
    for rid, rel in list(rels.items()):
        if rel.reltype.endswith("/metadata/thumbnail"):
            rels.pop(rid)
    styles = doc.styles.element
    rpr_default = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr_default)
    _set_lang(rpr_default)
    ppr_default = styles.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr"))
    spacing = ppr_default.find(qn("w:spacing"))
    if spacing is not None:
        ppr_default.remove(spacing)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(12)
    _set_fonts(normal.element.get_or_add_rPr())
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    _font_table_fallback(doc, parts)

    _paragraph_style(doc, ST_TITLE, 14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, keep_next=True)
    _paragraph_style(doc, ST_LINE, 12, align=WD_ALIGN_PARAGRAPH.LEFT, after=2)
    _paragraph_style(doc, ST_SECTION, 12, bold=True, before=6, after=6, keep_next=True)
    _paragraph_style(doc, ST_BODY, 12, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_first=12.5, after=3)
    _paragraph_style(doc, ST_CELL, 10)
    _paragraph_style(doc, ST_NUMBER, 10, align=WD_ALIGN_PARAGRAPH.RIGHT, base=ST_CELL)
    _paragraph_style(doc, ST_VALUE, 10, align=WD_ALIGN_PARAGRAPH.CENTER, base=ST_CELL)
    _paragraph_style(doc, ST_HEAD, 8.5, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, base=ST_CELL)
    _paragraph_style(doc, ST_DRAFT, 12, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=6, colour=DRAFT_COLOUR)
    for name in ("Header", "Footer"):
        doc.styles[name].font.size = Pt(10)

    props = doc.core_properties
    props.title = f"Звіт про виконання програми {catalogue.programme.code} за {rec.period}"
    props.subject = catalogue.programme.title
    props.author = catalogue.programme.customer
    props.last_modified_by = "consolidate"
    props.language = LANG
    props.keywords = f"{catalogue.programme.code}; {rec.period}"
    props.comments = ""
    props.revision = 1
    now = created or dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    props.created = now
    props.modified = now
    return doc


def _page(section, landscape: bool) -> None:
    margins = LANDSCAPE_MARGINS if landscape else PORTRAIT_MARGINS
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    section.left_margin, section.right_margin = Mm(margins["left"]), Mm(margins["right"])
    section.top_margin, section.bottom_margin = Mm(margins["top"]), Mm(margins["bottom"])
    section.header_distance = Mm(8)
    section.footer_distance = Mm(7)


def _field(paragraph, instruction: str, placeholder: str) -> None:
    """A complex field (PAGE, NUMPAGES) — the only fields the report contains."""
    for kind, text in (
        ("begin", None),
        ("instr", instruction),
        ("separate", None),
        ("text", placeholder),
        ("end", None),
    ):
        run = paragraph.add_run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = f" {text} "
            run.element.append(instr)
        elif kind == "text":
            run.text = text
        else:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run.element.append(fld)


def _header_footer(section, draft: str) -> None:
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("Сторінка ")
    _field(footer, "PAGE", "1")
    footer.add_run(" з ")
    _field(footer, "NUMPAGES", "1")
    if draft:
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = header.add_run(_clean(draft).replace("\n", " "))
        run.bold = True
        run.font.color.rgb = DRAFT_COLOUR


# ---------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------


def _style(paragraph: Paragraph, style_id: str) -> Paragraph:
    """Set a paragraph's style by id (python-docx's lookup by name scans every style each time)."""
    return docx_fast.set_style(paragraph, style_id, STYLE_NAMES[style_id])


def _para(doc, text: object, style_id: str) -> Paragraph:
    p = _style(doc.add_paragraph(), style_id)
    if text:
        p.add_run(_clean(text))
    return p


def _write(
    cell: Cell, text: object, style: str = ST_CELL, *, bold: bool = False, italic: bool = False, append: bool = False
) -> None:
    """Put text into a cell, one paragraph per line (``append``: after what is there)."""
    lines = _lines(text)
    first = cell.paragraphs[-1] if not append else None
    for i, line in enumerate(lines):
        p = first if (i == 0 and first is not None) else cell.add_paragraph()
        _style(p, style)
        if line:
            run = p.add_run(line)
            if bold:
                run.bold = True
            if italic:
                run.italic = True


def _shade(cell: Cell, fill: str) -> None:
    tcpr = docx_fast.element(cell).get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.insert_element_before(
        shd,
        "w:noWrap",
        "w:tcMar",
        "w:textDirection",
        "w:tcFitText",
        "w:vAlign",
        "w:hideMark",
        "w:headers",
        "w:cellIns",
        "w:cellDel",
        "w:cellMerge",
        "w:tcPrChange",
    )


class _Grid:
    """A python-docx table built row by row (rows, spans and vertical merges: consolidate.docx_fast, which
    keeps building linear in the rows)."""

    def __init__(self, doc, widths_mm: tuple[float, ...]):
        self.widths = [Mm(w) for w in widths_mm]
        self.table = doc.add_table(rows=0, cols=len(widths_mm))
        self.table.style = doc.styles["Table Grid"]
        self.table.autofit = False
        for col, width in zip(self.table.columns, self.widths):
            col.width = width
        tblpr = docx_fast.table_element(doc, self.table).tblPr
        tblw = tblpr.find(qn("w:tblW"))
        tblw.set(qn("w:type"), "dxa")
        tblw.set(qn("w:w"), str(int(sum(self.widths) / 635)))  # EMU → twentieths of a point
        mar = OxmlElement("w:tblCellMar")
        for side, mm in (("top", 0.4), ("left", 1.5), ("bottom", 0.4), ("right", 1.5)):
            el = OxmlElement(f"w:{side}")
            el.set(qn("w:w"), str(int(Mm(mm) / 635)))
            el.set(qn("w:type"), "dxa")
            mar.append(el)
        tblpr.insert_element_before(mar, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")

    def row(
        self, spans: tuple[tuple[int, int], ...] = (), *, header: bool = False, cant_split: bool = False
    ) -> list[Cell]:
        """Append a row; ``spans``: (first grid column, columns) merged horizontally."""
        return docx_fast.add_row(self.table, self.widths, spans, header=header, cant_split=cant_split)

    def header(self, titles: tuple[str, ...]) -> None:
        for cell, title in zip(self.row(header=True), titles):
            _write(cell, title, ST_HEAD)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            _shade(cell, HEADER_FILL)

    @staticmethod
    def merge_down(cells: list[Cell]) -> None:
        """Merge a column of cells (same grid column and span) vertically; the first keeps the text."""
        docx_fast.merge_down(cells)


# ---------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------


def _title_block(doc, catalogue: Catalogue, rec: Reconciliation, draft: str) -> None:
    prog = catalogue.programme
    if draft:
        _para(doc, _clean(draft).replace("\n", " "), ST_DRAFT)
    _para(doc, TITLE, ST_TITLE)
    _para(
        doc, f"про результати виконання {prog.title_genitive} {period_phrase(rec.period)}", ST_TITLE
    ).paragraph_format.space_after = Pt(10)
    for text in (
        f"Дата та номер нормативно-правового акта, яким затверджено програму: {prog.act}",
        f"Державний замовник або виконавець програми: {prog.customer}",
        f"Строк виконання програми: {prog.term}",
    ):
        _para(doc, text, ST_LINE)


def _subtotal_block(grid: _Grid, rec: Reconciliation, task_id: str | None, label: str) -> None:
    kinds = rec.subtotal_kinds  # only the sources the programme has lines of
    rows = [grid.row(((0, 2), (2, 2)), cant_split=True) for _ in kinds]
    for cells, kind in zip(rows, kinds):
        st = rec.subtotal(task_id, kind)
        values = (st.programme_amount, st.planned, st.financed, st.cash) if st is not None else (None, None, None, None)
        _write(cells[1], SUBTOTAL_LABELS[kind], bold=True)
        for cell, value in zip(cells[2:6], values):
            _write(cell, _amount(value), ST_NUMBER, bold=True)
        _write(cells[6], subtotal_note(st) if st is not None else "-", bold=True)
        for cell in cells:
            _shade(cell, SUBTOTAL_FILL)
    _write(rows[0][0], label, bold=True)
    grid.merge_down([cells[0] for cells in rows])
    # keep the block on one page: every row but the last keeps with the next
    for cells in rows[:-1]:
        for cell in cells:
            for p in cell.paragraphs:
                p.paragraph_format.keep_with_next = True


def _section1(doc, catalogue: Catalogue, rec: Reconciliation) -> None:
    _para(doc, SECTION1_TITLE, ST_SECTION)
    grid = _Grid(doc, S1_WIDTHS)
    grid.header(S1_HEADERS)
    by_task = rec.funding_by_task(catalogue)
    for task in catalogue.tasks:
        groups = by_task.get(task.id)
        if not groups:
            continue
        task_cells: list[Cell] = []
        for measure_id, group in groups:
            m = catalogue.measure(measure_id)
            measure_cells: list[Cell] = []
            for i, fr in enumerate(group):
                line = fr.line
                cells = grid.row()
                task_cells.append(cells[0])
                measure_cells.append(cells[1])
                _write(cells[2], holder_label(catalogue, line, i == 0))
                _write(cells[3], line.source_label or "-")
                _write(cells[4], _amount(line.programme_amount), ST_NUMBER)
                _write(cells[5], _amount(line.planned), ST_NUMBER)
                for cell, value in ((cells[6], fr.financed), (cells[7], fr.cash)):
                    shown = funding_display(fr, value)
                    _write(cell, _amount(shown), ST_NUMBER, italic=shown in (NOT_REPORTED, NIL_TEXT))
                _write(cells[8], fr.budget_code or "-")
            _write(measure_cells[0], f"{m.number}) {m.text}")
            grid.merge_down(measure_cells)
        _write(task_cells[0], f"{task.number}. {task.name}")
        grid.merge_down(task_cells)
        _subtotal_block(grid, rec, task.id, TASK_TOTAL.format(number=task.number))
    _subtotal_block(grid, rec, None, PROGRAMME_TOTAL)


def _narrative(cell: Cell, catalogue: Catalogue, mr) -> None:
    status = status_line(catalogue, mr)
    if status:
        _write(cell, status, italic=True)
    if not mr.blocks:
        _write(cell, measure_narrative(catalogue, mr), italic=True, append=bool(status))
        return
    for i, block in enumerate(mr.blocks):
        _write(cell, block.header, bold=True, append=i > 0 or bool(status))
        if i > 0:
            cell.paragraphs[-1].paragraph_format.space_before = Pt(4)
        for _, text in block.paragraphs:
            _write(cell, text, append=True)


def _section2(doc, catalogue: Catalogue, rec: Reconciliation) -> None:
    _para(doc, SECTION2_TITLE, ST_SECTION)
    grid = _Grid(doc, S2_WIDTHS)
    grid.header(S2_DOCX_HEADERS)
    ind_by_measure = rec.indicators_by_measure()
    mres = rec.measures_by_id()
    label = catalogue.executor_label
    for task in catalogue.tasks:
        measures = catalogue.measures_of_task(task.id)
        if not measures:
            continue
        task_row = grid.row(cant_split=True)
        _write(task_row[0], f"{task.number}. {task.name}", bold=True)
        task_cells = [task_row[0]]
        for m in measures:
            mr = mres[m.id]
            irs = ind_by_measure.get(m.id, [])
            rows = [grid.row() for _ in range(max(1, len(irs)))]
            for cells, ir in zip(rows, irs):
                ind = ir.indicator
                _write(cells[2], ind.name)
                _write(cells[3], format_value(ind.planned), ST_VALUE)
                shown = indicator_display(ir)
                text = shown if isinstance(shown, str) else format_value(shown)
                if ir.incomplete and not isinstance(shown, str):
                    text = f"{text} {PARTIAL_MARK}"  # who is missing: once, below the table
                _write(cells[4], text, ST_VALUE, italic=shown in (NOT_REPORTED, NIL_TEXT))
            task_cells.extend(cells[0] for cells in rows)
            _write(rows[0][1], f"{m.number}) {m.text}")
            _write(rows[0][5], "\n".join(label(c) for c in m.executors))
            _narrative(rows[0][6], catalogue, mr)
            for col in (1, 5, 6):
                grid.merge_down([cells[col] for cells in rows])
        grid.merge_down(task_cells)
    note = partial_footnote(catalogue, rec)
    if note:
        _para(doc, note, ST_BODY).runs[0].italic = True


def _section3(doc, catalogue: Catalogue, rec: Reconciliation) -> None:
    _para(doc, SECTION3_TITLE, ST_SECTION)
    for p in rec.proposals:
        for line in _lines(p.text):
            if line.strip():
                _para(doc, line.strip(), ST_BODY)
        _para(doc, proposal_authors(catalogue, p), ST_BODY).runs[0].italic = True
    if not rec.proposals:
        _para(doc, NO_PROPOSALS, ST_BODY)


def _annex(doc, status_rows: list[StatusRow]) -> None:
    _para(doc, ANNEX_TITLE, ST_SECTION)
    grid = _Grid(doc, ANNEX_WIDTHS)
    grid.header(ANNEX_HEADERS)
    for s in status_rows:
        cells = grid.row(cant_split=True)
        for cell, value in zip(
            cells, (s.name, s.kind, s.state.label, ua_date(s.received[:10]), breakable_name(s.file))
        ):
            _write(cell, value, italic=cell is cells[2] and s.state == ReportingState.NOT_SUBMITTED)


def breakable_name(name: str) -> str:
    """A file name that a narrow cell breaks only between its parts (after «_», «-», before «(»), never inside
    a word or its extension («(MINTSYFRY).xl sx» was printed before)."""
    out = re.sub(r"([_\-])(?=\S)", "\\1\u200b", name or "")
    return re.sub(r"(?<=\S)\(", "\u200b(", out)


def build_docx(
    catalogue: Catalogue,
    rec: Reconciliation,
    status_rows: list[StatusRow] | None = None,
    draft: str = "",
    created: dt.datetime | None = None,
    appendix: bool | None = None,
) -> bytes:
    """The national report as a .docx (bytes) in the ministry's layout.

    ``draft``: a banner at the top of the document and in the page header (e.g. unapproved
    data).  ``status_rows``: the executors' reporting state for the annex «Стан звітування»;
    ``appendix``: True/False to add it or not; None (default) adds it while an expected executor
    has not reported or the document is a draft.
    """
    draft = unconfirmed_banner(catalogue, rec, draft)  # refused if not a draft and an outlier is unconfirmed
    parts = docx_fast.Parts()
    doc = _new_document(catalogue, rec, parts, created)
    first = doc.sections[0]
    _page(first, landscape=True)
    _header_footer(first, draft)
    _title_block(doc, catalogue, rec, draft)
    _section1(doc, catalogue, rec)
    _page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=True)
    _section2(doc, catalogue, rec)
    _page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=False)
    _section3(doc, catalogue, rec)
    if appendix or (appendix is None and (rec.missing_executors or draft)):
        _annex(doc, status_rows if status_rows is not None else default_status_rows(catalogue, rec))
    buf = io.BytesIO()
    doc.save(buf)
    data = parts.finish(buf.getvalue())
    return data if created is None else _stamped(data, created)


def _stamped(data: bytes, created: dt.datetime) -> bytes:
    """The package with every entry dated ``created`` (python-docx dates them now): same input, same bytes."""
    import zipfile

    stamp = (max(created.year, 1980), created.month, created.day, created.hour, created.minute, created.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info))
    return out.getvalue()


# ---------------------------------------------------------------------------------
# export to text (as the seed was made) and to PDF
# ---------------------------------------------------------------------------------


def docx_to_text(data: bytes) -> str:
    """Plain text of a docx in the seed's style: a paragraph per line; a table row as its
    cells, each on a line starting with TAB (a cell's further paragraphs on lines of their own,
    merged-away cells empty), followed by an empty line."""
    doc = Document(io.BytesIO(data))
    lines: list[str] = []
    for el in doc.element.body.iterchildren():
        if el.tag == qn("w:p"):
            lines.append(Paragraph(el, doc).text)
        elif el.tag == qn("w:tbl"):
            for tr in el.tr_lst:
                for tc in tr.tc_lst:
                    text = "" if tc.vMerge == "continue" else "\n".join(Paragraph(p, doc).text for p in tc.p_lst)
                    lines.append("\t" + text)
                lines.append("")
    return ("\n".join(lines) + "\n").replace("\u200b", "")  # the break points of file names (breakable_name)


def write_pdf(docx_bytes: bytes, out_path: Path, timeout: int = PDF_TIMEOUT) -> Path:
    """Convert the report docx to PDF with LibreOffice headless; write it to ``out_path``."""
    from . import office

    out_path = Path(out_path)
    if office.find_soffice() is None:
        raise ConsolidateError(
            f"PDF не створено: LibreOffice не встановлено. Встановіть LibreOffice Writer (наприклад: "
            f"apt-get install libreoffice-writer-nogui) або відкрийте звіт .docx у Word і збережіть його як PDF "
            f"(«{out_path.name}»)."
        )
    with tempfile.TemporaryDirectory(prefix="consolidate-pdf-") as tmp:
        src = Path(tmp) / f"{out_path.stem or 'report'}.docx"
        src.write_bytes(docx_bytes)
        pdf = office.convert(src, "pdf:writer_pdf_Export", Path(tmp) / "pdf", timeout=timeout)
        atomic_write(out_path, pdf.read_bytes())
    return out_path


__all__ = [
    "build_docx",
    "docx_to_text",
    "write_pdf",
    "SECTION1_TITLE",
    "SECTION2_TITLE",
    "SECTION3_TITLE",
    "PROGRAMME_TOTAL",
    "TASK_TOTAL",
    "ANNEX_TITLE",
]
