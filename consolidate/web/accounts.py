"""Accounts, sessions and the console's own journal, in ``web.sqlite`` beside the ledger.

A separate database keeps the ledger (the record of returns) free of log-in traffic; the ledger's
own tables (reviews, adjustments, mail) already carry the user's name as their operator.

Passwords are hashed with scrypt (``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte salt); session ids
are 32 random bytes, stored only as their SHA-256, so a copy of the database gives no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConsolidateError

DB_FILE = "web.sqlite"
ROLES = ("clerk", "reviewer", "viewer")
ROLE_LABELS = {"clerk": "діловод", "reviewer": "рецензент", "viewer": "перегляд"}
# What each role may change (a viewer changes nothing).
PERMISSIONS = {
    "clerk": {"intake", "review", "adjust", "report", "templates", "mail", "catalogue"},
    "reviewer": {"review", "adjust", "report"},
    "viewer": set(),
}
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SESSION_HOURS = 12
MIN_PASSWORD = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,          -- scrypt$n$r$p$salt-hex$hash-hex
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,        -- sha256 of the cookie's value
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,            -- code: login, logout, upload, accept, return, adjust, undo, report, templates …
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS uploads (
    batch TEXT NOT NULL,             -- random id of one upload (several files)
    position INTEGER NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    original_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL,             -- the intake's outcome code
    PRIMARY KEY (batch, position)
);
"""


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    csrf: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, set())


@dataclass(frozen=True)
class Event:
    at: str
    user: str
    action: str
    detail: str


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone().replace(microsecond=0)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# A hash to check when the user does not exist, so that both cases take the same time.
_DUMMY = None


class Store:
    """The console's database: thread-safe (a connection per thread, WAL)."""

    def __init__(self, root: Path):
        self.path = Path(root) / DB_FILE
        self._local = threading.local()
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    def _db(self):
        """This thread's connection (kept open: a request costs no connect)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
        return _Borrowed(db)

    # accounts ---------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str, *, replace: bool = False) -> None:
        name = name.strip()
        if not name or len(name) > 80 or any(ord(c) < 32 for c in name):
            raise ConsolidateError("Ім’я користувача: від 1 до 80 друкованих символів.")
        if role not in ROLES:
            raise ConsolidateError(f"Невідома роль «{role}»: clerk, reviewer або viewer.")
        if len(password) < MIN_PASSWORD:
            raise ConsolidateError(f"Пароль закороткий: потрібно щонайменше {MIN_PASSWORD} символів.")
        with self._db() as db:
            exists = db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise ConsolidateError(f"Користувач «{name}» уже є; щоб змінити пароль чи роль, додайте --replace.")
            db.execute(
                "INSERT OR REPLACE INTO users (name, role, password, created_at) VALUES (?, ?, ?, ?)",
                (name, role, hash_password(password), _now().isoformat()),
            )
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def remove_user(self, name: str) -> bool:
        with self._db() as db:
            gone = db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
        return bool(gone)

    def users(self) -> list[tuple[str, str, str]]:
        with self._db() as db:
            return db.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()

    def has_users(self) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def authenticate(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same work either way)."""
        global _DUMMY
        with self._db() as db:
            row = db.execute(
                "SELECT role, password FROM users WHERE name = ? AND disabled = 0", (name.strip(),)
            ).fetchone()
        if row is None:
            if _DUMMY is None:
                _DUMMY = hash_password(secrets.token_hex(8))
            check_password(password, _DUMMY)
            return None
        return row[0] if check_password(password, row[1]) else None

    # sessions ---------------------------------------------------------------
    def open_session(self, user: str, role: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _now()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _sid_hash(sid),
                    user,
                    role,
                    csrf,
                    now.isoformat(),
                    (now + dt.timedelta(hours=SESSION_HOURS)).isoformat(),
                ),
            )
        return sid, Session(user, role, csrf)

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT user, role, csrf, expires_at FROM sessions WHERE id_hash = ?", (_sid_hash(sid),)
            ).fetchone()
        if row is None or row[3] < _now().isoformat():
            return None
        return Session(row[0], row[1], row[2])

    def close_session(self, sid: str | None) -> None:
        if sid:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (_sid_hash(sid),))

    # journal ----------------------------------------------------------------
    def log(self, user: str, action: str, detail: str = "") -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO events (at, user, action, detail) VALUES (?, ?, ?, ?)",
                (_now().isoformat(), user, action, detail),
            )

    def events(self, limit: int = 500) -> list[Event]:
        with self._db() as db:
            rows = db.execute(
                "SELECT at, user, action, detail FROM events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Event(*r) for r in rows]

    def record_upload(self, batch: str, user: str, files: list[tuple[str, str, str]]) -> None:
        """``files``: (original name, sha256, outcome code) in the order uploaded."""
        at = _now().isoformat()
        with self._db() as db:
            db.executemany(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(batch, i, user, at, name, sha, state) for i, (name, sha, state) in enumerate(files)],
            )

    def upload(self, batch: str) -> list[tuple[str, str, str, str, str]]:
        """(user, at, original name, sha256, state) of one upload."""
        with self._db() as db:
            return db.execute(
                "SELECT user, at, original_name, sha256, state FROM uploads WHERE batch = ? ORDER BY position", (batch,)
            ).fetchall()

    def recent_uploads(self, limit: int = 20) -> list[tuple[str, str, str, int]]:
        """(batch, user, at, files) newest first."""
        with self._db() as db:
            return db.execute(
                "SELECT batch, user, at, COUNT(*) FROM uploads GROUP BY batch ORDER BY MAX(rowid) DESC LIMIT ?",
                (limit,),
            ).fetchall()

    def uploader(self, sha256: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT user FROM uploads WHERE sha256 = ? ORDER BY rowid LIMIT 1", (sha256,)).fetchone()
        return row[0] if row else None

    def stamp(self) -> int:
        """Changes to this database so far (with the ledger's mtime it tells a page that it is stale)."""
        with self._db() as db:
            return db.execute(
                "SELECT COALESCE(MAX(id), 0) FROM events WHERE action NOT IN ('login', 'logout', 'login-failed')"
            ).fetchone()[0]


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii", "replace")).hexdigest()


class _Borrowed:
    """A thread's connection for one ``with`` block (autocommit: each statement is its own transaction)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc) -> None:
        if self.db.in_transaction:
            self.db.rollback()
