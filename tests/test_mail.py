"""Templates and reminders by e-mail: a real SMTP server (aiosmtpd on 127.0.0.1), .eml files, the mail log."""

from __future__ import annotations

import base64
import datetime as dt
import email
import hashlib
import json
import quopri
import re
import socket
import ssl
import subprocess
from email import policy

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.ledger import Ledger
from consolidate.mailsandbox import SmtpSink, free_port
from consolidate.mail import Letter, Sender, build_message, template_contact
from consolidate.template import build_workbook, file_name
from consolidate.workspace import open_workspace

from .conftest import need_binary
from .status_scenario import MVS_ERRORS, PERIOD, UA21_REJECT, populate

SENDER_NAME = "Мінсоцполітики, протидія торгівлі людьми"  # from the workspace's default consolidate.toml
SENDER = "antitrafficking@example.org"
USER, PASSWORD = "clerk", "s3cret-42"


# ---------------------------------------------------------------------------------
# a real SMTP server
# ---------------------------------------------------------------------------------

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def start(**kwargs):
    """A real SMTP server on 127.0.0.1 (consolidate.mailsandbox.SmtpSink: aiosmtpd) keeping what it accepts:
    (the server, its ``messages``) — the same object twice."""
    sink = SmtpSink(**kwargs).start()
    return sink, sink


@pytest.fixture
def smtp_server():
    controller, inbox = start()
    yield f"127.0.0.1:{controller.port}", inbox
    controller.stop()


@pytest.fixture
def auth_server():
    controller, inbox = start(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    yield f"127.0.0.1:{controller.port}", inbox
    controller.stop()


@pytest.fixture
def tls_server(tmp_path):
    openssl = need_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, inbox = start(tls_context=context, require_starttls=True, authenticator=authenticator,
                              auth_required=True, auth_require_tls=True)
    yield f"127.0.0.1:{controller.port}", inbox, cert
    controller.stop()


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------

_WORD = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")


def rfc2047(value: str) -> str:
    """Decode a header strictly by RFC 2047: whitespace between adjacent encoded words is dropped."""
    value = re.sub(r"\r?\n[ \t]", " ", value)
    out, pending, charset, pos = [], b"", None, 0
    for m in _WORD.finditer(value):
        between = value[pos:m.start()]
        if between.strip() or charset not in (None, m.group(1).lower()):
            if pending:
                out.append(pending.decode(charset))
                pending = b""
            out.append(between)
        cs, enc, text = m.groups()
        data = base64.b64decode(text) if enc in "bB" else quopri.decodestring(text.replace("_", " ").encode(), header=True)
        pending += data
        charset, pos = cs.lower(), m.end()
    if pending:
        out.append(pending.decode(charset))
    out.append(value[pos:])
    return "".join(out)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def raw_header(raw: bytes, name: str) -> str:
    return email.message_from_bytes(raw, policy=policy.compat32)[name]


def attachment(msg) -> tuple[str, bytes]:
    (part,) = list(msg.iter_attachments())
    return part.get_filename(), part.get_content()


def run(*args, env=None, force=True):
    """The CLI; sending through SMTP with the test workspace's placeholders (example.org, «Оператор») needs --force,
    which these tests of the mail mechanics add (test_sending_from_placeholders_is_refused checks the refusal)."""
    args = list(args)
    if force and "--smtp" in args and args[0] in ("send-templates", "remind"):
        args.append("--force")
    return CliRunner().invoke(main, args, env=env)


def expected_template(ws, code: str) -> tuple[str, bytes]:
    """The template as «consolidate templates» generates it (same password, contact and timestamp)."""
    data = build_workbook(ws.catalogue, code, PERIOD, "496-r", contact=template_contact(ws))
    return file_name(ws.catalogue, code, PERIOD), data


def mails(ws, **kw):
    with Ledger(ws.ledger_path) as ledger:
        return ledger.mails(**kw)


# ---------------------------------------------------------------------------------
# templates through SMTP
# ---------------------------------------------------------------------------------

def test_templates_arrive_with_recipients_subject_text_and_attachment(workspace, smtp_server):
    server, inbox = smtp_server
    ws = workspace
    res = run("send-templates", "-w", str(ws.root), "-e", "MVS", "-e", "UA-21", "--smtp", server)
    assert res.exit_code == 0, res.output
    assert "Надіслано листів (шаблони): 2" in res.output
    assert "адреси виконавців — заглушки" in res.stderr  # the registry's example.org placeholders are pointed out
    assert len(inbox.messages) == 2
    by_executor = {}
    for mail_from, rcpt, raw in inbox.messages:
        msg = parse(raw)
        by_executor[msg["X-Consolidate-Executor"]] = (mail_from, rcpt, raw, msg)
    for code, short in (("MVS", "МВС"), ("UA-21", "Закарпатська ОВА")):
        mail_from, rcpt, raw, msg = by_executor[code]
        ex = ws.catalogue.registry[code]
        assert mail_from == SENDER and rcpt == list(ex.emails) and msg["To"] == ", ".join(ex.emails)
        assert msg["Subject"] == f"Шаблон звіту за 2024 рік — {short} (строк до 20 січня 2025 р.)"
        assert rfc2047(raw_header(raw, "Subject")) == msg["Subject"]
        assert rfc2047(raw_header(raw, "From")) == f"{SENDER_NAME} <{SENDER}>"
        assert raw.isascii()  # every header and body encoded for 7-bit transport
        for line in raw.split(b"\r\n"):  # folded (only the xlsx media type has no place to fold)
            assert len(line) <= 78 or line.endswith(b"spreadsheetml.sheet"), line
        body = msg.get_body(("plain",))
        assert body.get_content_charset() == "utf-8"
        text = body.get_content()
        for phrase in ("Шановні колеги!", f"Виконавець: {ex.full_name} (код {code})", "Звітний період: 2024 рік",
                       "Строк подання: до 20 січня 2025 р. включно", "Державної цільової соціальної програми",
                       "Надішліть заповнений файл у відповідь на цей лист", "самоперевірку"):
            assert phrase in text, phrase
        assert "р.." not in text                 # «р.» ends a sentence without a second full stop
        name, data = attachment(msg)
        exp_name, exp_data = expected_template(ws, code)
        assert name == exp_name and data == exp_data
        assert data == (ws.out / "templates" / PERIOD / exp_name).read_bytes()
    log = mails(ws)
    assert [(m.executor, m.kind, m.via, m.location) for m in log] == [
        ("MVS", "template", "smtp", server), ("UA-21", "template", "smtp", server)]
    for m in log:
        _, _, raw, msg = by_executor[m.executor]
        assert m.message_id == msg["Message-ID"] and m.subject == msg["Subject"]
        assert m.attachment_sha256 == hashlib.sha256(attachment(msg)[1]).hexdigest()


def test_sending_twice_asks_for_resend(workspace, smtp_server):
    server, inbox = smtp_server
    ws = workspace
    assert run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server).exit_code == 0
    again = run("send-templates", "-w", str(ws.root), "-e", "MVS", "-e", "DMS", "--smtp", server)
    assert again.exit_code == 2
    assert "Шаблон уже надсилали" in again.output and "MVS" in again.output and "--resend" in again.output
    assert len(inbox.messages) == 1 and len(mails(ws)) == 1  # nothing sent, not even to DMS
    resent = run("send-templates", "-w", str(ws.root), "-e", "MVS", "-e", "DMS", "--smtp", server, "--resend")
    assert resent.exit_code == 0, resent.output
    assert len(inbox.messages) == 3
    assert [(m.executor, m.via) for m in mails(ws)] == [("MVS", "smtp"), ("MVS", "smtp"), ("DMS", "smtp")]


def test_refused_connection_is_a_clear_error_and_nothing_is_recorded(workspace):
    res = run("send-templates", "-w", str(workspace.root), "-e", "MVS", "--smtp", f"127.0.0.1:{free_port()}")
    assert res.exit_code == 2
    assert "з’єднання відхилено" in res.stderr and "Жодного листа не надіслано" in res.stderr
    assert "Traceback" not in res.output
    assert mails(workspace) == []
    assert not (workspace.out / "mail").exists()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_authentication(workspace, auth_server):
    server, inbox = auth_server
    ws = workspace
    args = ("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--smtp-user", USER)
    no_password = run(*args, env={"CONSOLIDATE_SMTP_PASSWORD": ""})
    assert no_password.exit_code == 2 and "CONSOLIDATE_SMTP_PASSWORD" in no_password.stderr
    wrong = run(*args, env={"CONSOLIDATE_SMTP_PASSWORD": "wrong"})
    assert wrong.exit_code == 2
    assert f"відхилив вхід користувача «{USER}»" in wrong.stderr and "535" in wrong.stderr
    assert "CONSOLIDATE_SMTP_PASSWORD" in wrong.stderr and "Жодного листа не надіслано" in wrong.stderr
    assert inbox.messages == [] and mails(ws) == []
    anonymous = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server)
    assert anonymous.exit_code == 2 and "Надіслано листів: 0 з 1" in anonymous.stderr and mails(ws) == []
    ok = run(*args, "--password-env", "MY_SMTP_PW", env={"MY_SMTP_PW": PASSWORD})
    assert ok.exit_code == 0, ok.output
    assert "без шифрування" in ok.stderr
    assert len(inbox.messages) == 1 and [m.executor for m in mails(ws)] == ["MVS"]


def test_starttls_with_a_certificate_file(workspace, tls_server):
    server, inbox, cert = tls_server
    ws = workspace
    env = {"CONSOLIDATE_SMTP_PASSWORD": PASSWORD}
    plain = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--smtp-user", USER, env=env)
    assert plain.exit_code == 2 and mails(ws) == []  # the server requires STARTTLS first
    untrusted = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--starttls",
                    "--smtp-user", USER, env=env)
    assert untrusted.exit_code == 2 and "сертифікат" in untrusted.stderr and "--cafile" in untrusted.stderr
    ok = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--starttls", "--cafile", str(cert),
             "--smtp-user", USER, env=env)
    assert ok.exit_code == 0, ok.output
    assert "без шифрування" not in ok.output
    (_, rcpt, raw), = inbox.messages
    assert rcpt == ["mvs@example.org"] and attachment(parse(raw))[1] == expected_template(ws, "MVS")[1]
    assert [m.via for m in mails(ws)] == ["smtp"]


def test_smtp_options_need_smtp_and_a_valid_address(workspace):
    res = run("send-templates", "-w", str(workspace.root), "-e", "MVS", "--starttls")
    assert res.exit_code == 2 and "лише разом із --smtp" in res.stderr
    res = run("send-templates", "-w", str(workspace.root), "-e", "MVS", "--smtp", "smtp.example.org")
    assert res.exit_code == 2 and "ХОСТ:ПОРТ" in res.stderr
    res = run("send-templates", "-w", str(workspace.root), "-e", "NOBODY")
    assert res.exit_code == 2 and "Невідомі виконавці: NOBODY" in res.stderr
    assert mails(workspace) == []


# ---------------------------------------------------------------------------------
# .eml files
# ---------------------------------------------------------------------------------

def test_eml_files_open_with_the_email_parser(workspace):
    ws = workspace
    res = run("send-templates", "-w", str(ws.root), "-e", "MSP", "-e", "UA-30")
    assert res.exit_code == 0, res.output
    assert "Підготовлено листів (шаблони): 2" in res.output
    folder = ws.out / "mail" / PERIOD
    assert sorted(p.name for p in folder.iterdir()) == ["template-MSP.eml", "template-UA-30.eml"]
    for code in ("MSP", "UA-30"):
        raw = (folder / f"template-{code}.eml").read_bytes()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        msg = parse(raw)
        assert msg["X-Unsent"] == "1"  # a mail client opens it as a letter to send
        assert msg["To"] == ", ".join(ws.catalogue.registry[code].emails)
        assert msg["Subject"].startswith("Шаблон звіту за 2024 рік — ")
        assert "Строк подання: до 20 січня 2025 р. включно" in msg.get_body(("plain",)).get_content()
        assert attachment(msg) == expected_template(ws, code)
        assert msg.get_content_type() == "multipart/mixed"
        (part,) = list(msg.iter_attachments())
        assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    log = mails(ws)
    assert [(m.executor, m.via, m.location) for m in log] == [
        ("MSP", "eml", f"out/mail/{PERIOD}/template-MSP.eml"), ("UA-30", "eml", f"out/mail/{PERIOD}/template-UA-30.eml")]
    again = run("send-templates", "-w", str(ws.root), "-e", "MSP", "--resend")
    assert again.exit_code == 0 and (folder / "template-MSP-2.eml").is_file()  # the first letter is kept
    assert len(mails(ws, executor="MSP")) == 2


def test_message_headers_fold_and_decode():
    letter = Letter("DPSU", PERIOD, "template", ("a@example.org", "b@example.org"),
                    "Шаблон звіту за 2024 рік — Адміністрація Держприкордонслужби (строк до 20 січня 2025 р.)",
                    "Текст листа: «лапки», апостроф ’ і € — UTF-8.\n", "Звіт 2024 — Адміністрація (DPSU).xlsx",
                    b"PK\x03\x04" + bytes(range(256)) * 40)
    sender = Sender("antitrafficking@example.org", "Мінсоцполітики, протидія торгівлі людьми", "Оператор")
    raw = build_message(letter, sender, dt.datetime(2025, 1, 5, 9, 0, tzinfo=dt.timezone.utc)).as_bytes()
    assert raw.isascii() and all(len(line) <= 78 or line.endswith(b"spreadsheetml.sheet") for line in raw.split(b"\r\n"))
    assert all(len(w.group(0)) <= 75 for w in _WORD.finditer(raw.decode()))
    msg = parse(raw)
    assert msg["Subject"] == letter.subject and rfc2047(raw_header(raw, "Subject")) == letter.subject
    assert rfc2047(raw_header(raw, "From")) == "Мінсоцполітики, протидія торгівлі людьми <antitrafficking@example.org>"
    assert msg["To"].addresses[1].addr_spec == "b@example.org"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == letter.body  # canonical CRLF text
    assert attachment(msg) == (letter.attachment_name, letter.attachment)
    assert "filename*" in raw_header(raw, "Content-Type") + raw.decode()  # RFC 2231 file name


# ---------------------------------------------------------------------------------
# reminders
# ---------------------------------------------------------------------------------

def test_remind_lists_findings_and_is_not_repeated_the_same_day(workspace, smtp_server):
    server, inbox = smtp_server
    ws = workspace
    populate(ws)
    res = run("remind", "-w", str(ws.root), "-e", "MVS", "-e", "UA-21", "-e", "NPU", "-e", "MSP", "--smtp", server)
    assert res.exit_code == 0, res.output
    assert "MSP: подано без зауважень — нагадування не потрібне" in res.output
    assert "Надіслано листів (нагадування): 3" in res.output
    got = {parse(raw)["X-Consolidate-Executor"]: (rcpt, parse(raw)) for _, rcpt, raw in inbox.messages}
    assert set(got) == {"MVS", "UA-21", "NPU"}
    rcpt, mvs = got["MVS"]
    assert rcpt == ["mvs@example.org"]
    assert mvs["Subject"] == "Нагадування: виправте звіт за 2024 рік — МВС"
    text = mvs.get_body(("plain",)).get_content()
    assert "подано з помилками" in text and "МВС звіт (виправлений).xlsx" in text
    for f in MVS_ERRORS:
        assert f"файл «{f.file}», аркуш «{f.sheet}», клітинка {f.cell}: {f.message}" in text
    assert text.index(MVS_ERRORS[1].message) < text.index(MVS_ERRORS[2].message)  # errors before warnings
    # «Виправте їх у тому самому файлі»: the executor's own returned file is attached, byte for byte
    assert "Виправте їх у тому самому файлі — його додано до цього листа" in text
    with Ledger(ws.ledger_path) as ledger:
        sub = ledger.latest_submissions(PERIOD)
        own = next(s for s in sub if s.executor == "MVS")
    assert attachment(mvs) == (own.original_name, (ws.root / own.archive_path).read_bytes())
    assert "Шаблон звіту ще раз додано" not in text
    _, ua21 = got["UA-21"]
    text = ua21.get_body(("plain",)).get_content()
    # the file in quarantine: the reminder says why it was not accepted, not that nothing came
    assert ua21["Subject"] == "Нагадування: ваш файл не прийнято — звіт за 2024 рік — Закарпатська ОВА"
    assert "ваш звіт не прийнято: файл, що надійшов від вас, не вдалося прийняти; строк подання минув " \
           "20 січня 2025 р." in text and "не надійшов" not in text
    assert "Чому файл не прийнято:" in text and "новий чистий шаблон" in text
    assert attachment(ua21) == expected_template(ws, "UA-21")
    assert f"«{UA21_REJECT.file}», отримано 13 січня 2025 р., 12:00" in text and UA21_REJECT.message in text
    _, npu = got["NPU"]
    assert "не вдалося прийняти" not in npu.get_body(("plain",)).get_content()
    for _, letter in got.values():       # «р.» ends a sentence without a second full stop
        assert "р.." not in letter.get_body(("plain",)).get_content()
    log = [m for m in mails(ws, kind="reminder") if m.via == "smtp"]  # the scenario had one .eml reminder
    assert sorted(m.executor for m in log) == ["MVS", "NPU", "UA-21"]
    assert all(m.attachment_sha256 == hashlib.sha256(attachment(got[m.executor][1])[1]).hexdigest() for m in log)

    again = run("remind", "-w", str(ws.root), "-e", "MVS", "--smtp", server)
    assert again.exit_code == 2 and "Сьогодні нагадування уже надсилали" in again.output and "--resend" in again.output
    assert len(inbox.messages) == 3
    forced = run("remind", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--resend")
    assert forced.exit_code == 0 and len(inbox.messages) == 4

    status = run("status", "-w", str(ws.root), "--json")
    rows = {r["executor"]: r for r in json.loads(status.stdout)["executors"]}
    assert rows["MVS"]["last_reminder"] == log_time(ws, "MVS")
    assert rows["MSP"]["last_reminder"] == ""


def log_time(ws, code):
    return mails(ws, executor=code, kind="reminder")[-1].sent_at


def test_remind_nobody_and_eml(workspace):
    ws = workspace
    populate(ws)
    before = mails(ws)
    res = run("remind", "-w", str(ws.root), "-e", "MSP", "-e", "NSSU")
    assert res.exit_code == 0 and "Нагадувати нікому" in res.output
    assert mails(ws) == before
    res = run("remind", "-w", str(ws.root), "-e", "UA-21")
    assert res.exit_code == 0, res.output
    (eml,) = sorted((ws.out / "mail" / PERIOD).glob("reminder-UA-21-*.eml"))
    msg = parse(eml.read_bytes())
    assert msg["X-Consolidate-Kind"] == "reminder" and UA21_REJECT.message in msg.get_body(("plain",)).get_content()
    assert attachment(msg) == expected_template(ws, "UA-21")


def test_sending_from_placeholders_is_refused(workspace, smtp_server):
    server, inbox = smtp_server
    ws = workspace
    res = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, force=False)
    assert res.exit_code == 2 and inbox.messages == []
    out = res.output
    assert "Листи не надіслано: налаштування ще містять заглушки" in out and "--force" in out
    assert "підписант — заглушка «Оператор»" in out and "адреса відправника — заглушка" in out
    assert "адреси виконавців — заглушки (1, напр. mvs@example.org)" in out
    with Ledger(ws.ledger_path) as ledger:
        assert ledger.mails() == []                      # nothing recorded as sent
    res = run("remind", "-w", str(ws.root), "-e", "MVS", "--smtp", server, force=False)
    assert res.exit_code == 2 and inbox.messages == []

    # a real signer, mailbox and phone: the contact line carries the phone; only the registry's addresses are left
    (ws.root / "consolidate.toml").write_text(
        '[mail]\nsender = "zvit@msp.gov.ua"\nsender_name = "Мінсоцполітики"\n'
        '[operator]\nname = "Петренко Олена"\nphone = "+380 44 000 00 00"\n', encoding="utf-8")
    ws = open_workspace(ws.root)
    assert template_contact(ws) == "Мінсоцполітики, Петренко Олена, тел. +380 44 000 00 00, zvit@msp.gov.ua"
    res = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, force=False)
    assert res.exit_code == 2 and "підписант" not in res.output and "адреси виконавців — заглушки" in res.output
    sent = run("send-templates", "-w", str(ws.root), "-e", "MVS", "--smtp", server, "--force", force=False)
    assert sent.exit_code == 0 and len(inbox.messages) == 1
    body = parse(inbox.messages[0][2]).get_body(("plain",)).get_content()
    assert "З питань заповнення звертайтеся: Мінсоцполітики, Петренко Олена, тел. +380 44 000 00 00" in body

    # drafts (.eml) are written, with the reasons as a warning
    draft = run("send-templates", "-w", str(ws.root), "-e", "DMS", force=False)
    assert draft.exit_code == 0 and "листи ще не придатні до надсилання" in draft.output


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_password_in_cyrillic_goes_by_sasl_plain(workspace):
    """smtplib's login sends ASCII only; a password typed in the Ukrainian layout goes as UTF-8 in AUTH PLAIN."""
    cyrillic = "Пароль-Київ-2024"

    def check(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
                          and auth_data.password == cyrillic.encode("utf-8"), handled=False)

    controller, inbox = start(authenticator=check, auth_required=True, auth_require_tls=False)
    try:
        args = ("send-templates", "-w", str(workspace.root), "-e", "MVS", "--smtp", f"127.0.0.1:{controller.port}",
                "--smtp-user", USER)
        ok = run(*args, env={"CONSOLIDATE_SMTP_PASSWORD": cyrillic})
        assert ok.exit_code == 0, ok.output
        assert len(inbox.messages) == 1
        wrong = run(*args, "--resend", env={"CONSOLIDATE_SMTP_PASSWORD": "Пароль-Львів"})
        assert wrong.exit_code == 2 and f"відхилив вхід користувача «{USER}»" in wrong.stderr
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
