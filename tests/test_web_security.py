"""The web console's security (issue 19): token, accounts, roles, CSRF, upload cap, paths, log-in limits.

Every test talks to the real server (``consolidate serve`` in its own process on 127.0.0.1) over HTTP,
sending raw paths and bodies; the browser's view of the same rules is in test_web_browser.py.
"""

from __future__ import annotations

import html
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.ledger import Ledger
from consolidate.web.server import build

from .intake_util import filled
from .web_util import (Server, csrf_of, login, post_form, request, token_session, upload)

PASSWORD = "пароль-для-тесту-1"


def add_user(root, name, role, password=PASSWORD):
    result = CliRunner().invoke(main, ["users", "add", name, "--role", role, "-w", str(root)],
                                input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def returns(workspace, tmp_path):
    """Two filled returns of MINJUST (different bytes) to upload."""
    folder = tmp_path / "returns"
    folder.mkdir()
    first = filled(workspace.catalogue, folder, "Мін'юст звіт.xlsx")
    second = filled(workspace.catalogue, folder, "Мін'юст звіт (2).xlsx",
                    {"execution": {"T2.2": {"status": "виконано", "narrative": "Інший текст."}}})
    return first, second


@pytest.fixture
def token_server(workspace):
    server = Server(workspace.root)
    yield server
    server.stop()


@pytest.fixture
def accounts_server(workspace):
    add_user(workspace.root, "Олена Коваль", "clerk")
    add_user(workspace.root, "Перегляд", "viewer")
    add_user(workspace.root, "Рецензент", "reviewer")
    server = Server(workspace.root, "--accounts")
    yield server
    server.stop()


def test_no_token_is_refused(token_server):
    status, _, body = request(token_server, "GET", "/")
    assert status == 401 and "ключ доступу" in body.decode()
    status, _, _ = request(token_server, "GET", "/?token=wrong-token")
    assert status == 401
    for path in ("/review", "/report", "/files/" + "0" * 64, "/api/stamp", "/journal"):
        assert request(token_server, "GET", path)[0] == 401, path
    status, headers, _ = request(token_server, "GET", f"/?token={token_server.token}")
    assert status == 303 and headers["location"] == "/"
    cookie = next(v for v in headers["set-cookie-all"] if v.startswith("consolidate_session="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert request(token_server, "GET", "/", cookie=cookie.split(";", 1)[0])[0] == 200
    assert "token=" in token_server.line and "127.0.0.1" in token_server.line


def test_every_post_without_csrf_is_refused(token_server, workspace, returns):
    from consolidate.web.app import Config, create_app

    cookie = token_session(token_server)
    app = create_app(Config(root=workspace.root, token="x"))
    posts = [r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ()) and r.path != "/login"]
    assert {"/review/accept", "/review/return", "/reconcile/adjust", "/intake/upload", "/report/build",
            "/templates/generate", "/logout"} <= set(posts)
    for path in posts:
        for csrf in ({}, {"csrf": "forged"}):
            status, _, body = post_form(token_server, path, {"executor": "MINJUST", "comment": "x", **csrf}, cookie)
            assert status == 403, (path, status)
            assert "CSRF" in body.decode()
    status, _, _ = upload(token_server, cookie, "forged", [("a.xlsx", returns[0].read_bytes())])
    assert status == 403
    with Ledger(workspace.ledger_path) as ledger:
        assert ledger.files() == [] and ledger.reviews() == []
    assert not list((workspace.root / ".uploads").glob("*")) if (workspace.root / ".uploads").exists() else True
    # with the token the same upload goes through
    status, headers, _ = upload(token_server, cookie, csrf_of(token_server, cookie), [("Звіт.xlsx", returns[0].read_bytes())])
    assert status == 303 and headers["location"].startswith("/intake/batch/")


def test_upload_over_the_cap_is_refused_and_nothing_is_written(workspace, returns, tmp_path):
    cfg = workspace.root / "consolidate.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[web]\nupload_limit_mb = 1\n", encoding="utf-8")
    server = Server(workspace.root)
    try:
        cookie = token_session(server)
        csrf = csrf_of(server, cookie)
        big = returns[0].read_bytes() + b"\0" * (1024 * 1024)
        for chunked in (False, True):   # the declared length is refused at once; an undeclared one while streaming
            status, _, body = upload(server, cookie, csrf, [("small.xlsx", returns[1].read_bytes()),
                                                            ("великий.xlsx", big)], chunked=chunked)
            assert status == 413, (chunked, status)
            text = body.decode()
            assert "1 МБ" in text and "нічого не прийнято" in text
        staging = workspace.root / ".uploads"
        assert not staging.exists() or not any(staging.iterdir())
        assert not any((workspace.root / "archive").rglob("*.*"))
        with Ledger(workspace.ledger_path) as ledger:
            assert ledger.files() == []
        status, _, _ = upload(server, cookie, csrf, [("small.xlsx", returns[1].read_bytes())])
        assert status == 303
    finally:
        server.stop()


def test_download_urls_never_reach_a_path(token_server, workspace, returns):
    cookie = token_session(token_server)
    status, headers, _ = upload(token_server, cookie, csrf_of(token_server, cookie),
                                [("Звіт.xlsx", returns[0].read_bytes())])
    with Ledger(workspace.ledger_path) as ledger:
        sha = ledger.files()[0].sha256
    status, headers, body = request(token_server, "GET", f"/files/{sha}", cookie=cookie)
    assert status == 200 and body == returns[0].read_bytes()
    assert "attachment" in headers["content-disposition"]
    secret = (workspace.root / "consolidate.toml").read_bytes()
    for path in ("/files/../../consolidate.toml", "/files/..%2F..%2Fconsolidate.toml", "/files/%2Fetc%2Fpasswd",
                 "/files//etc/passwd", "/files/" + "../" * 8 + "etc/passwd", f"/files/{sha}/../../ledger.sqlite",
                 "/report/download/..%2F..%2Fconsolidate.toml", "/report/download/%2Fetc%2Fpasswd",
                 "/templates/file/..%2F..%2Fconsolidate.toml", "/templates/file/%2Fetc%2Fpasswd",
                 "/catalogue/file/..%2Fconsolidate.toml", "/catalogue/file/%2Fetc%2Fpasswd",
                 "/static/../consolidate.toml", "/static/..%2F..%2F..%2Fconsolidate.toml", "/executor/..%2F..%2Fetc"):
        status, _, body = request(token_server, "GET", path, cookie=cookie)
        assert status in (400, 404), (path, status)
        assert b"root:" not in body and secret not in body and b"SQLite format" not in body, path


def test_viewer_changes_nothing_and_actions_carry_the_users_name(accounts_server, workspace, returns):
    status, viewer = login(accounts_server, "Перегляд", PASSWORD)
    assert status == 303 and viewer
    status, clerk = login(accounts_server, "Олена Коваль", PASSWORD)
    assert status == 303 and clerk
    # the viewer may read but not upload
    assert request(accounts_server, "GET", "/review", cookie=viewer)[0] == 200
    vcsrf = csrf_of(accounts_server, viewer)
    status, _, _ = upload(accounts_server, viewer, vcsrf, [("Звіт.xlsx", returns[0].read_bytes())])
    assert status == 403
    status, _, _ = upload(accounts_server, clerk, csrf_of(accounts_server, clerk),
                          [("Звіт.xlsx", returns[0].read_bytes())])
    assert status == 303
    _, _, page = request(accounts_server, "GET", "/review", cookie=viewer)
    assert b'class="accept"' not in page
    _, _, page = request(accounts_server, "GET", "/review", cookie=clerk)
    assert b'class="accept"' in page
    for path, fields in (("/review/accept", {"executor": "MINJUST"}),
                         ("/review/return", {"executor": "MINJUST", "comment": "ні"}),
                         ("/report/build", {"fmt_xlsx": "1"}), ("/templates/generate", {}),
                         ("/reconcile/adjust", {"item": "T2.2.1", "value": "1", "reason": "x"})):
        status, _, body = post_form(accounts_server, path, {"csrf": vcsrf, **fields}, viewer)
        assert status == 403, path
        assert "роль" in body.decode()
    # a reader's download writes nothing: a template not generated yet is not generated for a viewer
    assert request(accounts_server, "GET", "/templates/file/MINJUST", cookie=viewer)[0] == 404
    assert request(accounts_server, "GET", "/templates/all.zip", cookie=viewer)[0] == 404
    with Ledger(workspace.ledger_path) as ledger:
        assert ledger.reviews() == [] and ledger.templates_issued() == []
    assert not (workspace.out / "report-2024.xlsx").exists()
    assert not (workspace.out / "templates").exists()
    status, _, data = request(accounts_server, "GET", "/templates/file/MINJUST", cookie=clerk)
    assert status == 200 and data.startswith(b"PK")
    status, _, again = request(accounts_server, "GET", "/templates/file/MINJUST", cookie=viewer)
    assert status == 200 and again == data
    # a reviewer decides, under its own name
    status, reviewer = login(accounts_server, "Рецензент", PASSWORD)
    status, _, _ = post_form(accounts_server, "/review/accept", {"csrf": csrf_of(accounts_server, reviewer),
                                                                 "executor": "MINJUST", "period": "2024"}, reviewer)
    assert status == 303
    with Ledger(workspace.ledger_path) as ledger:
        assert [(r.decision, r.operator) for r in ledger.reviews()] == [("accept", "Рецензент")]
    _, _, journal = request(accounts_server, "GET", "/journal", cookie=viewer)
    text = journal.decode()
    assert "Олена Коваль" in text and "Рецензент" in text and "затверджено звіт" in text


def test_accounts_sessions_and_passwords(accounts_server, workspace):
    assert request(accounts_server, "GET", "/")[0] == 303              # to the log-in page
    assert request(accounts_server, "GET", "/?token=anything")[0] == 303
    status, headers, _ = request(accounts_server, "GET", "/login")
    status, cookie = login(accounts_server, "Олена Коваль", PASSWORD)
    assert status == 303
    _, headers, _ = request(accounts_server, "GET", "/login")
    # the session cookie: Secure, HttpOnly, SameSite=Strict
    status, headers, body = request(accounts_server, "GET", "/login")
    import re
    import urllib.parse

    csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    login_cookie = next(v.split(";", 1)[0] for v in headers["set-cookie-all"] if v.startswith("consolidate_login="))
    form = urllib.parse.urlencode({"csrf": csrf, "name": "Олена Коваль", "password": PASSWORD}).encode()
    _, headers, _ = request(accounts_server, "POST", "/login", form,
                            {"Content-Type": "application/x-www-form-urlencoded"}, cookie=login_cookie)
    flags = next(v for v in headers["set-cookie-all"] if v.startswith("consolidate_session=")).lower()
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags
    # a log-in form posted without its token is refused
    status, _, _ = request(accounts_server, "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    # passwords are scrypt hashes
    with sqlite3.connect(workspace.root / "web.sqlite") as db:
        stored = [row[0] for row in db.execute("SELECT password FROM users")]
    assert all(s.startswith("scrypt$") and PASSWORD not in s for s in stored)
    # logging out ends the session
    post_form(accounts_server, "/logout", {"csrf": csrf_of(accounts_server, cookie)}, cookie)
    assert request(accounts_server, "GET", "/review", cookie=cookie)[0] == 303


def test_log_in_attempts_are_rate_limited(accounts_server):
    for _ in range(5):
        status, cookie = login(accounts_server, "Олена Коваль", "wrong password")
        assert status == 401 and not cookie
    status, cookie = login(accounts_server, "Олена Коваль", PASSWORD)   # even the right password waits now
    assert status == 429 and not cookie
    status, other = login(accounts_server, "Перегляд", PASSWORD)        # another name from the same address too
    assert status == 429


def test_users_cli_and_accounts_required_off_loopback(workspace):
    with pytest.raises(ConsolidateError, match="облікових записів"):
        build(workspace.root, "0.0.0.0")          # builds the app only: nothing listens
    short = CliRunner().invoke(main, ["users", "add", "x", "--role", "clerk", "-w", str(workspace.root)],
                               input="short\nshort\n")
    assert short.exit_code != 0 and "закороткий" in short.output
    add_user(workspace.root, "Олена", "clerk")
    again = CliRunner().invoke(main, ["users", "add", "Олена", "--role", "viewer", "-w", str(workspace.root)],
                               input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code != 0 and "--replace" in again.output
    listed = CliRunner().invoke(main, ["users", "list", "-w", str(workspace.root)])
    assert "Олена" in listed.output and "діловод" in listed.output
    app, token = build(workspace.root, "0.0.0.0")
    assert token == "" and app.state.console.config.accounts
    app, token = build(workspace.root, "127.0.0.1")
    assert len(token) >= 32 and not app.state.console.config.accounts


def test_two_clerks_upload_at_once(token_server, workspace, returns):
    one, two = token_session(token_server), token_session(token_server)
    results = {}

    def send(name, cookie, path):
        results[name] = upload(token_server, cookie, csrf_of(token_server, cookie), [(path.name, path.read_bytes())])

    threads = [threading.Thread(target=send, args=("one", one, returns[0])),
               threading.Thread(target=send, args=("two", two, returns[1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results["one"][0] == results["two"][0] == 303
    for name, cookie, path in (("one", one, returns[0]), ("two", two, returns[1])):
        status, _, body = request(token_server, "GET", results[name][1]["location"], cookie=cookie)
        assert status == 200 and path.name in html.unescape(body.decode())
    with Ledger(workspace.ledger_path) as ledger:
        names = sorted(f.original_name for f in ledger.files())
        assert names == sorted([returns[0].name, returns[1].name])
        assert len(ledger.submissions()) == 2
    assert not any((workspace.root / ".uploads").iterdir())
