"""The reads the web console's pages make, as workflows: the same answers the library gives, one function per read.

The review page's outliers are looked for in one pass over every return (review.slot_outliers); they must be
those review.outliers_of finds return by return, and the blocking ones those «review list» reports.
"""

from __future__ import annotations

import json

import pytest

from consolidate.errors import ConsolidateError
from consolidate.ledger import Ledger, change_stamp
from consolidate.outliers import Thresholds
from consolidate.review import APPROVED, outliers_of
from consolidate.workflows.intake import executor_history, files_by_sha, history, intake
from consolidate.workflows.reconcile import adjust, explain, reconcile
from consolidate.workflows.review import accept, confirm, return_for_rework, review_list
from consolidate.workflows.status import journal, ledger_stamp


SLIPPER, LINE = "UA-35", "F.T4.1.LOC.UA-35"  # as in test_outliers.py


@pytest.fixture
def cycle(workspace, sim):
    """Three returns: a slip (hryvnias typed as thousands), one with the seed's own outliers, one without."""
    from .test_outliers import _plain, _send

    ws = workspace
    slipped = _plain(ws, sim, SLIPPER)
    slipped["funding"][LINE]["financed"] *= 1000
    _send(ws, SLIPPER, slipped, "kirovohrad.xlsx")
    _send(ws, "NPU", sim.values["NPU"], "npu.xlsx")
    _send(ws, "MINJUST", _plain(ws, sim, "MINJUST"), "minjust.xlsx")
    stamp = ledger_stamp(ws)
    intake(ws)
    assert ledger_stamp(ws) != stamp  # files recorded: the pages' cache key moved
    return ws, [SLIPPER, "NPU", "MINJUST"]


def test_the_stamp_of_no_ledger(tmp_path):
    assert change_stamp(tmp_path / "ledger.sqlite") == "0" and not (tmp_path / "ledger.sqlite").exists()


def test_review_details_are_the_outliers_of_each_return(cycle):
    ws, chosen = cycle
    accept(ws, ["MINJUST"], operator="Петренко")
    return_for_rework(ws, "NPU", "Перевірте відсотки.", operator="Петренко")
    listed = review_list(ws, details=True)
    assert listed.blocked == review_list(ws).blocked == {SLIPPER: listed.blocked[SLIPPER]}  # what «review list» says
    returned = next(s.latest for s in listed.slots if s.executor == "NPU")
    assert listed.outliers[returned.id]  # a returned return's outliers are shown; they block nothing until resent
    assert next(s.latest.id for s in listed.slots if s.executor == "MINJUST") not in listed.outliers
    assert [s.executor for s in listed.slots] == [s.executor for s in review_list(ws).slots]
    with Ledger(ws.ledger_path) as ledger:
        waiting = [s for s in listed.slots if s.latest is not None]
        assert {s.executor for s in waiting} == set(chosen)
        assert set(listed.findings) == {s.latest.id for s in waiting}
        for s in waiting:
            assert listed.findings[s.latest.id] == ledger.findings(s.latest.id)
            if s.state != APPROVED:
                assert listed.outliers[s.latest.id] == outliers_of(ws.catalogue, ledger, s.latest, Thresholds.of(ws))
    bare = review_list(ws, outliers=False)
    assert bare.blocked == {} and bare.findings == {} and bare.outliers == {}
    assert json.dumps(listed.to_dict(), ensure_ascii=False)


def test_a_confirmed_outlier_stays_on_the_page_and_stops_blocking(cycle):
    ws, _ = cycle
    before = review_list(ws, details=True)
    sub = next(s.latest for s in before.slots if s.executor == SLIPPER)
    refs = [o.ref for o in before.blocked[SLIPPER]]
    assert f"{LINE}/financed" in refs
    confirm(ws, SLIPPER, refs, "Перевірено з виконавцем.", operator="Петренко")
    after = review_list(ws, details=True)
    assert SLIPPER not in after.blocked and "NPU" in after.blocked
    assert [c.outlier.ref for c in after.outliers[sub.id] if c.confirmed] == refs
    assert {c.confirmation.operator for c in after.outliers[sub.id] if c.confirmed} == {"Петренко"}


def test_executor_history_is_history_with_decisions_letters_and_the_slot(cycle):
    ws, chosen = cycle
    code = chosen[2]
    stamp = ledger_stamp(ws)
    assert ledger_stamp(ws) == stamp  # nothing changed: the same key
    accept(ws, [code], operator="Петренко")
    assert ledger_stamp(ws) != stamp  # a decision recorded: the pages' cache key moved
    view = executor_history(ws, code, "2024")
    plain_history = history(ws, code)
    assert view.files == plain_history.files and view.findings == plain_history.findings and view.files
    assert view.slot.executor == code and view.slot.state == APPROVED and view.review_period == "2024"
    assert [r.decision for r in view.reviews] == ["accept"] and view.reviews[0].operator == "Петренко"
    with Ledger(ws.ledger_path) as ledger:
        assert view.mails == ledger.mails(executor=code)
    assert json.loads(json.dumps(view.to_dict(), ensure_ascii=False))["slot"]["executor"] == code
    assert executor_history(ws, ws.catalogue.registry[code].short_name, "2024").executor.code == code
    with pytest.raises(ConsolidateError, match="Невідомий виконавець «NOBODY»"):
        executor_history(ws, "NOBODY", "2024")


def test_files_by_sha_and_the_journal(cycle):
    ws, chosen = cycle
    with Ledger(ws.ledger_path) as ledger:
        files = ledger.files()
        expected = {f.sha256: (f, ledger.file_findings(f.id)) for f in files}
    found = files_by_sha(ws, [*expected, "0" * 64, ""])
    assert {sha: found.of(sha) for sha in expected} == expected
    assert found.of("0" * 64) == (None, []) and found.of("") == (None, [])
    recorded = journal(ws)
    assert recorded.files == files
    assert journal(ws, limit=1).files == files[-1:]


def test_reconciliation_carries_its_adjustments_and_explain_its_bounds(cycle):
    ws, chosen = cycle
    blocked = review_list(ws).blocked
    for code in chosen:
        accept(ws, [code], operator="Петренко", force=True, confirm_refs=[o.ref for o in blocked.get(code, [])],
               reason="Перевірено.")
    rec = reconcile(ws).rec
    item = next(r for r in rec.indicators if r.value is not None and not r.incomplete)
    shown = explain(ws, item.indicator.id)
    assert shown.bounds is not None and shown.bounds[0] <= item.value <= shown.bounds[1]
    adjust(ws, item.indicator.id, shown.bounds[1], "Уточнено.", operator="Петренко")
    done = reconcile(ws)
    assert [(a.item, a.value, a.operator) for a in done.adjustments] == [
        (item.indicator.id, shown.bounds[1], "Петренко")]
    funding = next(f for f in rec.funding)
    assert explain(ws, funding.line.id).bounds is None  # a funding line is not adjusted within bounds
