"""What several workflows need: the period, a day, an executor named by the user, the operator, the draft banner."""

from __future__ import annotations

import datetime as dt

from ..errors import ConsolidateError
from ..wording import ua_date
from ..workspace import Workspace


def resolve_period(ws: Workspace, period: str | None) -> str:
    """The period asked for (or the catalogue's default), checked; its year's catalogue selected."""
    return ws.use_period(period or ws.catalogue.default_period())


def parse_day(text: str | dt.date | None, default: dt.date | None = None) -> dt.date:
    """A date as РРРР-ММ-ДД or ДД.ММ.РРРР (a date passes through; None gives ``default`` or today)."""
    if text is None or text == "":
        return default or dt.date.today()
    if isinstance(text, dt.date):
        return text
    value = text.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ConsolidateError(f"Неправильна дата «{text}»: очікується РРРР-ММ-ДД або ДД.ММ.РРРР")


def executor_code(ws: Workspace, text: str) -> str:
    """An executor's code from its code, short or full name or alias."""
    reg = ws.catalogue.registry
    found = reg.get(text) or reg.find_by_name(text)
    if found is None:
        raise ConsolidateError(f"Невідомий виконавець «{text}»: немає такого коду чи назви в реєстрі.")
    return found.code


def executor_codes(ws: Workspace, executors=()) -> list[str]:
    """The codes given (each checked), or every expected executor."""
    codes = list(dict.fromkeys(executors)) or ws.catalogue.expected_executors()
    unknown = [c for c in codes if c not in ws.catalogue.registry]
    if unknown:
        raise ConsolidateError("Невідомі виконавці: " + ", ".join(unknown))
    return codes


def operator_name(ws: Workspace, operator: str | None) -> str:
    """Who decides: the name given, else [operator] name of consolidate.toml."""
    name = (operator or str(ws.setting("operator", "name", "") or "")).strip()
    if not name:
        raise ConsolidateError(
            "Не вказано оператора: додайте --operator «Прізвище» або [operator] name у consolidate.toml."
        )
    return name


def thresholds(ws: Workspace):
    from ..outliers import Thresholds

    return Thresholds.of(ws)


def draft_banner(day: dt.date) -> str:
    """The mark on every sheet of a report that includes returns the clerk has not approved."""
    return f"ЧЕРНЕТКА: містить незатверджені звіти (станом на {ua_date(day)}); не для подання"
