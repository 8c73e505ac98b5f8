"""The catalogue as a workbook the clerk edits in Excel or LibreOffice (the idea of XLSForm).

Sheets: «Програма» (one field per row), «Завдання», «Заходи», «Показники», «Фінансування», «Виконавці» (each
with one header row whose first column is «ID»), and «Довідка» explaining every column.  ``export_book``
writes it with xlsxwriter (dropdowns for codes, every text written as text); ``read_book`` reads a workbook
saved by Excel or LibreOffice (xlsx or ods) as untrusted input — bounded before the parser sees it, read by
python-calamine, formulas never evaluated (a formula cell is a problem, not a value) — and returns either a
validated catalogue or every problem with its sheet and cell.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from .catalogue import (
    GROUPS,
    QUARTERLY,
    QUARTERLY_LABELS,
    RULE_LABELS,
    RULES,
    SOURCE_LABELS,
    SOURCES,
    UNIT_LABELS,
    UNITS,
    Catalogue,
    build_catalogue,
    catalogue_data,
)
from .errors import CatalogueError
from .numbers import parse_number
from .registry import FIELDS as REGISTRY_FIELDS
from .registry import KIND_LABELS, KINDS, Registry, registry_from_records
from .wording import plural

MiB = 1024 * 1024
MAX_FILE_BYTES = 20 * MiB
MAX_ENTRIES = 500
MAX_TOTAL_BYTES = 200 * MiB
MAX_RATIO = 200
MAX_ROWS = 200_000  # rows of one sheet (a catalogue with every hromada has a few thousand)
MAX_COLS = 64
EXECUTOR_ROWS = 5000  # rows of «Виконавці» offered in the executor dropdowns


@dataclass(frozen=True)
class Col:
    code: str
    label: str
    kind: str = "text"  # text | int | number | choice | executor | executors
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SheetSpec:
    key: str
    name: str
    cols: tuple[Col, ...]
    about: str


ID = Col(
    "id",
    "ID",
    required=True,
    help="Стабільний ідентифікатор; ніколи не перенумеровуйте (на нього посилаються шаблони, звіти і журнал).",
)
SHEETS = (
    SheetSpec(
        "tasks",
        "Завдання",
        (
            ID,
            Col("number", "Номер", "int", True, "Номер завдання в акті програми."),
            Col("name", "Назва завдання", required=True, help="Назва дослівно, як в акті."),
        ),
        "Завдання програми, по одному в рядку.",
    ),
    SheetSpec(
        "measures",
        "Заходи",
        (
            ID,
            Col("task", "Завдання", "ref", True, "ID завдання з аркуша «Завдання»."),
            Col("number", "Номер", "int", True, "Номер заходу в межах завдання."),
            Col("text", "Зміст заходу", required=True, help="Текст заходу дослівно, як в акті."),
            Col(
                "lead",
                "Відповідальний виконавець",
                "executor",
                True,
                "Код виконавця з аркуша «Виконавці» або група (" + ", ".join(GROUPS) + "); названий першим.",
            ),
            Col(
                "others",
                "Інші виконавці",
                "executors",
                False,
                "Коди інших виконавців і груп через «;», у порядку акта.",
            ),
        ),
        "Заходи завдань; виконавці — коди з аркуша «Виконавці» або групи.",
    ),
    SheetSpec(
        "indicators",
        "Показники",
        (
            ID,
            Col("measure", "Захід", "ref", True, "ID заходу з аркуша «Заходи»."),
            Col("name", "Назва показника", required=True),
            Col("unit", "Одиниця", "choice", True, "Одиниця виміру (код).", UNITS),
            Col(
                "planned",
                "План",
                "number",
                False,
                "Планове значення на програму загалом; порожньо — план не встановлено.",
            ),
            Col("rule", "Правило зведення", "choice", True, "Як показники виконавців зводяться в національний.", RULES),
            Col("rule_why", "Чому це правило", help="Пояснення вибору правила (необов’язково)."),
            Col("numerator", "Чисельник", help="Для відсоткових показників: що рахують у чисельнику."),
            Col("denominator", "Знаменник", help="Для відсоткових показників: що рахують у знаменнику."),
            Col(
                "quarterly",
                "Квартальні дані",
                "choice",
                False,
                "Як подаються квартальні значення: cumulative — наростаючим підсумком з початку року (IV квартал "
                "дорівнює року), per_quarter — окремо за кожен квартал (рік — сума кварталів).",
                QUARTERLY,
            ),
            Col(
                "plans",
                "Плани виконавців",
                help="Власні плани виконавців: «КОД=число» через «;», напр. «КОД1=12; "
                "КОД2=8». Порожньо — лише план на програму загалом.",
            ),
        ),
        "Показники заходів з правилом зведення.",
    ),
    SheetSpec(
        "funding",
        "Фінансування",
        (
            ID,
            Col("measure", "Захід", "ref", True, "ID заходу з аркуша «Заходи»."),
            Col(
                "holder",
                "Розпорядник коштів",
                "executor",
                True,
                "Код виконавця, який звітує про цей рядок, або група (рядок на програму загалом, ніхто не звітує).",
            ),
            Col("source", "Джерело", "choice", True, "Джерело фінансування (код).", SOURCES),
            Col("source_label", "Назва джерела", help="Як джерело названо у звіті; порожньо — типова назва."),
            Col("programme_amount", "Обсяг за програмою, тис. грн", "number"),
            Col("planned", "Передбачено на рік, тис. грн", "number"),
            Col("budget_code", "КПКВК", help="Код програмної класифікації видатків (текстом)."),
        ),
        "Рядки фінансування заходів: захід × джерело × розпорядник.",
    ),
    SheetSpec(
        "executors",
        "Виконавці",
        (
            Col("code", "ID", required=True, help="Код виконавця (латиницею, без пробілів); ніколи не змінюйте."),
            Col("short_name", "Коротка назва", required=True),
            Col("full_name", "Повна назва"),
            Col("kind", "Тип", "choice", True, "Тип виконавця (код).", KINDS),
            Col(
                "parent",
                "Входить до",
                "executor",
                False,
                "Код виконавця, до якого належить (напр. громада — до області).",
            ),
            Col("emails", "E-mail", help="Адреси через «;»."),
            Col("contact_person", "Контактна особа"),
            Col("aliases", "Інші назви", help="Інші назви, під якими виконавець трапляється в текстах, через «;»."),
        ),
        "Реєстр виконавців: хто звітує.",
    ),
)
SPEC = {s.key: s for s in SHEETS}
PROGRAMME_SHEET = "Програма"
HELP_SHEET = "Довідка"
PROGRAMME_FIELDS = (
    ("code", "Код програми", True),
    ("title", "Назва програми", True),
    ("title_genitive", "Назва в родовому відмінку («звіт про виконання …»)", False),
    ("act", "Акт, яким затверджено програму", True),
    ("customer", "Державний замовник", True),
    ("customer_executor", "Код замовника в реєстрі виконавців", False),
    ("term", "Строк виконання програми", True),
    ("report_year", "Звітний рік", True),
    ("deadline", "Строк подання річного звіту (дата)", True),
    ("quarter_deadline_day", "День місяця, до якого подають квартальні звіти", False),
    ("version", "Версія каталогу", True),
)
CHOICE_LABELS = {
    "unit": UNIT_LABELS,
    "rule": RULE_LABELS,
    "source": SOURCE_LABELS,
    "kind": KIND_LABELS,
    "quarterly": QUARTERLY_LABELS,
}


@dataclass(frozen=True)
class Problem:
    """One problem of an imported workbook: where (sheet, cell) and what was expected, in Ukrainian."""

    sheet: str
    cell: str
    message: str

    def __str__(self) -> str:
        where = f"аркуш «{self.sheet}»" + (f", клітинка {self.cell}" if self.cell else "") if self.sheet else ""
        return f"{where}: {self.message}" if where else self.message


class BookError(CatalogueError):
    """The workbook is not a valid catalogue; ``problems`` located by sheet and cell."""

    def __init__(self, problems: list[Problem]):
        self.located = list(problems)
        super().__init__([str(p) for p in problems])


def _a1(row: int, col: int) -> str:
    return f"{xl_col_to_name(col)}{row + 1}"


# ---------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------


def _num_out(value):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _rows(cat: Catalogue) -> dict[str, list[dict]]:
    data = catalogue_data(cat)
    out: dict[str, list[dict]] = {"tasks": [], "measures": [], "indicators": [], "funding": [], "executors": []}
    for t in data["tasks"]:
        out["tasks"].append({"id": t["id"], "number": t["number"], "name": t["name"]})
        for m in t.get("measures", []):
            execs = list(m.get("executors") or [])
            out["measures"].append(
                {
                    "id": m["id"],
                    "task": t["id"],
                    "number": m["number"],
                    "text": m["text"],
                    "lead": execs[0] if execs else "",
                    "others": "; ".join(execs[1:]),
                }
            )
            for i in m.get("indicators", []):
                plans = i.get("plans") or {}
                out["indicators"].append(
                    {
                        "id": i["id"],
                        "measure": m["id"],
                        "name": i["name"],
                        "unit": i["unit"],
                        "planned": i.get("planned"),
                        "rule": i["rule"],
                        "rule_why": i.get("rule_why", ""),
                        "numerator": i.get("numerator", ""),
                        "denominator": i.get("denominator", ""),
                        "quarterly": i.get("quarterly", ""),
                        "plans": "; ".join(f"{k}={_fmt_plan(v)}" for k, v in plans.items()),
                    }
                )
            for f in m.get("funding", []):
                out["funding"].append(
                    {
                        "id": f["id"],
                        "measure": m["id"],
                        "holder": f["holder"],
                        "source": f["source"],
                        "source_label": f.get("source_label", ""),
                        "programme_amount": f.get("programme_amount"),
                        "planned": f.get("planned"),
                        "budget_code": f.get("budget_code", ""),
                    }
                )
    for e in cat.registry:
        out["executors"].append(
            {
                "code": e.code,
                "short_name": e.short_name,
                "full_name": e.full_name,
                "kind": e.kind,
                "parent": e.parent,
                "emails": "; ".join(e.emails),
                "contact_person": e.contact_person,
                "aliases": "; ".join(e.aliases),
            }
        )
    return out


def _fmt_plan(value) -> str:
    value = _num_out(value)
    return str(value).replace(".", ",") if isinstance(value, float) else str(value)


def export_book(cat: Catalogue, path: Path | str | None = None) -> bytes:
    """The catalogue as an .xlsx workbook (bytes; written to ``path`` too when given)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    wb.set_properties({"title": f"Каталог програми {cat.programme.code}", "created": dt.datetime(2000, 1, 1)})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    text = wb.add_format({"valign": "top", "num_format": "@"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd", "align": "left"})

    def put(ws, r, c, value, fmt=None):
        if value is None or value == "":
            return
        if isinstance(value, bool):
            ws.write_string(r, c, str(value), fmt)
        elif isinstance(value, (int, float)):
            ws.write_number(r, c, value, fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
        else:
            ws.write_string(r, c, str(value), fmt)  # never a formula, whatever the text starts with

    p = cat.programme
    ws = wb.add_worksheet(PROGRAMME_SHEET)
    ws.write_row(0, 0, ["Поле", "Значення", "Що означає"], head)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 70, wrap)
    ws.set_column(2, 2, 50, wrap)
    values = catalogue_data(cat)["programme"]
    for r, (code, label, _) in enumerate(PROGRAMME_FIELDS, 1):
        ws.write_string(r, 0, code)
        value = values.get(code)
        if code == "deadline":
            put(ws, r, 1, p.deadline)
        else:
            put(ws, r, 1, value, wrap)
        ws.write_string(r, 2, label)
    ws.freeze_panes(1, 1)

    rows = _rows(cat)
    n_exec = len(rows["executors"])
    last_exec = max(EXECUTOR_ROWS, n_exec + 500)
    for spec in SHEETS:
        ws = wb.add_worksheet(spec.name)
        ws.write_row(0, 0, [c.label for c in spec.cols], head)
        ws.freeze_panes(1, 1)
        items = rows[spec.key]
        last = max(len(items) + 200, 500)
        for c, col in enumerate(spec.cols):
            width = {"text": 40, "int": 8, "number": 14}.get(col.kind, 16)
            if col.code in ("id", "code", "task", "measure"):
                width = 14
            if col.code in ("name", "text", "full_name"):
                width = 60
            ws.set_column(c, c, width, wrap if width >= 40 else None)
            if col.kind == "choice":
                ws.data_validation(
                    1,
                    c,
                    last,
                    c,
                    {
                        "validate": "list",
                        "source": list(col.choices),
                        "error_title": col.label,
                        "error_message": "Оберіть значення зі списку: " + ", ".join(col.choices),
                    },
                )
            elif col.kind == "executor":
                ws.data_validation(
                    1,
                    c,
                    last,
                    c,
                    {
                        "validate": "list",
                        "source": f"='Виконавці'!$A$2:$A${last_exec}",
                        "error_type": "information",
                        "input_title": col.label[:32],
                        "input_message": ("Код з аркуша «Виконавці» або група: " + ", ".join(GROUPS))[:255],
                    },
                )
            elif col.kind in ("int", "number"):
                ws.data_validation(
                    1,
                    c,
                    last,
                    c,
                    {
                        "validate": "decimal",
                        "criteria": ">=",
                        "value": 0,
                        "ignore_blank": True,
                        "error_title": col.label[:32],
                        "error_message": "Очікується невід’ємне число.",
                    },
                )
        for r, item in enumerate(items, 1):
            for c, col in enumerate(spec.cols):
                value = item.get(col.code)
                if col.kind in ("int", "number"):
                    put(ws, r, c, _num_out(value))
                else:
                    put(ws, r, c, value, text if col.code in ("id", "code", "budget_code") else None)

    ws = wb.add_worksheet(HELP_SHEET)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 28)
    ws.set_column(2, 2, 70, wrap)
    ws.set_column(3, 3, 50, wrap)
    r = 0
    ws.write_row(r, 0, ["Аркуш", "Колонка", "Що означає", "Допустимі значення"], head)
    notes = [
        (PROGRAMME_SHEET, "", "Відомості про програму: поле в колонці A (код, не змінюйте), значення в колонці B.", ""),
    ]
    for spec in SHEETS:
        notes.append((spec.name, "", spec.about + " Перший рядок — заголовок; порожні рядки пропускаються.", ""))
        for col in spec.cols:
            allowed = ""
            if col.kind == "choice":
                labels = CHOICE_LABELS.get(col.code, {})
                allowed = "; ".join(f"{c} — {labels.get(c, c)}" for c in col.choices)
            elif col.kind in ("int", "number"):
                allowed = "число ≥ 0" + (" (ціле)" if col.kind == "int" else "")
            elif col.kind in ("executor", "executors"):
                allowed = "коди з аркуша «Виконавці»; групи: " + "; ".join(f"{g} — {GROUPS[g][0]}" for g in GROUPS)
            notes.append((spec.name, col.label, (col.help or "") + (" Обов’язкова." if col.required else ""), allowed))
    notes.append(
        (
            "",
            "",
            "Імпорт («consolidate catalogue import ФАЙЛ») перевіряє всю книгу і замінює каталог лише "
            "тоді, коли помилок немає; інакше перелічує кожну помилку з аркушем і клітинкою.",
            "",
        )
    )
    notes.append(("", "", "Формули не обчислюються: у клітинках мають бути значення.", ""))
    for r, row in enumerate(notes, 1):
        for c, value in enumerate(row):
            put(ws, r, c, value)
    wb.close()
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


# ---------------------------------------------------------------------------------
# import: bounded reading of an untrusted workbook
# ---------------------------------------------------------------------------------

_CELL_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_FORMULA_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3}[0-9]{1,7})"[^>]*>(?:(?!</c>).){0,400}?<f[\s>/]', re.S)


def _sniff(data: bytes) -> tuple[str, zipfile.ZipFile | None]:
    if not data.startswith(b"PK\x03\x04"):
        return "", None
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = set(zf.namelist())
        if (
            "mimetype" in names
            and zf.getinfo("mimetype").file_size < 200
            and b"opendocument.spreadsheet" in zf.read("mimetype")
        ):
            return "ods", zf
        if "xl/workbook.xml" in names:
            return "xlsx", zf
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, ValueError):
        pass
    return "", None


def _bounded_read(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise _Refuse(f"частина «{name}» після розпакування завелика ({info.file_size} байт)")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit or len(data) > info.file_size:
        raise _Refuse(f"частина «{name}» після розпакування більша, ніж заявлено: ознака «zip-бомби»")
    return data


class _Refuse(Exception):
    pass


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → worksheet part of an xlsx, from workbook.xml and its relationships (defusedxml)."""
    import defusedxml.ElementTree as SafeET

    try:
        book = SafeET.fromstring(_bounded_read(zf, "xl/workbook.xml", 10 * MiB))
        rels = SafeET.fromstring(_bounded_read(zf, "xl/_rels/workbook.xml.rels", 10 * MiB))
    except KeyError:
        return {}
    except Exception as exc:  # defusedxml refuses entities; a broken part is a broken file
        raise _Refuse(f"службову частину книги не вдалося прочитати ({type(exc).__name__})") from exc
    target = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for el in book.iter():
        if el.tag.endswith("}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
            t = target.get(rid, "")
            out[el.get("name", "")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


def _ods_formula_cells(xml: bytes) -> dict[str, set[str]]:
    """Cells of an ods content.xml that hold a formula: sheet name → A1 references."""
    import defusedxml.ElementTree as SafeET

    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    t = f"{{{table_ns}}}"
    out: dict[str, set[str]] = {}
    sheet, row, col = "", -1, 0
    for event, el in SafeET.iterparse(io.BytesIO(xml), events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == t + "table":
                sheet, row = el.get(t + "name", ""), -1
            elif tag == t + "table-row":
                row += 1
                col = 0
            continue
        if tag == t + "table-row":
            row += int(el.get(t + "number-rows-repeated", "1") or 1) - 1
            el.clear()
        elif tag in (t + "table-cell", t + "covered-table-cell"):
            repeat = min(int(el.get(t + "number-columns-repeated", "1") or 1), 100_000)
            if el.get(t + "formula"):
                out.setdefault(sheet, set()).add(_a1(row, col))
            col += repeat
    return out


def _load(data: bytes, name: str) -> tuple[dict[str, list[list]], dict[str, set[str]]]:
    """Sheets (name → rows of values) and formula cells of a workbook, bounded before calamine sees it."""
    import python_calamine

    if len(data) > MAX_FILE_BYTES:
        raise _Refuse(f"файл завеликий ({len(data) // MiB} МіБ; допустимо до {MAX_FILE_BYTES // MiB} МіБ)")
    fmt, zf = _sniff(data)
    if zf is None:  # fmt is "" exactly then
        raise _Refuse(
            "файл не є книгою .xlsx чи .ods (збережіть каталог у Excel як .xlsx або в LibreOffice як .ods чи .xlsx)"
        )
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _Refuse(f"файл містить {len(infos)} частин: ознака «zip-бомби»")
    total = 0
    for info in infos:
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise _Refuse("вміст файлу після розпакування завеликий")
        if info.file_size >= MiB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _Refuse(f"частина «{info.filename}» стиснута надто щільно: ознака «zip-бомби»")
    formulas: dict[str, set[str]] = {}
    if fmt == "xlsx":
        parts = _sheet_parts(zf)
        for sheet, part in parts.items():
            if part not in zf.namelist():
                continue
            xml = _bounded_read(zf, part, 100 * MiB)
            if b"<!DOCTYPE" in xml[:4096] or b"<!ENTITY" in xml:
                raise _Refuse("файл містить XML з оголошеннями сутностей (DTD): ознака навмисно зміненого файлу")
            max_row = max_col = 0
            for m in _CELL_REF.finditer(xml):
                letters, digits = m.group(1), int(m.group(2))
                c = 0
                for ch in letters:
                    c = c * 26 + ch - 64
                max_row, max_col = max(max_row, digits), max(max_col, c)
            if max_row > MAX_ROWS or max_col > MAX_COLS * 4:
                raise _Refuse(
                    f"аркуш «{sheet}» займає {plural(max_row, 'рядок')} × {plural(max_col, 'колонка', 'колонки', 'колонок')}: далекі клітинки; "
                    f"видаліть їх і збережіть знову"
                )
            if b"<f" in xml:
                formulas[sheet] = {m.group(1).decode() for m in _FORMULA_CELL.finditer(xml)}
    else:
        try:
            content = _bounded_read(zf, "content.xml", 100 * MiB)
        except KeyError:
            raise _Refuse("у файлі .ods немає content.xml") from None
        if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content:
            raise _Refuse("файл містить XML з оголошеннями сутностей (DTD): ознака навмисно зміненого файлу")
        if b"table:formula" in content:
            formulas = _ods_formula_cells(content)
    sheets: dict[str, list[list]] = {}
    try:
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as wb:
            for meta in wb.sheets_metadata:
                if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                    continue
                rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=True)
                if len(rows) > MAX_ROWS:
                    raise _Refuse(f"аркуш «{meta.name}» містить понад {MAX_ROWS} рядків")
                sheets[meta.name] = rows
    except _Refuse:
        raise
    except BaseException as exc:  # the parser's boundary with untrusted bytes (a Rust panic is a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise _Refuse(f"файл пошкоджено, його не вдалося прочитати ({type(exc).__name__})") from exc
    return sheets, formulas


# ---------------------------------------------------------------------------------
# import: the cells → a catalogue
# ---------------------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    return str(value).strip()


def _split_codes(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,\n]", text) if p.strip()]


class _Book:
    def __init__(self, sheets: dict[str, list[list]], formulas: dict[str, set[str]]):
        self.sheets, self.formulas = sheets, formulas
        self.problems: list[Problem] = []

    def problem(self, sheet: str, cell: str, message: str) -> None:
        self.problems.append(Problem(sheet, cell, message))

    def sheet(self, name: str) -> list[list] | None:
        if name in self.sheets:
            return self.sheets[name]
        for other in self.sheets:  # a sheet renamed only in case or spaces
            if " ".join(other.split()).casefold() == name.casefold():
                return self.sheets[other]
        self.problem(name, "", f"бракує аркуша «{name}» (аркуші книги: {', '.join(self.sheets) or 'жодного'})")
        return None

    def value(self, sheet: str, rows: list[list], r: int, c: int | None):
        if c is None or r >= len(rows) or c >= len(rows[r]):
            return None
        if _a1(r, c) in self.formulas.get(sheet, ()):
            self.problem(sheet, _a1(r, c), "клітинка містить формулу; формули не обчислюються — введіть значення")
            return None
        value = rows[r][c]
        return None if value == "" else value

    def number(self, sheet: str, rows, r: int, c: int | None, label: str, integer: bool = False):
        if c is None:
            return None
        raw = self.value(sheet, rows, r, c)
        if raw is None:
            return None
        if isinstance(raw, bool) or isinstance(raw, (dt.date, dt.datetime, dt.time, dt.timedelta)):
            parsed = None
        else:
            parsed = parse_number(raw)
        if parsed is None or parsed.value is None:  # not kind "number"
            if parsed is not None and parsed.kind == "empty":
                return None
            self.problem(sheet, _a1(r, c), f"«{label}»: очікується число, знайдено «{_cell_text(raw)[:60]}»")
            return None
        if parsed.value < 0:
            self.problem(sheet, _a1(r, c), f"«{label}»: очікується невід’ємне число, знайдено {parsed.value:g}")
            return None
        if integer and not parsed.value.is_integer():
            self.problem(sheet, _a1(r, c), f"«{label}»: очікується ціле число, знайдено {parsed.value:g}")
            return None
        return int(parsed.value) if integer else parsed.value


def _header(book: _Book, spec: SheetSpec, rows: list[list]) -> dict[str, int] | None:
    if not rows:
        book.problem(spec.name, "A1", "аркуш порожній: очікується рядок заголовка, перша колонка «ID»")
        return None
    labels = [_cell_text(v) for v in rows[0]]
    if not labels or labels[0] != "ID":
        book.problem(
            spec.name, "A1", f"перша колонка заголовка має бути «ID», знайдено «{labels[0] if labels else ''}»"
        )
    found: dict[str, int] = {}
    norm = {" ".join(lbl.split()).casefold(): i for i, lbl in enumerate(labels) if lbl}
    for col in spec.cols:
        idx = norm.get(col.label.casefold(), norm.get(col.code.casefold()))
        if idx is not None:
            found[col.code] = idx
        elif col.required:
            book.problem(
                spec.name,
                f"{xl_col_to_name(len(labels))}1",
                f"у заголовку бракує колонки «{col.label}» (колонки аркуша описано на аркуші «{HELP_SHEET}»)",
            )
    return found


def _entity_rows(book: _Book, spec: SheetSpec) -> list[tuple[int, dict]]:
    """(row index, {column code: value}) of every non-empty row; type and choice problems recorded."""
    rows = book.sheet(spec.name)
    if rows is None:
        return []
    cols = _header(book, spec, rows)
    if cols is None:
        return []
    out = []
    for r in range(1, len(rows)):
        if not any(v not in (None, "") for v in rows[r]):
            continue
        item: dict = {}
        for col in spec.cols:
            c = cols.get(col.code)
            if col.kind in ("int", "number"):
                item[col.code] = book.number(spec.name, rows, r, c, col.label, integer=col.kind == "int")
                blank = c is None or c >= len(rows[r]) or rows[r][c] in (None, "")
                if item[col.code] is None and col.required and c is not None and blank:
                    book.problem(spec.name, _a1(r, c), f"«{col.label}»: порожньо, очікується число")
                continue
            text = _cell_text(book.value(spec.name, rows, r, c))
            item[col.code] = text
            if c is None:  # a column missing from the header (a problem already if required)
                continue
            if col.required and not text:
                book.problem(spec.name, _a1(r, c), f"«{col.label}»: порожньо, очікується значення")
            elif col.kind == "choice" and text and text not in col.choices:
                book.problem(
                    spec.name,
                    _a1(r, c),
                    f"«{col.label}»: невідоме значення «{text}», очікується одне з: {', '.join(col.choices)}",
                )
        item["_ref"] = lambda code, r=r, cols=cols: _a1(r, cols[code]) if code in cols else _a1(r, 0)
        out.append((r, item))
    return out


def _programme(book: _Book) -> dict:
    rows = book.sheet(PROGRAMME_SHEET)
    if rows is None:
        return {}
    known = {code: (label, required) for code, label, required in PROGRAMME_FIELDS}
    found: dict[str, object] = {}
    where: dict[str, str] = {}
    for r in range(len(rows)):
        key = _cell_text(rows[r][0] if rows[r] else "")
        if r == 0 and key in ("Поле", ""):
            continue
        if not key:
            continue
        if key not in known:
            book.problem(PROGRAMME_SHEET, _a1(r, 0), f"невідоме поле «{key}» (очікується одне з: {', '.join(known)})")
            continue
        where[key] = _a1(r, 1)
        if key in ("report_year", "quarter_deadline_day"):
            found[key] = book.number(PROGRAMME_SHEET, rows, r, 1, known[key][0], integer=True)
        elif key == "deadline":
            raw = book.value(PROGRAMME_SHEET, rows, r, 1)
            if isinstance(raw, dt.datetime):
                found[key] = raw.date()
            elif isinstance(raw, dt.date):
                found[key] = raw
            elif raw is not None:
                text = _cell_text(raw)
                m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
                try:
                    found[key] = (
                        dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else dt.date.fromisoformat(text)
                    )
                except ValueError:
                    book.problem(
                        PROGRAMME_SHEET,
                        _a1(r, 1),
                        f"«{known[key][0]}»: очікується дата (ДД.ММ.РРРР), знайдено «{text}»",
                    )
        else:
            found[key] = _cell_text(book.value(PROGRAMME_SHEET, rows, r, 1))
    for code, (label, required) in known.items():
        flagged = any(p.sheet == PROGRAMME_SHEET and p.cell == where.get(code) for p in book.problems)
        if required and found.get(code) in (None, "") and not flagged:
            book.problem(PROGRAMME_SHEET, where.get(code, ""), f"бракує значення поля «{code}» ({label})")
    found["_where"] = where
    return found


def read_book(data: bytes, name: str = "каталог") -> Catalogue:
    """A validated catalogue from a workbook's bytes; ``BookError`` lists every problem by sheet and cell."""
    try:
        sheets, formulas = _load(data, name)
    except _Refuse as exc:
        raise BookError([Problem("", "", f"{name}: {exc}")]) from None
    book = _Book(sheets, formulas)
    programme = _programme(book)
    items = {spec.key: _entity_rows(book, spec) for spec in SHEETS}
    # IDs: unique across the whole catalogue (executor codes among themselves)
    first: dict[str, str] = {}
    for key in ("tasks", "measures", "indicators", "funding"):
        sheet = SPEC[key].name
        for _r, item in items[key]:
            iid = item["id"]
            if not iid:
                continue
            if re.search(r"\s", iid):
                book.problem(sheet, item["_ref"]("id"), f"ID «{iid}» містить пробіл")
            if iid in first:
                book.problem(sheet, item["_ref"]("id"), f"ID «{iid}» повторюється (уперше: {first[iid]})")
                item["_dup"] = True
            else:
                first[iid] = f"аркуш «{sheet}», клітинка {item['_ref']('id')}"

    # executors → registry, cells named
    exec_sheet = SPEC["executors"].name
    records = []
    refs: dict[int, Callable[[str], str]] = {}
    for r, item in items["executors"]:
        records.append((r, {f: item.get(f, "") or "" for f in REGISTRY_FIELDS}))
        refs[r] = item["_ref"]
    registry: Registry | None = None
    try:
        registry = registry_from_records(records, lambda r, field=None: "\x00" + refs[r](field or "code"))
    except CatalogueError as exc:
        for p in exc.problems:
            cell, _, message = p.lstrip("\x00").partition(": ")
            book.problem(exec_sheet, cell, message.replace("\x00", "клітинка "))
    codes = {item["code"] for _, item in items["executors"] if item.get("code")}

    def check_exec(sheet, item, field, code):
        if code and code not in codes and code not in GROUPS:
            book.problem(
                sheet,
                item["_ref"](field),
                f"невідомий виконавець «{code}»: немає на аркуші «{exec_sheet}» і це не група ({', '.join(GROUPS)})",
            )

    task_ids = {item["id"] for _, item in items["tasks"] if item["id"]}
    measure_ids = {item["id"] for _, item in items["measures"] if item["id"]}
    tasks_data: dict[str, dict] = {}
    for _, item in items["tasks"]:
        if item["id"] and not item.get("_dup"):
            tasks_data[item["id"]] = {
                "id": item["id"],
                "number": item["number"] or 0,
                "name": item["name"],
                "measures": [],
            }
    measures_data: dict[str, dict] = {}
    for _, item in items["measures"]:
        sheet = SPEC["measures"].name
        if item["task"] and item["task"] not in task_ids:
            book.problem(
                sheet, item["_ref"]("task"), f"невідоме завдання «{item['task']}» (немає на аркуші «Завдання»)"
            )
        execs = ([item["lead"]] if item["lead"] else []) + _split_codes(item.get("others") or "")
        check_exec(sheet, item, "lead", item["lead"])
        for code in _split_codes(item.get("others") or ""):
            check_exec(sheet, item, "others", code)
        if item["id"] and not item.get("_dup") and item["task"] in tasks_data:
            m = {
                "id": item["id"],
                "number": item["number"] or 0,
                "text": item["text"],
                "executors": execs,
                "indicators": [],
                "funding": [],
            }
            measures_data[item["id"]] = m
            tasks_data[item["task"]]["measures"].append(m)
    for _, item in items["indicators"]:
        sheet = SPEC["indicators"].name
        if item["measure"] and item["measure"] not in measure_ids:
            book.problem(
                sheet, item["_ref"]("measure"), f"невідомий захід «{item['measure']}» (немає на аркуші «Заходи»)"
            )
        plans = {}
        for part in _split_codes(item.get("plans") or ""):
            code, eq, amount = part.partition("=")
            code, amount = code.strip(), amount.strip()
            parsed = parse_number(amount) if eq else None
            if not eq or parsed is None or parsed.value is None or parsed.value < 0:
                book.problem(
                    sheet, item["_ref"]("plans"), f"«Плани виконавців»: очікується «КОД=число», знайдено «{part}»"
                )
                continue
            check_exec(sheet, item, "plans", code)
            plans[code] = parsed.value
        if item["id"] and not item.get("_dup") and item["measure"] in measures_data:
            ind = {
                "id": item["id"],
                "name": item["name"],
                "unit": item["unit"],
                "planned": item["planned"],
                "rule": item["rule"],
            }
            for opt in ("rule_why", "numerator", "denominator", "quarterly"):
                if item.get(opt):
                    ind[opt] = item[opt]
            if plans:
                ind["plans"] = plans
            measures_data[item["measure"]]["indicators"].append(ind)
    for _, item in items["funding"]:
        sheet = SPEC["funding"].name
        if item["measure"] and item["measure"] not in measure_ids:
            book.problem(
                sheet, item["_ref"]("measure"), f"невідомий захід «{item['measure']}» (немає на аркуші «Заходи»)"
            )
        check_exec(sheet, item, "holder", item["holder"])
        if item["id"] and not item.get("_dup") and item["measure"] in measures_data:
            f = {
                "id": item["id"],
                "holder": item["holder"],
                "source": item["source"],
                "source_label": item["source_label"] or SOURCE_LABELS.get(item["source"], ""),
                "programme_amount": item["programme_amount"],
                "planned": item["planned"],
            }
            if item.get("budget_code"):
                f["budget_code"] = item["budget_code"]
            measures_data[item["measure"]]["funding"].append(f)
    ce = programme.get("customer_executor")
    if ce and ce not in codes:
        book.problem(
            PROGRAMME_SHEET,
            programme["_where"].get("customer_executor", ""),
            f"невідомий виконавець «{ce}»: немає на аркуші «{exec_sheet}»",
        )
    if book.problems or registry is None:
        raise BookError(book.problems)
    catalogue_data = {
        "programme": {k: v for k, v in programme.items() if not k.startswith("_")},
        "tasks": list(tasks_data.values()),
    }
    try:
        return build_catalogue(catalogue_data, registry, name)
    except CatalogueError as exc:  # what only the whole catalogue shows (e.g. «lead» with a group first)
        raise BookError([Problem("", "", p) for p in exc.problems]) from None
