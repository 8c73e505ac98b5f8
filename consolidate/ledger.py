"""The ledger: every received file, every submission, value and finding (SQLite, WAL).

Each received file is recorded atomically (:meth:`Ledger.record`): the file row, its findings and,
for a file that was read and identified, the submission with its values and the supersession of
the executor's previous return for the period.  Either all of it is in the ledger or none of it.
Alone, a record is its own transaction; inside :meth:`Ledger.group` (the intake) it is a savepoint
of a write transaction shared with the files recorded before it, committed by :meth:`Ledger.commit`
or :meth:`Ledger.sync` — a record that fails is rolled back alone, the others stay.

Tables::

    files        one row per distinct sha256 ever received (accepted or quarantined)
    submissions  one row per identified return; ``superseded_by`` links an older return to the newer one
    cell_values  values extracted from a submission (only values that passed validation)
    findings     findings of a file (quarantined files have findings but no submission)
    mail         every letter prepared (.eml) or sent (SMTP) to an executor (schema version 2)
    messages     every message taken from the reporting mailbox, and how far its processing got (version 8)
    message_parts  the attachments of each message: name, sha256 (→ files), or why it was not taken

A partial unique index keeps at most one current (not superseded) submission per executor and
period, so a second "latest" return cannot exist even after a crash.

Durability: WAL with ``synchronous=NORMAL`` — a commit survives the death of the process at once
and a power cut after the next checkpoint or :meth:`Ledger.sync`; the intake calls ``sync()``
(which first commits its group) before it removes recorded files from the inbox.  A group not yet
committed when the process dies is rolled back whole: those files are still in the inbox.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ConsolidateError
from .model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, QUARANTINED, CellValue, Finding, Return, Submission
from .vocabulary import FileStatus

SCHEMA_VERSION = 10
FILE_STATES = tuple(s.value for s in (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED_ERRORS, QUARANTINED))  # codes
SUBMISSION_STATES = tuple(s.value for s in (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED_ERRORS))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files (
    id               INTEGER PRIMARY KEY,
    sha256           TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
    original_name    TEXT NOT NULL,
    size             INTEGER NOT NULL CHECK (size >= 0),
    received_at      TEXT NOT NULL,
    archive_path     TEXT NOT NULL,
    format           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN {FILE_STATES!r}),
    executor         TEXT,
    period           TEXT,
    template_version TEXT,
    identified_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS files_executor ON files (executor, period);
CREATE TABLE IF NOT EXISTS submissions (
    id               INTEGER PRIMARY KEY,
    file_id          INTEGER NOT NULL UNIQUE REFERENCES files (id),
    executor         TEXT NOT NULL,
    period           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN {SUBMISSION_STATES!r}),
    template_version TEXT NOT NULL,
    superseded_by    INTEGER REFERENCES submissions (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX IF NOT EXISTS submissions_executor ON submissions (executor, period);
CREATE UNIQUE INDEX IF NOT EXISTS submissions_current ON submissions (executor, period)
    WHERE superseded_by IS NULL;
CREATE TABLE IF NOT EXISTS cell_values (
    submission_id    INTEGER NOT NULL REFERENCES submissions (id),
    seq              INTEGER NOT NULL,
    key              TEXT NOT NULL,
    field            TEXT NOT NULL,
    number           REAL,
    text             TEXT NOT NULL,
    sheet            TEXT NOT NULL,
    cell             TEXT NOT NULL,
    PRIMARY KEY (submission_id, seq)
);
CREATE TABLE IF NOT EXISTS findings (
    file_id          INTEGER NOT NULL REFERENCES files (id),
    seq              INTEGER NOT NULL,
    severity         TEXT NOT NULL,
    code             TEXT NOT NULL,
    message          TEXT NOT NULL,
    sheet            TEXT NOT NULL,
    cell             TEXT NOT NULL,
    row_key          TEXT NOT NULL,
    found            TEXT NOT NULL,
    expected         TEXT NOT NULL,
    PRIMARY KEY (file_id, seq)
);
"""

# Version 2: the mail log.  One row per letter prepared as an .eml file or sent through SMTP.
_MAIL_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail (
    id                INTEGER PRIMARY KEY,
    executor          TEXT NOT NULL,
    period            TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind <> ''),
    recipients        TEXT NOT NULL,
    subject           TEXT NOT NULL,
    attachment_name   TEXT NOT NULL,
    attachment_sha256 TEXT NOT NULL,
    via               TEXT NOT NULL CHECK (via IN ('eml', 'smtp')),
    location          TEXT NOT NULL,
    message_id        TEXT NOT NULL,
    sent_at           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_executor ON mail (executor, period, kind);
"""
# Version 3: the clerk's recorded decisions — reviews of returns and adjustments of national figures.
_REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id                INTEGER PRIMARY KEY,
    executor          TEXT NOT NULL,
    period            TEXT NOT NULL,
    submission_id     INTEGER NOT NULL REFERENCES submissions (id),
    decision          TEXT NOT NULL CHECK (decision IN ('accept', 'return')),
    comment           TEXT NOT NULL,
    operator          TEXT NOT NULL CHECK (operator <> ''),
    decided_at        TEXT NOT NULL,
    CHECK (decision = 'accept' OR comment <> '')
);
CREATE INDEX IF NOT EXISTS reviews_slot ON reviews (executor, period);
CREATE TABLE IF NOT EXISTS adjustments (
    id                INTEGER PRIMARY KEY,
    period            TEXT NOT NULL,
    item              TEXT NOT NULL,
    value             REAL NOT NULL,
    reason            TEXT NOT NULL CHECK (reason <> ''),
    forced            INTEGER NOT NULL DEFAULT 0,
    operator          TEXT NOT NULL CHECK (operator <> ''),
    made_at           TEXT NOT NULL,
    undone_at         TEXT,
    undone_by         TEXT
);
CREATE INDEX IF NOT EXISTS adjustments_item ON adjustments (period, item);
"""
# Version 4: the clerk's confirmations of outliers (consolidate.outliers) — who confirmed which figure, why.
_CONFIRMATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS confirmations (
    id                INTEGER PRIMARY KEY,
    submission_id     INTEGER NOT NULL REFERENCES submissions (id),
    executor          TEXT NOT NULL,
    period            TEXT NOT NULL,
    ref               TEXT NOT NULL,
    code              TEXT NOT NULL,
    value             REAL NOT NULL,
    reason            TEXT NOT NULL CHECK (reason <> ''),
    operator          TEXT NOT NULL CHECK (operator <> ''),
    confirmed_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS confirmations_submission ON confirmations (submission_id);
"""
# Every catalogue version templates were written from (its YAML and registry kept, so that a return on an
# older template can be compared with what it was made from), and which version each template used.
_CATALOGUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogue_versions (
    version           TEXT PRIMARY KEY,
    year              INTEGER NOT NULL,
    digest            TEXT NOT NULL,
    catalogue_yaml    TEXT NOT NULL,
    registry_csv      TEXT NOT NULL,
    recorded_at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS templates_issued (
    id                INTEGER PRIMARY KEY,
    executor          TEXT NOT NULL,
    period            TEXT NOT NULL,
    template_version  TEXT NOT NULL REFERENCES catalogue_versions (version),
    sha256            TEXT NOT NULL,
    file_name         TEXT NOT NULL,
    written_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_issued_executor ON templates_issued (executor, period);
"""
# Version 6: a finding's raw reader error (the library's own words), for developers; the clerk sees the message.
_FINDING_DETAIL_SCHEMA = """
ALTER TABLE findings ADD COLUMN detail TEXT NOT NULL DEFAULT ''
"""
# Version 7: the clerk's assignment of a quarantined file to an executor (consolidate quarantine assign).
_ASSIGNMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS assignments (
    id                INTEGER PRIMARY KEY,
    file_id           INTEGER NOT NULL REFERENCES files (id),
    executor          TEXT NOT NULL,
    period            TEXT NOT NULL,
    operator          TEXT NOT NULL CHECK (operator <> ''),
    reason            TEXT NOT NULL,
    assigned_at       TEXT NOT NULL,
    submission_id     INTEGER REFERENCES submissions (id)
);
CREATE INDEX IF NOT EXISTS assignments_file ON assignments (file_id);
"""
# Version 8: the reporting mailbox.  A message row is inserted with its parts when the message is fetched (its raw
# bytes already durable in archive/messages/); ``state`` then records each step done — see consolidate.mailbox.
_INBOUND_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id                INTEGER PRIMARY KEY,
    message_key       TEXT NOT NULL UNIQUE,
    message_id        TEXT NOT NULL,
    sender            TEXT NOT NULL,
    sender_name       TEXT NOT NULL,
    sent_at           TEXT NOT NULL,
    subject           TEXT NOT NULL,
    raw_sha256        TEXT NOT NULL,
    raw_path          TEXT NOT NULL,
    size              INTEGER NOT NULL,
    folder            TEXT NOT NULL,
    uidvalidity       INTEGER NOT NULL,
    uid               INTEGER NOT NULL,
    fetched_at        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('fetched', 'recorded', 'replying', 'replied', 'moved')),
    outcome           TEXT NOT NULL DEFAULT '',
    reply             TEXT NOT NULL DEFAULT '',
    reply_message_id  TEXT NOT NULL DEFAULT '',
    replied_at        TEXT NOT NULL DEFAULT '',
    moved_to          TEXT NOT NULL DEFAULT '',
    done_at           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state);
CREATE TABLE IF NOT EXISTS message_parts (
    message           INTEGER NOT NULL REFERENCES messages (id),
    seq               INTEGER NOT NULL,
    name              TEXT NOT NULL,
    container         TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha256            TEXT NOT NULL,
    taken             INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    known_before      INTEGER NOT NULL,
    PRIMARY KEY (message, seq)
);
CREATE INDEX IF NOT EXISTS message_parts_sha ON message_parts (sha256);
"""
# Version 9: severities as codes (consolidate.vocabulary.Severity) instead of the Ukrainian words.
_SEVERITY_CODES = """
UPDATE findings SET severity = 'error' WHERE severity = 'помилка';
UPDATE findings SET severity = 'warning' WHERE severity = 'попередження'
"""
# Version 10: when a message reached the mailbox (the server's INTERNALDATE): its returns' time of receipt.
_DELIVERED_AT = "ALTER TABLE messages ADD COLUMN delivered_at TEXT NOT NULL DEFAULT ''"
_MIGRATIONS = (
    (1, _SCHEMA),
    (2, _MAIL_SCHEMA),
    (3, _REVIEW_SCHEMA),
    (4, _CONFIRMATION_SCHEMA),
    (5, _CATALOGUE_SCHEMA),
    (6, _FINDING_DETAIL_SCHEMA),
    (7, _ASSIGNMENT_SCHEMA),
    (8, _INBOUND_SCHEMA),
    (9, _SEVERITY_CODES),
    (10, _DELIVERED_AT),
)  # (version reached, script); idempotent
_MAIL_SQL = """
SELECT id, executor, period, kind, recipients, subject, attachment_name, attachment_sha256, via, location,
       message_id, sent_at
FROM mail
"""
_REVIEW_SQL = "SELECT id, executor, period, submission_id, decision, comment, operator, decided_at FROM reviews"
_CONFIRMATION_SQL = (
    "SELECT id, submission_id, executor, period, ref, code, value, reason, operator, confirmed_at FROM confirmations"
)
_ADJUSTMENT_SQL = (
    "SELECT id, period, item, value, reason, forced, operator, made_at, undone_at, undone_by FROM adjustments"
)

_SUBMISSION_SQL = """
SELECT s.id, s.executor, s.period, f.sha256, f.original_name, f.received_at, s.status, s.template_version,
       s.superseded_by, f.archive_path
FROM submissions s JOIN files f ON f.id = s.file_id
"""
_FILE_SQL = """
SELECT f.id, f.sha256, f.original_name, f.size, f.received_at, f.archive_path, f.format, f.status, f.executor,
       f.period, f.template_version, f.identified_by, s.id, s.superseded_by
FROM files f LEFT JOIN submissions s ON s.file_id = f.id
"""


@dataclass(frozen=True)
class Review:
    """A clerk's decision on one return."""

    id: int
    executor: str
    period: str
    submission_id: int
    decision: str  # "accept" or "return"
    comment: str
    operator: str
    decided_at: str


@dataclass(frozen=True)
class Confirmation:
    """A clerk's confirmation that an outlier of a return is the real figure (consolidate.outliers)."""

    id: int
    submission_id: int
    executor: str
    period: str
    ref: str  # «F.T1.1.SG.MSP/financed»: the row key and the field
    code: str  # the outlier's code (amount-thousands, …)
    value: float  # the figure confirmed
    reason: str
    operator: str
    confirmed_at: str


@dataclass(frozen=True)
class Adjustment:
    """A national figure set by the clerk, with who, when and why (undone ones stay as history)."""

    id: int
    period: str
    item: str
    value: float
    reason: str
    forced: int
    operator: str
    made_at: str
    undone_at: str | None
    undone_by: str | None


@dataclass(frozen=True)
class FileRecord:
    """A received file as the ledger knows it (quarantined files included)."""

    id: int
    sha256: str
    original_name: str
    size: int
    received_at: str
    archive_path: str  # relative to the workspace
    format: str  # xlsx, xlsm, xls, ods, or "" when not a workbook
    status: str  # ACCEPTED / ACCEPTED_WARNINGS / ACCEPTED_ERRORS / QUARANTINED
    executor: str | None
    period: str | None
    template_version: str | None
    identified_by: str
    submission_id: int | None  # None for a quarantined file
    superseded_by: int | None

    def __post_init__(self) -> None:
        if type(self.status) is not FileStatus:
            object.__setattr__(self, "status", FileStatus.of(self.status))


@dataclass(frozen=True)
class Receipt:
    """What :meth:`Ledger.record` did."""

    file: FileRecord
    duplicate: bool  # the same bytes were already recorded: nothing was written
    superseded: int | None  # the submission this one replaced as the executor's latest return


@dataclass(frozen=True)
class MailRecord:
    """A letter to an executor as the ledger knows it."""

    id: int
    executor: str
    period: str
    kind: str  # "template", "reminder"
    recipients: str  # addresses, comma-separated
    subject: str
    attachment_name: str
    attachment_sha256: str  # sha256 of the attached workbook ("" without attachment)
    via: str  # "eml" (a file was written) or "smtp" (the server accepted it)
    location: str  # the .eml path relative to the workspace, or the server "host:port"
    message_id: str
    sent_at: str  # ISO time


_STAMP_TABLES = ("files", "reviews", "adjustments", "mail", "confirmations")


def change_stamp(path: Path) -> str:
    """What changes whenever the ledger's state does (rows added, adjustments undone): a cache key.

    A read-only connection and five indexed MAX(rowid) queries — no :class:`Ledger` opened (that would
    create or upgrade the schema); "0" while there is no ledger yet."""
    if not Path(path).exists():
        return "0"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        parts = [
            str(db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {t}").fetchone()[0])
            for t in _STAMP_TABLES
            if t in tables
        ]
        if "adjustments" in tables:
            parts.append(str(db.execute("SELECT COUNT(undone_at) FROM adjustments").fetchone()[0]))
    finally:
        db.close()
    return ".".join(parts)


class Ledger:
    """The workspace ledger.  Use as a context manager; the schema is created on open."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._grouped = False
        self._group_began: float | None = None  # see group()
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ConsolidateError(f"Журнал «{self.path}» пошкоджено або це не база SQLite ({exc})") from exc

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConsolidateError(
                f"Журнал «{self.path}» створено новішою версією consolidate "
                f"(схема {version}, підтримується {SCHEMA_VERSION}); оновіть програму."
            )
        if version < SCHEMA_VERSION:
            with self.transaction():  # statement by statement: executescript would commit early
                for reached, script in _MIGRATIONS:
                    if version < reached:
                        for statement in script.split(";"):
                            if statement.strip() and not self._column_exists(statement):
                                self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- catalogue versions ------------------------------------------------------------
    def record_catalogue_version(
        self, *, version: str, year: int, digest: str, catalogue_yaml: str, registry_csv: str, recorded_at: str
    ) -> bool:
        """Keep a catalogue version (once); True when it was new."""
        with self._atomic():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO catalogue_versions (version, year, digest, catalogue_yaml, registry_csv, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (version, year, digest, catalogue_yaml, registry_csv, recorded_at),
            )
        return cur.rowcount == 1

    def catalogue_version(self, version: str) -> tuple[str, str] | None:
        """(catalogue YAML, registry CSV) of a recorded version."""
        row = self.db.execute(
            "SELECT catalogue_yaml, registry_csv FROM catalogue_versions WHERE version = ?", (version,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def catalogue_versions(self, year: int | None = None) -> list[tuple[str, int, str]]:
        """(version, year, recorded_at) in the order recorded."""
        sql = "SELECT version, year, recorded_at FROM catalogue_versions"
        args: tuple = ()
        if year is not None:
            sql, args = sql + " WHERE year = ?", (year,)
        return [tuple(r) for r in self.db.execute(sql + " ORDER BY rowid", args)]

    def record_templates(self, rows: list[tuple[str, str, str, str, str]], written_at: str) -> None:
        """(executor, period, template_version, sha256, file name) of templates written."""
        with self._atomic():
            self.db.executemany(
                "INSERT INTO templates_issued (executor, period, template_version, sha256, file_name, written_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(*r, written_at) for r in rows],
            )

    def templates_issued(self, executor: str | None = None, period: str | None = None) -> list[tuple]:
        where, args = _filters({"executor": executor, "period": period})
        return [
            tuple(r)
            for r in self.db.execute(
                "SELECT executor, period, template_version, sha256, file_name, written_at FROM templates_issued WHERE "
                + where
                + " ORDER BY id",
                args,
            )
        ]

    def _column_exists(self, statement: str) -> bool:
        """Whether an ``ALTER TABLE t ADD COLUMN c`` statement was applied already (migrations are idempotent)."""
        m = re.match(r"\s*ALTER TABLE (\w+) ADD COLUMN (\w+)", statement)
        return m is not None and any(
            row[1] == m.group(2) for row in self.db.execute(f"PRAGMA table_info({m.group(1)})")
        )

    # --- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        return _Transaction(self.db)

    @contextmanager
    def group(self):
        """Records made inside share write transactions, a savepoint each (the intake's many files).

        The shared transaction begins with the first record and ends with :meth:`commit` or :meth:`sync`;
        the next record begins another.  Leaving the block commits what is open: every record in it is
        complete (a record that failed was rolled back to its savepoint).  A process that dies inside
        loses the uncommitted records whole, never part of one.
        """
        if self._grouped:
            raise RuntimeError("ledger group already open")
        self._grouped = True
        try:
            yield self
        finally:
            self._grouped = False
            self.commit()

    @property
    def uncommitted_since(self) -> float | None:
        """time.monotonic() of the group's first uncommitted record, or None."""
        return self._group_began

    def commit(self) -> None:
        """Commit the group's open transaction, if any (``synchronous=NORMAL``: see :meth:`sync`)."""
        if self._group_began is None:
            return
        self._group_began = None
        if self.db.in_transaction:  # SQLite rolls a transaction back by itself after some errors (disk full)
            self.db.execute("COMMIT")

    def sync(self) -> None:
        """Commit the group's open transaction and make every committed transaction durable now.

        A commit under ``synchronous=FULL`` syncs the whole WAL, earlier commits included; rewriting the
        schema version (page 1) is a write that changes nothing.  (The safety level cannot change inside a
        transaction, hence the group's own commit first.)
        """
        self.commit()
        self.db.execute("PRAGMA synchronous=FULL")
        try:
            with self.transaction():
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            self.db.execute("PRAGMA synchronous=NORMAL")

    # --- writing -----------------------------------------------------------------------
    def record(
        self, ret: Return, *, status: str, original_name: str, size: int, received_at: str, archive_path: str, fmt: str
    ) -> Receipt:
        """Record one received file atomically (see :meth:`group`); the same bytes twice are recorded once.

        ``ret.values`` are CellValues or plain tuples of their fields (the intake's reader processes send those).
        """
        if status not in FILE_STATES:
            raise ValueError(f"unknown status {status!r}")
        identified = status != QUARANTINED
        if identified and not (ret.executor and ret.period):
            raise ValueError("an accepted return needs an executor and a period")
        with self._atomic():
            existing = self.file(ret.sha256)
            if existing is not None:
                return Receipt(existing, duplicate=True, superseded=None)
            cur = self.db.execute(
                "INSERT INTO files (sha256, original_name, size, received_at, archive_path, format, status, executor, "
                "period, template_version, identified_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ret.sha256,
                    original_name,
                    size,
                    received_at,
                    archive_path,
                    fmt,
                    status,
                    ret.executor,
                    ret.period,
                    ret.template_version,
                    ret.identified_by,
                ),
            )
            file_id = cur.lastrowid
            assert file_id is not None  # set by the INSERT just made
            self._insert_findings(file_id, ret.findings)
            superseded = new_id = None
            if identified:
                new_id, superseded = self._insert_submission(file_id, ret, status)
            record = FileRecord(
                file_id,
                ret.sha256,
                original_name,
                size,
                received_at,
                archive_path,
                fmt,
                status,
                ret.executor,
                ret.period,
                ret.template_version,
                ret.identified_by,
                new_id,
                None,
            )
        return Receipt(record, duplicate=False, superseded=superseded)

    def _insert_findings(self, file_id: int, findings) -> None:
        if findings:
            self.db.executemany(
                "INSERT INTO findings (file_id, seq, severity, code, message, sheet, cell, row_key, found, "
                "expected, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        file_id,
                        i,
                        f.severity,
                        f.code,
                        f.message,
                        f.sheet,
                        f.cell,
                        f.row_key,
                        f.found,
                        f.expected,
                        f.detail,
                    )
                    for i, f in enumerate(findings)
                ],
            )

    def _insert_submission(self, file_id: int, ret: Return, status: str) -> tuple[int, int | None]:
        """A new current submission of the file (the executor's earlier one superseded): (its id, superseded)."""
        row = self.db.execute(
            "SELECT id FROM submissions WHERE executor = ? AND period = ? AND superseded_by IS NULL",
            (ret.executor, ret.period),
        ).fetchone()
        new_id = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM submissions").fetchone()[0]
        superseded = None
        if row is not None:
            superseded = row[0]
            self.db.execute("UPDATE submissions SET superseded_by = ? WHERE id = ?", (new_id, superseded))
        self.db.execute(
            "INSERT INTO submissions (id, file_id, executor, period, status, template_version) VALUES (?,?,?,?,?,?)",
            (new_id, file_id, ret.executor, ret.period, status, ret.template_version or ""),
        )
        self.db.executemany(
            "INSERT INTO cell_values (submission_id, seq, key, field, number, text, sheet, cell) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(new_id, i, *v) for i, v in enumerate(ret.values)],
        )
        return new_id, superseded

    def assign(
        self,
        file_id: int,
        ret: Return,
        *,
        executor: str,
        period: str,
        status: str,
        operator: str,
        reason: str,
        assigned_at: str,
    ) -> Receipt:
        """The clerk's decision that a quarantined file is ``ret.executor``'s return, read again as such (``ret``).

        The decision is recorded (``assignments``) whatever the reading gives; the file's row takes the new
        identification and findings, and, when the file is now readable, becomes that executor's current return.
        """
        if not operator:
            raise ValueError("an assignment needs an operator")
        if status != QUARANTINED and (ret.executor, ret.period) != (executor, period):
            raise ValueError("the return read does not belong to the assigned executor and period")
        with self._atomic():
            row = self.db.execute("SELECT status FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None or row[0] != QUARANTINED:
                raise ConsolidateError("Цей файл не в карантині: призначати виконавця можна лише неприйнятому файлу.")
            new_id = superseded = None
            if status != QUARANTINED:
                new_id, superseded = self._insert_submission(file_id, ret, status)
            self.db.execute(
                "INSERT INTO assignments (file_id, executor, period, operator, reason, assigned_at, submission_id) "
                "VALUES (?,?,?,?,?,?,?)",
                (file_id, executor, period, operator, reason, assigned_at, new_id),
            )
            self.db.execute(
                "UPDATE files SET status = ?, executor = ?, period = ?, template_version = ?, "
                "identified_by = ? WHERE id = ?",
                (status, executor, period, ret.template_version, "clerk", file_id),
            )
            self.db.execute("DELETE FROM findings WHERE file_id = ?", (file_id,))
            self._insert_findings(file_id, ret.findings)
        record = next(f for f in self._file_where("f.id = ?", (file_id,)))
        return Receipt(record, duplicate=False, superseded=superseded)

    def assignments(self, file_id: int | None = None) -> list[tuple]:
        """(file_id, executor, period, operator, reason, assigned_at, submission_id), oldest first."""
        where, args = ("file_id = ?", (file_id,)) if file_id is not None else ("1", ())
        return self.db.execute(
            "SELECT file_id, executor, period, operator, reason, assigned_at, submission_id "
            f"FROM assignments WHERE {where} ORDER BY id",
            args,
        ).fetchall()

    def _atomic(self):
        """A transaction of its own, or a savepoint of the group's transaction (begun here if needed)."""
        if not self._grouped:
            return _Transaction(self.db)
        if self._group_began is None or not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self._group_began = time.monotonic()
        return _Savepoint(self.db)

    def record_mail(
        self,
        *,
        executor: str,
        period: str,
        kind: str,
        recipients: str,
        subject: str,
        attachment_name: str,
        attachment_sha256: str,
        via: str,
        location: str,
        message_id: str,
        sent_at: str,
    ) -> MailRecord:
        """Record one letter prepared or sent (in its own transaction)."""
        if via not in ("eml", "smtp"):
            raise ValueError(f"unknown mail channel {via!r}")
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO mail (executor, period, kind, recipients, subject, attachment_name, attachment_sha256, "
                "via, location, message_id, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    executor,
                    period,
                    kind,
                    recipients,
                    subject,
                    attachment_name,
                    attachment_sha256,
                    via,
                    location,
                    message_id,
                    sent_at,
                ),
            )
            row = self.db.execute(_MAIL_SQL + " WHERE id = ?", (cur.lastrowid,)).fetchone()
        return MailRecord(*row)

    def mails(
        self, executor: str | None = None, period: str | None = None, kind: str | None = None
    ) -> list[MailRecord]:
        """The mail log, oldest first."""
        where, args = _filters({"executor": executor, "period": period, "kind": kind})
        return [MailRecord(*r) for r in self.db.execute(_MAIL_SQL + f" WHERE {where} ORDER BY id", args).fetchall()]

    def record_review(
        self,
        *,
        executor: str,
        period: str,
        submission_id: int,
        decision: str,
        comment: str,
        operator: str,
        decided_at: str,
    ) -> Review:
        """Record a clerk's decision on a return (accept, or return for rework with a comment)."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO reviews (executor, period, submission_id, decision, comment, operator, decided_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (executor, period, submission_id, decision, comment, operator, decided_at),
            )
            row = self.db.execute(_REVIEW_SQL + " WHERE id = ?", (cur.lastrowid,)).fetchone()
        return Review(*row)

    def reviews(self, executor: str | None = None, period: str | None = None) -> list[Review]:
        """Review decisions, oldest first."""
        where, args = _filters({"executor": executor, "period": period})
        return [Review(*r) for r in self.db.execute(_REVIEW_SQL + f" WHERE {where} ORDER BY id", args).fetchall()]

    def record_confirmations(self, rows, *, operator: str, reason: str, confirmed_at: str) -> list[Confirmation]:
        """Record the clerk's confirmations of outliers (objects with submission_id, executor, ref, code, value),
        all in one transaction."""
        ids = []
        with self.transaction():
            for o in rows:
                period = self.db.execute("SELECT period FROM submissions WHERE id = ?", (o.submission_id,)).fetchone()
                cur = self.db.execute(
                    "INSERT INTO confirmations (submission_id, executor, period, ref, code, value, reason, operator, "
                    "confirmed_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        o.submission_id,
                        o.executor,
                        period[0] if period else "",
                        o.ref,
                        o.code,
                        float(o.value),
                        reason,
                        operator,
                        confirmed_at,
                    ),
                )
                ids.append(cur.lastrowid)
        return [Confirmation(*self.db.execute(_CONFIRMATION_SQL + " WHERE id = ?", (i,)).fetchone()) for i in ids]

    def confirmations(
        self, executor: str | None = None, period: str | None = None, submission_id: int | None = None
    ) -> list[Confirmation]:
        """Confirmations of outliers, oldest first."""
        where, args = _filters({"executor": executor, "period": period})
        if submission_id is not None:
            where += " AND submission_id = ?"
            args = (*args, submission_id)
        return [
            Confirmation(*r)
            for r in self.db.execute(_CONFIRMATION_SQL + f" WHERE {where} ORDER BY id", args).fetchall()
        ]

    def record_adjustment(
        self, *, period: str, item: str, value: float, reason: str, forced: bool, operator: str, made_at: str
    ) -> Adjustment:
        """Set a national figure by hand; the previous active adjustment of the item is undone by it."""
        with self.transaction():
            self.db.execute(
                "UPDATE adjustments SET undone_at = ?, undone_by = ? WHERE period = ? AND item = ? "
                "AND undone_at IS NULL",
                (made_at, operator, period, item),
            )
            cur = self.db.execute(
                "INSERT INTO adjustments (period, item, value, reason, forced, operator, made_at) VALUES (?,?,?,?,?,?,?)",
                (period, item, value, reason, int(forced), operator, made_at),
            )
            row = self.db.execute(_ADJUSTMENT_SQL + " WHERE id = ?", (cur.lastrowid,)).fetchone()
        return Adjustment(*row)

    def undo_adjustment(self, *, period: str, item: str, operator: str, undone_at: str) -> int:
        """Undo the active adjustment of an item; returns how many were undone (0 or 1)."""
        with self.transaction():
            cur = self.db.execute(
                "UPDATE adjustments SET undone_at = ?, undone_by = ? WHERE period = ? AND item = ? "
                "AND undone_at IS NULL",
                (undone_at, operator, period, item),
            )
        return cur.rowcount

    def adjustments(
        self, period: str | None = None, item: str | None = None, active_only: bool = False
    ) -> list[Adjustment]:
        """Adjustments, oldest first (the audit trail keeps undone ones)."""
        where, args = _filters({"period": period, "item": item})
        if active_only:
            where += " AND undone_at IS NULL"
        return [
            Adjustment(*r) for r in self.db.execute(_ADJUSTMENT_SQL + f" WHERE {where} ORDER BY id", args).fetchall()
        ]

    # --- reading -----------------------------------------------------------------------
    def has_file(self, sha256: str) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def file(self, sha256: str) -> FileRecord | None:
        rows = self._file_where("f.sha256 = ?", (sha256,))
        return rows[0] if rows else None

    def files(
        self, executor: str | None = None, period: str | None = None, status: str | None = None
    ) -> list[FileRecord]:
        """Received files, oldest first."""
        where, args = _filters({"f.executor": executor, "f.period": period, "f.status": status})
        return self._file_where(where, args)

    def quarantined(self) -> list[FileRecord]:
        return self.files(status=QUARANTINED)

    def latest_submissions(self, period: str) -> list[Submission]:
        """Per executor, the newest return for the period that no later return superseded; by executor code."""
        rows = self.db.execute(
            _SUBMISSION_SQL + " WHERE s.period = ? AND s.superseded_by IS NULL ORDER BY s.executor", (period,)
        ).fetchall()
        return [Submission(*r) for r in rows]

    def submissions(self, executor: str | None = None, period: str | None = None) -> list[Submission]:
        """History of returns, oldest first."""
        where, args = _filters({"s.executor": executor, "s.period": period})
        rows = self.db.execute(_SUBMISSION_SQL + f" WHERE {where} ORDER BY s.id", args).fetchall()
        return [Submission(*r) for r in rows]

    def submission(self, submission_id: int) -> Submission | None:
        row = self.db.execute(_SUBMISSION_SQL + " WHERE s.id = ?", (submission_id,)).fetchone()
        return Submission(*row) if row else None

    def values(self, submission_id: int) -> list[CellValue]:
        return self.values_of([submission_id])[submission_id]

    def values_of(self, submission_ids) -> dict[int, list[CellValue]]:
        """The values of several submissions (a reconciliation's returns), read together.

        Row keys, column codes, sheet names, cell references and short texts repeat on every return: each
        distinct one is kept once, not as a string per value (a third of the memory at 1,500 returns).
        """
        ids = sorted(set(submission_ids))
        out: dict[int, list[CellValue]] = {i: [] for i in ids}
        same: dict[str, str] = {}
        share = same.setdefault
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.db.execute(
                "SELECT submission_id, key, field, number, text, sheet, cell FROM cell_values "
                f"WHERE submission_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY submission_id, seq",
                chunk,
            )
            for sid, key, fld, number, text, sheet, cell in rows:
                out[sid].append(
                    CellValue(
                        share(key, key),
                        share(fld, fld),
                        number,
                        share(text, text) if len(text) <= 16 else text,
                        share(sheet, sheet),
                        share(cell, cell),
                    )
                )
        return out

    def findings(self, submission_id: int) -> list[Finding]:
        """Findings of the file behind a submission."""
        row = self.db.execute("SELECT file_id FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        return self.file_findings(row[0]) if row else []

    def findings_of(self, submission_ids) -> dict[int, list[Finding]]:
        """Findings of many submissions' files in one query per 900 ids (the status of 1,500 executors)."""
        ids = list(dict.fromkeys(submission_ids))
        out: dict[int, list[Finding]] = {i: [] for i in ids}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            rows = self.db.execute(
                "SELECT s.id, f.original_name, x.severity, x.code, x.message, x.sheet, x.cell, x.row_key, x.found, "
                "x.expected, x.detail FROM submissions s JOIN findings x ON x.file_id = s.file_id "
                f"JOIN files f ON f.id = s.file_id WHERE s.id IN ({','.join('?' * len(part))}) ORDER BY s.id, x.seq",
                part,
            ).fetchall()
            for sid, *fields in rows:
                out[sid].append(Finding(*fields))
        return out

    def file_findings(self, file_id: int) -> list[Finding]:
        rows = self.db.execute(
            "SELECT f.original_name, x.severity, x.code, x.message, x.sheet, x.cell, x.row_key, x.found, x.expected, "
            "x.detail FROM findings x JOIN files f ON f.id = x.file_id WHERE x.file_id = ? ORDER BY x.seq",
            (file_id,),
        ).fetchall()
        return [Finding(*r) for r in rows]

    def _file_where(self, where: str, args: tuple) -> list[FileRecord]:
        rows = self.db.execute(_FILE_SQL + f" WHERE {where} ORDER BY f.id", args).fetchall()
        return [FileRecord(*r) for r in rows]


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
        return False


class _Savepoint:
    """SAVEPOINT … RELEASE, or ROLLBACK TO (this savepoint only) on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("SAVEPOINT record")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.db.execute("RELEASE record")
        elif self.db.in_transaction:  # (after some errors SQLite has already rolled the whole transaction back)
            self.db.execute("ROLLBACK TO record")
            self.db.execute("RELEASE record")
        return False


def _filters(conditions: dict[str, str | None]) -> tuple[str, tuple]:
    parts = [(f"{col} = ?", value) for col, value in conditions.items() if value is not None]
    if not parts:
        return "1", ()
    return " AND ".join(p for p, _ in parts), tuple(v for _, v in parts)
