"""Sheet mapping: which sheet is which (by content, never by name or position), and which row is which.

A data sheet is found by the column codes of its hidden row 1, else by its header labels, else by the
row keys in column A (then the template's column order is assumed, with a warning).  The meta sheet and
the title sheet are recognised by their labels.  Rows are mapped by key, columns by code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import layout as L
from ..catalogue import Catalogue, FundingLine, Indicator, Measure
from ..model import ERROR, WARNING
from .common import INPUTS, ROWS_WITHOUT_KEY_SHOWN, SHEET_LABELS, SHEET_ORDER, Reading, a1, norm, text_of
from .identify import Expected, meta_rows, title_values

# Codes that must all be in a row for it to be a sheet's code row (the first match wins, in this order).
KIND_CODES = {
    "funding": ("key", "financed", "cash"),
    "execution": ("key", "actual", "status", "narrative"),
    "proposals": ("key", "text"),
}
# Labels of the input columns: enough of them in one row make it a header row of that kind.
KIND_LABEL_CODES = {
    "funding": ("financed", "cash", "budget_code", "nil"),
    "execution": ("actual", "numerator", "status", "narrative"),
    "proposals": ("text",),
}
SCAN_ROWS = 12  # code / header rows are searched this far down


@dataclass
class Sheet:
    """One worksheet's values as calamine gives them (rows of cells; "" for empty)."""

    index: int
    name: str
    rows: list[list]

    def value(self, r: int, c: int | None):
        if c is None or r >= len(self.rows):
            return ""
        row = self.rows[r]
        return row[c] if c < len(row) else ""


@dataclass
class DataSheet:
    """A sheet found to hold one kind of data, with its columns located."""

    kind: str
    sheet: Sheet
    cols: dict[str, int]  # column code → 0-based column
    found_by: str  # "codes", "labels" or "keys"
    special: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)  # column code → column letters (A1 references)

    def __post_init__(self):
        self.letters = {code: a1(0, c)[:-1] for code, c in self.cols.items()}

    def ref(self, r: int, code: str) -> str:
        letters = self.letters.get(code)
        return f"{letters}{r + 1}" if letters is not None else ""


def code_row(sheet: Sheet) -> tuple[str, dict[str, int]] | None:
    for r in range(min(SCAN_ROWS, len(sheet.rows))):
        if "key" not in sheet.rows[r]:  # every code row has the key column (cheap test first)
            continue
        cells: dict[str, int] = {}
        for c, v in enumerate(sheet.rows[r]):
            if isinstance(v, str) and v.strip():
                cells.setdefault(v.strip(), c)
        for kind in SHEET_ORDER:
            if all(code in cells for code in KIND_CODES[kind]):
                known = {code for code, _ in L.SHEET_KINDS[kind]}
                return kind, {code: c for code, c in cells.items() if code in known}
    return None


def label_row(sheet: Sheet) -> tuple[str, dict[str, int]] | None:
    for r in range(min(SCAN_ROWS, len(sheet.rows))):
        cells: dict[str, int] = {}
        for c, v in enumerate(sheet.rows[r]):
            if isinstance(v, str) and v.strip():
                cells.setdefault(norm(v), c)
        for kind in SHEET_ORDER:
            columns = L.SHEET_KINDS[kind]
            labels = {norm(label): code for code, label in columns}
            hits = sum(1 for code, label in columns if code in KIND_LABEL_CODES[kind] and norm(label) in cells)
            if hits >= min(2, len(KIND_LABEL_CODES[kind])):
                return kind, {labels[text]: c for text, c in cells.items() if text in labels}
    return None


def key_kind(sheet: Sheet, catalogue: Catalogue) -> str | None:
    """Kind of a sheet that lost its code and header rows, from the row keys in column A."""
    counts = {"funding": 0, "execution": 0, "proposals": 0}
    for row in sheet.rows[:500]:
        key = row[0].strip() if row and isinstance(row[0], str) else ""
        item = catalogue.get(key) if key else None
        if isinstance(item, FundingLine):
            counts["funding"] += 1
        elif isinstance(item, (Measure, Indicator)):
            counts["execution"] += 1
        elif key in L.PROPOSAL_KEYS:
            counts["proposals"] += 1
    kind = max(counts, key=counts.__getitem__)
    needed = 2 if kind == "proposals" else 1
    return kind if counts[kind] >= needed else None


def classify(rd: Reading) -> tuple[dict[str, str] | None, dict[str, str] | None, dict[str, DataSheet]]:
    """The meta sheet's values, the title sheet's values and the data sheets, each found by content."""
    meta: dict[str, str] | None = None
    title: dict[str, str] | None = None
    data: dict[str, DataSheet] = {}
    for sheet in rd.sheets:
        located = _locate_by_codes(sheet)
        if located is None:
            if meta is None and (found := meta_rows(sheet)) is not None:
                meta = found
                continue
            if title is None and (found := title_values(sheet)) is not None:
                title = found
                continue
            located = _locate(rd, sheet)
        if located is None:
            continue
        if located.kind in data:
            first = data[located.kind].sheet.name
            rd.add(
                WARNING,
                "duplicate-sheet",
                f"Аркуш «{sheet.name}» повторює аркуш «{first}» ({SHEET_LABELS[located.kind]}); його не прочитано.",
                sheet=sheet.name,
                found=sheet.name,
                expected=first,
            )
            continue
        data[located.kind] = located
    return meta, title, data


def _locate_by_codes(sheet: Sheet) -> DataSheet | None:
    found = code_row(sheet)
    return DataSheet(found[0], sheet, found[1], "codes") if found else None


def _locate(rd: Reading, sheet: Sheet) -> DataSheet | None:
    """A data sheet that lost its code row: by the header labels, else by the row keys in column A."""
    found = label_row(sheet)
    if found:
        return DataSheet(found[0], sheet, found[1], "labels")
    kind = key_kind(sheet, rd.catalogue)
    if kind is None:
        return None
    rd.add(
        WARNING,
        "columns-assumed",
        f"На аркуші «{sheet.name}» немає рядка із заголовками колонок; колонки визначено за стандартним "
        f"розташуванням шаблону. Перевірте, чи значення прочитано правильно.",
        sheet=sheet.name,
    )
    return DataSheet(kind, sheet, {code: c for c, (code, _) in enumerate(L.SHEET_KINDS[kind])}, "keys")


def check_sheets(rd: Reading, data_sheets: dict[str, DataSheet], expected: Expected) -> None:
    needed = {"funding": bool(expected.funding), "execution": bool(expected.measures), "proposals": False}
    for kind in SHEET_ORDER:
        ds = data_sheets.get(kind)
        if ds is None:
            if needed[kind]:
                rd.add(
                    ERROR,
                    "missing-sheet",
                    f"У файлі немає аркуша «{SHEET_LABELS[kind]}» (не знайдено аркуша "
                    f"з його колонками чи рядками): його дані не прочитано.",
                    expected=SHEET_LABELS[kind],
                )
            continue
        for code in ("key", *INPUTS[kind]):
            if code not in ds.cols:
                label = dict(L.SHEET_KINDS[kind])[code]
                rd.add(
                    ERROR,
                    "missing-column",
                    f"На аркуші «{ds.sheet.name}» немає колонки «{label}»: її значення не прочитано.",
                    sheet=ds.sheet.name,
                    expected=label,
                )


def rows_of(rd: Reading, ds: DataSheet, belongs) -> dict[str, int]:
    """Row key → row index of the rows that belong to this executor; findings for the others.

    ``belongs(key)`` returns None for a row of this executor, "skip" for a row to ignore silently,
    or a finding ``(code, message)`` for a row that is not accepted.
    """
    sheet, key_col = ds.sheet, ds.cols.get("key")
    if key_col is None:
        return {}
    header = {"key", norm(dict(L.SHEET_KINDS[ds.kind])["key"])}  # the key cell of the code and header rows
    inputs = [ds.cols[c] for c in INPUTS[ds.kind] if c in ds.cols]
    rows: dict[str, int] = {}
    seen: dict[str, int] = {}
    data_started = False
    keyless_count = 0
    summed: list[int] = []  # rows with data but no key beyond those reported one by one
    for r, row in enumerate(sheet.rows):
        raw = row[key_col] if key_col < len(row) else ""
        key = raw.strip() if type(raw) is str else text_of(raw)
        if not key:
            if data_started and any(text_of(sheet.value(r, c)) or (r, c) in ds.special for c in inputs):
                keyless_count += 1
                if keyless_count > ROWS_WITHOUT_KEY_SHOWN:
                    summed.append(r)
                    continue
                rd.add(
                    WARNING,
                    "row-without-key",
                    f"Рядок {r + 1} не має службового ключа, але містить дані; їх не прочитано. Не "
                    f"додавайте рядків — впишіть дані у відповідні рядки шаблону.",
                    sheet=sheet.name,
                    cell=a1(r, key_col),
                )
            continue
        if key.casefold() in header:
            continue
        data_started = True
        if key in seen:
            rd.add(
                ERROR,
                "duplicate-key",
                f"Рядок з ключем «{key}» повторюється (уперше — рядок {seen[key] + 1}); повтор не прочитано.",
                sheet=sheet.name,
                cell=a1(r, key_col),
                row_key=key,
                found=key,
            )
            continue
        seen[key] = r
        verdict = belongs(key)
        if verdict == "skip":
            continue
        if verdict is not None:
            code, message = verdict
            rd.add(ERROR, code, message, sheet=sheet.name, cell=a1(r, key_col), row_key=key, found=key)
            continue
        rows[key] = r
    if summed:
        first, last, extra = summed[0], summed[-1], len(summed)
        span = f"рядок {first + 1}" if first == last else f"рядки {first + 1}–{last + 1}"
        rd.add(
            WARNING,
            "row-without-key",
            f"Ще рядків без службового ключа, але з даними: {extra} ({span}); їх не прочитано. Не додавайте "
            f"рядків — впишіть дані у відповідні рядки шаблону.",
            sheet=sheet.name,
            cell=a1(first, key_col),
            found=str(extra),
        )
    return rows


def missing_row(rd: Reading, ds: DataSheet, key: str, what: str) -> None:
    rd.add(
        ERROR,
        "missing-row",
        f"На аркуші «{ds.sheet.name}» немає рядка «{key}» ({what}): рядок видалено, тож його дані не подано.",
        sheet=ds.sheet.name,
        row_key=key,
        expected=key,
    )


def unknown(key: str, ds: DataSheet):
    return (
        "unknown-key",
        f"Невідомий ключ рядка «{key}»: такого рядка на аркуші «{SHEET_LABELS[ds.kind]}» "
        f"у програмі немає; рядок не прочитано.",
    )


def foreign(rd: Reading, key: str, what: str):
    return (
        "not-executor-row",
        f"Рядок «{key}» ({what}) не стосується виконавця {rd.executor}: його не названо "
        f"виконавцем; рядок не прочитано.",
    )
