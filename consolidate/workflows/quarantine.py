"""Quarantine workflows: list the files not accepted; assign one to an executor (the clerk's decision)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import ACCEPTED_ERRORS, QUARANTINED, STATE_LABELS
from ..quarantine import Assigned, QuarantinedFile, assign, quarantined_files
from ..workspace import Workspace
from .base import ExitCode, Result


@dataclass
class QuarantineListed(Result):
    files: list[QuarantinedFile] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.files else ExitCode.CLEAN


def list_quarantine(ws: Workspace) -> QuarantineListed:
    from ..ledger import Ledger

    with Ledger(ws.ledger_path) as ledger:
        return QuarantineListed(quarantined_files(ws, ledger))


@dataclass
class FileAssigned(Result):
    assigned: Assigned

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.assigned.status]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.assigned.status in (QUARANTINED, ACCEPTED_ERRORS) else ExitCode.CLEAN

    def to_dict(self):
        a = self.assigned
        data = super().to_dict()
        data["assigned"] = {
            "file": a.file.original_name,
            "sha256": a.file.sha256,
            "executor": a.executor,
            "period": a.period,
            "status": a.status,
            "status_label": self.state_label,
            "submission_id": a.file.submission_id,
            "superseded": a.superseded,
            "operator": a.operator,
            "assigned_at": a.assigned_at,
            "findings": [
                {"code": f.code, "severity": f.severity, "message": f.message, "sheet": f.sheet, "cell": f.cell}
                for f in a.findings
            ],
        }
        return data


def assign_file(ws: Workspace, file: str, executor: str, period: str, operator: str, reason: str = "") -> FileAssigned:
    """The clerk says whose return a quarantined file is; it is read again as that executor's return."""
    from ..inbox import intake_lock
    from ..ledger import Ledger

    with intake_lock(ws), Ledger(ws.ledger_path) as ledger:
        return FileAssigned(assign(ws, ledger, file, executor, period, operator, reason))
