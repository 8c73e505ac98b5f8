"""Findings in sight: intake prints each file's findings by kind with sheet and cell; history and findings list all."""

from __future__ import annotations

import json

from click.testing import CliRunner

from consolidate.cli import INTAKE_SHOWN_PER_KIND, main
from consolidate.wording import grouped_findings

from .intake_util import EXECUTION_ROWS, complete, filled, merged


def into_inbox(ws, name, values):
    """A filled return in inbox/ (the blank template it was filled from stays outside)."""
    (ws.root / "made").mkdir(exist_ok=True)
    made = filled(ws.catalogue, ws.root / "made", name, values)
    return made.rename(ws.inbox / name)


def _run(*args):
    return CliRunner().invoke(main, list(args), prog_name="consolidate")


def _bad_return():
    """MINJUST with four negative counts (one kind, more than shown) and an empty narrative."""
    changes = {"execution": {k: {"actual": -1} for k in ("T2.2.1", "T3.7.1", "T4.2.1", "T6.10.1")}}
    changes["execution"]["T2.2"] = {"narrative": None}
    return merged(complete(), changes)


def test_intake_prints_findings_by_kind_with_sheet_and_cell(workspace):
    ws = workspace
    into_inbox(ws, "Мін'юст.xlsx", _bad_return())
    res = _run("intake", "-w", str(ws.root))
    assert res.exit_code == 1, res.output
    out = res.output
    assert "помилка · від’ємне значення — 4:" in out
    e7 = f"«II. Виконання» E{EXECUTION_ROWS['T2.2.1']}: "
    assert e7 in out
    negatives = [line for line in out.splitlines() if "від’ємн" in line.lower() and "«II. Виконання» E" in line]
    assert len(negatives) == INTAKE_SHOWN_PER_KIND
    assert "… і ще 1" in out and "(усі зауваження: consolidate findings MINJUST)" in out
    assert f"«II. Виконання» I{EXECUTION_ROWS['T2.2']}: " in out          # the other kind, with its cell
    assert out.index("від’ємне значення") < out.index("порожня обов’язкова клітинка")   # errors first

    full = _run("findings", "MINJUST", "-w", str(ws.root))
    assert full.exit_code == 1                                                   # the return has errors
    assert len([line for line in full.output.splitlines() if "«II. Виконання» E" in line and "від’ємн" in
                line.lower()]) == 4 and "… і ще" not in full.output
    data = json.loads(_run("findings", "MINJUST", "--json", "-w", str(ws.root)).output)
    assert {f["code"] for f in data["findings"]} >= {"negative", "missing-value"}
    assert all(f["cell"] for f in data["findings"] if f["code"] == "negative")

    history = _run("history", "MINJUST", "-w", str(ws.root)).output
    assert history.count("«II. Виконання» E") == 4 and "від’ємне значення — 4" in history


def test_grouped_findings_shows_all_when_asked():
    from consolidate.model import ERROR, WARNING, Finding

    items = [Finding("f.xlsx", WARNING, "missing-value", "Не заповнено.", "II. Виконання", f"I{n}") for n in range(5)]
    items.append(Finding("f.xlsx", ERROR, "negative", "Від’ємне.", "I. Фінансування", "G5", found="-1"))
    lines = grouped_findings(items, 2, indent="")
    assert lines[0] == "помилка · від’ємне значення — 1:" and lines[1] == "  «I. Фінансування» G5: Від’ємне. (знайдено: «-1»)"
    assert lines[2] == "попередження · порожня обов’язкова клітинка — 5:" and lines[-1] == "  … і ще 3"
    assert len(grouped_findings(items, None, indent="")) == 2 + 6
