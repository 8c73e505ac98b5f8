"""Plain dataclasses passed between stages (intake → ledger → reconcile → report/status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

ERROR = "помилка"
WARNING = "попередження"

# Submission states recorded by intake.
ACCEPTED = "accepted"                 # прийнято
ACCEPTED_WARNINGS = "warnings"        # прийнято з попередженнями
ACCEPTED_ERRORS = "errors"            # подано, з помилками (values that passed validation are kept)
QUARANTINED = "quarantined"           # файл не прийнято (не прочитано / не впізнано)
STATE_LABELS = {
    ACCEPTED: "прийнято",
    ACCEPTED_WARNINGS: "прийнято з попередженнями",
    ACCEPTED_ERRORS: "подано, з помилками",
    QUARANTINED: "відхилено (карантин)",
}


@dataclass(frozen=True)
class Finding:
    """One problem found in a file, with its position (frictionless-style: a report is data)."""

    file: str                 # original file name as received (data only, never a path to open)
    severity: str             # ERROR or WARNING
    code: str                 # stable machine code, e.g. "text-in-number", "cash-over-financed"
    message: str              # Ukrainian, for the clerk and the executor
    sheet: str = ""
    cell: str = ""            # A1 reference
    row_key: str = ""
    found: str = ""
    expected: str = ""
    detail: str = ""          # a reader's raw (English) error, for developers: ledger and JSON only, never shown


class CellValue(NamedTuple):
    """One value extracted from a return, with where it came from.

    A named tuple: ~55 per return are made by the reader, sent between processes and written to the ledger.
    """

    key: str                  # row key: funding line id, measure id, indicator id, proposal key
    field: str                # column code from consolidate.layout (financed, cash, actual, narrative, …)
    number: float | None      # parsed number (None for text fields or when empty)
    text: str                 # the text (for text fields) or the raw cell text as found
    sheet: str
    cell: str


@dataclass
class Return:
    """What intake extracted from one file."""

    file: str
    sha256: str
    executor: str | None
    period: str | None
    template_version: str | None
    values: list[CellValue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    identified_by: str = ""   # "meta", "properties", "title" or ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


@dataclass(frozen=True)
class Submission:
    """A recorded return of one executor for one period."""

    id: int
    executor: str
    period: str
    sha256: str
    original_name: str
    received_at: str          # ISO timestamp
    status: str               # ACCEPTED / ACCEPTED_WARNINGS / ACCEPTED_ERRORS
    template_version: str
    superseded_by: int | None = None
    archive_path: str = ""    # relative to the workspace

# Short Ukrainian names of finding codes (intake) and reconciliation conflict kinds, for summaries.
CODE_LABELS = {
    # intake: the file
    "not-a-workbook": "не робоча книга", "encrypted": "зашифрований файл", "zip-bomb": "надмірний розмір після розпакування",
    "too-large": "завеликий файл", "unsafe-xml": "небезпечний XML", "reader-crashed": "збій читання", "unreadable": "файл не прочитано",
    "not-identified": "не визначено виконавця", "wrong-programme": "інша програма", "wrong-period": "інший період",
    "unknown-executor": "невідомий виконавець", "metadata-edited": "змінено службові відомості",
    "title-edited": "змінено титульний аркуш", "identified-by-title": "виконавця визначено за титульним аркушем",
    "assigned-by-clerk": "виконавця визначив працівник міністерства",
    "stale-template": "застаріла версія шаблону", "missing-sheet": "бракує аркуша", "duplicate-sheet": "аркуш повторюється",
    "missing-column": "бракує колонки", "columns-assumed": "колонки визначено за розташуванням",
    # intake: rows and cells
    "unknown-key": "невідомий рядок", "missing-row": "бракує рядка", "duplicate-key": "рядок повторюється",
    "row-without-key": "рядок без ключа", "not-executor-row": "рядок не цього виконавця",
    "missing-value": "порожня обов’язкова клітинка", "text-in-number": "текст замість числа",
    "error-value": "помилка обчислення в клітинці", "formula-no-value": "формула без значення",
    "negative": "від’ємне значення", "fractional-count": "дробова кількість", "percent-over-100": "відсоток понад 100",
    "numerator-over-denominator": "чисельник більший за знаменник", "percent-mismatch": "відсоток не відповідає чисельнику і знаменнику",
    "cash-over-financed": "касові видатки більші за профінансовані", "financed-over-planned": "профінансовано більше, ніж передбачено",
    "nil-with-amount": "«не здійснювалось» із сумою", "invalid-choice": "значення не зі списку", "text-too-long": "задовгий текст",
    # reconciliation
    "lead-mismatch": "розбіжність із відповідальним виконавцем", "double-count": "ймовірне подвійне врахування",
    "overlap": "ті самі події від кількох виконавців", "percent-not-recomputable": "відсоток неможливо перерахувати",
    "actual-without-plan": "факт без плану", "silent-executor": "виконавець нічого не повідомив про захід",
    "missing-executor": "звіт не подано", "duplicate-paragraph": "повторений текст різних виконавців",
    "repeated-paragraph": "той самий текст під кількома заходами", "adjusted": "значення скориговано вручну",
    # outliers (consolidate.outliers): block acceptance until confirmed
    "amount-thousands": "ймовірно, гривні замість тисяч гривень", "amount-over-plan": "сума в рази більша за передбачену",
    "amount-over-last-year": "сума в рази більша, ніж торік", "count-over-plan": "кількість у рази більша за планову",
    "percent-is-count": "відсоток, що є кількістю",
    # narrative against figures (consolidate.narrative)
    "merged-proposal": "однакові пропозиції об’єднано", "narrative-vs-own": "текст суперечить власному показнику", "narrative-vs-national": "текст суперечить національному показнику",
}
