"""``consolidate status``: who has reported, and the status files (out/status.html, .xlsx, .csv) rewritten."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..ledger import Ledger
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
