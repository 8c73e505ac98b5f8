"""The contract every workflow keeps: a typed result, one exit-code table, no printing.

A workflow is one thing a user does (intake, review accept, report …).  It takes a ``Workspace`` and
plain options and returns a ``Result`` subclass.  Fronts (CLI, web console, mailbox) call workflows and
render their results; they hold no business logic.  Expected failures are ``ConsolidateError``
subclasses raised by the library; the front turns them into its own message (click exception, HTTP
page) with ``ExitCode.FAILED``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ExitCode(enum.IntEnum):
    """One exit-code contract for every command (docs/architecture.md)."""

    CLEAN = 0  # done, and the data is clean
    PROBLEMS = 1  # done, but the data has problems (files rejected, errors found, executors outstanding)
    FAILED = 2  # could not run (bad arguments, not a workspace, locked, broken catalogue)


def plain(value: Any) -> Any:
    """A JSON-ready copy of a result's field: dataclasses, enums, paths, dates and containers."""
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        return {"code": value.value, "label": label} if label is not None else value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {str(plain(k)) if not isinstance(k, str) else k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass
class Result:
    """Base of every workflow's result.  Subclasses add their own fields and may override ``exit_code``."""

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.CLEAN

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        data["ok"] = self.ok
        data["exit_code"] = int(self.exit_code)
        return data
