"""Catalogue and registry lookups stay linear at national scale and answer as the plain scans did."""

from __future__ import annotations

import time

import pytest

from consolidate.catalogue import GROUPS, build_catalogue
from consolidate.registry import Executor, Registry

from .conftest import ROOT


def _bundled():
    from consolidate.catalogue import load_catalogue

    return load_catalogue(ROOT / "templates")


def _scan_expand(cat, codes):
    out = []
    for code in codes:
        members = [e.code for e in cat.registry if e.kind in GROUPS[code][1]] if code in GROUPS else [code]
        for m in members:
            if m not in out:
                out.append(m)
    return out


def test_memoised_lookups_equal_the_plain_scans():
    cat = _bundled()
    for m in cat.measures:
        assert cat.executors_of(m.id) == _scan_expand(cat, m.executors)
        assert cat.indicators_of(m.id) == [i for i in cat.indicators if i.measure_id == m.id]
        assert cat.funding_of(m.id) == [f for f in cat.funding if f.measure_id == m.id]
    for t in cat.tasks:
        assert cat.measures_of_task(t.id) == [m for m in cat.measures if m.task_id == t.id]
    for e in [*cat.registry, Executor("NOBODY", "x", "x", "central")]:
        assert cat.measures_for(e.code) == [m for m in cat.measures if e.code in _scan_expand(cat, m.executors)]
        assert cat.funding_for(e.code) == [f for f in cat.funding if f.holder == e.code]
    assert cat.expand(["REGIONS", "MSP", "UA-07", "OTHER_CEA"]) == _scan_expand(cat, ["REGIONS", "MSP", "UA-07",
                                                                                      "OTHER_CEA"])
    assert cat.indicators_of("T99.1") == [] and cat.funding_for("NOBODY") == []


def test_lookups_return_fresh_lists():
    cat = _bundled()
    mid = cat.measures[0].id
    cat.executors_of(mid).append("X")
    cat.indicators_of(mid).clear()
    cat.measures_for("MSP").clear()
    assert "X" not in cat.executors_of(mid)
    assert cat.indicators_of(mid) and cat.measures_for("MSP")


def test_find_by_name_keeps_the_first_executor_in_registry_order():
    reg = Registry([Executor("A", "Громада", "Перша громада", "hromada", aliases=("Спільна назва",)),
                    Executor("B", "Інша", "Друга громада", "hromada", aliases=("спільна  НАЗВА",))])
    assert reg.find_by_name("  спільна назва ").code == "A"
    assert reg.find_by_name("друга громада").code == "B"
    assert reg.find_by_name("Третя") is None


def test_thousands_of_hromadas_in_a_group_stay_fast():
    n = 3000
    reg = Registry([Executor("MSP", "Мінсоцполітики", "Міністерство", "central")]
                   + [Executor(f"H{i:04d}", f"Громада {i}", f"Територіальна громада {i}", "hromada") for i in range(n)])
    measures = [{"id": f"T1.{k}", "number": k, "text": "захід", "executors": ["MSP", "HROMADAS"],
                 "indicators": [{"id": f"T1.{k}.1", "name": "кількість", "unit": "count", "rule": "sum"}],
                 "funding": [{"id": f"F.T1.{k}.LOC.H{i:04d}", "holder": f"H{i:04d}", "source": "local"}
                             for i in range(n)]}
                for k in range(1, 6)]
    data = {"programme": {"code": "X", "title": "X", "act": "X", "customer": "X", "term": "X", "report_year": 2024,
                          "deadline": "2025-01-20", "version": "1"},
            "tasks": [{"id": "T1", "number": 1, "name": "Завдання", "measures": measures}]}
    cat = build_catalogue(data, reg)
    start = time.perf_counter()
    for e in reg:
        assert len(cat.measures_for(e.code)) == 5
        assert len(cat.funding_for(e.code)) == (5 if e.kind == "hromada" else 0)
        assert reg.find_by_name(e.full_name) is e
    assert len(cat.expected_executors()) == n + 1
    assert time.perf_counter() - start < 10  # the scans took minutes (quadratic in executors)


def test_template_formulas_prepared_once_give_xlsxwriter_own_bytes(monkeypatch):
    from consolidate import template, xlsx_fast

    if xlsx_fast._FAST is None:
        pytest.skip(f"no fast path on xlsxwriter {xlsx_fast.XLSXWRITER_VERSION}")
    monkeypatch.delenv(xlsx_fast.PUBLIC_API_ENV, raising=False)
    cat = _bundled()
    prepared = xlsx_fast._FAST["TemplateSheet"]._prepared
    prepared.clear()
    memoised = [template.build_workbook(cat, code, "2024", "pw") for code in ("MSP", "UA-07")]
    assert prepared  # the self-check formulas and conditional-format criteria
    again = [template.build_workbook(cat, code, "2024", "pw") for code in ("MSP", "UA-07")]
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "1")  # xlsxwriter's own worksheets
    plain = [template.build_workbook(cat, code, "2024", "pw") for code in ("MSP", "UA-07")]
    assert memoised == again == plain
