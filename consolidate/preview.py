"""``consolidate intake --dry-run``: what intake would do, with nothing written anywhere.

Reads every file the real intake would take (same collection, same reader) and tells whether it
would be accepted, accepted with warnings or errors, quarantined, recognised as already received,
or would supersede the executor's current return — without touching the ledger, the archive,
the quarantine or the inbox (the ledger is opened immutable, so not even a lock or WAL file).

The files are read as the intake reads them: in reader processes (a file that brings a reader down
costs only itself and is reported as the intake would quarantine it), every failure of the reader —
a Rust panic included — a finding with a Ukrainian reason, never a traceback.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import intake
from .inbox import ALREADY, _ReaderPool, _worker_count, collect, read_guarded
from .model import QUARANTINED, Finding
from .workspace import Workspace


@dataclass
class Preview:
    path: Path
    name: str
    sha256: str
    state: str  # a model state, or inbox.ALREADY
    executor: str | None = None
    period: str | None = None
    supersedes: int | None = None  # the current submission this return would replace
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
        row = self.db.execute(
            "SELECT id FROM submissions WHERE executor = ? AND period = ? AND superseded_by IS NULL", (executor, period)
        ).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


IN_FLIGHT_PER_READER = 2  # files sent ahead to each reader process (their bytes are held until answered)


def preview(ws: Workspace, paths: list[Path] | None = None, *, workers: int | None = None) -> list[Preview]:
    catalogue = ws.catalogue
    from .history import attach_years

    attach_years(ws, catalogue)  # a return of another year of the workspace is read with that year's catalogue
    files = collect(ws, paths)
    intake.prepare(catalogue)
    count = _worker_count(workers, len(files))
    pool = _ReaderPool(catalogue, count) if count else None  # started before the ledger is opened
    ledger = _ReadOnlyLedger(ws.ledger_path)
    seen: set[str] = set()
    out: list[Preview | None] = []
    pending: dict[int, tuple[Path, str]] = {}
    try:
        for path, _ in files:
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if ledger.known(sha) or sha in seen:
                out.append(Preview(path, path.name, sha, ALREADY))
                continue
            seen.add(sha)
            index = len(out)
            out.append(None)
            if pool is None:
                out[index] = _preview(ledger, path, sha, read_guarded(data, path.name, sha, catalogue))
                continue
            pending[index] = (path, sha)
            pool.submit(index, data, path.name, sha, "")
            while len(pending) >= IN_FLIGHT_PER_READER * count:
                _collect(pool, ledger, pending, out)
        while pending:
            _collect(pool, ledger, pending, out)
    finally:
        ledger.close()
        if pool is not None:
            pool.close()
    previews = [p for p in out if p is not None]
    assert len(previews) == len(out)  # every slot filled: nothing is pending
    return previews


def _collect(pool, ledger: _ReadOnlyLedger, pending: dict, out: list) -> None:
    index, ret, _ = pool.next_result()
    path, sha = pending.pop(index)
    out[index] = _preview(ledger, path, sha, ret)


def _preview(ledger: _ReadOnlyLedger, path: Path, sha: str, ret) -> Preview:
    state = intake.status_of(ret)
    p = Preview(path, path.name, sha, state, ret.executor, ret.period, findings=list(ret.findings))
    if state != QUARANTINED and ret.executor and ret.period:
        p.supersedes = ledger.current(ret.executor, ret.period)
    return p
