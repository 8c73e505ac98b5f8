"""Returns straight from the reporting mailbox (IMAP over TLS), each sender answered with a receipt.

One run (:func:`fetch_mail`) takes every message of the mailbox folder and, for each, goes through these steps;
the ledger's ``messages`` row records each step done, so that a run killed at any moment (kill -9, a power cut)
and run again goes on from where it stopped, loses no attachment and never answers a message twice:

1. **fetched** — the message's bytes (``UID FETCH BODY.PEEK[]``: the server's copy stays unread) are written
   to ``archive/messages/<sha[:2]>/<sha>.eml`` and flushed to disk, then its row and its parts (each
   attachment's name, sha256, or why it is refused; whether those bytes were already in the ledger) are
   inserted in one transaction.  Killed before: the message is still in the folder and is fetched again.
2. **archived** — the spreadsheets, taken again from the saved copy (the same bytes give the same parts),
   are staged under names of their own and received by :func:`consolidate.inbox.run_intake` — archive,
   quarantine and ledger exactly as for ``inbox/``, the attachment's name recorded as the file's name.
3. **recorded** — the sender is checked against the registry (a warning finding on each newly received
   file whose executor does not list the address), and the row says what came of it, in one transaction.
4. **replied** — the receipt (in the sender's thread: In-Reply-To, References) goes through SMTP.  The row
   is marked ``replying`` after the whole message has been sent to the server and before the final
   ``.`` that makes the server take it; ``replied`` once the server accepted it.  A run killed between
   those two marks does not know whether the server took the receipt and sends none (at most one receipt;
   the row says the receipt is uncertain).  A run killed before the first mark left the server with an
   unfinished message, which it drops: the receipt is sent again, whole, once.
5. **moved** — the message is moved (``UID MOVE``, or COPY + \\Deleted + UID EXPUNGE) to «Оброблено» or
   «Не прийнято», or flagged (``action = "flag"``); found again by its UID, or by its Message-ID when the
   folder's UIDVALIDITY changed; a message already gone counts as moved.

A message whose Message-ID is already in the ledger is a duplicate: when it brings no attachment the ledger
does not know, it is moved aside without a receipt; otherwise it is taken as a message of its own.  No receipt
goes to an auto-reply, a mailer daemon, a mailing list or the mailbox itself (no mail loops); receipts carry
``Auto-Submitted: auto-replied`` so that well-behaved responders do not answer them either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import imaplib
import os
import re
import shutil
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from . import mailparts
from .errors import ConsolidateError
from .fileutil import Lock, atomic_write
from .ledger import Ledger
from .model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, QUARANTINED, STATE_LABELS, WARNING, Finding
from .oauth import OAUTH2, OAuthSettings, auth_method, login_with_token, oauth_settings, token_source, xoauth2

if TYPE_CHECKING:
    from .mail import SmtpSession  # at run time mail is imported where it is used, as elsewhere here

PASSWORD_ENV = "CONSOLIDATE_IMAP_PASSWORD"
PROCESSED_FOLDER = "Оброблено"
REJECTED_FOLDER = "Не прийнято"
DONE_KEYWORD = "$Consolidated"  # flag mode: processed (with \\Seen)
REJECTED_KEYWORD = "$NotAccepted"  # flag mode: not accepted (with \\Flagged, so the clerk sees it)
MESSAGES_DIR = "archive/messages"
STAGING_DIR = ".mail-staging"
LOCK_FILE = ".mail.lock"
SENDER_CODE = "sender-not-in-registry"
RECEIPT = "receipt"  # the mail log's kind of a receipt
IDLE_REISSUE_SECONDS = 25 * 60  # RFC 2177: servers drop an IDLE after 30 minutes; begun again well before
NO_SMTP = (  # receipts asked for, no SMTP to send them: mail fetch stops at the first receipt, mail check says so
    "Не налаштовано SMTP для квитанцій: додайте [smtp] server до consolidate.toml "
    "або вкажіть --smtp (або вимкніть квитанції: [mailbox] receipts = false)."
)
MAX_WAIT_RESPONSE = 1024 * 1024  # a server's answer while waiting longer than this is not an IMAP server's

# messages.kind
WITH_FILES, NO_FILES, MALFORMED, TOO_LARGE = "files", "no-files", "malformed", "too-large"
# messages.reply
SENT, UNCERTAIN = "sent", "uncertain"


# ---------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    security: str = "tls"  # "tls" (IMAPS) or "starttls"; there is no plain-text mode
    folder: str = "INBOX"
    processed_folder: str = PROCESSED_FOLDER
    rejected_folder: str = REJECTED_FOLDER
    action: str = "move"  # "move" or "flag"
    cafile: str = ""
    receipts: bool = True
    no_files_receipt: bool = True
    max_message_bytes: int = 50 * 1024 * 1024
    limits: mailparts.Limits = mailparts.Limits()
    poll_minutes: float = 5.0
    timeout: float = 60.0
    password_env: str = PASSWORD_ENV
    idle: bool = True  # --watch waits in IMAP IDLE between rounds when the server offers it
    oauth: OAuthSettings | None = None  # [mailbox] auth = "oauth2": SASL XOAUTH2 with an application's token

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def mailbox_settings(
    ws,
    *,
    password: str | None = None,
    environ: Mapping[str, str] | None = None,
    require_password: bool = True,
    prompt: bool = True,
) -> MailboxSettings:
    """[mailbox] of consolidate.toml; the password from ``password`` (a prompt) or the environment, never the file.

    ``prompt``: the front can ask for a missing password (the CLI in a console); the web console cannot, and its
    message says where the variable must be set instead."""
    cfg = ws.config.get("mailbox") or {}
    if not cfg.get("host"):
        raise ConsolidateError(
            "Не налаштовано поштову скриньку: додайте до consolidate.toml розділ [mailbox] "
            "з host, user (див. docs/mail.md)."
        )
    if "password" in cfg:
        raise ConsolidateError(
            "У consolidate.toml не зберігайте пароль ([mailbox] password): задайте його у змінній "
            f"середовища {cfg.get('password_env', PASSWORD_ENV)} або введіть на запит."
        )
    security = str(cfg.get("security", "tls")).lower()
    if security not in ("tls", "starttls"):
        raise ConsolidateError(
            f"[mailbox] security = «{security}»: дозволено лише «tls» (IMAPS, порт 993) або "
            "«starttls» (порт 143); без шифрування пошту не читаємо."
        )
    action = str(cfg.get("action", "move")).lower()
    if action not in ("move", "flag"):
        raise ConsolidateError(f"[mailbox] action = «{action}»: дозволено «move» (перемістити) або «flag» (позначити).")
    user = str(cfg.get("user") or "")
    if not user:
        raise ConsolidateError("[mailbox] user: вкажіть ім’я користувача поштової скриньки.")
    env_name = str(cfg.get("password_env") or PASSWORD_ENV)
    oauth = oauth_settings(ws, environ) if auth_method(cfg, "mailbox") == OAUTH2 else None
    if oauth is not None:
        password = ""
    elif password is None:
        password = (os.environ if environ is None else environ).get(env_name, "")
    if not password and require_password and oauth is None:
        how = (
            "або введіть пароль на запит"
            if prompt
            else "для вебконсолі (у середовищі, де запущено consolidate serve) і перезапустіть її; "
            "вебконсоль пароля не запитує"
        )
        raise ConsolidateError(
            f"Пароль до поштової скриньки «{user}» не задано: задайте змінну середовища {env_name} {how}."
        )
    cafile = str(cfg.get("cafile") or "")
    if cafile and not Path(cafile).is_file():
        raise ConsolidateError(f"Файл сертифікатів «{cafile}» ([mailbox] cafile) не знайдено")

    def number(key: str, default: float) -> float:
        value = cfg.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ConsolidateError(f"[mailbox] {key} = «{value}»: очікується додатне число.")
        return float(value)

    idle = cfg.get("idle", True)
    if not isinstance(idle, bool):
        raise ConsolidateError(f"[mailbox] idle = «{idle}»: очікується true або false.")
    mb = 1024 * 1024
    try:
        port = int(cfg.get("port") or (993 if security == "tls" else 143))
    except (TypeError, ValueError):
        raise ConsolidateError(f"[mailbox] port = «{cfg.get('port')}»: очікується номер порту.") from None
    return MailboxSettings(
        host=str(cfg["host"]),
        port=port,
        user=user,
        password=password or "",
        security=security,
        folder=str(cfg.get("folder") or "INBOX"),
        processed_folder=str(cfg.get("processed_folder") or PROCESSED_FOLDER),
        rejected_folder=str(cfg.get("rejected_folder") or REJECTED_FOLDER),
        action=action,
        cafile=cafile,
        receipts=bool(cfg.get("receipts", True)),
        no_files_receipt=bool(cfg.get("no_attachment_receipt", True)),
        max_message_bytes=int(number("max_message_mb", 50) * mb),
        limits=mailparts.Limits(int(number("max_attachment_mb", 20) * mb), int(number("max_attachments", 20))),
        poll_minutes=number("poll_minutes", 5),
        password_env=env_name,
        idle=idle,
        oauth=oauth,
    )


def smtp_from_workspace(ws, environ: Mapping[str, str] | None = None):
    """The SMTP settings of consolidate.toml ([smtp] server, starttls, user, password_env, cafile), or None."""
    from .mail import PASSWORD_ENV as SMTP_PASSWORD_ENV
    from .mail import smtp_settings

    cfg = ws.config.get("smtp") or {}
    if not cfg.get("server"):
        return None
    if "password" in cfg:
        raise ConsolidateError(
            "У consolidate.toml не зберігайте пароль ([smtp] password): задайте його у змінній "
            f"середовища {cfg.get('password_env', SMTP_PASSWORD_ENV)}."
        )
    return smtp_settings(
        str(cfg["server"]),
        starttls=bool(cfg.get("starttls", False)),
        user=str(cfg.get("user") or ""),
        password_env=str(cfg.get("password_env") or SMTP_PASSWORD_ENV),
        cafile=str(cfg.get("cafile") or ""),
        environ=environ,
        oauth=oauth_settings(ws, environ) if auth_method(cfg, "smtp") == OAUTH2 else None,
    )


# ---------------------------------------------------------------------------------
# IMAP
# ---------------------------------------------------------------------------------


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3): «Оброблено» → «&BB4EMQRABD4EMQQ7BDUEPQQ+-»."""
    import base64

    out: list = []
    run: list = []

    def flush():
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{b64}-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapError(ConsolidateError):
    """The server refused a command, or could not be reached."""


class ImapConnectionError(ImapError):
    """The connection broke (or never came up): the run stops; every step recorded so far stays done."""


class Imap:
    """One connection to the mailbox: TLS from the first byte (IMAPS) or STARTTLS before login, certificate checked."""

    def __init__(self, settings: MailboxSettings):
        self.s = settings
        self.conn: imaplib.IMAP4 | None = None
        self.caps: set[str] = set()
        self.uidvalidity = 0
        self._created: set[str] = set()

    def __enter__(self) -> Imap:
        s = self.s
        context = ssl.create_default_context(cafile=s.cafile or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if s.security == "tls":
                self.conn = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout)
            else:
                self.conn = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
                if "STARTTLS" not in self.conn.capabilities:
                    raise ImapError(
                        f"Поштовий сервер {s.address} не підтримує STARTTLS; без шифрування пошту не "
                        f'читаємо (спробуйте security = "tls", порт 993).'
                    )
                self.conn.starttls(ssl_context=context)
            if s.oauth is not None:
                self._authenticate(s.oauth)
            elif not (s.user + s.password).isascii() and "AUTH=PLAIN" in self.conn.capabilities:
                # LOGIN carries ASCII only; SASL PLAIN carries UTF-8 (RFC 4616): a password typed in the Cyrillic layout
                plain = f"\0{s.user}\0{s.password}".encode()
                self.conn.authenticate("PLAIN", lambda challenge: plain)
            else:
                self.conn.login(s.user, s.password)
            typ, data = self.conn.capability()
            self.caps = {c.upper() for c in b" ".join(x for x in data if x).decode("ascii", "replace").split()}
        except BaseException as exc:
            self._close()
            if isinstance(exc, ImapError):
                raise
            if isinstance(exc, Exception):
                raise ImapError(_imap_error(exc, s)) from exc
            raise
        return self

    def _authenticate(self, oauth: OAuthSettings) -> None:
        """SASL XOAUTH2 with the application's token (RFC 3501 AUTHENTICATE; Microsoft's and Google's mechanism)."""
        assert self.conn is not None
        if "AUTH=XOAUTH2" not in {c.upper() for c in self.conn.capabilities}:
            raise ImapError(
                f"Поштовий сервер {self.s.address} не приймає вхід через OAuth 2.0 (немає AUTH=XOAUTH2 серед його "
                'можливостей); для нього задайте [mailbox] auth = "password".'
            )
        conn, user = self.conn, self.s.user

        def attempt(token: str) -> None:
            answer = xoauth2(user, token).encode("utf-8")
            # the first challenge is empty; a second is the server's reason (JSON), answered empty to end the exchange
            conn.authenticate("XOAUTH2", lambda challenge: b"" if challenge else answer)

        login_with_token(token_source(oauth), attempt, imaplib.IMAP4.error)

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.logout()
            except Exception:
                try:
                    self.conn.shutdown()
                except Exception:
                    pass
            self.conn = None

    def _open(self) -> imaplib.IMAP4:
        """The connection, for the methods used between __enter__ and closing (or abort)."""
        assert self.conn is not None  # not used after closing: fetch_mail's with, _Waiter drops it on abort
        return self.conn

    def _do(self, command: str, *args) -> tuple[str, list]:
        """One IMAP command; a broken connection or a protocol error is an :class:`ImapError` (what is done stays done)."""
        try:
            return getattr(self.conn, command)(*args)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapConnectionError(_imap_error(exc, self.s)) from exc

    def _ok(self, typ, data, what: str):
        if typ != "OK":
            text = b" ".join(x for x in data if isinstance(x, bytes)).decode("utf-8", "replace")
            raise ImapError(f"Поштовий сервер {self.s.address} відмовив ({what}): {text}")
        return data

    def select(self, folder: str) -> int:
        typ, data = self._do("select", _quoted(imap_utf7(folder)))
        self._ok(typ, data, f"відкрити теку «{folder}»")
        value = self._open().response("UIDVALIDITY")[1]
        self.uidvalidity = int(value[0]) if value and value[0] else 0
        return self.uidvalidity

    def uids(self) -> list[int]:
        """Messages to take: not deleted; in flag mode also not yet flagged by an earlier run."""
        criteria = ["UNDELETED"]
        if self.s.action == "flag":
            criteria += ["UNKEYWORD", DONE_KEYWORD]
        data = self._ok(*self._do("uid", "SEARCH", None, *criteria), "пошук листів")
        return sorted(int(x) for x in b" ".join(d for d in data if d).split())

    def size_and_arrival(self, uid: int) -> tuple[int, str] | None:
        """(size in bytes, when the message reached the mailbox as ISO time or "") — the server's RFC822.SIZE and
        INTERNALDATE, which the sender cannot set (its Date header it can); None when the message is gone."""
        data = self._ok(*self._do("uid", "FETCH", str(uid), "(RFC822.SIZE INTERNALDATE)"), "розмір листа")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes):
                m = re.search(rb"RFC822\.SIZE (\d+)", line)
                if m:
                    return int(m.group(1)), internal_date(line)
        return None

    def fetch(self, uid: int, what: str = "BODY.PEEK[]") -> bytes | None:
        """The message (or its header, ``BODY.PEEK[HEADER]``) without marking it read; None if it is gone."""
        data = self._ok(*self._do("uid", "FETCH", str(uid), f"({what})"), "отримати лист")
        for item in data:
            if isinstance(item, tuple) and len(item) >= 2 and b"BODY[" in item[0]:
                return bytes(item[1])
        return None

    def exists(self, uid: int) -> bool:
        data = self._ok(*self._do("uid", "SEARCH", None, "UID", str(uid), "UNDELETED"), "пошук листа")
        return str(uid).encode() in b" ".join(d for d in data if d).split()

    def find(self, message_id: str) -> list[int]:
        if not message_id:
            return []
        data = self._ok(
            *self._do("uid", "SEARCH", None, "UNDELETED", "HEADER", "Message-ID", _quoted(message_id)), "пошук листа"
        )
        return sorted(int(x) for x in b" ".join(d for d in data if d).split())

    def file_away(self, uid: int, accepted: bool) -> str:
        """Move the message to «Оброблено»/«Не прийнято» (or flag it); returns where it went."""
        s = self.s
        if s.action == "flag":
            flags = f"(\\Seen {DONE_KEYWORD})" if accepted else f"(\\Seen \\Flagged {DONE_KEYWORD} {REJECTED_KEYWORD})"
            self._ok(*self._do("uid", "STORE", str(uid), "+FLAGS", flags), "позначити лист")
            return "позначено: " + ("оброблено" if accepted else "не прийнято")
        folder = s.processed_folder if accepted else s.rejected_folder
        target = _quoted(imap_utf7(folder))
        if folder not in self._created:
            typ, data = self._do("create", target)  # NO [ALREADYEXISTS] when it is there: fine
            self._created.add(folder)
        if "MOVE" in self.caps:
            self._ok(*self._do("uid", "MOVE", str(uid), target), f"перемістити лист до «{folder}»")
        else:
            self._ok(*self._do("uid", "COPY", str(uid), target), f"скопіювати лист до «{folder}»")
            self._ok(*self._do("uid", "STORE", str(uid), "+FLAGS", "(\\Deleted)"), "позначити лист вилученим")
            if "UIDPLUS" in self.caps:
                self._ok(*self._do("uid", "EXPUNGE", str(uid)), "вилучити лист")
        return folder

    def check_folders(self) -> list[CheckStep]:
        """``mail check``: the folder opened read-only (EXAMINE) and counted, the extensions ``mail fetch`` uses,
        and whether the folders for filing exist (they are created at the first move)."""
        from .wording import plural

        s = self.s
        typ, data = self._do("select", _quoted(imap_utf7(s.folder)), True)
        if typ != "OK":
            text = b" ".join(x for x in data if isinstance(x, bytes)).decode("utf-8", "replace")
            return [CheckStep("folder", FAILED, f"Теку «{s.folder}» ([mailbox] folder) не відкрито: {text}")]
        count = int(data[0]) if data and data[0] and data[0].isdigit() else 0
        typ, data = self._do("uid", "SEARCH", "UNSEEN")
        unseen = len(data[0].split()) if typ == "OK" and data and data[0] else 0
        steps = [
            CheckStep(
                "folder",
                PASSED,
                f"Тека «{s.folder}»: {plural(count, 'лист', 'листи', 'листів')}, з них непрочитаних {unseen}.",
            )
        ]
        notes = []
        if s.idle and "IDLE" not in self.caps:
            notes.append("немає IMAP IDLE: --watch перевірятиме кожні poll_minutes хвилин, а не одразу")
        if s.action == "move" and "MOVE" not in self.caps and "UIDPLUS" not in self.caps:
            notes.append("немає MOVE і UIDPLUS: листи буде скопійовано й позначено вилученими, але не вилучено")
        have = [x for x in ("IDLE", "MOVE", "UIDPLUS") if x in self.caps]
        steps.append(
            CheckStep(
                "server",
                NOTED if notes else PASSED,
                "Можливості сервера: "
                + (", ".join(have) or "жодної з IDLE, MOVE, UIDPLUS")
                + ("; " + "; ".join(notes) if notes else "")
                + ".",
            )
        )
        if s.action == "move":
            found: list[str] = []
            missing: list[str] = []
            for folder in (s.processed_folder, s.rejected_folder):
                typ, data = self._do("list", '""', _quoted(imap_utf7(folder)))
                (found if typ == "OK" and any(data) else missing).append(f"«{folder}»")
            text = "Теки для листів: " + (", ".join(found) + " є" if found else "")
            if missing:
                text += ("; " if found else "") + ", ".join(missing) + " буде створено під час першого переміщення"
            steps.append(CheckStep("folders", PASSED, text + "."))
        else:
            steps.append(
                CheckStep(
                    "folders", PASSED, 'Листи позначатимуться, а не переміщуватимуться ([mailbox] action = "flag").'
                )
            )
        return steps

    # --- waiting for new mail (IMAP IDLE, RFC 2177) ---------------------------------------------
    # imaplib of Python 3.11 has no IDLE, and its reader (a file over the socket) cannot wait with a time-out:
    # a read that times out leaves that file unusable.  On a connection given to waiting, these methods send
    # their own tagged commands (IMAP4.send) and read the socket themselves (IMAP4.socket, with a time-out per
    # read), after __enter__ has left imaplib's reader empty (nothing comes unasked before a folder is open).
    _wait_buffer: bytes = b""
    _wait_count: int = 0  # messages in the observed folder, as the server last said
    _wait_tags: int = 0

    @property
    def can_idle(self) -> bool:
        return "IDLE" in self.caps

    def observe(self, folder: str) -> None:
        """Open ``folder`` read-only (EXAMINE) for :meth:`wait_for_new`; from here on this connection only waits."""
        self._wait_buffer, self._wait_count = b"", 0
        try:
            tag = self._send_tagged(f"EXAMINE {_quoted(imap_utf7(folder))}")
            self._finish(tag, f"відкрити теку «{folder}»")
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (imaplib.IMAP4.error, OSError)):
                raise ImapConnectionError(_imap_error(exc, self.s)) from exc
            raise

    def wait_for_new(self, seconds: float, *, reissue: float = IDLE_REISSUE_SECONDS) -> bool:
        """Wait in IDLE on the observed folder: True as soon as a new message arrives (``* N EXISTS`` above the
        count), False after ``seconds``.  The IDLE is ended (DONE) and begun again every ``reissue`` seconds, as
        servers drop an IDLE after 30 minutes.  A refusal or a broken connection is an :class:`ImapError`, after
        which the connection is closed; so is an interruption (Ctrl+C), which propagates."""
        if not self.can_idle:
            raise ImapError(f"Поштовий сервер {self.s.address} не підтримує IMAP IDLE.")
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                tag = self._send_tagged("IDLE")
                new = False
                while True:  # until the server's go-ahead («+ idling»); updates may come first
                    line = self._response(time.monotonic() + self.s.timeout)
                    if line is None:
                        raise ImapConnectionError(f"Поштовий сервер {self.s.address} не відповів на IDLE.")
                    if line.startswith(b"+"):
                        break
                    if line.startswith(tag + b" "):
                        self._server_ended(line)
                    new |= self._note(line)
                until = min(deadline, time.monotonic() + reissue)
                while not new:
                    line = self._response(until)
                    if line is None:
                        break
                    if line.startswith(tag + b" "):
                        self._server_ended(line)
                    new = self._note(line)
                self._open().send(b"DONE\r\n")
                new |= self._finish(tag, "IMAP IDLE")
                if new:
                    return True
            return False
        except BaseException as exc:
            self.abort()  # the conversation is in an unknown state: no LOGOUT on it
            if isinstance(exc, (imaplib.IMAP4.error, OSError)):
                raise ImapConnectionError(_imap_error(exc, self.s)) from exc
            raise

    def abort(self) -> None:
        """Drop the connection without a goodbye (a waiting connection whose state is not known)."""
        if self.conn is not None:
            try:
                self.conn.shutdown()
            except Exception:
                pass
            self.conn = None

    def _send_tagged(self, command: str) -> bytes:
        self._wait_tags += 1
        tag = f"cw{self._wait_tags}".encode("ascii")  # lower case: never one of imaplib's tags
        self._open().send(tag + b" " + command.encode("ascii") + b"\r\n")
        return tag

    def _finish(self, tag: bytes, what: str) -> bool:
        """Read up to the tagged answer to ``tag`` (which must be OK); True when a new message was announced."""
        new = False
        while True:
            line = self._response(time.monotonic() + self.s.timeout)
            if line is None:
                raise ImapConnectionError(
                    f"Поштовий сервер {self.s.address} не відповів за {self.s.timeout:g} с ({what})."
                )
            if line.startswith(tag + b" "):
                self._tagged_ok(line, what)
                return new
            new |= self._note(line)

    def _server_ended(self, line: bytes) -> None:
        """The IDLE answered by the server itself (refused, or ended unasked): not waited on again at once, which
        could become a loop of IDLEs; the watch sleeps instead."""
        self._tagged_ok(line, "IMAP IDLE")
        raise ImapError(f"Поштовий сервер {self.s.address} завершив IMAP IDLE сам.")

    def _tagged_ok(self, line: bytes, what: str) -> None:
        status = line.split(b" ", 2)[1:2]
        if status != [b"OK"]:
            text = line.decode("utf-8", "replace").strip()
            raise ImapError(f"Поштовий сервер {self.s.address} відмовив ({what}): {text}")

    def _note(self, line: bytes) -> bool:
        """An untagged response while waiting: the folder's count kept; True for a new message."""
        m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE)\b", line, re.IGNORECASE)
        if m:
            n = int(m.group(1))
            if m.group(2).upper() == b"EXPUNGE":
                self._wait_count = max(0, self._wait_count - 1)
                return False
            new, self._wait_count = n > self._wait_count, n
            return new
        if re.match(rb"\* BYE\b", line, re.IGNORECASE):
            text = line[6:].decode("utf-8", "replace").strip()
            raise ImapConnectionError(f"Поштовий сервер {self.s.address} закрив з’єднання: {text}")
        return False

    def _response(self, until: float) -> bytes | None:
        """The next whole response (its literals included), or None when ``until`` (time.monotonic) came first."""
        while True:
            end = _response_end(self._wait_buffer)
            if end is not None:
                line, self._wait_buffer = self._wait_buffer[:end], self._wait_buffer[end:]
                return line
            if len(self._wait_buffer) > MAX_WAIT_RESPONSE:
                raise ImapConnectionError(f"Поштовий сервер {self.s.address} надіслав завелику відповідь.")
            left = until - time.monotonic()
            if left <= 0:
                return None
            sock = self._open().socket()
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue  # the loop sees the time is up (or, woken early, waits for the rest)
            finally:
                sock.settimeout(self.s.timeout)
            if not chunk:
                raise ImapConnectionError(f"Поштовий сервер {self.s.address} закрив з’єднання.")
            self._wait_buffer += chunk


def _response_end(buf: bytes) -> int | None:
    """Where the first whole response in ``buf`` ends (past its CRLF), literals ``{n}`` included; None if none yet."""
    pos = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        literal = re.search(rb"\{(\d+)\}$", buf[pos:eol])
        if literal is None:
            return eol + 2
        pos = eol + 2 + int(literal.group(1))
        if pos > len(buf):
            return None


def internal_date(line: bytes) -> str:
    """The INTERNALDATE of a FETCH response line as ISO time (this computer's offset), or "" when absent or
    unreadable; parsed by imaplib.Internaldate2tuple (English month names whatever the locale)."""
    try:
        stamp = imaplib.Internaldate2tuple(line)
        if stamp is None:
            return ""
        return dt.datetime.fromtimestamp(time.mktime(stamp)).astimezone().isoformat()
    except (KeyError, ValueError, OverflowError):  # a month name or a field the parser does not know
        return ""


def _imap_error(exc: Exception, s: MailboxSettings) -> str:
    from .mail import network_error

    where = s.address
    common = network_error(
        exc, s.host, where, s.timeout, address_hint="[mailbox] host і port", cafile_hint="[mailbox] cafile"
    )
    if common is not None:
        return common
    if isinstance(exc, UnicodeEncodeError):
        return (
            "Ім’я користувача або пароль містить символи поза ASCII (напр. кирилицю), а сервер не приймає вхід "
            "AUTH=PLAIN, яким їх можна передати; задайте пароль латиницею."
        )
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        if s.oauth is not None and ("auth" in text.lower() or "login" in text.lower()):
            return (
                f"Поштовий сервер {where} не прийняв токен застосунку {s.oauth.client_id} для скриньки «{s.user}» "
                f"({text}). Перевірте, що застосунку надано дозвіл IMAP.AccessAsApp зі згодою адміністратора, а в "
                "Exchange Online його зареєстровано (New-ServicePrincipal) і надано доступ до цієї скриньки "
                "(Add-MailboxPermission … -AccessRights FullAccess); див. docs/mail.md."
            )
        if "auth" in text.lower() or "login" in text.lower() or "credentials" in text.lower():
            return (
                f"Поштовий сервер {where} відхилив вхід користувача «{s.user}» ({text}). Перевірте ім’я і пароль "
                f"(змінна середовища {s.password_env}; для Gmail — пароль застосунку; для Microsoft 365 — "
                'auth = "oauth2", див. docs/mail.md).'
            )
        return f"Помилка поштового сервера {where}: {text}."
    if isinstance(exc, OSError):
        return f"Не вдалося з’єднатися з поштовим сервером {where}: {exc.strerror or exc}."
    return f"Помилка під час з’єднання з поштовим сервером {where}: {exc}."


# ---------------------------------------------------------------------------------
# the ledger's messages
# ---------------------------------------------------------------------------------

_MESSAGE_COLUMNS = (
    "id",
    "message_key",
    "message_id",
    "sender",
    "sender_name",
    "sent_at",
    "subject",
    "raw_sha256",
    "raw_path",
    "size",
    "folder",
    "uidvalidity",
    "uid",
    "fetched_at",
    "kind",
    "state",
    "outcome",
    "reply",
    "reply_message_id",
    "replied_at",
    "moved_to",
    "done_at",
    "delivered_at",
)
_PART_COLUMNS = ("message", "seq", "name", "container", "size", "sha256", "taken", "reason", "known_before")


@dataclass(frozen=True)
class MessageRecord:
    id: int
    message_key: str
    message_id: str
    sender: str
    sender_name: str
    sent_at: str
    subject: str
    raw_sha256: str
    raw_path: str
    size: int
    folder: str
    uidvalidity: int
    uid: int
    fetched_at: str
    kind: str
    state: str
    outcome: str
    reply: str
    reply_message_id: str
    replied_at: str
    moved_to: str
    done_at: str
    delivered_at: str  # when the message reached the mailbox (the server's INTERNALDATE), "" if unknown


@dataclass(frozen=True)
class PartRecord:
    message: int
    seq: int
    name: str
    container: str
    size: int
    sha256: str
    taken: int
    reason: str
    known_before: int


def _message_where(ledger: Ledger, where: str, args: tuple) -> list[MessageRecord]:
    rows = ledger.db.execute(
        f"SELECT {', '.join(_MESSAGE_COLUMNS)} FROM messages WHERE {where} ORDER BY id", args
    ).fetchall()
    return [MessageRecord(*r) for r in rows]


def messages(ledger: Ledger, state: str | None = None) -> list[MessageRecord]:
    """Messages taken from the mailbox, oldest first."""
    return _message_where(ledger, "state = ?", (state,)) if state else _message_where(ledger, "1", ())


def message_parts(ledger: Ledger, message: int) -> list[PartRecord]:
    rows = ledger.db.execute(
        f"SELECT {', '.join(_PART_COLUMNS)} FROM message_parts WHERE message = ? ORDER BY seq", (message,)
    ).fetchall()
    return [PartRecord(*r) for r in rows]


def part_states(ledger: Ledger) -> dict[int, list[tuple[str, str]]]:
    """For every message: (name, state) of each attachment, in one query — the state is the received file's
    status, "already" (the same bytes were in the ledger before), "refused" (not taken), or "missing" (taken but
    the file is not recorded: the message stopped before its intake)."""
    rows = ledger.db.execute(
        "SELECT p.message, p.name, p.taken, p.known_before, f.status FROM message_parts p "
        "LEFT JOIN files f ON f.sha256 = p.sha256 AND p.taken = 1 ORDER BY p.message, p.seq"
    ).fetchall()
    out: dict[int, list[tuple[str, str]]] = {}
    for message, name, taken, known_before, status in rows:
        state = "refused" if not taken else "missing" if status is None else "already" if known_before else status
        out.setdefault(message, []).append((name, state))
    return out


def mail_origins(ledger: Ledger) -> dict[str, MessageRecord]:
    """For each file's sha256 first received from the mailbox: the message it came with."""
    rows = ledger.db.execute(
        f"SELECT p.sha256, {', '.join('m.' + c for c in _MESSAGE_COLUMNS)} FROM message_parts p "
        "JOIN messages m ON m.id = p.message WHERE p.taken = 1 AND p.known_before = 0 ORDER BY m.id"
    ).fetchall()
    out: dict[str, MessageRecord] = {}
    for sha, *rest in rows:
        out.setdefault(sha, MessageRecord(*rest))
    return out


def describe_origin(rec: MessageRecord) -> str:
    """«mvs@example.org, лист від 15.01.2025 10:12» (the message's own date; else when it was fetched)."""
    from .status import format_time

    return f"{rec.sender or 'невідома адреса'}, лист від {format_time(rec.sent_at or rec.fetched_at)}"


def _advance(ledger: Ledger, message: int, **changes) -> None:
    with ledger.transaction():
        _set(ledger, message, **changes)


def _set(ledger: Ledger, message: int, **changes) -> None:
    cols = ", ".join(f"{k} = ?" for k in changes)
    ledger.db.execute(f"UPDATE messages SET {cols} WHERE id = ?", (*changes.values(), message))


def _add_sender_findings(ledger: Ledger, file_id: int, findings: list[Finding]) -> None:
    """Append findings to a recorded file (inside the caller's transaction); an accepted file becomes accepted
    with warnings."""
    start = ledger.db.execute(
        "SELECT coalesce(max(seq), -1) + 1 FROM findings WHERE file_id = ?", (file_id,)
    ).fetchone()[0]
    ledger.db.executemany(
        "INSERT INTO findings (file_id, seq, severity, code, message, sheet, cell, row_key, found, expected) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (file_id, start + i, f.severity, f.code, f.message, f.sheet, f.cell, f.row_key, f.found, f.expected)
            for i, f in enumerate(findings)
        ],
    )
    ledger.db.execute("UPDATE files SET status = ? WHERE id = ? AND status = ?", (ACCEPTED_WARNINGS, file_id, ACCEPTED))
    ledger.db.execute(
        "UPDATE submissions SET status = ? WHERE file_id = ? AND status = ?", (ACCEPTED_WARNINGS, file_id, ACCEPTED)
    )


# ---------------------------------------------------------------------------------
# receipts
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    """One attachment as the receipt reports it."""

    name: str
    container: str
    status: str  # a file state, "already" or "refused"
    label: str
    executor: str | None = None
    period: str | None = None
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    received_before: str = ""
    sha256: str = ""  # the file's, when the ledger has it (its archived copy can be downloaded)


def file_results(ws, ledger: Ledger, rec: MessageRecord, limits: mailparts.Limits) -> list[FileResult]:
    out = []
    for part in message_parts(ledger, rec.id):
        if not part.taken:
            out.append(
                FileResult(part.name, part.container, "refused", "не прийнято", reason=limits.reason_text(part.reason))
            )
            continue
        f = ledger.file(part.sha256)
        if f is None:  # not recorded (should not happen after the intake): say so rather than guess
            out.append(
                FileResult(
                    part.name,
                    part.container,
                    "refused",
                    "не оброблено",
                    reason="файл не вдалося обробити; надішліть його повторно",
                )
            )
            continue
        findings = tuple(ledger.file_findings(f.id))
        if part.known_before:
            out.append(
                FileResult(
                    part.name,
                    part.container,
                    "already",
                    "вже отримано раніше",
                    f.executor,
                    f.period,
                    findings=findings,
                    received_before=f.received_at,
                    sha256=f.sha256,
                )
            )
        else:
            out.append(
                FileResult(
                    part.name,
                    part.container,
                    f.status,
                    STATE_LABELS[f.status],
                    f.executor,
                    f.period,
                    findings=findings,
                    sha256=f.sha256,
                )
            )
    return out


def receipt_accepted(results: list[FileResult]) -> bool:
    """Whether the message goes to «Оброблено»: at least one attachment was received as a return."""
    return any(
        r.status in (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED_ERRORS) or (r.status == "already" and r.executor)
        for r in results
    )


def receipt_body(ws, rec: MessageRecord, results: list[FileResult], settings: MailboxSettings) -> str:
    from .mail import finding_lines, signature, workspace_sender
    from .status import format_time

    cat = ws.catalogue
    when = format_time(rec.sent_at) if rec.sent_at else ""
    about = "Ваш лист" + (f" від {when}" if when else "") + (f" («{rec.subject}»)" if rec.subject else "")
    lines = ["Шановні колеги!", "", f"{about} отримано {format_time(rec.fetched_at)} і оброблено автоматично.", ""]
    if rec.kind == MALFORMED:
        lines += [
            "Лист не вдалося прочитати: його структуру пошкоджено (можливо, під час пересилання). "
            "Надішліть, будь ласка, файл звіту повторно звичайним вкладенням до нового листа."
        ]
    elif rec.kind == TOO_LARGE:
        lines += [
            f"Лист завеликий ({rec.size / 1048576:.1f} МБ; приймаємо листи до "
            f"{settings.max_message_bytes // 1048576} МБ), його не оброблено. Надішліть файл звіту окремим "
            f"листом без інших вкладень; за потреби стисніть його в архів .zip."
        ]
    elif not results:
        lines += [
            "У листі немає файлу звіту (електронної таблиці). Додайте заповнений шаблон звіту (.xlsx) "
            "вкладенням і надішліть лист повторно."
        ]
    else:
        lines.append("Вкладені файли:")
        for n, r in enumerate(results, 1):
            where = f" ({r.container})" if r.container else ""
            who = ""
            if r.executor:
                ex = cat.registry.get(r.executor)
                who = f"; виконавець: {ex.short_name if ex else r.executor}" + (
                    f", період: {r.period}" if r.period else ""
                )
            if r.status == "refused":
                lines.append(f"{n}. «{r.name}»{where} — не прийнято: {r.reason}.")
                continue
            if r.status == "already":
                lines.append(
                    f"{n}. «{r.name}»{where} — цей самий файл уже отримано {format_time(r.received_before)}"
                    f"{who}; повторно не оброблявся."
                )
                continue
            lines.append(f"{n}. «{r.name}»{where} — {r.label}{who}.")
            if r.findings:
                lines += ["   " + x for x in finding_lines(list(r.findings))]
        lines += ["", "Що робити далі:"]
        statuses = {r.status for r in results}
        if ACCEPTED_ERRORS in statuses:
            lines.append(
                "— Виправте помилки в тому самому файлі (аркуш і клітинку вказано) і надішліть його повторно "
                "у відповідь на цей лист: значення з помилками не можуть увійти до зведеного звіту."
            )
        if QUARANTINED in statuses or "refused" in statuses:
            lines.append(
                "— Файли, які не прийнято, не враховано. Заповніть саме шаблон, надісланий міністерством, "
                "не змінюйте його службових відомостей і надішліть у форматі .xlsx у відповідь на цей лист."
            )
        if ACCEPTED_WARNINGS in statuses and ACCEPTED_ERRORS not in statuses:
            lines.append(
                "— Попередження не перешкоджають прийняттю звіту; перевірте їх і, якщо треба, надішліть "
                "виправлений файл."
            )
        if statuses <= {ACCEPTED, ACCEPTED_WARNINGS, "already"}:
            lines.append(
                "— Нічого робити не потрібно: звіт прийнято. Якщо надішлете виправлений файл, буде враховано новіший."
            )
    sender = workspace_sender(ws)
    lines += [
        "",
        "Це автоматична квитанція; відповідати на неї не потрібно.",
        f"З питань заповнення звертайтеся: {sender.contact or sender.address}",
        "",
        signature(sender),
    ]
    return "\n".join(lines) + "\n"


def receipt_message(
    ws, rec: MessageRecord, parsed_refs: list[str], to: str, body: str, now: dt.datetime, message_id: str
) -> EmailMessage:
    from .mail import encode_words, workspace_sender

    sender = workspace_sender(ws)
    if not sender.address or "@" not in sender.address:
        raise ConsolidateError("Не задано адресу відправника квитанцій: вкажіть [mail] sender у consolidate.toml")
    msg = EmailMessage(policy=policy.SMTP)
    if sender.name and not sender.name.isascii():
        msg.set_raw("From", f"{encode_words(sender.name, 'From')} <{sender.address}>")
    else:
        msg["From"] = formataddr((sender.name, sender.address))
    msg["To"] = to
    subject = rec.subject or "ваш лист"
    subject = subject if re.match(r"(?i)^(re|відп|вiдп|отв)\s*:", subject) else f"Re: {subject}"
    msg.set_raw("Subject", encode_words(subject, "Subject"))
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    if rec.message_id:
        msg["In-Reply-To"] = rec.message_id
        msg["References"] = " ".join([*parsed_refs, rec.message_id][-10:])
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: responders must not answer it
    msg["X-Auto-Response-Suppress"] = "All"  # the same for Exchange and Outlook
    msg["X-Consolidate-Kind"] = "receipt"
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg


class SmtpOnce:
    """Sends a message so that a kill at any moment leaves it sent at most once.

    The whole message goes to the server first; ``before_commit`` (which records «replying» in the ledger)
    runs before the final ``.``, and only that line makes the server take the message.  smtplib's
    ``mail``/``rcpt``/``docmd``/``send``/``getreply`` do each step; the dot-stuffing is RFC 5321 4.5.2.
    """

    def __init__(self, session):
        self.session = session

    def send(self, msg: EmailMessage, from_addr: str, to_addrs: list[str], before_commit: Callable[[], None]) -> None:
        smtp = self.session.smtp
        data = msg.as_bytes(policy=policy.SMTP)
        data = re.sub(rb"(?m)^\.", b"..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        import smtplib

        try:
            code, resp = smtp.mail(from_addr)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, resp, from_addr)
            for addr in to_addrs:
                code, resp = smtp.rcpt(addr)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({addr: (code, resp)})
            code, resp = smtp.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, resp)
            smtp.send(data)
        except smtplib.SMTPRecipientsRefused as exc:
            _rset(smtp)
            raise ConsolidateError(
                "поштовий сервер відхилив адресата квитанції: "
                + ", ".join(
                    f"{a} ({c} {m.decode('utf-8', 'replace') if isinstance(m, bytes) else m})"
                    for a, (c, m) in exc.recipients.items()
                )
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _rset(smtp)
            raise ConsolidateError(f"поштовий сервер не прийняв квитанцію ({exc})") from exc
        before_commit()
        smtp.send(b".\r\n")
        code, resp = smtp.getreply()
        if code != 250:
            raise ConsolidateError(
                f"поштовий сервер не прийняв квитанцію ({code} "
                f"{resp.decode('utf-8', 'replace') if isinstance(resp, bytes) else resp})"
            )


def _rset(smtp) -> None:
    try:
        smtp.rset()
    except Exception:
        pass


# ---------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------


@dataclass
class MessageOutcome:
    """What one run did with one message."""

    message_key: str
    sender: str
    subject: str
    sent_at: str
    kind: str
    files: list[FileResult] = field(default_factory=list)
    reply: str = ""  # SENT, UNCERTAIN, or "not-sent:<reason>"
    moved_to: str = ""
    duplicate: bool = False
    error: str = ""  # why processing stopped for now (it resumes on the next run)

    @property
    def accepted(self) -> bool:
        return receipt_accepted(self.files)


KIND_LABELS = {
    WITH_FILES: "з файлами",
    NO_FILES: "без файлу звіту",
    MALFORMED: "пошкоджений лист",
    TOO_LARGE: "завеликий лист (не завантажено)",
}
# A message's step not yet done (messages.state before "moved"): what is left, in the clerk's words.
PENDING_LABELS = {
    "fetched": "файли ще не прийнято",
    "recorded": "квитанцію ще не надіслано",
    "replying": "квитанція надсилалася, коли роботу перервано",
    "replied": "лист ще не переміщено",
}

NO_REPLY_LABELS = {
    "auto-submitted": "автоматичний лист",
    "auto-reply": "автовідповідь",
    "bulk": "масова розсилка",
    "mailing-list": "список розсилки",
    "mailer-daemon": "службовий лист поштового сервера",
    "own-address": "лист із власної адреси скриньки",
    "disabled": "квитанції вимкнено",
    "no-files": "квитанції про листи без вкладень вимкнено",
    "no-address": "немає адреси відправника",
    "duplicate": "повторний лист, уже оброблений",
}


def reply_label(reply: str) -> str:
    if reply == SENT:
        return "квитанцію надіслано"
    if reply == UNCERTAIN:
        return "квитанцію, можливо, не надіслано (роботу було перервано під час надсилання)"
    if reply.startswith("not-sent:"):
        return "без квитанції: " + NO_REPLY_LABELS.get(reply[9:], reply[9:])
    return reply


def _Lock(path: Path) -> Lock:
    """One mailbox run per workspace at a time (an OS lock: released when the process dies)."""
    return Lock(
        path, "Пошту цієї робочої теки вже обробляє інший процес (consolidate mail fetch); дочекайтеся його завершення."
    )


def _durable_write(path: Path, data: bytes) -> None:
    """``data`` under ``path``, flushed (nothing written when it already holds those bytes)."""
    if path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest():
        return
    atomic_write(path, data)


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone().replace(microsecond=0)


class _Run:
    def __init__(
        self,
        ws,
        settings: MailboxSettings,
        smtp,
        ledger: Ledger,
        imap: Imap,
        on_step: Callable[[str, str], None] | None,
        now: Callable[[], dt.datetime],
    ):
        self.ws, self.s, self.smtp_settings, self.ledger, self.imap = ws, settings, smtp, ledger, imap
        self.on_step = on_step or (lambda step, key: None)
        self.now = now
        self.smtp_session: SmtpSession | None = None
        from .mail import workspace_sender

        self.own = tuple(a for a in (workspace_sender(ws).address.lower(), settings.user.lower()) if "@" in a)

    def close(self) -> None:
        if self.smtp_session is not None:
            self.smtp_session.__exit__(None, None, None)
            self.smtp_session = None

    # --- step 1 ------------------------------------------------------------------------
    def take(self, uid: int) -> MessageOutcome | None:
        meta = self.imap.size_and_arrival(uid)
        if meta is None:
            return None  # gone meanwhile
        size, delivered_at = meta
        too_large = size > self.s.max_message_bytes
        raw = self.imap.fetch(uid, "BODY.PEEK[HEADER]" if too_large else "BODY.PEEK[]")
        if raw is None:
            return None
        raw_sha = hashlib.sha256(raw).hexdigest()
        parsed = (
            mailparts.parse(raw, self.s.limits, self.own)
            if not too_large
            else mailparts.parse(raw + b"\r\n", self.s.limits, self.own)
        )
        key = parsed.message_id or f"sha256:{raw_sha}"
        known = _message_where(self.ledger, "message_key = ?", (key,))
        if known:
            earlier = known[0]
            new = [p for p in parsed.taken if not self.ledger.has_file(p.sha256)]
            if earlier.state != "moved":
                return None  # resumed separately
            if not new:  # the same message again (sent twice, or a copy left by a move the server half did)
                where = self.imap.file_away(uid, True)
                return MessageOutcome(
                    key,
                    parsed.sender,
                    parsed.subject,
                    parsed.sent_at,
                    earlier.kind,
                    duplicate=True,
                    moved_to=where,
                    reply="not-sent:duplicate",
                )
            key = f"{key}#{raw_sha[:16]}"
            if _message_where(self.ledger, "message_key = ?", (key,)):
                return None
        rel = f"{MESSAGES_DIR}/{raw_sha[:2]}/{raw_sha}.eml"
        _durable_write(self.ws.root / rel, raw)
        kind = TOO_LARGE if too_large else MALFORMED if parsed.malformed else WITH_FILES if parsed.parts else NO_FILES
        with self.ledger.transaction():
            cur = self.ledger.db.execute(
                "INSERT INTO messages (message_key, message_id, sender, sender_name, sent_at, subject, raw_sha256, "
                "raw_path, size, folder, uidvalidity, uid, fetched_at, kind, state, reply, delivered_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    parsed.message_id,
                    parsed.sender,
                    parsed.sender_name,
                    parsed.sent_at,
                    parsed.subject,
                    raw_sha,
                    rel,
                    size,
                    self.s.folder,
                    self.imap.uidvalidity,
                    uid,
                    self.now().isoformat(),
                    kind,
                    "fetched",
                    "",
                    delivered_at,
                ),
            )
            mid = cur.lastrowid
            self.ledger.db.executemany(
                "INSERT INTO message_parts (message, seq, name, container, size, sha256, taken, reason, known_before) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        mid,
                        n,
                        p.name,
                        p.container,
                        p.size,
                        p.sha256,
                        int(p.taken),
                        p.reason,
                        int(p.taken and self.ledger.has_file(p.sha256)),
                    )
                    for n, p in enumerate(parsed.parts)
                ],
            )
        self.on_step("fetched", key)
        return self.resume(_message_where(self.ledger, "id = ?", (mid,))[0])

    # --- steps 2 to 5 ------------------------------------------------------------------
    def resume(self, rec: MessageRecord) -> MessageOutcome:
        raw = (self.ws.root / rec.raw_path).read_bytes() if rec.state in ("fetched", "recorded") else b""
        parsed = mailparts.parse(raw, self.s.limits, self.own) if raw else None
        outcome = MessageOutcome(rec.message_key, rec.sender, rec.subject, rec.sent_at, rec.kind)
        try:
            if rec.state == "fetched":
                rec = self._receive(rec, parsed)
            if rec.state == "recorded":
                rec = self._reply(rec, parsed)
            if rec.state == "replying":  # killed while the receipt was being sent: never a second one
                _advance(self.ledger, rec.id, state="replied", reply=UNCERTAIN, replied_at=self.now().isoformat())
                rec = self._reload(rec)
            if rec.state == "replied":
                rec = self._move(rec)
        except ImapConnectionError:
            raise  # the connection is gone: the run stops; every step recorded so far stays done
        except ConsolidateError as exc:
            outcome.error = str(exc)
            rec = self._reload(rec)
        except OSError as exc:  # the workspace's disk (full, not writable): this message waits for the next run
            outcome.error = f"не вдалося записати до робочої теки: {exc.strerror or exc}"
            rec = self._reload(rec)
        outcome.files = file_results(self.ws, self.ledger, rec, self.s.limits) if rec.state != "fetched" else []
        outcome.reply, outcome.moved_to = rec.reply, rec.moved_to
        return outcome

    def _reload(self, rec: MessageRecord) -> MessageRecord:
        return _message_where(self.ledger, "id = ?", (rec.id,))[0]

    def _receive(self, rec: MessageRecord, parsed) -> MessageRecord:
        from .inbox import run_intake

        parts = message_parts(self.ledger, rec.id)
        taken = {p.seq: p for p in parts if p.taken}
        staged: dict[Path, str] = {}
        folder = self.ws.root / STAGING_DIR / rec.raw_sha256[:16]
        if taken:
            found = {n: p for n, p in enumerate(parsed.parts)} if parsed else {}
            for seq, part in taken.items():
                got = found.get(seq)
                if got is None or got.sha256 != part.sha256:
                    raise ConsolidateError(
                        f"Збережена копія листа «{rec.subject}» ({rec.raw_path}) не відповідає "
                        f"журналу; лист не оброблено."
                    )
                path = folder / f"{seq:03d}.{mailparts.spreadsheet_kind(got.data) or 'bin'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(got.data)
                staged[path] = part.name
            run_intake(self.ws, list(staged), names=staged, workers=1, received_at=self._received_at(rec))
        self.on_step("archived", rec.message_key)
        with self.ledger.transaction():
            for part in taken.values():
                f = self.ledger.file(part.sha256)
                if f is None:
                    raise ConsolidateError(
                        f"Файл «{part.name}» листа «{rec.subject}» не записано до журналу; "
                        "лист буде оброблено наступного разу."
                    )
                if not part.known_before and f.executor and f.status != QUARANTINED:
                    finding = self._sender_check(rec.sender, f.executor, part.name)
                    if finding is not None:
                        _add_sender_findings(self.ledger, f.id, [finding])
            accepted = receipt_accepted(file_results(self.ws, self.ledger, rec, self.s.limits))
            _set(self.ledger, rec.id, state="recorded", outcome="accepted" if accepted else "not-accepted")
        shutil.rmtree(folder, ignore_errors=True)
        self.on_step("recorded", rec.message_key)
        return self._reload(rec)

    def _received_at(self, rec: MessageRecord) -> dt.datetime:
        """When the return was received: when its message reached the mailbox (INTERNALDATE), so that a message
        delivered before the deadline is on time however late it is fetched; the time of the fetch when the server
        gave no date or a date in the future (a wrong clock)."""
        now = self.now()
        try:
            delivered = dt.datetime.fromisoformat(rec.delivered_at) if rec.delivered_at else None
        except ValueError:
            delivered = None
        if delivered is None or delivered.tzinfo is None or delivered > now:
            return now
        return delivered

    def _sender_check(self, sender: str, executor: str, name: str) -> Finding | None:
        ex = self.ws.catalogue.registry.get(executor)
        if ex is None:
            return None
        known = {e.strip().lower() for e in ex.emails}
        if sender and sender.lower() in known:
            return None
        listed = ", ".join(ex.emails) if ex.emails else "адрес у реєстрі немає"
        return Finding(
            name,
            WARNING,
            SENDER_CODE,
            f"Файл надіслано з адреси {sender or '(невідомої)'}, якої немає в реєстрі для "
            f"«{ex.short_name}» ({listed}).",
            found=sender,
            expected=", ".join(ex.emails),
        )

    def _no_reply_reason(self, rec: MessageRecord, parsed) -> str:
        if not self.s.receipts:
            return "disabled"
        if parsed is not None and parsed.auto:
            return parsed.auto
        if rec.kind == NO_FILES and not self.s.no_files_receipt:
            return "no-files"
        if parsed is None or not parsed.reply_to:
            return "no-address"
        return ""

    def _reply(self, rec: MessageRecord, parsed) -> MessageRecord:
        from .mail import workspace_sender

        reason = self._no_reply_reason(rec, parsed)
        if reason:
            _advance(self.ledger, rec.id, state="replied", reply=f"not-sent:{reason}")
            self.on_step("replied", rec.message_key)
            return self._reload(rec)
        results = file_results(self.ws, self.ledger, rec, self.s.limits)
        body = receipt_body(self.ws, rec, results, self.s)
        domain = (self.own[0].rpartition("@")[2] if self.own else "") or "localhost"
        reply_id = make_msgid("receipt", domain=domain)
        msg = receipt_message(self.ws, rec, parsed.references, parsed.reply_to, body, self.now(), reply_id)
        session = self._smtp()

        def before_commit():
            _advance(self.ledger, rec.id, state="replying", reply_message_id=reply_id)
            self.on_step("replying", rec.message_key)

        try:
            SmtpOnce(session).send(msg, workspace_sender(self.ws).address, [parsed.reply_to], before_commit)
        except ConsolidateError:
            if self._reload(rec).state == "replying":  # refused after the whole message: not delivered
                _advance(self.ledger, rec.id, state="recorded", reply_message_id="")
            raise
        except (OSError, Exception) as exc:  # the connection broke after the message was marked: it may be sent
            if self._reload(rec).state == "replying":
                _advance(self.ledger, rec.id, state="replied", reply=UNCERTAIN, replied_at=self.now().isoformat())
                return self._reload(rec)
            raise ConsolidateError(f"квитанцію не надіслано ({exc})") from exc
        self.on_step("replied", rec.message_key)
        when = self.now().isoformat()
        who = next((r for r in results if r.executor), None)
        with self.ledger.transaction():  # the receipt also joins the mail log (the executor's letters), atomically
            _set(self.ledger, rec.id, state="replied", reply=SENT, replied_at=when)
            self.ledger.db.execute(
                "INSERT INTO mail (executor, period, kind, recipients, subject, attachment_name, attachment_sha256, "
                "via, location, message_id, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    who.executor if who else "",
                    (who.period or "") if who else "",
                    RECEIPT,
                    parsed.reply_to,
                    str(msg["Subject"]),
                    "",
                    "",
                    "smtp",
                    self.smtp_settings.address,
                    reply_id,
                    when,
                ),
            )
        return self._reload(rec)

    def _smtp(self):
        if self.smtp_session is None:
            from .mail import SmtpSession

            if self.smtp_settings is None:
                raise ConsolidateError(NO_SMTP)
            self.smtp_session = SmtpSession(self.smtp_settings).__enter__()
        return self.smtp_session

    def _move(self, rec: MessageRecord) -> MessageRecord:
        results = file_results(self.ws, self.ledger, rec, self.s.limits)
        accepted = receipt_accepted(results)
        if rec.uidvalidity == self.imap.uidvalidity and rec.folder == self.s.folder and self.imap.exists(rec.uid):
            uids = [rec.uid]
        else:
            uids = self.imap.find(rec.message_id)
        where = ""
        for uid in uids:
            where = self.imap.file_away(uid, accepted)
        if not where:  # moved by a run killed before it could record that (or by someone else)
            where = self.s.processed_folder if accepted else self.s.rejected_folder
        self.on_step("moved", rec.message_key)
        _advance(self.ledger, rec.id, state="moved", moved_to=where, done_at=self.now().isoformat())
        return self._reload(rec)


def fetch_mail(
    ws,
    settings: MailboxSettings,
    smtp=None,
    *,
    on_step: Callable[[str, str], None] | None = None,
    on_message: Callable[[MessageOutcome], None] | None = None,
    now: Callable[[], dt.datetime] = _now,
    sandbox: bool = False,
) -> list[MessageOutcome]:
    """Take every message of the mailbox folder once (see the module's docstring); messages a killed run left
    part-way are finished first.

    ``sandbox``: the servers are the demo's throw-away ones on this computer (consolidate.mailsandbox), whose
    receipts reach no one, so the placeholder sender of a fresh workspace may send them.
    """
    ws.ensure_dirs()
    if settings.receipts and not sandbox:
        from .mail import PLACEHOLDER_DOMAINS, workspace_sender

        address = workspace_sender(ws).address
        domain = address.rpartition("@")[2].lower()
        if "@" not in address or domain in PLACEHOLDER_DOMAINS or domain.endswith(".example"):
            raise ConsolidateError(
                f"Квитанції не можна надсилати з адреси-заглушки «{address}»: укажіть скриньку "
                f"міністерства в [mail] sender у consolidate.toml (або вимкніть квитанції: "
                f"[mailbox] receipts = false)."
            )
    outcomes: list[MessageOutcome] = []

    def emit(o: MessageOutcome | None) -> None:
        if o is not None:
            outcomes.append(o)
            if on_message:
                on_message(o)

    with _Lock(ws.root / LOCK_FILE), Ledger(ws.ledger_path) as ledger, Imap(settings) as imap:
        shutil.rmtree(ws.root / STAGING_DIR, ignore_errors=True)  # what a killed run staged is staged again
        run = _Run(ws, settings, smtp, ledger, imap, on_step, now)
        try:
            imap.select(settings.folder)
            for rec in _message_where(ledger, "state <> 'moved'", ()):
                emit(run.resume(rec))
            for uid in imap.uids():
                emit(run.take(uid))
        finally:
            run.close()
    return outcomes


class _Waiter:
    """The watch's own connection for waiting between rounds in IMAP IDLE (see :func:`watch_mail`)."""

    def __init__(self, settings: MailboxSettings):
        self.s = settings
        self.imap: Imap | None = None
        self.why = ""  # why the next wait is a plain sleep
        self.unsupported = False

    def prepare(self) -> None:
        """Before a round: connected, the folder observed, so that a message arriving during the round ends the
        next wait at once.  Failing is not an error: the wait is then a sleep, and the next round tries again."""
        if self.imap is not None or self.unsupported:
            return
        imap = Imap(self.s)
        try:
            imap.__enter__()
            if not imap.can_idle:
                self.unsupported, self.why = True, "сервер не підтримує IMAP IDLE."
                imap.__exit__(None, None, None)
                return
            imap.observe(self.s.folder)
        except Exception as exc:
            imap.abort()
            self.why = str(exc)
            return
        self.imap, self.why = imap, ""

    def wait(self, seconds: float, sleep: Callable[[float], None], on_wait) -> None:
        if self.imap is not None:
            if on_wait:
                on_wait(True, seconds, "")
            started = time.monotonic()
            try:
                self.imap.wait_for_new(seconds)
                return
            except Exception as exc:  # refused, or the connection broke: a sleep for the rest of the time
                self.why = str(exc)
                self.close()
            seconds = max(0.0, seconds - (time.monotonic() - started))
        if on_wait:
            on_wait(False, seconds, self.why)
        sleep(seconds)

    def close(self) -> None:
        if self.imap is not None:
            self.imap.abort()
            self.imap = None


def watch_mail(
    ws,
    settings: MailboxSettings,
    smtp=None,
    *,
    rounds: int | None = None,
    on_round: Callable[[list[MessageOutcome] | None, str], None] | None = None,
    on_wait: Callable[[bool, float, str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs,
) -> int:
    """:func:`fetch_mail` in rounds; a round that fails (server down) is reported and retried next round.
    Returns the number of rounds run (``rounds``: stop after that many; None: until interrupted).

    Between rounds, when the server offers IDLE (and ``settings.idle``), a connection of its own waits in IDLE on
    the folder: a new message starts the next round at once, else it starts after ``poll_minutes``.  That
    connection is opened before each round it is missing for (a message arriving during the round then ends the
    wait) and is kept between rounds; the round's own connection stays as it is, opened and closed by the round.
    Without IDLE, or when it is refused or its connection breaks, the wait is ``sleep`` (for the rest of that
    wait).  ``on_wait(idle, seconds, why)`` is told how each wait is done (``why``: why it is not IDLE)."""
    done = 0
    waiter = _Waiter(settings) if settings.idle else None
    try:
        while rounds is None or done < rounds:
            if waiter is not None:
                waiter.prepare()
            try:
                result, error = fetch_mail(ws, settings, smtp, **kwargs), ""
            except ConsolidateError as exc:
                result, error = None, str(exc)
            done += 1
            if on_round:
                on_round(result, error)
            if rounds is not None and done >= rounds:
                break
            seconds = settings.poll_minutes * 60
            if waiter is not None:
                waiter.wait(seconds, sleep, on_wait)
            else:
                if on_wait:
                    on_wait(False, seconds, "")
                sleep(seconds)
    finally:
        if waiter is not None:
            waiter.close()
    return done


# ---------------------------------------------------------------------------------
# checking the settings (mail check)
# ---------------------------------------------------------------------------------

# CheckStep.state
PASSED, NOTED, FAILED, SKIPPED = "ok", "warning", "failed", "skipped"


@dataclass(frozen=True)
class CheckStep:
    """One thing ``mail check`` tried: what (``code``), how it went (``state``) and what it found (Ukrainian)."""

    code: str  # token, login, folder, server, folders, smtp
    state: str
    text: str


def check_mailbox(settings: MailboxSettings, smtp) -> list[CheckStep]:
    """Everything ``mail fetch`` needs, tried without taking, moving or sending anything: the token (OAuth 2.0),
    the login, the folder (opened read-only), the server's extensions, the folders for filing, the SMTP login for
    receipts.  A step that cannot be tried because an earlier one failed is SKIPPED."""
    from .mail import SmtpSession

    s = settings
    steps: list[CheckStep] = []
    token_ok = True
    if s.oauth is not None:
        try:
            token_source(s.oauth).token()
            steps.append(
                CheckStep(
                    "token",
                    PASSED,
                    f"Токен OAuth 2.0 для застосунку {s.oauth.client_id} отримано ({s.oauth.authority_url}).",
                )
            )
        except ConsolidateError as exc:
            token_ok = False
            steps.append(CheckStep("token", FAILED, str(exc)))
    if not token_ok:
        steps.append(CheckStep("login", SKIPPED, "Вхід до скриньки не перевірено: немає токена."))
    else:
        try:
            with Imap(s) as imap:
                conn = imap._open()
                sock = getattr(conn, "sock", None)
                tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
                how = "OAuth 2.0 (XOAUTH2)" if s.oauth is not None else "паролем"
                steps.append(
                    CheckStep(
                        "login",
                        PASSED,
                        f"Вхід до {s.address} як «{s.user}» ({how}" + (f", {tls}" if tls else "") + ").",
                    )
                )
                try:
                    steps.extend(imap.check_folders())
                except ConsolidateError as exc:  # the connection broke after the login
                    steps.append(CheckStep("folder", FAILED, str(exc)))
        except ConsolidateError as exc:
            steps.append(CheckStep("login", FAILED, str(exc)))
    if not s.receipts:
        steps.append(
            CheckStep("smtp", NOTED, "Квитанції вимкнено ([mailbox] receipts = false): відправники їх не отримають.")
        )
    elif smtp is None:
        steps.append(CheckStep("smtp", FAILED, NO_SMTP))
    elif smtp.oauth is not None and not token_ok:
        steps.append(CheckStep("smtp", SKIPPED, "Вхід на сервер SMTP не перевірено: немає токена."))
    else:
        try:
            with SmtpSession(smtp):
                pass
            how = (
                " як «" + smtp.user + "» (" + ("OAuth 2.0" if smtp.oauth is not None else "паролем") + ")"
                if smtp.user
                else " (без входу)"
            )
            steps.append(
                CheckStep(
                    "smtp", PASSED, f"Сервер SMTP для квитанцій {smtp.address}: з’єднання{how}, лист не надсилався."
                )
            )
        except ConsolidateError as exc:
            steps.append(CheckStep("smtp", FAILED, str(exc)))
    return steps
