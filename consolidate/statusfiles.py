"""The reporting status as files a clerk opens: out/status.html, out/status.xlsx and out/status.csv.

:func:`refresh_status` rewrites all three from the ledger, as of today, whenever the ledger changes:
the workflow layer calls it after intake, review decisions, quarantine assignments, reminders and
reports (one function, so the page is never stale).  ``consolidate status --as-of`` shows a past day
in the terminal but leaves the page at today's state.

The CSV is written for Excel in Ukraine: UTF-8 with a byte-order mark (so Excel does not read it as
Windows-1251), ``;`` as the separator (the list separator of the Ukrainian locale, where ``,`` is the
decimal mark), Ukrainian headers, one code column for scripts, executor-supplied text made inert
(:mod:`consolidate.csvsafe`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .csvsafe import csv_cell
from .status import ExecutorStatus, Summary, format_time, status_from_ledger, status_html

CSV_BOM = "\ufeff"
CSV_DELIMITER = ";"
# (field of ExecutorStatus.as_dict, Ukrainian header); the state code stays in a column of its own.
CSV_COLUMNS = (
    ("executor", "Код виконавця"),
    ("name", "Виконавець"),
    ("kind", "Тип"),
    ("state", "Стан"),
    ("decision", "Рішення"),
    ("contact", "Контакт"),
    ("received", "Отримано"),
    ("file", "Файл"),
    ("returns", "Звітів"),
    ("errors", "Помилок"),
    ("warnings", "Попереджень"),
    ("rejected", "Відхилено файлів"),
    ("late", "Із запізненням"),
    ("template_sent", "Шаблон надіслано"),
    ("last_reminder", "Останнє нагадування"),
    ("note", "Примітка"),
    ("state_key", "Код стану"),
)
TIME_FIELDS = ("received", "template_sent", "last_reminder")
_WRITING = threading.RLock()  # atomic_write's temporary name is per process: one writer thread at a time


@dataclass(frozen=True)
class StatusFiles:
    html: Path
    xlsx: Path
    csv: Path


def _cell(field: str, value):
    if field in TIME_FIELDS:
        return format_time(value)
    if field == "late":
        return "так" if value else ""
    return value


def status_table(rows: Sequence[ExecutorStatus], decisions: dict[str, str] | None = None) -> list[list]:
    """Header and one row per executor, as shown in the CSV and the workbook."""
    decisions = decisions or {}
    out: list[list] = [[header for _, header in CSV_COLUMNS]]
    for r in rows:
        d = {**r.as_dict(), "decision": decisions.get(r.executor, "")}
        out.append([_cell(f, d[f]) for f, _ in CSV_COLUMNS])
    return out


def status_csv(rows: Sequence[ExecutorStatus], decisions: dict[str, str] | None = None) -> str:
    """CSV for Excel in Ukraine (see the module's docstring); a str beginning with the BOM."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    for row in status_table(rows, decisions):
        w.writerow([csv_cell(v) for v in row])  # executor-supplied text (file names) stays inert
    return CSV_BOM + out.getvalue()


def status_xlsx(
    rows: Sequence[ExecutorStatus], summary: Summary, decisions: dict[str, str] | None = None, title: str = ""
) -> bytes:
    """The same table as a workbook: a title, the summary, a header with a filter, frozen panes."""
    import xlsxwriter

    from .catalogue import period_label

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("Стан звітування")
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DFE5EE", "border": 1})
    text = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    table = status_table(rows, decisions)
    ws.write_string(0, 0, title or f"Стан звітування за {period_label(summary.period)}", bold)
    ws.write_string(1, 0, summary.text()[:1].upper() + summary.text()[1:])
    for c, header in enumerate(table[0]):
        ws.write_string(3, c, header, head)
    for r, row in enumerate(table[1:], 4):
        for c, value in enumerate(row):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, text)
            else:
                ws.write_string(r, c, str(value), text)  # text stays text: never a formula
    widths = {
        "Код виконавця": 13,
        "Виконавець": 30,
        "Тип": 14,
        "Стан": 22,
        "Рішення": 26,
        "Контакт": 30,
        "Отримано": 16,
        "Файл": 30,
        "Примітка": 50,
        "Код стану": 12,
    }
    for c, header in enumerate(table[0]):
        ws.set_column(c, c, widths.get(header, 11))
    ws.autofilter(3, 0, 3 + len(rows), len(table[0]) - 1)
    ws.freeze_panes(4, 2)
    wb.close()
    return buf.getvalue()


def decision_labels(catalogue, ledger, period: str) -> dict[str, str]:
    """The clerk's review decision per executor in words: «затверджено (Петренко, 16.01.2025)»."""
    from .review import slots_from_ledger
    from .vocabulary import SlotState

    out = {}
    for s in slots_from_ledger(catalogue, ledger, period):
        who = ", ".join(x for x in (s.decided_by, format_time(s.decided_at)[:10]) if x)
        text = s.state.label + (f" ({who})" if who and s.decided_by else "")
        if s.comment and s.state in (SlotState.RETURNED, SlotState.RESUBMITTED):
            text += f"; коментар: {s.comment}"
        out[s.executor] = text
    return out


def refresh_status(ws, ledger=None, period: str | None = None, *, now: dt.datetime | None = None) -> StatusFiles:
    """Rewrite out/status.html, .xlsx and .csv from the ledger as of today (``now``); return their paths."""
    from .fileutil import atomic_write
    from .ledger import Ledger

    if ledger is None:
        with _WRITING, Ledger(ws.ledger_path) as own:  # threads of one process (the web console) take turns
            return refresh_status(ws, own, period, now=now)
    cat = ws.catalogue
    period = cat.check_period(period or cat.default_period())
    now = (now or dt.datetime.now()).replace(microsecond=0)
    rows, summary = status_from_ledger(cat, ledger, period, now.date())
    decisions = decision_labels(cat, ledger, period)
    findings = {r.executor: ledger.findings(r.submission_id) for r in rows if r.submission_id}
    quarantine = [(f, ledger.file_findings(f.id)) for f in ledger.quarantined() if f.period in (period, None)]
    names = {f.executor: cat.executor_label(f.executor) for f, _ in quarantine if f.executor in cat.registry}
    page = status_html(
        rows,
        summary,
        programme=cat.programme.title,
        generated_at=now,
        findings=findings,
        decisions=decisions,
        quarantine=quarantine,
        executor_names=names or None,
    )
    files = StatusFiles(ws.out / "status.html", ws.out / "status.xlsx", ws.out / "status.csv")
    atomic_write(files.html, page.encode("utf-8"))
    atomic_write(files.xlsx, status_xlsx(rows, summary, decisions, f"Стан звітування: {cat.programme.title}"))
    atomic_write(files.csv, status_csv(rows, decisions).encode("utf-8"))
    return files


def after_change(ws, period: str | None = None) -> str | None:
    """What every front calls after an operation that may have changed the ledger: refresh the status files.

    The files are a view: a failure to write them is returned as a Ukrainian message (the front shows it as a
    warning), never raised over the operation's own result.  Nothing is done before the ledger exists.
    """
    from .errors import ConsolidateError

    if not ws.ledger_path.exists():
        return None
    try:
        refresh_status(ws, period=period)
    except (ConsolidateError, OSError) as exc:
        return f"сторінку стану не оновлено: {exc}"
    return None


def refreshes_status(fn):
    """Decorator for an operation whose first argument is the workspace: :func:`after_change` when it ends."""
    import functools

    @functools.wraps(fn)
    def wrapper(ws, *args, **kwargs):
        try:
            return fn(ws, *args, **kwargs)
        finally:
            after_change(ws)

    return wrapper
