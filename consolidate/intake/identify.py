"""Identification: whose return this is, for which period, made from which template version.

Sources, in order of trust: the meta sheet (very hidden, hidden or visible — clients change its
visibility), the custom document properties, and the title sheet's executor name, which is compared with
both and is the only source left when a workbook was copy-pasted into a new file.  The catalogue index
(:class:`Index`) holds what identification and the value rules need from the catalogue, computed once.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from defusedxml import ElementTree as SafeET

from .. import layout as L
from ..catalogue import Catalogue, FundingLine, Indicator, Measure
from ..errors import ConsolidateError
from ..model import ERROR, WARNING
from .common import Reading, local, text_of

if TYPE_CHECKING:
    from .sheets import Sheet

META_SCAN_ROWS = 40
TITLE_SCAN_ROWS = 60


@dataclass
class Expected:
    """The rows an executor's return must have."""

    funding: dict[str, FundingLine]
    measures: dict[str, Measure]
    indicators: dict[str, Indicator]


class Index:
    """What reading needs from one catalogue (the template version, each executor's expected rows)."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.version = catalogue.template_version
        self._expected: dict[str, Expected] = {}
        self._by_name: dict[str, object] = {}
        self._executors_of: dict[str, set[str]] = {m.id: set(catalogue.executors_of(m.id)) for m in catalogue.measures}

    def expected(self, executor: str) -> Expected:
        if executor not in self._expected:
            cat = self.catalogue
            measures = {m.id: m for m in cat.measures if executor in self._executors_of[m.id]}
            self._expected[executor] = Expected(
                funding={f.id: f for f in cat.funding_for(executor)},
                measures=measures,
                indicators={i.id: i for i in cat.indicators if i.measure_id in measures},
            )
        return self._expected[executor]

    def executor_named(self, name: str):
        """The registered executor with this name (memoised: every return names its executor)."""
        if name not in self._by_name:
            self._by_name[name] = self.catalogue.registry.find_by_name(name)
        return self._by_name[name]


_INDEX: list[Index] = []


def prepare(catalogue: Catalogue) -> None:
    """Compute what reading needs from the catalogue now (e.g. before forking reader processes)."""
    index_of(catalogue)


def index_of(catalogue: Catalogue) -> Index:
    if not _INDEX or _INDEX[0].catalogue is not catalogue:
        _INDEX[:] = [Index(catalogue)]
    return _INDEX[0]


def ods_custom_properties(zf: zipfile.ZipFile) -> dict[str, str]:
    try:
        root = SafeET.fromstring(zf.read("meta.xml"))
    except (KeyError, SafeET.ParseError):
        return {}
    props = {}
    for el in root.iter():
        if local(el.tag) == "user-defined":
            name = next((v for k, v in el.attrib.items() if local(k) == "name"), "")
            if name.startswith(L.CUSTOM_PREFIX):
                props[name[len(L.CUSTOM_PREFIX) :]] = (el.text or "").strip()
    return props


def meta_rows(sheet: Sheet) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for row in sheet.rows[:META_SCAN_ROWS]:
        if len(row) >= 2 and isinstance(row[0], str) and row[0].strip() in L.META_KEYS:
            found.setdefault(row[0].strip(), text_of(row[1]))
            if len(found) == len(L.META_KEYS):
                break
    return found if found.get("programme") == L.PROGRAMME_TAG else None


def title_values(sheet: Sheet) -> dict[str, str] | None:
    wanted = {L.TITLE_EXECUTOR_LABEL: "executor", L.TITLE_PERIOD_LABEL: "period"}
    found: dict[str, str] = {}
    for row in sheet.rows[:TITLE_SCAN_ROWS]:
        for c, v in enumerate(row[:4]):
            if isinstance(v, str) and v.strip() in wanted:
                value = next((text_of(x) for x in row[c + 1 :] if text_of(x)), "")
                found.setdefault(wanted[v.strip()], value)
        if len(found) == len(wanted):
            break
    return found if "executor" in found else None


def properties(rd: Reading) -> dict[str, str] | None:
    if rd.xlsx is not None:
        props = rd.xlsx.custom_properties()
    elif rd.fmt == "ods" and rd.zip is not None:
        props = ods_custom_properties(rd.zip)
    else:
        props = {}
    return props if props.get("programme") == L.PROGRAMME_TAG else None


def identify(rd: Reading, meta, title, has_data: bool) -> None:
    cat, registry = rd.catalogue, rd.catalogue.registry
    if rd.assigned is not None:  # the clerk's decision (quarantine assign) replaces identification
        code, period = rd.assigned
        if code not in registry:
            raise rd.reject("unknown-executor", f"Виконавця «{code}» немає в реєстрі виконавців.", found=code)
        rd.executor, rd.identified_by = code, "clerk"
        rd.add(
            WARNING,
            "assigned-by-clerk",
            f"Виконавця визначив працівник, який веде звітність (файл без службових відомостей або з невпізнаними "
            f"відомостями): {registry[code].full_name}, період {period}.",
            expected=code,
        )
        set_period(rd, period)
        rd.version = (meta or {}).get("template_version") or None
        return
    sources: list[tuple[str, dict[str, str]]] = [("meta", meta)] if meta else []
    if meta is None or title is None:  # the properties only matter without one of the two
        props = properties(rd)
        if props:
            sources.append(("properties", props))
    for _, src in sources:
        code = src.get("programme_code", "")
        if code != cat.programme.code:
            raise rd.reject(
                "wrong-programme",
                f"Файл належить до іншої програми («{code}»), а не до «{cat.programme.code}».",
                found=code,
                expected=cat.programme.code,
            )
    title = title or {}
    title_name = title.get("executor", "")
    title_exec = rd.index.executor_named(title_name) if title_name else None
    title_period = next(iter((title.get("period") or "").split()), "")  # "2024 (2024 рік)" → "2024"

    if not sources:
        if not title_name or not has_data:
            raise rd.reject(
                "not-identified",
                "Не вдалося визначити, чий це звіт: у файлі немає ні службових відомостей шаблону, "
                "ні титульного аркуша з назвою виконавця. Надішліть файл, отриманий від "
                f"{rd.catalogue.customer_label}, заповнений без перенесення в інший файл.",
            )
        if title_exec is None:
            raise rd.reject(
                "unknown-executor",
                f"Виконавця «{title_name}» (титульний аркуш) немає в реєстрі виконавців.",
                found=title_name,
            )
        if not title_period:
            raise rd.reject(
                "not-identified",
                "Не вдалося визначити звітний період: службових відомостей "
                "немає, а на титульному аркуші період не вказано.",
            )
        rd.executor, rd.identified_by = title_exec.code, "title"
        rd.add(
            WARNING,
            "identified-by-title",
            f"Службові відомості файлу втрачено (схоже, дані перенесено в інший файл); виконавця визначено "
            f"за титульним аркушем: {title_exec.full_name}.",
            found=title_name,
            expected=title_exec.code,
        )
        set_period(rd, title_period)
        return

    codes = [src.get("executor_code", "") for _, src in sources]
    if title_exec is not None:
        rd.executor = title_exec.code
        for code in dict.fromkeys(codes):
            if code != title_exec.code:
                rd.add(
                    ERROR,
                    "metadata-edited",
                    f"Службові відомості файлу змінено: у них зазначено виконавця «{code}», а на "
                    f"титульному аркуші — {title_exec.full_name} ({title_exec.code}). Звіт прийнято від "
                    f"виконавця, названого на титульному аркуші.",
                    found=code,
                    expected=title_exec.code,
                )
        trusted = [(by, src) for by, src in sources if src.get("executor_code") == title_exec.code]
        rd.identified_by = trusted[0][0] if trusted else "title"
    else:
        if len(set(codes)) > 1:
            title_says = f"назву «{title_name}» не знайдено в реєстрі" if title_name else "виконавця не названо"
            raise rd.reject(
                "not-identified",
                f"Не вдалося визначити, чий це звіт: службові відомості "
                f"суперечать одні одним ({', '.join(dict.fromkeys(codes))}), "
                f"а на титульному аркуші {title_says}.",
                found=", ".join(dict.fromkeys(codes)),
            )
        code = codes[0]
        if code not in registry:
            raise rd.reject("unknown-executor", f"Виконавця «{code}» немає в реєстрі виконавців.", found=code)
        rd.executor = code
        rd.identified_by = sources[0][0]
        trusted = sources
        if title_name:
            rd.add(
                WARNING,
                "title-edited",
                f"Назву виконавця на титульному аркуші («{title_name}») не знайдено в реєстрі; виконавця "
                f"визначено за службовими відомостями: {registry[code].full_name}.",
                found=title_name,
                expected=registry[code].full_name,
            )

    periods = [src.get("period", "") for _, src in (trusted or sources)]
    if title_period:
        for period in dict.fromkeys(p for p in periods if p != title_period):
            rd.add(
                ERROR,
                "metadata-edited",
                f"Службові відомості файлу змінено: у них зазначено звітний період «{period}», а на "
                f"титульному аркуші — «{title_period}». Звіт прийнято за період з титульного аркуша.",
                found=period,
                expected=title_period,
            )
        period = title_period
    elif len(set(periods)) == 1:
        period = periods[0]
    else:
        raise rd.reject(
            "not-identified",
            f"Не вдалося визначити звітний період: службові відомості "
            f"суперечать одні одним ({', '.join(dict.fromkeys(periods))}).",
        )
    set_period(rd, period)
    if trusted:
        rd.version = trusted[0][1].get("template_version") or None
    if rd.version and rd.version != rd.index.version:
        # What differs from the version the template was made from, when the ledger kept it (history.py).
        what = rd.catalogue._memo.get("version_notes", {}).get(rd.version, "")
        rd.add(
            WARNING,
            "stale-template",
            f"Звіт заповнено за іншою версією шаблону ({rd.version}; чинна — {rd.index.version}). "
            + (f"Відмінності каталогу: {what}. " if what else "")
            + "Рядки зіставлено за ключами; перевірте зауваження щодо рядків.",
            found=rd.version,
            expected=rd.index.version,
        )


def set_period(rd: Reading, period: str) -> None:
    rd.period = period
    try:
        rd.catalogue.check_period(period)
    except ConsolidateError as exc:
        raise rd.reject(
            "wrong-period",
            f"{exc}: звіт за інший звітний цикл не приймається.",
            found=period,
            expected=f"{rd.catalogue.programme.report_year} або {rd.catalogue.programme.report_year}-Q1…Q4",
        ) from exc
