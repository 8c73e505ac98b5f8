"""Modules a newcomer can hold (issue 15 item 4): no import cycle through the report, one file helper, no dead code."""

from __future__ import annotations

import ast

from .conftest import ROOT

PACKAGE = ROOT / "consolidate"


def _graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (at the top or inside functions)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps
    return graph


def _reaches(graph, start: str, goal: str) -> list[str] | None:
    todo, seen = [[start]], {start}
    while todo:
        path = todo.pop()
        for dep in sorted(graph.get(path[-1], ())):
            if dep == goal:
                return path + [dep]
            if dep not in seen and dep in graph:
                seen.add(dep)
                todo.append(path + [dep])
    return None


def test_the_report_does_not_reach_back_through_review_and_mail():
    """reconcile → review → mail → report → reconcile was a cycle: letters need no report."""
    graph = _graph()
    for module in ("mail", "review"):
        path = _reaches(graph, module, "report")
        assert path is None, " → ".join(path)


def test_modules_use_no_private_name_of_another_module():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module in ("template", "report"):
                wrong += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not wrong, wrong


def test_one_atomic_writer_for_whole_files():
    """Reports, status files and letters are written by fileutil.atomic_write, not by helpers of their own."""
    for name in ("report.py", "mail.py", "statusfiles.py", "report_docx.py", "inbox.py", "mailbox.py"):
        text = (PACKAGE / name).read_text(encoding="utf-8")
        assert "os.replace(" not in text and ".fsync(" not in text, name


def test_dead_helpers_are_gone():
    from consolidate import layout, template

    assert not hasattr(layout, "column_index") and not hasattr(template, "cell_ref")
    assert hasattr(template, "read_manifest")  # public: mail.py and the web read the manifest through it


def test_one_lock_implementation():
    """fcntl/msvcrt appear only in fileutil.Lock (intake and the mailbox use it)."""
    users = [p.name for p in PACKAGE.rglob("*.py") if p.name != "fileutil.py"
             and ("fcntl" in p.read_text(encoding="utf-8") or "msvcrt" in p.read_text(encoding="utf-8"))]
    assert not users, users
