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
from .base import Result
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
) -> LettersDelivered:
    """Reminders to the executors still outstanding, with their findings and the template (once a day)."""
    from ..mail import earlier_letters, reminder_letters, workspace_sender
    from ..status import REMINDER, status_from_ledger

    period = resolve_period(ws, period)
    wanted = set(executor_codes(ws, executors)) if executors else None
    sender = workspace_sender(ws)
    today = today or dt.date.today()
    with Ledger(ws.ledger_path) as ledger:
        rows, _ = status_from_ledger(ws.catalogue, ledger, period, today)
        targets = reminder_targets(rows, wanted)
        not_needed = [(r.executor, r.state) for r in rows if wanted and r.executor in wanted and not r.outstanding]
        if not targets:
            return LettersDelivered(period, "нагадування", not_needed=not_needed)
        if not resend:
            _refuse_repeat(
                earlier_letters(ledger, REMINDER, period, [r.executor for r in targets], same_day=today),
                "Сьогодні нагадування",
                "Щоб нагадати ще раз сьогодні, додайте --resend.",
            )
        letters = reminder_letters(ws, ledger, period, targets, sender, today)
        done = deliver(ws, ledger, letters, sender, smtp, period, "нагадування", force=force, now=now)
    done.not_needed = not_needed
    return done
