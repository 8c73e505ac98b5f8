"""«Пошта» in the web console: the real server (``consolidate serve``) against a real Dovecot (IMAPS on 127.0.0.1)
and a real SMTP server (aiosmtpd) for the receipts; messages APPENDed as Outlook and Thunderbird build them, the
button «Перевірити пошту зараз» pressed over HTTP with the session's CSRF token."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import re
import threading

import pytest

from consolidate.fileutil import Lock
from consolidate.ledger import Ledger
from consolidate.mailbox import LOCK_FILE, messages
from consolidate.mailsandbox import SmtpSink, free_port, out_of_office

from .mail_util import PASSWORD, outlook, thunderbird
from .test_mailbox import ENV, Box, dovecot  # noqa: F401  (dovecot: the module's Dovecot, a fixture)
from .test_web_security import add_user
from .test_web_security import PASSWORD as USER_PASSWORD
from .web_util import Server, chromium, csrf_of, login, post_form, request, screenshot, token_session, wait_for

pytestmark = pytest.mark.slow  # a real Dovecot and a real server for each test

DAY = dt.datetime(2025, 1, 20, 9, 0).astimezone()


class HeldSmtp(SmtpSink):
    """The SMTP sink, which holds each letter (before answering its final ".") until ``release`` is set."""

    def __init__(self):
        super().__init__()
        self.arrived, self.release = threading.Event(), threading.Event()
        self.release.set()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink():
    server = HeldSmtp().start()
    yield server
    server.release.set()
    server.stop()


@pytest.fixture
def box(workspace, dovecot, sink):  # noqa: F811
    b = Box(workspace, dovecot, (sink.address, sink), dovecot.add_user())
    b.configure()
    return b


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_of(server: Server, cookie: str, path: str = "/mail") -> str:
    status, _, body = request(server, "GET", path, cookie=cookie)
    assert status == 200, (path, status)
    return html.unescape(body.decode())


def press(server: Server, cookie: str) -> str:
    """«Перевірити пошту зараз»: the POST, then the page it leads to (with its flashes)."""
    status, headers, body = post_form(server, "/mail/fetch", {"csrf": csrf_of(server, cookie, "/mail")}, cookie)
    assert status == 303, (status, body[:500])
    assert headers["location"].startswith("/mail")
    return text_of(server, cookie, headers["location"])


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-id="\d+".*?</tr>', page, re.S)


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash [a-z]+" role="status">(.*?)</p>', page, re.S)


def recorded(box: Box) -> list:
    if not box.ws.ledger_path.exists():
        return []
    with Ledger(box.ws.ledger_path) as ledger:
        return messages(ledger)


def test_the_button_takes_the_mailbox_and_the_page_lists_each_message_with_its_files_and_receipt(box):
    clean, broken = box.workbook("MVS", 1), box.workbook("NSSU", 2, error=True)
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", clean)]), when=DAY)
    box.append(thunderbird("nssu@example.org", box.user, "Звіт Нацсоцслужби", [("НСС звіт.xlsx", broken)]),
               when=DAY + dt.timedelta(hours=1))
    box.append(out_of_office("dir@oda.test", box.user, "Нагадування", date=DAY + dt.timedelta(hours=2)),
               when=DAY + dt.timedelta(hours=2))

    server = Server(box.ws.root, env={ENV: PASSWORD})
    try:
        cookie = token_session(server)
        before = text_of(server, cookie)
        assert f"на 127.0.0.1:{box.dovecot.imaps_port} (IMAPS), тека «INBOX»" in before
        assert f"змінна середовища {ENV}, задано" in before and PASSWORD not in before   # never the secret
        assert 'id="fetch"' in before and "ще не отримано жодного листа" in before
        assert '<a href="/mail?period=2024" class="current" aria-current="page">Пошта</a>' in before   # navigation

        page = press(server, cookie)
        assert flashes(page)[0] == ("Перевірено пошту: 3 нові листи; до «Оброблено» — 2, до «Не прийнято» — 1; "
                                    "надіслано 2 квитанції.")
        listed = rows(page)
        assert len(listed) == 3
        ooo, nssu, mvs = listed   # newest first, by when each reached the mailbox
        assert "dir@oda.test" in ooo and "nssu@example.org" in nssu and "mvs@example.org" in mvs
        assert f'<a href="/files/{sha(clean)}">Звіт МВС.xlsx</a>' in mvs and "без зауважень" in mvs
        assert '<a href="/executor/MVS?period=2024">' in mvs and "у реєстрі:" in mvs
        assert "квитанцію надіслано" in mvs and "«Оброблено»" in mvs
        assert f'<a href="/files/{sha(broken)}">НСС звіт.xlsx</a>' in nssu and "з помилками" in nssu
        assert re.search(r"\d+ помилк", nssu) and "«Оброблено»" in nssu
        assert "без квитанції: автоматичний лист" in ooo and "«Не прийнято»" in ooo
        assert "адреси немає в реєстрі" in ooo and "файлів звіту немає" in ooo
        assert "Показано 1–3 з 3; найновіші спершу, не більше 100 на сторінці." in page

        # the mailbox's folders and the receipts
        assert box.folder("INBOX") == [] and len(box.folder("Оброблено")) == 2 and len(box.folder("Не прийнято")) == 1
        assert sorted(r["To"] for r in box.receipts()) == ["mvs@example.org", "nssu@example.org"]

        # the filters and the search
        assert [r for r in rows(text_of(server, cookie, "/mail?show=rejected"))] == [ooo]
        assert rows(text_of(server, cookie, "/mail?show=errors")) == [nssu]
        assert rows(text_of(server, cookie, "/mail?show=no-receipt")) == [ooo]
        assert rows(text_of(server, cookie, "/mail?show=unfinished")) == []
        assert rows(text_of(server, cookie, "/mail?q=%D0%9D%D0%A1%D0%A1")) == [nssu]   # «НСС»: an attachment's name
        assert "не прийняті: <b>1</b>" in page and "з помилками у файлах: <b>1</b>" in page
        assert request(server, "GET", "/mail?show=nonsense", cookie=cookie)[0] == 400

        # a second press: nothing new, nothing answered twice
        again = press(server, cookie)
        assert flashes(again)[0] == f"Нових листів немає (127.0.0.1:{box.dovecot.imaps_port}, тека «INBOX»)."
        assert len(rows(again)) == 3 and len(box.receipts()) == 2 and len(recorded(box)) == 3
        assert "перевірено пошту" in text_of(server, cookie, "/journal")
    finally:
        server.stop()


def test_without_the_password_or_the_server_the_page_says_why_and_nothing_is_recorded(box, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", box.workbook("MVS", 1))]))
    server = Server(box.ws.root)   # started without the password in its environment
    try:
        cookie = token_session(server)
        assert f"змінна середовища {ENV}, не задано" in re.sub(r"<[^>]+>", "", text_of(server, cookie))
        page = press(server, cookie)
        (said,) = flashes(page)
        assert said.startswith(f"Пошту не перевірено. Пароль до поштової скриньки «{box.user}» не задано: "
                               f"задайте змінну середовища {ENV} для вебконсолі")
        assert "Traceback" not in page and "ще не отримано жодного листа" in page
    finally:
        server.stop()
    assert recorded(box) == [] and len(box.folder("INBOX")) == 1 and box.receipts() == []

    closed = free_port()   # nothing listens there
    box.configure(port=closed)
    server = Server(box.ws.root, env={ENV: PASSWORD})
    try:
        cookie = token_session(server)
        (said,) = flashes(press(server, cookie))
        assert said == (f"Пошту не перевірено. Не вдалося з’єднатися з поштовим сервером 127.0.0.1:{closed}: "
                        "з’єднання відхилено. Перевірте [mailbox] host і port.")
    finally:
        server.stop()
    assert recorded(box) == [] and len(box.folder("INBOX")) == 1 and box.receipts() == []


def test_a_second_check_while_one_runs_is_told_so_and_nothing_is_done_twice(box, sink):
    sink.release.clear()   # the receipt of the first check waits at the SMTP server until released
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", box.workbook("MVS", 1))]))
    server = Server(box.ws.root, env={ENV: PASSWORD})
    try:
        cookie = token_session(server)
        csrf = csrf_of(server, cookie, "/mail")
        first: list = []
        running = threading.Thread(
            target=lambda: first.append(post_form(server, "/mail/fetch", {"csrf": csrf}, cookie)))
        running.start()
        assert sink.arrived.wait(60), "the first check reached the receipt"
        page = press(server, cookie)
        (said,) = flashes(page)
        assert said.startswith("Пошту вже перевіряє Оператор (від ") and "дочекайтеся завершення" in said
        assert "Пошту зараз перевіряє Оператор" in page
        sink.release.set()
        running.join(60)
        assert first and first[0][0] == 303
        done = text_of(server, cookie)
        assert flashes(done) == ["Перевірено пошту: 1 новий лист; до «Оброблено» — 1; надіслано 1 квитанцію."]
        assert len(rows(done)) == 1 and len(box.receipts()) == 1

        # another process holds the mailbox (a «consolidate mail fetch --watch» round): said, nothing done
        box.append(outlook("nssu@example.org", box.user, "Звіт", [("НСС.xlsx", box.workbook("NSSU", 2))]))
        with Lock(box.ws.root / LOCK_FILE, "held by the test"):
            (said,) = flashes(press(server, cookie))
        assert said == ("Пошту не перевірено. Пошту цієї робочої теки вже обробляє інший процес "
                        "(consolidate mail fetch); дочекайтеся його завершення.")
        assert len(recorded(box)) == 1 and len(box.folder("INBOX")) == 1 and len(box.receipts()) == 1
    finally:
        sink.release.set()
        server.stop()


def test_a_viewer_and_a_reviewer_may_read_the_page_but_not_check_the_mail(box):
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", box.workbook("MVS", 1))]))
    add_user(box.ws.root, "Перегляд", "viewer")
    add_user(box.ws.root, "Рецензент", "reviewer")
    server = Server(box.ws.root, "--accounts", env={ENV: PASSWORD})
    try:
        for name in ("Перегляд", "Рецензент"):
            status, cookie = login(server, name, USER_PASSWORD)
            assert status == 303 and cookie
            page = text_of(server, cookie)
            assert 'id="fetch"' not in page and "Ваша роль не дозволяє перевіряти пошту" in page
            status, _, body = post_form(server, "/mail/fetch", {"csrf": csrf_of(server, cookie, "/mail")}, cookie)
            assert status == 403 and "не дозволяє цієї дії" in html.unescape(body.decode())
    finally:
        server.stop()
    assert recorded(box) == [] and len(box.folder("INBOX")) == 1 and box.receipts() == []


def test_without_a_mailbox_the_page_says_how_to_set_it_up_and_lists_what_the_ledger_holds(box):
    data = box.workbook("MVS", 1)
    box.append(outlook("ivanenko@gmail.test", box.user, "Звіт МВС", [("Звіт МВС.xlsx", data)]))
    box.fetch()   # received earlier, by «consolidate mail fetch»
    config = box.ws.root / "consolidate.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text[: text.index("[mailbox]")], encoding="utf-8")   # [mailbox] removed
    server = Server(box.ws.root, env={ENV: PASSWORD})
    try:
        cookie = token_session(server)
        page = text_of(server, cookie)
        assert "Поштову скриньку не налаштовано" in page and "docs/mail.md" in page and 'id="fetch"' not in page
        (row,) = rows(page)
        assert "ivanenko@gmail.test" in row and "адреси немає в реєстрі" in row
        assert f'<a href="/files/{sha(data)}">Звіт МВС.xlsx</a>' in row and "з попередженнями" in row
        assert "1 попередження" in row and "квитанцію надіслано" in row
        status, _, body = request(server, "GET", f"/files/{sha(data)}", cookie=cookie)
        assert status == 200 and body == data   # the link downloads the archived copy
    finally:
        server.stop()


def test_the_clerk_checks_the_mail_in_chromium(box, tmp_path):
    """The button in a real browser: the flash and the list, then the page's picture for docs/web.md; the workflow
    pages the list (a page of two here, a hundred on the console)."""
    from selenium.webdriver.common.by import By

    from consolidate.workflows.mail import mailbox_messages

    box.append(outlook("ua32@example.org", box.user, "Звіт Київської ОВА", [("Звіт.xlsx", box.workbook("UA-32", 1))]),
               when=DAY)
    box.append(thunderbird("nssu@example.org", box.user, "Звіт Нацсоцслужби",
                           [("НСС звіт.xlsx", box.workbook("NSSU", 2, error=True))]), when=DAY + dt.timedelta(hours=3))
    box.append(thunderbird("mvs@example.org", box.user, "Звіт", []), when=DAY + dt.timedelta(days=1))
    box.append(out_of_office("dir@oda.test", box.user, "Нагадування", date=DAY + dt.timedelta(days=2)),
               when=DAY + dt.timedelta(days=2))
    server = Server(box.ws.root, env={ENV: PASSWORD})
    driver = chromium(tmp_path)
    try:
        driver.get(server.url.replace("/?", "/mail?"))
        wait_for(lambda: driver.find_elements(By.ID, "fetch"), what="«Пошта»")
        driver.find_element(By.ID, "fetch").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#messages tbody tr"), 60, "the list")
        assert driver.find_element(By.CSS_SELECTOR, "p.flash").text.startswith("Перевірено пошту: 4 нові листи")
        senders = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#messages tbody .sender")]
        assert senders == ["dir@oda.test", "mvs@example.org", "nssu@example.org", "ua32@example.org"]
        screenshot(driver, "mail")
    finally:
        driver.quit()
        server.stop()
    second = mailbox_messages(box.ws, page=2, per_page=2)
    assert (second.page, second.pages, second.first, second.matched) == (2, 2, 3, 4)
    assert [m.sender for m in second.messages] == ["nssu@example.org", "ua32@example.org"]
    assert mailbox_messages(box.ws, page=9, per_page=2).page == 2   # past the end: the last page
