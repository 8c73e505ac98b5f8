"""Quarterly periods: templates say how a quarter's figure is meant; the year is checked against the quarters."""

from __future__ import annotations

import yaml
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from consolidate import layout as L
from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.workspace import open_workspace

EXECUTOR = "UA-07"


def run(*args, code=(0,)):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in code, res.output
    return res


def _declare(ws, how: dict[str, str]) -> None:
    path = ws.templates_dir / "catalogue.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for t in data["tasks"]:
        for m in t.get("measures", []):
            for i in m.get("indicators", []):
                if i["id"] in how:
                    i["quarterly"] = how[i["id"]]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _send(ws, period: str, figures: dict[str, float]) -> None:
    run("templates", "-w", ws.root, "-p", period, "-e", EXECUTOR)
    cat = open_workspace(ws.root).catalogue
    values = plausible_values(cat, EXECUTOR, 3)
    for key, v in figures.items():
        values["execution"][key] = {"actual": v}
    src = next((ws.out / "templates" / period).glob("*.xlsx"))
    fill_workbook(src, ws.inbox / f"{period}.xlsx", values)
    run("intake", "-w", ws.root, code=(0, 1))


def test_year_against_quarters(workspace):
    cat = workspace.catalogue
    counts = [i.id for m in cat.measures_for(EXECUTOR) for i in cat.indicators_of(m.id) if i.unit == "count"]
    per_q, cumul, wrong = counts[0], counts[1], counts[2]
    _declare(workspace, {per_q: "per_quarter", cumul: "cumulative", wrong: "per_quarter"})
    quarters = {"2024-Q1": (1, 2, 1), "2024-Q2": (2, 5, 1), "2024-Q3": (3, 6, 1), "2024-Q4": (4, 9, 1)}
    for period, (a, b, c) in quarters.items():
        _send(workspace, period, {per_q: a, cumul: b, wrong: c})
    _send(workspace, "2024", {per_q: 10, cumul: 9, wrong: 5})  # 1+2+3+4 = 10; Q4 = 9; 1+1+1+1 = 4 ≠ 5

    q1 = next((workspace.out / "templates" / "2024-Q1").glob("*.xlsx"))
    rows = CalamineWorkbook.from_path(str(q1)).get_sheet_by_name(L.SHEET_EXECUTION).to_python()
    names = {r[0]: r[1] for r in rows if r and r[0]}
    assert names[per_q].endswith("— лише за цей квартал")
    assert names[cumul].endswith("— наростаючим підсумком з початку року")

    res = run("quarters", "-w", workspace.root, "-p", "2024", code=(1,))
    assert wrong in res.output and "не дорівнює сумі чотирьох кварталів (4" in res.output
    assert per_q not in res.output and cumul not in res.output
    import json
    data = json.loads(run("quarters", "-w", workspace.root, "--json", code=(1,)).output)
    assert [m["indicator"] for m in data["mismatches"]] == [wrong]
    assert data["checked"] >= 3
