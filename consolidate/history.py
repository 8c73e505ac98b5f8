"""The catalogue against the data already received: which changes would orphan it.

A return's values are keyed by catalogue IDs (funding line, measure, indicator).  Once a year's ledger holds
values for an ID, that ID may not disappear from the year's catalogue, an indicator may not change its unit
or rule, and a funding line may not change its budget holder: the received figures would lose their meaning
or their owner.  Wording, plans and new rows are free to change.
"""

from __future__ import annotations

from collections import Counter

from .catalogue import Catalogue, FundingLine, Indicator, Measure, Task
from .catalogue_book import Problem
from .ledger import Ledger
from .workspace import Workspace

SHEET_OF = {Task: "Завдання", Measure: "Заходи", Indicator: "Показники", FundingLine: "Фінансування"}


def received_keys(ledger: Ledger, year: int) -> Counter:
    """ID → number of current and earlier returns of the year (annual and quarterly) with a value for it."""
    rows = ledger.db.execute(
        "SELECT v.key, COUNT(DISTINCT v.submission_id) FROM cell_values v JOIN submissions s ON s.id = v.submission_id "
        "WHERE (s.period = ? OR s.period LIKE ?) AND (v.number IS NOT NULL OR v.text != '') GROUP BY v.key",
        (str(year), f"{year}-Q%"),
    ).fetchall()
    return Counter({key: n for key, n in rows})


def reporting_executors(ledger: Ledger, year: int) -> Counter:
    rows = ledger.db.execute(
        "SELECT executor, COUNT(*) FROM submissions WHERE period = ? OR period LIKE ? GROUP BY executor",
        (str(year), f"{year}-Q%"),
    ).fetchall()
    return Counter(dict(rows))


def _returns(n: int) -> str:
    from .wording import plural

    return plural(n, "звіт", "звіти", "звітів")


def check_change(ws: Workspace, old: Catalogue, new: Catalogue) -> list[Problem]:
    """Problems of replacing ``old`` by ``new`` given the year's received data (none without a ledger)."""
    if not ws.ledger_path.exists():
        return []
    year = old.programme.report_year
    with Ledger(ws.ledger_path) as ledger:
        used = received_keys(ledger, year)
        senders = reporting_executors(ledger, year)
    problems: list[Problem] = []
    for key, n in sorted(used.items()):
        before = old.get(key)
        if before is None:
            continue
        sheet = SHEET_OF.get(type(before), "")
        after = new.get(key)
        if after is None or type(after) is not type(before):
            problems.append(
                Problem(
                    sheet,
                    "",
                    f"ID «{key}» вилучено з каталогу, але за нього вже отримано дані "
                    f"({_returns(n)} за {year} рік): вилучення знецінило б отримані "
                    f"дані. Залиште рядок (текст можна уточнити).",
                )
            )
            continue
        if isinstance(before, Indicator):
            for attr, label in (("unit", "одиницю"), ("rule", "правило зведення")):
                if getattr(before, attr) != getattr(after, attr):
                    problems.append(
                        Problem(
                            sheet,
                            "",
                            f"показник «{key}»: змінено {label} з «{getattr(before, attr)}» "
                            f"на «{getattr(after, attr)}», але за нього вже отримано дані "
                            f"({_returns(n)}); отримані значення подано в колишній "
                            f"одиниці і за колишнім правилом. Додайте новий показник з новим ID.",
                        )
                    )
        if isinstance(before, FundingLine) and before.holder != after.holder:
            problems.append(
                Problem(
                    sheet,
                    "",
                    f"рядок фінансування «{key}»: змінено розпорядника з «{before.holder}» "
                    f"на «{after.holder}», але дані за рядок уже надійшли від «{before.holder}»; "
                    f"додайте новий рядок з новим ID.",
                )
            )
    for code, n in sorted(senders.items()):
        if code in old.registry and code not in new.registry:
            problems.append(
                Problem(
                    "Виконавці",
                    "",
                    f"виконавця «{code}» вилучено, але від нього вже отримано {_returns(n)} за {year} рік",
                )
            )
    return problems


def _now() -> str:
    import datetime as dt

    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def record_catalogue(ws: Workspace, cat: Catalogue, ledger: Ledger | None = None) -> bool:
    """Keep this catalogue version in the ledger (its YAML and registry), once."""
    from .catalogue import catalogue_yaml
    from .registry import registry_text

    def put(led: Ledger) -> bool:
        return led.record_catalogue_version(
            version=cat.template_version,
            year=cat.programme.report_year,
            digest=cat.digest,
            catalogue_yaml=catalogue_yaml(cat),
            registry_csv=registry_text(cat.registry),
            recorded_at=_now(),
        )

    if ledger is not None:
        return put(ledger)
    with Ledger(ws.ledger_path) as led:
        return put(led)


def record_templates(ws: Workspace, cat: Catalogue, files) -> None:
    """The ledger's account of templates written: which catalogue version each used."""
    with Ledger(ws.ledger_path) as ledger:
        record_catalogue(ws, cat, ledger)
        ledger.record_templates(
            [(t.executor, t.period, t.template_version, t.sha256, t.path.name) for t in files], _now()
        )


def recorded_catalogue(ledger: Ledger, version: str) -> Catalogue | None:
    """A catalogue version as the ledger kept it (None when not recorded or no longer readable)."""
    import csv
    import io

    import yaml

    from .catalogue import build_catalogue
    from .errors import CatalogueError
    from .registry import registry_from_records

    kept = ledger.catalogue_version(version)
    if kept is None:
        return None
    text_yaml, text_csv = kept
    rows = list(csv.DictReader(line for line in io.StringIO(text_csv) if not line.startswith("#")))
    try:
        registry = registry_from_records(list(enumerate(rows)), lambda pos, field=None: f"рядок {pos}")
        return build_catalogue(yaml.safe_load(text_yaml), registry, f"версія {version}")
    except (CatalogueError, yaml.YAMLError):
        return None


def differences(old: Catalogue, new: Catalogue, limit: int = 12) -> list[str]:
    """What differs between two catalogue versions, in Ukrainian (IDs added, removed, plans and units changed)."""
    out: list[str] = []
    old_ids = {item.id: item for coll in (old.measures, old.indicators, old.funding) for item in coll}
    new_ids = {item.id: item for coll in (new.measures, new.indicators, new.funding) for item in coll}
    gone = [i for i in old_ids if i not in new_ids]
    added = [i for i in new_ids if i not in old_ids]
    if gone:
        out.append("вилучено: " + ", ".join(gone[:limit]) + ("…" if len(gone) > limit else ""))
    if added:
        out.append("додано: " + ", ".join(added[:limit]) + ("…" if len(added) > limit else ""))
    changed = []
    for iid, before in old_ids.items():
        after = new_ids.get(iid)
        if after is None or after == before:
            continue
        if isinstance(before, Indicator):
            what = [
                label
                for attr, label in (
                    ("planned", "план"),
                    ("unit", "одиниця"),
                    ("rule", "правило"),
                    ("name", "назва"),
                    ("plans", "плани виконавців"),
                )
                if getattr(before, attr) != getattr(after, attr)
            ]
        elif isinstance(before, FundingLine):
            what = [
                label
                for attr, label in (
                    ("planned", "передбачено"),
                    ("programme_amount", "обсяг"),
                    ("holder", "розпорядник"),
                    ("source", "джерело"),
                )
                if getattr(before, attr) != getattr(after, attr)
            ]
        else:
            what = [
                label
                for attr, label in (("text", "текст"), ("executors", "виконавці"))
                if getattr(before, attr) != getattr(after, attr)
            ]
        if what:
            changed.append(f"{iid} ({', '.join(what)})")
    if changed:
        out.append("змінено: " + "; ".join(changed[:limit]) + ("…" if len(changed) > limit else ""))
    return out


def attach_version_notes(ws: Workspace, cat: Catalogue) -> None:
    """Give ``cat`` a note per older recorded version of its year: what that version differs in."""
    if not ws.ledger_path.exists():
        return
    notes: dict[str, str] = {}
    with Ledger(ws.ledger_path) as ledger:
        for version, _year, _ in ledger.catalogue_versions(cat.programme.report_year):
            if version == cat.template_version:
                continue
            old = recorded_catalogue(ledger, version)
            if old is not None:
                notes[version] = "; ".join(differences(old, cat)) or "лише службові відомості"
    cat._memo["version_notes"] = notes


def attach_years(ws: Workspace, cat: Catalogue) -> None:
    """Prepare ``cat`` for an intake: the workspace's other years' catalogues (a return of one of them is read
    with it) and, for each, what its older template versions differ in."""
    from . import intake

    others: dict[int, Catalogue] = {}
    years = ws.years() if len(ws.later_years()) else {}
    for year in years:
        if year != cat.programme.report_year:
            other = ws.catalogue_for(str(year))
            other._memo.pop("other_years", None)
            attach_version_notes(ws, other)
            intake.prepare(other)
            others[year] = other
    attach_version_notes(ws, cat)
    if others:
        cat._memo["other_years"] = others
    else:
        cat._memo.pop("other_years", None)
