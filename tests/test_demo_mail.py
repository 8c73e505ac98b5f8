"""The demo's mail round: a throw-away Dovecot and SMTP server on 127.0.0.1, executors' messages as their clients
build them, `mail fetch`'s workflow receiving and answering them; the national report's figures the same as a demo
without mail."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
from email import policy

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate import demo, mailsandbox
from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.ledger import Ledger
from consolidate.mailbox import NO_FILES, SENDER_CODE, SENT, mail_origins, messages
from consolidate.model import ACCEPTED_ERRORS, ACCEPTED_WARNINGS
from consolidate.vocabulary import CODE_LABELS

from .conftest import need_binary

pytestmark = pytest.mark.slow   # two whole demos, one with a real Dovecot


@pytest.fixture(scope="module")
def with_mail(tmp_path_factory):
    need_binary("openssl")
    if mailsandbox.find_dovecot() is None:
        need_binary("dovecot")
    return demo.run(tmp_path_factory.mktemp("mail") / "ws", echo=lambda line: None, mail=True)


@pytest.fixture(scope="module")
def without_mail(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("nomail") / "ws", echo=lambda line: None, mail=False)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_messages_are_received_answered_in_their_threads_and_filed_away(with_mail):
    r = with_mail
    assert r.mail_skipped == ""
    ws = r.workspace
    with Ledger(ws.ledger_path) as ledger:
        rows = messages(ledger)
        origins = mail_origins(ledger)
        files = {f.sha256: f for f in ledger.files()}
    by_mail = {files[sha].executor for sha in origins}
    assert by_mail == set(demo.BY_MAIL)
    assert len(rows) == len(r.messages) == len(demo.BY_MAIL) + 1 + 2   # a correction, a forgotten file, an OOF
    assert all(m.state == "moved" for m in rows)

    # every message the sink received is a receipt in the thread of the message it answers
    receipts = [parse(p.read_bytes()) for p in r.receipts]
    assert len(receipts) == sum(1 for m in rows if m.reply == SENT) == len(rows) - 1
    answered = {m.reply_message_id: m for m in rows if m.reply == SENT}
    for receipt in receipts:
        m = answered[receipt["Message-ID"]]
        assert receipt["In-Reply-To"] == m.message_id and receipt["To"] == m.sender
        assert receipt["Auto-Submitted"] == "auto-replied"
    (oof,) = [m for m in rows if m.reply != SENT]   # the out-of-office answer: no receipt (no mail loop)
    assert oof.reply.startswith("not-sent:auto") and oof.moved_to == "Не прийнято"


def test_the_receipt_names_the_cell_and_the_correction_answers_it(with_mail):
    r = with_mail
    code = demo.RESUBMITTED[0]
    with Ledger(r.workspace.ledger_path) as ledger:
        first, second = ledger.submissions(executor=code, period=r.period)
        error = next(f for f in ledger.file_findings(ledger.file(first.sha256).id) if f.severity == "error")
        rows = [m for m in messages(ledger) if m.sender in r.workspace.catalogue.registry[code].emails]
    assert first.status == ACCEPTED_ERRORS and first.superseded_by == second.id
    receipts = {parse(p.read_bytes())["In-Reply-To"]: parse(p.read_bytes()) for p in r.receipts}
    to_first, to_second = receipts[rows[0].message_id], receipts[rows[1].message_id]
    assert f"аркуш «{error.sheet}», клітинка {error.cell}" in body(to_first) and "Виправте помилки" in body(to_first)
    # the corrected return is Outlook's reply to that receipt: the same thread
    raw = (r.workspace.root / rows[1].raw_path).read_bytes()
    assert parse(raw)["In-Reply-To"] == to_first["Message-ID"]
    assert to_first["Message-ID"] in parse(raw)["References"]
    assert "звіт прийнято" in body(to_second)


def test_late_by_the_time_the_message_reached_the_mailbox(with_mail):
    r = with_mail
    ws = r.workspace
    deadline = ws.catalogue.deadline(r.period)
    status = CliRunner().invoke(main, ["status", "-w", str(ws.root), "--json"])
    rows = {x["executor"]: x for x in json.JSONDecoder().raw_decode(status.output)[0]["executors"]}
    late = rows[demo.LATE]
    assert late["late"] is True and late["by_mail"].startswith(ws.catalogue.registry[demo.LATE].emails[0])
    assert dt.date.fromisoformat(late["received"][:10]) > deadline
    html = (ws.out / "status.html").read_text(encoding="utf-8")
    assert html.count("поштою:") >= len(demo.BY_MAIL)


def test_a_forgotten_file_a_zip_and_a_sender_not_in_the_registry(with_mail):
    r = with_mail
    ws = r.workspace
    with Ledger(ws.ledger_path) as ledger:
        rows = messages(ledger)
        forgot = [m for m in rows if m.sender in ws.catalogue.registry[demo.FORGOT_FILE].emails]
        assert [m.kind for m in forgot] == [NO_FILES, "files"]
        (zipped,) = [f for f in ledger.files(executor=demo.FORGOT_FILE)]
        other = ledger.files(executor=demo.OTHER_ADDRESS[0])[-1]
        warning = next(f for f in ledger.file_findings(other.id) if f.code == SENDER_CODE)
        codes = {f.code for s in ledger.files() for f in ledger.file_findings(s.id)}
    receipts = {parse(p.read_bytes())["In-Reply-To"]: parse(p.read_bytes()) for p in r.receipts}
    assert "немає файлу звіту" in body(receipts[forgot[0].message_id])
    assert re.search(r"\(архів «[^»]+\.zip»\)", body(receipts[forgot[1].message_id]))
    assert zipped.original_name.endswith(".xlsx")
    assert other.status == ACCEPTED_WARNINGS and demo.OTHER_ADDRESS[1] in warning.message
    assert codes <= set(CODE_LABELS), codes - set(CODE_LABELS)   # every finding has its Ukrainian label
    assert "sender-not-in-registry" not in "\n".join(r.summary_lines)


def test_the_report_is_the_same_with_or_without_the_mail_round(with_mail, without_mail):
    assert without_mail.messages == [] and without_mail.mail_skipped and without_mail.receipts == []
    for sheet in ("I. Фінансування", "II. Виконання", "III. Пропозиції"):
        a = CalamineWorkbook.from_path(str(with_mail.report_xlsx)).get_sheet_by_name(sheet).to_python()
        b = CalamineWorkbook.from_path(str(without_mail.report_xlsx)).get_sheet_by_name(sheet).to_python()
        assert a == b, sheet
    mail_line = next(x for x in with_mail.summary_lines if x.startswith("Пошта"))
    assert "квитанц" in mail_line and str(len(with_mail.receipts)) in mail_line


def test_without_a_mail_server_the_demo_says_so_and_uses_the_inbox(tmp_path, monkeypatch):
    monkeypatch.setattr(mailsandbox, "available", lambda: "поштовий сервер Dovecot не встановлено")
    with pytest.raises(ConsolidateError, match="Поштовий раунд неможливий"):
        demo.run(tmp_path / "forced", echo=lambda line: None, mail=True)
    result = CliRunner().invoke(main, ["demo", "-w", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    assert "Пошта: раунд пропущено — поштовий сервер Dovecot не встановлено" in result.output
    forced = CliRunner().invoke(main, ["demo", "-w", str(tmp_path / "forced2"), "--mail"])
    assert forced.exit_code == 2 and "Поштовий раунд неможливий" in forced.output
