"""``intake`` (and its dry run), ``history``, ``findings``: returns received, and what the ledger knows of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..ledger import Ledger
from ..model import ERROR
from ..vocabulary import FileStatus
from ..workspace import Workspace
from .base import ExitCode, Result, plain
from .common import executor_code, resolve_period

FAILED = (FileStatus.ERRORS, FileStatus.QUARANTINED, FileStatus.NOT_READ)


def outcome_dict(o) -> dict[str, Any]:
    """JSON of one inbox.Outcome."""
    return {
        "file": o.name,
        "path": str(o.path),
        "sha256": o.sha256,
        "status": o.state,
        "status_label": o.label,
        "executor": o.executor,
        "period": o.period,
        "submission_id": o.record.submission_id if o.record else None,
        "superseded": o.superseded,
        "archive_path": o.record.archive_path if o.record else None,
        "moved_from_inbox": o.moved,
        "note": o.note,
        "findings": [f.to_dict() for f in o.findings],
    }


@dataclass
class IntakeResult(Result):
    outcomes: list = field(default_factory=list)  # inbox.Outcome per file, in order

    def counts(self) -> dict[FileStatus, int]:
        return {s: n for s in FileStatus if (n := sum(1 for o in self.outcomes if o.state == s))}

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if any(o.state in FAILED for o in self.outcomes) else ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [outcome_dict(o) for o in self.outcomes],
            "summary": {s.value: n for s, n in self.counts().items()},
        }


def intake(
    ws: Workspace,
    paths: list[Path] | None = None,
    *,
    period: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Any], None] | None = None,
    received_at: dt.datetime | None = None,
    names: dict[Path, str] | None = None,
) -> IntakeResult:
    """Receive the files of inbox/ (or those given): check, archive, ledger, quarantine.

    ``names`` gives the sender's file name of files saved under other names (uploads, mail attachments)."""
    from ..inbox import run_intake

    if period:
        ws.use_period(period)
    kwargs: dict[str, Any] = {"on_start": on_start, "on_outcome": on_outcome}
    if names:
        kwargs["names"] = names
    if received_at is not None:
        kwargs["received_at"] = received_at
    return IntakeResult(run_intake(ws, list(paths) if paths else None, **kwargs))


@dataclass
class IntakePreview(Result):
    items: list = field(default_factory=list)  # preview.Preview per file

    @property
    def exit_code(self) -> ExitCode:
        failing = any(p.state in FAILED for p in self.items if p.state != FileStatus.ALREADY)
        return ExitCode.PROBLEMS if failing else ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [
                {
                    "file": p.name,
                    "sha256": p.sha256,
                    "state": p.state,
                    "label": FileStatus.of(p.state).label,
                    "executor": p.executor,
                    "period": p.period,
                    "supersedes": p.supersedes,
                    "findings": [f.to_dict() for f in p.findings],
                }
                for p in self.items
            ]
        }


def intake_preview(ws: Workspace, paths: list[Path] | None = None, *, period: str | None = None) -> IntakePreview:
    """``intake --dry-run``: what intake would do; nothing written."""
    from ..preview import preview

    if period:
        ws.use_period(period)
    return IntakePreview(preview(ws, list(paths) if paths else None))


@dataclass
class History(Result):
    executor: Any  # registry.Executor
    period: str | None
    files: list = field(default_factory=list)  # ledger.FileRecord, oldest first
    findings: dict = field(default_factory=dict)  # file id → findings
    by_mail: dict = field(default_factory=dict)  # sha256 → «address, letter of …» for files that came by mail

    def to_dict(self) -> dict[str, Any]:
        return {
            "executor": self.executor.code,
            "name": self.executor.full_name,
            "files": [
                {
                    **asdict(f),
                    "status_label": FileStatus.of(f.status).label,
                    "findings": [x.to_dict() for x in self.findings[f.id]],
                    "by_mail": self.by_mail.get(f.sha256, ""),
                }
                for f in self.files
            ],
        }


def _files_of(ledger: Ledger, code: str, period: str | None) -> tuple[list, dict, dict]:
    """An executor's files (oldest first), the findings of each, and which of all files came by mail."""
    from ..mailbox import describe_origin, mail_origins

    files = ledger.files(executor=code, period=period)
    findings = {f.id: ledger.file_findings(f.id) for f in files}
    by_mail = {sha: describe_origin(m) for sha, m in mail_origins(ledger).items()}
    return files, findings, by_mail


def history(ws: Workspace, executor: str, period: str | None = None) -> History:
    """Every file received from an executor, the current return marked."""
    found = ws.catalogue.registry[executor_code(ws, executor)]
    with Ledger(ws.ledger_path) as ledger:
        files, findings, by_mail = _files_of(ledger, found.code, period)
    return History(found, period, files, findings, by_mail)


@dataclass
class ExecutorHistory(History):
    """:class:`History` of every period, with the clerk's decisions, the letters, and the review of one period."""

    review_period: str = ""
    slot: Any = None  # review.Slot of review_period (None when the executor is not expected in it)
    reviews: list = field(default_factory=list)  # ledger.Review, oldest first
    mails: list = field(default_factory=list)  # ledger.MailRecord, oldest first

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            review_period=self.review_period,
            slot=plain(self.slot),
            reviews=plain(self.reviews),
            mails=plain(self.mails),
        )
        return data


def executor_history(ws: Workspace, executor: str, period: str | None = None) -> ExecutorHistory:
    """All an executor's files (any period), decisions and letters; where its return of ``period`` stands."""
    from ..review import slots_from_ledger

    period = resolve_period(ws, period)
    found = ws.catalogue.registry[executor_code(ws, executor)]
    with Ledger(ws.ledger_path) as ledger:
        files, findings, by_mail = _files_of(ledger, found.code, None)
        slot = next((s for s in slots_from_ledger(ws.catalogue, ledger, period) if s.executor == found.code), None)
        reviews = ledger.reviews(executor=found.code)
        mails = ledger.mails(executor=found.code)
    return ExecutorHistory(found, None, files, findings, by_mail, period, slot, reviews, mails)


@dataclass
class FilesFound(Result):
    """Received files looked up by sha256 (those the ledger does not know are absent)."""

    records: dict = field(default_factory=dict)  # sha256 → ledger.FileRecord
    findings: dict = field(default_factory=dict)  # file id → findings

    def of(self, sha256: str) -> tuple[Any, list]:
        """(the file's record, its findings), or (None, []) for a file the ledger does not know."""
        record = self.records.get(sha256)
        return record, (self.findings.get(record.id, []) if record is not None else [])


def files_by_sha(ws: Workspace, shas) -> FilesFound:
    """The ledger's record and findings of each file named by its sha256 (an upload's files, a download)."""
    found = FilesFound()
    with Ledger(ws.ledger_path) as ledger:
        for sha in dict.fromkeys(shas):
            record = ledger.file(sha)
            if record is not None:
                found.records[sha] = record
                found.findings[record.id] = ledger.file_findings(record.id)
    return found


@dataclass
class Findings(Result):
    executor: Any
    period: str
    current: Any = None  # model.Submission, or None
    items: list = field(default_factory=list)  # findings of the current return
    rejected: list = field(default_factory=list)  # (ledger.FileRecord, findings) quarantined from the executor

    @property
    def exit_code(self) -> ExitCode:
        if self.current is None or any(x.severity == ERROR for x in self.items):
            return ExitCode.PROBLEMS
        return ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "executor": self.executor.code,
            "name": self.executor.full_name,
            "period": self.period,
            "submission": asdict(self.current) if self.current else None,
            "findings": [x.to_dict() for x in self.items],
            "quarantined": [
                {
                    "file": f.original_name,
                    "sha256": f.sha256,
                    "received_at": f.received_at,
                    "findings": [x.to_dict() for x in r],
                }
                for f, r in self.rejected
            ],
        }


def findings(ws: Workspace, executor: str, period: str | None = None) -> Findings:
    """Every finding of the executor's current return, and the reasons its files were quarantined."""
    period = resolve_period(ws, period)
    found = ws.catalogue.registry[executor_code(ws, executor)]
    with Ledger(ws.ledger_path) as ledger:
        current = next((s for s in ledger.latest_submissions(period) if s.executor == found.code), None)
        items = ledger.findings(current.id) if current else []
        rejected = [
            (f, ledger.file_findings(f.id))
            for f in ledger.files(executor=found.code, status=FileStatus.QUARANTINED)
            if f.period in (period, None)
        ]
    return Findings(found, period, current, items, rejected)
