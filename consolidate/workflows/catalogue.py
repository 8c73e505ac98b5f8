"""Catalogue workflows: the workbook (in memory, or exported), import from one, start a new reporting year.

Each returns a ``Result``; fronts render it.  The import replaces a year's catalogue only when the whole
workbook is valid (and no change would orphan data already received); otherwise nothing on disk changes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogue import CATALOGUE_FILE, REGISTRY_FILE, Catalogue, catalogue_yaml
from ..catalogue_book import BookError, Problem, export_book, read_book
from ..errors import ConsolidateError
from ..registry import write_registry
from ..workspace import Workspace
from .base import ExitCode, Result


def _counts(cat: Catalogue) -> dict[str, int]:
    return {
        "tasks": len(cat.tasks),
        "measures": len(cat.measures),
        "indicators": len(cat.indicators),
        "funding": len(cat.funding),
        "executors": len(cat.registry),
    }


def folder_digest(folder: Path) -> str:
    """sha256 over the catalogue and registry files of a templates folder (what an import may change)."""
    h = hashlib.sha256()
    for name in (CATALOGUE_FILE, REGISTRY_FILE):
        path = folder / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()


@dataclass
class CatalogueExported(Result):
    path: Path
    year: int
    version: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class CatalogueBook(Result):
    year: int
    version: str
    data: bytes = field(default=b"", repr=False)  # the .xlsx workbook

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "version": self.version,
            "size": len(self.data),
            "ok": self.ok,
            "exit_code": int(self.exit_code),
        }


def catalogue_book(ws: Workspace, period: str | None = None) -> CatalogueBook:
    """The catalogue of a year (default: the workspace's selected one) as the workbook the clerk edits, in memory."""
    cat = ws.catalogue_for(period) if period else ws.catalogue
    return CatalogueBook(cat.programme.report_year, cat.template_version, export_book(cat))


def export_catalogue(ws: Workspace, path: Path | str, period: str | None = None) -> CatalogueExported:
    """Write the catalogue of a year (default: the latest) as a workbook the clerk edits."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ConsolidateError(f"Каталог експортується у файл .xlsx, а не «{path.name}»")
    book = catalogue_book(ws, period)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(book.data)
    os.replace(tmp, path)
    cat = ws.catalogue_for(period) if period else ws.catalogue
    return CatalogueExported(path, book.year, book.version, _counts(cat))


@dataclass
class CatalogueImported(Result):
    path: Path
    year: int | None = None
    problems: list[Problem] = field(default_factory=list)
    changed: bool = False
    version: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    digest_before: str = ""
    digest_after: str = ""

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FAILED if self.problems else ExitCode.CLEAN


def write_catalogue(folder: Path, cat: Catalogue) -> None:
    """Write a catalogue and its registry into a templates folder; each file replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    registry_path = folder / REGISTRY_FILE
    comment = ""
    if registry_path.exists():
        first = registry_path.read_text(encoding="utf-8-sig", errors="replace").splitlines()[:1]
        if first and first[0].startswith("#"):
            comment = first[0].lstrip("#").strip()
    staged = []
    tmp = folder / (CATALOGUE_FILE + ".tmp")
    tmp.write_text(catalogue_yaml(cat), encoding="utf-8")
    staged.append((tmp, folder / CATALOGUE_FILE))
    tmp = folder / (REGISTRY_FILE + ".tmp")
    write_registry(cat.registry, tmp, comment)
    staged.append((tmp, registry_path))
    for src, dst in staged:
        with open(src, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(src, dst)


def import_catalogue(
    ws: Workspace, path: Path | str, dry_run: bool = False, name: str | None = None
) -> CatalogueImported:
    """Validate a catalogue workbook and, when it is valid, make it the catalogue of its reporting year.

    ``name``: the file's name as the user knows it (an upload is staged under another), for messages only.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConsolidateError(f"Не вдалося прочитати «{path}» ({exc.strerror})") from exc
    result = CatalogueImported(path)
    try:
        cat = read_book(data, name or path.name)
    except BookError as exc:
        result.problems = exc.located
        return result
    year = cat.programme.report_year
    result.year, result.version, result.counts = year, cat.template_version, _counts(cat)
    years = ws.years()
    if year not in years:
        result.problems = [
            Problem(
                "Програма",
                "",
                f"звітний рік {year} не розпочато в цій робочій теці (роки: "
                f"{', '.join(str(y) for y in years)}); новий рік починають "
                f"командою «consolidate catalogue new-year {year}»",
            )
        ]
        return result
    folder = years[year]
    result.digest_before = result.digest_after = folder_digest(folder)
    current = ws.catalogue_for(str(year))
    from ..history import check_change  # the ledger's view: what data the change would orphan

    result.problems = check_change(ws, current, cat)
    if result.problems or dry_run or current.digest == cat.digest:
        return result
    write_catalogue(folder, cat)
    ws.forget_catalogues()
    if ws.ledger_path.exists():
        from ..history import record_catalogue

        record_catalogue(ws, ws.catalogue_for(str(year)))  # the new version, as it reads back from disk
    result.changed = True
    result.digest_after = folder_digest(folder)
    return result


@dataclass
class YearStarted(Result):
    year: int
    from_year: int
    folder: Path
    version: str
    counts: dict[str, int] = field(default_factory=dict)


def next_year_catalogue(base: Catalogue, year: int) -> Catalogue:
    """``base`` carried into ``year``: the same tasks, measures, indicators, funding lines, IDs and executors;
    deadlines moved by the years between; plan figures (the year's, the executors') left empty for the clerk."""
    from ..catalogue import build_catalogue, catalogue_data

    shift = year - base.programme.report_year
    data = catalogue_data(base)
    p = data["programme"]
    deadline = base.programme.deadline
    try:
        moved = deadline.replace(year=deadline.year + shift)
    except ValueError:  # 29 February
        moved = deadline.replace(year=deadline.year + shift, day=28)
    p.update(report_year=year, deadline=moved.isoformat(), version=f"{year}.1")
    for t in data["tasks"]:
        for m in t.get("measures", []):
            for i in m.get("indicators", []):
                i["planned"] = None
                i.pop("plans", None)
            for f in m.get("funding", []):
                f["planned"] = None
    return build_catalogue(data, base.registry, CATALOGUE_FILE)


def new_year(ws: Workspace, year: int) -> YearStarted:
    """Start reporting year ``year`` from the latest year's catalogue, in templates/<year>/."""
    years = ws.years()
    latest = max(years)
    if year in years:
        raise ConsolidateError(
            f"Звітний рік {year} уже розпочато (каталог: {years[year]}); нічого не змінено. "
            f"План на рік змінюють через книгу: consolidate catalogue export ФАЙЛ.xlsx -p {year}"
        )
    if year < latest:
        raise ConsolidateError(f"Новий рік має йти після останнього ({latest}), а не «{year}»; нічого не змінено.")
    base = ws.catalogue_for(str(latest))
    cat = next_year_catalogue(base, year)
    folder = ws.templates_dir / str(year)
    staging = ws.templates_dir / f".{year}.new"
    if staging.exists():
        for child in staging.iterdir():
            child.unlink()
    write_catalogue(staging, cat)
    os.replace(staging, folder)
    ws.forget_catalogues()
    from ..history import record_catalogue

    record_catalogue(ws, cat)
    return YearStarted(year, latest, folder, cat.template_version, _counts(cat))


@dataclass
class QuartersChecked(Result):
    year: int
    checked: int = 0
    mismatches: list = field(default_factory=list)
    incomplete: list = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.mismatches else ExitCode.CLEAN


def quarters_check(ws: Workspace, period: str | None = None) -> QuartersChecked:
    """Each executor's annual figures against its quarterly ones, by the indicator's declaration."""
    from ..ledger import Ledger
    from ..quarters import check_quarters

    cat = ws.catalogue_for(period) if period else ws.catalogue
    if period and "-Q" in str(period):
        raise ConsolidateError(f"Звірка кварталів — за рік (РРРР), а не за «{period}»")
    if not ws.ledger_path.exists():
        return QuartersChecked(cat.programme.report_year)
    with Ledger(ws.ledger_path) as ledger:
        r = check_quarters(cat, ledger, cat.programme.report_year)
    return QuartersChecked(r.year, r.checked, r.mismatches, r.incomplete)


@dataclass
class WorkspaceCreated(Result):
    root: Path
    source: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    year: int | None = None
    version: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FAILED if self.problems else ExitCode.CLEAN


def init_from_book(dest: Path | str, book: Path | str, force: bool = False) -> WorkspaceCreated:
    """A new workspace whose programme is the one described by a catalogue workbook (any programme).

    Nothing is created when the workbook has problems.
    """
    from ..workspace import CONFIG_FILE, config_for

    dest, book = Path(dest).resolve(), Path(book)
    result = WorkspaceCreated(dest, book)
    if (dest / "templates" / CATALOGUE_FILE).exists() and not force:
        raise ConsolidateError(f"У «{dest}» вже є робоча тека (templates/{CATALOGUE_FILE}); нічого не змінено.")
    try:
        data = book.read_bytes()
    except OSError as exc:
        raise ConsolidateError(f"Не вдалося прочитати «{book}» ({exc.strerror})") from exc
    try:
        cat = read_book(data, book.name)
    except BookError as exc:
        result.problems = exc.located
        return result
    write_catalogue(dest / "templates", cat)
    cfg = dest / CONFIG_FILE
    if not cfg.exists():
        cfg.write_text(config_for(cat.programme.customer), encoding="utf-8")
    ws = Workspace(dest)
    ws.ensure_dirs()
    result.year, result.version, result.counts = cat.programme.report_year, cat.template_version, _counts(cat)
    return result


@dataclass
class CatalogueChecked(Result):
    """``catalogue check`` / ``catalogue show``: the catalogue of a year, loaded and validated."""

    catalogue: Catalogue
    folder: Path
    years: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        cat = self.catalogue
        return {
            "programme": {k: str(v) for k, v in asdict(cat.programme).items()},
            "template_version": cat.template_version,
            "tasks": [asdict(t) for t in cat.tasks],
            "measures": [asdict(m) for m in cat.measures],
            "indicators": [asdict(i) for i in cat.indicators],
            "funding": [asdict(f) for f in cat.funding],
            "executors": [asdict(e) for e in cat.registry],
        }


def check_catalogue(ws: Workspace, period: str | None = None) -> CatalogueChecked:
    """Load and validate the catalogue and registry of a year (a broken one is a ``CatalogueError``)."""
    if period:
        ws.use_period(period)
    cat = ws.catalogue
    return CatalogueChecked(cat, ws.templates_dir_of(cat.programme.report_year), list(ws.years()))
