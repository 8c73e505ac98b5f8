"""The annual figure of each executor against its quarterly figures.

An indicator declares how its quarterly figures are reported (catalogue ``quarterly``): ``cumulative`` —
from the start of the year, so the fourth quarter's figure is the year's; ``per_quarter`` — each quarter
on its own, so the year is the sum of the four.  Undeclared indicators are read as cumulative.  Percent
indicators are compared only when cumulative (a sum of percentages means nothing); text ones never.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalogue import QUARTERLY_LABELS, Catalogue
from .numbers import format_value

QUARTERS = ("Q1", "Q2", "Q3", "Q4")


@dataclass(frozen=True)
class QuarterMismatch:
    executor: str
    indicator: str
    quarterly: str  # cumulative | per_quarter
    annual: float
    expected: float  # Q4 (cumulative) or the sum of the quarters (per quarter)
    quarters: dict[str, float | None]
    message: str


@dataclass
class QuarterCheck:
    year: int
    checked: int = 0  # (executor, indicator) pairs compared
    mismatches: list[QuarterMismatch] = field(default_factory=list)
    incomplete: list[tuple[str, str, list[str]]] = field(default_factory=list)  # executor, indicator, quarters missing


def _actuals(ledger, period: str) -> dict[str, dict[str, float]]:
    """executor → indicator → the current return's actual figure for ``period``."""
    subs = ledger.latest_submissions(period)
    values = ledger.values_of([s.id for s in subs])
    out: dict[str, dict[str, float]] = {}
    for s in subs:
        out[s.executor] = {
            v.key: v.number for v in values.get(s.id, ()) if v.field == "actual" and v.number is not None
        }
    return out


def annual_actuals(returns) -> dict[str, dict[str, float]]:
    """executor → indicator → actual figure, of (Submission, values) pairs (the returns a reconciliation used)."""
    return {
        sub.executor: {v.key: v.number for v in values if v.field == "actual" and v.number is not None}
        for sub, values in returns
    }


def check_quarters(
    cat: Catalogue, ledger, year: int | None = None, annual: dict[str, dict[str, float]] | None = None
) -> QuarterCheck:
    """Each executor's annual figures against its latest quarterly returns.  ``annual``: the annual figures to
    check (:func:`annual_actuals` of the returns reconciled); by default each executor's latest annual return."""
    year = year or cat.programme.report_year
    quarters = {q: _actuals(ledger, f"{year}-{q}") for q in QUARTERS}
    if not any(quarters.values()):
        return QuarterCheck(year)  # no quarterly return at all: nothing to compare (the annual one is not read)
    if annual is None:
        annual = _actuals(ledger, str(year))
    result = QuarterCheck(year)
    indicators = {i.id: i for i in cat.indicators if i.numeric}
    for executor, figures in sorted(annual.items()):
        for key, year_value in figures.items():
            ind = indicators.get(key)
            if ind is None:
                continue
            how = ind.quarterly or "cumulative"
            if ind.unit == "percent" and how != "cumulative":
                continue
            got = {q: quarters[q].get(executor, {}).get(key) for q in QUARTERS}
            if how == "cumulative":
                if got["Q4"] is None:
                    if any(v is not None for v in got.values()):
                        result.incomplete.append((executor, key, ["Q4"]))
                    continue
                expected = got["Q4"]
                basis = "показнику IV кварталу"
            else:
                missing = [q for q, v in got.items() if v is None]
                if missing:
                    if len(missing) < len(QUARTERS):
                        result.incomplete.append((executor, key, missing))
                    continue
                expected = sum(v for v in got.values() if v is not None)
                basis = "сумі чотирьох кварталів"
            result.checked += 1
            if abs(year_value - expected) > 1e-6 * max(1.0, abs(expected)):
                shown = ", ".join(f"{q}: {format_value(v)}" for q, v in got.items() if v is not None)
                result.mismatches.append(
                    QuarterMismatch(
                        executor,
                        key,
                        how,
                        year_value,
                        expected,
                        got,
                        f"{cat.executor_label(executor)}, показник {key} ({QUARTERLY_LABELS[how]}): річне значення "
                        f"{format_value(year_value)} не дорівнює {basis} ({format_value(expected)}; {shown})",
                    )
                )
    return result
