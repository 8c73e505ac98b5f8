"""``consolidate mail check``: the settings tried against a real Dovecot and a real SMTP server (aiosmtpd),
with a password and with OAuth 2.0, and nothing taken, moved or sent."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from consolidate.cli import main

from .mail_util import PASSWORD, outlook
from .test_mailbox import ENV, box, dovecot, smtp  # noqa: F401  (fixtures)
from .test_oauth import CLIENT, SECRET, SECRET_ENV, oauth_mail, provider  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def check(box, env) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["mail", "check", "-w", str(box.ws.root), "--json"], env=env)
    return result.exit_code, json.loads(result.output)


def test_all_ready_and_nothing_touched(box):
    raw = box.append(outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", box.workbook("MVS", 1))]))
    code, data = check(box, {ENV: PASSWORD})
    assert code == 0, data
    steps = {s["code"]: s for s in data["steps"]}
    assert list(steps) == ["login", "folder", "server", "folders", "smtp"]
    assert all(s["state"] == "ok" for s in data["steps"]), data
    assert "1 лист, з них непрочитаних 1" in steps["folder"]["text"]
    assert "IDLE" in steps["server"]["text"] and "MOVE" in steps["server"]["text"]
    assert "буде створено" in steps["folders"]["text"]
    assert box.folder("INBOX") == [raw] and box.smtp_inbox.messages == []   # nothing moved, nothing sent
    assert b"\\Seen" not in b" ".join(box.dovecot.flags(box.user))        # not even marked read

    text = CliRunner().invoke(main, ["mail", "check", "-w", str(box.ws.root)], env={ENV: PASSWORD}).output
    assert "✓ Вхід до" in text and "Усе готово" in text


def test_failures_are_named_and_exit_1(box):
    code, data = check(box, {ENV: "wrong-password"})
    assert code == 1
    states = {s["code"]: s["state"] for s in data["steps"]}
    assert states == {"login": "failed", "smtp": "ok"}
    assert "відхилив вхід" in data["steps"][0]["text"]

    box.configure(folder="Немає такої")
    code, data = check(box, {ENV: PASSWORD})
    assert code == 1 and data["steps"][1]["code"] == "folder" and data["steps"][1]["state"] == "failed"
    assert "«Немає такої»" in data["steps"][1]["text"]

    box.configure(receipts=False)
    code, data = check(box, {ENV: PASSWORD})
    assert code == 0 and data["steps"][-1]["state"] == "warning"

    result = CliRunner().invoke(main, ["mail", "check", "-w", str(box.ws.root)], env={})
    assert result.exit_code == 2 and "CONSOLIDATE_IMAP_PASSWORD" in result.output   # settings unreadable


def test_oauth_token_login_and_smtp(oauth_mail, provider):  # noqa: F811
    box, sink = oauth_mail
    provider.register(CLIENT, secret=SECRET, mailboxes=(box.user,))
    code, data = check(box, {SECRET_ENV: SECRET})
    assert code == 0, data
    assert [s["code"] for s in data["steps"]] == ["token", "login", "folder", "server", "folders", "smtp"]
    assert "OAuth 2.0 (XOAUTH2)" in data["steps"][1]["text"]
    assert sink.logins == [box.user] and sink.messages == [] and provider.issued() == 1

    code, data = check(box, {SECRET_ENV: "wrong"})
    assert code == 1
    assert [(s["code"], s["state"]) for s in data["steps"]] == [("token", "failed"), ("login", "skipped"),
                                                               ("smtp", "skipped")]
    assert "AADSTS7000215" in data["steps"][0]["text"]


def test_a_password_in_cyrillic_logs_in_by_sasl_plain(workspace, smtp):  # noqa: F811
    """IMAP LOGIN carries ASCII only; a password typed in the Ukrainian layout goes as UTF-8 in AUTHENTICATE PLAIN."""
    from consolidate.mailsandbox import Dovecot

    from .test_mailbox import Box

    cyrillic = "Пароль-Київ-2024"
    server = Dovecot.temporary(password=cyrillic).start()
    try:
        b = Box(workspace, server, smtp, server.add_user())
        b.configure()
        code, data = check(b, {ENV: cyrillic})
        assert code == 0, data
        code, data = check(b, {ENV: "Пароль-Львів"})
        assert code == 1 and "відхилив вхід" in data["steps"][0]["text"]
    finally:
        server.stop()
