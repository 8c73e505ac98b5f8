"""The national-scale benchmark still runs end to end (with 20 executors; the real runs are 300 and 1,500, by hand).

No timing is asserted: the test keeps the script from rotting (every stage, the table, the JSON).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow  # scale

STAGES = ("templates", "templates-floor", "intake", "intake-floor", "intake-naive", "reconcile", "report")


def test_benchmark_prints_the_table_and_writes_the_json(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "national_scale.py"), "--executors", "20",
                          "--repeat", "1", "--json", str(out), "--work", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout
    for header in ("етап", "секунд", "файлів/с", "до підлоги", "до наївного", "пік RSS, МБ"):
        assert header in text
    for label in ("шаблони (write_templates)", "підлога: xlsxwriter", "прийом (run_intake)", "підлога: python-calamine",
                  "наївно: pandas + openpyxl", "звірка", "звіт"):
        assert label in text
    assert "прийом / підлога calamine:" in text and "пік RSS прийому і звіту" in text

    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["executors"] == 20
    assert data["composition"]["hromada"] > 0
    assert data["per_hromada"] == {"measures": 5, "indicators": 20, "funding_lines": 5}
    stages = {s["stage"]: s for s in data["stages"]}
    assert tuple(stages) == STAGES
    for s in stages.values():
        assert s["files"] == 20 and s["seconds"] > 0 and s["peak_rss_mb"] > 0
    assert stages["templates"]["ratio_to_floor"] > 0 and stages["intake"]["ratio_to_naive"] > 0
    assert stages["intake"]["states"]["accepted"] + stages["intake"]["states"]["warnings"] == 20
    assert set(data["targets"]) == {"intake_vs_floor", "naive_vs_intake", "templates_vs_floor",
                                    "reconcile_report_vs_intake", "peak_rss_mb"}
    assert all(isinstance(t["met"], bool) for t in data["targets"].values())
