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
