"""Value rules for whole rows, per sheet: funding (I), execution (II), proposals (III).

Each rule maps the sheet's rows by key (:func:`.sheets.rows_of`), reads every input of the rows this
executor must report (:class:`.values.Cells`), checks the relations between them (cash ≤ financed,
numerator ≤ denominator, a percent that matches them, …) and keeps what is accepted.  :data:`RULES`
names the rule of each sheet kind.
"""

from __future__ import annotations

from .. import layout as L
from ..catalogue import FundingLine, Indicator, Measure, Task
from ..model import ERROR, WARNING
from ..numbers import format_value
from .common import norm, shown
from .identify import Expected
from .sheets import DataSheet, foreign, missing_row, rows_of, unknown
from .values import Cells, Number

PERCENT_TOLERANCE = 0.5  # percentage points between a reported percent and numerator / denominator


def funding(cx: Cells, ds: DataSheet, expected: Expected) -> None:
    def belongs(key):
        item = cx.rd.catalogue.get(key)
        if not isinstance(item, FundingLine):
            return unknown(key, ds)
        if key not in expected.funding:
            return foreign(cx.rd, key, "рядок фінансування")
        return None

    rows = rows_of(cx.rd, ds, belongs)
    for key, line in expected.funding.items():
        if key not in rows:
            missing_row(cx.rd, ds, key, "рядок фінансування")
            continue
        r = rows[key]
        nil_text, nil_ref = cx.text_cell(ds, r, "nil", key)
        nil = norm(nil_text) == L.NIL_FUNDING
        if nil_text:
            if not nil:
                cx.add(
                    WARNING,
                    "invalid-choice",
                    f"У колонці «Фінансування не здійснювалось» має бути «{L.NIL_FUNDING}» або порожньо.",
                    sheet=ds.sheet.name,
                    cell=nil_ref,
                    row_key=key,
                    found=nil_text,
                    expected=L.NIL_FUNDING,
                )
            cx.keep(ds, key, "nil", None, L.NIL_FUNDING if nil else nil_text, nil_ref)
        financed = cx.number(ds, r, "financed", key, "amount")
        cash = cx.number(ds, r, "cash", key, "amount")
        for n, what in ((financed, "фактично профінансовано"), (cash, "касові видатки")):
            if n.state == "empty" and not nil and n.ref:
                cx.missing(
                    ds,
                    key,
                    n.ref,
                    f"{what}, тис. грн (або оберіть «{L.NIL_FUNDING}» у колонці «Фінансування не здійснювалось»)",
                )
        if nil and any(n.value is not None and n.value > 0 for n in (financed, cash)):
            cx.add(
                WARNING,
                "nil-with-amount",
                "Позначено, що фінансування не здійснювалось, але вказано суму.",
                sheet=ds.sheet.name,
                cell=nil_ref,
                row_key=key,
                found=nil_text,
            )
        if financed.value is not None and cash.value is not None and cash.value > financed.value:
            cx.add(
                ERROR,
                "cash-over-financed",
                f"Касові видатки ({shown(cash.value)}) більші за фактично профінансовані "
                f"({shown(financed.value)}); касові видатки не прийнято.",
                sheet=ds.sheet.name,
                cell=cash.ref,
                row_key=key,
                found=shown(cash.value),
                expected=f"≤ {shown(financed.value)}",
            )
            cash = Number("invalid")
        if financed.value is not None and line.planned is not None and financed.value > line.planned:
            cx.add(
                WARNING,
                "financed-over-planned",
                f"Фактично профінансовано ({shown(financed.value)}) більше, ніж передбачено на рік "
                f"({shown(line.planned)}).",
                sheet=ds.sheet.name,
                cell=financed.ref,
                row_key=key,
                found=shown(financed.value),
                expected=f"≤ {shown(line.planned)}",
            )
        cx.keep_number(ds, key, "financed", financed)
        cx.keep_number(ds, key, "cash", cash)
        for code in ("budget_code", "comment"):
            text, ref = cx.text_cell(ds, r, code, key)
            if text:
                cx.keep(ds, key, code, None, text, ref)


def execution(cx: Cells, ds: DataSheet, expected: Expected) -> None:
    def belongs(key):
        item = cx.rd.catalogue.get(key)
        if isinstance(item, Task):
            return "skip"
        if isinstance(item, Measure):
            return None if key in expected.measures else foreign(cx.rd, key, "захід")
        if isinstance(item, Indicator):
            return None if key in expected.indicators else foreign(cx.rd, key, f"показник заходу {item.measure_id}")
        return unknown(key, ds)

    rows = rows_of(cx.rd, ds, belongs)
    status_of_measure: dict[str, str] = {}
    for key in expected.measures:
        if key not in rows:
            missing_row(cx.rd, ds, key, "захід")
            continue
        status_of_measure[key] = _measure(cx, ds, rows[key], key)
    for key, ind in expected.indicators.items():
        if key not in rows:
            missing_row(cx.rd, ds, key, "показник")
            continue
        _indicator(cx, ds, rows[key], ind, status_of_measure.get(ind.measure_id, ""))


def _measure(cx: Cells, ds: DataSheet, r: int, key: str) -> str:
    status, ref = cx.text_cell(ds, r, "status", key)
    if status:
        canonical = next((s for s in L.STATUS_VALUES if norm(s) == norm(status)), None)
        if canonical is None:
            cx.add(
                WARNING,
                "invalid-choice",
                f"Стан виконання має бути одним зі значень списку: {', '.join(L.STATUS_VALUES)}.",
                sheet=ds.sheet.name,
                cell=ref,
                row_key=key,
                found=status,
                expected=", ".join(L.STATUS_VALUES),
            )
        status = canonical or status
        cx.keep(ds, key, "status", None, status, ref)
    elif ref:
        cx.missing(ds, key, ref, "стан виконання заходу")
    narrative, nref = cx.text_cell(ds, r, "narrative", key)
    if narrative:
        cx.keep(ds, key, "narrative", None, narrative, nref)
    elif nref and status != L.NIL_STATUS:
        cx.missing(ds, key, nref, "інформація про виконання заходу")
    return status


def _indicator(cx: Cells, ds: DataSheet, r: int, ind: Indicator, measure_status: str) -> None:
    key = ind.id
    if not ind.numeric or ind.unit == "text":
        text, ref = cx.text_cell(ds, r, "actual", key)
        if text:
            cx.keep(ds, key, "actual", None, text, ref)
        elif ref and measure_status != L.NIL_STATUS:
            cx.missing(ds, key, ref, "фактично досягнуте значення показника")
        return
    percent = ind.unit == "percent"
    actual = cx.number(ds, r, "actual", key, ind.unit)
    num = cx.number(ds, r, "numerator", key, "number") if percent else Number("empty")
    den = cx.number(ds, r, "denominator", key, "number") if percent else Number("empty")
    if (
        percent
        and actual.value is not None
        and 0 < actual.value <= 1
        and not isinstance(actual.raw, str)
        and cx.percent_formatted(ds, r, "actual")
    ):
        actual.value = round(actual.value * 100, 10)
        actual.text = format_value(actual.value)
    where = dict(sheet=ds.sheet.name, cell=actual.ref, row_key=key)
    if actual.value is not None:
        if percent and actual.value > 100:
            cx.add(
                WARNING,
                "percent-over-100",
                f"Відсоток {shown(actual.value)} більший за 100.",
                found=shown(actual.value),
                expected="0–100",
                **where,
            )
        if ind.unit == "count" and not float(actual.value).is_integer():
            cx.add(
                WARNING,
                "fractional-count",
                f"Кількість має бути цілим числом, а вказано {shown(actual.value)}.",
                found=shown(actual.value),
                expected="ціле число",
                **where,
            )
    if num.value is not None and den.value is not None:
        if num.value > den.value:
            cx.add(
                WARNING,
                "numerator-over-denominator",
                f"Чисельник ({shown(num.value)}) більший за знаменник ({shown(den.value)}).",
                sheet=ds.sheet.name,
                cell=num.ref,
                row_key=key,
                found=shown(num.value),
                expected=f"≤ {shown(den.value)}",
            )
        elif actual.value is not None and den.value > 0:
            computed = 100 * num.value / den.value
            if abs(actual.value - computed) > PERCENT_TOLERANCE:
                cx.add(
                    WARNING,
                    "percent-mismatch",
                    f"Відсоток {shown(actual.value)} не відповідає чисельнику і знаменнику "
                    f"({shown(num.value)} / {shown(den.value)} = {shown(round(computed, 1))} %).",
                    found=shown(actual.value),
                    expected=shown(round(computed, 1)),
                    **where,
                )
    has_pair = num.state == "number" and den.state == "number"
    if actual.state == "empty" and actual.ref and measure_status != L.NIL_STATUS and not has_pair:
        cx.missing(ds, key, actual.ref, "фактично досягнуте значення показника")
    for code, n in (("actual", actual), ("numerator", num), ("denominator", den)):
        cx.keep_number(ds, key, code, n)


def proposals(cx: Cells, ds: DataSheet, expected: Expected) -> None:
    rows = rows_of(cx.rd, ds, lambda key: None if key in L.PROPOSAL_KEYS else unknown(key, ds))
    for key in L.PROPOSAL_KEYS:
        if key in rows:
            text, ref = cx.text_cell(ds, rows[key], "text", key)
            if text:
                cx.keep(ds, key, "text", None, text, ref)


RULES = {"funding": funding, "execution": execution, "proposals": proposals}
