"""Reporting status: every state, --as-of before and after the deadline, sorting, summary, CLI, report sheet."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from types import SimpleNamespace

import openpyxl
import pytest
from click.testing import CliRunner

from consolidate.catalogue import load_catalogue
from consolidate.cli import main
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED as S_ACCEPTED
from consolidate.model import ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING, Finding, Return, Submission
from consolidate.reconcile import reconcile_ledger
from consolidate.report import SHEET_STATUS, build_report
from consolidate.status import (ACCEPTED, NOT_SUBMITTED, OVERDUE, STATE_COLOURS, STATES, WITH_ERRORS, WITH_WARNINGS,
                                compute_status, status_from_ledger, status_html)

from .conftest import ROOT
from .status_scenario import AFTER, BEFORE, HOSTILE_NAME, PERIOD, populate


@pytest.fixture(scope="module")
def cat():
    return load_catalogue(ROOT / "templates")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from consolidate.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("status") / "ws")
    populate(ws)
    return ws


def by_code(rows):
    return {r.executor: r for r in rows}


# ---------------------------------------------------------------------------------
# the pure function
# ---------------------------------------------------------------------------------

def sub(i, code, received, status=S_ACCEPTED, period=PERIOD):
    return Submission(i, code, period, f"{i:064x}", f"{code}-{i}.xlsx", received, status, "v")


def test_compute_status_every_state_from_plain_data(cat):
    subs = [sub(1, "MSP", "2025-01-10T10:00:00+02:00"),
            sub(2, "NSSU", "2025-01-11T10:00:00+02:00", ACCEPTED_WARNINGS),
            sub(3, "MVS", "2025-01-09T10:00:00+02:00"),
            sub(4, "MVS", "2025-01-12T10:00:00+02:00", ACCEPTED_ERRORS),
            sub(5, "DMS", "2025-01-22T10:00:00+02:00"),
            sub(6, "NPU", "2025-01-10T10:00:00+02:00", period="2024-Q3")]  # another period: not counted
    findings = {2: [Finding("x", WARNING, "w", "попередження")],
                4: [Finding("x", ERROR, "e", "помилка"), Finding("x", ERROR, "e", "помилка"),
                    Finding("x", WARNING, "w", "попередження")]}
    rejected = [SimpleNamespace(executor="UA-21", period=PERIOD, status=QUARANTINED, received_at="2025-01-13T12:00:00"),
                SimpleNamespace(executor="UA-07", period=None, status=QUARANTINED, received_at="2025-01-14T12:00:00"),
                SimpleNamespace(executor=None, period=None, status=QUARANTINED, received_at="2025-01-14T12:00:00")]
    mails = [SimpleNamespace(executor="UA-21", period=PERIOD, kind="reminder", sent_at="2025-01-16T09:00:00+02:00"),
             SimpleNamespace(executor="UA-21", period=PERIOD, kind="reminder", sent_at="2025-01-25T09:00:00+02:00"),
             SimpleNamespace(executor="MSP", period=PERIOD, kind="template", sent_at="2025-01-02T09:00:00+02:00")]

    rows, summary = compute_status(cat, PERIOD, subs, findings, rejected, mails, as_of=dt.date(2025, 1, 15))
    r = by_code(rows)
    assert len(rows) == len(cat.expected_executors()) == 46
    assert (r["MSP"].state, r["NSSU"].state, r["MVS"].state) == (ACCEPTED, WITH_WARNINGS, WITH_ERRORS)
    assert r["DMS"].state == NOT_SUBMITTED and r["DMS"].returns == 0  # its return came after 15.01
    assert r["NPU"].state == NOT_SUBMITTED
    assert (r["MVS"].returns, r["MVS"].errors, r["MVS"].warnings, r["MVS"].submission_id) == (2, 2, 1, 4)
    assert (r["NSSU"].errors, r["NSSU"].warnings) == (0, 1)
    assert r["UA-21"].rejected == 1 and r["UA-07"].rejected == 1 and "зв’яжіться" in r["UA-21"].note
    assert r["UA-21"].last_reminder == ""  # both reminders were sent after 15.01
    assert r["MSP"].template_sent == "2025-01-02T09:00:00+02:00"
    assert [x.state for x in rows] == sorted((x.state for x in rows), key=STATES.index)
    assert [x.executor for x in rows[:2]] == ["UA-07", "UA-21"]  # not reported but tried: call them first
    assert rows[-1].executor == "MSP" and rows[-2].executor == "NSSU" and rows[-3].executor == "MVS"
    assert summary.text() == "подано без помилок 2 з 46 (з них з попередженнями 1), не подано 43, з помилками 1, " \
                             "з відхиленими файлами 2"
    assert summary.outstanding == 44 and summary.accepted == 2

    rows, summary = compute_status(cat, PERIOD, subs, findings, rejected, mails, as_of=dt.date(2025, 1, 31))
    r = by_code(rows)
    assert r["DMS"].state == ACCEPTED and r["DMS"].late and "із запізненням (22.01.2025" in r["DMS"].note
    assert r["NPU"].state == OVERDUE and "строк минув 20.01.2025 (11 днів тому)" in r["NPU"].note
    assert r["UA-21"].last_reminder == "2025-01-25T09:00:00+02:00"
    assert rows[0].state == OVERDUE and rows[-1].state == ACCEPTED
    assert summary.text() == "подано без помилок 3 з 46 (з них з попередженнями 1), прострочено 42, з помилками 1, " \
                             "із запізненням 1, з відхиленими файлами 2"

    rows, summary = compute_status(cat, PERIOD, subs, findings, rejected, mails, as_of=None)
    assert OVERDUE not in {x.state for x in rows} and by_code(rows)["DMS"].late


def test_deadline_day_itself_is_not_overdue(cat):
    rows, _ = compute_status(cat, PERIOD, [], {}, as_of=dt.date(2025, 1, 20))
    assert {r.state for r in rows} == {NOT_SUBMITTED}
    rows, _ = compute_status(cat, PERIOD, [], {}, as_of=dt.date(2025, 1, 21))
    assert {r.state for r in rows} == {OVERDUE}
    q3 = [sub(1, "MSP", "2024-10-16T09:00:00", period="2024-Q3")]
    rows, _ = compute_status(cat, "2024-Q3", q3, {}, as_of=dt.date(2024, 10, 16))  # quarter deadline 15.10
    assert by_code(rows)["MSP"].late and by_code(rows)["NPU"].state == OVERDUE


# ---------------------------------------------------------------------------------
# a ledger with real returns
# ---------------------------------------------------------------------------------

def test_ledger_before_the_deadline(scenario):
    with Ledger(scenario.ledger_path) as ledger:
        rows, summary = status_from_ledger(scenario.catalogue, ledger, PERIOD, BEFORE)
    r = by_code(rows)
    assert r["MSP"].state == ACCEPTED and r["MSP"].file == "Мінсоцполітики звіт 2024.xlsx"
    assert r["NSSU"].state == WITH_WARNINGS and r["NSSU"].warnings == 1
    assert r["MVS"].state == WITH_ERRORS and (r["MVS"].returns, r["MVS"].errors, r["MVS"].warnings) == (2, 2, 1)
    assert r["MVS"].received == "2025-01-14T11:00:00+02:00"
    assert r["DMS"].state == NOT_SUBMITTED and not r["DMS"].late
    assert r["UA-21"].state == NOT_SUBMITTED and r["UA-21"].rejected == 1 and r["UA-21"].last_reminder == ""
    assert rows[0].executor == "UA-21"
    assert {x.state for x in rows} == {NOT_SUBMITTED, WITH_ERRORS, WITH_WARNINGS, ACCEPTED}
    assert summary.counts == {OVERDUE: 0, NOT_SUBMITTED: 43, WITH_ERRORS: 1, WITH_WARNINGS: 1, ACCEPTED: 1}


def test_ledger_after_the_deadline(scenario):
    with Ledger(scenario.ledger_path) as ledger:
        rows, summary = status_from_ledger(scenario.catalogue, ledger, PERIOD, AFTER)
    r = by_code(rows)
    assert r["DMS"].state == ACCEPTED and r["DMS"].late and r["DMS"].file == HOSTILE_NAME
    assert r["UA-21"].state == OVERDUE and r["UA-21"].last_reminder == "2025-01-16T09:00:00+02:00"
    assert r["MVS"].state == WITH_ERRORS and r["MSP"].state == ACCEPTED
    assert {x.state for x in rows} == {OVERDUE, WITH_ERRORS, WITH_WARNINGS, ACCEPTED}
    order = [x.state for x in rows]
    assert order == [OVERDUE] * 42 + [WITH_ERRORS, WITH_WARNINGS, ACCEPTED, ACCEPTED]
    assert summary.text() == ("подано без помилок 3 з 46 (з них з попередженнями 1), прострочено 42, з помилками 1, "
                              "із запізненням 1, з відхиленими файлами 1")


def test_status_command(scenario):
    res = CliRunner().invoke(main, ["status", "-w", str(scenario.root), "--as-of", "2025-01-15"])
    assert res.exit_code == 1, res.output  # somebody is outstanding
    lines = res.output.splitlines()
    assert lines[0] == "Стан звітування за 2024 рік станом на 15.01.2025 (строк подання 20.01.2025)"
    assert lines[1].startswith("Подано без помилок 2 з 46 (з них з попередженнями 1), не подано 43")
    body = [x for x in lines if x.startswith(tuple(s.label for s in STATES))]
    assert len(body) == 46 and body[0].split()[2] == "UA-21" and body[-1].split()[3] == "MSP"
    assert (scenario.out / "status.html").is_file()

    res = CliRunner().invoke(main, ["status", "-w", str(scenario.root), "--as-of", "31.01.2025", "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["summary"]["as_of"] == "2025-01-31" and data["summary"]["states"][OVERDUE] == 42
    assert [e["executor"] for e in data["executors"]][-4:] == ["MVS", "NSSU", "DMS", "MSP"]  # late ones first
    dms = data["executors"][-2]
    assert dms["state"] == ACCEPTED and dms["late"] and dms["state_key"] == "accepted"
    assert "status.html" in res.stderr

    res = CliRunner().invoke(main, ["status", "-w", str(scenario.root), "--as-of", "2025-01-31", "--csv"])
    assert res.stdout.startswith("\ufeff")  # UTF-8 with BOM, «;»: Excel in Ukraine opens it as it is
    rows = list(csv.DictReader(io.StringIO(res.stdout.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 46 and rows[0]["Код виконавця"] == "UA-21" and rows[0]["Стан"] == OVERDUE
    assert rows[0]["Відхилено файлів"] == "1" and {r["Із запізненням"] for r in rows} == {"", "так"}
    assert rows[0]["Код стану"] == "overdue"
    data = (scenario.out / "status.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b";" in data.splitlines()[0] and b"\r\n" in data
    import openpyxl

    sheet = openpyxl.load_workbook(scenario.out / "status.xlsx", read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[3][:4] == ["Код виконавця", "Виконавець", "Тип", "Стан"] and len(table) == 4 + 46


def test_status_exit_codes(workspace):
    runner = CliRunner()
    assert runner.invoke(main, ["status", "-w", str(workspace.root), "--as-of", "2025-02-30"]).exit_code == 2
    assert runner.invoke(main, ["status", "-w", str(workspace.root), "-p", "2023"]).exit_code == 2
    assert runner.invoke(main, ["status", "-w", str(workspace.root / "nowhere")]).exit_code == 2
    assert runner.invoke(main, ["status", "-w", str(workspace.root)]).exit_code == 1  # nobody has reported
    cat = workspace.catalogue
    with Ledger(workspace.ledger_path) as ledger:  # everyone reports in time, some with warnings
        for n, code in enumerate(cat.expected_executors(), 1):
            status = ACCEPTED_WARNINGS if n % 5 == 0 else S_ACCEPTED
            ret = Return(f"{code}.xlsx", f"{n:064x}", code, PERIOD, cat.template_version, [], [], "meta")
            ledger.record(ret, status=status, original_name=ret.file, size=1, received_at="2025-01-15T10:00:00+02:00",
                          archive_path=f"archive/{n}.xlsx", fmt="xlsx")
    res = runner.invoke(main, ["status", "-w", str(workspace.root), "--as-of", "2025-02-01"])
    assert res.exit_code == 0, res.output
    assert "Подано без помилок 46 з 46 (з них з попередженнями 9)" in res.output
    assert "--as-of" in runner.invoke(main, ["status", "--help"]).output
    assert "1 — хтось не подав звіт" in runner.invoke(main, ["status", "--help"]).output


# ---------------------------------------------------------------------------------
# the report sheet and the HTML page
# ---------------------------------------------------------------------------------

def test_report_sheet_shows_the_status(scenario):
    cat = scenario.catalogue
    with Ledger(scenario.ledger_path) as ledger:
        rec = reconcile_ledger(cat, ledger, PERIOD)
        rows, _ = status_from_ledger(cat, ledger, PERIOD, AFTER)
    wb = openpyxl.load_workbook(io.BytesIO(build_report(cat, rec, rows)))
    ws = wb[SHEET_STATUS]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Код", "Виконавець", "Тип", "Стан"] and "Примітка" in header
    data = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert len(data) == 46
    for code, state in (("UA-21", OVERDUE), ("MVS", WITH_ERRORS), ("NSSU", WITH_WARNINGS), ("MSP", ACCEPTED)):
        cell = data[code][3]
        assert cell.value == state.label
        assert cell.fill.fgColor.rgb.upper().endswith(STATE_COLOURS[state].lstrip("#").upper())
    assert data["DMS"][5].value == HOSTILE_NAME and data["DMS"][5].data_type == "s"
    assert data["UA-21"][header.index("Відхилено файлів")].value == 1


def test_html_is_self_contained_and_escaped(scenario):
    with Ledger(scenario.ledger_path) as ledger:
        rows, summary = status_from_ledger(scenario.catalogue, ledger, PERIOD, AFTER)
    page = status_html(rows, summary, programme=scenario.catalogue.programme.title)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;document.title=&#x27;зламано&#x27;&lt;/script&gt;" in page
    own = page.replace(html.escape(HOSTILE_NAME), "")
    for ref in ("http:", "https:", "src=", "href=", "@import", "url(", "<link", "<iframe"):
        assert ref not in own  # no external resources
    assert "default-src 'none'" in page
    for state, colour in STATE_COLOURS.items():
        assert colour in page
    assert page.count('<tr class="') == 46
