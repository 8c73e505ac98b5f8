"""Who has reported: the reporting state of every expected executor for a period, and its HTML page.

:func:`compute_status` is a pure function over plain data (the catalogue, the period's returns
from the ledger, their findings, rejected files, the mail log and the date to judge by).  It
gives one :class:`ExecutorStatus` per expected executor, sorted so that the people to chase come
first, and a :class:`Summary`.  :func:`status_from_ledger` loads that data from a ledger.

States (the main column; codes of ``vocabulary.ReportingState``, labels from its one table)::

    overdue        прострочено               nothing received and the deadline has passed
    not-submitted  не подано                 nothing received, the deadline has not passed (or no date is given)
    errors         подано з помилками        the latest return has errors and must be corrected
    warnings       подано з попередженнями   the latest return passed the checks with warnings
    accepted       подано без зауважень      the latest return passed the checks

A return that arrived after the deadline keeps its state and is marked ``late``.  Files that
arrived but were not accepted (quarantine) are counted in ``rejected``: somebody tried to report.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .catalogue import Catalogue, period_label
from .model import ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING, Finding, Submission
from .registry import KIND_LABELS
from .vocabulary import FileStatus, ReportingState
from .wording import days_phrase, plural, ua_date, ua_datetime

OVERDUE = ReportingState.OVERDUE
NOT_SUBMITTED = ReportingState.NOT_SUBMITTED
WITH_ERRORS = ReportingState.ERRORS
WITH_WARNINGS = ReportingState.WARNINGS
ACCEPTED = ReportingState.CLEAN
STATES = (OVERDUE, NOT_SUBMITTED, WITH_ERRORS, WITH_WARNINGS, ACCEPTED)  # the order of chasing
OUTSTANDING = (OVERDUE, NOT_SUBMITTED, WITH_ERRORS)
STATE_KEYS = {s: s.value for s in STATES}  # codes, also the CSS classes of status.html
STATE_COLOURS = {
    OVERDUE: "#f1aeb5",
    NOT_SUBMITTED: "#ffd8a8",
    WITH_ERRORS: "#e5d4ff",
    WITH_WARNINGS: "#fff3bf",
    ACCEPTED: "#c3e6cb",
}
REMINDER = "reminder"  # mail kinds (see consolidate.ledger)
TEMPLATE = "template"


@dataclass(frozen=True)
class ExecutorStatus:
    """One expected executor's reporting state for a period (a row of «Стан звітування»)."""

    executor: str
    name: str
    kind: str  # the kind as shown (KIND_LABELS)
    state: ReportingState  # one of STATES (str() of it is the label)
    contact: str = ""  # contact person and e-mail addresses, as shown
    emails: tuple[str, ...] = ()
    received: str = ""  # ISO time the latest return arrived
    file: str = ""  # its original file name (executor-supplied text)
    sha256: str = ""
    submission_id: int | None = None
    returns: int = 0  # returns received for the period, superseded ones included
    errors: int = 0  # findings of the latest return
    warnings: int = 0
    rejected: int = 0  # files from the executor that were not accepted (quarantine)
    late: bool = False  # the latest return arrived after the deadline
    template_sent: str = ""  # ISO time the template letter was last sent or prepared
    last_reminder: str = ""  # ISO time of the last reminder letter
    note: str = ""  # what the clerk should know, in words
    by_mail: str = ""  # the latest return came by mail: «адреса, лист від ДАТА» (consolidate.mailbox)

    @property
    def state_key(self) -> str:
        return STATE_KEYS[self.state]

    @property
    def outstanding(self) -> bool:
        """Somebody has to act: nothing accepted yet, or the return has errors."""
        return self.state in OUTSTANDING

    @property
    def open_findings(self) -> int:
        return self.errors + self.warnings

    def as_dict(self) -> dict:
        return {
            "executor": self.executor,
            "name": self.name,
            "kind": self.kind,
            "state": self.state.value,
            "state_label": self.state.label,
            "state_key": self.state_key,
            "outstanding": self.outstanding,
            "contact": self.contact,
            "emails": list(self.emails),
            "received": self.received,
            "file": self.file,
            "sha256": self.sha256,
            "returns": self.returns,
            "errors": self.errors,
            "warnings": self.warnings,
            "rejected": self.rejected,
            "late": self.late,
            "template_sent": self.template_sent,
            "last_reminder": self.last_reminder,
            "note": self.note,
            "by_mail": self.by_mail,
        }


@dataclass(frozen=True)
class Summary:
    period: str
    deadline: dt.date
    as_of: dt.date | None
    expected: int
    counts: dict[str, int] = field(default_factory=dict)  # executors per state
    late: int = 0  # returns that arrived after the deadline
    rejected: int = 0  # outstanding executors with rejected files

    @property
    def accepted(self) -> int:
        """Accepted returns, with warnings or without."""
        return self.counts.get(ACCEPTED, 0) + self.counts.get(WITH_WARNINGS, 0)

    @property
    def outstanding(self) -> int:
        return sum(self.counts.get(s, 0) for s in OUTSTANDING)

    def text(self) -> str:
        """«подано без помилок 21 з 27, не подано 4, з помилками 2»."""
        head = f"подано без помилок {self.accepted} з {self.expected}"
        if self.counts.get(WITH_WARNINGS):
            head += f" (з них з попередженнями {self.counts[WITH_WARNINGS]})"
        parts = [head]
        for state, label in (
            (NOT_SUBMITTED, NOT_SUBMITTED.label),
            (OVERDUE, OVERDUE.label),
            (WITH_ERRORS, FileStatus.ERRORS.label),
        ):
            if self.counts.get(state):
                parts.append(f"{label} {self.counts[state]}")
        if self.late:
            parts.append(f"із запізненням {self.late}")
        if self.rejected:
            parts.append(f"з відхиленими файлами {self.rejected}")
        return ", ".join(parts)

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "deadline": self.deadline.isoformat(),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "expected": self.expected,
            "accepted": self.accepted,
            "outstanding": self.outstanding,
            "states": {s.value: self.counts.get(s, 0) for s in STATES},
            "state_labels": {s.value: s.label for s in STATES},
            "late": self.late,
            "rejected": self.rejected,
            "text": self.text(),
        }


def day_of(iso: str) -> dt.date | None:
    """The calendar day of an ISO date or time as recorded (its own time zone), or None."""
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(iso[:10])
        except ValueError:
            return None


def format_time(iso: str) -> str:
    """«10.01.2025 10:00» for an ISO time (as recorded), «10.01.2025» for a date, "" for nothing."""
    if not iso:
        return ""
    try:
        value = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if len(iso) <= 10:
        return f"{value:%d.%m.%Y}"
    return f"{value:%d.%m.%Y %H:%M}"


def _contact(person: str, emails: Sequence[str]) -> str:
    return "; ".join(p for p in (person, ", ".join(emails)) if p)


def compute_status(
    catalogue: Catalogue,
    period: str,
    submissions: Sequence[Submission],
    findings: Mapping[int, Sequence[Finding]],
    rejected_files: Sequence = (),
    mails: Sequence = (),
    as_of: dt.date | None = None,
    expected: Sequence[str] | None = None,
) -> tuple[list[ExecutorStatus], Summary]:
    """The reporting state of every expected executor.

    ``submissions``: the period's returns (history, superseded ones included);
    ``findings``: findings per submission id (those of the latest returns suffice);
    ``rejected_files``: quarantined files (objects with executor, period, status, received_at);
    ``mails``: the mail log (objects with executor, period, kind, sent_at);
    ``as_of``: the day to judge by — only what arrived by then counts, and nothing accepted after
    the deadline is «прострочено»; None: everything counts and nothing is overdue.

    Rows are sorted by state in the order of :data:`STATES`; within a state, executors whose files
    were rejected and late returns come first, then the registry order.
    """
    deadline = catalogue.deadline(period)
    codes = list(expected) if expected is not None else catalogue.expected_executors()

    def counts(iso: str) -> bool:
        if as_of is None:
            return True
        day = day_of(iso)
        return day is None or day <= as_of

    by_executor: dict[str, list[Submission]] = {}
    for s in submissions:
        if s.period == period and counts(s.received_at):
            by_executor.setdefault(s.executor, []).append(s)
    rejected: dict[str, int] = {}
    for f in rejected_files:
        if f.status == QUARANTINED and f.executor and f.period in (period, None) and counts(f.received_at):
            rejected[f.executor] = rejected.get(f.executor, 0) + 1
    last_mail: dict[tuple[str, str], str] = {}
    for m in mails:
        if m.period == period and counts(m.sent_at):
            key = (m.executor, m.kind)
            if m.sent_at > last_mail.get(key, ""):
                last_mail[key] = m.sent_at

    rows: list[ExecutorStatus] = []
    for code in codes:
        e = catalogue.registry[code]
        history = by_executor.get(code, [])
        latest = max(history, key=lambda s: s.id) if history else None
        n_rejected = rejected.get(code, 0)
        notes: list[str] = []
        errors = warnings = 0
        late = False
        if latest is None:
            state = NOT_SUBMITTED
            if as_of is not None and as_of > deadline:
                state = OVERDUE
                notes.append(f"строк минув {deadline:%d.%m.%Y} ({days_phrase((as_of - deadline).days)} тому)")
        else:
            found = findings.get(latest.id, ())
            errors = sum(1 for f in found if f.severity == ERROR)
            warnings = sum(1 for f in found if f.severity == WARNING)
            state = {ACCEPTED_ERRORS: WITH_ERRORS, ACCEPTED_WARNINGS: WITH_WARNINGS}.get(latest.status, ACCEPTED)
            received_day = day_of(latest.received_at)
            late = received_day is not None and received_day > deadline
            if state == WITH_ERRORS:
                notes.append(f"помилок: {errors} — потрібно виправити і надіслати повторно")
            if late:
                notes.append("подано" + f" із запізненням ({received_day:%d.%m.%Y}, строк {deadline:%d.%m.%Y})")
        if n_rejected:
            if latest is None:
                notes.append(f"надійшли файли, які відхилено: {n_rejected} — зв’яжіться з виконавцем")
            else:
                notes.append(f"відхилено файлів: {n_rejected}")
        rows.append(
            ExecutorStatus(
                executor=code,
                name=e.short_name,
                kind=KIND_LABELS.get(e.kind, e.kind),
                state=state,
                contact=_contact(e.contact_person, e.emails),
                emails=tuple(e.emails),
                received=latest.received_at if latest else "",
                file=latest.original_name if latest else "",
                sha256=latest.sha256 if latest else "",
                submission_id=latest.id if latest else None,
                returns=len(history),
                errors=errors,
                warnings=warnings,
                rejected=n_rejected,
                late=late,
                template_sent=last_mail.get((code, TEMPLATE), ""),
                last_reminder=last_mail.get((code, REMINDER), ""),
                note="; ".join(notes),
            )
        )

    order = {code: i for i, code in enumerate(codes)}
    rows.sort(key=lambda r: (STATES.index(r.state), not (r.rejected and r.outstanding), not r.late, order[r.executor]))
    tally: dict[str, int] = {s: sum(1 for r in rows if r.state == s) for s in STATES}
    summary = Summary(
        period,
        deadline,
        as_of,
        len(rows),
        tally,
        late=sum(1 for r in rows if r.late),
        rejected=sum(1 for r in rows if r.rejected and r.outstanding),
    )
    return rows, summary


def status_from_ledger(
    catalogue: Catalogue, ledger, period: str, as_of: dt.date | None
) -> tuple[list[ExecutorStatus], Summary]:
    """:func:`compute_status` over what a :class:`consolidate.ledger.Ledger` holds for the period."""
    period = catalogue.check_period(period)
    submissions = ledger.submissions(period=period)
    findings = ledger.findings_of(s.id for s in submissions)
    rejected = [f for f in ledger.quarantined() if f.period in (period, None)]
    rows, summary = compute_status(
        catalogue, period, submissions, findings, rejected, ledger.mails(period=period), as_of
    )
    return _with_mail_origins(rows, ledger), summary


def _with_mail_origins(rows: list[ExecutorStatus], ledger) -> list[ExecutorStatus]:
    """Say which latest returns came from the reporting mailbox, from which address and with which message's date."""
    from dataclasses import replace

    from .mailbox import describe_origin, mail_origins

    origins = mail_origins(ledger)
    return [replace(r, by_mail=describe_origin(origins[r.sha256])) if r.sha256 in origins else r for r in rows]


def status_from_reconciliation(catalogue: Catalogue, rec) -> list[ExecutorStatus]:
    """Rows from a reconciliation alone: its returns, no findings, mail or date (nothing is overdue)."""
    rows, _ = compute_status(catalogue, rec.period, list(rec.reported.values()), {}, expected=rec.expected)
    return rows


# ---------------------------------------------------------------------------------
# the HTML page
# ---------------------------------------------------------------------------------

HTML_COLUMNS = (
    "№",
    "Стан",
    "Виконавець",
    "Контакт",
    "Отримано (файл)",
    "Звітів",
    "Помилок",
    "Попере\u00adджень",
    "Відхилено файлів",
    "Шаблон надіслано",
    "Останнє нагадування",
    "Примітка",
)

_CSS = """
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; margin: 24px; color: #1b1b1b; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; }
p { margin: 4px 0; }
.meta { color: #444; }
.summary { font-size: 17px; font-weight: bold; margin: 14px 0 10px; }
.legend { margin: 0 0 14px; }
.legend span { display: inline-block; padding: 3px 10px; margin: 0 6px 4px 0; border: 1px solid #999;
  border-radius: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #b9b9b9; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #dfe5ee; position: sticky; top: 0; font-size: 12px; }
td.num { text-align: right; white-space: nowrap; }
td.state { font-weight: bold; min-width: 90px; }
td.who { min-width: 170px; }
.code { color: #333; font-size: 11px; font-family: "DejaVu Sans Mono", Consolas, monospace; }
.kind { color: #555; font-size: 11px; }
td.contact { font-size: 11px; color: #333; min-width: 150px; max-width: 220px; overflow-wrap: anywhere; }
td.time { font-size: 12px; min-width: 120px; }
.when { white-space: nowrap; }
td.sent { font-size: 12px; min-width: 76px; }
.file { color: #444; font-size: 11px; overflow-wrap: anywhere; }
td.note { min-width: 200px; font-size: 12px; }
td.decision { font-size: 12px; min-width: 110px; }
details.findings summary { cursor: pointer; color: #1a4d8f; margin-top: 3px; }
details.findings ul { margin: 4px 0 0; padding-left: 18px; }
details.findings li.error .sev { color: #a4000f; font-weight: bold; }
.detail { color: #555; }
h2 { font-size: 17px; margin: 22px 0 8px; }
tfoot td { font-weight: bold; background: #f3f3f3; }
@media print { body { margin: 8mm; } th { position: static; } tr { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def _findings_summary(found: Sequence[Finding]) -> str:
    errors = sum(1 for f in found if f.severity == ERROR)
    warnings = len(found) - errors
    return "Зауваження: " + ", ".join(
        x
        for x in (plural(errors, "помилка") if errors else "", plural(warnings, "попередження") if warnings else "")
        if x
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _e(value) -> str:
    return html.escape(str(value), quote=True)


FINDINGS_SHOWN = 200  # findings listed under one executor on the page; the rest are counted


def _where(f: Finding) -> str:
    return " ".join(x for x in (f"«{f.sheet}»" if f.sheet else "", f.cell) if x)


def findings_html(findings: Sequence[Finding], summary_text: str) -> str:
    """A <details> list of findings (no script needed to open it): severity, sheet and cell, message."""
    ordered = sorted(findings, key=lambda f: f.severity != ERROR)
    items = []
    for f in ordered[:FINDINGS_SHOWN]:
        where = _where(f)
        detail = "; ".join(
            x
            for x in (
                (f"знайдено: «{f.found}»" if f.found else ""),
                (f"очікується: {f.expected}" if f.expected else ""),
            )
            if x
        )
        kind = "error" if f.severity == ERROR else "warning"
        place = f"{where}: " if where else ""
        items.append(
            f'<li class="{kind}"><span class="sev">{_e(f.severity)}</span> {_e(place)}{_e(f.message)}'
            + (f' <span class="detail">({_e(detail)})</span>' if detail else "")
            + "</li>"
        )
    if len(ordered) > FINDINGS_SHOWN:
        items.append(f"<li>… і ще {_e(plural(len(ordered) - FINDINGS_SHOWN, 'зауваження'))}</li>")
    return f'<details class="findings"><summary>{_e(summary_text)}</summary><ul>' + "".join(items) + "</ul></details>"


def _quarantine_html(quarantine, executor_names: Mapping[str, str]) -> list[str]:
    out = ['<h2 id="quarantine-title">Не прийняті файли (карантин)</h2>']
    if not quarantine:
        out.append('<p class="meta" id="quarantine-empty">Карантин порожній.</p>')
        return out
    out.append(
        '<table id="quarantine"><thead><tr><th>Отримано</th><th>Файл</th><th>Виконавець</th>'
        "<th>Причини</th></tr></thead><tbody>"
    )
    for f, found in quarantine:
        who = executor_names.get(f.executor or "", f.executor or "не визначено")
        reasons = findings_html(found, plural(len(found), "причина")) if found else ""
        out.append(
            f'<tr data-sha256="{_e(f.sha256)}"><td class="time">{_e(format_time(f.received_at))}</td>'
            f'<td class="file">{_e(f.original_name)}<div class="code">{_e(f.sha256[:12])}</div></td>'
            f'<td>{_e(who)}</td><td class="note">{reasons}</td></tr>'
        )
    out.append("</tbody></table>")
    return out


def status_html(
    rows: Sequence[ExecutorStatus],
    summary: Summary,
    *,
    programme: str = "",
    generated_at: dt.datetime | None = None,
    findings: Mapping[str, Sequence[Finding]] | None = None,
    decisions: Mapping[str, str] | None = None,
    quarantine: Sequence | None = None,
    executor_names: Mapping[str, str] | None = None,
) -> str:
    """A self-contained page (inline CSS, no scripts, no external resources): one coloured row per executor.

    ``findings``: the findings of each executor's latest return, listed in a <details> under its
    row; ``decisions``: the clerk's review decision per executor in words (a column); ``quarantine``:
    (FileRecord, findings) of files not accepted, a table of their own.  Every text is escaped: file
    names and other executor-supplied text are shown, never run.
    """
    colours = "\n".join(
        f"tr.{STATE_KEYS[s]} td, .legend .{STATE_KEYS[s]} {{ background: {c}; }}" for s, c in STATE_COLOURS.items()
    )
    as_of = f"станом на {ua_date(summary.as_of)}" if summary.as_of else "за всіма отриманими звітами"
    out = [
        "<!DOCTYPE html>",
        '<html lang="uk">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Стан звітування — {_e(period_label(summary.period))}</title>",
        f"<style>{_CSS}{colours}\n</style>",
        "</head>",
        "<body>",
        f"<h1>Стан звітування за {_e(period_label(summary.period))}</h1>",
    ]
    if programme:
        out.append(f'<p class="meta">{_e(programme)}</p>')
    out.append(
        f'<p class="meta">Строк подання: {ua_date(summary.deadline)}; {_e(as_of)}'
        + (f"; сформовано {ua_datetime(generated_at)}" if generated_at else "")
        + "</p>"
    )
    out.append(f'<p class="summary" id="summary">{_e(_capital(summary.text()))}</p>')
    out.append(
        '<p class="legend">'
        + "".join(f'<span class="{STATE_KEYS[s]}">{_e(s)}: {summary.counts.get(s, 0)}</span>' for s in STATES)
        + "</p>"
    )
    columns = HTML_COLUMNS if decisions is None else HTML_COLUMNS[:-1] + ("Рішення",) + HTML_COLUMNS[-1:]
    out.append('<table id="status">')
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in columns) + "</tr></thead>")
    out.append("<tbody>")
    for n, r in enumerate(rows, 1):
        file_line = f'<div class="file">{_e(r.file)}</div>' if r.file else ""
        if r.by_mail:
            file_line += f'<div class="mail">поштою: {_e(r.by_mail)}</div>'
        cells = [
            f'<td class="num">{n}</td>',
            f'<td class="state">{_e(r.state)}</td>',
            f'<td class="who">{_e(r.name)}<div><span class="code">{_e(r.executor)}</span> '
            f'<span class="kind">{_e(r.kind)}</span></div></td>',
            f'<td class="contact">{_e(r.contact)}</td>',
            f'<td class="time"><span class="when">{_e(format_time(r.received))}</span>{file_line}</td>',
            f'<td class="num">{r.returns}</td>',
            f'<td class="num">{r.errors}</td>',
            f'<td class="num">{r.warnings}</td>',
            f'<td class="num">{r.rejected}</td>',
            f'<td class="sent">{_e(format_time(r.template_sent))}</td>',
            f'<td class="sent">{_e(format_time(r.last_reminder))}</td>',
            f'<td class="note">{_e(r.note)}'
            + (
                findings_html(findings[r.executor], _findings_summary(findings[r.executor]))
                if findings and findings.get(r.executor)
                else ""
            )
            + "</td>",
        ]
        if decisions is not None:
            cells.insert(len(cells) - 1, f'<td class="decision">{_e(decisions.get(r.executor, ""))}</td>')
        out.append(f'<tr class="{r.state_key}" data-executor="{_e(r.executor)}">' + "".join(cells) + "</tr>")
    out.append("</tbody>")
    out.append(
        f'<tfoot><tr><td colspan="{len(columns)}">Усього виконавців: {summary.expected}; '
        f"потребують уваги: {summary.outstanding}</td></tr></tfoot>"
    )
    out.append("</table>")
    if quarantine is not None:
        out += _quarantine_html(quarantine, executor_names or {})
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"
