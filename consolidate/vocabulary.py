"""One vocabulary: every state and severity is a stable English code with exactly one Ukrainian label.

Data (the ledger, JSON, comparisons in code) carries codes; the label is attached only where text is
shown.  All labels live in one table, :data:`LABELS`, and every front takes them from there (a test
checks that no other module spells a state's label itself).  The glossary for clerks and developers
is docs/vocabulary.md.

A term is a ``str`` enum: its *value* is the code (what is stored, compared and written to JSON), and
``str(term)`` / ``f"{term}"`` give its label (what is shown), so a term dropped into a message reads
as Ukrainian.  ``Term.of(value)`` accepts a code, a member, or (for ledgers written before the codes)
the old Ukrainian word.

Words, chosen so that one word means one thing (issue 18):

* «без зауважень / з попередженнями / з помилками / відхилено» — what intake found in a *file*;
* «подано …» — an *executor's* reporting state built from its latest file (status, reminders);
* «на розгляді / затверджено / повернуто на доопрацювання» — the *clerk's* review; «прийнято» is
  used for none of them (it used to mean both "passed the checks" and "approved").
"""

from __future__ import annotations

import enum
from typing import Any


class Term(enum.StrEnum):
    """A code with its one label (looked up in :data:`LABELS`)."""

    @property
    def code(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return LABELS[self]

    def __str__(self) -> str:
        return LABELS[self]

    def __format__(self, spec: str) -> str:
        return format(LABELS[self], spec)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.value, "label": LABELS[self]}

    @classmethod
    def of(cls, value: Any):
        """The member for a code (or member, or a legacy Ukrainian word); ValueError if unknown."""
        return cls(value)

    @classmethod
    def _missing_(cls, value):
        for member in cls:
            if LEGACY.get(member) == value:
                return member
        return None


class Severity(Term):
    """Of a finding (intake) or a conflict (reconciliation)."""

    ERROR = "error"
    WARNING = "warning"


class FileStatus(Term):
    """What intake made of one received file (the ledger's files.status, and the outcome of a run)."""

    CLEAN = "accepted"  # read, identified, no findings
    WARNINGS = "warnings"  # read, identified, warnings only
    ERRORS = "errors"  # read, identified, with errors: the values that passed are kept
    QUARANTINED = "quarantined"  # not readable or not identified: kept in quarantine with reasons
    ALREADY = "already"  # the same bytes were received before (not recorded again)
    NOT_READ = "not-read"  # could not be read from disk (permissions, vanished)


class ReportingState(Term):
    """An expected executor's reporting state for a period (status, reminders, the report's annex)."""

    OVERDUE = "overdue"
    NOT_SUBMITTED = "not-submitted"
    ERRORS = "errors"
    WARNINGS = "warnings"
    CLEAN = "accepted"


class SlotState(Term):
    """Where an executor's return stands in the clerk's review."""

    EXPECTED = "expected"
    RECEIVED = "received"  # a return awaits the clerk's decision
    RETURNED = "returned"  # the clerk sent it back for rework
    RESUBMITTED = "resubmitted"  # a new return after a decision: awaits the clerk again
    APPROVED = "approved"  # the clerk approved it: it feeds the national report


class Decision(Term):
    """A clerk's decision on a return (the ledger's reviews.decision)."""

    ACCEPT = "accept"
    RETURN = "return"


class ConflictKind(Term):
    """What reconciliation found across executors (reconcile.Conflict.kind)."""

    LEAD_MISMATCH = "lead-mismatch"
    DOUBLE_COUNT = "double-count"
    OVERLAP = "overlap"
    PERCENT_NOT_RECOMPUTABLE = "percent-not-recomputable"
    PERCENT_OVER_100 = "percent-over-100"
    ACTUAL_WITHOUT_PLAN = "actual-without-plan"
    SILENT_EXECUTOR = "silent-executor"
    MISSING_EXECUTOR = "missing-executor"
    DUPLICATE_PARAGRAPH = "duplicate-paragraph"
    REPEATED_PARAGRAPH = "repeated-paragraph"
    ADJUSTED = "adjusted"
    CASH_OVER_FINANCED = "cash-over-financed"
    MERGED_PROPOSAL = "merged-proposal"
    QUARTER_MISMATCH = "quarter-mismatch"  # consolidate.quarters: the year against the executor's quarters
    NARRATIVE_VS_OWN = "narrative-vs-own"  # consolidate.narrative
    NARRATIVE_VS_NATIONAL = "narrative-vs-national"
    AMOUNT_THOUSANDS = "amount-thousands"  # consolidate.outliers
    AMOUNT_OVER_PLAN = "amount-over-plan"
    AMOUNT_OVER_LAST_YEAR = "amount-over-last-year"
    COUNT_OVER_PLAN = "count-over-plan"
    PERCENT_IS_COUNT = "percent-is-count"


# ---------------------------------------------------------------------------------
# THE table of words
# ---------------------------------------------------------------------------------


class _Table(dict):
    """Labels keyed by term.  Terms of different kinds may share a code ("accepted", "errors"), and a str
    enum member hashes and compares as its code — so the key is the pair (kind, code), never the member alone."""

    def __getitem__(self, term: Term) -> str:
        return super().__getitem__((type(term), term.value))

    def __setitem__(self, term: Term, text: str) -> None:
        super().__setitem__((type(term), term.value), text)

    def __contains__(self, term) -> bool:
        return isinstance(term, Term) and super().__contains__((type(term), term.value))

    def get(self, term, default=None):
        return self[term] if term in self else default

    def items(self):
        return [(kind(code), text) for (kind, code), text in super().items()]

    def values(self):
        return list(super().values())


WORDS: tuple[tuple[Term, str], ...] = (
    (Severity.ERROR, "помилка"),
    (Severity.WARNING, "попередження"),
    (FileStatus.CLEAN, "без зауважень"),
    (FileStatus.WARNINGS, "з попередженнями"),
    (FileStatus.ERRORS, "з помилками"),
    (FileStatus.QUARANTINED, "відхилено (карантин)"),
    (FileStatus.ALREADY, "вже отримано"),
    (FileStatus.NOT_READ, "не вдалося прочитати з диска"),
    (ReportingState.OVERDUE, "прострочено"),
    (ReportingState.NOT_SUBMITTED, "не подано"),
    (ReportingState.ERRORS, "подано з помилками"),
    (ReportingState.WARNINGS, "подано з попередженнями"),
    (ReportingState.CLEAN, "подано без зауважень"),
    (SlotState.EXPECTED, "очікується"),
    (SlotState.RECEIVED, "на розгляді"),
    (SlotState.RETURNED, "повернуто на доопрацювання"),
    (SlotState.RESUBMITTED, "на повторному розгляді"),
    (SlotState.APPROVED, "затверджено"),
)
LABELS = _Table()
for _term, _text in WORDS:
    LABELS[_term] = _text
# A decision reads as the state it leads to: one word for one thing.
LABELS[Decision.ACCEPT] = LABELS[SlotState.APPROVED]
LABELS[Decision.RETURN] = LABELS[SlotState.RETURNED]

# Short names of finding codes (intake) and reconciliation conflict kinds, for summaries and tables.
CODE_LABELS: dict[str, str] = {
    # intake: the file
    "not-a-workbook": "не робоча книга",
    "encrypted": "зашифрований файл",
    "zip-bomb": "надмірний розмір після розпакування",
    "too-large": "завеликий файл",
    "unsafe-xml": "небезпечний XML",
    "reader-crashed": "збій читання",
    "unreadable": "файл не прочитано",
    "not-identified": "не визначено виконавця",
    "wrong-programme": "інша програма",
    "wrong-period": "інший період",
    "unknown-executor": "невідомий виконавець",
    "metadata-edited": "змінено службові відомості",
    "title-edited": "змінено титульний аркуш",
    "identified-by-title": "виконавця визначено за титульним аркушем",
    "assigned-by-clerk": "виконавця визначив працівник",
    "sender-not-in-registry": "адреса відправника не з реєстру",  # a return by mail (consolidate.mailbox)
    "stale-template": "застаріла версія шаблону",
    "missing-sheet": "бракує аркуша",
    "duplicate-sheet": "аркуш повторюється",
    "missing-column": "бракує колонки",
    "columns-assumed": "колонки визначено за розташуванням",
    # intake: rows and cells
    "unknown-key": "невідомий рядок",
    "missing-row": "бракує рядка",
    "duplicate-key": "рядок повторюється",
    "row-without-key": "рядок без ключа",
    "not-executor-row": "рядок не цього виконавця",
    "missing-value": "порожня обов’язкова клітинка",
    "text-in-number": "текст замість числа",
    "error-value": "помилка обчислення в клітинці",
    "formula-no-value": "формула без значення",
    "negative": "від’ємне значення",
    "fractional-count": "дробова кількість",
    "percent-over-100": "відсоток понад 100",
    "numerator-over-denominator": "чисельник більший за знаменник",
    "percent-mismatch": "відсоток не відповідає чисельнику і знаменнику",
    "cash-over-financed": "касові видатки більші за профінансовані",
    "financed-over-planned": "профінансовано більше, ніж передбачено",
    "nil-with-amount": "«не здійснювалось» із сумою",
    "invalid-choice": "значення не зі списку",
    "text-too-long": "задовгий текст",
    # reconciliation
    "lead-mismatch": "розбіжність із відповідальним виконавцем",
    "double-count": "ймовірне подвійне врахування",
    "overlap": "ті самі події від кількох виконавців",
    "percent-not-recomputable": "відсоток неможливо перерахувати",
    "actual-without-plan": "факт без плану",
    "silent-executor": "виконавець нічого не повідомив про захід",
    "missing-executor": "звіт не подано",
    "duplicate-paragraph": "повторений текст різних виконавців",
    "repeated-paragraph": "той самий текст під кількома заходами",
    "adjusted": "значення скориговано вручну",
    "quarter-mismatch": "річне значення не відповідає квартальним",
    # outliers (consolidate.outliers): block acceptance until confirmed
    "amount-thousands": "ймовірно, гривні замість тисяч гривень",
    "amount-over-plan": "сума в рази більша за передбачену",
    "amount-over-last-year": "сума в рази більша, ніж торік",
    "count-over-plan": "кількість у рази більша за планову",
    "percent-is-count": "відсоток, що є кількістю",
    "merged-proposal": "однакові пропозиції об’єднано",
    # consolidate verify: the workspace's files against the ledger
    "ledger-damaged": "журнал пошкоджено",
    "archive-missing": "немає архівної копії",
    "archive-mismatch": "архівну копію змінено",
    "archive-path": "хибний шлях в журналі",
    "archive-unknown": "невідомий файл в архіві",
    "temp-leftover": "залишок перерваного запису",
    "quarantine-missing": "немає файлу в карантині",
    "quarantine-mismatch": "файл у карантині змінено",
    "note-missing": "немає опису причин",
    "note-orphan": "опис причин без файлу",
    "quarantine-unknown": "невідомий файл у карантині",
    # narrative against figures (consolidate.narrative)
    "narrative-vs-own": "текст суперечить власному показнику",
    "narrative-vs-national": "текст суперечить національному показнику",
}
for _kind in ConflictKind:
    LABELS[_kind] = CODE_LABELS[_kind.value]

# Words the ledger held before the codes (read back from old ledgers; migrated on open).
LEGACY = _Table()
LEGACY[Severity.ERROR] = "помилка"
LEGACY[Severity.WARNING] = "попередження"

TERMS: tuple[type[Term], ...] = (Severity, FileStatus, ReportingState, SlotState, Decision, ConflictKind)


def label(value: Any, kind: type[Term] | None = None) -> str:
    """The label of a term, of a code of ``kind``, or of a finding code / conflict kind (itself if unknown)."""
    if isinstance(value, Term):
        return LABELS[value]
    if kind is not None:
        return LABELS[kind.of(value)]
    return CODE_LABELS.get(value, value)


def code_and_label(value: Term) -> dict[str, str]:
    """What JSON carries for a term: ``{"code": …, "label": …}``."""
    return {"code": value.value, "label": LABELS[value]}
