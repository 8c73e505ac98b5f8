"""One vocabulary (issue 18 item 3): every state's label comes from the one table in consolidate.vocabulary."""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

from consolidate.ledger import Ledger
from consolidate.model import Finding, Return
from consolidate.vocabulary import (LABELS, TERMS, WORDS, ConflictKind, Decision, FileStatus, ReportingState, Severity,
                                    SlotState)
from consolidate.workflows import plain

from .conftest import ROOT

PACKAGE = ROOT / "consolidate"
STATE_KINDS = (FileStatus, ReportingState, SlotState, Decision)
# Words that used to name two things at once, or that a state was spelt with before the one table.
RETIRED = ("подано, з помилками", "прийнято з попередженнями", "отримано повторно", "прийнято з помилками")


def test_every_term_has_one_label_and_labels_differ_within_a_kind():
    for kind in TERMS:
        labels = [m.label for m in kind]
        assert all(labels), kind
        assert len(set(labels)) == len(labels), kind
    assert len(WORDS) == len({(type(t), t.value) for t, _ in WORDS})  # no term listed twice
    # «прийнято» names nothing: not "passed the checks", not "approved"
    assert not [t for t, text in WORDS if "прийнято" in text]
    assert Decision.ACCEPT.label == SlotState.APPROVED.label and Decision.RETURN.label == SlotState.RETURNED.label


def test_terms_of_different_kinds_sharing_a_code_keep_their_own_labels():
    assert FileStatus.CLEAN.value == ReportingState.CLEAN.value
    assert FileStatus.CLEAN.label != ReportingState.CLEAN.label
    assert LABELS[FileStatus.ERRORS] == "з помилками" and LABELS[ReportingState.ERRORS] == "подано з помилками"


def test_a_term_is_its_code_in_data_and_its_label_in_text():
    assert Severity.ERROR == "error" and json.dumps(Severity.ERROR) == '"error"'
    assert f"[{Severity.ERROR}]" == "[помилка]" and str(SlotState.APPROVED) == "затверджено"
    assert f"{ReportingState.OVERDUE:<14}|" == "прострочено   |"
    assert plain(SlotState.RETURNED) == {"code": "returned", "label": "повернуто на доопрацювання"}
    assert ConflictKind("double-count").label == "ймовірне подвійне врахування"
    f = Finding("a.xlsx", "помилка", "negative", "…")  # the old word, as an old ledger holds it
    assert f.severity is Severity.ERROR
    assert f.to_dict()["severity"] == "error" and f.to_dict()["severity_label"] == "помилка"


def _string_constants(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_module_spells_a_state_label_itself():
    """A label written out anywhere but the table is a second vocabulary waiting to drift."""
    labels = {m.label for kind in STATE_KINDS for m in kind}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        for line, text in _string_constants(path):
            if text in labels or any(word in text for word in RETIRED):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}")
    assert not found, "labels outside consolidate/vocabulary.py:\n" + "\n".join(found)


def test_the_glossary_lists_every_code_and_label():
    text = (ROOT / "docs" / "vocabulary.md").read_text(encoding="utf-8")
    for kind in STATE_KINDS + (Severity,):
        for m in kind:
            assert f"`{m.value}`" in text and m.label in text, (kind.__name__, m)


def test_an_old_ledger_s_severity_words_become_codes(tmp_path):
    path = tmp_path / "l.sqlite"
    ret = Return(file="r.xlsx", sha256="ab" * 32, executor="MINJUST", period="2024", template_version="v",
                 findings=[Finding("r.xlsx", Severity.ERROR, "negative", "…"), Finding("r.xlsx", "warning", "w", "…")])
    with Ledger(path) as ledger:
        receipt = ledger.record(ret, status=FileStatus.ERRORS, original_name="r.xlsx", size=1,
                                received_at="2025-01-10T10:00:00", archive_path="archive/x.xlsx", fmt="xlsx")
    db = sqlite3.connect(path)  # as a ledger written before the codes: Ukrainian words, version 8
    db.execute("UPDATE findings SET severity = CASE severity WHEN 'error' THEN 'помилка' ELSE 'попередження' END")
    db.execute("PRAGMA user_version = 8")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        got = ledger.file_findings(receipt.file.id)
        stored = {r[0] for r in ledger.db.execute("SELECT severity FROM findings")}
    assert [f.severity for f in got] == [Severity.ERROR, Severity.WARNING] and stored == {"error", "warning"}


def test_every_conflict_kind_reconciliation_makes_is_a_term():
    from consolidate.outliers import OUTLIER_CODES
    from consolidate.reconcile import Conflict

    tree = ast.parse((PACKAGE / "reconcile.py").read_text(encoding="utf-8"))
    kinds = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Conflict"
             and n.args and isinstance(n.args[0], ast.Constant)}
    assert kinds and kinds | set(OUTLIER_CODES) <= {k.value for k in ConflictKind}
    c = Conflict("double-count", Severity.ERROR, "T2.6.1", "…")
    assert c.kind is ConflictKind.DOUBLE_COUNT and c.kind == "double-count" and str(c.kind) == c.kind.label
