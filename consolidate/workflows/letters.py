"""``send-templates`` and ``remind``: letters to executors as .eml drafts or through SMTP, each recorded in the ledger.

Who gets a reminder is decided here only (:func:`reminder_targets`): the executors whose state is
outstanding (not submitted, overdue, submitted with errors), optionally narrowed to those asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConsolidateError
from ..ledger import Ledger
from ..workspace import Workspace
from .base import ExitCode, Result
from .common import executor_codes, resolve_period


@dataclass
class LettersDelivered(Result):
    period: str
    what: str  # «шаблони», «нагадування», «повернення на доопрацювання»
    records: list = field(default_factory=list)  # ledger.MailRecord of each letter
    mail_dir: Path | None = None
    smtp_address: str | None = None  # None: .eml drafts were written
    unfit: list[str] = field(default_factory=list)  # why the letters are not yet fit to send (placeholders)
    not_needed: list[tuple[str, Any]] = field(default_factory=list)  # (executor, state) asked for, not outstanding


def _refuse_repeat(earlier: dict, what: str, hint: str) -> None:
    from ..mail import describe_mail

    if earlier:
        lines = [f"{what} уже надсилали — повторно не надіслано нічого:"]
        lines += [f"  {code}: {describe_mail(m)}" for code, m in earlier.items()]
        lines.append(hint)
        raise ConsolidateError("\n".join(lines))


def refuse_unfit(sender, recipients, smtp, force: bool = False) -> list[str]:
    """The reasons letters from ``sender`` to ``recipients`` are not yet fit to send (placeholders of a fresh
    workspace); sending them through SMTP is refused (a ``ConsolidateError``) unless ``force``."""
    from ..mail import unfit_to_send

    problems = unfit_to_send(sender, recipients)
    if problems and smtp is not None and not force:
        raise ConsolidateError(
            "Листи не надіслано: налаштування ще містять заглушки —\n"
            + "\n".join(f"  • {p};" for p in problems)
            + "\nВиправте їх (або, щоб надіслати все одно, додайте --force)."
        )
    return problems


def deliver(
    ws: Workspace,
    ledger,
    letters,
    sender,
    smtp,
    period: str,
    what: str,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> LettersDelivered:
    """Write the letters as .eml drafts, or send them through SMTP — never from a fresh workspace's placeholders.

    Sending is refused (a ``ConsolidateError``) while the signer, the sender or recipients are placeholders,
    unless ``force``; drafts are written, with the same reasons returned in ``unfit``.
    """
    from ..mail import deliver as deliver_mail

    problems = refuse_unfit(sender, [a for letter in letters for a in letter.recipients], smtp, force)
    mail_dir = ws.out / "mail" / period
    records = deliver_mail(letters, sender, ledger, root=ws.root, mail_dir=mail_dir, smtp=smtp, now=now)
    return LettersDelivered(period, what, records, mail_dir, smtp.address if smtp is not None else None, problems)


def send_templates(
    ws: Workspace,
    period: str | None = None,
    executors=(),
    *,
    smtp=None,
    resend: bool = False,
    force: bool = False,
    only_unsent: bool = False,
) -> LettersDelivered:
    """One letter per executor with its template attached.

    Executors already sent one are refused (nothing sent) unless ``resend``; with ``only_unsent`` they are
    left out instead and the others get theirs (refused only when every one of them has had a letter).
    """
    from ..mail import earlier_letters, template_files, template_letter, workspace_sender
    from ..status import TEMPLATE

    period = resolve_period(ws, period)
    codes = executor_codes(ws, executors)
    sender = workspace_sender(ws)
    with Ledger(ws.ledger_path) as ledger:
        if not resend:
            earlier = earlier_letters(ledger, TEMPLATE, period, codes)
            if only_unsent and len(earlier) < len(codes):
                codes = [c for c in codes if c not in earlier]
            else:
                _refuse_repeat(
                    earlier,
                    "Шаблон",
                    "Щоб надіслати ще раз, додайте --resend (або оберіть інших виконавців через --executor).",
                )
        files = template_files(ws, period, codes)
        letters = [template_letter(ws.catalogue, period, code, *files[code], sender) for code in codes]
        return deliver(ws, ledger, letters, sender, smtp, period, "шаблони", force=force)


def reminder_targets(rows, wanted: set[str] | None = None) -> list:
    """The status rows to remind: outstanding ones (of ``wanted`` executors only, when given)."""
    return [r for r in rows if r.outstanding and (wanted is None or r.executor in wanted)]


@dataclass
class Due:
    """One executor due a reminder: its status row (the state and note say why) and what the letter would meet."""

    row: Any  # status.ExecutorStatus
    recipients: tuple[str, ...]  # the registry's addresses
    placeholders: list[str]  # of those, the placeholders of a fresh workspace (mail.placeholder_addresses)
    reminded_today: Any = None  # ledger.MailRecord of a reminder already recorded today (a repeat is refused)


@dataclass
class RemindersDue(Result):
    """Who is due a reminder for the period as of a day (what ``remind`` would send to), and why."""

    period: str
    as_of: dt.date
    due: list[Due] = field(default_factory=list)
    unfit: list[str] = field(default_factory=list)  # why the letters are not yet fit to send (placeholders)
    sender: str = ""  # [mail] sender
    drafts: list = field(default_factory=list)  # ledger.MailRecord of the period's reminders written as .eml

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.due else ExitCode.CLEAN


@dataclass
class RemindersPreviewed(Result):
    """The reminders ``remind`` would send now, built but neither written nor sent (nothing is recorded)."""

    period: str
    letters: list = field(default_factory=list)  # mail.Letter; a template not generated yet is named, not attached
    not_needed: list[tuple[str, Any]] = field(default_factory=list)  # (executor, state) asked for, not outstanding


def _due_rows(ws: Workspace, ledger, period: str, executors, today: dt.date):
    """(status rows to remind, (executor, state) of those asked for that need none) — for remind and its preview."""
    from ..status import status_from_ledger

    wanted = set(executor_codes(ws, executors)) if executors else None
    rows, _ = status_from_ledger(ws.catalogue, ledger, period, today)
    not_needed = [(r.executor, r.state) for r in rows if wanted and r.executor in wanted and not r.outstanding]
    return reminder_targets(rows, wanted), not_needed


def reminders_due(ws: Workspace, period: str | None = None, *, today: dt.date | None = None) -> RemindersDue:
    """The executors ``remind`` would write to today, with their addresses, placeholders, and today's reminder."""
    from ..mail import earlier_letters, placeholder_addresses, recipients_of, unfit_to_send, workspace_sender
    from ..status import REMINDER

    period = resolve_period(ws, period)
    today = today or dt.date.today()
    sender = workspace_sender(ws)
    with Ledger(ws.ledger_path) as ledger:
        targets, _ = _due_rows(ws, ledger, period, (), today)
        today_letters = earlier_letters(ledger, REMINDER, period, [r.executor for r in targets], same_day=today)
        drafts = [m for m in ledger.mails(period=period, kind=REMINDER) if m.via == "eml"]
    due = []
    for r in targets:
        recipients = recipients_of(ws.catalogue, r.executor)
        due.append(Due(r, recipients, placeholder_addresses(recipients), today_letters.get(r.executor)))
    unfit = unfit_to_send(sender, [a for d in due for a in d.recipients]) if due else []
    return RemindersDue(period, today, due, unfit, sender.address, drafts)


def reminder_preview(
    ws: Workspace, period: str | None = None, executors=(), *, today: dt.date | None = None
) -> RemindersPreviewed:
    """The letters ``remind`` would send now to the outstanding executors (of ``executors``, when given); nothing
    is written, generated or recorded."""
    from ..mail import reminder_letters, workspace_sender

    period = resolve_period(ws, period)
    today = today or dt.date.today()
    with Ledger(ws.ledger_path) as ledger:
        targets, not_needed = _due_rows(ws, ledger, period, executors, today)
        letters = reminder_letters(ws, ledger, period, targets, workspace_sender(ws), today, generate=False)
    return RemindersPreviewed(period, letters, not_needed)


@dataclass
class ReminderDrafts(Result):
    """Reminders written as .eml (not sent): each with its file's bytes, or missing (the file is gone)."""

    period: str
    files: list[tuple[Any, bytes]] = field(default_factory=list)  # (ledger.MailRecord, the .eml's bytes)
    missing: list = field(default_factory=list)  # ledger.MailRecord whose file is gone (or lies outside out/mail/)


def reminder_drafts(
    ws: Workspace, period: str | None = None, *, mail_id: int | None = None, sent_at: str | None = None
) -> ReminderDrafts:
    """The period's reminders written as .eml drafts — one by its mail record's id, or those of one sending
    (``sent_at``: every letter of a sending is recorded with its time), or all."""
    from ..status import REMINDER

    period = resolve_period(ws, period)
    with Ledger(ws.ledger_path) as ledger:
        records = [
            m
            for m in ledger.mails(period=period, kind=REMINDER)
            if m.via == "eml" and mail_id in (None, m.id) and sent_at in (None, m.sent_at)
        ]
    folder = (ws.out / "mail").resolve()
    done = ReminderDrafts(period)
    for m in records:
        path = (ws.root / m.location).resolve()
        if path.is_relative_to(folder) and path.is_file():
            done.files.append((m, path.read_bytes()))
        else:
            done.missing.append(m)
    return done


def remind(
    ws: Workspace,
    period: str | None = None,
    executors=(),
    *,
    smtp=None,
    resend: bool = False,
    force: bool = False,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    repeat_hint: str = "Щоб нагадати ще раз сьогодні, додайте --resend.",
) -> LettersDelivered:
    """Reminders to the executors still outstanding, with their findings and the template (once a day).

    An executor reminded today already refuses the whole sending (a ``ConsolidateError`` that lists them and ends
    with ``repeat_hint``, the front's way to insist) unless ``resend``."""
    from ..mail import earlier_letters, reminder_letters, workspace_sender
    from ..status import REMINDER

    period = resolve_period(ws, period)
    sender = workspace_sender(ws)
    today = today or dt.date.today()
    with Ledger(ws.ledger_path) as ledger:
        targets, not_needed = _due_rows(ws, ledger, period, executors, today)
        if not targets:
            return LettersDelivered(period, "нагадування", not_needed=not_needed)
        if not resend:
            _refuse_repeat(
                earlier_letters(ledger, REMINDER, period, [r.executor for r in targets], same_day=today),
                "Сьогодні нагадування",
                repeat_hint,
            )
        letters = reminder_letters(ws, ledger, period, targets, sender, today)
        done = deliver(ws, ledger, letters, sender, smtp, period, "нагадування", force=force, now=now)
    done.not_needed = not_needed
    return done
