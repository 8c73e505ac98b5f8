"""Plain dataclasses passed between stages (intake → ledger → reconcile → report/status)."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "помилка"
WARNING = "попередження"

# Submission states recorded by intake.
ACCEPTED = "accepted"                 # прийнято
ACCEPTED_WARNINGS = "warnings"        # прийнято з попередженнями
ACCEPTED_ERRORS = "errors"            # подано, з помилками (values that passed validation are kept)
QUARANTINED = "quarantined"           # файл не прийнято (не прочитано / не впізнано)
STATE_LABELS = {
    ACCEPTED: "прийнято",
    ACCEPTED_WARNINGS: "прийнято з попередженнями",
    ACCEPTED_ERRORS: "подано, з помилками",
    QUARANTINED: "відхилено (карантин)",
}


@dataclass(frozen=True)
class Finding:
    """One problem found in a file, with its position (frictionless-style: a report is data)."""

    file: str                 # original file name as received (data only, never a path to open)
    severity: str             # ERROR or WARNING
    code: str                 # stable machine code, e.g. "text-in-number", "cash-over-financed"
    message: str              # Ukrainian, for the clerk and the executor
    sheet: str = ""
    cell: str = ""            # A1 reference
    row_key: str = ""
    found: str = ""
    expected: str = ""


@dataclass(frozen=True)
class CellValue:
    """One value extracted from a return, with where it came from."""

    key: str                  # row key: funding line id, measure id, indicator id, proposal key
    field: str                # column code from consolidate.layout (financed, cash, actual, narrative, …)
    number: float | None      # parsed number (None for text fields or when empty)
    text: str                 # the text (for text fields) or the raw cell text as found
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
    identified_by: str = ""   # "meta", "properties", "title" or ""

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
    received_at: str          # ISO timestamp
    status: str               # ACCEPTED / ACCEPTED_WARNINGS / ACCEPTED_ERRORS
    template_version: str
    superseded_by: int | None = None
    archive_path: str = ""    # relative to the workspace
