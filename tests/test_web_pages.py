"""Every page of the web console answers on a workspace with data, over the real server (HTTP)."""

from __future__ import annotations

import html
import re

import pytest

from consolidate.ledger import Ledger
from consolidate.workspace import open_workspace

from .intake_util import filled
from .web_util import Server, csrf_of, post_form, request, token_session, upload


@pytest.fixture
def served(workspace, tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    good = filled(workspace.catalogue, folder, "Мін'юст звіт.xlsx")
    server = Server(workspace.root)
    cookie = token_session(server)
    status, _, _ = upload(server, cookie, csrf_of(server, cookie, "/intake"),
                          [(good.name, good.read_bytes()), ("лист.pdf", b"%PDF-1.4 not a workbook")])
    assert status == 303
    yield server, cookie
    server.stop()


def test_every_page_answers(served):
    server, cookie = served
    for path, marker in (("/", "Огляд"), ("/intake", "Карантин"), ("/review", "Розгляд звітів"),
                         ("/reconcile", "Зведення"), ("/reconcile?item=T2.2.1", "T2.2.1"), ("/report", "Національний звіт"),
                         ("/templates", "Шаблони звітів"), ("/catalogue", "Каталог програми"), ("/journal", "Журнал дій"),
                         ("/executor/MINJUST", "Отримані файли"), ("/?state=overdue", "Огляд"), ("/?q=%D1%8E%D1%81%D1%82", "Мін")):
        status, headers, body = request(server, "GET", path, cookie=cookie)
        text = html.unescape(body.decode())
        assert status == 200 and marker in text, path
        assert "default-src 'self'" in headers["content-security-policy"]
    status, _, body = request(server, "GET", "/review?period=2024-Q1", cookie=cookie)
    assert status == 200 and '<option value="2024-Q1" selected>' in body.decode()
    status, _, body = request(server, "GET", "/nowhere", cookie=cookie)
    assert status == 404 and "Такої сторінки немає" in body.decode()
    status, _, body = request(server, "GET", "/?period=1999", cookie=cookie)
    assert status == 400 and "1999" in body.decode()


def test_a_quarantined_file_is_assigned_from_the_page(served, workspace):
    server, cookie = served
    _, _, body = request(server, "GET", "/intake", cookie=cookie)
    sha = re.search(rb'data-sha="([0-9a-f]{64})"', body).group(1).decode()
    status, headers, _ = post_form(server, "/intake/assign", {"csrf": csrf_of(server, cookie, "/intake"), "sha": sha,
                                                             "executor": "MINJUST", "period": "2024",
                                                             "reason": "надіслано з адреси Мін’юсту"}, cookie)
    assert status == 303
    _, _, page = request(server, "GET", headers["location"], cookie=cookie)
    assert "віднесено" in html.unescape(page.decode())   # a PDF stays unreadable: still in quarantine, decision kept
    with Ledger(workspace.ledger_path) as ledger:
        assert ledger.file(sha) is not None
    _, _, journal = request(server, "GET", "/journal", cookie=cookie)
    assert "файл із карантину віднесено" in journal.decode()


def _return_through_smtp(workspace, tmp_path, port: int, *, real_settings: bool):
    """Set [smtp] (aiosmtpd on ``port``) — with the signer, sender and executors' addresses made real, or with
    the fresh workspace's placeholders left — upload MINJUST's return and press «Повернути» with a comment.
    (workspace, the response's status, the page shown after it)."""
    cfg = workspace.root / "consolidate.toml"
    text = cfg.read_text(encoding="utf-8")
    if real_settings:
        text = text.replace('name = "Оператор"', 'name = "Олена Коваль"').replace("@example.org", "@ministry.test")
        for registry in workspace.root.glob("templates/**/executors.csv"):  # real addresses, not placeholders
            registry.write_text(registry.read_text(encoding="utf-8").replace("example.org", "ministry.test"),
                                encoding="utf-8")
    cfg.write_text(text + f'\n[smtp]\nserver = "127.0.0.1:{port}"\n', encoding="utf-8")
    workspace = open_workspace(workspace.root)
    folder = tmp_path / "returns"
    folder.mkdir()
    good = filled(workspace.catalogue, folder, "Мін'юст звіт.xlsx")
    server = Server(workspace.root)
    try:
        cookie = token_session(server)
        upload(server, cookie, csrf_of(server, cookie, "/intake"), [(good.name, good.read_bytes())])
        status, headers, page = post_form(server, "/review/return", {
            "csrf": csrf_of(server, cookie), "executor": "MINJUST", "period": "2024",
            "comment": "Додайте пояснення до заходу 2.2."}, cookie)
        if status == 303:
            _, _, page = request(server, "GET", headers["location"], cookie=cookie)
    finally:
        server.stop()
    return workspace, status, html.unescape(page.decode())


def test_a_return_letter_goes_through_smtp_when_it_is_set(workspace, tmp_path):
    """[smtp] in consolidate.toml: «Повернути» sends the letter (aiosmtpd on 127.0.0.1), not just an .eml."""
    from .test_mail import start

    controller, inbox = start()
    try:
        workspace, status, page = _return_through_smtp(workspace, tmp_path, controller.port, real_settings=True)
        assert status == 303
        assert "лист надіслано" in page
        assert len(inbox.messages) == 1
        import email
        from email import policy

        message = email.message_from_bytes(inbox.messages[0][2], policy=policy.default)
        assert "Додайте пояснення до заходу 2.2." in message.get_body(("plain",)).get_content()
        with Ledger(workspace.ledger_path) as ledger:
            (mail,) = [m for m in ledger.mails() if m.kind == "return"]
            assert mail.via == "smtp"
    finally:
        controller.stop()


def test_a_hostile_file_name_is_shown_as_text(workspace, tmp_path):
    HOSTILE_NAME = "<script>alert('зламано')<img src=x onerror=alert(1)>.xlsx"   # no "/": a name, not a path
    folder = tmp_path / "returns"
    folder.mkdir()
    good = filled(workspace.catalogue, folder, "звіт.xlsx")
    server = Server(workspace.root)
    try:
        cookie = token_session(server)
        status, headers, _ = upload(server, cookie, csrf_of(server, cookie, "/intake"),
                                    [(HOSTILE_NAME, good.read_bytes()), ("..\\..\\" + HOSTILE_NAME + ".pdf", b"%PDF-1.4")])
        assert status == 303
        for path in (headers["location"], "/intake", "/journal", "/executor/MINJUST", "/review", "/"):
            _, _, body = request(server, "GET", path, cookie=cookie)
            text = body.decode()
            assert "<script>" not in text and "<img src=x" not in text, path
        _, _, body = request(server, "GET", headers["location"], cookie=cookie)
        assert "&lt;script&gt;" in body.decode()
        with Ledger(workspace.ledger_path) as ledger:
            names = sorted(f.original_name for f in ledger.files())
        assert names == sorted([HOSTILE_NAME, HOSTILE_NAME + ".pdf"])   # kept as data; the path part dropped
        assert not any(p.name.startswith("<") for p in workspace.root.rglob("*"))
    finally:
        server.stop()


@pytest.mark.slow
def test_a_blocking_outlier_is_confirmed_with_a_reason_on_the_review_page(tmp_path):
    """«Розгляд»: a return whose outlier blocks acceptance is accepted only with the outlier confirmed and a reason;
    the confirmation carries the user's name."""
    from consolidate.demo import SLIP, prepare

    ws, plan = prepare(tmp_path / "ws")
    first = min((d for d in plan.deliveries if d.executor == SLIP[0]), key=lambda d: d.arrives).path
    server = Server(ws.root)
    try:
        cookie = token_session(server)
        assert upload(server, cookie, csrf_of(server, cookie, "/intake"), [(first.name, first.read_bytes())])[0] == 303
        _, _, page = request(server, "GET", "/review", cookie=cookie)
        refs = re.findall(r'name="confirm_([^"]+)"', html.unescape(page.decode()))
        assert refs, "the return's outlier is offered for confirmation"
        form = {"csrf": csrf_of(server, cookie), "executor": SLIP[0], "period": "2024", "force": "1"}
        status, _, body = post_form(server, "/review/accept", form, cookie)
        assert status == 409 and "підтвердження" in html.unescape(body.decode())
        status, _, body = post_form(server, "/review/accept", {**form, **{f"confirm_{r}": "1" for r in refs}}, cookie)
        assert status == 409 and "причину" in html.unescape(body.decode())        # a confirmation needs its reason
        status, _, _ = post_form(server, "/review/accept", {**form, **{f"confirm_{r}": "1" for r in refs},
                                                           "reason": "Перевірено з виконавцем телефоном."}, cookie)
        assert status == 303
    finally:
        server.stop()
    with Ledger(ws.ledger_path) as ledger:
        confirmed = ledger.confirmations(period="2024")
        assert sorted(c.ref for c in confirmed) == sorted(refs)
        assert {(c.operator, c.reason) for c in confirmed} == {("Оператор", "Перевірено з виконавцем телефоном.")}
        assert [r.decision for r in ledger.reviews()] == ["accept"]


def test_a_return_letter_is_not_sent_from_placeholders(workspace, tmp_path):
    """[smtp] set but the workspace still has its placeholders («Оператор», example.org): the console refuses to
    send, says why, and records neither the decision nor a letter (the same rule as the CLI's)."""
    from .test_mail import start

    controller, inbox = start()
    try:
        workspace, status, page = _return_through_smtp(workspace, tmp_path, controller.port, real_settings=False)
        assert status == 409
        assert "заглушки" in page
        assert inbox.messages == []
        with Ledger(workspace.ledger_path) as ledger:
            assert [m for m in ledger.mails() if m.kind == "return"] == []
            assert [r for r in ledger.reviews() if r.executor == "MINJUST"] == []
    finally:
        controller.stop()


def test_the_review_page_counts_errors_and_offers_no_decision_on_a_returned_return(workspace, tmp_path):
    """A return with an error: its row says so and offers «попри помилки»; once returned, no decision is offered
    until the corrected file comes (the template compares the codes of severities and states, not their labels)."""
    from .intake_util import complete, merged

    bad = filled(workspace.catalogue, tmp_path, "Мін'юст звіт.xlsx",
                 merged(complete(), {"execution": {"T2.2.1": {"actual": "багато"}}}))
    server = Server(workspace.root)
    try:
        cookie = token_session(server)
        status, headers, _ = upload(server, cookie, csrf_of(server, cookie, "/intake"), [(bad.name, bad.read_bytes())])
        assert status == 303
        _, _, body = request(server, "GET", headers["location"], cookie=cookie)
        assert re.search(r'<tr class="sev-error"><td>помилка</td><td>II\. Виконання', html.unescape(body.decode()))

        def row():
            _, _, body = request(server, "GET", "/review", cookie=cookie)
            text = html.unescape(body.decode())
            return re.search(r'<tr data-executor="MINJUST".*?</tr>', text, re.S).group(0)

        received = row()
        assert "1 помилка" in received and 'name="force"' in received and 'class="accept"' in received
        status, _, _ = post_form(server, "/review/return", {"csrf": csrf_of(server, cookie), "executor": "MINJUST",
                                                            "period": "2024", "comment": "Виправте T2.2.1."}, cookie)
        assert status == 303
        returned = row()
        assert "1 помилка" in returned   # awaits the corrected file: nothing to decide («Повернути» would be refused)
        assert 'class="return"' not in returned and 'class="accept"' not in returned
    finally:
        server.stop()
