"""The console's changes and the adapting its pages need, each one call into ``consolidate.workflows``.

Every function here holds no rule of its own (those live in the workflows and the library): it picks
the request's catalogue (:func:`for_period`), refreshes the status files after a change
(``statusfiles.refreshes_status``), takes the [smtp] settings, or turns a workflow's result into what
a page shows.  The pages' reads call the workflows themselves (``workflows.intake.executor_history``,
``workflows.review.review_list``, ``workflows.status.journal`` …): there is nothing to adapt.  The web
never opens the ledger (tests/test_web_structure.py).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from ..statusfiles import refreshes_status
from ..workspace import Workspace

REPORT_FORMATS = ("xlsx", "docx", "pdf")


def for_period(shared: Workspace, period: str | None) -> tuple[Workspace, str]:
    """A workspace of one request with the catalogue of ``period``'s year selected (the shared one keeps its
    loaded catalogues and settings; two requests for different years never change each other's)."""
    ws = Workspace(shared.root, _config=shared._config, _loaded=shared._loaded)
    period = ws.use_period(period or shared.catalogue.default_period())
    return ws, period


def status(ws: Workspace, period: str, as_of: dt.date | None = None):
    """(rows, summary, review decision in words per executor)."""
    from ..workflows.status import status as status_workflow

    r = status_workflow(ws, period, as_of or dt.date.today(), write_files=False)
    return r.rows, r.summary, r.decisions


def intake(ws: Workspace, paths: list[Path], names: dict[Path, str], *, refresh: bool = True):
    """Receive uploaded files (saved under other names; ``names`` gives the senders' names), then refresh the
    status files — unless ``refresh`` is false: the console's intake queue refreshes them itself once it is
    quiet (:func:`refresh_status`), so that twenty clerks' uploads do not wait for twenty rewrites."""
    from ..statusfiles import after_change
    from ..workflows.intake import intake as intake_workflow

    try:
        return intake_workflow(ws, paths, names=names).outcomes
    finally:
        if refresh:
            after_change(ws)


def quarantined(ws: Workspace):
    """The files not accepted, with their reasons (workflow ``quarantine.list_quarantine``)."""
    from ..workflows.quarantine import list_quarantine

    return list_quarantine(ws).files


def assign_quarantined(ws: Workspace, sha: str, executor: str, period: str, operator: str, reason: str):
    """The clerk says whose return a quarantined file is (workflow ``quarantine.assign_file``)."""
    from ..workflows.quarantine import assign_file

    return assign_file(ws, sha, executor, period, operator, reason)


@refreshes_status
def accept(
    ws: Workspace, code: str, period: str, operator: str, force: bool = False, confirm_refs=(), reason: str = ""
):
    from ..workflows.review import accept as accept_workflow

    return accept_workflow(
        ws, [code], period, operator=operator, force=force, confirm_refs=confirm_refs, reason=reason
    ).decisions[0]


@refreshes_status
def return_for_rework(ws: Workspace, code: str, period: str, comment: str, operator: str):
    """Record the decision and the letter: sent through [smtp] of consolidate.toml when it is set, else
    written as .eml into out/mail/<period>/ for the clerk's mail program (workflow ``review.return_for_rework``)."""
    from ..mailbox import smtp_from_workspace
    from ..workflows.review import return_for_rework as return_workflow

    smtp = smtp_from_workspace(ws)  # a broken [smtp] stops here, before anything is recorded
    done = return_workflow(ws, code, comment, period, operator=operator, smtp=smtp)
    return done.decisions[0], done.letters.records


def explain(ws: Workspace, period: str, item: str, include_unapproved: bool = False):
    """Where a figure comes from and the bounds of its adjustment (workflow ``reconcile.explain``); None for an
    identifier the reconciliation does not know (the page then shows no explanation, not an error)."""
    from ..errors import ConsolidateError
    from ..workflows.reconcile import explain as explain_workflow

    try:
        return explain_workflow(ws, item, period, include_unapproved)
    except ConsolidateError:
        return None


@refreshes_status
def adjust(ws: Workspace, period: str, item: str, value: float, reason: str, operator: str, force: bool = False):
    from ..workflows.reconcile import adjust as adjust_workflow

    return adjust_workflow(ws, item, value, reason, period=period, operator=operator, force=force).adjustment


@refreshes_status
def undo_adjustment(ws: Workspace, period: str, item: str, operator: str) -> None:
    from ..workflows.reconcile import undo_adjustment as undo_workflow

    undo_workflow(ws, item, period=period, operator=operator)


def report_path(ws: Workspace, period: str, fmt: str, draft: bool) -> Path:
    from ..workflows.report import default_path

    return default_path(ws, period, fmt, draft)


@refreshes_status
def build_report(ws: Workspace, period: str, formats: list[str], include_unapproved: bool) -> list[Path]:
    """The national report in the chosen formats, as «consolidate report» builds it (one workflow for both)."""
    from ..workflows.report import report

    return report(ws, period, formats, include_unapproved=include_unapproved, draft_name=True).files


def generate_templates(ws: Workspace, period: str):
    from ..workflows.setup import templates

    return templates(ws, period).files


def template_file(ws: Workspace, period: str, code: str, generate: bool) -> tuple[str, bytes] | None:
    """The executor's current template; generated first when missing or outdated if ``generate`` (else None)."""
    from ..workflows.setup import template_files

    return template_files(ws, period, [code], generate=generate).files.get(code)


def templates_zip(ws: Workspace, period: str, generate: bool) -> tuple[str, bytes, int]:
    """Every expected executor's current template in one zip; (name, bytes, templates missing from it)."""
    from ..workflows.setup import template_files

    found = template_files(ws, period, generate=generate)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in found.files.values():
            z.writestr(name, data)
    return f"templates-{period}.zip", buf.getvalue(), len(found.missing)


@refreshes_status
def send_templates(ws: Workspace, period: str, resend: bool = False):
    """Template letters to every expected executor not yet sent one (.eml files, or SMTP when configured;
    workflow ``letters.send_templates``)."""
    from ..mailbox import smtp_from_workspace
    from ..workflows.letters import send_templates as send_workflow

    return send_workflow(ws, period, smtp=smtp_from_workspace(ws), resend=resend, only_unsent=True).records


def fetch_mail(ws: Workspace):
    """One round of the reporting mailbox, as «consolidate mail fetch» runs it (workflow ``mail.fetch``), with the
    password from the environment: the web asks for none, and a missing one or a broken [mailbox] stops here,
    before anything is connected to or recorded."""
    from ..workflows.mail import settings_for

    settings, smtp = settings_for(ws, prompt=False)
    return _fetch_mail(ws, settings, smtp)


@refreshes_status
def _fetch_mail(ws: Workspace, settings, smtp):
    from ..workflows.mail import fetch

    return fetch(ws, settings=settings, smtp=smtp)


def refresh_status(shared: Workspace, period: str | None) -> str | None:
    """Rewrite out/status.html, .xlsx, .csv after a change, as every front does (statusfiles.after_change)."""
    from ..statusfiles import after_change

    ws, period = for_period(shared, period)
    return after_change(ws, period)


REPEAT_HINT = (
    "Щоб нагадати ще раз сьогодні, позначте «Повторно сьогодні» і надішліть знову; щоб нагадати лише іншим, "
    "позначте їх і натисніть «Нагадати обраним»."
)


def smtp_target(ws: Workspace) -> tuple[str | None, str]:
    """Where letters go: (the [smtp] server's address, or None for .eml drafts; why [smtp] is unusable, or "")."""
    from ..errors import ConsolidateError
    from ..mailbox import smtp_from_workspace

    try:
        smtp = smtp_from_workspace(ws)
    except ConsolidateError as exc:
        return None, str(exc)
    return (smtp.address if smtp is not None else None), ""


@refreshes_status
def remind(ws: Workspace, period: str, executors: list[str], resend: bool = False):
    """Reminders to the outstanding executors (of ``executors``, when given), through [smtp] when it is set, else
    .eml drafts in out/mail/<period>/; each recorded in the ledger (workflow ``letters.remind``, the CLI's own)."""
    from ..mailbox import smtp_from_workspace
    from ..workflows.letters import remind as remind_workflow

    smtp = smtp_from_workspace(ws)  # a broken [smtp] stops here, before anything is written
    return remind_workflow(ws, period, executors, smtp=smtp, resend=resend, repeat_hint=REPEAT_HINT)


def reminder_drafts_zip(ws: Workspace, period: str, sent_at: str | None) -> tuple[str, bytes, int]:
    """The .eml drafts of one sending (or all of the period's) in one zip; (name, bytes, letters in it)."""
    from ..workflows.letters import reminder_drafts

    found = reminder_drafts(ws, period, sent_at=sent_at)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for record, data in found.files:
            z.writestr(Path(record.location).name, data)
    return f"reminders-{period}.zip", buf.getvalue(), len(found.files)
