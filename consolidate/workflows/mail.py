"""Returns from the reporting mailbox: one run (``fetch``) or a watch loop (``watch``), as typed results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..mailbox import (
    FAILED,
    CheckStep,
    MailboxSettings,
    MessageOutcome,
    check_mailbox,
    fetch_mail,
    mailbox_settings,
    reply_label,
    smtp_from_workspace,
    watch_mail,
)
from ..model import ACCEPTED, ACCEPTED_WARNINGS
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


def settings_for(ws, *, password: str | None = None, smtp=None, environ: Mapping[str, str] | None = None):
    """The mailbox settings and the SMTP settings for receipts (``smtp``: given on the command line, else
    [smtp] of consolidate.toml)."""
    settings = mailbox_settings(ws, password=password, environ=environ)
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
