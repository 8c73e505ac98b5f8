"""The operations the console's pages call, each one call into the library.

Every function here is the web's entry to one user operation; it holds no rule of its own (those
live in the library and in ``consolidate.workflows``).  Where a workflow of issue 15 exists, the
function delegates to it; the others call the same library functions the CLI calls today.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..ledger import Ledger
from ..statusfiles import refreshes_status
from ..workspace import Workspace

REPORT_FORMATS = ("xlsx", "docx", "pdf")


def for_period(shared: Workspace, period: str | None) -> tuple[Workspace, str]:
    """A workspace of one request with the catalogue of ``period``'s year selected (the shared one keeps its
    loaded catalogues and settings; two requests for different years never change each other's)."""
    ws = Workspace(shared.root, _config=shared._config, _loaded=shared._loaded)
    period = ws.use_period(period or shared.catalogue.default_period())
    return ws, period


def _thresholds(ws: Workspace):
    from ..outliers import Thresholds

    return Thresholds.of(ws)


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


def file_by_sha(ws: Workspace, sha: str):
    with Ledger(ws.ledger_path) as ledger:
        record = ledger.file(sha)
        return record, (ledger.file_findings(record.id) if record else [])


def quarantined(ws: Workspace):
    """The files not accepted, with their reasons (workflow ``quarantine.list_quarantine``)."""
    from ..workflows.quarantine import list_quarantine

    return list_quarantine(ws).files


def assign_quarantined(ws: Workspace, sha: str, executor: str, period: str, operator: str, reason: str):
    """The clerk says whose return a quarantined file is (workflow ``quarantine.assign_file``)."""
    from ..workflows.quarantine import assign_file

    return assign_file(ws, sha, executor, period, operator, reason)


@dataclass
class ExecutorView:
    executor: object
    files: list
    findings: dict
    mails: list
    reviews: list
    slot: object
    by_mail: dict = field(default_factory=dict)  # sha256 → «адреса, лист від …» for files that came by mail


def executor(ws: Workspace, code: str, period: str) -> ExecutorView:
    from ..errors import ConsolidateError
    from ..mailbox import describe_origin, mail_origins
    from ..review import slots_from_ledger

    found = ws.catalogue.registry.get(code)
    if found is None:
        raise ConsolidateError(f"Невідомий виконавець «{code}»: немає такого коду в реєстрі.")
    with Ledger(ws.ledger_path) as ledger:
        files = ledger.files(executor=code)
        findings = {f.id: ledger.file_findings(f.id) for f in files}
        mails = ledger.mails(executor=code)
        reviews = ledger.reviews(executor=code)
        slot = next((s for s in slots_from_ledger(ws.catalogue, ledger, period) if s.executor == code), None)
        by_mail = {sha: describe_origin(m) for sha, m in mail_origins(ledger).items()}
    return ExecutorView(
        found, list(reversed(files)), findings, list(reversed(mails)), list(reversed(reviews)), slot, by_mail
    )


def review_slots(ws: Workspace, period: str, with_outliers: bool = True):
    """Every slot, the findings of each latest return, and its outliers (confirmed or still blocking)."""
    from ..review import APPROVED, outliers_of, slots_from_ledger

    with Ledger(ws.ledger_path) as ledger:
        slots = slots_from_ledger(ws.catalogue, ledger, period)
        findings = ledger.findings_of(s.latest.id for s in slots if s.latest is not None)
        outliers = {}
        if with_outliers:
            thresholds = _thresholds(ws)
            outliers = {
                s.latest.id: outliers_of(ws.catalogue, ledger, s.latest, thresholds)
                for s in slots
                if s.latest is not None and s.state != APPROVED
            }
    return slots, findings, outliers


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


def reconciliation(ws: Workspace, period: str, include_unapproved: bool = False):
    from ..workflows.reconcile import reconcile

    rec = reconcile(ws, period, include_unapproved).rec
    with Ledger(ws.ledger_path) as ledger:
        adjustments = ledger.adjustments(period=period)
    return rec, adjustments


def explain(ws: Workspace, period: str, item: str, include_unapproved: bool = False) -> list[str]:
    from ..errors import ConsolidateError
    from ..workflows.reconcile import explain as explain_workflow

    try:
        return explain_workflow(ws, item, period, include_unapproved).lines
    except ConsolidateError:
        return []


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


def templates_listing(ws: Workspace, period: str) -> list[dict]:
    from ..template import MANIFEST, read_manifest

    path = ws.out / "templates" / period / MANIFEST
    return list(read_manifest(path)) if path.is_file() else []


def generate_templates(ws: Workspace, period: str):
    from ..workflows.setup import templates

    return templates(ws, period).files


def template_file(ws: Workspace, period: str, code: str, generate: bool) -> tuple[str, bytes] | None:
    """The executor's current template; generated first when missing or outdated if ``generate`` (else None)."""
    from ..mail import template_files

    return template_files(ws, period, [code], generate=generate).get(code)


def templates_zip(ws: Workspace, period: str, generate: bool) -> tuple[str, bytes, int]:
    """Every expected executor's current template in one zip; (name, bytes, templates missing from it)."""
    from ..mail import template_files

    expected = ws.catalogue.expected_executors()
    files = template_files(ws, period, expected, generate=generate)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.values():
            z.writestr(name, data)
    return f"templates-{period}.zip", buf.getvalue(), len(expected) - len(files)


@refreshes_status
def send_templates(ws: Workspace, period: str, resend: bool = False):
    """Template letters to every expected executor not yet sent one (.eml files, or SMTP when configured;
    workflow ``letters.send_templates``)."""
    from ..mailbox import smtp_from_workspace
    from ..workflows.letters import send_templates as send_workflow

    return send_workflow(ws, period, smtp=smtp_from_workspace(ws), resend=resend, only_unsent=True).records


def template_letters(ws: Workspace, period: str) -> dict:
    """The last template letter recorded per executor."""
    from ..status import TEMPLATE

    with Ledger(ws.ledger_path) as ledger:
        return {m.executor: m for m in ledger.mails(period=period, kind=TEMPLATE)}


_STAMP_TABLES = ("files", "reviews", "adjustments", "mail", "confirmations")


def ledger_stamp(ws: Workspace) -> str:
    """What changes whenever the ledger's state does (rows added, adjustments undone): pages compare it."""
    import sqlite3

    if not ws.ledger_path.exists():
        return "0"
    db = sqlite3.connect(f"file:{ws.ledger_path}?mode=ro", uri=True, timeout=10)
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


def refresh_status(shared: Workspace, period: str | None) -> str | None:
    """Rewrite out/status.html, .xlsx, .csv after a change, as every front does (statusfiles.after_change)."""
    from ..statusfiles import after_change

    ws, period = for_period(shared, period)
    return after_change(ws, period)


def ledger_history(ws: Workspace, limit: int = 300):
    """Who did what, from the ledger: files received, decisions, adjustments, letters."""
    with Ledger(ws.ledger_path) as ledger:
        files = ledger.files()
        reviews = ledger.reviews()
        adjustments = ledger.adjustments()
        mails = ledger.mails()
    return files[-limit:], reviews[-limit:], adjustments[-limit:], mails[-limit:]
