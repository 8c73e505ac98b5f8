"""The history benchmark runs (tiny), so that it cannot rot; its figures are in docs/performance.md."""

from __future__ import annotations

import json
import sys

from .conftest import ROOT


def test_history_bench_runs(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from history_bench import main
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "bench.json"
    summary = main(["--executors", "20", "--years", "2", "--repeat", "1", "--work", str(tmp_path / "w"),
                    "--json", str(out)])
    assert json.loads(out.read_text(encoding="utf-8")) == summary
    assert summary["returns_single"] == summary["expected_executors"]
    assert summary["returns_history"] == summary["expected_executors"] * 8
    assert summary["ledger_bytes"]["history"] > summary["ledger_bytes"]["single"] > 0
    assert set(summary["stages"]) == {"status", "reconcile", "report"}
