"""Returns from the reporting mailbox: one run (``fetch``) or a watch loop (``watch``), as typed results; what the
ledger holds of the messages taken (``mailbox_messages``) and how the mailbox is set up (``mailbox_config``)."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ConsolidateError
from ..ledger import Ledger
from ..mailbox import (
    FAILED,
    KIND_LABELS,
    PENDING_LABELS,
    SENT,
    CheckStep,
    FileResult,
    MailboxSettings,
    MessageOutcome,
    check_mailbox,
    fetch_mail,
    file_results,
    mailbox_settings,
    messages,
    part_states,
    reply_label,
    smtp_from_workspace,
    watch_mail,
)
from ..mailparts import Limits
from ..model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, QUARANTINED
from ..oauth import OAUTH2, PASSWORD
from ..vocabulary import FileStatus
from .base import ExitCode, Result


@dataclass
class MailFetchResult(Result):
    """What one run did with the mailbox: each message, its files, its receipt, where it went."""

    mailbox: str
    folder: str
    messages: list[MessageOutcome] = field(default_factory=list)

    @property
    def new(self) -> list[MessageOutcome]:
        return [m for m in self.messages if not m.duplicate]

    @property
    def duplicates(self) -> int:
        return sum(1 for m in self.messages if m.duplicate)

    @property
    def receipts_sent(self) -> int:
        return sum(1 for m in self.messages if m.reply == SENT)

    @property
    def exit_code(self) -> ExitCode:
        """1 when a message stopped part-way, had no return, or any of its files was not accepted clean."""
        for m in self.new:
            if m.error or not m.files:
                return ExitCode.PROBLEMS
            if any(f.status not in (ACCEPTED, ACCEPTED_WARNINGS, "already") for f in m.files):
                return ExitCode.PROBLEMS
        return ExitCode.CLEAN

    def to_dict(self):
        data = super().to_dict()
        for m, d in zip(self.messages, data["messages"]):
            d["reply_label"] = reply_label(m.reply)
        data["duplicates"] = self.duplicates
        return data


@dataclass
class MailCheckResult(Result):
    """``mail check``: each thing tried (token, login, folder, server, folders, SMTP) and how it went."""

    mailbox: str
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """1 when a step failed (``mail fetch`` would not work); notes (no IDLE, say) do not count."""
        return ExitCode.PROBLEMS if any(step.state == FAILED for step in self.steps) else ExitCode.CLEAN


def check(ws, *, settings: MailboxSettings, smtp=None) -> MailCheckResult:
    """``consolidate mail check``: what ``mail fetch`` needs, tried without taking, moving or sending anything."""
    return MailCheckResult(settings.address, check_mailbox(settings, smtp))


def settings_for(
    ws, *, password: str | None = None, smtp=None, environ: Mapping[str, str] | None = None, prompt: bool = True
):
    """The mailbox settings and the SMTP settings for receipts (``smtp``: given on the command line, else
    [smtp] of consolidate.toml).  ``prompt``: whether the front could ask for a missing password (the web cannot)."""
    settings = mailbox_settings(ws, password=password, environ=environ, prompt=prompt)
    return settings, smtp if smtp is not None else smtp_from_workspace(ws, environ)


def reporting_address(ws) -> str:
    """The reporting mailbox's address: the workspace's [mail] sender (receipts come from it)."""
    from ..mail import workspace_sender

    return workspace_sender(ws).address


def sandbox_settings(ws, *, port: int, password: str, cafile: str, smtp_address: str):
    """(mailbox settings, SMTP settings) for the demo's throw-away servers on 127.0.0.1 (consolidate.mailsandbox):
    IMAPS on ``port`` with its self-signed certificate ``cafile``, the mailbox user the reporting address."""
    from ..mail import smtp_settings

    mailbox = MailboxSettings(host="127.0.0.1", port=port, user=reporting_address(ws), password=password, cafile=cafile)
    return mailbox, smtp_settings(smtp_address)


def fetch(
    ws,
    *,
    settings: MailboxSettings,
    smtp=None,
    on_message: Callable[[MessageOutcome], None] | None = None,
    on_step: Callable[[str, str], None] | None = None,
    now: Callable[[], dt.datetime] | None = None,
    sandbox: bool = False,
) -> MailFetchResult:
    """``consolidate mail fetch``: every new message once; receipts; messages filed away.

    ``now`` pins the clock (the demo replays its dates); ``sandbox``: the demo's throw-away servers
    (:func:`consolidate.mailbox.fetch_mail`)."""
    extra = {"now": now} if now is not None else {}
    messages = fetch_mail(ws, settings, smtp, on_message=on_message, on_step=on_step, sandbox=sandbox, **extra)
    return MailFetchResult(settings.address, settings.folder, messages)


def watch(
    ws,
    *,
    settings: MailboxSettings,
    smtp=None,
    rounds: int | None = None,
    on_round: Callable[[MailFetchResult | None, str], None] | None = None,
    on_message: Callable[[MessageOutcome], None] | None = None,
    on_wait: Callable[[bool, float, str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """``consolidate mail fetch --watch``: a run, then a wait — in IMAP IDLE (a new message ends it at once) when
    the server offers it and [mailbox] idle is not false, else a sleep — of at most ``poll_minutes``; a failed
    round is reported, not fatal.  ``on_wait(idle, seconds, why)`` says how each wait is done."""

    def round_done(messages, error: str) -> None:
        if on_round:
            on_round(None if messages is None else MailFetchResult(settings.address, settings.folder, messages), error)

    extra = {"sleep": sleep} if sleep is not None else {}
    return watch_mail(
        ws, settings, smtp, rounds=rounds, on_round=round_done, on_wait=on_wait, on_message=on_message, **extra
    )


# ---------------------------------------------------------------------------------
# what the ledger holds of the mailbox, and how it is set up
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxConfig:
    """[mailbox] as a page shows it: where the mailbox is and how the toolkit logs in to it — never a secret."""

    configured: bool  # [mailbox] host is set
    host: str = ""
    port: int = 0
    security: str = ""  # "tls" or "starttls"
    user: str = ""
    auth: str = ""  # "password" or "oauth2"
    credential: str = ""  # where the password or the application's secret comes from (a variable's name, a file)
    credential_set: bool = False  # the variable is set in this process's environment (or a certificate is used)
    folder: str = ""
    processed_folder: str = ""
    rejected_folder: str = ""
    action: str = ""  # "move" or "flag"
    receipts: bool = True
    smtp: str = ""  # the SMTP server of the receipts, host:port, or ""
    problem: str = ""  # why [mailbox] cannot be used as it stands ("" when it can)
    smtp_problem: str = ""  # why the receipts cannot be sent as [smtp] stands ("" when they can)

    @property
    def ready(self) -> bool:
        """Whether a fetch could start from these settings (the server may still refuse)."""
        return self.configured and not self.problem and self.credential_set and not self.smtp_problem


def mailbox_config(ws, environ: Mapping[str, str] | None = None) -> MailboxConfig:
    """The mailbox's settings with what is wrong with them, for a front to show (nothing is connected to)."""
    cfg = ws.config.get("mailbox") or {}
    if not cfg.get("host"):
        return MailboxConfig(False)
    try:
        s = mailbox_settings(ws, environ=environ, require_password=False)
    except ConsolidateError as exc:
        return MailboxConfig(True, host=str(cfg["host"]), user=str(cfg.get("user") or ""), problem=str(exc))
    if s.oauth is not None:
        auth, credential, credential_set = OAUTH2, s.oauth.credential_label, True  # read, or it would have raised
    else:
        env = os.environ if environ is None else environ
        auth, credential = PASSWORD, f"змінна середовища {s.password_env}"
        credential_set = bool(env.get(s.password_env))
    smtp, smtp_problem = "", ""
    try:
        found = smtp_from_workspace(ws, environ)
        smtp = found.address if found is not None else ""
    except ConsolidateError as exc:
        smtp_problem = str(exc)
    if s.receipts and not smtp and not smtp_problem:
        smtp_problem = (
            "Не налаштовано SMTP для квитанцій: додайте [smtp] server до consolidate.toml "
            "(або вимкніть квитанції: [mailbox] receipts = false)."
        )
    return MailboxConfig(
        True,
        host=s.host,
        port=s.port,
        security=s.security,
        user=s.user,
        auth=auth,
        credential=credential,
        credential_set=credential_set,
        folder=s.folder,
        processed_folder=s.processed_folder,
        rejected_folder=s.rejected_folder,
        action=s.action,
        receipts=s.receipts,
        smtp=smtp,
        smtp_problem=smtp_problem if s.receipts else "",
    )


# The listing's filters: code → the clerk's words (what a message must be to be shown).
MESSAGE_FILTERS = {
    "rejected": "не прийняті",
    "errors": "з помилками у файлах",
    "no-receipt": "без квитанції",
    "unfinished": "не завершені",
}
PER_PAGE = 100  # messages on one page of the listing
_FILE_PROBLEMS = {ACCEPTED_ERRORS, QUARANTINED, FileStatus.NOT_READ.value, "refused", "missing"}


def _matches(show: str, rec, states: list[tuple[str, str]]) -> bool:
    if show == "rejected":
        return rec.outcome == "not-accepted"
    if show == "errors":
        return any(state in _FILE_PROBLEMS for _, state in states)
    if show == "no-receipt":
        return rec.reply != SENT
    if show == "unfinished":
        return rec.state != "moved"
    return True


@dataclass(frozen=True)
class ListedMessage:
    """One message taken from the mailbox, as the ledger records it, with its attachments' results."""

    id: int
    delivered_at: str  # when it reached the mailbox (the server's INTERNALDATE); "" when the server gave none
    fetched_at: str
    sent_at: str  # the message's own Date
    sender: str
    sender_name: str
    subject: str
    kind: str  # mailbox.WITH_FILES, NO_FILES, MALFORMED, TOO_LARGE
    state: str  # the last step done ("moved" when finished)
    outcome: str  # "accepted" (to the processed folder), "not-accepted", or "" before its files were recorded
    reply: str  # mailbox.SENT, UNCERTAIN, "not-sent:<reason>", or "" before the receipt step
    moved_to: str  # the folder it was filed to (or how it was flagged); "" until then
    sender_executors: tuple[str, ...] = ()  # codes of the executors whose registry entry lists the sender's address
    files: tuple[FileResult, ...] = ()

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def reply_label(self) -> str:
        return reply_label(self.reply) if self.reply else "квитанції ще немає"

    @property
    def pending_label(self) -> str:
        """What is left to do with the message ("" when it is finished)."""
        return "" if self.state == "moved" else PENDING_LABELS.get(self.state, self.state)


@dataclass
class MailboxListed(Result):
    """The messages of the mailbox in the ledger, newest first, one page of them; with the mailbox's settings."""

    config: MailboxConfig
    messages: list[ListedMessage] = field(default_factory=list)  # the page shown
    total: int = 0  # messages in the ledger
    matched: int = 0  # of them, those the filter and the search let through
    counts: dict = field(default_factory=dict)  # filter code → messages it lets through (without the search)
    show: str = ""
    query: str = ""
    page: int = 1
    pages: int = 1
    per_page: int = PER_PAGE

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first message among those matched; 0 when none is."""
        return (self.page - 1) * self.per_page + 1 if self.messages else 0


def mailbox_messages(
    ws, *, show: str = "", query: str = "", page: int = 1, per_page: int = PER_PAGE, environ=None
) -> MailboxListed:
    """The messages taken from the mailbox, newest first by when they reached it; ``show`` one of
    :data:`MESSAGE_FILTERS` (else all), ``query`` found in the sender, subject or an attachment's name; one page."""
    if show and show not in MESSAGE_FILTERS:
        raise ConsolidateError(f"Невідомий відбір листів «{show}»: " + ", ".join(MESSAGE_FILTERS) + ".")
    config = mailbox_config(ws, environ)
    try:
        limits = mailbox_settings(ws, environ=environ, require_password=False).limits if config.configured else Limits()
    except ConsolidateError:
        limits = Limits()
    known: dict[str, list[str]] = {}
    for ex in ws.catalogue.registry:
        for address in ex.emails:
            known.setdefault(address.strip().lower(), []).append(ex.code)
    needle = query.strip().casefold()
    with Ledger(ws.ledger_path) as ledger:
        records = messages(ledger)
        states = part_states(ledger)
        counts = {code: sum(1 for r in records if _matches(code, r, states.get(r.id, []))) for code in MESSAGE_FILTERS}
        chosen = [
            r
            for r in records
            if _matches(show, r, states.get(r.id, []))
            and (
                not needle
                or needle in f"{r.sender} {r.sender_name} {r.subject}".casefold()
                or any(needle in name.casefold() for name, _ in states.get(r.id, []))
            )
        ]
        chosen.sort(key=lambda r: (_moment(r.delivered_at or r.fetched_at), r.id), reverse=True)
        pages = max(1, math.ceil(len(chosen) / per_page))
        page = min(max(1, page), pages)
        shown = [
            ListedMessage(
                r.id,
                r.delivered_at,
                r.fetched_at,
                r.sent_at,
                r.sender,
                r.sender_name,
                r.subject,
                r.kind,
                r.state,
                r.outcome,
                r.reply,
                r.moved_to,
                tuple(known.get(r.sender.strip().lower(), ())),
                tuple(file_results(ws, ledger, r, limits)) if r.state != "fetched" else (),
            )
            for r in chosen[(page - 1) * per_page : page * per_page]
        ]
    return MailboxListed(config, shown, len(records), len(chosen), counts, show, query, page, pages, per_page)


def _moment(iso: str) -> float:
    try:
        return dt.datetime.fromisoformat(iso).timestamp()
    except (ValueError, OverflowError):
        return 0.0
