"""The intake benchmark still runs (with a handful of files; the real measurement is 200 files, by hand)."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow  # scale


def test_benchmark_runs_and_prints_the_ratio(capsys):
    spec = importlib.util.spec_from_file_location("intake_bench", ROOT / "benchmarks" / "intake_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ratio = bench.main(["-n", "4", "-r", "1"])
    out = capsys.readouterr().out
    assert ratio > 0
    assert "files: 4" in out and "ratio intake / calamine-only (best of 1):" in out
