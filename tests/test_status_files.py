"""out/status.html, .xlsx and .csv rewritten whenever the ledger changes: intake, review, reminders, reports."""

from __future__ import annotations

import re

from click.testing import CliRunner

from consolidate.cli import main

from .intake_util import complete, filled, merged


def into_inbox(ws, name, values):
    """A filled return in inbox/ (the blank template it was filled from stays outside)."""
    (ws.root / "made").mkdir(exist_ok=True)
    made = filled(ws.catalogue, ws.root / "made", name, values)
    return made.rename(ws.inbox / name)


def _run(*args):
    return CliRunner().invoke(main, list(args), prog_name="consolidate")


def _page(ws) -> str:
    return (ws.out / "status.html").read_text(encoding="utf-8")


def _row(page: str, code: str) -> str:
    m = re.search(rf'<tr class="[^"]+" data-executor="{re.escape(code)}">(.*?)</tr>', page, re.S)
    assert m, code
    return m.group(1)


def test_status_page_follows_intake_and_review(workspace):
    ws = workspace
    w = ["-w", str(ws.root)]
    bad = merged(complete(), {"execution": {"T2.2.1": {"actual": -5}}})
    into_inbox(ws, "Мін'юст звіт.xlsx", bad)
    (ws.inbox / "звіт МОН.pdf").write_bytes(b"%PDF-1.4 not a workbook")
    assert not (ws.out / "status.html").exists()

    res = _run("intake", *w)
    assert res.exit_code == 1, res.output
    page = _page(ws)
    row = _row(page, "MINJUST")
    assert "подано з помилками" in row
    # the findings open under the row without a script: details/summary with sheet and cell
    assert re.search(r"<details class=\"findings\"><summary>Зауваження: 1 помилка", row)
    assert "«II. Виконання» E7" in row and "<script" not in page
    # the quarantined file: its original name, reasons, no executor known
    q = page[page.index('id="quarantine-title"'):]
    assert "звіт МОН.pdf" in q and "не визначено" in q and "<details" in q
    assert (ws.out / "status.xlsx").is_file() and (ws.out / "status.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    into_inbox(ws, "Мін'юст звіт (виправлений).xlsx", complete())
    assert _run("intake", *w).exit_code == 0
    row = _row(_page(ws), "MINJUST")
    assert "подано без зауважень" in row and "з помилками" not in row and 'class="decision">на розгляді' in row

    res = _run("review", "accept", "MINJUST", "--operator", "Петренко", *w)
    assert res.exit_code == 0, res.output
    row = _row(_page(ws), "MINJUST")
    assert re.search(r'class="decision">затверджено \(Петренко, \d\d\.\d\d\.\d{4}\)', row), row


def test_status_as_of_leaves_the_page_at_today(workspace):
    ws = workspace
    into_inbox(ws, "Мін'юст звіт.xlsx", complete())
    assert _run("intake", "-w", str(ws.root)).exit_code == 0
    res = _run("status", "-w", str(ws.root), "--as-of", "2024-06-01")
    assert "Подано без помилок 0 з" in res.output            # the terminal shows the past day
    page = _page(ws)
    assert "Подано без помилок 1 з" in page and "станом на 1 червня 2024" not in page   # the page: today


def test_the_web_consoles_operations_refresh_the_page_too(workspace):
    from consolidate.web import ops

    ws = workspace
    path = into_inbox(ws, "Мін'юст звіт.xlsx", complete())
    ops.intake(ws, [path], {path: path.name})
    assert ops.refresh_status(ws, None) is None      # what the console's intake queue runs once it is quiet
    row = _row(_page(ws), "MINJUST")
    assert "подано без зауважень" in row and 'class="decision">на розгляді' in row
    ops.accept(ws, "MINJUST", "2024", "Петренко")
    assert 'class="decision">затверджено (Петренко' in _row(_page(ws), "MINJUST")
