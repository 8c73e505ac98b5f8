"""docs/architecture.md is true to the code: every module listed, the schema version, every Ledger method."""

from __future__ import annotations

import ast

from consolidate.ledger import SCHEMA_VERSION

from .conftest import ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_and_workflow_is_listed():
    for path in sorted((ROOT / "consolidate").glob("*.py")):
        if path.stem != "__init__":
            assert f"`{path.name}`" in DOC or f"`{path.stem}.py`" in DOC or f"{path.name}`" in DOC, path.name
    for path in sorted((ROOT / "consolidate" / "workflows").glob("*.py")):
        if path.stem != "__init__":
            assert f"| `{path.name}` |" in DOC, path.name


def test_the_schema_version_and_every_ledger_method():
    assert f"Schema\nversion **{SCHEMA_VERSION}**" in DOC or f"version **{SCHEMA_VERSION}**" in DOC
    tree = ast.parse((ROOT / "consolidate" / "ledger.py").read_text(encoding="utf-8"))
    ledger = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Ledger")
    for fn in ledger.body:
        if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_") and fn.name != "close":
            assert f"ledger.{fn.name}(" in DOC, fn.name


def test_the_exit_code_table_is_the_code_s():
    from consolidate.workflows import ExitCode

    for code in ExitCode:
        assert f"| {int(code)} | `{code.name}` |" in DOC
