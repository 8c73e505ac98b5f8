"""Returns from the reporting mailbox: a real Dovecot (IMAPS and STARTTLS on 127.0.0.1) and a real SMTP server
(aiosmtpd) for the receipts; messages APPENDed as Outlook and Thunderbird build them."""

from __future__ import annotations

import email
import hashlib
import json
import shutil
from email import policy

import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.ledger import Ledger
from consolidate.mailbox import SENDER_CODE, mail_origins, messages
from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, QUARANTINED
from consolidate.template import write_templates
from consolidate.workflows import mail as wf

from .conftest import need_binary
from .mail_util import (PASSWORD, Dovecot, forwarded, oem_name, outlook, outlook_rtf, thunderbird, winmail,
                        zip_windows)
from .test_mail import start

pytestmark = pytest.mark.slow   # every test here talks to a real Dovecot started for it

ENV = "CONSOLIDATE_IMAP_PASSWORD"


@pytest.fixture(scope="module")
def dovecot():
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin") \
        or need_binary("dovecot")
    need_binary("openssl")
    server = Dovecot.temporary(binary).start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    controller, inbox = start()
    yield f"127.0.0.1:{controller.port}", inbox
    controller.stop()


class Box:
    """A workspace configured for a fresh mailbox user of the test Dovecot and the test SMTP server."""

    def __init__(self, ws, dovecot: Dovecot, smtp, user: str):
        self.ws, self.dovecot, self.user = ws, dovecot, user
        self.smtp_address, self.smtp_inbox = smtp
        cat = ws.catalogue
        self.templates = {t.executor: t for t in write_templates(cat, ws.out / "templates", "2024", "test")}

    def configure(self, **mailbox) -> None:
        settings = {"host": "127.0.0.1", "port": self.dovecot.imaps_port, "security": "tls", "user": self.user,
                    "cafile": str(self.dovecot.cert), **mailbox}
        lines = ["[mail]", f'sender = "{self.user}"', 'sender_name = "Мінсоцполітики, звітність"', "",
                 "[operator]", 'name = "Оператор"', "", "[smtp]", f'server = "{self.smtp_address}"', "", "[mailbox]"]
        for k, v in settings.items():
            lines.append(f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else
                         f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
        (self.ws.root / "consolidate.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.ws._config = None

    def workbook(self, executor: str, n: int = 0, error: bool = False) -> bytes:
        cat = self.ws.catalogue
        values = plausible_values(cat, executor, n)
        if error:
            indicator = next(i.id for m in cat.measures_for(executor) for i in cat.indicators_of(m.id)
                             if i.unit not in ("percent", "text"))
            values["execution"][indicator]["actual"] = "багато"
        path = fill_workbook(self.templates[executor].path, self.ws.root / "tmp" / f"{executor}-{n}-{error}.xlsx",
                             values)
        return path.read_bytes()

    def append(self, raw: bytes, when=None) -> bytes:
        self.dovecot.append(self.user, raw, when=when)
        return raw

    def fetch(self, **kwargs) -> wf.MailFetchResult:
        settings, smtp = wf.settings_for(self.ws, environ={ENV: PASSWORD})
        return wf.fetch(self.ws, settings=settings, smtp=smtp, **kwargs)

    def receipts(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in self.smtp_inbox.messages]

    def folder(self, name: str) -> list[bytes]:
        return self.dovecot.folder(self.user, name)


@pytest.fixture
def box(workspace, dovecot, smtp):
    b = Box(workspace, dovecot, smtp, dovecot.add_user())
    b.configure()
    return b


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def message_id(raw: bytes) -> str:
    return email.message_from_bytes(raw, policy=policy.default)["Message-ID"].strip()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------
# the round trip
# ---------------------------------------------------------------------------------

def test_returns_received_archived_answered_in_the_thread_and_filed_away(box):
    clean = box.workbook("MVS", 1)
    broken = box.workbook("NSSU", 2, error=True)
    m1 = box.append(outlook("mvs@example.org", box.user, "Звіт МВС за 2024 рік", [("Звіт МВС 2024.xlsx", clean)]))
    m2 = box.append(thunderbird("nssu@example.org", box.user, "Звіт Нацсоцслужби",
                                [("Звіт Нацсоцслужби за 2024 рік — остаточна редакція.xlsx", broken)]))

    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={ENV: PASSWORD})
    assert result.exit_code == 1, result.output   # one return has errors
    assert "Звіт МВС 2024.xlsx" in result.output and "квитанцію надіслано" in result.output

    with Ledger(box.ws.ledger_path) as ledger:
        files = {f.original_name: f for f in ledger.files()}
        assert files["Звіт МВС 2024.xlsx"].status == ACCEPTED
        bad = files["Звіт Нацсоцслужби за 2024 рік — остаточна редакція.xlsx"]
        assert bad.status == ACCEPTED_ERRORS and bad.executor == "NSSU"
        for f, data in ((files["Звіт МВС 2024.xlsx"], clean), (bad, broken)):
            assert (box.ws.root / f.archive_path).read_bytes() == data   # byte-identical archive copy
        error = next(x for x in ledger.file_findings(bad.id) if x.code == "text-in-number")
        rows = {m.sender: m for m in messages(ledger)}
        assert set(rows) == {"mvs@example.org", "nssu@example.org"}
        mvs = rows["mvs@example.org"]
        assert (mvs.message_id, mvs.subject, mvs.sent_at) == (message_id(m1), "Звіт МВС за 2024 рік",
                                                              "2025-01-15T10:12:33+00:00")
        assert all(m.state == "moved" and m.reply == "sent" and m.moved_to == "Оброблено" for m in rows.values())
        assert (box.ws.root / mvs.raw_path).read_bytes() == m1    # the message itself is kept
        origins = mail_origins(ledger)
        assert origins[sha(clean)].sender == "mvs@example.org"
        (logged,) = ledger.mails(executor="MVS", kind="receipt")   # the receipt is in the executor's mail log
        assert logged.recipients == "mvs@example.org" and logged.via == "smtp"

    receipts = {r["To"]: r for r in box.receipts()}
    assert set(receipts) == {"mvs@example.org", "nssu@example.org"}
    for raw, to in ((m1, "mvs@example.org"), (m2, "nssu@example.org")):
        r = receipts[to]
        assert r["In-Reply-To"] == message_id(raw)
        assert r["References"].split()[-1] == message_id(raw)
        assert r["Auto-Submitted"] == "auto-replied"
        assert r["Subject"].startswith("Re: Звіт")
    assert "прийнято" in body(receipts["mvs@example.org"])
    text = body(receipts["nssu@example.org"])
    assert f"аркуш «{error.sheet}», клітинка {error.cell}" in text and "Виправте помилки" in text

    assert box.folder("INBOX") == []
    assert sorted(map(message_id, box.folder("Оброблено"))) == sorted([message_id(m1), message_id(m2)])

    # the second run: nothing to do, nothing answered again
    again = box.fetch()
    assert again.messages == [] and again.exit_code == 0
    assert len(box.smtp_inbox.messages) == 2

    # status and history say which returns came by mail
    status = CliRunner().invoke(main, ["status", "-w", str(box.ws.root), "--json"])
    rows = {r["executor"]: r for r in json.JSONDecoder().raw_decode(status.output)[0]["executors"]}
    assert rows["MVS"]["by_mail"] == "mvs@example.org, лист від 15.01.2025 10:12"
    assert "поштою: mvs@example.org" in (box.ws.out / "status.html").read_text(encoding="utf-8")
    from consolidate.workflows.intake import executor_history

    view = executor_history(box.ws, "MVS", "2024")   # the console's executor page
    assert view.by_mail[sha(clean)] == "mvs@example.org, лист від 15.01.2025 10:12"
    history = CliRunner().invoke(main, ["history", "MVS", "-w", str(box.ws.root)])
    assert "поштою від mvs@example.org, лист від 15.01.2025" in history.output, history.output


def test_a_return_is_received_when_its_message_reached_the_mailbox_not_when_it_was_fetched(box):
    """INTERNALDATE (set by the server on delivery; the sender cannot set it) is the time of receipt: a message
    delivered before the deadline is on time however late the mailbox is read; a date in the future (a wrong
    clock) gives way to the time of the fetch."""
    import datetime as dt

    deadline = box.ws.catalogue.deadline("2024")
    delivered = dt.datetime.combine(deadline, dt.time(9, 30)).astimezone()   # half an hour before a 10:00 deadline
    on_time, future = box.workbook("MVS", 4), box.workbook("NSSU", 5)
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("МВС.xlsx", on_time)]), when=delivered)
    box.append(outlook("nssu@example.org", box.user, "Звіт", [("НСС.xlsx", future)]),
               when=dt.datetime.now().astimezone() + dt.timedelta(days=400))
    before = dt.datetime.now().astimezone().replace(microsecond=0)
    box.fetch()
    with Ledger(box.ws.ledger_path) as ledger:
        mvs, nssu = ledger.file(sha(on_time)), ledger.file(sha(future))
        rows = {m.sender: m for m in messages(ledger)}
    assert dt.datetime.fromisoformat(mvs.received_at) == delivered.replace(microsecond=0)
    assert dt.datetime.fromisoformat(rows["mvs@example.org"].delivered_at) == delivered.replace(microsecond=0)
    assert dt.datetime.fromisoformat(nssu.received_at) >= before        # the future date is not believed
    status = CliRunner().invoke(main, ["status", "-w", str(box.ws.root), "--json", "--as-of",
                                       (deadline + dt.timedelta(days=30)).isoformat()])
    row = {r["executor"]: r for r in json.JSONDecoder().raw_decode(status.output)[0]["executors"]}["MVS"]
    assert row["late"] is False and row["received"] == mvs.received_at, row


def test_sender_not_in_the_registry_is_a_warning(box):
    data = box.workbook("MVS", 3)
    box.append(outlook("ivanenko@gmail.test", box.user, "звіт", [("МВС.xlsx", data)]))
    result = box.fetch()
    (m,) = result.messages
    (f,) = m.files
    assert f.status == ACCEPTED_WARNINGS
    with Ledger(box.ws.ledger_path) as ledger:
        record = ledger.file(sha(data))
        assert record.status == ACCEPTED_WARNINGS
        warning = next(x for x in ledger.file_findings(record.id) if x.code == SENDER_CODE)
    assert "надіслано з адреси ivanenko@gmail.test, якої немає в реєстрі для «МВС»" in warning.message
    (receipt,) = box.receipts()
    assert "якої немає в реєстрі" in body(receipt)


def test_a_message_without_a_spreadsheet_gets_a_polite_receipt_and_is_moved_aside(box):
    box.append(outlook("mvs@example.org", box.user, "Питання щодо звіту", [("лист.pdf", b"%PDF-1.4 hello")],
                       ctype="application/pdf"))
    box.append(thunderbird("dms@example.org", box.user, "Привіт", []))
    result = box.fetch()
    assert result.exit_code == 1
    receipts = {r["To"]: body(r) for r in box.receipts()}
    assert "не є електронною таблицею" not in receipts["mvs@example.org"]
    assert "«лист.pdf» — не прийнято: це не електронна таблиця" in receipts["mvs@example.org"]
    assert "У листі немає файлу звіту" in receipts["dms@example.org"]
    assert len(box.folder("Не прийнято")) == 2 and box.folder("INBOX") == []


def test_no_receipt_for_a_message_without_attachment_when_so_configured(box):
    box.configure(no_attachment_receipt=False)
    box.append(thunderbird("dms@example.org", box.user, "Привіт", []))
    (m,) = box.fetch().messages
    assert m.reply == "not-sent:no-files" and box.receipts() == []
    assert len(box.folder("Не прийнято")) == 1


def test_auto_replies_and_mailer_daemons_get_no_receipt(box):
    box.append(outlook("mvs@example.org", box.user, "Автоматична відповідь: Шаблон звіту", [],
                       extra_headers="Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"))
    bounce = (f"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {box.user}\r\n"
              "Subject: Undelivered Mail Returned to Sender\r\nDate: Wed, 15 Jan 2025 10:00:00 +0000\r\n"
              "Message-ID: <bounce-1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
              "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
              "--B\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n"
              "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
              "--B--\r\n").encode()
    box.append(bounce)
    box.append(thunderbird("nssu@example.org", box.user, "Розсилка", [],
                           extra_headers="List-Id: <news.example.org>\r\nPrecedence: list\r\n"))
    result = box.fetch()
    assert sorted(m.reply for m in result.messages) == ["not-sent:auto-submitted", "not-sent:bulk",
                                                       "not-sent:mailer-daemon"]
    assert box.receipts() == []
    assert box.folder("INBOX") == [] and len(box.folder("Не прийнято")) == 3


def test_zip_forwarded_and_winmail_attachments_are_received_with_their_cyrillic_names(box):
    a, b, c = box.workbook("MVS", 4), box.workbook("NSSU", 5), box.workbook("DMS", 6)
    archive = zip_windows([("Звіти/Звіт МВС 2024.xlsx", a), ("Пояснення.txt", b"text")])
    box.append(outlook("mvs@example.org", box.user, "Архів звітів", [("Звіти МВС.zip", archive)],
                       ctype="application/x-zip-compressed"))
    inner = thunderbird("nssu@example.org", "colleague@example.org", "Звіт Нацсоцслужби",
                        [("Нацсоцслужба — звіт за 2024 рік, остаточна редакція (підписано).xlsx", b)])
    box.append(forwarded("nssu@example.org", box.user, "FW: Звіт Нацсоцслужби", inner))
    box.append(outlook_rtf("dms@example.org", box.user, "Звіт ДМС", winmail([("Звіт ДМС за 2024 рік.xlsx", c)])))
    result = box.fetch()
    names = {f.name: f for m in result.messages for f in m.files}
    assert names[oem_name("Звіт МВС 2024.xlsx")].status == ACCEPTED
    assert names[oem_name("Звіт МВС 2024.xlsx")].container == "архів «Звіти МВС.zip»"
    assert names["Пояснення.txt"].status == "refused"
    assert names["Нацсоцслужба — звіт за 2024 рік, остаточна редакція (підписано).xlsx"].container == \
        "пересланий лист «Звіт Нацсоцслужби»"
    assert names["Звіт ДМС за 2024 рік.xlsx"].status == ACCEPTED
    with Ledger(box.ws.ledger_path) as ledger:
        recorded = {f.sha256: f.original_name for f in ledger.files()}
    assert recorded == {sha(a): oem_name("Звіт МВС 2024.xlsx"),
                        sha(b): "Нацсоцслужба — звіт за 2024 рік, остаточна редакція (підписано).xlsx",
                        sha(c): "Звіт ДМС за 2024 рік.xlsx"}
    assert len(box.receipts()) == 3 and len(box.folder("Оброблено")) == 3


def test_malformed_messages_and_encoded_names_never_crash(box):
    good = box.workbook("MVS", 7)
    # Outlook with a windows-1251 encoded word for the name
    box.append(outlook("mvs@example.org", box.user, "Звіт (1251)", [("Звіт МВС — cp1251.xlsx", good)],
                       charset="windows-1251"))
    # no closing boundary, a part with broken base64, an encoded word glued to the extension
    broken = (f"From: dms@example.org\r\nTo: {box.user}\r\nSubject: =?utf-8?B?!!!?=\r\n"
              "Message-ID: <broken-1@dms.example.org>\r\nMIME-Version: 1.0\r\n"
              "Content-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: "
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"=?utf-8?B?0JfQstGW0YI=?=.xlsx\"\r\n"
              "Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBBQ@@@not base64\r\n").encode()
    box.append(broken)
    # a line of garbage among the headers: what follows it is the body (no attachment), never a crash
    garbage = (f"From: msp@example.org\r\nTo: {box.user}\r\nSubject: garbage\r\nMessage-ID: <garbage-1@x>\r\n"
               "\x01\x02garbage\r\nContent-Type: multipart/mixed; boundary=\"Z\"\r\n\r\n--Z\r\n\r\nhello\r\n").encode()
    box.append(garbage)
    # an attachment named only in the Content-Type (old clients) with RFC 2231 and a wrong media type
    legacy = (f"From: nssu@example.org\r\nTo: {box.user}\r\nSubject: legacy\r\nMessage-ID: <legacy-1@x>\r\n"
              "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"Y\"\r\n\r\n--Y\r\n"
              "Content-Type: application/octet-stream; name*=UTF-8''%D0%97%D0%B2%D1%96%D1%82.xls\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n" + __import__("base64").b64encode(b"\xd0\xcf\x11\xe0junk").decode()
              + "\r\n--Y--\r\n").encode()
    box.append(legacy)
    result = box.fetch()
    by_sender = {m.sender: m for m in result.messages}
    assert [f.name for f in by_sender["mvs@example.org"].files] == ["Звіт МВС — cp1251.xlsx"]
    assert by_sender["mvs@example.org"].files[0].status == ACCEPTED
    (f,) = by_sender["dms@example.org"].files
    assert f.name == "Звіт.xlsx" and f.status == QUARANTINED          # read, not accepted, reasons given
    (f,) = by_sender["nssu@example.org"].files
    assert f.name == "Звіт.xls" and f.status == QUARANTINED
    assert by_sender["msp@example.org"].files == [] and by_sender["msp@example.org"].reply == "sent"
    assert all(not m.error for m in result.messages)
    assert len(box.receipts()) == 4 and box.folder("INBOX") == []


def test_caps_on_size_and_count_with_the_reason_in_the_receipt(box):
    box.configure(max_attachments=2, max_attachment_mb=1)
    books = [box.workbook("MVS", n) for n in (8, 9, 10)]
    huge = b"PK\x03\x04" + b"\0" * (1024 * 1024 + 10)
    box.append(outlook("mvs@example.org", box.user, "Три звіти", [(f"Звіт {n}.xlsx", d) for n, d in enumerate(books)]
                       + [("Величезний.xlsx", huge)]))
    (m,) = box.fetch().messages
    states = [(f.name, f.status) for f in m.files]
    assert states[0][1] == ACCEPTED and states[1][1] == ACCEPTED
    assert states[2] == ("Звіт 2.xlsx", "refused") and states[3] == ("Величезний.xlsx", "refused")
    text = body(box.receipts()[0])
    assert "забагато файлів в одному листі (обробляємо не більше 2)" in text
    assert "завеликий файл (понад 1 МБ)" in text


def test_the_same_message_twice_is_answered_once(box):
    data = box.workbook("MVS", 11)
    raw = outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", data)])
    box.append(raw)
    first = box.fetch()
    box.append(raw)                       # the sender's client sent it again (the same Message-ID)
    second = box.fetch()
    assert [m.duplicate for m in first.messages] == [False] and [m.duplicate for m in second.messages] == [True]
    assert len(box.receipts()) == 1
    assert len(box.folder("Оброблено")) == 2 and box.folder("INBOX") == []
    # the same file in a new message: received once, the receipt says it was received before
    box.append(thunderbird("mvs@example.org", box.user, "Ще раз", [("Звіт (копія).xlsx", data)]))
    (m,) = box.fetch().messages
    assert m.files[0].status == "already" and "уже отримано" in body(box.receipts()[-1])
    with Ledger(box.ws.ledger_path) as ledger:
        assert len(ledger.files()) == 1


def test_starttls_and_flag_mode(box):
    box.configure(security="starttls", port=box.dovecot.imap_port, action="flag")
    box.append(outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", box.workbook("MVS", 12))]))
    (m,) = box.fetch().messages
    assert m.moved_to == "позначено: оброблено"
    flags = b" ".join(box.dovecot.flags(box.user))
    assert b"$Consolidated" in flags and b"\\Seen" in flags
    assert box.fetch().messages == []     # flagged: not taken again


def test_settings_refuse_plain_text_stored_passwords_and_unknown_certificates(box):
    box.configure(security="none")
    with pytest.raises(Exception, match="без шифрування"):
        box.fetch()
    box.configure(password="secret")
    with pytest.raises(Exception, match="не зберігайте пароль"):
        box.fetch()
    box.configure(cafile="")
    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={ENV: PASSWORD})
    assert result.exit_code == 2 and "сертифікат" in result.output
    box.configure()
    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={ENV: "wrong"})
    assert result.exit_code == 2 and "відхилив вхід" in result.output
    text = (box.ws.root / "consolidate.toml").read_text(encoding="utf-8")
    (box.ws.root / "consolidate.toml").write_text(text.replace(f'sender = "{box.user}"',
                                                               'sender = "antitrafficking@example.org"'))
    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={ENV: PASSWORD})
    assert result.exit_code == 2 and "адреси-заглушки" in result.output


def test_watch_runs_rounds_and_survives_a_failed_round(box):
    box.configure(idle=False)   # the rounds between sleeps (the waits in IDLE: the tests below)
    box.append(outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", box.workbook("MVS", 13))]))
    settings, smtp = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    rounds = []
    wf.watch(box.ws, settings=settings, smtp=smtp, rounds=2, on_round=lambda r, e: rounds.append((r, e)),
             sleep=lambda s: None)
    assert len(rounds) == 2 and len(rounds[0][0].messages) == 1 and rounds[1][0].messages == []
    import dataclasses

    down = dataclasses.replace(settings, port=1)
    rounds.clear()
    wf.watch(box.ws, settings=down, smtp=smtp, rounds=1, on_round=lambda r, e: rounds.append((r, e)))
    assert rounds[0][0] is None and "з’єднання відхилено" in rounds[0][1]


def test_a_message_over_the_size_cap_is_not_downloaded_and_the_sender_is_told(box):
    box.configure(max_message_mb=1)
    box.append(outlook("mvs@example.org", box.user, "Великий лист", [("Звіт.xlsx", b"PK\x03\x04" + b"\1" * 1_300_000)]))
    (m,) = box.fetch().messages
    assert m.kind == "too-large" and m.files == [] and m.moved_to == "Не прийнято"
    assert "Лист завеликий" in body(box.receipts()[0])
    with Ledger(box.ws.ledger_path) as ledger:
        (row,) = messages(ledger)
        kept = (box.ws.root / row.raw_path).read_bytes()
    assert len(kept) < 10_000 and b"Message-ID:" in kept      # only the header was fetched and kept


def test_smtp_down_the_message_waits_and_is_answered_once_later(box):
    box.configure()
    text = (box.ws.root / "consolidate.toml").read_text(encoding="utf-8")
    from .mail_util import free_port

    (box.ws.root / "consolidate.toml").write_text(text.replace(box.smtp_address, f"127.0.0.1:{free_port()}"),
                                                  encoding="utf-8")
    box.ws._config = None
    data = box.workbook("MVS", 14)
    box.append(outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", data)]))
    first = box.fetch()
    (m,) = first.messages
    assert "з’єднання відхилено" in m.error and first.exit_code == 1
    assert m.files[0].status == ACCEPTED                       # received all the same
    assert len(box.folder("INBOX")) == 1                       # not filed away without its receipt
    box.configure()                                            # the server is back
    (m,) = box.fetch().messages
    assert m.reply == "sent" and m.moved_to == "Оброблено" and not m.error
    assert len(box.receipts()) == 1 and box.fetch().messages == []


def test_servers_without_move_get_copy_deleted_and_uid_expunge(box):
    """Older Exchange servers have no MOVE: COPY, \\Deleted and (with UIDPLUS) UID EXPUNGE of that message only."""
    from consolidate.mailbox import Imap

    for n in range(2):
        box.append(thunderbird("mvs@example.org", box.user, f"Лист {n}", []))
    settings, _ = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    with Imap(settings) as imap:
        assert {"MOVE", "UIDPLUS"} <= imap.caps
        imap.caps.discard("MOVE")
        imap.select("INBOX")
        first, second = imap.uids()
        assert imap.file_away(first, accepted=False) == "Не прийнято"
        assert imap.uids() == [second] and not imap.exists(first)
    assert len(box.folder("Не прийнято")) == 1 and len(box.folder("INBOX")) == 1


# ---------------------------------------------------------------------------------
# --watch: waiting in IMAP IDLE between rounds
# ---------------------------------------------------------------------------------

LIMIT = 120   # seconds: the bound of every wait in these tests (a failure fails, it never hangs)


def idling(user: str) -> int | None:
    """The pid of the Dovecot process serving ``user`` in IDLE (its title, verbose_proctitle), or None."""
    import os

    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read()
        except OSError:
            continue
        if title.startswith(b"dovecot/imap [") and f"[{user} ".encode() in title and title.rstrip(b"\0").endswith(b" IDLE]"):
            return int(pid)
    return None


def until_idling(user: str) -> int:
    import time

    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        pid = idling(user)
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"no connection of {user} went into IDLE within {LIMIT} s")


def watch_in_thread(box, settings, smtp, rounds: int, sleep, on_wait):
    """wf.watch in a thread, joined within LIMIT; returns (rounds as (result, error), exceptions)."""
    import threading

    seen, errors = [], []

    def run():
        try:
            wf.watch(box.ws, settings=settings, smtp=smtp, rounds=rounds, on_round=lambda r, e: seen.append((r, e)),
                     on_wait=on_wait, sleep=sleep)
        except BaseException as exc:  # noqa: BLE001 — handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(LIMIT)
    assert not thread.is_alive(), f"the watch did not finish within {LIMIT} s (rounds so far: {seen})"
    return seen, errors


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the watch slept {seconds} s instead of waiting in IDLE")


def test_watch_waits_in_idle_and_a_new_message_starts_the_next_round_at_once(box):
    import threading

    box.configure(poll_minutes=30)
    settings, smtp = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    assert settings.idle                                       # the default
    raw = outlook("mvs@example.org", box.user, "Звіт під час очікування", [("Звіт.xlsx", box.workbook("MVS", 31))])
    waits, appenders = [], []

    def on_wait(idle, seconds, why):
        waits.append((idle, seconds, why))
        if idle:   # the message comes once the watch is in IDLE (the server says so in its process title)
            t = threading.Thread(target=lambda: (until_idling(box.user), box.append(raw)), daemon=True)
            t.start()
            appenders.append(t)

    rounds, errors = watch_in_thread(box, settings, smtp, 2, no_sleep, on_wait)
    assert errors == []                                        # no_sleep was never called: IDLE ended the wait
    assert waits == [(True, 1800.0, "")]
    assert rounds[0] == (rounds[0][0], "") and rounds[0][0].messages == []
    result, error = rounds[1]
    assert error == "" and [m.subject for m in result.messages] == ["Звіт під час очікування"]
    assert result.messages[0].moved_to == "Оброблено" and result.exit_code == 0
    assert len(box.receipts()) == 1


def test_idle_waits_are_begun_again_within_a_long_wait(box):
    """Servers drop an IDLE after 30 minutes: a wait longer than ``reissue`` ends the IDLE and begins another."""
    import threading

    from consolidate.mailbox import IDLE_REISSUE_SECONDS, Imap

    assert IDLE_REISSUE_SECONDS <= 29 * 60                     # RFC 2177
    settings, _ = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    with Imap(settings) as imap:
        assert imap.can_idle
        imap.observe("INBOX")
        sent = []
        original = imap._send_tagged
        imap._send_tagged = lambda command: sent.append(command) or original(command)
        assert imap.wait_for_new(1.0, reissue=0.25) is False   # nothing came: the whole wait, in several IDLEs
        assert len(sent) >= 4 and set(sent) == {"IDLE"}
        t = threading.Thread(target=lambda: (until_idling(box.user), box.append(thunderbird(
            "mvs@example.org", box.user, "Лист", []))), daemon=True)
        t.start()
        assert imap.wait_for_new(LIMIT, reissue=0.25) is True  # the connection is as good after the re-issues
        t.join(LIMIT)


def test_idle_switched_off_the_watch_sleeps(box):
    box.configure(poll_minutes=30, idle=False)
    settings, smtp = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    assert settings.idle is False
    slept, waits = [], []
    rounds, errors = watch_in_thread(box, settings, smtp, 2, slept.append, lambda *a: waits.append(a))
    assert errors == [] and len(rounds) == 2
    assert slept == [1800.0] and waits == [(False, 1800.0, "")]
    box.configure(idle="yes")
    with pytest.raises(Exception, match="idle = «yes»: очікується true або false"):
        wf.settings_for(box.ws, environ={ENV: PASSWORD})


def test_a_connection_broken_during_idle_falls_back_to_sleeping_and_the_watch_goes_on(box):
    """The waiting connection is cut under the watch (its server process killed): that wait is a sleep for the
    rest of its time; the next round runs, the next wait is in IDLE again on a new connection."""
    import os
    import signal
    import threading

    box.configure(poll_minutes=30)
    settings, smtp = wf.settings_for(box.ws, environ={ENV: PASSWORD})
    raw = thunderbird("mvs@example.org", box.user, "Після збою", [("Звіт.xlsx", box.workbook("MVS", 32))])
    waits, slept = [], []

    def on_wait(idle, seconds, why):
        waits.append((idle, seconds, why))
        if idle and len(waits) == 1:      # the first wait: the connection is killed once it is in IDLE
            threading.Thread(target=lambda: os.kill(until_idling(box.user), signal.SIGKILL), daemon=True).start()
        elif idle:                        # the second: a message comes
            threading.Thread(target=lambda: (until_idling(box.user), box.append(raw)), daemon=True).start()

    rounds, errors = watch_in_thread(box, settings, smtp, 3, slept.append, on_wait)
    assert errors == [] and len(rounds) == 3 and all(error == "" for _, error in rounds)
    (first, _, _), (fallback, rest, why), (again, _, _) = waits
    assert first is True and fallback is False and again is True
    assert "закрив з’єднання" in why and 0 <= rest <= 1800 and slept == [rest]
    assert [m.subject for m in rounds[2][0].messages] == ["Після збою"]


def test_a_server_gone_during_idle_the_rounds_are_reported_not_fatal(box, dovecot):
    """A second server stopped while the watch is in IDLE on it: the wait falls back to sleeping, the rounds
    that follow fail, are reported, and the watch runs them all."""
    import threading

    second = Dovecot.temporary(dovecot.binary).start()
    try:
        user = second.add_user()
        box.configure(port=second.imaps_port, cafile=str(second.cert), user=user, poll_minutes=30)
        settings, smtp = wf.settings_for(box.ws, environ={ENV: PASSWORD})
        waits, slept = [], []

        def on_wait(idle, seconds, why):
            waits.append((idle, seconds, why))
            if idle:
                threading.Thread(target=lambda: (until_idling(user), second.halt()), daemon=True).start()

        rounds, errors = watch_in_thread(box, settings, smtp, 3, slept.append, on_wait)
    finally:
        second.stop()
    assert errors == [] and len(rounds) == 3
    assert rounds[0][1] == "" and all(r is None and "з’єднання відхилено" in e for r, e in rounds[1:])
    assert [w[0] for w in waits] == [True, False, False] and len(slept) == 2
    assert waits[2][1] == 1800.0 and "з’єднання відхилено" in waits[2][2]  # no server: no IDLE, said why


def test_the_cli_says_how_it_waits_and_ctrl_c_in_idle_stops_it(box):
    """`mail fetch --watch` as a clerk runs it: the wait said in Ukrainian; Ctrl+C while in IDLE stops cleanly."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    from .conftest import ROOT

    box.configure(poll_minutes=30)
    env = {**os.environ, ENV: PASSWORD, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", "from consolidate.cli import main; main()", "mail", "fetch",
                             "--watch", "-w", str(box.ws.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, text=True)
    try:
        lines: list[str] = []
        said = threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line)
                if "Очікування нових листів (IMAP IDLE), щонайдовше 30 хв." in line:
                    said.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert said.wait(LIMIT), lines
        until_idling(box.user)
        proc.send_signal(signal.SIGINT)
        proc.wait(LIMIT)
        reader.join(LIMIT)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, lines
    assert "Нових листів немає" in out
    assert f"скринькою 127.0.0.1:{box.dovecot.imaps_port}" in lines[0] and "IMAP IDLE" in lines[0]
    assert lines[-1].strip() == "Зупинено."
    assert "Traceback" not in "".join(lines)
