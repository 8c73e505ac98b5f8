"""Per-executor reporting workbooks (xlsxwriter): protected, pre-filled, validated, identifiable.

Layout contract: :mod:`consolidate.layout`.  Generation is deterministic: the same catalogue,
executor, period and ``generated_at`` give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from . import layout as L
from .catalogue import GROUPS, SOURCE_LABELS, Catalogue, period_label
from .errors import ConsolidateError

DEFAULT_TIMESTAMP = dt.datetime(2000, 1, 1, 0, 0, 0)
WB_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
              "strings_to_numbers": False}


@dataclass(frozen=True)
class TemplateFile:
    path: Path
    executor: str
    period: str
    template_id: str
    template_version: str
    sha256: str


def template_id(catalogue: Catalogue, executor: str, period: str) -> str:
    blob = f"{catalogue.programme.code}|{catalogue.template_version}|{executor}|{period}".encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def file_name(catalogue: Catalogue, executor: str, period: str) -> str:
    """A name a clerk recognises: period, executor's short name, code."""
    short = catalogue.registry[executor].short_name
    short = _UNSAFE.sub(" ", short).strip().strip(".")[:60]
    return f"Звіт {period} — {short} ({executor}).xlsx"


def _text(ws, row, col, value, fmt=None):
    """Write text as text: never a formula, a URL or a number, whatever it starts with."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


class _Formats:
    def __init__(self, wb):
        base = {"font_name": "Times New Roman", "font_size": 11, "valign": "top", "text_wrap": True, "border": 1}
        self.title = wb.add_format({"font_name": "Times New Roman", "bold": True, "font_size": 14, "text_wrap": True,
                                    "valign": "top"})
        self.label = wb.add_format({"font_name": "Times New Roman", "bold": True, "valign": "top", "text_wrap": True})
        self.plain = wb.add_format({"font_name": "Times New Roman", "valign": "top", "text_wrap": True})
        self.hint = wb.add_format({"font_name": "Times New Roman", "italic": True, "font_color": "#555555",
                                   "valign": "top", "text_wrap": True})
        self.header = wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9E1F2"})
        self.code = wb.add_format({"font_size": 8, "font_color": "#888888"})
        self.locked = wb.add_format({**base, "bg_color": "#F2F2F2"})
        self.locked_bold = wb.add_format({**base, "bold": True, "bg_color": "#E7E6E6"})
        self.locked_num = wb.add_format({**base, "bg_color": "#F2F2F2", "num_format": "# ##0.0"})
        self.locked_val = wb.add_format({**base, "bg_color": "#F2F2F2", "num_format": "General"})
        self.input_num = wb.add_format({**base, "locked": False, "num_format": "# ##0.0", "bg_color": "#FFFFFF"})
        self.input_val = wb.add_format({**base, "locked": False, "num_format": "General", "bg_color": "#FFFFFF"})
        self.input_text = wb.add_format({**base, "locked": False, "bg_color": "#FFFFFF"})
        self.input_big = wb.add_format({**base, "locked": False, "bg_color": "#FFFFFF", "font_size": 10})
        self.missing = wb.add_format({"bg_color": "#FFF2CC"})
        self.violation = wb.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        self.check_ok = wb.add_format({"font_name": "Times New Roman", "bold": True, "border": 1, "num_format": "0"})


def _sheet_setup(ws, columns, widths, title, hint, fmts, password):
    """Hidden code row, title, hint, header; print and protection settings."""
    for c, (code, label) in enumerate(columns):
        ws.write_string(0, c, code, fmts.code)
        ws.write_string(3, c, label, fmts.header)
        ws.set_column(c, c, widths.get(code, 14))
    ws.set_row(0, None, None, {"hidden": True})
    ws.set_column(0, 0, 14, None, {"hidden": True})
    req = [c for c, _ in columns].index("required") if any(c == "required" for c, _ in columns) else None
    if req is not None:
        ws.set_column(req, req, 4, None, {"hidden": True})
    ws.merge_range(1, 1, 1, len(columns) - 1 - (1 if req is not None else 0), title, fmts.title)
    ws.merge_range(2, 1, 2, len(columns) - 1 - (1 if req is not None else 0), hint, fmts.hint)
    ws.set_row(1, 36)
    ws.set_row(2, 48)
    ws.set_row(3, 48)
    ws.freeze_panes(L.FIRST_DATA_ROW - 1, 2)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(3, 3)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.protect(password, {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                          "select_unlocked_cells": True, "autofilter": False})


def _validation_msgs(title, message, error):
    return {"input_title": title[:32], "input_message": message[:255], "error_title": "Неприпустиме значення"[:32],
            "error_message": error[:255], "error_type": "stop"}


def _number_validation(kind: str):
    if kind == "percent":
        return {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
                **_validation_msgs("Відсоток", "Введіть відсоток від 0 до 100 (без знака %).",
                                   "Відсоток має бути числом від 0 до 100.")}
    if kind == "count":
        return {"validate": "integer", "criteria": ">=", "value": 0,
                **_validation_msgs("Кількість", "Введіть ціле число ≥ 0.", "Кількість має бути цілим числом, не меншим за 0.")}
    if kind == "amount":
        return {"validate": "decimal", "criteria": ">=", "value": 0,
                **_validation_msgs("Сума, тис. грн", "Сума в тисячах гривень, один знак після коми, ≥ 0.",
                                   "Сума має бути числом, не меншим за 0 (тис. грн).")}
    return {"validate": "decimal", "criteria": ">=", "value": 0,
            **_validation_msgs("Число", "Введіть число ≥ 0.", "Значення має бути числом, не меншим за 0.")}


def _write_title(wb, fmts, catalogue: Catalogue, executor: str, period: str, password: str, checks: list[tuple[str, str]]):
    ws = wb.add_worksheet(L.SHEET_TITLE)
    ex = catalogue.registry[executor]
    prog = catalogue.programme
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 90)
    ws.set_column(2, 2, 12)
    _text(ws, 0, 0, "ЗВІТ про виконання державної цільової програми", fmts.title)
    rows = [
        ("Програма:", prog.title),
        ("Нормативний акт:", prog.act),
        ("Державний замовник:", prog.customer),
        (L.TITLE_PERIOD_LABEL, f"{period} ({period_label(period)})"),
        (L.TITLE_EXECUTOR_LABEL, ex.full_name),
        ("Код виконавця:", ex.code),
        ("Строк подання:", catalogue.deadline(period).strftime("%d.%m.%Y")),
        ("Контакти Мінсоцполітики:", "Відповідь надсилайте цим самим файлом у відповідь на лист, з якого його отримано."),
    ]
    for r, (label, value) in enumerate(rows, start=2):
        _text(ws, r, 0, label, fmts.label)
        _text(ws, r, 1, value, fmts.plain)
    r = len(rows) + 3
    _text(ws, r, 0, "Як заповнювати", fmts.label)
    instructions = [
        "1. Заповнюйте лише білі клітинки; сірі клітинки з даними програми захищено від змін.",
        "2. «I. Фінансування»: фактично профінансовано і касові видатки — у тисячах гривень з одним знаком після коми "
        "(напр. 8 814,5). Якщо фінансування не було — оберіть «так» у колонці «Фінансування не здійснювалось».",
        "3. «II. Виконання»: для кожного показника — фактичне значення (відсотки — числом від 0 до 100, без знака %); "
        "для кожного заходу — стан виконання зі списку і текст про виконання, як він має увійти до звіту.",
        "4. «III. Пропозиції»: пропозиції щодо подальшого виконання програми.",
        "5. Не перейменовуйте файл і не копіюйте дані в інший файл: файл містить службові відомості, за якими його буде прийнято.",
        "6. Перед надсиланням перевірте самоперевірку нижче: усі лічильники мають дорівнювати 0.",
    ]
    for i, line in enumerate(instructions):
        _text(ws, r + 1 + i, 0, "", None)
        _text(ws, r + 1 + i, 1, line, fmts.plain)
    r = r + len(instructions) + 2
    _text(ws, r, 0, "Самоперевірка перед надсиланням", fmts.label)
    for i, (label, formula) in enumerate(checks):
        _text(ws, r + 1 + i, 1, label, fmts.plain)
        ws.write_formula(r + 1 + i, 2, formula, fmts.check_ok, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True})
    return ws


def _write_funding(wb, fmts, catalogue: Catalogue, executor: str, password: str):
    ws = wb.add_worksheet(L.SHEET_FUNDING)
    cols = L.FUNDING_COLUMNS
    ci = {c: i for i, (c, _) in enumerate(cols)}
    widths = {"task": 28, "measure": 48, "source": 22, "programme_amount": 14, "planned": 14, "financed": 15, "cash": 15,
              "budget_code": 30, "nil": 15, "comment": 30}
    _sheet_setup(ws, cols, widths, "I. Фінансування завдань та заходів програми (тис. грн)",
                 "Заповніть білі клітинки: фактично профінансовано і касові видатки за звітний період, код бюджетної "
                 "програми. Касові видатки не можуть перевищувати профінансовані суми.", fmts, password)
    lines = catalogue.funding_for(executor)
    row = L.FIRST_DATA_ROW - 1
    for f in lines:
        m = catalogue.measure(f.measure_id)
        t = catalogue.task(m.task_id)
        _text(ws, row, ci["key"], f.id, fmts.locked)
        _text(ws, row, ci["task"], f"{t.number}. {t.name}", fmts.locked)
        _text(ws, row, ci["measure"], f"{m.number}) {m.text}", fmts.locked)
        _text(ws, row, ci["source"], f.source_label or SOURCE_LABELS[f.source], fmts.locked)
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
        ws.set_row(row, 75)
        row += 1
    last = row - 1
    first = L.FIRST_DATA_ROW - 1
    if lines:
        for code in ("financed", "cash"):
            ws.data_validation(first, ci[code], last, ci[code], _number_validation("amount"))
        ws.data_validation(first, ci["nil"], last, ci["nil"], {
            "validate": "list", "source": [L.NIL_FUNDING],
            **_validation_msgs("Без фінансування", "Оберіть «так», якщо у звітному періоді фінансування не здійснювалось.",
                               "Оберіть значення зі списку або залиште порожнім.")})
        ws.data_validation(first, ci["budget_code"], last, ci["budget_code"], {
            "validate": "length", "criteria": "<=", "value": 1000,
            **_validation_msgs("Код програми", "КПКВК і назва бюджетної програми, за якою здійснювалось фінансування.",
                               "Текст задовгий (понад 1000 знаків).")})
        fin, cash, nil = (xl_col_to_name(ci[c]) for c in ("financed", "cash", "nil"))
        r1 = first + 1
        for code in ("financed", "cash"):
            col = xl_col_to_name(ci[code])
            ws.conditional_format(first, ci[code], last, ci[code], {
                "type": "formula", "criteria": f'=AND(ISBLANK({col}{r1}),${nil}{r1}<>"{L.NIL_FUNDING}")', "format": fmts.missing})
        ws.conditional_format(first, ci["cash"], last, ci["cash"], {
            "type": "formula", "criteria": f"=AND(ISNUMBER({cash}{r1}),ISNUMBER({fin}{r1}),{cash}{r1}>{fin}{r1})",
            "format": fmts.violation})
    if not lines:
        _text(ws, first, ci["task"], "Для цього виконавця в програмі немає рядків фінансування.", fmts.hint)
    return ws, first, last


def _write_execution(wb, fmts, catalogue: Catalogue, executor: str, password: str):
    ws = wb.add_worksheet(L.SHEET_EXECUTION)
    cols = L.EXECUTION_COLUMNS
    ci = {c: i for i, (c, _) in enumerate(cols)}
    widths = {"item": 60, "unit": 8, "planned": 12, "actual": 13, "numerator": 12, "denominator": 12, "status": 17,
              "narrative": 80}
    _sheet_setup(ws, cols, widths, "II. Виконання завдань і заходів програми",
                 "Для кожного заходу оберіть стан виконання і опишіть виконання (текст увійде до звіту під назвою "
                 "вашого органу). Для кожного показника внесіть фактичне значення; для відсотків — також чисельник і "
                 "знаменник, якщо вони відомі.", fmts, password)
    row = L.FIRST_DATA_ROW - 1
    first = row
    by_kind: dict[str, list[int]] = {"count": [], "percent": [], "other": []}
    measure_rows: list[int] = []
    percent_rows: list[int] = []
    current_task = None
    for m in catalogue.measures_for(executor):
        if m.task_id != current_task:
            current_task = m.task_id
            t = catalogue.task(m.task_id)
            _text(ws, row, ci["key"], t.id, fmts.locked_bold)
            _text(ws, row, ci["item"], f"{t.number}. {t.name}", fmts.locked_bold)
            for code in ("unit", "planned", "actual", "numerator", "denominator", "status", "narrative"):
                ws.write_blank(row, ci[code], None, fmts.locked_bold)
            row += 1
        execs = ", ".join(catalogue.executor_label(c) for c in m.executors)
        _text(ws, row, ci["key"], m.id, fmts.locked)
        _text(ws, row, ci["item"], f"{m.number}) {m.text}\n(виконавці: {execs})", fmts.locked)
        for code in ("unit", "planned", "actual", "numerator", "denominator"):
            ws.write_blank(row, ci[code], None, fmts.locked)
        ws.write_blank(row, ci["status"], None, fmts.input_text)
        ws.write_blank(row, ci["narrative"], None, fmts.input_big)
        ws.write_number(row, ci["required"], 2)
        ws.set_row(row, 150)
        measure_rows.append(row)
        row += 1
        for ind in catalogue.indicators_of(m.id):
            _text(ws, row, ci["key"], ind.id, fmts.locked)
            _text(ws, row, ci["item"], f"    {ind.name}", fmts.locked)
            _text(ws, row, ci["unit"], "%" if ind.unit == "percent" else ("тис." if ind.unit == "thousand" else "од."),
                  fmts.locked)
            if ind.planned is None:
                ws.write_blank(row, ci["planned"], None, fmts.locked_val)
            else:
                ws.write_number(row, ci["planned"], ind.planned, fmts.locked_val)
            ws.write_blank(row, ci["actual"], None, fmts.input_val)
            if ind.unit == "percent":
                ws.write_blank(row, ci["numerator"], None, fmts.input_val)
                ws.write_blank(row, ci["denominator"], None, fmts.input_val)
                percent_rows.append(row)
                by_kind["percent"].append(row)
            else:
                ws.write_blank(row, ci["numerator"], None, fmts.locked)
                ws.write_blank(row, ci["denominator"], None, fmts.locked)
                by_kind["count" if ind.unit == "count" else "other"].append(row)
            ws.write_blank(row, ci["status"], None, fmts.locked)
            ws.write_blank(row, ci["narrative"], None, fmts.locked)
            ws.write_number(row, ci["required"], 1)
            ws.set_row(row, 45)
            row += 1
    last = row - 1
    for kind, rows in by_kind.items():
        for r in rows:
            ws.data_validation(r, ci["actual"], r, ci["actual"], _number_validation(kind))
    for r in percent_rows:
        ws.data_validation(r, ci["numerator"], r, ci["denominator"], _number_validation("number"))
    status_v = {"validate": "list", "source": list(L.STATUS_VALUES),
                **_validation_msgs("Стан виконання", "Оберіть стан виконання заходу зі списку.",
                                   "Оберіть одне зі значень списку: " + ", ".join(L.STATUS_VALUES) + ".")}
    narrative_v = {"validate": "length", "criteria": "<=", "value": 32000,
                   **_validation_msgs("Інформація про виконання",
                                      "Опишіть виконання заходу за звітний період: що зроблено, скільки, де. "
                                      "Текст увійде до національного звіту.", "Текст задовгий (понад 32 000 знаків).")}
    for r in measure_rows:
        ws.data_validation(r, ci["status"], r, ci["status"], status_v)
        ws.data_validation(r, ci["narrative"], r, ci["narrative"], narrative_v)
    req = xl_col_to_name(ci["required"])
    if last >= first:
        r1 = first + 1
        for code, flag in (("actual", 1), ("status", 2), ("narrative", 2)):
            col = xl_col_to_name(ci[code])
            ws.conditional_format(first, ci[code], last, ci[code], {
                "type": "formula", "criteria": f"=AND(${req}{r1}={flag},ISBLANK({col}{r1}))", "format": fmts.missing})
        act, unit = xl_col_to_name(ci["actual"]), xl_col_to_name(ci["unit"])
        ws.conditional_format(first, ci["actual"], last, ci["actual"], {
            "type": "formula", "criteria": f'=AND(${unit}{r1}="%",ISNUMBER({act}{r1}),{act}{r1}>100)', "format": fmts.violation})
    return ws, first, last


def _write_proposals(wb, fmts, password: str):
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
    for i, key in enumerate(L.PROPOSAL_KEYS):
        r = L.FIRST_DATA_ROW - 1 + i
        _text(ws, r, 0, key, fmts.locked)
        ws.write_blank(r, 1, None, fmts.input_big)
        ws.set_row(r, 90)
    ws.data_validation(L.FIRST_DATA_ROW - 1, 1, L.FIRST_DATA_ROW - 1 + len(L.PROPOSAL_KEYS) - 1, 1, {
        "validate": "length", "criteria": "<=", "value": 32000,
        **_validation_msgs("Пропозиція", "Текст пропозиції.", "Текст задовгий (понад 32 000 знаків).")})
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.freeze_panes(L.FIRST_DATA_ROW - 1, 1)
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True, "format_rows": True})
    return ws


def meta_values(catalogue: Catalogue, executor: str, period: str, generated_at: dt.datetime) -> dict[str, str]:
    ex = catalogue.registry[executor]
    return {
        "programme": L.PROGRAMME_TAG,
        "programme_code": catalogue.programme.code,
        "template_id": template_id(catalogue, executor, period),
        "template_version": catalogue.template_version,
        "catalogue_hash": catalogue.digest,
        "executor_code": ex.code,
        "executor_name": ex.full_name,
        "period": period,
        "generated_at": generated_at.isoformat(timespec="seconds"),
    }


def build_workbook(catalogue: Catalogue, executor: str, period: str, password: str,
                   generated_at: dt.datetime = DEFAULT_TIMESTAMP) -> bytes:
    """The workbook of one executor for one period, as bytes."""
    if executor not in catalogue.registry:
        raise ConsolidateError(f"Невідомий виконавець «{executor}» (немає в реєстрі)")
    catalogue.check_period(period)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, WB_OPTIONS)
    fmts = _Formats(wb)
    meta = meta_values(catalogue, executor, period, generated_at)
    wb.set_properties({
        "title": f"Звіт про виконання програми {catalogue.programme.code} за {period}",
        "subject": catalogue.programme.title,
        "author": catalogue.programme.customer,
        "company": catalogue.programme.customer,
        "comments": f"Шаблон для: {catalogue.registry[executor].full_name}",
        "created": generated_at,
    })
    for key, value in meta.items():
        wb.set_custom_property(L.CUSTOM_PREFIX + key, value)

    fq = f"'{L.SHEET_FUNDING}'"
    eq = f"'{L.SHEET_EXECUTION}'"
    fc = {c: xl_col_to_name(i) for i, (c, _) in enumerate(L.FUNDING_COLUMNS)}
    ec = {c: xl_col_to_name(i) for i, (c, _) in enumerate(L.EXECUTION_COLUMNS)}

    def rng(sheet, col):  # the whole input area, generous for rows the executor inserts
        return f"{sheet}!${col}${L.FIRST_DATA_ROW}:${col}$1000"

    checks = [
        ("Незаповнені суми фінансування (профінансовано / касові), де фінансування не позначено як відсутнє",
         f'=COUNTIFS({rng(fq, fc["required"])},1,{rng(fq, fc["financed"])},"",{rng(fq, fc["nil"])},"<>{L.NIL_FUNDING}")'
         f'+COUNTIFS({rng(fq, fc["required"])},1,{rng(fq, fc["cash"])},"",{rng(fq, fc["nil"])},"<>{L.NIL_FUNDING}")'),
        ("Касові видатки більші за профінансовані",
         f'=SUMPRODUCT(ISNUMBER({rng(fq, fc["cash"])})*ISNUMBER({rng(fq, fc["financed"])})'
         f'*({rng(fq, fc["cash"])}>{rng(fq, fc["financed"])}))'),
        ("Від’ємні суми", f'=COUNTIF({rng(fq, fc["financed"])},"<0")+COUNTIF({rng(fq, fc["cash"])},"<0")'),
        ("Показники без фактичного значення", f'=COUNTIFS({rng(eq, ec["required"])},1,{rng(eq, ec["actual"])},"")'),
        ("Заходи без стану виконання", f'=COUNTIFS({rng(eq, ec["required"])},2,{rng(eq, ec["status"])},"")'),
        ("Заходи без тексту про виконання", f'=COUNTIFS({rng(eq, ec["required"])},2,{rng(eq, ec["narrative"])},"")'),
        ("Відсотки понад 100", f'=COUNTIFS({rng(eq, ec["unit"])},"%",{rng(eq, ec["actual"])},">100")'),
    ]
    _write_title(wb, fmts, catalogue, executor, period, password, checks)
    _write_funding(wb, fmts, catalogue, executor, password)
    _write_execution(wb, fmts, catalogue, executor, password)
    _write_proposals(wb, fmts, password)

    ms = wb.add_worksheet(L.SHEET_META)
    for r, (key, value) in enumerate(meta.items()):
        ms.write_string(r, 0, key)
        ms.write_string(r, 1, value)
    ms.very_hidden()
    ms.protect(password)
    wb.close()
    return buf.getvalue()


def write_templates(catalogue: Catalogue, out_dir: Path, period: str, password: str,
                    executors: list[str] | None = None,
                    generated_at: dt.datetime = DEFAULT_TIMESTAMP) -> list[TemplateFile]:
    """Write one workbook per executor into ``out_dir/<period>/`` and a manifest.csv beside them."""
    catalogue.check_period(period)
    wanted = executors or catalogue.expected_executors()
    unknown = [e for e in wanted if e not in catalogue.registry or e in GROUPS]
    if unknown:
        raise ConsolidateError(f"Невідомі виконавці: {', '.join(unknown)}")
    target = Path(out_dir) / period
    target.mkdir(parents=True, exist_ok=True)
    written: list[TemplateFile] = []
    for code in wanted:
        data = build_workbook(catalogue, code, period, password, generated_at)
        path = target / file_name(catalogue, code, period)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(TemplateFile(path, code, period, template_id(catalogue, code, period),
                                    catalogue.template_version, hashlib.sha256(data).hexdigest()))
    manifest = target / "manifest.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "executor", "executor_name", "period", "template_id", "template_version", "sha256"])
    for t in written:
        w.writerow([t.path.name, t.executor, catalogue.registry[t.executor].short_name, t.period, t.template_id,
                    t.template_version, t.sha256])
    manifest.write_text(buf.getvalue(), encoding="utf-8")
    return written


def cell_ref(row0: int, col0: int) -> str:
    return xl_rowcol_to_cell(row0, col0)
