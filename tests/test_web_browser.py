"""The clerk's cycle in the web console: the real server, a real Chromium (issue 19).

Upload three returns (one with errors) and a file that is no workbook, read the findings, return the
faulty one with a comment, accept the others, build and download the report, and check that its figures
are the CLI's on the same workspace.  Every page's screenshot goes to docs/web/ (docs/web.md shows them).
"""

from __future__ import annotations

import subprocess
import sys

import openpyxl
import pytest
from selenium.webdriver.common.by import By

from consolidate.demo import RESUBMITTED, prepare

from .web_util import Server, chromium, screenshot, wait_for

pytestmark = pytest.mark.slow

CLEAN = ("MSP", "NSSU")


def _returns(tmp_path):
    ws, plan = prepare(tmp_path / "ws")
    first = {}
    for d in sorted(plan.deliveries, key=lambda d: d.arrives):
        first.setdefault(d.executor, d.path)
    files = [first[c] for c in CLEAN] + [first[RESUBMITTED[0]]]
    junk = tmp_path / "Звіт Закарпаття.pdf"
    junk.write_bytes(b"%PDF-1.4\n% not a workbook\n")
    return ws, files, junk


def _cells(path):
    wb = openpyxl.load_workbook(path, read_only=True)
    return {ws.title: [tuple(c for c in row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _claimed(root):
    from consolidate.ledger import Ledger
    from consolidate.reconcile import reconcile_ledger
    from consolidate.workspace import open_workspace

    ws = open_workspace(root)
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, ws.catalogue.default_period())
    return {r.indicator.id: [c.value for c in r.claims if c.value is not None] for r in rec.indicators}


def _claimed_twice(root) -> str:
    """An indicator both accepted returns claim with different values (so that the bounds are a range)."""
    return next(i for i, v in _claimed(root).items() if len(v) >= 2 and max(v) < sum(v))


def _between(root, item) -> float:
    values = _claimed(root)[item]
    return (max(values) + sum(values)) / 2


def test_clerks_cycle_in_chromium(tmp_path):
    ws, files, junk = _returns(tmp_path)
    server = Server(ws.root)
    driver = chromium(tmp_path)
    try:
        driver.get(server.url)
        wait_for(lambda: driver.find_elements(By.ID, "status"), what="«Огляд»")
        assert "token=" not in driver.current_url          # the token became a cookie
        assert driver.find_element(By.TAG_NAME, "h1").text == "Огляд"

        # «Прийом»: four files at once through the file picker
        driver.get(server.base + "/intake")
        driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in [*files, junk]))
        driver.find_element(By.ID, "send").click()
        wait_for(lambda: "/intake/batch/" in driver.current_url, 60, "the upload's result")
        sections = driver.find_elements(By.CSS_SELECTOR, "section.file")
        states = {s.get_attribute("data-name"): s.get_attribute("data-state") for s in sections}
        assert states == {files[0].name: states[files[0].name], files[1].name: states[files[1].name],
                          files[2].name: "errors", junk.name: "quarantined"}
        assert {states[files[0].name], states[files[1].name]} <= {"accepted", "warnings"}
        faulty = next(s for s in sections if s.get_attribute("data-state") == "errors")
        cells = [td.text for td in faulty.find_elements(By.CSS_SELECTOR, "table.findings tbody td")]
        assert "помилка" in cells and "I. Фінансування" in cells   # severity, sheet, cell, found, expected
        screenshot(driver, "intake-result")

        driver.get(server.base + "/intake")
        quarantine = driver.find_element(By.ID, "quarantine").text
        assert junk.name in quarantine
        screenshot(driver, "intake")

        # «Розгляд»: return the faulty one with a comment, accept the two others
        driver.get(server.base + "/review")
        screenshot(driver, "review")
        row = driver.find_element(By.CSS_SELECTOR, f"tr[data-executor='{RESUBMITTED[0]}']")
        row.find_element(By.CSS_SELECTOR, "input.comment").send_keys("Касові видатки від’ємні: виправте, будь ласка.")
        row.find_element(By.CSS_SELECTOR, "button.return").click()
        wait_for(lambda: driver.find_element(By.CSS_SELECTOR, f"tr[data-executor='{RESUBMITTED[0]}']")
                 .get_attribute("data-state") == "повернуто на доопрацювання", 60, "the return")
        assert "Повернуто на доопрацювання" in driver.find_element(By.TAG_NAME, "main").text
        for code in CLEAN:
            driver.find_element(By.CSS_SELECTOR, f"tr[data-executor='{code}'] button.accept").click()
            wait_for(lambda code=code: driver.find_element(By.CSS_SELECTOR, f"tr[data-executor='{code}']")
                     .get_attribute("data-state") == "затверджено", 60, f"{code} accepted")
        states = {code: driver.find_element(By.CSS_SELECTOR, f"tr[data-executor='{code}']").get_attribute("data-state")
                  for code in (*CLEAN, RESUBMITTED[0])}
        assert states == {"MSP": "затверджено", "NSSU": "затверджено", RESUBMITTED[0]: "повернуто на доопрацювання"}

        # «Зведення»: a figure two executors claim, explained, adjusted within its bounds, and the adjustment undone
        item = _claimed_twice(ws.root)
        driver.get(server.base + "/reconcile?item=" + item)
        assert "аркуш" in driver.find_element(By.ID, "explain").text
        low = driver.find_element(By.ID, "bounds").text
        assert "Межі коригування" in low
        form = driver.find_element(By.CSS_SELECTOR, "form.adjust")
        value = _between(ws.root, item)
        form.find_element(By.NAME, "value").send_keys(f"{value:g}".replace(".", ","))
        form.find_element(By.NAME, "reason").send_keys("Ті самі події у двох звітах: узято без повторів.")
        driver.find_element(By.ID, "adjust").click()
        wait_for(lambda: "СКОРИГОВАНО ВРУЧНУ" in driver.find_element(By.ID, "explain").text, 60, "the adjustment")
        screenshot(driver, "reconcile")
        driver.find_element(By.CSS_SELECTOR, "form.undo button").click()
        wait_for(lambda: "скасовано" in driver.find_element(By.TAG_NAME, "main").text, 60, "the undo")
        assert "СКОРИГОВАНО ВРУЧНУ" not in driver.find_element(By.ID, "explain").text
        # «Звіт»: build (xlsx) and download it
        driver.get(server.base + "/report")
        driver.find_element(By.ID, "build-report").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "a.report-xlsx"), 120, "the report")
        screenshot(driver, "report")
        driver.find_element(By.CSS_SELECTOR, "a.report-xlsx").click()
        downloaded = wait_for(lambda: [p for p in driver.downloads.glob("*.xlsx")], 60, "the download")[0]

        # the other pages
        driver.get(server.base + f"/executor/{RESUBMITTED[0]}")
        assert "повернуто на доопрацювання" in driver.find_element(By.ID, "slot").text
        assert driver.find_elements(By.CSS_SELECTOR, "a[href^='/files/']")
        screenshot(driver, "executor")
        driver.get(server.base + "/templates")
        screenshot(driver, "templates")
        driver.get(server.base + "/catalogue")
        screenshot(driver, "catalogue")
        driver.get(server.base + "/journal")
        journal = driver.find_element(By.ID, "journal").text
        assert "затверджено звіт" in journal and "повернуто на доопрацювання" in journal
        screenshot(driver, "journal")
        driver.get(server.base + "/")
        screenshot(driver, "overview")
    finally:
        driver.quit()
        server.stop()

    # The CLI on the same workspace builds the same report.
    cli_report = tmp_path / "cli.xlsx"
    done = subprocess.run([sys.executable, "-m", "consolidate.cli", "report", "-w", str(ws.root), "--out",
                           str(cli_report)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    web, cli = _cells(downloaded), _cells(cli_report)
    assert web.keys() == cli.keys()
    assert web == cli
    assert any(isinstance(v, (int, float)) and v for rows in web.values() for row in rows for v in row)


def test_a_page_follows_another_clerks_upload(tmp_path):
    """Two clerks: one watches «Огляд» and «Розгляд», the other uploads; the open pages catch up by themselves."""
    from .web_util import csrf_of, token_session, upload

    ws, files, _ = _returns(tmp_path)
    server = Server(ws.root)
    driver = chromium(tmp_path)
    try:
        driver.get(server.url)
        row = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-executor='MSP']"), what="«Огляд»")[0]
        before = row.text
        other = token_session(server)
        status, _, _ = upload(server, other, csrf_of(server, other), [(files[0].name, files[0].read_bytes())])
        assert status == 303

        def caught_up():
            try:
                return driver.find_element(By.CSS_SELECTOR, "tr[data-executor='MSP']").text != before
            except Exception:  # noqa: BLE001 - the page is being reloaded
                return False
        wait_for(caught_up, 30, "«Огляд» to show the other clerk's upload")
        assert files[0].name not in before
        # a page with a form is not reloaded under the clerk's hands: it says that it is stale
        driver.get(server.base + "/report")
        assert not driver.find_element(By.ID, "stale").is_displayed()
        upload(server, other, csrf_of(server, other), [(files[1].name, files[1].read_bytes())])
        wait_for(lambda: driver.find_element(By.ID, "stale").is_displayed(), 30, "the stale notice")
    finally:
        driver.quit()
        server.stop()


def test_accounts_in_the_browser(tmp_path):
    """Behind accounts: the log-in page, a viewer who sees no buttons, a wrong password refused."""
    from click.testing import CliRunner

    from consolidate.cli import main

    ws, files, _ = _returns(tmp_path)
    for name, role in (("Олена Коваль", "clerk"), ("Перегляд", "viewer")):
        done = CliRunner().invoke(main, ["users", "add", name, "--role", role, "-w", str(ws.root)],
                                  input="пароль-для-тесту-1\nпароль-для-тесту-1\n")
        assert done.exit_code == 0, done.output
    server = Server(ws.root, "--accounts")
    driver = chromium(tmp_path)
    try:
        driver.get(server.base + "/review")
        wait_for(lambda: "/login" in driver.current_url, what="the log-in page")
        screenshot(driver, "login")
        driver.find_element(By.ID, "name").send_keys("Перегляд")
        driver.find_element(By.ID, "password").send_keys("не той пароль")
        driver.find_element(By.ID, "login").click()
        assert "Неправильне ім’я або пароль" in wait_for(lambda: driver.find_element(By.ID, "error").text)
        driver.find_element(By.ID, "name").clear()
        driver.find_element(By.ID, "name").send_keys("Перегляд")
        driver.find_element(By.ID, "password").send_keys("пароль-для-тесту-1")
        driver.find_element(By.ID, "login").click()
        wait_for(lambda: driver.find_elements(By.ID, "status"), what="«Огляд» after log-in")
        assert driver.find_element(By.ID, "user").text == "Перегляд"
        driver.get(server.base + "/review")
        assert not driver.find_elements(By.CSS_SELECTOR, "button.accept")
        driver.get(server.base + "/intake")
        assert not driver.find_elements(By.ID, "upload")
        cookie = driver.get_cookie("consolidate_session")
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    finally:
        driver.quit()
        server.stop()
