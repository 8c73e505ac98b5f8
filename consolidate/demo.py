"""``consolidate demo``: the 2024 reporting cycle on the bundled data, nothing typed by hand.

1. a fresh workspace from the bundled catalogue and registry;
2. every executor's template;
3. executors simulated from the seed report (:mod:`consolidate.simulate`): templates filled with
   openpyxl and saved as executors do — some with typical damage — one executor late, one who
   never reports, one return sent twice, one resubmitted with a correction;
4. the mail round, when this computer can run a throw-away mail server (:mod:`consolidate.mailsandbox`: Dovecot
   and an SMTP server on 127.0.0.1): a few executors e-mail their returns to the reporting mailbox, as their mail
   clients build the messages, and ``consolidate mail fetch``'s workflow receives them and answers each sender
   (the receipts are kept in ``out/mail/receipts/``); otherwise those returns go to the inbox like the others —
   the figures are the same either way;
5. intake, reconciliation, status and the national report;
6. a short Ukrainian summary.

The scenario below names *who* does what; every figure comes from the seed through code.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from . import layout as L
from .catalogue import Catalogue
from .errors import ConsolidateError
from .filler import fill_workbook, set_text
from .simulate import Simulated, simulate
from .template import DEFAULT_TIMESTAMP, write_templates
from .wording import plural
from .workspace import Workspace, init_workspace

# The story of the 2024 cycle (who, not how much).
NEVER = "MKIP"  # never reports
SILENT = frozenset({"NAN"})  # reports, but leaves its measure blank instead of stating «не здійснювалось»
LATE = "MINTSYFRY"  # reports a week after the deadline
TEXT_NUMBER = ("MON", "T4.9.1")  # types "8 814,5" as text (a count with a decimal, too)
INSERTED_ROW = "UA-21"  # inserts an extra row into «II. Виконання»
RENAMED_SHEET = "NPU"  # renames the sheet «II. Виконання»
RENAMED_FILE = ("UA-07", "Волинь звіт остаточний (2).xlsx")  # renames the file before sending
SENT_TWICE = "UA-30"  # sends the same file twice
RESUBMITTED = ("UA-32", "F.T4.1.LOC.UA-32")  # first return has a negative amount; corrected a week later
SLIP = ("UA-35", "F.T4.1.LOC.UA-35")  # first return has the amount in hryvnias (×1000); returned, corrected
# The mail round: who e-mails the return (and with which client) instead of saving it into the inbox.
BY_MAIL = {
    RESUBMITTED[0]: "outlook",  # the receipt names the cell with the error; the correction answers the receipt
    LATE: "thunderbird",  # late by the time its message reached the mailbox
    "UA-12": "zip",  # zipped by Windows («Надіслати → Стиснута тека»)
    "UA-53": "outlook",
}
FORGOT_FILE = "UA-12"  # first writes without the file (a polite receipt), then sends it
OTHER_ADDRESS = ("UA-53", "zvit.oda@ukr.test")  # writes from an address the registry does not list (a warning)
OUT_OF_OFFICE = "UA-14"  # its automatic reply to the ministry's letter lands in the mailbox (no receipt to it)
MAIL_PICKUP = dt.timedelta(minutes=15)  # the clerk's «mail fetch --watch» reads the mailbox this long after
ON_TIME_DAYS = 5  # regular returns arrive this many days before the deadline
LATE_DAYS = 6  # late returns and corrections arrive this many days after it


@dataclass
class Delivery:
    """A file an executor sends: where it is staged and when it arrives."""

    executor: str
    path: Path
    arrives: dt.datetime
    note: str = ""
    by_mail: str = ""  # the mail client that sends it (BY_MAIL), when the mail round runs


@dataclass
class DemoPlan:
    deliveries: list[Delivery] = field(default_factory=list)
    never: list[str] = field(default_factory=list)

    def rounds(self) -> list[tuple[dt.datetime, list[Delivery]]]:
        by_time: dict[dt.datetime, list[Delivery]] = {}
        for d in self.deliveries:
            by_time.setdefault(d.arrives, []).append(d)
        return sorted(by_time.items())


def _rename_sheet(path: Path, old: str, new: str) -> None:
    wb = openpyxl.load_workbook(path)
    wb[old].title = new
    wb.save(path)


def _insert_row(path: Path, sheet: str, before_key_index: int, note: str) -> None:
    """Insert a row in the middle of the data (as a clerk adds a line for a remark)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    keyed = [r for r in range(L.FIRST_DATA_ROW, ws.max_row + 1) if ws.cell(r, 1).value]
    at = keyed[min(before_key_index, len(keyed) - 1)]
    ws.insert_rows(at)
    set_text(ws.cell(at, 2), note)
    wb.save(path)


def plan_returns(
    ws: Workspace, catalogue: Catalogue, sim: Simulated, templates: dict[str, Path], staging: Path, period: str
) -> DemoPlan:
    """Fill every executor's template as the scenario says; nothing is in the inbox yet."""
    deadline = dt.datetime.combine(catalogue.deadline(period), dt.time(10, 0))
    on_time = deadline - dt.timedelta(days=ON_TIME_DAYS)
    late = deadline + dt.timedelta(days=LATE_DAYS)
    plan = DemoPlan(never=[NEVER])
    staging.mkdir(parents=True, exist_ok=True)
    for code in catalogue.expected_executors():
        if code == NEVER:
            continue
        values: dict[str, dict[str, dict[str, Any]]] = {
            kind: {k: dict(v) for k, v in rows.items()} for kind, rows in sim.values.get(code, {}).items()
        }
        src = templates[code]
        name = src.name
        if code == RENAMED_FILE[0]:
            name = RENAMED_FILE[1]
        if code == TEXT_NUMBER[0]:
            key = TEXT_NUMBER[1]
            number = values.get("execution", {}).get(key, {}).get("actual")
            if number is not None:
                text = f"{number:,.1f}".replace(",", " ").replace(".", ",")
                values["execution"][key]["actual"] = text
        if code == RESUBMITTED[0]:
            good = staging / "corrected" / name
            fill_workbook(src, good, values)
            plan.deliveries.append(Delivery(code, good, late, "виправлений звіт"))
            bad = {kind: {k: dict(v) for k, v in rows.items()} for kind, rows in values.items()}
            line = RESUBMITTED[1]
            financed = bad.setdefault("funding", {}).setdefault(line, {}).get("financed", 0.0)
            bad["funding"][line]["cash"] = -abs(financed or 1.0)
            path = fill_workbook(src, staging / "first" / name, bad)
            plan.deliveries.append(Delivery(code, path, on_time, "звіт з помилкою"))
            continue
        if code == SLIP[0]:
            good = staging / "corrected" / name
            fill_workbook(src, good, values)
            plan.deliveries.append(Delivery(code, good, late, "виправлений звіт"))
            slip = {kind: {k: dict(v) for k, v in rows.items()} for kind, rows in values.items()}
            row = slip.setdefault("funding", {}).setdefault(SLIP[1], {})
            row["financed"] = round((row.get("financed") or 1.0) * 1000, 6)  # hryvnias typed as thousands
            path = fill_workbook(src, staging / "first" / name, slip)
            plan.deliveries.append(Delivery(code, path, on_time, "суму введено в гривнях"))
            continue
        path = fill_workbook(src, staging / name, values)
        if code == INSERTED_ROW:
            _insert_row(path, L.SHEET_EXECUTION, 3, "Примітка виконавця: додатковий рядок")
        if code == RENAMED_SHEET:
            _rename_sheet(path, L.SHEET_EXECUTION, "Виконання")
        arrives = late if code == LATE else on_time
        plan.deliveries.append(Delivery(code, path, arrives, "із запізненням" if code == LATE else ""))
        if code == SENT_TWICE:
            copy = staging / "copy" / f"Копія {name}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            plan.deliveries.append(Delivery(code, copy, late, "той самий файл повторно"))
    return plan


def prepare(dest: Path | None = None, period: str | None = None) -> tuple[Workspace, DemoPlan]:
    """Create the workspace, the templates and the executors' filled files (staged, not delivered)."""
    if dest is None:
        dest = Path(tempfile.mkdtemp(prefix="consolidate-demo-"))
    ws = init_workspace(dest)
    catalogue = ws.catalogue
    period = period or catalogue.default_period()
    password = ws.sheet_password
    files = write_templates(catalogue, ws.out / "templates", period, password, generated_at=DEFAULT_TIMESTAMP)
    from .history import record_templates

    record_templates(ws, catalogue, files)
    templates = {f.executor: f.path for f in files}
    sim = simulate(catalogue, silent=SILENT)
    plan = plan_returns(ws, catalogue, sim, templates, ws.root / "executors-outbox", period)
    return ws, plan


@dataclass
class DemoResult:
    workspace: Workspace
    period: str
    outcomes: list  # inbox.Outcome of every file delivered into the inbox, in order
    report_xlsx: Path
    report_docx: Path | None
    status_page: Path
    mail: list[Path]
    summary_lines: list[str]
    messages: list = field(default_factory=list)  # mailbox.MessageOutcome of every message of the mail round
    receipts: list[Path] = field(default_factory=list)  # the receipts as the executors received them (.eml)
    mail_skipped: str = ""  # why there was no mail round, or ""


class MailRound:
    """The demo's reporting mailbox: a throw-away Dovecot on 127.0.0.1 holding the ministry's mailbox (the
    workspace's [mail] sender) and an SMTP server keeping the receipts in ``out/mail/receipts/``.  Executors'
    messages are put in as their clients build them, with the time they arrive as the server's delivery time;
    :meth:`fetch` is ``consolidate mail fetch``'s workflow."""

    def __init__(self, ws: Workspace, period: str):
        from .workflows.mail import reporting_address

        self.ws, self.period = ws, period
        self.address = reporting_address(ws)
        self.dovecot: Any = None  # mailsandbox.Dovecot once started
        self.sink: Any = None  # mailsandbox.SmtpSink once started
        self.last_message: dict[str, str] = {}  # executor → Message-ID of its latest message

    def start(self) -> str:
        """ "" once both servers run; otherwise why there is no mail round."""
        from . import mailsandbox

        reason = mailsandbox.available()
        if reason:
            return reason
        try:
            self.dovecot = mailsandbox.Dovecot.temporary(names=(self.address,)).start()
            self.sink = mailsandbox.SmtpSink(self.ws.out / "mail" / "receipts").start()
        except Exception as exc:  # a server that cannot start on this computer: the demo goes on without mail
            self.stop()
            return f"не вдалося запустити тимчасовий поштовий сервер ({str(exc).strip()[:300]})"
        return ""

    def stop(self) -> None:
        if self.sink is not None:
            self.sink.stop()
        if self.dovecot is not None:
            self.dovecot.stop()

    def _post(self, raw: bytes, when: dt.datetime, executor: str = "") -> None:
        import email
        from email import policy

        self.dovecot.append(self.address, raw, when=when.astimezone())
        if executor:
            self.last_message[executor] = str(email.message_from_bytes(raw, policy=policy.default)["Message-ID"])

    def _receipt_to(self, executor: str):
        """The receipt answering the executor's latest message (what its correction replies to), or None."""
        import email
        from email import policy

        for _, _, raw in reversed(self.sink.messages):
            msg = email.message_from_bytes(raw, policy=policy.default)
            if str(msg["In-Reply-To"] or "").strip() == self.last_message.get(executor):
                return msg
        return None

    def post(self, catalogue: Catalogue, d: Delivery) -> None:
        """The executor's message with its return, as its mail client sends it (some a little before ``arrives``)."""
        from . import mailsandbox as ms

        ex = catalogue.registry[d.executor]
        sender = OTHER_ADDRESS[1] if d.executor == OTHER_ADDRESS[0] else (ex.emails[0] if ex.emails else "")
        name, data = d.path.name, d.path.read_bytes()
        subject = f"Звіт за {self.period} — {ex.short_name}"
        sent = d.arrives - dt.timedelta(minutes=2)
        if d.executor == FORGOT_FILE:
            forgot = ms.outlook(sender, self.address, subject, [], sender_name=ex.short_name, date=sent)
            self._post(forgot, d.arrives - dt.timedelta(minutes=20), d.executor)
            subject = "Перепрошуємо, файл у вкладенні: " + subject
        receipt = self._receipt_to(d.executor) if d.executor in self.last_message else None
        headers = ""
        if receipt is not None:  # the corrected return answers the receipt, in the same thread
            refs = " ".join([*str(receipt["References"] or "").split(), str(receipt["Message-ID"])][-10:])
            headers = f"In-Reply-To: {receipt['Message-ID']}\r\nReferences: {refs}\r\n"
            subject = "RE: " + str(receipt["Subject"])
        attachments, zipped = [(name, data)], {}
        if d.by_mail == "zip":  # Outlook with the file zipped by Windows
            attachments = [(f"{name.rsplit('.', 1)[0]}.zip", ms.zip_windows(attachments, date=sent))]
            zipped = {"ctype": "application/x-zip-compressed"}
        build = ms.thunderbird if d.by_mail == "thunderbird" else ms.outlook
        raw = build(
            sender, self.address, subject, attachments, sender_name=ex.short_name, extra_headers=headers, date=sent,
            **zipped,
        )  # fmt: skip
        self._post(raw, d.arrives, d.executor)

    def out_of_office(self, catalogue: Catalogue, when: dt.datetime) -> None:
        from . import mailsandbox as ms

        ex = catalogue.registry[OUT_OF_OFFICE]
        subject = f"Шаблон звіту за {self.period}"
        self._post(ms.out_of_office(ex.emails[0] if ex.emails else "", self.address, subject, date=when), when)

    def fetch(self, when: dt.datetime) -> list:
        """The clerk's ``mail fetch`` a little after ``when``: every new message received and answered."""
        from .workflows.mail import fetch, sandbox_settings

        settings, smtp = sandbox_settings(
            self.ws,
            port=self.dovecot.imaps_port,
            password=self.dovecot.password,
            cafile=str(self.dovecot.cert),
            smtp_address=self.sink.address,
        )
        pickup = (when + MAIL_PICKUP).astimezone()
        return fetch(self.ws, settings=settings, smtp=smtp, now=lambda: pickup, sandbox=True).messages


def deliver(ws: Workspace, deliveries: list[Delivery]) -> None:
    """Put files into the inbox as e-mail attachments would be saved there (original names)."""
    ws.inbox.mkdir(parents=True, exist_ok=True)
    for d in deliveries:
        target = ws.inbox / d.path.name
        shutil.copyfile(d.path, target)


def run(dest: Path | None = None, period: str | None = None, echo=print, mail: bool | None = None) -> DemoResult:
    """The whole cycle; returns paths and the Ukrainian summary (also passed line by line to ``echo``).

    Every step after the staging of the executors' files is the workflow a clerk's command runs
    (consolidate.workflows): intake, mail fetch, review, report, remind, status.  ``mail``: None runs the mail
    round when this computer can (see the module's docstring), False never, True or a ConsolidateError.
    """
    from .ledger import Ledger
    from .statusfiles import refresh_status
    from .workflows.intake import intake
    from .workflows.letters import remind
    from .workflows.reconcile import reconcile
    from .workflows.report import report
    from .workflows.status import status

    ws, plan = prepare(dest, period)
    catalogue = ws.catalogue
    period = period or catalogue.default_period()
    echo(f"Робоча тека демонстрації: {ws.root}")
    echo(f"Шаблони: {plural(len(catalogue.expected_executors()), 'файл')} у {ws.out / 'templates' / period}")
    mailbox = MailRound(ws, period)
    skipped = mailbox.start() if mail is not False else "без поштового раунду (--no-mail)"
    if skipped and mail:
        raise ConsolidateError(f"Поштовий раунд неможливий: {skipped}.")
    if not skipped:
        for d in plan.deliveries:
            d.by_mail = BY_MAIL.get(d.executor, "")
    outcomes, messages = [], []
    last = None
    decisions: list[str] = []
    try:
        for n, (when, batch) in enumerate(plan.rounds()):
            deliver(ws, [d for d in batch if not d.by_mail])
            outcomes += intake(ws, received_at=when.astimezone()).outcomes
            by_mail = [d for d in batch if d.by_mail]
            if not skipped and (by_mail or n == 0):
                if n == 0:
                    mailbox.out_of_office(catalogue, when - dt.timedelta(hours=3))
                for d in by_mail:
                    mailbox.post(catalogue, d)
                messages += mailbox.fetch(when)
            last = when
            with Ledger(ws.ledger_path) as ledger:
                decisions += review_round(ws, ledger, period, when + dt.timedelta(days=1))
    finally:
        mailbox.stop()
    as_of = (last or dt.datetime.now()).date() + dt.timedelta(days=1)
    morning = dt.datetime.combine(as_of, dt.time(9, 0))
    rec = reconcile(ws, period).rec
    summary = status(ws, period, as_of, write_files=False).summary
    written = report(ws, period, ("xlsx", "docx"), as_of=as_of).files
    report_xlsx, report_docx = written
    records = remind(ws, period, today=as_of, now=morning.astimezone()).records
    status_page = refresh_status(ws, period=period, now=morning).html
    mail_paths = [ws.root / r.location for r in records] if records else []
    receipts: list[Path] = list(mailbox.sink.paths) if mailbox.sink is not None else []
    received = [(o.label, o.findings) for o in outcomes] + [(f.label, f.findings) for m in messages for f in m.files]
    lines = summarise(catalogue, received, rec, summary, report_xlsx, report_docx, status_page, mail_paths)
    lines.insert(1, "Розгляд: " + "; ".join(decisions))
    lines.insert(1, mail_summary(ws, messages, receipts, skipped, [d.executor for d in plan.deliveries]))
    for line in lines:
        echo(line)
    return DemoResult(
        ws, period, outcomes, report_xlsx, report_docx, status_page, mail_paths, lines, messages, receipts, skipped
    )


def mail_summary(ws: Workspace, messages: list, receipts: list[Path], skipped: str, executors: list[str]) -> str:
    """One line on the mail round: what came, what was answered, where the messages went (or why it did not run)."""
    from collections import Counter

    from .mailbox import SENT, reply_label

    catalogue = ws.catalogue
    if skipped:
        who = sorted({catalogue.executor_label(c) for c in executors if c in BY_MAIL})
        return f"Пошта: раунд пропущено — {skipped}; звіти {', '.join(who)} покладено до теки inbox/."
    files = sum(1 for m in messages for f in m.files if f.status != "refused")
    sent = sum(1 for m in messages if m.reply == SENT)
    quiet = Counter(reply_label(m.reply) for m in messages if m.reply != SENT)
    moved = Counter(m.moved_to for m in messages)
    folder = receipts[0].parent if receipts else ws.out / "mail" / "receipts"
    text = (
        f"Пошта (тимчасовий сервер на 127.0.0.1): {plural(len(messages), 'лист')} до скриньки звітів, "
        f"прийнято до журналу {plural(files, 'файл')}; надіслано {plural(sent, 'квитанція')} (у {folder})"
    )
    if quiet:
        text += "; " + "; ".join(f"{label} — {n}" for label, n in sorted(quiet.items()))
    return text + "; листи переміщено: " + ", ".join(f"«{f}» — {n}" for f, n in sorted(moved.items()))


RETURN_COMMENT = (
    "У рядку фінансування вказано від’ємні касові видатки. Виправте суму касових видатків "
    "(тис. грн, не менше 0) і надішліть звіт повторно."
)
SLIP_COMMENT = (
    "Суму, схоже, введено в гривнях, а не в тисячах гривень: {}. Виправте її (тис. грн) і надішліть звіт повторно."
)
# The seed's own figures far above their plans (e.g. 107 in a percent's cell): the simulated clerk checks them
# against the published 2024 report and confirms them, so that the demo reproduces it.
SEED_REASON = "Так у звіті Мінсоцполітики за 2024 рік (перевірено за опублікованим звітом)"


def review_round(ws: Workspace, ledger, period: str, when: dt.datetime) -> list[str]:
    """The clerk's review after an intake round: accept clean returns, return the ones with errors.

    Decisions go through the review workflows (as «consolidate review accept|return» does); ``ledger`` is read
    to choose them.
    """
    from .model import ACCEPTED_ERRORS
    from .outliers import THOUSANDS, Thresholds
    from .review import APPROVED, RECEIVED, RESUBMITTED, outliers_of, slots_from_ledger
    from .workflows import review as decide

    catalogue = ws.catalogue
    thresholds = Thresholds.of(ws)
    operator = str(ws.setting("operator", "name", "Оператор"))
    accepted, returned, confirmed = 0, [], 0
    pending = []
    for slot in slots_from_ledger(catalogue, ledger, period):
        if slot.state not in (RECEIVED, RESUBMITTED):
            continue
        latest = slot.latest
        assert latest is not None  # received or resubmitted: there is a return
        open_outliers = [c.outlier for c in outliers_of(catalogue, ledger, latest, thresholds) if not c.confirmed]
        pending.append((slot, latest, open_outliers))
    for slot, latest, open_outliers in pending:
        slips = [o for o in open_outliers if o.code == THOUSANDS]
        if latest.status == ACCEPTED_ERRORS or slips:
            comment = SLIP_COMMENT.format("; ".join(o.message for o in slips)) if slips else RETURN_COMMENT
            decide.return_for_rework(ws, slot.executor, comment, period, operator=operator, now=when.astimezone())
            returned.append(catalogue.executor_label(slot.executor))
        else:
            decide.accept(
                ws,
                [slot.executor],
                period,
                operator=operator,
                confirm_refs=[o.ref for o in open_outliers],
                reason=SEED_REASON,
                now=when.astimezone(),
            )
            accepted += 1
            confirmed += len(open_outliers)
    return [
        f"{when:%d.%m.%Y}: {APPROVED.label} {accepted}"
        + (f", повернуто на доопрацювання: {', '.join(returned)}" if returned else "")
        + (f", підтверджено ймовірних помилок введення (так у звіті 2024 року): {confirmed}" if confirmed else "")
    ]


def summarise(
    catalogue: Catalogue,
    received: list[tuple[str, list]],
    rec,
    summary,
    report_xlsx: Path,
    report_docx: Path | None,
    status_page: Path,
    mail_paths: list[Path],
) -> list[str]:
    from collections import Counter

    from .model import CODE_LABELS
    from .vocabulary import Severity

    def name(code: str) -> str:
        return CODE_LABELS.get(code, code)

    states = Counter(label for label, _ in received)
    findings = Counter((f.severity, f.code) for _, found in received for f in found)
    conflicts = Counter(c.kind for c in rec.conflicts)
    lines = [
        f"Отримано файлів: {len(received)} — " + ", ".join(f"{label}: {n}" for label, n in states.most_common()),
        "Зауваження прийому: "
        + (
            "; ".join(f"{name(code)} ({Severity.of(sev).label}) — {n}" for (sev, code), n in sorted(findings.items()))
            or "немає"
        ),
        "Зауваження зведення: " + "; ".join(f"{name(kind)} — {n}" for kind, n in sorted(conflicts.items())),
        f"Стан звітування: {summary.text()}",
        "Не подали звіт: " + (", ".join(catalogue.executor_label(c) for c in rec.missing_executors) or "усі подали"),
        f"Національний звіт: {report_xlsx}",
    ]
    if report_docx is not None:
        lines.append(f"Звіт у форматі Word: {report_docx}")
    lines.append(f"Сторінка стану звітування: {status_page}")
    lines.append(f"Чернетки нагадувань (.eml): {len(mail_paths)} у {mail_paths[0].parent if mail_paths else '—'}")
    return lines
