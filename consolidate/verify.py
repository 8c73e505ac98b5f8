"""Checking a workspace: the ledger, the archive and the quarantine agree (``consolidate verify``).

* every file the ledger knows has its archive copy, and the copy's sha256 is the one recorded;
* every file in ``archive/`` is known to the ledger (a stranger there was put by hand or left by an
  interrupted intake that never recorded it);
* every quarantined file has its copy in ``quarantine/`` with the reasons (``<name>.txt``) beside it,
  and nothing else lies in ``quarantine/``;
* the SQLite file passes ``PRAGMA integrity_check``.

Nothing is changed: the check only reads.  The ledger is opened read-only, so a missing ledger is
not created.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from .errors import ConsolidateError
from .model import QUARANTINED
from .vocabulary import CODE_LABELS
from .workspace import Workspace

NOTE_SUFFIX = ".txt"
_SHA_NAME = re.compile(r"^([0-9a-f]{64})\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Problem:
    """One disagreement between the ledger and the files."""

    code: str  # archive-missing, archive-mismatch, archive-path, archive-unknown, temp-leftover,
    # quarantine-missing, quarantine-mismatch, note-missing, note-orphan,
    # quarantine-unknown, ledger-damaged
    path: str  # relative to the workspace, "/"-separated
    message: str  # Ukrainian, for the clerk


@dataclass
class Verification:
    root: Path
    ledger_files: int = 0  # rows of the ledger's files table
    quarantined: int = 0  # of them quarantined
    archive_files: int = 0  # files found under archive/
    quarantine_files: int = 0  # files (not notes) found under quarantine/
    notes: int = 0  # reason notes found under quarantine/
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "workspace": str(self.root),
            "ok": self.ok,
            "ledger_files": self.ledger_files,
            "quarantined": self.quarantined,
            "archive_files": self.archive_files,
            "quarantine_files": self.quarantine_files,
            "notes": self.notes,
            "problems": [asdict(p) for p in self.problems],
        }


@dataclass(frozen=True)
class _Row:
    id: int
    sha256: str
    original_name: str
    archive_path: str
    format: str
    status: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rel(ws: Workspace, path: Path) -> str:
    return path.relative_to(ws.root).as_posix()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _read_ledger(path: Path) -> tuple[list[_Row], str]:
    """The files table and the integrity check's verdict ("ok" or what SQLite found); read-only."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConsolidateError(f"Журнал «{path}» не вдалося відкрити ({exc})") from exc
    try:
        verdict = "; ".join(r[0] for r in db.execute("PRAGMA integrity_check").fetchall())
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "files" not in tables:
            return [], verdict
        rows = [
            _Row(*r)
            for r in db.execute("SELECT id, sha256, original_name, archive_path, format, status FROM files ORDER BY id")
        ]
    except sqlite3.DatabaseError as exc:
        raise ConsolidateError(f"Журнал «{path}» пошкоджено або це не база SQLite ({exc})") from exc
    finally:
        db.close()
    return rows, verdict


def verify_workspace(ws: Workspace) -> Verification:
    """Compare the ledger with archive/ and quarantine/; every disagreement is a :class:`Problem`."""
    result = Verification(ws.root)
    problems = result.problems
    rows: list[_Row] = []
    if ws.ledger_path.exists():
        rows, verdict = _read_ledger(ws.ledger_path)
        if verdict != "ok":
            problems.append(
                Problem(
                    "ledger-damaged",
                    _rel(ws, ws.ledger_path),
                    f"Журнал пошкоджено (перевірка цілісності SQLite: {verdict[:300]}).",
                )
            )
    result.ledger_files = len(rows)
    result.quarantined = sum(1 for r in rows if r.status == QUARANTINED)
    waiting = _inbox_shas(ws)

    # 1. every ledger row has its archive copy with the recorded sha256
    referenced: set[str] = set()
    for row in rows:
        who = f"запис журналу №{row.id}, файл «{row.original_name}»"
        archived = PurePosixPath(row.archive_path)
        if archived.is_absolute() or ".." in archived.parts or archived.parts[:1] != ("archive",):
            problems.append(
                Problem("archive-path", row.archive_path, f"Шлях архівної копії вказує за межі теки archive/ ({who}).")
            )
            continue
        referenced.add(archived.as_posix())
        path = ws.root / archived
        if not path.is_file():
            problems.append(
                Problem(
                    "archive-missing",
                    archived.as_posix(),
                    f"Архівної копії немає ({who}); якщо файл є у відправника чи в пошті, "
                    f"покладіть його в inbox/ — прийом відновить копію.",
                )
            )
            continue
        actual = _sha256(path)
        if actual != row.sha256:
            problems.append(
                Problem(
                    "archive-mismatch",
                    archived.as_posix(),
                    f"Архівну копію змінено: її SHA-256 {actual[:12]}… не збігається із записаним "
                    f"{row.sha256[:12]}… ({who}).",
                )
            )

    # 2. every archived file is known to the ledger
    archive = _files(ws.archive)
    result.archive_files = len(archive)
    for path in archive:
        rel = _rel(ws, path)
        if rel in referenced:
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            problems.append(
                Problem(
                    "temp-leftover",
                    rel,
                    "Незавершений запис перерваного прийому (тимчасовий файл). Запустіть "
                    "«consolidate intake»: файли, що лишилися в inbox/, буде прийнято знову; "
                    "після цього тимчасовий файл можна видалити.",
                )
            )
            continue
        m = _SHA_NAME.match(path.name)
        if m and m.group(1) in waiting:
            hint = (
                "такий самий файл чекає в inbox/ — прийом перервали до запису в журнал; запустіть «consolidate intake»"
            )
        else:
            hint = "його не записано в журнал (покладено вручну?); перевірте, звідки він, і приберіть з archive/"
        problems.append(Problem("archive-unknown", rel, f"Файл в архіві невідомий журналу: {hint}."))

    # 3. quarantined files: a copy and its reasons for every quarantined row, nothing else
    in_quarantine = {_rel(ws, p): p for p in _files(ws.quarantine)}
    notes = {rel for rel in in_quarantine if rel.endswith(NOTE_SUFFIX)}
    kept = {rel for rel in in_quarantine if rel not in notes}
    result.quarantine_files, result.notes = len(kept), len(notes)
    expected: set[str] = set()
    for row in rows:
        if row.status != QUARANTINED:
            continue
        rel = f"quarantine/{row.sha256}.{row.format}"
        expected.add(rel)
        who = f"запис журналу №{row.id}, файл «{row.original_name}»"
        if rel not in kept:
            problems.append(Problem("quarantine-missing", rel, f"Відхиленого файлу немає в карантині ({who})."))
        elif _sha256(in_quarantine[rel]) != row.sha256:
            problems.append(
                Problem(
                    "quarantine-mismatch",
                    rel,
                    f"Файл у карантині змінено: його SHA-256 не збігається із записаним ({who}).",
                )
            )
        if rel + NOTE_SUFFIX not in notes:
            problems.append(
                Problem(
                    "note-missing",
                    rel + NOTE_SUFFIX,
                    f"Немає опису причин відхилення ({who}); причини є в журналі: «consolidate history».",
                )
            )
    for rel in sorted(kept - expected):
        if PurePosixPath(rel).name.startswith(".") and rel.endswith(".tmp"):
            problems.append(
                Problem(
                    "temp-leftover",
                    rel,
                    "Незавершений запис перерваного прийому (тимчасовий файл); його можна видалити.",
                )
            )
            continue
        problems.append(
            Problem(
                "quarantine-unknown", rel, "Файл у карантині невідомий журналу як відхилений: перевірте, звідки він."
            )
        )
    for rel in sorted(notes):
        if rel[: -len(NOTE_SUFFIX)] not in kept:
            problems.append(Problem("note-orphan", rel, "Опис причин є, а самого відхиленого файлу поруч немає."))
    return result


def _inbox_shas(ws: Workspace) -> set[str]:
    """sha256 of the files waiting in the inbox (to tell an interrupted intake from a stranger)."""
    found = set()
    for path in _files(ws.inbox):
        try:
            found.add(_sha256(path))
        except OSError:
            continue
    return found


PROBLEM_CODES = (
    "ledger-damaged",
    "archive-missing",
    "archive-mismatch",
    "archive-path",
    "archive-unknown",
    "temp-leftover",
    "quarantine-missing",
    "quarantine-mismatch",
    "note-missing",
    "note-orphan",
    "quarantine-unknown",
)
PROBLEM_LABELS = {code: CODE_LABELS[code] for code in PROBLEM_CODES}  # the one table: consolidate.vocabulary


def report_lines(v: Verification) -> list[str]:
    """The check in words (Ukrainian)."""
    lines = [
        f"Перевірка робочої теки {v.root}",
        f"  журнал: записів про файли — {v.ledger_files} (відхилено, у карантині — {v.quarantined})",
        f"  archive/: файлів — {v.archive_files}; quarantine/: файлів — {v.quarantine_files}, "
        f"описів причин — {v.notes}",
    ]
    if v.ok:
        lines.append(
            "Усе гаразд: кожен файл журналу є в архіві з тим самим SHA-256, невідомих файлів немає, "
            "кожен відхилений файл лежить у карантині з описом причин."
        )
        return lines
    lines.append(f"Знайдено проблем: {len(v.problems)}")
    for p in v.problems:
        lines.append(f"  • {PROBLEM_LABELS[p.code]}: {p.path}")
        lines.append(f"      {p.message}")
    return lines
