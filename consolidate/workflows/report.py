"""``consolidate report``: the national report in xlsx, docx and/or pdf — the one place that decides what is written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..ledger import Ledger
from ..reconcile import reconcile_ledger
from ..status import status_from_ledger
from ..workspace import Workspace
from .base import Result
from .common import draft_banner, parse_day, resolve_period, thresholds

FORMATS = ("xlsx", "docx", "pdf")


@dataclass
class ReportWritten(Result):
    period: str
    files: list[Path]
    missing_executors: list[str] = field(default_factory=list)  # expected executors with no approved return
    unapproved: int = 0  # returns received but not approved (left out unless include_unapproved)
    draft: bool = False


def formats_of(fmt: str) -> list[str]:
    """``all`` or one of FORMATS."""
    return list(FORMATS) if fmt == "all" else [fmt]


def default_path(ws: Workspace, period: str, fmt: str, draft: bool = False) -> Path:
    return ws.out / f"report-{period}{'-draft' if draft else ''}.{fmt}"


def previous_year(ws: Workspace, ledger, period: str, include_unapproved: bool = False):
    """The same period a year earlier, reconciled with that year's catalogue — when the workspace holds that
    year and the ledger has returns for it (None otherwise: the report then has no «Попередній рік» sheet)."""
    from ..outliers import previous_period

    before = previous_period(period)
    if before is None or int(before[:4]) not in ws.years() or not ledger.latest_submissions(before):
        return None
    return reconcile_ledger(ws.catalogue_for(before), ledger, before, include_unapproved, thresholds(ws))


def report(
    ws: Workspace,
    period: str | None = None,
    formats: list[str] | tuple[str, ...] = ("xlsx",),
    *,
    include_unapproved: bool = False,
    out_file: Path | None = None,
    as_of: str | dt.date | None = None,
    appendix: bool | None = None,
    draft_name: bool = False,
) -> ReportWritten:
    """Reconcile and write the report in each format.

    ``out_file``: the file (one format) or the base name (several); default out/report-<period>.<format>
    (with ``draft_name``, out/report-<period>-draft.<format> for a draft).  ``as_of``: the day of the
    status annex and of the files' time stamps (the same ledger and day give the same bytes).
    """
    from ..fileutil import atomic_write
    from ..report import build_report

    period = resolve_period(ws, period)
    cat = ws.catalogue
    day = parse_day(as_of)
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(cat, ledger, period, include_unapproved, thresholds(ws))
        status_rows, _ = status_from_ledger(cat, ledger, period, day)
        previous = previous_year(ws, ledger, period, include_unapproved)
        unapproved = len(ledger.latest_submissions(period)) - len(rec.reported)
    draft = draft_banner(day) if include_unapproved else ""
    created = dt.datetime.combine(day, dt.time()) if as_of else None
    formats = list(formats)
    written: list[Path] = []
    docx_bytes = None
    for fmt in formats:
        if out_file is None:
            target = default_path(ws, period, fmt, include_unapproved and draft_name)
        elif len(formats) > 1:
            target = Path(out_file).with_suffix(f".{fmt}")
        else:
            target = Path(out_file)
        if fmt == "xlsx":
            atomic_write(target, build_report(cat, rec, status_rows, draft, created, previous))
        else:
            from ..report_docx import build_docx, write_pdf

            if docx_bytes is None:
                docx_bytes = build_docx(cat, rec, status_rows, draft, created, appendix)
            if fmt == "docx":
                atomic_write(target, docx_bytes)
            else:
                write_pdf(docx_bytes, target)
        written.append(target)
    return ReportWritten(period, written, list(rec.missing_executors), max(unapproved, 0), bool(include_unapproved))
