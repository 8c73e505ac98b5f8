"""«Нагадування» in the web console over the real server (HTTP): who is due and why (as «consolidate status»
says), a letter's preview, reminders through a real SMTP server (aiosmtpd) or as downloadable .eml drafts,
the once-a-day protection, roles and CSRF.  The scenario is tests/status_scenario.py's (period 2024)."""

from __future__ import annotations

import email
import html
import io
import re
import zipfile
from email import policy

import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.ledger import Ledger
from consolidate.mailsandbox import SmtpSink
from consolidate.wording import plural
from consolidate.workspace import open_workspace

from .status_scenario import MVS_ERRORS, PERIOD, UA21_REJECT, populate
from .test_web_security import PASSWORD, add_user
from .web_util import Server, csrf_of, ledger_json, login, post_form, request, token_session


def _real_addresses(ws, smtp: str | None = None):
    """The signer, the sender and the executors' addresses made real (not a fresh workspace's placeholders);
    [smtp] set to ``smtp`` when given.  The workspace opened again."""
    cfg = ws.root / "consolidate.toml"
    text = cfg.read_text(encoding="utf-8").replace('name = "Оператор"', 'name = "Олена Коваль"')
    text = text.replace("@example.org", "@ministry.test")
    cfg.write_text(text + (f'\n[smtp]\nserver = "{smtp}"\n' if smtp else ""), encoding="utf-8")
    for registry in ws.root.glob("templates/**/executors.csv"):
        registry.write_text(registry.read_text(encoding="utf-8").replace("example.org", "ministry.test"),
                            encoding="utf-8")
    return open_workspace(ws.root)


def _text(body: bytes) -> str:
    return html.unescape(body.decode())


def _due(body: bytes) -> list[str]:
    """The executors of the page's table of those due a reminder, in its order."""
    table = body.decode().split('<table id="due">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr class="state-[a-z-]+" data-executor="([^"]+)"', table)


def _reminders(ws) -> list:
    with Ledger(ws.ledger_path) as ledger:
        return ledger.mails(period=PERIOD, kind="reminder")


@pytest.fixture
def scenario(workspace):
    populate(workspace)
    return workspace


def test_the_due_list_is_status_s_outstanding_with_addresses_and_the_last_reminder(scenario):
    ws = scenario
    status = ledger_json(ws.root, "status", "--period", PERIOD, "--json")
    outstanding = [r for r in status["executors"] if r["outstanding"]]
    assert {r["executor"] for r in outstanding} >= {"MVS", "UA-21", "NPU"}   # errors, rejected file, nothing
    server = Server(ws.root)
    try:
        cookie = token_session(server)
        status_code, _, body = request(server, "GET", f"/reminders?period={PERIOD}", cookie=cookie)
        assert status_code == 200
        assert _due(body) == [r["executor"] for r in outstanding]          # the same executors, the same order
        text = _text(body)
        assert f"Нагадати треба {len(outstanding)} виконавцям" in text
        row = {code: html.unescape(part) for code, part in
               re.findall(r'data-executor="([^"]+)">(.*?)</tr>', body.decode(), re.S)}
        assert "подано з помилками" in row["MVS"] and "помилок: 2" in row["MVS"]
        assert "надійшли файли, які відхилено: 1" in row["UA-21"]
        assert "16.01.2025 09:00" in row["UA-21"] and "16.01.2025" not in row["NPU"]   # the scenario's reminder
        assert "mvs@example.org" in row["MVS"] and "заглушка" in row["MVS"]      # a fresh workspace's placeholders
        assert "MSP" not in _due(body) and "NSSU" not in _due(body)             # accepted: nothing to remind
        assert "підписант — заглушка" in text                                    # unfit_to_send, as the CLI says
        assert 'id="send-all"' in text and "Поштового сервера не налаштовано" in text
        # the page is in the navigation
        _, _, overview = request(server, "GET", "/", cookie=cookie)
        assert '<a href="/reminders?period=' in overview.decode()
    finally:
        server.stop()


def test_a_preview_shows_the_letter_and_writes_nothing(scenario):
    ws = scenario
    manifest = sorted(p.name for p in (ws.out / "templates").rglob("*"))
    server = Server(ws.root)
    try:
        cookie = token_session(server)
        for code in ("MVS", "NPU"):   # NPU's template was never generated: it is named, not generated
            status, _, body = request(server, "GET", f"/reminders?period={PERIOD}&preview={code}", cookie=cookie)
            assert status == 200
            letter = _text(body).split('id="letter-body">', 1)[1].split("</pre>", 1)[0]
            assert "Нагадуємо про звіт" in letter and f"(код {code})" in letter
        mvs = _text(request(server, "GET", f"/reminders?period={PERIOD}&preview=MVS", cookie=cookie)[2])
        for f in MVS_ERRORS:
            assert f"аркуш «{f.sheet}», клітинка {f.cell}" in mvs
        assert "Тема: <b>Нагадування: виправте звіт" in mvs
    finally:
        server.stop()
    assert sorted(p.name for p in (ws.out / "templates").rglob("*")) == manifest
    assert not (ws.out / "mail").exists()
    assert len(_reminders(ws)) == 1   # the scenario's own


def test_reminders_go_through_smtp_to_the_registry_s_addresses_and_are_recorded(scenario):
    sink = SmtpSink().start()
    try:
        ws = _real_addresses(scenario, sink.address)
        server = Server(ws.root)
        try:
            cookie = token_session(server)
            _, _, page = request(server, "GET", f"/reminders?period={PERIOD}", cookie=cookie)
            assert f"поштовий сервер {sink.address}" in _text(page) and 'id="unfit"' not in page.decode()
            status, headers, _ = post_form(server, "/reminders/send", {
                "csrf": csrf_of(server, cookie, "/reminders"), "period": PERIOD, "which": "picked",
                "pick_MVS": "1", "pick_UA-21": "1"}, cookie)
            assert status == 303
            _, _, after = request(server, "GET", headers["location"], cookie=cookie)
            assert f"Надіслано 2 нагадування через {sink.address}" in _text(after)
            _, _, journal = request(server, "GET", "/journal", cookie=cookie)
            _, _, executor = request(server, "GET", f"/executor/MVS?period={PERIOD}", cookie=cookie)
        finally:
            server.stop()
        assert len(sink.messages) == 2
        letters = {}
        for _sender, recipients, data in sink.messages:
            msg = email.message_from_bytes(data, policy=policy.default)
            letters[msg["X-Consolidate-Executor"]] = (recipients, msg)
        for code in ("MVS", "UA-21"):
            assert letters[code][0] == list(ws.catalogue.registry[code].emails)
            assert all(a.endswith("@ministry.test") for a in letters[code][0])
        body = letters["MVS"][1].get_body(("plain",)).get_content()
        for f in MVS_ERRORS:
            assert f"аркуш «{f.sheet}», клітинка {f.cell}: {f.message}" in body
        assert UA21_REJECT.message in letters["UA-21"][1].get_body(("plain",)).get_content()
        sent = [m for m in _reminders(ws) if m.via == "smtp"]
        assert sorted(m.executor for m in sent) == ["MVS", "UA-21"] and {m.location for m in sent} == {sink.address}
        assert str(letters["MVS"][1]["Message-ID"]).strip() in {m.message_id for m in sent}
        subject = next(m.subject for m in sent if m.executor == "MVS")
        assert subject in _text(journal) and "нагадування" in _text(journal)
        assert subject in _text(executor)
        rows = {r["executor"]: r for r in ledger_json(ws.root, "status", "--period", PERIOD, "--json")["executors"]}
        assert rows["MVS"]["last_reminder"] == next(m.sent_at for m in sent if m.executor == "MVS")
    finally:
        sink.stop()


def test_without_smtp_drafts_are_written_downloadable_and_a_repeat_the_same_day_is_refused(scenario):
    ws = scenario
    server = Server(ws.root)
    try:
        cookie = token_session(server)
        csrf = csrf_of(server, cookie, "/reminders")
        _, _, page = request(server, "GET", f"/reminders?period={PERIOD}", cookie=cookie)
        due = _due(page)
        status, headers, _ = post_form(server, "/reminders/send",
                                       {"csrf": csrf, "period": PERIOD, "which": "all"}, cookie)
        assert status == 303
        _, _, page = request(server, "GET", headers["location"], cookie=cookie)
        text = _text(page)
        assert f"Підготовлено {plural(len(due), 'нагадування')} як .eml (out/mail/{PERIOD}/)" in text
        assert "ще не придатні до надсилання" in text       # drafts from placeholders: written, and said so
        written = [m for m in _reminders(ws) if m.via == "eml" and m.location.endswith(f"{m.sent_at[:10]}.eml")]
        assert sorted(m.executor for m in written) == sorted(due)
        assert "сьогодні вже нагадано" in text
        # one draft: the file the ledger names
        mvs = next(m for m in written if m.executor == "MVS")
        status, headers, data = request(server, "GET", f"/reminders/draft/{mvs.id}?period={PERIOD}", cookie=cookie)
        assert status == 200 and "attachment" in headers["content-disposition"]
        assert data == (ws.root / mvs.location).read_bytes()
        msg = email.message_from_bytes(data, policy=policy.default)
        assert msg["X-Consolidate-Kind"] == "reminder" and msg["X-Unsent"] == "1"
        assert "клітинка E12" in msg.get_body(("plain",)).get_content()
        # all of that sending as one zip
        link = re.search(r'href="(/reminders/drafts\.zip\?[^"]+)"', page.decode()).group(1).replace("&amp;", "&")
        status, _, data = request(server, "GET", link, cookie=cookie)
        assert status == 200
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert sorted(z.namelist()) == sorted(m.location.rpartition("/")[2] for m in written)
            assert z.read(mvs.location.rpartition("/")[2]) == (ws.root / mvs.location).read_bytes()
        # the scenario's reminder names a file that is not there: 404 in Ukrainian, no path reached
        status, _, body = request(server, "GET", f"/reminders/draft/{_reminders(ws)[0].id}", cookie=cookie)
        assert status == 404 and "чернетки" in body.decode()
        assert request(server, "GET", "/reminders/draft/..%2F..%2Fconsolidate.toml", cookie=cookie)[0] == 404
        # the same day again: refused, nothing sent, the reason in Ukrainian
        before = len(_reminders(ws))
        status, _, body = post_form(server, "/reminders/send",
                                    {"csrf": csrf, "period": PERIOD, "which": "picked", "pick_MVS": "1"}, cookie)
        assert status == 409
        text = _text(body)
        assert "Сьогодні нагадування уже надсилали — повторно не надіслано нічого" in text
        assert "MVS:" in text and "Повторно сьогодні" in text and "--resend" not in text
        assert len(_reminders(ws)) == before
        # nothing ticked: said so
        status, _, body = post_form(server, "/reminders/send", {"csrf": csrf, "period": PERIOD, "which": "picked"},
                                    cookie)
        assert status == 409 and "Не позначено жодного виконавця" in _text(body)
        # insisted on: sent again
        status, _, _ = post_form(server, "/reminders/send", {"csrf": csrf, "period": PERIOD, "which": "picked",
                                                             "pick_MVS": "1", "resend": "1"}, cookie)
        assert status == 303 and len(_reminders(ws)) == before + 1
    finally:
        server.stop()


def test_a_viewer_sees_the_list_but_sends_nothing_and_csrf_is_required(scenario):
    ws = scenario
    add_user(ws.root, "Олена Коваль", "clerk")
    add_user(ws.root, "Перегляд", "viewer")
    server = Server(ws.root, "--accounts")
    try:
        _, viewer = login(server, "Перегляд", PASSWORD)
        _, clerk = login(server, "Олена Коваль", PASSWORD)
        status, _, page = request(server, "GET", f"/reminders?period={PERIOD}", cookie=viewer)
        assert status == 200 and "MVS" in _due(page)
        assert 'id="send-all"' not in page.decode() and 'name="pick_' not in page.decode()
        status, _, body = post_form(server, "/reminders/send", {"csrf": csrf_of(server, viewer, "/reminders"),
                                                                "period": PERIOD, "which": "all"}, viewer)
        assert status == 403 and "роль" in _text(body)
        for fields in ({}, {"csrf": "forged"}):
            status, _, body = post_form(server, "/reminders/send", {"period": PERIOD, "which": "all", **fields},
                                        clerk)
            assert status == 403 and "CSRF" in body.decode()
        assert len(_reminders(ws)) == 1 and not (ws.out / "mail").exists()
        status, _, _ = post_form(server, "/reminders/send", {"csrf": csrf_of(server, clerk, "/reminders"),
                                                             "period": PERIOD, "which": "picked", "pick_NPU": "1"},
                                 clerk)
        assert status == 303 and [m.executor for m in _reminders(ws)][1:] == ["NPU"]
    finally:
        server.stop()


def test_remind_dry_run_prints_the_letters_and_records_nothing(scenario):
    ws = scenario
    res = CliRunner().invoke(main, ["remind", "-w", str(ws.root), "-e", "MVS", "-e", "MSP", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "MSP: подано без зауважень — нагадування не потрібне" in res.output
    assert "— MVS → mvs@example.org" in res.output and "клітинка E12" in res.output
    assert "Було б надіслано нагадувань: 1" in res.output
    assert len(_reminders(ws)) == 1 and not (ws.out / "mail").exists()


@pytest.mark.slow
def test_reminders_in_chromium(scenario, tmp_path):
    """A clerk in the browser: reads who is due, previews a letter, ticks two executors and sends; the page then
    says what was prepared, marks them reminded today and lists the drafts (the picture of docs/web.md)."""
    from selenium.webdriver.common.by import By

    from .web_util import chromium, screenshot, wait_for

    ws = scenario
    server = Server(ws.root)
    driver = chromium(tmp_path)
    try:
        driver.get(server.url)
        wait_for(lambda: driver.find_elements(By.ID, "status"), what="«Огляд»")
        driver.find_element(By.LINK_TEXT, "Нагадування").click()
        wait_for(lambda: driver.find_elements(By.ID, "due"), what="«Нагадування»")
        row = driver.find_element(By.CSS_SELECTOR, 'tr[data-executor="MVS"]')
        row.find_element(By.CSS_SELECTOR, "a.preview").click()
        body = wait_for(lambda: driver.find_elements(By.ID, "letter-body"), what="the letter's preview")[0].text
        assert "клітинка E12" in body and "клітинка H7" in body
        for code in ("MVS", "NPU"):
            driver.find_element(By.NAME, f"pick_{code}").click()
        driver.find_element(By.ID, "send-picked").click()
        flash = wait_for(lambda: [p.text for p in driver.find_elements(By.CSS_SELECTOR, "p.flash")
                                  if "Підготовлено" in p.text], what="the sending's message")[0]
        assert "2 нагадування як .eml" in flash
        assert len(driver.find_elements(By.CSS_SELECTOR, "span.today")) == 2
        assert len(driver.find_elements(By.CSS_SELECTOR, "a.draft")) >= 2
        driver.find_element(By.CSS_SELECTOR, 'tr[data-executor="UA-21"] a.preview').click()
        wait_for(lambda: "Закарпаття звіт.pdf" in driver.find_element(By.ID, "letter-body").text,
                 what="UA-21's preview")
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "reminders")
    finally:
        driver.quit()
        server.stop()
    scenario_s = "2025-01-16"   # the scenario's own reminder (to UA-21)
    assert sorted(m.executor for m in _reminders(ws) if not m.sent_at.startswith(scenario_s)) == ["MVS", "NPU"]
