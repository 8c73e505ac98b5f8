"""Nothing outside the bundled data and the demo assumes the bundled programme (496-р), its customer (MSP,
Мінсоцполітики), the 24 oblasts or its years: a scan of every string and number in the package's code.

Docstrings and comments are developer documentation and are not scanned; everything else is — the texts
users read, defaults, codes, and numbers that could be a year.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from consolidate.registry import load_registry

from .conftest import ROOT

PACKAGE = ROOT / "consolidate"
# The demo (it replays the bundled 2024 report) and the reading of that report.
DEMO = {"demo.py", "seed.py", "simulate.py"}
# Literals kept on purpose, each with the reason.
ALLOWED = {
    # The tag that marks a workbook as made by consolidate (meta sheet, custom properties).  It is the same for
    # every programme (the programme's own code is checked separately); changing it would make every template
    # already sent unreadable.
    ("layout.py", "consolidate-496"),
}
YEARS = range(2023, 2026)  # the bundled programme's years (its act, its report, its term)


def forbidden() -> list[re.Pattern]:
    registry = load_registry(ROOT / "templates" / "executors.csv")
    oblasts = [e for e in registry if e.kind == "oblast"]
    assert len(oblasts) == 24
    patterns = [r"496", r"\bMSP\b", r"Мінсоцполіт", r"соціальної політики"]
    for e in oblasts:
        stem = e.short_name.split()[0][:-2]  # «Волинська ОВА» → «Волинсь»: every case of the adjective
        patterns += [re.escape(e.short_name), rf"{re.escape(stem)}\w*\s+(обл|ОВА|ОДА)", re.escape(e.full_name), e.code]
    patterns += [rf"\b{y}\b" for y in YEARS]
    return [re.compile(p) for p in patterns]


def literals(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docstrings:
            if isinstance(node.value, str):
                yield node.lineno, node.value
            elif isinstance(node.value, int) and not isinstance(node.value, bool) and node.value in YEARS:
                yield node.lineno, str(node.value)


def test_the_scan_finds_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstring about 496-р is fine."""\nX = "звіт Мінсоцполітики"\nY = 2024\n'
                      'Z = "Закарпатській області"\nW = "UA-21"\n', encoding="utf-8")
    pats = forbidden()
    found = [(n, v) for n, v in literals(sample) if any(p.search(v) for p in pats)]
    assert [n for n, _ in found] == [2, 3, 4, 5]


def test_no_bundled_programme_literals_in_the_package():
    pats = forbidden()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in DEMO and rel.parent == Path("."):
            continue
        for lineno, value in literals(path):
            if (rel.name, value) in ALLOWED:
                continue
            hits = [p.pattern for p in pats if p.search(value)]
            if hits:
                found.append(f"{rel}:{lineno}: {value[:80]!r} ({', '.join(hits[:3])})")
    assert not found, "\n".join(found)
