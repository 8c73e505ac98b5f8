"""``consolidate status``: who has reported, and the status files (out/status.html, .xlsx, .csv) rewritten.

Also what a front needs to know the state changed (:func:`ledger_stamp`) and who did what (:func:`journal`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..ledger import Ledger, change_stamp
from ..status import ExecutorStatus, Summary, status_from_ledger
from ..statusfiles import StatusFiles, decision_labels, refresh_status, status_csv
from ..workspace import Workspace
from .base import ExitCode, Result
from .common import parse_day, resolve_period


@dataclass
class StatusResult(Result):
    period: str
    as_of: dt.date
    rows: list[ExecutorStatus]
    summary: Summary
    files: StatusFiles | None = None
    decisions: dict[str, str] = field(default_factory=dict)  # the clerk's decision in words, per executor

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.summary.outstanding else ExitCode.CLEAN

    def csv(self) -> str:
        return status_csv(self.rows, self.decisions)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"summary": self.summary.as_dict(), "executors": [r.as_dict() for r in self.rows]}
        if self.files is not None:
            data.update(html=str(self.files.html), xlsx=str(self.files.xlsx), csv=str(self.files.csv))
        data.update(ok=self.ok, exit_code=int(self.exit_code))
        return data


def status(
    ws: Workspace, period: str | None = None, as_of: str | dt.date | None = None, *, write_files: bool = True
) -> StatusResult:
    """The state of every expected executor as of a day (today by default).

    ``write_files``: rewrite out/status.html, .xlsx and .csv — always as of today (a page of a past day
    would look current).
    """
    period = resolve_period(ws, period)
    day = parse_day(as_of)
    with Ledger(ws.ledger_path) as ledger:
        rows, summary = status_from_ledger(ws.catalogue, ledger, period, day)
        files = refresh_status(ws, ledger, period) if write_files else None
        decisions = decision_labels(ws.catalogue, ledger, period)
    return StatusResult(period, day, rows, summary, files, decisions)


def ledger_stamp(ws: Workspace) -> str:
    """A key that changes whenever the ledger's state does: a front caches a page until it changes.

    Not an operation (no Result): the web console asks for it on every page and every few seconds per
    open page, so it is one cheap read-only query (``ledger.change_stamp``), never a Ledger opened."""
    return change_stamp(ws.ledger_path)


@dataclass
class Journal(Result):
    """Who did what, from the ledger: the most recent of each kind of record, oldest first."""

    files: list = field(default_factory=list)  # ledger.FileRecord received
    reviews: list = field(default_factory=list)  # ledger.Review: the clerk's decisions
    adjustments: list = field(default_factory=list)  # ledger.Adjustment (an undone one carries its undoing)
    mails: list = field(default_factory=list)  # ledger.MailRecord: letters prepared or sent


def journal(ws: Workspace, limit: int = 300) -> Journal:
    """The last ``limit`` files received, decisions, adjustments and letters, of every period."""
    with Ledger(ws.ledger_path) as ledger:
        files = ledger.files()
        reviews = ledger.reviews()
        adjustments = ledger.adjustments()
        mails = ledger.mails()
    return Journal(files[-limit:], reviews[-limit:], adjustments[-limit:], mails[-limit:])
