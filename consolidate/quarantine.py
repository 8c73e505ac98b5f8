"""The quarantine a clerk can use: what was not accepted and why, and the clerk's «this file is theirs».

Quarantined files are kept under ``quarantine/<sha256>.<ext>`` (names from the content only, never
from the sender) with a note of reasons beside them; the ledger links each to its original name, the
executor when it is known, the time it arrived and its findings.  :func:`quarantined_files` lists them.

:func:`assign` records the clerk's decision that a file the tool could not identify (an old template
without its service sheet, a copy-pasted workbook) belongs to an executor and period, and reads the
archived copy again as that executor's return (:func:`consolidate.intake.read_return` with
``assigned``).  When it reads, it becomes the executor's current return and leaves the quarantine; a
file that still cannot be read (not a workbook at all) stays there, its decision recorded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ConsolidateError
from .model import QUARANTINED, Finding

NOTE_SUFFIX = ".txt"


@dataclass(frozen=True)
class QuarantinedFile:
    """A file not accepted, as a clerk sees it."""

    file_id: int
    sha256: str
    original_name: str
    received_at: str
    executor: str | None
    executor_label: str
    period: str | None
    kept_as: str  # quarantine/<sha256>.<ext>, relative to the workspace
    reasons: list[Finding] = field(default_factory=list)
    assignments: list[tuple] = field(default_factory=list)  # earlier decisions that did not make it readable

    def to_dict(self) -> dict:
        return {
            "file_id": self.file_id,
            "sha256": self.sha256,
            "original_name": self.original_name,
            "received_at": self.received_at,
            "executor": self.executor,
            "executor_label": self.executor_label,
            "period": self.period,
            "kept_as": self.kept_as,
            "reasons": [{"code": f.code, "message": f.message, "sheet": f.sheet, "cell": f.cell} for f in self.reasons],
        }


def quarantined_files(ws, ledger) -> list[QuarantinedFile]:
    """Every file in quarantine, oldest first."""
    cat = ws.catalogue
    out = []
    for f in ledger.quarantined():
        label = cat.executor_label(f.executor) if f.executor and f.executor in cat.registry else "не визначено"
        out.append(
            QuarantinedFile(
                f.id,
                f.sha256,
                f.original_name,
                f.received_at,
                f.executor,
                label,
                f.period,
                f"quarantine/{f.sha256}.{f.format}" if f.format else "",
                ledger.file_findings(f.id),
                ledger.assignments(f.id),
            )
        )
    return out


def find_quarantined(ledger, text: str):
    """The quarantined file a clerk means: by its sha256 (or its first 6+ characters), its kept name, its original name."""
    wanted = (text or "").strip()
    files = ledger.quarantined()
    name = wanted.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    sha = name.split(".", 1)[0].lower()
    found = []
    if re.fullmatch(r"[0-9a-f]{6,64}", sha):
        found = [f for f in files if f.sha256.startswith(sha)]
    if not found:
        found = [f for f in files if f.original_name == wanted or f.original_name == name]
    if not found:
        raise ConsolidateError(
            f"У карантині немає файлу «{text}»: укажіть його SHA-256 (перші 8 знаків досить) або "
            f"назву, як у «consolidate quarantine list»."
        )
    if len(found) > 1:
        raise ConsolidateError(
            f"«{text}» підходить до кількох файлів у карантині ("
            + ", ".join(f"{f.sha256[:12]} «{f.original_name}»" for f in found)
            + "); укажіть SHA-256."
        )
    return found[0]


@dataclass(frozen=True)
class Assigned:
    file: Any  # the ledger's FileRecord after the decision
    executor: str
    period: str
    status: str  # the file's state now (QUARANTINED if it still cannot be read)
    findings: list[Finding]
    superseded: int | None
    operator: str
    assigned_at: str


def assign(
    ws, ledger, text: str, executor: str, period: str, operator: str, reason: str = "", now: dt.datetime | None = None
) -> Assigned:
    """Record that the quarantined file ``text`` is ``executor``'s return for ``period`` and read it as such."""
    from . import intake

    if not operator:
        raise ConsolidateError(
            "Не вказано оператора: додайте --operator «Прізвище» або [operator] name у consolidate.toml."
        )
    cat = ws.catalogue
    if executor not in cat.registry:
        raise ConsolidateError(f"Невідомий виконавець «{executor}»: немає такого коду чи назви в реєстрі.")
    period = cat.check_period(period)
    record = find_quarantined(ledger, text)
    path = ws.root / record.archive_path
    if not record.archive_path or not path.is_file():
        raise ConsolidateError(
            f"Архівної копії файлу «{record.original_name}» немає ({record.archive_path}); "
            f"перевірте робочу теку: consolidate verify."
        )
    ret = intake.read_return(path, record.original_name, cat, assigned=(executor, period))
    status = intake.status_of(ret)
    when = (now or dt.datetime.now()).astimezone().isoformat(timespec="seconds")
    receipt = ledger.assign(
        record.id,
        ret,
        executor=executor,
        period=period,
        status=status,
        operator=operator,
        reason=reason,
        assigned_at=when,
    )
    if status != QUARANTINED:  # read as the executor's return: it leaves the quarantine (the archive copy stays)
        kept = ws.quarantine / f"{record.sha256}.{record.format}"
        for p in (kept.with_name(kept.name + NOTE_SUFFIX), kept):
            p.unlink(missing_ok=True)
    return Assigned(receipt.file, executor, period, status, ret.findings, receipt.superseded, operator, when)
