"""The consolidated national report (xlsx), laid out like the ministry's annual report.

Sheets: «I. Фінансування» (title block + section I, subtotals as formulas whose cached values
are the computed numbers), «II. Виконання», «III. Пропозиції», «Звірка» (reconciliation
findings), «Стан звітування», «Джерела» (provenance of every figure).  Text is always written
as text: a narrative starting with "=" stays inert.
"""

from __future__ import annotations

import datetime as dt
import io

from xlsxwriter.utility import xl_col_to_name

from .catalogue import GROUPS, UNIT_LABELS, Catalogue
from .errors import ConsolidateError
from .fileutil import _remove_stale_temps, atomic_write, process_alive  # noqa: F401  (re-exported: tests, older callers)
from .model import CODE_LABELS, ERROR
from .reconcile import (
    SUBTOTAL_LABELS,
    FundingResult,
    IndicatorResult,
    MeasureResult,
    Reconciliation,
    Subtotal,
)
from .status import STATE_COLOURS, ExecutorStatus, status_from_reconciliation
from .vocabulary import ReportingState, Severity
from .wording import field_label, period_phrase, plural, plural_word, ua_datetime  # noqa: F401  (period_phrase re-exported)
from .xlsx_fast import Formula, add_streamed_sheet, report_workbook

SECTION1 = "I. Фінансування"
SECTION2 = "II. Виконання"
SECTION3 = "III. Пропозиції"
SHEET_CHECKS = "Звірка"
SHEET_STATUS = "Стан звітування"
SHEET_SOURCES = "Джерела"
SHEET_PREVIOUS = "Попередній рік"  # not in the legal form: this period beside the same period a year earlier
NOT_REPORTED = ReportingState.NOT_SUBMITTED.label  # a figure of an executor that has not reported
NIL_TEXT = "не здійснювалось"
MAX_CELL = 32000

S1_HEADERS = (
    "Найменування завдання",
    "Найменування заходу",
    "Головний розпорядник бюджетних коштів",
    "Джерела фінансування",
    "Річний обсяг фінансування (передбачено програмою з державного бюджету, іншими джерелами фінансування), тис. грн.",
    "Річний обсяг фінансування (передбачено з державного бюджету, іншими джерелами фінансування), тис. грн.",
    "Фактично профінансовано у звітному періоді, тис. грн.",
    "Касові видатки, тис. грн.",
    "Код та назва бюджетних програм, у рамках яких фактично здійснювалося фінансування",
)
S2_HEADERS = (
    "Найменування завдання",
    "Найменування заходу",
    "Найменування показника",
    "Очікувані результати",
    "Фактично досягнуто (кількісний показник)",
    "Головний розпорядник бюджетних коштів",
    "Стан виконання",
)
# Hidden helper columns of section I (after the nine visible ones): source code, task id, line id.
S1_SOURCE_COL, S1_TASK_COL, S1_ID_COL = 9, 10, 11
S2_ID_COL = 7  # hidden, after the seven visible ones
# Column widths (characters of the default font) of the printed form: each table fits A4 landscape's width at
# about 95 % (fit to the page's width), so that its 10 pt text prints at ~9.5 pt.
S1_WIDTHS = (18, 28, 15, 13, 12, 12, 12, 12, 18)
S2_WIDTHS = (16, 22, 19, 10, 11, 16, 46)
COMPLETENESS_KIND, COMPLETENESS_KIND_LABEL, COMPLETENESS_SEVERITY = "completeness", "Повнота даних", "довідка"
PARTIAL_MARK = "*"  # beside a figure some of whose executors have not reported (explained once, below the table)
ROW_LIMIT = 220.0  # the tallest row written (points): a row never runs over a printed page


# Rows of «Стан звітування» are the reporting states computed by consolidate.status.
StatusRow = ExecutorStatus


def _cell_text(value) -> str:
    """A value as the text of a cell: cut at MAX_CELL characters, and never taken for markup.

    xlsxwriter stores a rich string as its own XML, recognised by "<r>" at the start and "</r>" at the end,
    and copies any such string into the workbook unescaped: an executor's narrative of that shape would
    land in the report as XML.  It is stored instead as a rich string of one run holding the escaped text,
    which reads back as exactly the text.
    """
    text = str(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + " … [текст скорочено]"
    if text.startswith("<r>") and text.endswith("</r>"):
        body = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<r><t xml:space="preserve">{body}</t></r>'
    return text


def _t(ws, r, c, value, fmt=None):
    if value is None or value == "":
        ws.write_blank(r, c, None, fmt)
    else:
        ws.write_string(r, c, _cell_text(value), fmt)


def _lines_of(text: str, width_chars: float, size: float = 10) -> int:
    """Lines a text takes wrapped in a column ``width_chars`` wide (a word never split; generous: a column holds
    about 1.24 characters of 10 pt Times per unit of width as LibreOffice renders it, counted as 1.15)."""
    per_line = max(1, int(width_chars * 1.15 * 10 / size))
    total = 0
    for para in str(text).split("\n"):
        n, used = 1, 0
        for word in para.split():
            w = len(word)
            if used and used + 1 + w > per_line:
                n, used = n + 1, 0
            while w > per_line:  # a word longer than the line is broken by the spreadsheet
                n, w = n + 1, w - per_line
            used = used + (1 if used else 0) + w
        total += n
    return total


def _height(text: str, width_chars: float, rows: int = 1, size: float = 10) -> float:
    """The row height (points) that shows the whole text, over ``rows`` rows."""
    lines = _lines_of(text, width_chars, size)
    return min(409.0, max(15.0, (lines * size * 1.25 + 4) / max(1, rows)))


class _F:
    def __init__(self, wb):
        base = {"font_name": "Times New Roman", "font_size": 10, "valign": "top", "text_wrap": True, "border": 1}
        self.title = wb.add_format(
            {"font_name": "Times New Roman", "font_size": 14, "bold": True, "align": "center", "text_wrap": True}
        )
        self.subtitle = wb.add_format(
            {"font_name": "Times New Roman", "font_size": 12, "align": "left", "text_wrap": True}
        )
        self.section = wb.add_format({"font_name": "Times New Roman", "font_size": 12, "bold": True})
        self.header = wb.add_format(
            {**base, "bold": True, "align": "center", "valign": "vcenter", "bg_color": "#D9E1F2"}
        )
        self.header_small = wb.add_format(
            {**base, "font_size": 8, "bold": True, "align": "center", "valign": "vcenter", "bg_color": "#D9E1F2"}
        )
        # a continuation row of a measure whose text runs over several rows: no rule between its rows
        self.side = wb.add_format({**base, "border": 0, "left": 1, "right": 1})
        self.partial = wb.add_format(
            {**base, "num_format": f'General" {PARTIAL_MARK}"', "align": "right", "font_color": "#9C0006"}
        )
        self.note = wb.add_format(
            {"font_name": "Times New Roman", "font_size": 10, "italic": True, "valign": "top", "text_wrap": True}
        )
        self.text = wb.add_format(base)
        self.bold = wb.add_format({**base, "bold": True})
        self.amount = wb.add_format({**base, "num_format": "#,##0.0", "align": "right"})
        self.amount_bold = wb.add_format(
            {**base, "num_format": "#,##0.0", "align": "right", "bold": True, "bg_color": "#F2F2F2"}
        )
        self.value = wb.add_format({**base, "num_format": "General", "align": "right"})
        self.flag = wb.add_format({**base, "font_color": "#9C0006"})
        # a figure holding an unconfirmed outlier (only in a draft: an approved report refuses it)
        self.suspect = wb.add_format(
            {
                **base,
                "num_format": "#,##0.0",
                "align": "right",
                "bold": True,
                "font_color": "#9C0006",
                "bg_color": "#FFC7CE",
            }
        )
        self.draft = wb.add_format(
            {"font_name": "Times New Roman", "font_size": 14, "bold": True, "font_color": "#C00000"}
        )


def _setup(ws, widths, header_row, headers, fmts, repeat=True, size: float = 10):
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    fmt = fmts.header if size == 10 else fmts.header_small
    for c, h in enumerate(headers):
        _t(ws, header_row, c, h, fmt)
    ws.set_row(header_row, max(_height(h, widths[c], size=size) for c, h in enumerate(headers)))
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if repeat:
        ws.repeat_rows(header_row, header_row)
    ws.freeze_panes(header_row + 1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&CСторінка &P з &N")


def holder_label(catalogue: Catalogue, line, first_of_measure: bool) -> str:
    if first_of_measure and (line.holder in GROUPS or line.holder == catalogue.measure(line.measure_id).lead):
        return "\n".join(catalogue.executor_label(c) for c in catalogue.measure(line.measure_id).executors)
    return catalogue.executor_label(line.holder)


def funding_display(fr: FundingResult, value: float | None) -> float | str:
    """What section I shows for a line's financed / cash amount: the number, or a marker."""
    if fr.programme_level:
        return "-"
    if not fr.reported:
        return NOT_REPORTED
    if fr.nil and not value:
        return NIL_TEXT
    if value is None:
        return "-"
    return value


def subtotal_note(st: Subtotal) -> str:
    """The last column of a subtotal row."""
    return "дані неповні" if st.incomplete else "-"


def indicator_display(ir: IndicatorResult) -> float | str:
    """What section II shows as «Фактично досягнуто»: the reconciled value, or a marker."""
    if ir.value is not None:
        return ir.value
    if ir.nil and not ir.claims:
        return NIL_TEXT
    if ir.missing:
        return NOT_REPORTED
    return "—"


STATUS_ORDER = ("виконано", "виконано частково", "триває", "не виконано", "не здійснювалось")


def status_line(catalogue: Catalogue, mr: MeasureResult) -> str:
    """The execution status the executors chose for the measure: «Стан: виконано» when they agree, otherwise each
    status with who chose it («Стан: виконано — МВС, НПУ; виконано частково — 3 виконавці»)."""
    chosen: dict[str, list[str]] = {}
    for code, status in mr.statuses.items():
        chosen.setdefault(status.strip().casefold(), []).append(code)
    if not chosen:
        return ""
    order = sorted(chosen, key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER), s))
    if len(order) == 1:
        return f"Стан: {order[0]}"
    parts = []
    for status in order:
        codes = chosen[status]
        who = (
            ", ".join(catalogue.executor_label(c) for c in codes)
            if len(codes) <= 3
            else plural(len(codes), "виконавець")
        )
        parts.append(f"{status} — {who}")
    return "Стан: " + "; ".join(parts)


def narrative_lines(catalogue: Catalogue, mr: MeasureResult) -> list[str]:
    """The «Стан виконання» cell of section II line by line: the status, then the assembled narrative."""
    status = status_line(catalogue, mr)
    return ([status] if status else []) + measure_narrative(catalogue, mr).split("\n")


def partial_footnote(catalogue: Catalogue, rec: Reconciliation) -> str:
    """Below section II, once: who has not reported («*» marks the figures that lack them)."""
    missing = rec.missing_executors
    if not missing:
        return ""
    names = ", ".join(catalogue.executor_label(c) for c in missing)
    return (
        f"{PARTIAL_MARK} Неповні дані: звіти ще не подали {len(missing)} з {len(rec.expected)} виконавців — {names}. "
        f"Позначені значення зведено без їхніх даних."
    )


def completeness_note(catalogue: Catalogue, ir: IndicatorResult) -> str:
    """«неповні дані: не подали …» for an indicator some of whose executors have not reported."""
    if not ir.incomplete:
        return ""
    return "неповні дані: не подали " + ", ".join(catalogue.executor_label(c) for c in ir.missing)


def proposal_authors(catalogue: Catalogue, p) -> str:
    """«Автор пропозиції: Мінсоцполітики» / «Автори пропозиції: Мінсоцполітики, Волинська ОВА»."""
    names = ", ".join(catalogue.executor_label(c) for c in p.authors)
    return f"{'Автор' if len(p.authors) == 1 else 'Автори'} пропозиції: {names}"


def measure_narrative(catalogue: Catalogue, mr: MeasureResult) -> str:
    """The assembled narrative of a measure, or what to say when there is none."""
    narrative = mr.narrative_text()
    if narrative:
        return narrative
    if mr.missing:
        return f"звіти не подано {PARTIAL_MARK}"
    return NIL_TEXT if mr.nil else "інформацію не надано"


def _banner(ws, fmts, draft: str) -> int:
    """Write the draft banner (if any) on the sheet's first row; the first row left for content."""
    if not draft:
        return 0
    _t(ws, 0, 0, draft, fmts.draft)
    return 1


def _write_section1(wb, fmts, catalogue: Catalogue, rec: Reconciliation, draft: str):
    """Section I: a line per funding line, grouped by task and measure (merged cells), each task followed by
    its subtotals and the table by the programme's — SUMIFS over the hidden source and task columns, with
    the computed sums as their cached values.  Written top to bottom (7,500 lines at 1,500 hromadas)."""
    ws = add_streamed_sheet(wb, SECTION1, _cell_text)
    prog = catalogue.programme
    r = _banner(ws, fmts, draft)
    ws.merge_range(r, 0, r, 8, "ЗВІТ", fmts.title)
    ws.merge_range(
        r + 1, 0, r + 1, 8, f"про результати виконання {prog.title_genitive} {period_phrase(rec.period)}", fmts.title
    )
    ws.set_row(r + 1, 40)
    lines = [
        f"Дата та номер нормативно-правового акта, яким затверджено програму: {prog.act}",
        f"Державний замовник або виконавець програми: {prog.customer}",
        f"Строк виконання програми: {prog.term}",
    ]
    for i, text in enumerate(lines):
        ws.merge_range(r + 2 + i, 0, r + 2 + i, 8, text, fmts.subtitle)
    r += 2 + len(lines) + 1
    _t(ws, r, 0, "І. Фінансування завдань та заходів програми", fmts.section)
    header = r + 1
    _setup(ws, S1_WIDTHS, header, S1_HEADERS, fmts, size=8)
    for c in (S1_SOURCE_COL, S1_TASK_COL, S1_ID_COL):
        ws.set_column(c, c, 12, None, {"hidden": True})
    _t(ws, header, S1_SOURCE_COL, "source")
    _t(ws, header, S1_TASK_COL, "task")
    _t(ws, header, S1_ID_COL, "id")
    by_task = rec.funding_by_task(catalogue)
    tasks = [
        (task, by_task[task.id], sum(len(group) for _, group in by_task[task.id]))  # (task, groups, lines)
        for task in catalogue.tasks
        if by_task.get(task.id)
    ]
    first_data = header + 1
    kinds = rec.subtotal_kinds  # only the sources the programme has lines of
    at = {kind: i for i, kind in enumerate(kinds)}  # a kind's row within a subtotal block
    # the table's last row before the programme's subtotals: every task's lines and subtotal block
    last_data = header + sum(lines + len(kinds) for _, _, lines in tasks)
    src_col, task_col = xl_col_to_name(S1_SOURCE_COL), xl_col_to_name(S1_TASK_COL)
    sums = [
        (xl_col_to_name(c), attr) for c, attr in ((4, "programme_amount"), (5, "planned"), (6, "financed"), (7, "cash"))
    ]
    text, amount, bold = fmts.text, fmts.amount, fmts.bold
    line_formats = [text] * 4 + [amount] * 4 + [text] + [None] * 3
    subtotal_formats = [bold] * 4 + [fmts.amount_bold] * 4 + [bold]
    shown_format = {NOT_REPORTED: fmts.flag, NIL_TEXT: text}

    def line_rows(task, groups, lines, start):
        if lines > 1:
            ws.merge_rows(start, 0, start + lines - 1, 0)
        row = start
        for mid, group in groups:
            m = catalogue.measure(mid)
            measure_text = f"{m.number}) {m.text}"
            if len(group) > 1:
                ws.merge_rows(row, 1, row + len(group) - 1, 1)
            for i, fr in enumerate(group):
                line = fr.line
                holder = holder_label(catalogue, line, i == 0)
                values = [
                    f"{task.number}. {task.name}" if row == start else None,
                    measure_text if i == 0 else None,
                    holder,
                    line.source_label,
                    "-" if line.programme_amount is None else line.programme_amount,
                    "-" if line.planned is None else line.planned,
                    funding_display(fr, fr.financed),
                    funding_display(fr, fr.cash),
                    fr.budget_code or "-",
                    line.source,
                    task.id,
                    line.id,
                ]
                formats = line_formats
                if isinstance(values[6], str) or isinstance(values[7], str) or fr.suspect:
                    formats = (
                        formats[:6]
                        + [
                            shown_format.get(v, amount)
                            if isinstance(v, str)
                            else fmts.suspect
                            if f in fr.suspect
                            else amount
                            for v, f in zip(values[6:8], ("financed", "cash"))
                        ]
                        + formats[8:]
                    )
                w = S1_WIDTHS
                height = max(
                    _height(measure_text, w[1], len(group)) if i == 0 else 15.0,
                    _height(holder, w[2]),
                    _height(line.source_label, w[3]),
                    _height(values[8], w[8]),
                    _height(values[0], w[0], lines) if row == start else 15.0,
                )
                yield values, formats, height
                row += 1

    # «Усього» adds the sources' rows, the state budget its two funds'; the rest are SUMIFS over the lines
    parts: dict[str, list[str]] = {
        "total": [k for k in ("state", "local", "other") if k in at],
        "state": ["state_general", "state_special"],
    }

    def subtotal_rows(task_id: str | None, start: int, label: str):
        ws.merge_rows(start, 0, start + len(kinds) - 1, 1)
        crit_task = f',{task_col}{first_data + 1}:{task_col}{last_data + 1},"{task_id}"' if task_id else ""
        for i, kind in enumerate(kinds):
            rr = start + i
            st = rec.subtotal(task_id, kind)
            assert st is not None  # reconcile made one per kind for the programme and each task with lines
            ws.merge_rows(rr, 2, rr, 3)
            cells: list[object] = [label if i == 0 else None, None, SUBTOTAL_LABELS[kind], None]
            for letter, attr in sums:
                if kind in parts:
                    formula = "=" + ("+".join(f"{letter}{start + at[k] + 1}" for k in parts[kind]) or "0")
                else:
                    formula = (
                        f"=SUMIFS({letter}{first_data + 1}:{letter}{last_data + 1},"
                        f'{src_col}{first_data + 1}:{src_col}{last_data + 1},"{kind}"{crit_task})'
                    )
                cells.append(Formula(formula, round(getattr(st, attr), 6)))
            cells.append(subtotal_note(st))
            yield cells, subtotal_formats, None

    def table():
        row = first_data
        for task, groups, lines in tasks:
            yield from line_rows(task, groups, lines, row)
            row += lines
            yield from subtotal_rows(task.id, row, f"Разом за завданням {task.number}")
            row += len(kinds)
        yield from subtotal_rows(None, row, "Разом по Програмі")

    end = ws.put_rows(first_data, table())
    ws.print_area(0, 0, end - 1, len(S1_HEADERS) - 1)  # the form's nine columns, never the hidden helpers
    return ws


def _narrative_chunks(lines: list[str], width: float, limit: float = ROW_LIMIT) -> list[str]:
    """The lines of a cell's text grouped into pieces each of which fits a row of at most ``limit`` points."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if chunks[-1] and _height("\n".join([*chunks[-1], line]), width) >= limit:
            chunks.append([])
        chunks[-1].append(line)
    return ["\n".join(c) for c in chunks if c]


def _write_section2(wb, fmts, catalogue: Catalogue, rec: Reconciliation, draft: str):
    """Section II as the form prints it: seven columns, a row per indicator; a measure's narrative (its execution
    status first) in «Стан виконання», continued on further rows of the measure when it is longer than a row
    can hold (a row never runs over a page, so nothing is cut off); a figure some of whose executors have not
    reported marked «*», the list of who is missing given once below the table."""
    ws = wb.add_worksheet(SECTION2)
    r = _banner(ws, fmts, draft)
    _t(ws, r, 0, "ІІ. Виконання (основних) завдань та заходів програми", fmts.section)
    header = r + 1
    w = S2_WIDTHS
    _setup(ws, w, header, S2_HEADERS, fmts)
    ws.set_column(S2_ID_COL, S2_ID_COL, 10, None, {"hidden": True})
    _t(ws, header, S2_ID_COL, "id")
    row = header + 1
    ind_by_measure = rec.indicators_by_measure()
    mres = rec.measures_by_id()
    label = catalogue.executor_label
    last = len(S2_HEADERS)
    for task in catalogue.tasks:
        measures = catalogue.measures_of_task(task.id)
        if not measures:
            continue
        ws.merge_range(row, 0, row, last - 1, "", fmts.bold)
        _t(ws, row, 0, f"{task.number}. {task.name}", fmts.bold)
        _t(ws, row, S2_ID_COL, task.id)
        ws.set_row(row, _height(f"{task.number}. {task.name}", sum(w)))
        row += 1
        for m in measures:
            mr = mres[m.id]
            irs = ind_by_measure.get(m.id, [])
            execs = "\n".join(label(c) for c in m.executors)
            measure_text = f"{m.number}) {m.text}"
            chunks = _narrative_chunks(narrative_lines(catalogue, mr), w[6])
            n = max(1, len(irs), len(chunks))
            for i in range(n):
                ir = irs[i] if i < len(irs) else None
                first = i == 0
                plain = fmts.text if first or ir is not None else fmts.side
                _t(ws, row, 0, "", fmts.side)
                _t(ws, row, 1, measure_text if first else "", fmts.text if first else fmts.side)
                _t(ws, row, 5, execs if first else "", fmts.text if first else fmts.side)
                _t(ws, row, 6, chunks[i] if i < len(chunks) else "", fmts.text)
                height = max(
                    _height(measure_text, w[1]) if first else 15.0,
                    _height(execs, w[5]) if first else 15.0,
                    _height(chunks[i], w[6]) if i < len(chunks) else 15.0,
                )
                if ir is not None:
                    ind = ir.indicator
                    _t(ws, row, 2, ind.name, fmts.text)
                    if ind.planned is None:
                        _t(ws, row, 3, "", fmts.value)
                    else:
                        ws.write_number(row, 3, ind.planned, fmts.value)
                    shown = indicator_display(ir)
                    if not isinstance(shown, str):
                        fmt = fmts.suspect if ir.suspect else fmts.partial if ir.incomplete else fmts.value
                        ws.write_number(row, 4, shown, fmt)
                    else:
                        _t(ws, row, 4, shown, {NOT_REPORTED: fmts.flag, NIL_TEXT: fmts.text}.get(shown, fmts.value))
                    _t(ws, row, S2_ID_COL, ind.id)
                    height = max(height, _height(ind.name, w[2]))
                else:
                    for c in (2, 3, 4):
                        _t(ws, row, c, "", plain)
                    if first:
                        _t(ws, row, S2_ID_COL, m.id)
                ws.set_row(row, height)
                row += 1
    note = partial_footnote(catalogue, rec)
    if note:
        ws.merge_range(row + 1, 0, row + 1, last - 1, "", fmts.note)
        _t(ws, row + 1, 0, note, fmts.note)
        ws.set_row(row + 1, _height(note, sum(w)))
        row += 2
    ws.print_area(0, 0, row - 1, last - 1)  # the form's seven columns, never the hidden id
    return ws


def _write_section3(wb, fmts, catalogue: Catalogue, rec: Reconciliation, draft: str):
    ws = wb.add_worksheet(SECTION3)
    r = _banner(ws, fmts, draft)
    _t(ws, r, 0, "ІІІ. Пропозиції щодо подальшого виконання програми", fmts.section)
    _setup(ws, (24, 120), r + 1, ("Виконавець", "Пропозиція"), fmts)
    row = r + 2
    for p in rec.proposals:
        authors = "\n".join(catalogue.executor_label(c) for c in p.authors)
        _t(ws, row, 0, authors, fmts.text)
        _t(ws, row, 1, p.text, fmts.text)
        ws.set_row(row, max(_height(p.text, 120), _height(authors, 24)))
        row += 1
    if not rec.proposals:
        _t(ws, row, 1, "Пропозицій не надійшло.", fmts.text)


def _write_checks(wb, fmts, catalogue: Catalogue, rec: Reconciliation, draft: str):
    ws = add_streamed_sheet(wb, SHEET_CHECKS, _cell_text)  # rows strictly top to bottom
    r = _banner(ws, fmts, draft)
    headers = (
        "Серйозність",
        "Вид",
        "Ідентифікатор",
        "Повідомлення",
        "Виконавці",
        "Значення",
        "Джерела (файл, аркуш, клітинка)",
        "Код",
    )
    _setup(ws, (13, 26, 14, 80, 30, 24, 60, 18), r, headers, fmts)
    row = r + 1
    plain = [fmts.text] * len(headers)
    flagged = [fmts.flag] + plain[1:]
    for c in sorted(rec.conflicts, key=lambda c: (c.severity != ERROR, c.kind, c.item)):
        item = rec.find(c.item)
        sources = getattr(item, "sources", []) if item is not None else []
        src = "\n".join(
            f"{s.file} [{s.sha256[:12]}] {s.sheet}!{s.cell} = {s.value}"
            for s in sources
            if not c.executors or s.executor in c.executors
        )
        values = (
            Severity.of(c.severity).label,
            CODE_LABELS.get(c.kind, c.kind),
            c.item,
            c.message,
            ", ".join(catalogue.executor_label(e) for e in c.executors),
            c.values,
            src,
            getattr(c.kind, "value", c.kind),
        )  # the code, for scripts
        row = ws.put_rows(
            row, [(values, flagged if c.severity == ERROR else plain, max(_height(c.message, 80), _height(src, 60)))]
        )
    # what section II's form has no column for: each indicator's completeness and how its value was obtained
    for ir in rec.indicators:
        note = "; ".join(t for t in (completeness_note(catalogue, ir), ir.note) if t)
        if note:
            values = (
                COMPLETENESS_SEVERITY,
                COMPLETENESS_KIND_LABEL,
                ir.indicator.id,
                note,
                ", ".join(catalogue.executor_label(e) for e in ir.missing),
                "",
                "",
                COMPLETENESS_KIND,
            )
            row = ws.put_rows(row, [(values, plain, _height(note, 80))])
    ws.autofilter(r, 0, max(r, row - 1), len(headers) - 1)


def _write_status(wb, fmts, status_rows: list[ExecutorStatus], draft: str):
    ws = add_streamed_sheet(wb, SHEET_STATUS, _cell_text)  # rows strictly top to bottom
    r = _banner(ws, fmts, draft)
    headers = (
        "Код",
        "Виконавець",
        "Тип",
        "Стан",
        "Отримано",
        "Файл",
        "sha256",
        "Помилок",
        "Попереджень",
        "Звітів",
        "Відхилено файлів",
        "Останнє нагадування",
        "Контакт",
        "Примітка",
    )
    _setup(ws, (12, 40, 22, 26, 18, 36, 20, 10, 12, 8, 10, 18, 36, 50), r, headers, fmts)
    state_fmt = {
        state: wb.add_format(
            {
                "font_name": "Times New Roman",
                "font_size": 10,
                "valign": "top",
                "text_wrap": True,
                "border": 1,
                "bold": True,
                "bg_color": colour,
            }
        )
        for state, colour in STATE_COLOURS.items()
    }
    row = r + 1
    text, value = fmts.text, fmts.value
    for s in status_rows:
        formats = [text] * 3 + [state_fmt.get(s.state, text)] + [text] * 3 + [value] * 4 + [text] * 3
        row = ws.put_rows(
            row,
            [
                (
                    (
                        s.executor,
                        s.name,
                        s.kind,
                        s.state.label,
                        ua_datetime(s.received),
                        s.file,
                        s.sha256,
                        s.errors,
                        s.warnings,
                        s.returns,
                        s.rejected,
                        ua_datetime(s.last_reminder),
                        s.contact,
                        s.note,
                    ),
                    formats,
                    None,
                )
            ],
        )
    ws.autofilter(r, 0, max(r, row - 1), len(headers) - 1)


def _write_sources(wb, fmts, rec: Reconciliation, draft: str):
    ws = add_streamed_sheet(wb, SHEET_SOURCES, _cell_text)  # rows strictly top to bottom
    r = _banner(ws, fmts, draft)
    headers = ("Ідентифікатор", "Поле", "Виконавець", "Значення", "Файл", "sha256", "Аркуш", "Клітинка")
    _setup(ws, (16, 12, 12, 30, 36, 66, 18, 10), r, headers, fmts)
    items = [(fr.line.id, fr.sources) for fr in rec.funding] + [(ir.indicator.id, ir.sources) for ir in rec.indicators]
    text = [fmts.text] * len(headers)
    row = ws.put_rows(
        r + 1,
        (
            ((item_id, field_label(s.field), s.executor, s.value, s.file, s.sha256, s.sheet, s.cell), text, None)
            for item_id, sources in items
            for s in sources
        ),
    )
    ws.autofilter(r, 0, max(r, row - 1), len(headers) - 1)


def _write_previous(wb, fmts, catalogue: Catalogue, rec: Reconciliation, previous: Reconciliation, draft: str):
    """National figures of this period beside the same period a year earlier (IDs are kept across years)."""
    ws = add_streamed_sheet(wb, SHEET_PREVIOUS, _cell_text)  # rows strictly top to bottom
    r = _banner(ws, fmts, draft)
    headers = (
        "Ідентифікатор",
        "Показник / рядок фінансування",
        "Одиниця",
        f"План, {rec.period}",
        f"Факт, {previous.period}",
        f"Факт, {rec.period}",
        "Зміна",
    )
    _setup(ws, (16, 70, 10, 14, 14, 14, 12), r, headers, fmts)
    before_ind = {ir.indicator.id: ir.value for ir in previous.indicators}
    before_fund = {fr.line.id: fr.financed for fr in previous.funding}

    def change(now, then):
        return None if now is None or then is None else round(now - then, 6)

    rows = []
    text, value = fmts.text, fmts.value
    formats = [text, text, text, value, value, value, value]
    for ir in rec.indicators:
        ind = ir.indicator
        if not ind.numeric:
            continue
        then = before_ind.get(ind.id)
        rows.append(
            (
                (
                    ind.id,
                    ind.name,
                    UNIT_LABELS.get(ind.unit, ind.unit),
                    ind.planned,
                    then,
                    ir.value,
                    change(ir.value, then),
                ),
                formats,
                None,
            )
        )
    for fr in rec.funding:
        then = before_fund.get(fr.line.id)
        label = f"{catalogue.executor_label(fr.line.holder)}, {fr.line.source_label}: профінансовано"
        rows.append(
            (
                (fr.line.id, label, "тис. грн", fr.line.planned, then, fr.financed, change(fr.financed, then)),
                formats,
                None,
            )
        )
    row = ws.put_rows(r + 1, rows)
    ws.autofilter(r, 0, max(r, row - 1), len(headers) - 1)


def default_status_rows(catalogue: Catalogue, rec: Reconciliation) -> list[ExecutorStatus]:
    """Status rows from the reconciliation alone (reported / not reported); the CLI passes the ledger's."""
    return status_from_reconciliation(catalogue, rec)


def unconfirmed_banner(catalogue: Catalogue, rec: Reconciliation, draft: str) -> str:
    """The banner of a report holding unconfirmed outliers: a draft says so; an approved report is refused."""
    left = rec.unconfirmed
    if not left:
        return draft
    if not draft:
        listing = "\n".join(f"  • {catalogue.executor_label(c.outlier.executor)}: {c.outlier.message}" for c in left)
        raise ConsolidateError(
            f"Звіт не сформовано: {len(left)} {plural_word(len(left), 'значення', 'значення', 'значень')} у прийнятих звітах "
            f"не підтверджено (ймовірні помилки введення):\n"
            f"{listing}\nПідтвердьте кожне (consolidate review accept … --confirm … --reason …) або сформуйте "
            f"чернетку (--include-unapproved)."
        )
    return (
        f"{draft} · {len(left)} {plural_word(len(left), 'непідтверджене значення', 'непідтверджені значення', 'непідтверджених значень')} "
        f"(ймовірні помилки введення) позначено червоним — див. аркуш «{SHEET_CHECKS}»"
    )


def build_report(
    catalogue: Catalogue,
    rec: Reconciliation,
    status_rows: list[ExecutorStatus] | None = None,
    draft: str = "",
    created: dt.datetime | None = None,
    previous: Reconciliation | None = None,
) -> bytes:
    """The report workbook as bytes. ``draft``: a banner written on every sheet (e.g. unapproved data).
    ``previous``: the same period a year earlier — a sheet «Попередній рік» beside the legal form.

    Refused (ConsolidateError) when the figures hold an unconfirmed outlier and this is no draft.
    Sheets are assembled in temporary files (not in memory) and only the compressed workbook is held:
    the memory used does not grow with the provenance rows.
    """
    draft = unconfirmed_banner(catalogue, rec, draft)
    buf = io.BytesIO()
    wb = report_workbook(
        buf, {"in_memory": False, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    wb.set_properties(
        {
            "title": f"Звіт про виконання програми {catalogue.programme.code} за {rec.period}",
            "author": catalogue.programme.customer,
            **({"created": created} if created is not None else {}),
        }
    )  # a stamp given: same bytes
    fmts = _F(wb)
    _write_section1(wb, fmts, catalogue, rec, draft)
    _write_section2(wb, fmts, catalogue, rec, draft)
    _write_section3(wb, fmts, catalogue, rec, draft)
    _write_checks(wb, fmts, catalogue, rec, draft)
    _write_status(wb, fmts, status_rows if status_rows is not None else default_status_rows(catalogue, rec), draft)
    _write_sources(wb, fmts, rec, draft)
    if previous is not None:
        _write_previous(wb, fmts, catalogue, rec, previous, draft)
    wb.close()
    return buf.getvalue()


__all__ = [
    "build_report",
    "atomic_write",
    "StatusRow",
    "default_status_rows",
    "funding_display",
    "subtotal_note",
    "indicator_display",
    "completeness_note",
    "measure_narrative",
    "period_phrase",
]
