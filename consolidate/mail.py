"""Letters to executors: the template with a cover letter, reminders with the findings of a return.

A :class:`Letter` is plain data (recipients, subject, Ukrainian text, attachment).  It becomes an
RFC 5322 message with :func:`build_message` (stdlib ``email``: UTF-8 text, the subject encoded
per RFC 2047, the attachment's file name per RFC 2231) and is either written as an ``.eml`` file
(:func:`deliver` without SMTP settings: the clerk opens it in a mail client and sends it) or sent
through an SMTP server (optionally STARTTLS and login).  Every letter written or accepted by the
server is recorded in the ledger's mail log; a letter the server did not accept is not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from . import layout as L
from .catalogue import Catalogue, period_label
from .errors import ConsolidateError
from .fileutil import atomic_write
from .model import ERROR, QUARANTINED, Finding
from .oauth import OAuthError, OAuthSettings, login_with_token, token_source, xoauth2
from .status import OVERDUE, REMINDER, TEMPLATE, WITH_ERRORS, ExecutorStatus, day_of, format_time
from .wording import period_phrase, plural, ua_date, ua_datetime

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
ATTACHMENT_TYPES = {
    ".xlsx": XLSX_TYPE,
    ".xlsm": ("application", "vnd.ms-excel.sheet.macroEnabled.12"),
    ".xls": ("application", "vnd.ms-excel"),
    ".ods": ("application", "vnd.oasis.opendocument.spreadsheet"),
}
PASSWORD_ENV = "CONSOLIDATE_SMTP_PASSWORD"
MAX_FINDINGS = 100  # findings listed in one reminder; the rest are counted
PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net")
MAX_LINE = 78  # header lines (RFC 5322 recommends 78)
MAX_WORD = 75  # an RFC 2047 encoded word


@dataclass(frozen=True)
class Letter:
    """One letter to one executor."""

    executor: str
    period: str
    kind: str  # TEMPLATE or REMINDER
    recipients: tuple[str, ...]
    subject: str
    body: str
    attachment_name: str = ""
    attachment: bytes = b""

    @property
    def attachment_sha256(self) -> str:
        return hashlib.sha256(self.attachment).hexdigest() if self.attachment_name else ""


@dataclass(frozen=True)
class Sender:
    """Who writes: the ministry's reporting mailbox and the clerk who signs."""

    address: str
    name: str = ""
    operator: str = ""
    contact: str = ""  # whom executors ask about filling in (as on the template)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool = False
    user: str = ""
    password: str = ""
    password_env: str = PASSWORD_ENV
    cafile: str = ""
    timeout: float = 30.0
    oauth: OAuthSettings | None = None  # [smtp] auth = "oauth2": SASL XOAUTH2 as ``user`` with an application's token

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


# ---------------------------------------------------------------------------------
# letters
# ---------------------------------------------------------------------------------


def signature(sender: Sender) -> str:
    lines = ["З повагою,"]
    lines += [x for x in (sender.operator, sender.name) if x]
    if sender.address:
        lines.append(sender.address)
    return "\n".join(lines)


def recipients_of(catalogue: Catalogue, executor: str) -> tuple[str, ...]:
    ex = catalogue.registry.get(executor)
    if ex is None:
        raise ConsolidateError(f"Невідомий виконавець «{executor}» (немає в реєстрі)")
    return tuple(ex.emails)


def template_letter(
    catalogue: Catalogue, period: str, executor: str, attachment_name: str, attachment: bytes, sender: Sender
) -> Letter:
    """The template with a cover letter: programme, period, deadline, how to fill it in and return it."""
    ex = catalogue.registry[executor]
    prog = catalogue.programme
    deadline = catalogue.deadline(period)
    reply = f" (на адресу {sender.address})" if sender.address else ""
    body = "\n".join(
        [
            "Шановні колеги!",
            "",
            f"{prog.customer} надсилає шаблон звіту про виконання {prog.title_genitive} {period_phrase(period)} "
            f"({prog.act}).",
            "",
            f"Виконавець: {ex.full_name} (код {ex.code})",
            f"Звітний період: {period_label(period)}",
            f"Строк подання: до {ua_date(deadline)} включно",
            f"Файл шаблону: {attachment_name}",
            "",
            "Як заповнити і повернути звіт:",
            f"1. Відкрийте вкладений файл у Microsoft Excel або LibreOffice Calc і заповніть білі клітинки на аркушах "
            f"«{L.SHEET_FUNDING}», «{L.SHEET_EXECUTION}» і «{L.SHEET_PROPOSALS}»; порядок заповнення описано на "
            f"аркуші «{L.SHEET_TITLE}».",
            "2. Не перейменовуйте аркуші, не переносьте дані в інший файл і не змінюйте його формат: файл містить "
            "службові відомості, за якими звіт буде прийнято автоматично.",
            "3. Перед надсиланням перевірте самоперевірку на титульному аркуші: усі лічильники мають дорівнювати 0.",
            f"4. Надішліть заповнений файл у відповідь на цей лист{reply} не пізніше {ua_date(deadline)}",  # «р.» ends the sentence
            "",
            f"З питань заповнення звертайтеся: {sender.contact or sender.address}",
            "",
            signature(sender),
        ]
    )
    subject = f"Шаблон звіту за {period_label(period)} — {ex.short_name} (строк до {ua_date(deadline)})"
    return Letter(
        executor,
        period,
        TEMPLATE,
        recipients_of(catalogue, executor),
        subject,
        body + "\n",
        attachment_name,
        attachment,
    )


def finding_line(n: int, f: Finding) -> str:
    """«3. [помилка] файл «…», аркуш «…», клітинка E7: повідомлення (знайдено: …; очікується: …)»."""
    where = [f"файл «{f.file}»"]
    if f.sheet:
        where.append(f"аркуш «{f.sheet}»")
    if f.cell:
        where.append(f"клітинка {f.cell}")
    detail = "; ".join(
        x
        for x in ((f"знайдено: «{f.found}»" if f.found else ""), (f"очікується: {f.expected}" if f.expected else ""))
        if x
    )
    return f"{n}. [{f.severity}] {', '.join(where)}: {f.message}" + (f" ({detail})" if detail else "")


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    ordered = sorted(findings, key=lambda f: f.severity != ERROR)
    lines = [finding_line(n, f) for n, f in enumerate(ordered[:MAX_FINDINGS], 1)]
    if len(ordered) > MAX_FINDINGS:
        lines.append(f"… і ще {plural(len(ordered) - MAX_FINDINGS, 'зауваження')}.")
    return lines


def reminder_letter(
    catalogue: Catalogue,
    period: str,
    row: ExecutorStatus,
    findings: Sequence[Finding],
    rejected: Sequence[tuple[str, str, Sequence[Finding]]],
    attachment_name: str,
    attachment: bytes,
    sender: Sender,
    as_of: dt.date,
    *,
    own_file: bool = False,
) -> Letter:
    """A reminder to an executor that has not reported or whose return has errors.

    ``findings``: those of the latest return; ``rejected``: (file name, received ISO time, findings)
    of files that arrived but were not accepted; ``own_file``: the attachment is the executor's own
    returned file (to correct in place), not a fresh template.
    """
    period = catalogue.check_period(period)
    ex = catalogue.registry[row.executor]
    prog = catalogue.programme
    deadline = catalogue.deadline(period)
    passed = as_of > deadline
    lines = [
        "Шановні колеги!",
        "",
        f"Нагадуємо про звіт про виконання {prog.title_genitive} {period_phrase(period)} ({prog.act}).",
        "",
        f"Виконавець: {ex.full_name} (код {ex.code})",
        f"Строк подання: до {ua_date(deadline)} включно" + (" — строк минув." if passed else "."),
        "",
    ]
    if row.state == WITH_ERRORS:
        subject = f"Нагадування: виправте звіт за {period_label(period)} — {ex.short_name}"
        lines += [
            f"Ваш звіт (файл «{row.file}», отримано {ua_datetime(row.received)}) {row.state.label}: значення з "
            f"помилками не можуть увійти до зведеного звіту.",
            (
                f"Виправте їх у тому самому файлі — його додано до цього листа («{attachment_name}», це ваш файл) — "
                f"і надішліть його повторно у відповідь на цей лист."
                if own_file
                else f"До листа додано новий чистий шаблон («{attachment_name}»): перенесіть у нього дані з вашого файлу "
                f"«{row.file}», виправте зазначені нижче значення і надішліть його у відповідь на цей лист."
            ),
            "",
            "Перелік зауважень:",
            *finding_lines(findings),
        ]
    else:
        subject = (
            f"Нагадування: звіт за {period_label(period)} — {ex.short_name} "
            + ("(строк минув " if passed else "(строк до ")
            + f"{ua_date(deadline)})"
        )
        if rejected:
            # the executor did send something: say why it was not accepted, not that nothing came
            subject = f"Нагадування: ваш файл не прийнято — звіт за {period_label(period)} — {ex.short_name}"
            lines.append(
                f"Станом на {ua_date(as_of)} ваш звіт не прийнято: "
                + (
                    "файл, що надійшов від вас, не вдалося прийняти"
                    if len(rejected) == 1
                    else "файли, що надійшли від вас, не вдалося прийняти"
                )
                + (f"; строк подання минув {ua_date(deadline)}" if row.state == OVERDUE else ".")
            )
            lines += ["", "Чому файл не прийнято:" if len(rejected) == 1 else "Чому файли не прийнято:"]
            for name, received, found in rejected:
                lines.append(f"— «{name}», отримано {ua_datetime(received)}:")
                lines += ["   " + x for x in finding_lines(found)]
            lines += [
                "",
                "Заповніть, будь ласка, саме вкладений шаблон (це новий чистий шаблон; дані з "
                "неприйнятого файлу перенесіть у нього) і надішліть його у форматі .xlsx.",
            ]
        else:
            lines.append(
                f"Станом на {ua_date(as_of)} ваш звіт не надійшов"
                + (f", хоча строк подання минув {ua_date(deadline)}" if row.state == OVERDUE else ".")
            )
    lines += [
        "",
        f"Шаблон звіту ще раз додано до листа: {attachment_name}" if attachment_name and not own_file else "",
        f"З питань заповнення звертайтеся: {sender.contact or sender.address}",
        "",
        signature(sender),
    ]
    return Letter(
        row.executor,
        period,
        REMINDER,
        recipients_of(catalogue, row.executor),
        subject,
        "\n".join(lines) + "\n",
        attachment_name,
        attachment,
    )


# ---------------------------------------------------------------------------------
# the workspace: sender, templates to attach
# ---------------------------------------------------------------------------------


def reminder_letters(
    ws,
    ledger,
    period: str,
    targets: Sequence[ExecutorStatus],
    sender: Sender,
    today: dt.date,
    *,
    generate: bool = True,
) -> list[Letter]:
    """Reminders for the given status rows: their findings (errors) or rejected files, with the template.

    ``generate`` false (a preview, which writes nothing): a template not generated yet is not generated; its
    letter names the file it would attach and carries no attachment.
    """
    from .template import file_name

    own = {}
    for r in targets:  # a return with errors is corrected in the executor's own file: attach it
        sub = ledger.submission(r.submission_id) if r.state == WITH_ERRORS and r.submission_id else None
        if sub is not None and sub.archive_path and (ws.root / sub.archive_path).is_file():
            own[r.executor] = (sub.original_name, (ws.root / sub.archive_path).read_bytes())
    wanted = [r.executor for r in targets if r.executor not in own]
    files = template_files(ws, period, wanted, generate=generate)
    for code in wanted:
        files.setdefault(code, (file_name(ws.catalogue, code, period), b""))
    letters = []
    for r in targets:
        findings = ledger.findings(r.submission_id) if r.state == WITH_ERRORS and r.submission_id else []
        rejected = (
            []
            if r.state == WITH_ERRORS
            else [
                (f.original_name, f.received_at, ledger.file_findings(f.id))
                for f in ledger.files(executor=r.executor, status=QUARANTINED)
                if f.period in (period, None)
            ]
        )
        name, data = own.get(r.executor) or files[r.executor]
        letters.append(
            reminder_letter(
                ws.catalogue, period, r, findings, rejected, name, data, sender, today, own_file=r.executor in own
            )
        )
    return letters


PLACEHOLDER_OPERATORS = ("", "Оператор")  # [operator] name of a fresh workspace


def template_contact(ws) -> str | None:
    """Whom executors contact, as printed on the templates and letters.

    [templates] contact as it is; else the mail sender's name, the operator (unless the placeholder),
    «тел. …» from [operator] phone, and the sender's address.
    """
    contact = ws.setting("templates", "contact")
    if not contact and ws.setting("mail", "sender"):
        operator = str(ws.setting("operator", "name", "") or "").strip()
        phone = str(ws.setting("operator", "phone", "") or "").strip()
        contact = ", ".join(
            str(x)
            for x in (
                ws.setting("mail", "sender_name"),
                operator if operator not in PLACEHOLDER_OPERATORS else "",
                f"тел. {phone}" if phone else "",
                ws.setting("mail", "sender"),
            )
            if x
        )
    return str(contact) if contact else None


def unfit_to_send(sender: Sender, recipients: Sequence[str]) -> list[str]:
    """Why letters from ``sender`` to ``recipients`` must not leave as they are (placeholders of a fresh
    workspace), in Ukrainian; [] if fit."""
    problems = []
    if sender.operator.strip() in PLACEHOLDER_OPERATORS:
        problems.append(
            f"підписант — заглушка «{sender.operator}»: укажіть своє ім’я в [operator] name у consolidate.toml"
        )
    domain = sender.address.rpartition("@")[2].lower()
    if not sender.address or domain in PLACEHOLDER_DOMAINS or domain.endswith(".example"):
        problems.append(
            f"адреса відправника — заглушка «{sender.address}»: укажіть скриньку міністерства "
            f"в [mail] sender у consolidate.toml"
        )
    placeholders = placeholder_addresses(recipients)
    if placeholders:
        problems.append(
            f"адреси виконавців — заглушки ({len(placeholders)}, напр. {placeholders[0]}): замініть їх "
            f"справжніми на аркуші «Виконавці» книги каталогу (consolidate catalogue export ФАЙЛ.xlsx, "
            f"потім catalogue import ФАЙЛ.xlsx) або в templates/executors.csv"
        )
    return problems


def workspace_sender(ws) -> Sender:
    """The sender from consolidate.toml: [mail] sender, sender_name; [operator] name."""
    from .template import default_contact

    return Sender(
        address=str(ws.setting("mail", "sender", "") or ""),
        name=str(ws.setting("mail", "sender_name", "") or ""),
        operator=str(ws.setting("operator", "name", "") or ""),
        contact=template_contact(ws) or default_contact(ws.catalogue),
    )


def template_files(ws, period: str, executors: Sequence[str], *, generate: bool = True) -> dict[str, tuple[str, bytes]]:
    """The template of each executor as (file name, bytes), from out/templates/<period>/.

    A template listed in the manifest with the catalogue's current version and unchanged bytes is
    attached as it is; a missing or outdated one is generated first (as «consolidate templates» does) —
    unless ``generate`` is false (a reader who changes nothing): then it is left out of the result.
    """
    from .template import MANIFEST, read_manifest, write_templates

    cat = ws.catalogue
    folder = ws.out / "templates" / period
    found: dict[str, tuple[str, bytes]] = {}
    for row in read_manifest(folder / MANIFEST):
        path = folder / row["file"]
        if row["executor"] in executors and row["template_version"] == cat.template_version and path.is_file():
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == row["sha256"]:
                found[row["executor"]] = (path.name, data)
    missing = [e for e in executors if e not in found]
    if not generate:
        return {e: found[e] for e in executors if e in found}
    if missing:
        password = ws.sheet_password
        written = write_templates(cat, ws.out / "templates", period, password, missing, contact=template_contact(ws))
        from .history import record_templates

        record_templates(ws, cat, written)
        for t in written:
            found[t.executor] = (t.path.name, t.path.read_bytes())
    return {e: found[e] for e in executors}


# ---------------------------------------------------------------------------------
# messages and files
# ---------------------------------------------------------------------------------


def build_message(letter: Letter, sender: Sender, when: dt.datetime, *, draft: bool = False) -> EmailMessage:
    """The letter as a MIME message (UTF-8).  ``draft``: mark it unsent, so a mail client opens it ready to send."""
    if not letter.recipients:
        raise ConsolidateError(f"У реєстрі виконавців немає адреси e-mail для «{letter.executor}»")
    msg = EmailMessage(policy=policy.SMTP)
    domain = sender.address.rpartition("@")[2] or "localhost"
    # Non-ASCII headers are encoded here (see encode_words) and stored as they are: the email
    # package's own folder may move a space between two encoded words, where decoders drop it.
    if sender.name and not sender.name.isascii():
        msg.set_raw("From", _address_header(sender.name, sender.address, "From"))
    else:
        msg["From"] = formataddr((sender.name, sender.address))
    msg["To"] = ", ".join(letter.recipients)
    msg["Reply-To"] = sender.address
    msg.set_raw("Subject", encode_words(letter.subject, "Subject"))
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid("consolidate", domain=domain)
    msg["X-Consolidate-Executor"] = letter.executor
    msg["X-Consolidate-Period"] = letter.period
    msg["X-Consolidate-Kind"] = letter.kind
    if draft:
        msg["X-Unsent"] = "1"
    msg.set_content(letter.body, charset="utf-8", cte="base64")  # 7-bit safe on any server
    if letter.attachment_name:
        # The file name goes into Content-Disposition, encoded per RFC 2231.  (A non-ASCII ``name``
        # parameter of Content-Type would make the email package fold the media type itself.)
        kind = ATTACHMENT_TYPES.get(Path(letter.attachment_name).suffix.lower(), ("application", "octet-stream"))
        msg.add_attachment(letter.attachment, maintype=kind[0], subtype=kind[1], filename=letter.attachment_name)
    return msg


def encode_words(text: str, header_name: str) -> str:
    """Unstructured header text: ASCII as it is, otherwise RFC 2047 encoded words (UTF-8, base64).

    Each word is at most 75 characters and holds whole characters; lines (the first with the header
    name) stay within 78 characters and are joined by folding whitespace, which decoders drop.
    """
    if text.isascii() and "\n" not in text and "\r" not in text:
        return text
    words: list[str] = []
    chunk = ""
    room = MAX_LINE - len(header_name) - 2
    for ch in text:
        if chunk and len(_word(chunk + ch)) > min(MAX_WORD, room):
            words.append(_word(chunk))
            chunk, room = ch, MAX_LINE - 1
        else:
            chunk += ch
    words.append(_word(chunk))
    return "\r\n ".join(words)


def _word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _address_header(name: str, address: str, header_name: str) -> str:
    phrase = encode_words(name, header_name)
    last = phrase.rpartition("\n")[2] if "\n" in phrase else f"{header_name}: {phrase}"
    joint = " " if len(last) + len(address) + 3 <= MAX_LINE else "\r\n "
    return f"{phrase}{joint}<{address}>"


def _eml_path(folder: Path, letter: Letter, when: dt.datetime) -> Path:
    code = re.sub(r"[^A-Za-z0-9_.-]+", "_", letter.executor)
    stem = f"{letter.kind}-{code}" + (f"-{when:%Y-%m-%d}" if letter.kind != TEMPLATE else "")
    path = folder / f"{stem}.eml"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.eml"
        n += 1
    return path


def placeholder_addresses(recipients: Sequence[str]) -> list[str]:
    """Recipient addresses on reserved example domains (the registry's placeholders), each once."""
    out = []
    for a in recipients:
        domain = a.rpartition("@")[2].lower()
        if (domain in PLACEHOLDER_DOMAINS or domain.endswith(".example")) and a not in out:
            out.append(a)
    return out


# ---------------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------------


def parse_server(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for an IPv6 address)."""
    m = re.fullmatch(r"\[([^\]]+)\]:(\d{1,5})|([^:\s\[\]]+):(\d{1,5})", (text or "").strip())
    port = int(m.group(2) or m.group(4)) if m else 0
    if not m or not 0 < port < 65536:
        raise ConsolidateError(
            f"Неправильна адреса поштового сервера «{text}»: очікується ХОСТ:ПОРТ, напр. smtp.gov.ua:587"
        )
    return (m.group(1) or m.group(3)), port


def smtp_settings(
    server: str,
    *,
    starttls: bool = False,
    user: str = "",
    password_env: str = PASSWORD_ENV,
    cafile: str = "",
    environ: Mapping[str, str] | None = None,
    oauth: OAuthSettings | None = None,
) -> SmtpSettings:
    """Settings for :class:`SmtpSession`; the password comes from an environment variable, never a flag
    (``oauth``: log in as ``user`` with an application's token instead of a password)."""
    host, port = parse_server(server)
    password = ""
    if oauth is not None:
        if not user:
            raise ConsolidateError(
                '[smtp] auth = "oauth2": вкажіть [smtp] user — скриньку, від імені якої надсилаються листи.'
            )
        if not starttls:
            raise ConsolidateError(
                '[smtp] auth = "oauth2": токен передається лише шифрованим з’єднанням; задайте starttls = true '
                '(для Microsoft 365: server = "smtp.office365.com:587").'
            )
    elif user:
        password = (os.environ if environ is None else environ).get(password_env, "")
        if not password:
            raise ConsolidateError(
                f"Для входу на поштовий сервер як «{user}» задайте пароль у змінній середовища "
                f"{password_env} (пароль не передається параметром командного рядка)."
            )
    if cafile and not Path(cafile).is_file():
        raise ConsolidateError(f"Файл сертифікатів «{cafile}» не знайдено")
    return SmtpSettings(host, port, starttls, user, password, password_env, cafile, oauth=oauth)


class SmtpSession:
    """A connection to an SMTP server: STARTTLS and login when asked; errors as clear Ukrainian messages."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        s = self.settings
        where = s.address
        try:
            self.smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            self.smtp.ehlo()
            if s.starttls:
                context = ssl.create_default_context(cafile=s.cafile or None)
                self.smtp.starttls(context=context)
                self.smtp.ehlo()
            if s.oauth is not None:
                smtp = self.smtp

                def attempt(token: str) -> None:
                    answer = xoauth2(s.user, token)
                    # the initial response carries the token; a 334 challenge after it is the server's reason
                    # (JSON), answered empty so that the server ends the exchange with its error
                    smtp.auth("XOAUTH2", lambda challenge=None: answer if challenge is None else "")

                login_with_token(token_source(s.oauth), attempt, smtplib.SMTPAuthenticationError)
            elif (
                s.user
                and not (s.user + s.password).isascii()
                and self.smtp.has_extn("auth")
                and "PLAIN" in (self.smtp.esmtp_features.get("auth", "").upper().split())
            ):
                # smtplib's login sends ASCII only; SASL PLAIN carries UTF-8 (RFC 4616): a Cyrillic password
                plain = base64.b64encode(f"\0{s.user}\0{s.password}".encode()).decode("ascii")
                code, reply = self.smtp.docmd("AUTH", "PLAIN " + plain)
                if code != 235:
                    raise smtplib.SMTPAuthenticationError(code, reply)
            elif s.user:
                self.smtp.login(s.user, s.password)
        except BaseException as exc:
            self._close()
            if isinstance(exc, OAuthError):
                raise OAuthError(f"{exc} Жодного листа не надіслано.") from exc
            if isinstance(exc, Exception):
                raise ConsolidateError(_connect_error(exc, s, where) + " Жодного листа не надіслано.") from exc
            raise
        return self

    def send(self, msg: EmailMessage) -> None:
        assert self.smtp is not None
        try:
            refused = self.smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ConsolidateError(
                "поштовий сервер відхилив адресатів: "
                + ", ".join(f"{a} ({_reply(c, m)})" for a, (c, m) in exc.recipients.items())
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise ConsolidateError(
                f"поштовий сервер відхилив адресу відправника {exc.sender} ({_reply(exc.smtp_code, exc.smtp_error)})"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise ConsolidateError(
                f"поштовий сервер не прийняв лист ({_reply(exc.smtp_code, exc.smtp_error)})"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ConsolidateError(f"зв’язок із поштовим сервером {self.settings.address} перервано ({exc})") from exc
        if refused:
            raise ConsolidateError(
                "поштовий сервер відхилив частину адресатів: "
                + ", ".join(f"{a} ({_reply(c, m)})" for a, (c, m) in refused.items())
            )

    def _close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def __exit__(self, *exc) -> None:
        self._close()


def _reply(code, message) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def network_error(exc: Exception, host: str, where: str, timeout: float, *, address_hint: str, cafile_hint: str):
    """The Ukrainian reason of a connection failure any mail server can give (SMTP or IMAP), or None.

    ``address_hint`` and ``cafile_hint`` name where the clerk sets the address and the certificates.
    """
    if isinstance(exc, ConnectionRefusedError):
        return f"Не вдалося з’єднатися з поштовим сервером {where}: з’єднання відхилено. Перевірте {address_hint}."
    if isinstance(exc, socket.gaierror):
        return f"Поштовий сервер «{host}» не знайдено (помилка DNS: {exc.strerror})."
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"Поштовий сервер {where} не відповідає (очікування {timeout:g} с)."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"Не вдалося перевірити сертифікат поштового сервера {where} ({exc.verify_message}). "
            f"Якщо сервер використовує сертифікат відомчого центру, вкажіть його файлом {cafile_hint}."
        )
    if isinstance(exc, ssl.SSLError):
        return f"Помилка шифрування (TLS) з поштовим сервером {where}: {exc}."
    return None


def _connect_error(exc: Exception, s: SmtpSettings, where: str) -> str:
    common = network_error(exc, s.host, where, s.timeout, address_hint="адресу і порт (--smtp)", cafile_hint="--cafile")
    if common is not None:
        return common
    if isinstance(exc, smtplib.SMTPAuthenticationError) and s.oauth is not None:
        return (
            f"Поштовий сервер {where} не прийняв токен застосунку {s.oauth.client_id} для скриньки «{s.user}» "
            f"({_reply(exc.smtp_code, exc.smtp_error)}). Перевірте, що застосунку надано дозвіл SMTP.SendAsApp зі "
            "згодою адміністратора, у скриньки ввімкнено SMTP AUTH (Set-CASMailbox -SmtpClientAuthenticationDisabled "
            "$false) і застосунку надано доступ до неї (Add-MailboxPermission); див. docs/mail.md."
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"Поштовий сервер {where} відхилив вхід користувача «{s.user}» ({_reply(exc.smtp_code, exc.smtp_error)}). "
            f"Перевірте ім’я користувача і пароль у змінній середовища {s.password_env}."
        )
    if isinstance(exc, UnicodeEncodeError):
        return (
            "Ім’я користувача або пароль містить символи поза ASCII (напр. кирилицю), а сервер не приймає вхід "
            "AUTH PLAIN, яким їх можна передати; задайте пароль латиницею."
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        what = "STARTTLS" if s.starttls and "STARTTLS" in str(exc).upper() else "вхід (AUTH)"
        hint = "" if s.starttls else " Можливо, потрібне шифрування: додайте --starttls."
        return f"Поштовий сервер {where} не підтримує {what}.{hint}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"Поштовий сервер {where} відповів помилкою {_reply(exc.smtp_code, exc.smtp_error)}."
    if isinstance(exc, smtplib.SMTPException):
        return f"Помилка поштового сервера {where}: {exc}."
    if isinstance(exc, OSError):
        return f"Не вдалося з’єднатися з поштовим сервером {where}: {exc.strerror or exc}."
    return f"Помилка під час з’єднання з поштовим сервером {where}: {exc}."


# ---------------------------------------------------------------------------------
# delivery with the ledger
# ---------------------------------------------------------------------------------


def earlier_letters(
    ledger, kind: str, period: str, executors: Sequence[str], same_day: dt.date | None = None
) -> dict[str, object]:
    """The latest letter of ``kind`` already recorded per executor for the period.

    ``same_day``: count only letters recorded on that day (reminders are repeated on other days).
    """
    out = {}
    for code in executors:
        earlier = [
            m
            for m in ledger.mails(executor=code, period=period, kind=kind)
            if same_day is None or day_of(m.sent_at) == same_day
        ]
        if earlier:
            out[code] = earlier[-1]
    return out


def describe_mail(record) -> str:
    """«10.01.2025 10:00, лист out/mail/2024/template-MVS.eml» / «…, через сервер smtp.gov.ua:587»."""
    how = f"лист {record.location}" if record.via == "eml" else f"через сервер {record.location}"
    return f"{format_time(record.sent_at)}, {how}"


def deliver(
    letters: Sequence[Letter],
    sender: Sender,
    ledger,
    *,
    root: Path,
    mail_dir: Path,
    smtp: SmtpSettings | None = None,
    now: dt.datetime | None = None,
) -> list:
    """Write every letter as an .eml into ``mail_dir`` or send it through ``smtp``; record each in the ledger.

    Returns the ledger's mail records.  With SMTP, a letter is recorded only after the server
    accepted it; when the server fails part-way, the letters accepted before are recorded and the
    error says how many.
    """
    if not sender.address or "@" not in sender.address:
        raise ConsolidateError("Не задано адресу відправника: вкажіть [mail] sender у consolidate.toml")
    missing = [letter.executor for letter in letters if not letter.recipients]
    if missing:
        raise ConsolidateError(
            "У реєстрі виконавців немає адреси e-mail для: "
            + ", ".join(missing)
            + ". Жодного листа не надіслано. Адреси вносять на аркуші «Виконавці» книги каталогу "
            "(consolidate catalogue export / import) або в templates/executors.csv."
        )
    now = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
    records = []
    if smtp is None:
        for letter in letters:
            msg = build_message(letter, sender, now, draft=True)
            path = _eml_path(mail_dir, letter, now)
            atomic_write(path, msg.as_bytes(policy=policy.SMTP))
            records.append(_record(ledger, letter, msg, "eml", _relative(path, root), now))
        return records
    with SmtpSession(smtp) as session:
        for n, letter in enumerate(letters):
            msg = build_message(letter, sender, now)
            try:
                session.send(msg)
            except ConsolidateError as exc:
                raise ConsolidateError(
                    f"Надіслано листів: {n} з {len(letters)}; лист для «{letter.executor}» і "
                    f"наступні не надіслано: {exc}"
                ) from exc
            records.append(_record(ledger, letter, msg, "smtp", smtp.address, now))
    return records


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def _record(ledger, letter: Letter, msg: EmailMessage, via: str, location: str, now: dt.datetime):
    return ledger.record_mail(
        executor=letter.executor,
        period=letter.period,
        kind=letter.kind,
        recipients=", ".join(letter.recipients),
        subject=letter.subject,
        attachment_name=letter.attachment_name,
        attachment_sha256=letter.attachment_sha256,
        via=via,
        location=location,
        message_id=str(msg["Message-ID"]),
        sent_at=now.isoformat(),
    )
