"""``consolidate intake --dry-run``: what intake would do, with nothing written anywhere.

Reads every file the real intake would take (same collection, same reader) and tells whether it
would be accepted, accepted with warnings or errors, quarantined, recognised as already received,
or would supersede the executor's current return — without touching the ledger, the archive,
the quarantine or the inbox (the ledger is opened immutable, so not even a lock or WAL file).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import intake
from .inbox import ALREADY, collect
from .model import QUARANTINED, Finding
from .workspace import Workspace


@dataclass
class Preview:
    path: Path
    name: str
    sha256: str
    state: str                      # a model state, or inbox.ALREADY
    executor: str | None = None
    period: str | None = None
    supersedes: int | None = None   # the current submission this return would replace
    findings: list[Finding] = field(default_factory=list)


class _ReadOnlyLedger:
    """The two questions a dry run asks the ledger, asked without writing a byte."""

    def __init__(self, path: Path):
        self.db = None
        if path.exists():
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)

    def known(self, sha: str) -> bool:
        return bool(self.db and self.db.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha,)).fetchone())

    def current(self, executor: str, period: str) -> int | None:
        if not self.db:
            return None
        row = self.db.execute("SELECT id FROM submissions WHERE executor = ? AND period = ? AND superseded_by IS NULL",
                              (executor, period)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def preview(ws: Workspace, paths: list[Path] | None = None) -> list[Preview]:
    catalogue = ws.catalogue
    from .history import attach_years
    attach_years(ws, catalogue)
    ledger = _ReadOnlyLedger(ws.ledger_path)
    seen: set[str] = set()
    out: list[Preview] = []
    try:
        for path, _ in collect(ws, paths):
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if ledger.known(sha) or sha in seen:
                out.append(Preview(path, path.name, sha, ALREADY))
                continue
            seen.add(sha)
            ret = intake.read_return(data, path.name, catalogue)
            state = intake.status_of(ret)
            p = Preview(path, path.name, sha, state, ret.executor, ret.period, findings=list(ret.findings))
            if state != QUARANTINED and ret.executor and ret.period:
                p.supersedes = ledger.current(ret.executor, ret.period)
            out.append(p)
    finally:
        ledger.close()
    return out
