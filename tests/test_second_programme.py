"""A second, different programme through the whole cycle: catalogue workbook → templates → filled returns →
intake → reconcile → report (xlsx and docx); quarterly periods and the year checked against the quarters."""

from __future__ import annotations

import pytest

import io
import json

import docx
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate.catalogue_book import export_book
from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.workspace import open_workspace

from .second_programme import YEAR, catalogue


def run(*args, code=(0,)):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in code, res.output
    return res


# Each executor's count for Z1.1.1 (reported per quarter) and Z1.2.1 (cumulative), by quarter.
Z111 = {"Q1": 1, "Q2": 2, "Q3": 3, "Q4": 4}
Z121 = {"Q1": 10, "Q2": 25, "Q3": 40, "Q4": 60}


def answers(cat, executor: str, period: str, n: int) -> dict:
    values = plausible_values(cat, executor, n)
    quarter = period.split("-")[1] if "-" in period else None
    ex = values["execution"]
    if "Z1.1.1" in ex:
        ex["Z1.1.1"] = {"actual": Z111[quarter] if quarter else sum(Z111.values())}
    if "Z1.2.1" in ex:
        ex["Z1.2.1"] = {"actual": Z121[quarter] if quarter else Z121["Q4"]}
    if "Z2.1.1" in ex:
        ex["Z2.1.1"] = {"actual": 80, "numerator": 8, "denominator": 10}
    return values


def cycle(ws, period: str) -> None:
    run("templates", "-w", ws.root, "-p", period)
    cat = open_workspace(ws.root).catalogue_for(period)
    folder = ws.out / "templates" / period
    for n, code in enumerate(cat.expected_executors()):
        src = next(folder.glob(f"*({code}).xlsx"))
        fill_workbook(src, ws.inbox / f"{code}-{period}.xlsx", answers(cat, code, period, n))
    run("intake", "-w", ws.root, "-p", period)  # exit 0: every return accepted, none with errors
    run("review", "accept", *cat.expected_executors(), "-w", ws.root, "-p", period, "--force")


@pytest.mark.slow   # a whole cycle: in CI's run, not in the fast one
def test_regional_programme_full_cycle(tmp_path):
    cat = catalogue()
    book = tmp_path / "програма.xlsx"
    book.write_bytes(export_book(cat))
    ws_dir = tmp_path / "ws"
    run("init", ws_dir, "--from", book)
    ws = open_workspace(ws_dir)
    assert ws.catalogue.digest == cat.digest
    assert ws.catalogue.programme.report_year == YEAR

    for q in ("Q1", "Q2", "Q3", "Q4"):
        cycle(ws, f"{YEAR}-{q}")
    cycle(ws, str(YEAR))

    # the templates: a hromada's own plan, the programme-level plan labelled, the quarter's meaning
    from .test_executor_plans import planned_cell
    q1 = ws.out / "templates" / f"{YEAR}-Q1"
    assert planned_cell(next(q1.glob("*(H01).xlsx")), "Z1.1.1") == 8
    assert planned_cell(next(q1.glob("*(H03).xlsx")), "Z1.1.1") == "40 (план на програму загалом)"
    from consolidate import layout as L
    rows = CalamineWorkbook.from_path(str(next(q1.glob("*(DON).xlsx")))).get_sheet_by_name(L.SHEET_EXECUTION)
    items = {r[0]: r[1] for r in rows.to_python() if r and r[0]}
    assert items["Z1.2.1"].endswith("наростаючим підсумком з початку року")

    # reconcile: the sum over the measure's executors, the lead's figure, the percent recomputed, the max
    def figures(period):
        rec = json.loads(run("reconcile", "-w", ws.root, "-p", period, "--json", code=(0, 1)).output)
        return {i["id"]: i["value"] for i in rec["indicators"]}, rec
    q2, rec = figures(f"{YEAR}-Q2")
    assert q2["Z1.1.1"] == 6 * Z111["Q2"]          # DSZN and five hromadas, each their own part
    assert q2["Z1.2.1"] == Z121["Q2"]               # the lead's figure (DON), not DON + SSD
    assert q2["Z2.1.1"] == 80                       # 6 × 8 of 6 × 10
    assert not [s for s in rec["subtotals"] if s["kind"].startswith("state") and s["programme_amount"]]
    year, _ = figures(str(YEAR))
    assert year["Z1.1.1"] == 6 * sum(Z111.values()) and year["Z1.2.1"] == Z121["Q4"]

    # report of a quarter and of the year, xlsx and docx
    for period in (f"{YEAR}-Q2", str(YEAR)):
        out = tmp_path / f"report-{period}.xlsx"
        run("report", "-w", ws.root, "-p", period, "--format", "all", "--out", out)
        wb = CalamineWorkbook.from_path(str(out))
        cells = [str(c) for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python() for c in row]
        joined = "\n".join(cells)
        assert "Регіональної цільової програми запобігання домашньому насильству" in joined
        assert "Громада Північна" in joined or "Північна" in joined
        assert "496-р" not in joined and "Мінсоцполітики" not in joined  # (a sha256 may hold the digits)
        document = docx.Document(io.BytesIO(out.with_suffix(".docx").read_bytes()))
        body = "\n".join(p.text for p in document.paragraphs)
        tables = "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
        assert "домашньому насильству" in body + tables
        assert "496-р" not in body + tables and "Мінсоцполітики" not in body + tables

    # the year against the quarters: per quarter 1+2+3+4 = 10, cumulative Q4 = 60: no mismatch
    res = run("quarters", "-w", ws.root, "-p", str(YEAR), "--json")
    data = json.loads(res.output)
    assert data["mismatches"] == [] and data["checked"] >= 6


def test_init_from_an_invalid_workbook_creates_nothing(tmp_path):
    import openpyxl

    book = tmp_path / "програма.xlsx"
    book.write_bytes(export_book(catalogue()))
    wb = openpyxl.load_workbook(book)
    wb["Показники"]["E2"] = "сорок"
    wb.save(book)
    res = run("init", tmp_path / "ws", "--from", book, code=(2,))
    assert "аркуш «Показники», клітинка E2" in res.output and "Робочу теку не створено" in res.output
    assert not (tmp_path / "ws").exists()


def _declare(ws, indicator: str, how: str) -> None:
    import yaml

    path = ws.templates_dir / "catalogue.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = [i for t in data["tasks"] for m in t["measures"] for i in m.get("indicators", []) if i["id"] == indicator]
    assert len(found) == 1
    found[0]["quarterly"] = how
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_year_against_its_quarters_is_a_finding_of_the_reconciliation(tmp_path):
    """DON reports Z1.2.1 (declared cumulative) as 10, 25, 40, 60 by quarter and 60 for the year: no finding.  Declared
    per quarter, the same returns disagree (10 + 25 + 40 + 60 = 135 ≠ 60): a «quarter-mismatch» on every «Звірка» —
    `reconcile` (text and JSON), the report's sheet, the web page."""
    from consolidate.vocabulary import ConflictKind

    from .web_util import Server, request, token_session

    book = tmp_path / "програма.xlsx"
    book.write_bytes(export_book(catalogue()))
    run("init", tmp_path / "ws", "--from", book)
    ws = open_workspace(tmp_path / "ws")
    for period in [f"{YEAR}-{q}" for q in Z121] + [str(YEAR)]:
        run("templates", "-w", ws.root, "-p", period, "-e", "DON")
        src = next((ws.out / "templates" / period).glob("*(DON).xlsx"))
        fill_workbook(src, ws.inbox / f"DON-{period}.xlsx", answers(ws.catalogue, "DON", period, 1))
        run("intake", "-w", ws.root, "-p", period)
        run("review", "accept", "DON", "-w", ws.root, "-p", period, "--force")
    label = ConflictKind.QUARTER_MISMATCH.label
    expected = "не дорівнює сумі чотирьох кварталів (135"

    found_errors: list[bool] = []   # whether each reconciliation had errors: `reconcile` exits 1 then, else 0

    def zvirka() -> dict[str, list[str]]:
        """What each front shows of the quarters' check: the lines naming the kind or the mismatch."""
        data = json.loads(run("reconcile", "-w", ws.root, "-p", YEAR, "--json", code=(0, 1)).output)
        found_errors.append(any(c["severity"] == "error" for c in data["conflicts"]))
        found = {"json": [f"{c['item']} {c['executors']} {c['severity']} {c['values']}: {c['message']}"
                          for c in data["conflicts"] if c["kind"] == "quarter-mismatch"]}
        text = run("reconcile", "-w", ws.root, "-p", YEAR, code=(int(found_errors[-1]),)).output  # 1: errors
        found["text"] = [line for line in text.splitlines() if label in line or expected in line]
        out = tmp_path / "звіт.xlsx"
        run("report", "-w", ws.root, "-p", YEAR, "--out", out)
        sheet = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Звірка").to_python()
        found["report"] = [" | ".join(str(c) for c in row) for row in sheet if row[-1] == "quarter-mismatch"]
        server = Server(ws.root)
        try:
            status, _, body = request(server, "GET", f"/reconcile?period={YEAR}", cookie=token_session(server))
        finally:
            server.stop()
        assert status == 200
        import html
        page = html.unescape(body.decode())
        found["web"] = [row for row in page.split("<tr>") if label in row or expected in row]
        return found

    assert zvirka() == {"json": [], "text": [], "report": [], "web": []}   # the declaration matches the returns

    _declare(ws, "Z1.2.1", "per_quarter")
    found = zvirka()
    assert found_errors == [False, True]               # reconcile exited 0 while clean, 1 with the mismatch (an error)
    assert found["json"] == [f"Z1.2.1 ['DON'] error 60 / 135: Департамент освіти, показник Z1.2.1 (окремо за кожен "
                             f"квартал): річне значення 60 не дорівнює сумі чотирьох кварталів (135; Q1: 10, Q2: 25, "
                             f"Q3: 40, Q4: 60)"]
    assert len(found["text"]) == 2                     # the count by kind, and the finding itself (an error)
    assert f"{label}: 1" in found["text"][0] and expected in found["text"][1] and "Z1.2.1" in found["text"][1]
    assert len(found["report"]) == 1 and expected in found["report"][0] and label in found["report"][0]
    assert "помилка" in found["report"][0] and "Департамент освіти" in found["report"][0]
    assert len(found["web"]) == 1 and expected in found["web"][0] and label in found["web"][0]
    # the quarters command says the same
    assert expected in run("quarters", "-w", ws.root, "-p", YEAR, code=(1,)).output
