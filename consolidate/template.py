"""Per-executor reporting workbooks (xlsxwriter): protected, pre-filled, validated, identifiable.

Layout contract: :mod:`consolidate.layout`.  Generation is deterministic: the same catalogue,
executor, period, contact and ``generated_at`` give byte-identical files.

The title sheet carries a self-check (formulas counting empty required inputs and rule
violations).  :func:`self_check_counts` evaluates the same rules in Python; the initial cached
value of every self-check cell is that count for the empty template, so a viewer that does not
recalculate on load still shows the truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from . import layout as L
from .catalogue import GROUPS, SOURCE_LABELS, UNIT_LABELS, Catalogue, period_label
from .errors import ConsolidateError
from .numbers import format_value
from .xlsx_fast import template_workbook

DEFAULT_TIMESTAMP = dt.datetime(2000, 1, 1, 0, 0, 0)
WB_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("file", "executor", "executor_name", "period", "template_id", "template_version", "sha256")

# Title sheet: column C holds the self-check counts, hidden column D the check codes.
TITLE_CHECK_VALUE_COL = 2
TITLE_CHECK_CODE_COL = 3
CHECK_TOTAL = "total"
LAST_FORMULA_ROW = 1000  # self-check ranges reach this row (generous for rows the executor adds)

TEXT_UNIT = "text"
FONT = "Times New Roman"


@dataclass(frozen=True)
class TemplateFile:
    path: Path
    executor: str
    period: str
    template_id: str
    template_version: str
    sha256: str


@dataclass(frozen=True)
class Identity:
    """The catalogue's content hash and template version (hashed once per catalogue, see ``Catalogue.digest``)."""

    digest: str
    version: str


def catalogue_identity(catalogue: Catalogue) -> Identity:
    return Identity(catalogue.digest, catalogue.template_version)


def template_id(catalogue: Catalogue, executor: str, period: str, identity: Identity | None = None) -> str:
    version = (identity or catalogue_identity(catalogue)).version
    blob = f"{catalogue.programme.code}|{version}|{executor}|{period}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def file_name(catalogue: Catalogue, executor: str, period: str) -> str:
    """A name a clerk recognises: period, executor's short name, code."""
    short = catalogue.registry[executor].short_name
    short = _UNSAFE.sub(" ", short).strip().strip(".")[:60]
    return f"Звіт {period} — {short} ({executor}).xlsx"


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO date or date-time for the pinned timestamp; an aware time is converted to UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConsolidateError(
            f"Неправильна позначка часу «{text}»: очікується ISO: РРРР-ММ-ДД або РРРР-ММ-ДДТГГ:ХХ:СС"
        ) from exc
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def default_contact(catalogue: Catalogue) -> str:
    """Whom executors contact: the state customer's entry in the registry."""
    code = catalogue.programme.customer_executor
    ex = catalogue.registry.get(code) if code else None
    if ex is None:
        return catalogue.programme.customer
    parts = [ex.full_name, ex.contact_person, ", ".join(ex.emails)]
    return "; ".join(p for p in parts if p)


def unit_label(unit: str) -> str:
    return UNIT_LABELS.get(unit, unit)


# ---------------------------------------------------------------------------------
# text geometry: row heights for wrapped Ukrainian text (xlsxwriter does not autofit rows,
# LibreOffice does not re-fit them on load)
# ---------------------------------------------------------------------------------

LINE_PT = 13.5  # one line of 11 pt Times New Roman
CHARS_PER_WIDTH = 1.0  # characters of 11 pt Times per unit of column width, with room for word wrap


@functools.lru_cache(maxsize=16384)  # the same labels, task and measure texts recur in every template
def _lines(text: str, width: float, font_size: float = 11, bold: bool = False) -> int:
    per_line = max(1, int(width * CHARS_PER_WIDTH * (0.85 if bold else 1.0) * 11 / font_size))
    total = 0
    for para in str(text).split("\n"):
        total += max(1, math.ceil(len(para) / per_line))
    return total


def _height(
    cells: Iterable[tuple[str, float]], minimum: float = 15, font_size: float = 11, bold: bool = False
) -> float:
    lines = 1
    for text, width in cells:
        if text:
            n = _lines(text, width, font_size, bold)
            if n > lines:
                lines = n
    return _points(lines, minimum, font_size)


@functools.lru_cache(maxsize=1024)
def _points(lines: int, minimum: float, font_size: float) -> float:
    return max(minimum, round(lines * LINE_PT * font_size / 11 + 4, 1))


def _text(ws, row, col, value, fmt=None):
    """Write text as text: never a formula, a URL or a number, whatever it starts with."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


PROGRAMME_PLAN_LABEL = "план на програму загалом"
QUARTER_NOTES = {"cumulative": "наростаючим підсумком з початку року", "per_quarter": "лише за цей квартал"}


def plan_for(catalogue: Catalogue, ind, executor: str) -> tuple[float | None, float | None]:
    """(the executor's own plan, the programme-level plan shown as such) of an indicator.

    The executor's own plan is its entry in the indicator's plans, or the programme's plan when the executor
    is the measure's only executor; otherwise the programme's plan is only the programme's (labelled so).
    """
    own = ind.plan_of(executor)
    if own is not None:
        return own, None
    if ind.planned is not None and catalogue.executors_of(ind.measure_id) == [executor]:
        return ind.planned, None
    return None, ind.planned


class _Formats:
    def __init__(self, wb):
        base = {"font_name": FONT, "font_size": 11, "valign": "top", "text_wrap": True, "border": 1}
        self.title = wb.add_format(
            {"font_name": FONT, "bold": True, "font_size": 14, "text_wrap": True, "valign": "top"}
        )
        self.label = wb.add_format({"font_name": FONT, "bold": True, "valign": "top", "text_wrap": True})
        self.plain = wb.add_format({"font_name": FONT, "valign": "top", "text_wrap": True})
        self.hint = wb.add_format(
            {"font_name": FONT, "italic": True, "font_color": "#555555", "valign": "top", "text_wrap": True}
        )
        self.header = wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9E1F2"})
        self.code = wb.add_format({"font_size": 8, "font_color": "#888888"})
        self.locked = wb.add_format({**base, "bg_color": "#F2F2F2"})
        self.locked_bold = wb.add_format({**base, "bold": True, "bg_color": "#E7E6E6"})
        self.locked_num = wb.add_format({**base, "bg_color": "#F2F2F2", "num_format": "# ##0.0"})
        self.locked_center = wb.add_format({**base, "bg_color": "#F2F2F2", "align": "center"})
        self.input_num = wb.add_format({**base, "locked": False, "num_format": "# ##0.0", "bg_color": "#FFFFFF"})
        self.input_text = wb.add_format({**base, "locked": False, "bg_color": "#FFFFFF"})
        self.input_big = wb.add_format({**base, "locked": False, "bg_color": "#FFFFFF", "font_size": 10})
        self.missing = wb.add_format({"bg_color": "#FFF2CC"})
        self.violation = wb.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        self.check = wb.add_format(
            {"font_name": FONT, "bold": True, "border": 1, "num_format": "0", "align": "center", "valign": "top"}
        )
        self.check_label = wb.add_format({"font_name": FONT, "valign": "top", "text_wrap": True, "border": 1})
        self.check_total_label = wb.add_format(
            {"font_name": FONT, "bold": True, "valign": "top", "text_wrap": True, "border": 1}
        )
        self.check_good = wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        # Values of indicators: "General" is the default number format, so these are the same styles
        # (xlsxwriter would otherwise recompute a duplicate's style key at every cell).
        self.locked_val = self.locked
        self.input_val = self.input_text
        self.check_bad = self.violation


# ---------------------------------------------------------------------------------
# self-check: the same rules as spreadsheet formulas and in Python
# ---------------------------------------------------------------------------------

Row = Mapping[str, Any]


def _blank(v) -> bool:
    return v is None or v == ""


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class SelfCheck:
    code: str
    label: str
    formula: str
    count: Callable[[Sequence[Row], Sequence[Row]], int]  # (funding rows, execution rows) -> count


def _req(row: Row, flag: int) -> bool:
    v = row.get("required")
    return _num(v) and v == flag


def _self_checks() -> list[SelfCheck]:
    fq, eq = f"'{L.SHEET_FUNDING}'", f"'{L.SHEET_EXECUTION}'"
    fc = {c: xl_col_to_name(i) for i, (c, _) in enumerate(L.FUNDING_COLUMNS)}
    ec = {c: xl_col_to_name(i) for i, (c, _) in enumerate(L.EXECUTION_COLUMNS)}

    def f(code):
        return f"{fq}!${fc[code]}${L.FIRST_DATA_ROW}:${fc[code]}${LAST_FORMULA_ROW}"

    def e(code):
        return f"{eq}!${ec[code]}${L.FIRST_DATA_ROW}:${ec[code]}${LAST_FORMULA_ROW}"

    nil, pct, txt = L.NIL_FUNDING, unit_label("percent"), unit_label(TEXT_UNIT)

    def not_nil(r):
        return not (isinstance(r.get("nil"), str) and r["nil"].strip().casefold() == nil.casefold())

    return [
        SelfCheck(
            "funding_missing",
            "Незаповнені суми фінансування (профінансовано, касові видатки)",
            f'=COUNTIFS({f("required")},1,{f("financed")},"",{f("nil")},"<>{nil}")'
            f'+COUNTIFS({f("required")},1,{f("cash")},"",{f("nil")},"<>{nil}")',
            lambda fr, er: sum(_blank(r.get(c)) for r in fr if _req(r, 1) and not_nil(r) for c in ("financed", "cash")),
        ),
        SelfCheck(
            "cash_over_financed",
            "Касові видатки більші за профінансовані суми",
            f"=SUMPRODUCT(ISNUMBER({f('cash')})*ISNUMBER({f('financed')})*({f('cash')}>{f('financed')}))",
            lambda fr, er: sum(
                1 for r in fr if _num(r.get("cash")) and _num(r.get("financed")) and r["cash"] > r["financed"]
            ),
        ),
        SelfCheck(
            "negative",
            "Від’ємні числа (суми, фактичні значення, чисельники, знаменники)",
            "="
            + "+".join(
                f'COUNTIF({rng},"<0")'
                for rng in (f("financed"), f("cash"), e("actual"), e("numerator"), e("denominator"))
            ),
            lambda fr, er: sum(
                1
                for rows, codes in ((fr, ("financed", "cash")), (er, ("actual", "numerator", "denominator")))
                for r in rows
                for c in codes
                if _num(r.get(c)) and r[c] < 0
            ),
        ),
        SelfCheck(
            "not_a_number",
            "Текст замість числа в числових клітинках",
            f'=SUMPRODUCT(({f("required")}=1)*({f("financed")}<>"")*NOT(ISNUMBER({f("financed")})))'
            f'+SUMPRODUCT(({f("required")}=1)*({f("cash")}<>"")*NOT(ISNUMBER({f("cash")})))'
            f'+SUMPRODUCT(({e("required")}=1)*({e("unit")}<>"{txt}")*({e("actual")}<>"")*NOT(ISNUMBER({e("actual")})))'
            f'+SUMPRODUCT(({e("required")}=1)*({e("numerator")}<>"")*NOT(ISNUMBER({e("numerator")})))'
            f'+SUMPRODUCT(({e("required")}=1)*({e("denominator")}<>"")*NOT(ISNUMBER({e("denominator")})))',
            lambda fr, er: (
                sum(
                    1
                    for r in fr
                    if _req(r, 1)
                    for c in ("financed", "cash")
                    if not _blank(r.get(c)) and not _num(r.get(c))
                )
                + sum(
                    1
                    for r in er
                    if _req(r, 1)
                    for c in ("actual", "numerator", "denominator")
                    if not (c == "actual" and r.get("unit") == txt) and not _blank(r.get(c)) and not _num(r.get(c))
                )
            ),
        ),
        SelfCheck(
            "actual_missing",
            "Показники без фактичного значення",
            f'=COUNTIFS({e("required")},1,{e("actual")},"")',
            lambda fr, er: sum(1 for r in er if _req(r, 1) and _blank(r.get("actual"))),
        ),
        SelfCheck(
            "status_missing",
            "Заходи без стану виконання",
            f'=COUNTIFS({e("required")},2,{e("status")},"")',
            lambda fr, er: sum(1 for r in er if _req(r, 2) and _blank(r.get("status"))),
        ),
        SelfCheck(
            "narrative_missing",
            "Заходи без тексту про виконання",
            f'=COUNTIFS({e("required")},2,{e("narrative")},"")',
            lambda fr, er: sum(1 for r in er if _req(r, 2) and _blank(r.get("narrative"))),
        ),
        SelfCheck(
            "percent_over_100",
            "Відсотки понад 100",
            f'=COUNTIFS({e("unit")},"{pct}",{e("actual")},">100")',
            lambda fr, er: sum(1 for r in er if r.get("unit") == pct and _num(r.get("actual")) and r["actual"] > 100),
        ),
        SelfCheck(
            "numerator_over_denominator",
            "Чисельник більший за знаменник",
            f"=SUMPRODUCT(ISNUMBER({e('numerator')})*ISNUMBER({e('denominator')})"
            f"*({e('numerator')}>{e('denominator')}))",
            lambda fr, er: sum(
                1
                for r in er
                if _num(r.get("numerator")) and _num(r.get("denominator")) and r["numerator"] > r["denominator"]
            ),
        ),
    ]


SELF_CHECKS = _self_checks()
SELF_CHECK_CODES = tuple(c.code for c in SELF_CHECKS) + (CHECK_TOTAL,)


def self_check_counts(funding_rows: Sequence[Row], execution_rows: Sequence[Row]) -> dict[str, int]:
    """The self-check of the title sheet evaluated in Python.

    Rows are the data rows of «I. Фінансування» and «II. Виконання» as ``{column code: value}``
    (``None`` or "" for an empty cell), values as a spreadsheet reader returns them.
    """
    counts = {c.code: int(c.count(funding_rows, execution_rows)) for c in SELF_CHECKS}
    counts[CHECK_TOTAL] = sum(counts.values())
    return counts


# ---------------------------------------------------------------------------------
# sheets
# ---------------------------------------------------------------------------------


def _page_setup(ws, fit_height: int = 0):
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, fit_height)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&L&8&A&R&8&P / &N")


def _sheet_setup(ws, columns, widths, title, hint, fmts, password):
    """Hidden code row, title, hint, header; print and protection settings."""
    codes = [c for c, _ in columns]
    for c, (code, label) in enumerate(columns):
        ws.write_string(0, c, code, fmts.code)
        ws.write_string(3, c, label, fmts.header)
        ws.set_column(c, c, widths.get(code, 14))
    ws.set_row(0, None, None, {"hidden": True})
    ws.set_column(0, 0, 14, None, {"hidden": True})
    req = codes.index("required") if "required" in codes else None
    if req is not None:
        ws.set_column(req, req, 4, None, {"hidden": True})
    last_visible = len(columns) - 1 - (1 if req is not None else 0)
    visible_width = sum(widths.get(c, 14) for c in codes[1 : last_visible + 1])
    ws.merge_range(1, 1, 1, last_visible, title, fmts.title)
    ws.merge_range(2, 1, 2, last_visible, hint, fmts.hint)
    ws.set_row(1, 24)
    ws.set_row(2, _height([(hint, visible_width)], minimum=18))
    ws.set_row(
        3,
        _height(
            [(label, widths.get(code, 14)) for code, label in columns[1 : last_visible + 1]], minimum=30, bold=True
        ),
    )
    ws.freeze_panes(L.FIRST_DATA_ROW - 1, 2)
    _page_setup(ws)
    ws.repeat_rows(3, 3)
    ws.protect(
        password,
        {
            "format_columns": True,
            "format_rows": True,
            "select_locked_cells": True,
            "select_unlocked_cells": True,
            "autofilter": False,
        },
    )


def _validation_msgs(title, message, error):
    return {
        "input_title": title[:32],
        "input_message": message[:255],
        "error_title": "Неприпустиме значення"[:32],
        "error_message": error[:255],
        "error_type": "stop",
    }


def _number_validation(kind: str):
    if kind == "percent":
        return {
            "validate": "decimal",
            "criteria": "between",
            "minimum": 0,
            "maximum": 100,
            **_validation_msgs(
                "Відсоток", "Введіть відсоток від 0 до 100 (без знака %).", "Відсоток має бути числом від 0 до 100."
            ),
        }
    if kind == "count":
        return {
            "validate": "integer",
            "criteria": ">=",
            "value": 0,
            **_validation_msgs(
                "Кількість", "Введіть ціле число ≥ 0.", "Кількість має бути цілим числом, не меншим за 0."
            ),
        }
    if kind == "amount":
        return {
            "validate": "decimal",
            "criteria": ">=",
            "value": 0,
            **_validation_msgs(
                "Сума, тис. грн",
                "Сума в тисячах гривень, один знак після коми, ≥ 0.",
                "Сума має бути числом, не меншим за 0 (тис. грн).",
            ),
        }
    return {
        "validate": "decimal",
        "criteria": ">=",
        "value": 0,
        **_validation_msgs("Число", "Введіть число ≥ 0.", "Значення має бути числом, не меншим за 0."),
    }


def _text_validation(title: str, message: str, limit: int):
    return {
        "validate": "length",
        "criteria": "<=",
        "value": limit,
        **_validation_msgs(title, message, f"Текст задовгий (понад {limit:,} знаків).".replace(",", " ")),
    }


def _column_runs(cells: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Cells (row, col) as ranges [first_row, col, last_row, col]: consecutive rows of a column in one."""
    by_col: dict[int, list[int]] = {}
    for r, c in cells:
        by_col.setdefault(c, []).append(r)
    runs = []
    for c in sorted(by_col):
        rows = sorted(set(by_col[c]))
        start = prev = rows[0]
        for r in rows[1:]:
            if r != prev + 1:
                runs.append([start, c, prev, c])
                start = r
            prev = r
        runs.append([start, c, prev, c])
    return runs


def _validate_cells(ws, cells: Iterable[tuple[int, int]], options: dict):
    """One data validation for many cells (a single <dataValidation>; its sqref lists column runs)."""
    runs = _column_runs(cells)
    if not runs:
        return
    (r1, c1, r2, c2), *rest = runs
    opts = dict(options)
    if rest:
        opts["other_cells"] = rest
    ws.data_validation(r1, c1, r2, c2, opts)


def _format_columns(ws, first: int, last: int, cols: Iterable[int], criteria: Callable[[str], str], fmt):
    """A formula conditional format on rows first..last of some columns: one range per run of adjacent
    columns, the criteria written for the run's first column (relative references follow the cell)."""
    cols = sorted(cols)
    start = 0
    for i in range(1, len(cols) + 1):
        if i == len(cols) or cols[i] != cols[i - 1] + 1:
            ws.conditional_format(
                first,
                cols[start],
                last,
                cols[i - 1],
                {"type": "formula", "criteria": criteria(xl_col_to_name(cols[start])), "format": fmt},
            )
            start = i


def _write_title(
    wb,
    fmts,
    catalogue: Catalogue,
    executor: str,
    period: str,
    password: str,
    contact: str,
    summary: str,
    initial: dict[str, int],
):
    ws = wb.add_worksheet(L.SHEET_TITLE)
    ex = catalogue.registry[executor]
    prog = catalogue.programme
    widths = (30, 100, 12)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.set_column(TITLE_CHECK_CODE_COL, TITLE_CHECK_CODE_COL, 12, None, {"hidden": True})
    title = f"ЗВІТ про виконання державної цільової програми за {period_label(period)}"
    ws.merge_range(0, 0, 0, 2, title, fmts.title)
    ws.set_row(0, 24)
    rows = [
        ("Програма:", prog.title),
        ("Нормативний акт:", prog.act),
        ("Державний замовник:", prog.customer),
        (L.TITLE_PERIOD_LABEL, period_label(period) if period.isdigit() else f"{period} ({period_label(period)})"),
        (L.TITLE_EXECUTOR_LABEL, ex.full_name),
        ("Код виконавця:", ex.code),
        ("Строк подання:", catalogue.deadline(period).strftime("%d.%m.%Y")),
        ("З питань заповнення звертайтеся:", contact),
        ("Як надіслати:", "Надішліть заповнений файл у відповідь на лист, з яким його отримано."),
        ("У файлі:", summary),
    ]
    r = 2
    for label, value in rows:
        _text(ws, r, 0, label, fmts.label)
        _text(ws, r, 1, value, fmts.plain)
        ws.set_row(r, _height([(label, widths[0]), (value, widths[1])]))
        r += 1
    r += 1
    _text(ws, r, 0, "Як заповнювати", fmts.label)
    instructions = [
        "1. Заповнюйте лише білі клітинки; сірі клітинки з даними програми захищено від змін. Жовтим позначено "
        "незаповнені обов’язкові клітинки, червоним — помилки.",
        "2. «I. Фінансування»: фактично профінансовано і касові видатки — у тисячах гривень з одним знаком після коми "
        "(напр. 8 814,5). Якщо фінансування не було — оберіть «так» у колонці «Фінансування не здійснювалось».",
        "3. «II. Виконання»: для кожного показника — фактичне значення (відсотки — числом від 0 до 100, без знака %); "
        "для кожного заходу — стан виконання зі списку і текст про виконання, як він має увійти до звіту.",
        "4. «III. Пропозиції»: пропозиції щодо подальшого виконання програми (за потреби).",
        "5. Не перейменовуйте аркуші і не переносьте дані в інший файл: файл містить службові відомості, за якими "
        "його буде прийнято.",
        "6. Перед надсиланням перевірте самоперевірку нижче: усі лічильники мають дорівнювати 0.",
    ]
    for line in instructions:
        r += 1
        _text(ws, r, 1, line, fmts.plain)
        ws.set_row(r, _height([(line, widths[1])]))
    r += 2
    _text(ws, r, 0, "Самоперевірка перед надсиланням", fmts.label)
    _text(
        ws,
        r,
        1,
        "Кількість незаповнених обов’язкових клітинок і порушень правил (оновлюється під час заповнення)",
        fmts.hint,
    )
    first_check = r + 1
    for check in SELF_CHECKS:
        r += 1
        _text(ws, r, 1, check.label, fmts.check_label)
        ws.write_formula(r, TITLE_CHECK_VALUE_COL, check.formula, fmts.check, initial[check.code])
        _text(ws, r, TITLE_CHECK_CODE_COL, check.code)
        ws.set_row(r, _height([(check.label, widths[1])]))
    last_check = r
    r += 1
    col = xl_col_to_name(TITLE_CHECK_VALUE_COL)
    _text(ws, r, 1, "Усього зауважень (має бути 0)", fmts.check_total_label)
    ws.write_formula(
        r,
        TITLE_CHECK_VALUE_COL,
        f"=SUM({col}{first_check + 1}:{col}{last_check + 1})",
        fmts.check,
        initial[CHECK_TOTAL],
    )
    _text(ws, r, TITLE_CHECK_CODE_COL, CHECK_TOTAL)
    ws.conditional_format(
        first_check,
        TITLE_CHECK_VALUE_COL,
        r,
        TITLE_CHECK_VALUE_COL,
        {"type": "cell", "criteria": ">", "value": 0, "format": fmts.check_bad},
    )
    ws.conditional_format(
        first_check,
        TITLE_CHECK_VALUE_COL,
        r,
        TITLE_CHECK_VALUE_COL,
        {"type": "cell", "criteria": "==", "value": 0, "format": fmts.check_good},
    )
    _page_setup(ws, fit_height=1)
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True})
    return ws


def _write_funding(wb, fmts, catalogue: Catalogue, executor: str, password: str, keys: list):
    ws = wb.add_worksheet(L.SHEET_FUNDING)
    cols = L.FUNDING_COLUMNS
    ci = {c: i for i, (c, _) in enumerate(cols)}
    widths = {
        "task": 24,
        "measure": 42,
        "source": 16,
        "programme_amount": 12,
        "planned": 12,
        "financed": 13,
        "cash": 13,
        "budget_code": 28,
        "nil": 14,
        "comment": 26,
    }
    _sheet_setup(
        ws,
        cols,
        widths,
        "I. Фінансування завдань та заходів програми (тис. грн)",
        "Заповніть білі клітинки: фактично профінансовано і касові видатки за звітний період (тис. грн, "
        "один знак після коми), код і назву бюджетної програми. Касові видатки не можуть перевищувати "
        "профінансовані суми. Якщо фінансування не здійснювалось — оберіть «так».",
        fmts,
        password,
    )
    lines = catalogue.funding_for(executor)
    first = L.FIRST_DATA_ROW - 1
    row = first
    for f in lines:
        m = catalogue.measure(f.measure_id)
        t = catalogue.task(m.task_id)
        task_text, measure_text = f"{t.number}. {t.name}", f"{m.number}) {m.text}"
        source = f.source_label or SOURCE_LABELS[f.source]
        _text(ws, row, ci["key"], f.id, fmts.locked)
        _text(ws, row, ci["task"], task_text, fmts.locked)
        _text(ws, row, ci["measure"], measure_text, fmts.locked)
        _text(ws, row, ci["source"], source, fmts.locked)
        for code in ("programme_amount", "planned"):
            v = getattr(f, code)
            if v is None:
                ws.write_blank(row, ci[code], None, fmts.locked_num)
            else:
                ws.write_number(row, ci[code], v, fmts.locked_num)
        ws.write_blank(row, ci["financed"], None, fmts.input_num)
        ws.write_blank(row, ci["cash"], None, fmts.input_num)
        _text(ws, row, ci["budget_code"], f.budget_code, fmts.input_text)
        ws.write_blank(row, ci["nil"], None, fmts.input_text)
        ws.write_blank(row, ci["comment"], None, fmts.input_text)
        ws.write_number(row, ci["required"], 1)
        ws.set_row(
            row,
            _height(
                [
                    (task_text, widths["task"]),
                    (measure_text, widths["measure"]),
                    (source, widths["source"]),
                    (f.budget_code, widths["budget_code"]),
                ],
                minimum=45,
            ),
        )
        keys.append((f.id, "funding", "funding"))
        row += 1
    last = row - 1
    if lines:
        _validate_cells(
            ws,
            [(r, ci[code]) for code in ("financed", "cash") for r in range(first, last + 1)],
            _number_validation("amount"),
        )
        ws.data_validation(
            first,
            ci["nil"],
            last,
            ci["nil"],
            {
                "validate": "list",
                "source": [L.NIL_FUNDING],
                **_validation_msgs(
                    "Без фінансування",
                    "Оберіть «так», якщо у звітному періоді фінансування не здійснювалось.",
                    "Оберіть значення зі списку або залиште порожнім.",
                ),
            },
        )
        ws.data_validation(
            first,
            ci["budget_code"],
            last,
            ci["budget_code"],
            _text_validation(
                "Код програми", "КПКВК і назва бюджетної програми, за якою здійснювалось фінансування.", 1000
            ),
        )
        ws.data_validation(
            first,
            ci["comment"],
            last,
            ci["comment"],
            _text_validation(
                "Примітка", "Пояснення до рядка (за потреби): причини відхилень, джерела, уточнення.", 2000
            ),
        )
        fin, cash, nil = (xl_col_to_name(ci[c]) for c in ("financed", "cash", "nil"))
        r1 = first + 1
        amounts = (ci["financed"], ci["cash"])
        _format_columns(
            ws,
            first,
            last,
            amounts,
            lambda col: f'=AND(ISBLANK({col}{r1}),${nil}{r1}<>"{L.NIL_FUNDING}")',
            fmts.missing,
        )
        ws.conditional_format(
            first,
            ci["cash"],
            last,
            ci["cash"],
            {
                "type": "formula",
                "criteria": f"=AND(ISNUMBER({cash}{r1}),ISNUMBER({fin}{r1}),{cash}{r1}>{fin}{r1})",
                "format": fmts.violation,
            },
        )
        _format_columns(ws, first, last, amounts, lambda col: f"=AND(ISNUMBER({col}{r1}),{col}{r1}<0)", fmts.violation)
    else:
        _text(
            ws,
            first,
            ci["task"],
            "Для цього виконавця в програмі немає рядків фінансування: аркуш не заповнюється.",
            fmts.hint,
        )
        ws.set_row(first, 30)
    return ws


def _write_execution(wb, fmts, catalogue: Catalogue, executor: str, password: str, keys: list, period: str = ""):
    ws = wb.add_worksheet(L.SHEET_EXECUTION)
    cols = L.EXECUTION_COLUMNS
    ci = {c: i for i, (c, _) in enumerate(cols)}
    widths = {
        "item": 56,
        "unit": 7,
        "planned": 11,
        "actual": 12,
        "numerator": 11,
        "denominator": 11,
        "status": 16,
        "narrative": 70,
    }
    _sheet_setup(
        ws,
        cols,
        widths,
        "II. Виконання завдань і заходів програми",
        "Для кожного заходу оберіть стан виконання і опишіть виконання (текст увійде до звіту під назвою "
        "вашого органу). Для кожного показника внесіть фактичне значення; для відсотків — також чисельник і "
        "знаменник, якщо вони відомі.",
        fmts,
        password,
    )
    first = L.FIRST_DATA_ROW - 1
    row = first
    actual_cells: dict[str, list[tuple[int, int]]] = {"count": [], "percent": [], "number": [], "text": []}
    pair_cells: list[tuple[int, int]] = []
    measure_rows: list[int] = []
    current_task = None
    for m in catalogue.measures_for(executor):
        if m.task_id != current_task:
            current_task = m.task_id
            t = catalogue.task(m.task_id)
            task_text = f"{t.number}. {t.name}"
            _text(ws, row, ci["key"], t.id, fmts.locked_bold)
            _text(ws, row, ci["item"], task_text, fmts.locked_bold)
            for code in ("unit", "planned", "actual", "numerator", "denominator", "status", "narrative"):
                ws.write_blank(row, ci[code], None, fmts.locked_bold)
            ws.set_row(row, _height([(task_text, widths["item"])], bold=True))
            keys.append((t.id, "execution", "task"))
            row += 1
        execs = ", ".join(catalogue.executor_label(c) for c in m.executors)
        item = f"{m.number}) {m.text}\n(виконавці: {execs})"
        _text(ws, row, ci["key"], m.id, fmts.locked)
        _text(ws, row, ci["item"], item, fmts.locked)
        for code in ("unit", "planned", "actual", "numerator", "denominator"):
            ws.write_blank(row, ci[code], None, fmts.locked)
        ws.write_blank(row, ci["status"], None, fmts.input_text)
        ws.write_blank(row, ci["narrative"], None, fmts.input_big)
        ws.write_number(row, ci["required"], 2)
        ws.set_row(row, _height([(item, widths["item"])], minimum=100))
        measure_rows.append(row)
        keys.append((m.id, "execution", "measure"))
        row += 1
        quarter = "-Q" in period
        for ind in catalogue.indicators_of(m.id):
            name = f"    {ind.name}"
            if quarter and ind.numeric:  # how the quarter's figure is meant (quarters.py checks the year by it)
                name += " — " + QUARTER_NOTES[ind.quarterly or "cumulative"]
            _text(ws, row, ci["key"], ind.id, fmts.locked)
            _text(ws, row, ci["item"], name, fmts.locked)
            _text(ws, row, ci["unit"], unit_label(ind.unit), fmts.locked_center)
            own, overall = plan_for(catalogue, ind, executor)
            if own is not None:
                ws.write_number(row, ci["planned"], own, fmts.locked_val)
            elif overall is not None:  # never shown as the executor's own target
                _text(ws, row, ci["planned"], f"{format_value(overall)} ({PROGRAMME_PLAN_LABEL})", fmts.locked)
            else:
                ws.write_blank(row, ci["planned"], None, fmts.locked_val)
            if ind.unit == TEXT_UNIT:
                ws.write_blank(row, ci["actual"], None, fmts.input_text)
                actual_cells["text"].append((row, ci["actual"]))
            else:
                ws.write_blank(row, ci["actual"], None, fmts.input_val)
                kind = ind.unit if ind.unit in ("count", "percent") else "number"
                actual_cells[kind].append((row, ci["actual"]))
            if ind.unit == "percent":
                ws.write_blank(row, ci["numerator"], None, fmts.input_val)
                ws.write_blank(row, ci["denominator"], None, fmts.input_val)
                pair_cells += [(row, ci["numerator"]), (row, ci["denominator"])]
            else:
                ws.write_blank(row, ci["numerator"], None, fmts.locked)
                ws.write_blank(row, ci["denominator"], None, fmts.locked)
            ws.write_blank(row, ci["status"], None, fmts.locked)
            ws.write_blank(row, ci["narrative"], None, fmts.locked)
            ws.write_number(row, ci["required"], 1)
            ws.set_row(row, _height([(name, widths["item"])], minimum=30))
            keys.append((ind.id, "execution", "indicator"))
            row += 1
    last = row - 1
    _validate_cells(ws, actual_cells["count"], _number_validation("count"))
    _validate_cells(ws, actual_cells["percent"], _number_validation("percent"))
    _validate_cells(ws, actual_cells["number"] + pair_cells, _number_validation("number"))
    _validate_cells(
        ws, actual_cells["text"], _text_validation("Фактично досягнуто", "Опишіть досягнутий результат текстом.", 2000)
    )
    _validate_cells(
        ws,
        [(r, ci["status"]) for r in measure_rows],
        {
            "validate": "list",
            "source": list(L.STATUS_VALUES),
            **_validation_msgs(
                "Стан виконання",
                "Оберіть стан виконання заходу зі списку.",
                "Оберіть одне зі значень списку: " + ", ".join(L.STATUS_VALUES) + ".",
            ),
        },
    )
    _validate_cells(
        ws,
        [(r, ci["narrative"]) for r in measure_rows],
        _text_validation(
            "Інформація про виконання",
            "Опишіть виконання заходу за звітний період: що зроблено, скільки, де. "
            "Текст увійде до національного звіту.",
            32000,
        ),
    )
    if last >= first:
        req = xl_col_to_name(ci["required"])
        r1 = first + 1
        for codes, flag in ((("actual",), 1), (("status", "narrative"), 2)):

            def missing(col: str, flag: int = flag) -> str:
                return f"=AND(${req}{r1}={flag},ISBLANK({col}{r1}))"

            _format_columns(ws, first, last, [ci[c] for c in codes], missing, fmts.missing)
        act, unit = xl_col_to_name(ci["actual"]), xl_col_to_name(ci["unit"])
        ws.conditional_format(
            first,
            ci["actual"],
            last,
            ci["actual"],
            {
                "type": "formula",
                "criteria": f'=AND(${unit}{r1}="{unit_label("percent")}",ISNUMBER({act}{r1}),{act}{r1}>100)',
                "format": fmts.violation,
            },
        )
        num, den = xl_col_to_name(ci["numerator"]), xl_col_to_name(ci["denominator"])
        ws.conditional_format(
            first,
            ci["numerator"],
            last,
            ci["numerator"],
            {
                "type": "formula",
                "criteria": f"=AND(ISNUMBER({num}{r1}),ISNUMBER(${den}{r1}),{num}{r1}>${den}{r1})",
                "format": fmts.violation,
            },
        )
        _format_columns(
            ws,
            first,
            last,
            [ci[c] for c in ("actual", "numerator", "denominator")],
            lambda col: f"=AND(ISNUMBER({col}{r1}),{col}{r1}<0)",
            fmts.violation,
        )
    return ws


def _write_proposals(wb, fmts, password: str, keys: list):
    ws = wb.add_worksheet(L.SHEET_PROPOSALS)
    cols = L.PROPOSAL_COLUMNS
    for c, (code, label) in enumerate(cols):
        ws.write_string(0, c, code, fmts.code)
        ws.write_string(3, c, label, fmts.header)
    ws.set_row(0, None, None, {"hidden": True})
    ws.set_column(0, 0, 10, None, {"hidden": True})
    ws.set_column(1, 1, 140)
    _text(ws, 1, 1, "III. Пропозиції щодо подальшого виконання програми", fmts.title)
    _text(ws, 2, 1, "Кожну пропозицію — в окрему клітинку. Можна залишити порожнім.", fmts.hint)
    ws.set_row(1, 24)
    ws.set_row(3, 20)
    for i, key in enumerate(L.PROPOSAL_KEYS):
        r = L.FIRST_DATA_ROW - 1 + i
        _text(ws, r, 0, key, fmts.locked)
        ws.write_blank(r, 1, None, fmts.input_big)
        ws.set_row(r, 90)
        keys.append((key, "proposals", "proposal"))
    ws.data_validation(
        L.FIRST_DATA_ROW - 1,
        1,
        L.FIRST_DATA_ROW - 1 + len(L.PROPOSAL_KEYS) - 1,
        1,
        _text_validation("Пропозиція", "Текст пропозиції.", 32000),
    )
    _page_setup(ws, fit_height=1)  # the five boxes of «III. Пропозиції» print on one page
    ws.repeat_rows(3, 3)
    ws.freeze_panes(L.FIRST_DATA_ROW - 1, 1)
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True, "format_rows": True})
    return ws


def _write_meta(wb, meta: dict[str, str], keys: list[tuple[str, str, str]], password: str):
    """Key/value rows (layout.META_KEYS), a blank row, then the row-keys block."""
    ms = wb.add_worksheet(L.SHEET_META)
    r = 0
    for key, value in meta.items():
        ms.write_string(r, 0, key)
        ms.write_string(r, 1, value)
        r += 1
    r += 1
    ms.write_string(r, 0, L.META_ROW_KEYS)
    ms.write_number(r, 1, len(keys))
    for key, kind, row_type in keys:
        r += 1
        ms.write_string(r, 0, key)
        ms.write_string(r, 1, kind)
        ms.write_string(r, 2, row_type)
    ms.very_hidden()
    ms.protect(password)


def meta_values(
    catalogue: Catalogue, executor: str, period: str, generated_at: dt.datetime, identity: Identity | None = None
) -> dict[str, str]:
    ex = catalogue.registry[executor]
    identity = identity or catalogue_identity(catalogue)
    return {
        "programme": L.PROGRAMME_TAG,
        "programme_code": catalogue.programme.code,
        "template_id": template_id(catalogue, executor, period, identity),
        "template_version": identity.version,
        "catalogue_hash": identity.digest,
        "executor_code": ex.code,
        "executor_name": ex.full_name,
        "period": period,
        "generated_at": generated_at.isoformat(timespec="seconds"),
    }


def empty_rows(catalogue: Catalogue, executor: str) -> tuple[list[dict], list[dict]]:
    """The data rows of an empty template (locked values only), for :func:`self_check_counts`."""
    funding = [{"key": f.id, "required": 1} for f in catalogue.funding_for(executor)]
    execution: list[dict] = []
    for m in catalogue.measures_for(executor):
        execution.append({"key": m.id, "required": 2})
        execution += [{"key": i.id, "required": 1, "unit": unit_label(i.unit)} for i in catalogue.indicators_of(m.id)]
    return funding, execution


def _initial_counts(catalogue: Catalogue, executor: str) -> dict[str, int]:
    """``self_check_counts`` of the empty template.  No rule reads a row's key, so the counts depend
    on the rows' required flags and units only: computed once per such shape."""
    funding, execution = empty_rows(catalogue, executor)
    shape = (tuple(r["required"] for r in funding), tuple((r["required"], r.get("unit")) for r in execution))
    return dict(_counts_of_shape(*shape))


@functools.lru_cache(maxsize=1024)
def _counts_of_shape(funding_shape: tuple, execution_shape: tuple) -> tuple[tuple[str, int], ...]:
    """The counts of empty rows of this shape (keys are never read by a rule), as an immutable tuple."""
    funding = [{"key": f"F{n}", "required": req} for n, req in enumerate(funding_shape)]
    execution = [
        {"key": f"E{n}", "required": req, **({"unit": unit} if req == 1 else {})}
        for n, (req, unit) in enumerate(execution_shape)
    ]
    return tuple(self_check_counts(funding, execution).items())


def build_workbook(
    catalogue: Catalogue,
    executor: str,
    period: str,
    password: str,
    generated_at: dt.datetime = DEFAULT_TIMESTAMP,
    contact: str | None = None,
    identity: Identity | None = None,
) -> bytes:
    """The workbook of one executor for one period, as bytes."""
    if executor not in catalogue.registry:
        raise ConsolidateError(f"Невідомий виконавець «{executor}» (немає в реєстрі)")
    catalogue.check_period(period)
    buf = io.BytesIO()
    wb = template_workbook(buf, WB_OPTIONS)  # xlsxwriter's Workbook (its fast path: consolidate.xlsx_fast)
    fmts = _Formats(wb)
    meta = meta_values(catalogue, executor, period, generated_at, identity)
    ex = catalogue.registry[executor]
    wb.set_properties(
        {
            "title": f"Звіт про виконання програми {catalogue.programme.code} за {period} — {ex.short_name}",
            "subject": catalogue.programme.title,
            "author": catalogue.programme.customer,
            "company": catalogue.programme.customer,
            "comments": f"Шаблон для: {ex.full_name}",
            "created": generated_at,
        }
    )
    for key, value in meta.items():
        wb.set_custom_property(L.CUSTOM_PREFIX + key, value)

    measures = catalogue.measures_for(executor)
    n_ind = sum(len(catalogue.indicators_of(m.id)) for m in measures)
    n_fund = len(catalogue.funding_for(executor))
    summary = (
        f"I. Фінансування — рядків: {n_fund}; II. Виконання — заходів: {len(measures)}, показників: {n_ind}; "
        f"III. Пропозиції."
    )
    initial = _initial_counts(catalogue, executor)
    keys: list[tuple[str, str, str]] = []
    _write_title(
        wb, fmts, catalogue, executor, period, password, contact or default_contact(catalogue), summary, initial
    )
    _write_funding(wb, fmts, catalogue, executor, password, keys)
    _write_execution(wb, fmts, catalogue, executor, password, keys, period)
    _write_proposals(wb, fmts, password, keys)
    _write_meta(wb, meta, keys, password)
    wb.close()
    return buf.getvalue()


def read_manifest(path: Path) -> list[dict[str, str]]:
    """The rows of a templates folder's manifest.csv (executor, file, sha256 …); [] when missing or unreadable."""
    if not path.is_file():
        return []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [r for r in rows if all(k in r for k in MANIFEST_FIELDS)]


def write_templates(
    catalogue: Catalogue,
    out_dir: Path,
    period: str,
    password: str,
    executors: list[str] | None = None,
    generated_at: dt.datetime = DEFAULT_TIMESTAMP,
    contact: str | None = None,
) -> list[TemplateFile]:
    """Write one workbook per executor into ``out_dir/<period>/`` and a manifest.csv beside them.

    With a subset of executors, the manifest keeps the rows of the other executors whose
    files are still there.
    """
    catalogue.check_period(period)
    wanted = list(dict.fromkeys(executors or catalogue.expected_executors()))
    unknown = [e for e in wanted if e not in catalogue.registry or e in GROUPS]
    if unknown:
        raise ConsolidateError(f"Невідомі виконавці: {', '.join(unknown)}")
    target = Path(out_dir) / period
    target.mkdir(parents=True, exist_ok=True)
    identity = catalogue_identity(catalogue)
    written: list[TemplateFile] = []
    for code in wanted:
        data = build_workbook(catalogue, code, period, password, generated_at, contact, identity)
        path = target / file_name(catalogue, code, period)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(
            TemplateFile(
                path,
                code,
                period,
                template_id(catalogue, code, period, identity),
                identity.version,
                hashlib.sha256(data).hexdigest(),
            )
        )
    manifest = target / MANIFEST
    rows = {
        r["executor"]: r
        for r in read_manifest(manifest)
        if r["executor"] not in wanted and r["executor"] in catalogue.registry and (target / r["file"]).is_file()
    }
    for t in written:
        rows[t.executor] = {
            "file": t.path.name,
            "executor": t.executor,
            "executor_name": catalogue.registry[t.executor].short_name,
            "period": t.period,
            "template_id": t.template_id,
            "template_version": t.template_version,
            "sha256": t.sha256,
        }
    order = {e.code: i for i, e in enumerate(catalogue.registry)}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_FIELDS)
    for code in sorted(rows, key=order.__getitem__):
        w.writerow([rows[code][k] for k in MANIFEST_FIELDS])
    tmp = manifest.with_name(MANIFEST + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(manifest)
    return written
