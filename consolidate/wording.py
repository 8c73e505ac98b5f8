"""Ukrainian wording helpers: plural forms of counted nouns and dates as written in letters.

Ukrainian has three forms after a numeral (CLDR "one", "few", "many"):

* one  — n ends in 1, but not in 11:            1, 21, 101 показник
* few  — n ends in 2–4, but not in 12–14:       2, 3, 4, 22, 104 показники
* many — everything else (0, 5–20, 25–30, 11–14, 111 …): 5, 11, 25 показників

A fraction takes the genitive singular («2,5 тисячі», «1,5 показника»); pass ``fraction`` for it
(by default the "few" form, which coincides with it for most feminine nouns).

A small helper instead of Babel: Babel's plural rules only name the category — the three words
must be supplied anyway — and a dependency for four lines of arithmetic is not worth it.
``plural`` also knows the nouns this tool counts (``NOUNS``), so callers write ``plural(72, "показник")``.
"""

from __future__ import annotations

import datetime as dt

ONE, FEW, MANY = "one", "few", "many"

# The nouns (and noun phrases) the tool counts: (one, few, many).
NOUNS: dict[str, tuple[str, str, str]] = {
    "файл": ("файл", "файли", "файлів"),
    "показник": ("показник", "показники", "показників"),
    "рядок фінансування": ("рядок фінансування", "рядки фінансування", "рядків фінансування"),
    "рядок": ("рядок", "рядки", "рядків"),
    "виконавець": ("виконавець", "виконавці", "виконавців"),
    "завдання": ("завдання", "завдання", "завдань"),
    "захід": ("захід", "заходи", "заходів"),
    "помилка": ("помилка", "помилки", "помилок"),
    "попередження": ("попередження", "попередження", "попереджень"),
    "зауваження": ("зауваження", "зауваження", "зауважень"),
    "звіт": ("звіт", "звіти", "звітів"),
    "лист": ("лист", "листи", "листів"),
    "квитанція": ("квитанція", "квитанції", "квитанцій"),
    "шаблон": ("шаблон", "шаблони", "шаблонів"),
    "день": ("день", "дні", "днів"),
    "запис": ("запис", "записи", "записів"),
    "клітинка": ("клітинка", "клітинки", "клітинок"),
    "аркуш": ("аркуш", "аркуші", "аркушів"),
    "адреса": ("адреса", "адреси", "адрес"),
    "коригування": ("коригування", "коригування", "коригувань"),
    "рішення": ("рішення", "рішення", "рішень"),
    "повернення": ("повернення", "повернення", "повернень"),
    "нагадування": ("нагадування", "нагадування", "нагадувань"),
    "причина": ("причина", "причини", "причин"),
}

MONTHS_GENITIVE = (
    "січня",
    "лютого",
    "березня",
    "квітня",
    "травня",
    "червня",
    "липня",
    "серпня",
    "вересня",
    "жовтня",
    "листопада",
    "грудня",
)


def plural_category(n: int) -> str:
    """The CLDR plural category of an integer in Ukrainian: ``one``, ``few`` or ``many``."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return ONE
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return FEW
    return MANY


def plural_word(
    n: float, one: str, few: str | None = None, many: str | None = None, *, fraction: str | None = None
) -> str:
    """The form of a noun after the number ``n`` (without the number).

    Either give the three forms, or only the dictionary form of a noun listed in ``NOUNS``.
    """
    if few is None or many is None:
        try:
            one, few, many = NOUNS[one]
        except KeyError:
            raise KeyError(f"no plural forms known for {one!r}: pass one, few and many") from None
    if isinstance(n, float) and not n.is_integer():
        return fraction or few
    return {ONE: one, FEW: few, MANY: many}[plural_category(int(n))]


def plural(n: float, one: str, few: str | None = None, many: str | None = None, *, fraction: str | None = None) -> str:
    """«1 показник», «2 показники», «5 показників», «72 показники», «11 файлів»."""
    shown = f"{n:g}".replace(".", ",") if isinstance(n, float) else str(n)
    return f"{shown} {plural_word(n, one, few, many, fraction=fraction)}"


def ua_date(value: dt.date | dt.datetime | str | None) -> str:
    """«22 січня 2025 р.»; an ISO string is parsed; None or "" gives ""."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return f"{value.day} {MONTHS_GENITIVE[value.month - 1]} {value.year} р."


def ua_datetime(value: dt.datetime | str | None) -> str:
    """«22 січня 2025 р., 09:05»; a plain date gives only the date."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return ua_date(value)
    return f"{ua_date(value)}, {value:%H:%M}"


def days_phrase(n: int) -> str:
    """«1 день», «3 дні», «12 днів»."""
    return plural(n, "день")


def field_label(code: str) -> str:
    """A column code of the templates (financed, actual …) as the words of its header, lower-case."""
    from . import layout as L

    for columns in L.SHEET_KINDS.values():
        for c, header in columns:
            if c == code and c != "required":
                return header[:1].lower() + header[1:]
    return code


def code_label(code: str) -> str:
    """A finding code or conflict kind as its short Ukrainian name (the code itself if none is known)."""
    from .vocabulary import CODE_LABELS

    return CODE_LABELS.get(code, code)


def rule_label(rule: str) -> str:
    """An aggregation rule (sum, lead …) in words."""
    from .catalogue import RULE_LABELS

    return RULE_LABELS.get(rule, rule)


def finding_place(f) -> str:
    """Where a finding is: «II. Виконання» E7 (sheet and cell), or "" for the file as a whole."""
    return " ".join(x for x in (f"«{f.sheet}»" if f.sheet else "", f.cell) if x)


def finding_text(f) -> str:
    """«II. Виконання» E7: message (знайдено: «x»; очікується: y)."""
    place = finding_place(f)
    detail = "; ".join(
        x
        for x in ((f"знайдено: «{f.found}»" if f.found else ""), (f"очікується: {f.expected}" if f.expected else ""))
        if x
    )
    return (f"{place}: " if place else "") + f.message + (f" ({detail})" if detail else "")


def grouped_findings(findings, per_kind: int | None = 3, indent: str = "      ") -> list[str]:
    """Findings grouped by kind (errors first, larger groups first), ``per_kind`` of each shown (None: all).

    «помилка · від’ємне значення — 2:» then one line per finding with sheet and cell, then «… і ще 5».
    """
    from .model import ERROR

    groups: dict[tuple[str, str], list] = {}
    for f in findings:
        groups.setdefault((f.severity, f.code), []).append(f)
    order = sorted(groups, key=lambda k: (k[0] != ERROR, -len(groups[k]), code_label(k[1])))
    lines = []
    for severity, code in order:
        items = groups[(severity, code)]
        lines.append(f"{indent}{severity} · {code_label(code)} — {len(items)}:")
        shown = items if per_kind is None else items[:per_kind]
        lines += [f"{indent}  {finding_text(f)}" for f in shown]
        if len(items) > len(shown):
            lines.append(f"{indent}  … і ще {len(items) - len(shown)}")
    return lines


def period_phrase(period: str) -> str:
    """«у 2024 році» for a year, «за 3 квартал 2024 року» for a quarter."""
    from .catalogue import period_label

    label = period_label(period)
    return f"за {label}" if "квартал" in label else f"у {period} році"
