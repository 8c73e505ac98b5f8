"""Plain dataclasses passed between stages (intake → ledger → reconcile → report/status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from . import vocabulary as _vocabulary
from .vocabulary import FileStatus, Severity

# Severity of a finding: codes (consolidate.vocabulary.Severity); str() of one is its Ukrainian label.
ERROR = Severity.ERROR
WARNING = Severity.WARNING

# Submission states recorded by intake (consolidate.vocabulary.FileStatus; the codes are the ledger's).
ACCEPTED = FileStatus.CLEAN  # без зауважень
ACCEPTED_WARNINGS = FileStatus.WARNINGS  # з попередженнями
ACCEPTED_ERRORS = FileStatus.ERRORS  # з помилками (values that passed validation are kept)
QUARANTINED = FileStatus.QUARANTINED  # відхилено (карантин): not read / not identified
STATE_LABELS: dict[str, str] = {s: s.label for s in (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED_ERRORS, QUARANTINED)}


@dataclass(frozen=True)
class Finding:
    """One problem found in a file, with its position (frictionless-style: a report is data)."""

    file: str  # original file name as received (data only, never a path to open)
    severity: Severity  # ERROR or WARNING (a code or a legacy word is turned into the member)
    code: str  # stable machine code, e.g. "text-in-number", "cash-over-financed"
    message: str  # Ukrainian, for the clerk and the executor
    sheet: str = ""
    cell: str = ""  # A1 reference
    row_key: str = ""
    found: str = ""
    expected: str = ""
    detail: str = ""  # a reader's raw (English) error, for developers: ledger and JSON only, never shown

    def __post_init__(self) -> None:
        if type(self.severity) is not Severity:
            object.__setattr__(self, "severity", Severity.of(self.severity))

    def to_dict(self) -> dict:
        """JSON: every field, the severity as its code, and its label beside it."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["severity"] = self.severity.value
        data["severity_label"] = self.severity.label
        return data


class CellValue(NamedTuple):
    """One value extracted from a return, with where it came from.

    A named tuple: ~55 per return are made by the reader, sent between processes and written to the ledger.
    """

    key: str  # row key: funding line id, measure id, indicator id, proposal key
    field: str  # column code from consolidate.layout (financed, cash, actual, narrative, …)
    number: float | None  # parsed number (None for text fields or when empty)
    text: str  # the text (for text fields) or the raw cell text as found
    sheet: str
    cell: str


@dataclass
class Return:
    """What intake extracted from one file."""

    file: str
    sha256: str
    executor: str | None
    period: str | None
    template_version: str | None
    values: list[CellValue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    identified_by: str = ""  # "meta", "properties", "title" or ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


@dataclass(frozen=True)
class Submission:
    """A recorded return of one executor for one period."""

    id: int
    executor: str
    period: str
    sha256: str
    original_name: str
    received_at: str  # ISO timestamp
    status: FileStatus  # ACCEPTED / ACCEPTED_WARNINGS / ACCEPTED_ERRORS
    template_version: str
    superseded_by: int | None = None
    archive_path: str = ""  # relative to the workspace

    def __post_init__(self) -> None:
        if type(self.status) is not FileStatus:
            object.__setattr__(self, "status", FileStatus.of(self.status))


# Short Ukrainian names of finding codes and conflict kinds: the one table in consolidate.vocabulary.
CODE_LABELS = _vocabulary.CODE_LABELS
