"""Ukrainian number parsing and formatting.

Executors type numbers the Ukrainian way: "8 814,5", "8\u00a0814,5", "1 234,50",
"0,00", "25 ", "90%", and use "-" or "—" for "nothing".  Parsing never raises:
it returns a :class:`Parsed` telling what it found, so callers can turn problems
into findings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Every kind of space a spreadsheet or a word processor puts between digit groups.
_SPACES = "\u0020\u00a0\u2007\u2009\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u200a\t"
_DASHES = {"-", "—", "–", "−", "--", "---", "х", "x", "Х", "X"}
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Parsed:
    """Result of parsing one cell.

    kind: "number", "empty" (blank or a dash), "text" (not a number),
    "error" (a spreadsheet error value such as #DIV/0!).  value: the number, set for kind "number" only.
    """

    kind: str
    value: float | None = None
    percent_sign: bool = False
    was_text: bool = False

    @property
    def ok(self) -> bool:
        return self.kind in ("number", "empty")


ERROR_VALUES = (
    "#DIV/0!",
    "#REF!",
    "#VALUE!",
    "#NAME?",
    "#N/A",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "Err:502",
    "Err:504",
    "Err:508",
    "Err:511",
    "Err:522",
)
_ERRORS_UPPER = frozenset(e.upper() for e in ERROR_VALUES)
_STRIP = _SPACES + "\r\n"
_DROP = str.maketrans({ch: None for ch in _SPACES + "'"} | {"−": "-"})


def is_nothing(raw: object) -> bool:
    """Blank, only spaces, or a dash ("-", "—", "х"): the executor reports nothing."""
    if raw is None:
        return True
    if not isinstance(raw, str):
        return False
    stripped = raw.strip(_STRIP)
    return not stripped or stripped in _DASHES


def parse_number(raw: object) -> Parsed:
    """Parse a cell value (as a spreadsheet reader returns it) into a number."""
    if raw is None:
        return Parsed("empty")
    if isinstance(raw, bool):
        return Parsed("text")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
            return Parsed("error")
        return Parsed("number", float(raw))
    stripped = str(raw).strip(_STRIP)
    if not stripped or stripped in _DASHES:
        return Parsed("empty")
    if stripped.startswith("#") or stripped.upper() in _ERRORS_UPPER:
        return Parsed("error")
    percent = False
    if stripped.endswith("%"):
        percent = True
        stripped = stripped[:-1].strip(_SPACES)
    compact = stripped.translate(_DROP)
    if not _NUMBER.match(compact):
        return Parsed("text", was_text=True)
    # "1.234,5" (dot as thousands separator) is not Ukrainian usage: only one separator allowed.
    if "," in compact and "." in compact:
        return Parsed("text", was_text=True)
    return Parsed("number", float(compact.replace(",", ".")), percent_sign=percent, was_text=True)


def format_amount(value: float | None, decimals: int = 1, thin: bool = False) -> str:
    """Format like the ministry's report: decimal comma, groups separated by a (thin) space."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}"
    sep = "\u2009" if thin else "\u00a0"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", sep)
    return sign + text


def format_value(value: float | None) -> str:
    """Format an indicator value: whole numbers without decimals, others with a comma."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}".replace(".", ",")


def show_value(value: float | None) -> str:
    """A value in a message: as :func:`format_value`, and «—» for nothing."""
    return "—" if value is None else format_value(value)
