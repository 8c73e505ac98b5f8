"""Slips and outliers in a return: figures that must not reach the national total unconfirmed.

In the spirit of DHIS2's min-max and outlier analysis, every number of a return is compared with what
it should be near:

* an amount (financed, cash; thousand hryvnias) at least ``thousands_ratio`` × its plan — hryvnias typed
  as thousands (``amount-thousands``: «85 200» where the plan is 85,2);
* an amount at least ``amount_ratio`` × its plan (``amount-over-plan``) or × the same line of the
  executor's approved return for the same period a year earlier (``amount-over-last-year``);
* a count at least ``count_ratio`` × the indicator's plan (``count-over-plan``);
* a percent above 100 — a count typed into a percent's cell (``percent-is-count``; the seed's 2.14 has
  107 where the narrative counts 107 persons).

Each is an error that blocks the acceptance of the return until the clerk confirms it with a reason
(:func:`consolidate.review.confirm`) or the executor corrects the file.  The thresholds are read from
``[outliers]`` in consolidate.toml.  Pure functions over plain data: the ledger is read by the callers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import layout as L
from .catalogue import Catalogue, FundingLine, Indicator
from .errors import ConsolidateError
from .model import CellValue, Submission
from .numbers import show_value
from .vocabulary import CODE_LABELS

THOUSANDS = "amount-thousands"
AMOUNT_OVER_PLAN = "amount-over-plan"
AMOUNT_OVER_LAST_YEAR = "amount-over-last-year"
COUNT_OVER_PLAN = "count-over-plan"
PERCENT_IS_COUNT = "percent-is-count"
OUTLIER_CODES = (THOUSANDS, AMOUNT_OVER_PLAN, AMOUNT_OVER_LAST_YEAR, COUNT_OVER_PLAN, PERCENT_IS_COUNT)
OUTLIER_LABELS = {code: CODE_LABELS[code] for code in OUTLIER_CODES}  # the one table: consolidate.vocabulary
SECTION = "outliers"  # the section of consolidate.toml
DEFAULT_CONFIG = """
[outliers]
# Значення, що в стільки разів більше за план (або за той самий рядок торік), блокує прийняття звіту,
# доки працівник не підтвердить його з причиною: consolidate review accept КОД --confirm ПОСИЛАННЯ --reason «…».
amount_ratio = 10          # профінансовано / касові видатки проти передбаченого або торішнього
thousands_ratio = 1000     # гривні, введені замість тисяч гривень
count_ratio = 100          # кількість проти плану показника
percent_max = 100          # відсоток понад це — кількість, введена в клітинку відсотка
"""
_PERSONS = re.compile(r"(\d[\d\s\u00a0]*)\s+(ос[іо]б\w*|особ[аи]|потерпіл\w*|постраждал\w*|дит\w*)", re.I)


@dataclass(frozen=True)
class Thresholds:
    amount_ratio: float = 10.0
    thousands_ratio: float = 1000.0
    count_ratio: float = 100.0
    percent_max: float = 100.0

    @classmethod
    def from_settings(cls, section: dict | None) -> Thresholds:
        """From the ``[outliers]`` table of consolidate.toml (missing keys: the defaults)."""
        out = {}
        for name, default in cls().__dict__.items():
            raw = (section or {}).get(name, default)
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
                raise ConsolidateError(
                    f"consolidate.toml, [{SECTION}] {name}: очікується додатне число, а вказано «{raw}»"
                )
            out[name] = float(raw)
        return cls(**out)

    @classmethod
    def of(cls, ws) -> Thresholds:
        return cls.from_settings(ws.config.get(SECTION))


@dataclass(frozen=True)
class Outlier:
    """One suspicious figure of one return."""

    code: str
    executor: str
    submission_id: int
    key: str  # row key (funding line or indicator id)
    field: str  # financed, cash, actual
    sheet: str
    cell: str
    value: float
    reference: float | None  # the plan or last year's figure it was compared with
    message: str  # Ukrainian, precise: what, where, against what

    @property
    def ref(self) -> str:
        """What the clerk types after --confirm: «F.T1.1.SG.MSP/financed» (or the cell, «I. Фінансування!G12»)."""
        return f"{self.key}/{self.field}"

    def matches(self, text: str) -> bool:
        t = text.strip().casefold()
        return t in (
            self.ref.casefold(),
            self.key.casefold(),
            self.cell.casefold(),
            f"{self.sheet}!{self.cell}".casefold(),
        )


def previous_period(period: str) -> str | None:
    """The same period a year earlier: 2024 → 2023, 2024-Q3 → 2023-Q3."""
    m = re.fullmatch(r"(\d{4})(.*)", period)
    return f"{int(m.group(1)) - 1}{m.group(2)}" if m else None


def _ratio_text(value: float, ref: float) -> str:
    ratio = value / ref
    return f"у {show_value(round(ratio))} раз" if ratio >= 10 else f"у {show_value(round(ratio, 1))} раза"


def find(
    catalogue: Catalogue,
    sub: Submission,
    values: Iterable[CellValue],
    thresholds: Thresholds,
    previous: Iterable[CellValue] = (),
) -> list[Outlier]:
    """The outliers of one return; ``previous``: the executor's approved return a year earlier."""
    last_year = {(v.key, v.field): v.number for v in previous if v.number is not None}
    by_key = {(v.key, v.field): v for v in values}
    texts = {v.key: v.text for v in by_key.values() if v.field == "narrative" and v.text}
    out: list[Outlier] = []
    for (key, fld), v in by_key.items():
        if v.number is None:
            continue
        item = catalogue.get(key)
        if item is None:
            continue
        value = v.number
        where = f"аркуш «{v.sheet}», клітинка {v.cell}"
        if fld in ("financed", "cash") and isinstance(item, FundingLine):
            what = "профінансовано" if fld == "financed" else "касові видатки"
            plan = item.planned if item.planned else item.programme_amount
            plan_name = "передбачено" if item.planned else "передбачено програмою"
            if plan and plan > 0 and value >= thresholds.thousands_ratio * plan:
                out.append(
                    Outlier(
                        THOUSANDS,
                        sub.executor,
                        sub.id,
                        key,
                        fld,
                        v.sheet,
                        v.cell,
                        value,
                        plan,
                        f"{key}: {what} {show_value(value)} тис. грн при «{plan_name}» {show_value(plan)} тис. грн "
                        f"({_ratio_text(value, plan)} більше; {where}) — схоже, суму введено в гривнях, а не в тисячах "
                        f"гривень ({show_value(round(value / 1000, 3))} тис. грн?)",
                    )
                )
                continue
            if plan and plan > 0 and value >= thresholds.amount_ratio * plan:
                out.append(
                    Outlier(
                        AMOUNT_OVER_PLAN,
                        sub.executor,
                        sub.id,
                        key,
                        fld,
                        v.sheet,
                        v.cell,
                        value,
                        plan,
                        f"{key}: {what} {show_value(value)} тис. грн — {_ratio_text(value, plan)} більше, ніж "
                        f"«{plan_name}» ({show_value(plan)} тис. грн; {where})",
                    )
                )
                continue
            before = last_year.get((key, fld))
            if before and before > 0 and value >= thresholds.amount_ratio * before:
                out.append(
                    Outlier(
                        AMOUNT_OVER_LAST_YEAR,
                        sub.executor,
                        sub.id,
                        key,
                        fld,
                        v.sheet,
                        v.cell,
                        value,
                        before,
                        f"{key}: {what} {show_value(value)} тис. грн — {_ratio_text(value, before)} більше, ніж "
                        f"за той самий рядок торік ({show_value(before)} тис. грн; {where})",
                    )
                )
        elif fld == "actual" and isinstance(item, Indicator):
            if item.unit == "percent" and value > thresholds.percent_max:
                stated = _persons_stated(texts.get(item.measure_id, ""), value)
                hint = (
                    f"; у тексті звіту «{stated}» — це кількість, а не відсоток"
                    if stated
                    else "; схоже, це кількість, а не відсоток"
                )
                out.append(
                    Outlier(
                        PERCENT_IS_COUNT,
                        sub.executor,
                        sub.id,
                        key,
                        fld,
                        v.sheet,
                        v.cell,
                        value,
                        thresholds.percent_max,
                        f"{key} «{item.name}»: {show_value(value)} % ({where}){hint}",
                    )
                )
            elif (
                item.unit == "count"
                and item.planned
                and item.planned > 0
                and value >= thresholds.count_ratio * item.planned
            ):
                out.append(
                    Outlier(
                        COUNT_OVER_PLAN,
                        sub.executor,
                        sub.id,
                        key,
                        fld,
                        v.sheet,
                        v.cell,
                        value,
                        item.planned,
                        f"{key} «{item.name}»: {show_value(value)} — {_ratio_text(value, item.planned)} більше за "
                        f"планове значення {show_value(item.planned)} ({where})",
                    )
                )
    out.sort(key=lambda o: (o.sheet != L.SHEET_FUNDING, o.key, o.field))
    return out


def _persons_stated(text: str, value: float) -> str:
    """«107 осіб» where the narrative counts the same number of persons as the percent's value."""
    for m in _PERSONS.finditer(text):
        digits = re.sub(r"\D", "", m.group(1))
        if digits and float(digits) == value:
            return f"{m.group(1).strip()} {m.group(2)}"
    return ""


def resolve(outliers: list[Outlier], refs: Iterable[str]) -> tuple[list[Outlier], list[str]]:
    """The outliers the clerk's --confirm values name, and the values that name none."""
    chosen: list[Outlier] = []
    unknown: list[str] = []
    for ref in refs:
        hit = [o for o in outliers if o.matches(ref)]
        if not hit:
            unknown.append(ref)
        for o in hit:
            if o not in chosen:
                chosen.append(o)
    return chosen, unknown
