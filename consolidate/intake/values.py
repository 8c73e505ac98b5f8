"""Value rules for single cells: numbers, texts, error values and formulas without a value.

:class:`Cells` reads one input cell of a located data sheet, parses it (``numbers.parse_number``:
Ukrainian and English separators, dashes, percent signs), records a finding for anything not accepted,
and keeps the accepted values.  Formulas are never evaluated: calamine shows an error value and a
formula without a cached value as an empty cell, and the xlsx worksheet XML tells them apart.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from ..model import ERROR, WARNING, CellValue
from ..numbers import Parsed, format_value, is_nothing, parse_number
from .common import INF, MAX_TEXT, Reading, shown, text_of
from .sheets import DataSheet


@dataclass
class Number:
    """A numeric input cell after parsing: ``state`` is "number", "empty", "dash" or "invalid";
    ``value`` is set for "number" only."""

    state: str
    value: float | None = None
    text: str = ""
    ref: str = ""
    raw: object = None


class Cells:
    """The cells of one return: parsing, findings and the values kept."""

    def __init__(self, rd: Reading):
        self.rd = rd
        self.add = rd.add
        self._formats_book = None  # openpyxl read-only workbook, opened on first need
        self._formats_tried = False

    def special(self, ds: DataSheet, r: int, code: str, key: str) -> bool:
        """A finding for an error value or an uncomputed formula shown as empty; True if there was one."""
        hit = ds.special.get((r, ds.cols[code])) if code in ds.cols else None
        if hit is None:
            return False
        kind, text = hit
        if kind == "error":
            self.error_value(ds, r, code, key, text)
        else:
            self.add(
                ERROR,
                "formula-no-value",
                "Клітинка містить формулу без обчисленого значення (файл збережено програмою, що не обчислює "
                "формул); формули не обчислюються під час прийому — впишіть значення.",
                sheet=ds.sheet.name,
                cell=ds.ref(r, code),
                row_key=key,
                found=text,
            )
        return True

    def error_value(self, ds: DataSheet, r: int, code: str, key: str, text: str) -> None:
        self.add(
            ERROR,
            "error-value",
            f"Клітинка містить помилку обчислення «{text}»; впишіть значення.",
            sheet=ds.sheet.name,
            cell=ds.ref(r, code),
            row_key=key,
            found=text,
        )

    def number(self, ds: DataSheet, r: int, code: str, key: str, unit: str) -> Number:
        """Parse a numeric input; findings for text, error values and negative numbers."""
        c = ds.cols.get(code)
        if c is None:
            return Number("invalid")
        raw = ds.sheet.value(r, c)
        ref = f"{ds.letters[code]}{r + 1}"
        kind = type(raw)
        if (kind is float or kind is int) and 0 <= raw < INF:  # a plain number (the usual cell): as parse_number
            value = float(raw)
            return Number("number", value, format_value(value), ref, raw)
        if raw == "" and self.special(ds, r, code, key):
            return Number("invalid", ref=ref)
        p: Parsed = parse_number(raw)
        if p.value is not None and p.value >= 0 and not (p.percent_sign and unit != "percent"):
            return Number("number", p.value, raw if isinstance(raw, str) else format_value(p.value), ref, raw)
        where = dict(sheet=ds.sheet.name, cell=ref, row_key=key, found=shown(raw))
        if p.kind == "empty":
            return Number("dash", text=text_of(raw), ref=ref, raw=raw) if text_of(raw) else Number("empty", ref=ref)
        if p.kind == "error":
            self.error_value(ds, r, code, key, shown(raw))
            return Number("invalid", ref=ref)
        if p.kind == "text" or (p.percent_sign and unit != "percent"):
            what = "дату" if isinstance(raw, (dt.date, dt.time, dt.timedelta)) else "текст"
            self.add(
                ERROR,
                "text-in-number",
                f"Очікується число, а в клітинці {what} «{shown(raw)}»; значення не прийнято.",
                expected="число",
                **where,
            )
            return Number("invalid", ref=ref)
        self.add(
            ERROR,
            "negative",
            f"Від’ємне значення {shown(p.value)}: значення не може бути меншим за 0; не прийнято.",
            expected="≥ 0",
            **where,
        )
        return Number("invalid", ref=ref)

    def keep(self, ds: DataSheet, key: str, code: str, number: float | None, text: str, ref: str) -> None:
        self.rd.values.append(CellValue(key, code, number, text, ds.sheet.name, ref))

    def keep_number(self, ds: DataSheet, key: str, code: str, n: Number) -> None:
        if n.state in ("number", "dash"):
            self.keep(ds, key, code, n.value, n.text, n.ref)

    def text_cell(self, ds: DataSheet, r: int, code: str, key: str) -> tuple[str, str]:
        """(text, A1 ref) of a text input; "" for blank, a dash, or an error shown as empty."""
        c = ds.cols.get(code)
        if c is None:
            return "", ""
        raw = ds.sheet.value(r, c)
        ref = f"{ds.letters[code]}{r + 1}"
        if raw == "" and self.special(ds, r, code, key):
            return "", ref
        if is_nothing(raw):
            return "", ref
        text = text_of(raw)
        if len(text) > MAX_TEXT:
            self.add(
                WARNING,
                "text-too-long",
                f"Текст у клітинці завдовжки {len(text)} символів, а в клітинці Excel їх може бути не більше "
                f"{MAX_TEXT}; прийнято перші {MAX_TEXT} символів.",
                sheet=ds.sheet.name,
                cell=ref,
                row_key=key,
                found=f"{len(text)} символів",
                expected=f"≤ {MAX_TEXT} символів",
            )
            text = text[:MAX_TEXT]
        return text, ref

    def missing(self, ds: DataSheet, key: str, ref: str, what: str) -> None:
        self.add(WARNING, "missing-value", f"Не заповнено: {what}.", sheet=ds.sheet.name, cell=ref, row_key=key)

    def percent_formatted(self, ds: DataSheet, r: int, code: str) -> bool:
        """Whether an xlsx cell has a percent number format (typed as "90%", stored as 0.9)."""
        if self.rd.fmt not in ("xlsx", "xlsm"):
            return False
        if not self._formats_tried:
            self._formats_tried = True
            import openpyxl  # only here: calamine does not expose number formats

            try:
                self._formats_book = openpyxl.load_workbook(io.BytesIO(self.rd.data), read_only=True, data_only=True)
            except Exception:  # openpyxl refuses what calamine read: no format information, keep the value
                self._formats_book = None
        wb = self._formats_book
        if wb is None or ds.sheet.name not in wb.sheetnames:
            return False
        c = ds.cols[code]
        for row in wb[ds.sheet.name].iter_rows(min_row=r + 1, max_row=r + 1, min_col=c + 1, max_col=c + 1):
            for cell in row:
                return "%" in re.sub(r'"[^"]*"|\\.', "", getattr(cell, "number_format", "") or "")
        return False
