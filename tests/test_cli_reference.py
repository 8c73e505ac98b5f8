"""docs/cli.md is every command's --help as the code prints it (regenerate: python tools/cli_reference.py)."""

from __future__ import annotations

import importlib.util

from .conftest import ROOT


def _tool():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_not_stale():
    tool = _tool()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == tool.render(), \
        "docs/cli.md is stale: run python tools/cli_reference.py"


def test_the_reference_covers_every_command():
    tool = _tool()
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    paths = [p for p in tool.commands(tool.main) if p]
    assert len(paths) > 25
    for path in paths:
        assert f"## `consolidate {' '.join(path)}`" in text, path
