"""The web console's pages read and write through the workflows, as cli.py does (tests/test_cli_structure.py).

The structural check, over every module of consolidate/web/: nothing imported from consolidate.ledger, no
``Ledger`` named (so none opened), no ``ledger_path`` taken (so no sqlite3 connection to the ledger either —
the cheap change stamp the pages poll is ``workflows.status.ledger_stamp``), and from the modules that hold
the operations only the names in ALLOWED: labels and vocabulary to render, the front's own helpers.
"""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT
from .test_cli_structure import OPERATIONS

WEB = ROOT / "consolidate" / "web"
MODULES = sorted(WEB.glob("*.py"))
# What the web may take from the operation modules: labels and codes to render, the request's workspace,
# the status files refreshed after a change (every front does), the [smtp] settings read for a letter.
ALLOWED = {("status", "STATE_KEYS"), ("status", "STATES"), ("inbox", "OUTCOME_LABELS"), ("review", "SLOT_STATES"),
           ("review", "APPROVED"), ("workspace", "Workspace"), ("workspace", "open_workspace"),
           ("statusfiles", "refreshes_status"), ("statusfiles", "after_change"), ("mailbox", "smtp_from_workspace")}


def _library_imports(path):
    """(line, module inside consolidate, name) of every import in a module of consolidate/web/."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 2 and node.module:  # from ..ledger import Ledger
                module = node.module
            elif node.level == 0 and node.module and node.module.startswith("consolidate."):
                module = node.module.removeprefix("consolidate.")
            elif node.level >= 2:  # from .. import ledger
                for alias in node.names:
                    yield node.lineno, alias.name, "*"
                continue
            else:
                continue
            for alias in node.names:
                yield node.lineno, module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("consolidate."):
                    yield node.lineno, alias.name.removeprefix("consolidate."), "*"


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_the_web_never_opens_the_ledger(path):
    wrong = [f"web/{path.name}:{line}: {module}.{name}" for line, module, name in _library_imports(path)
             if module.split(".")[0] == "ledger"]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong += [f"web/{path.name}:{n.lineno}: {ast.unparse(n)}" for n in ast.walk(tree)
              if isinstance(n, ast.Name) and n.id == "Ledger"
              or isinstance(n, ast.Attribute) and n.attr in ("Ledger", "ledger_path")]
    assert not wrong, "the web reads the ledger through consolidate/workflows/:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_the_web_takes_no_operation_from_the_library(path):
    wrong = [f"web/{path.name}:{line}: from {module} import {name}" for line, module, name in _library_imports(path)
             if module.split(".")[0] in OPERATIONS and (module, name) not in ALLOWED]
    assert not wrong, "operations (reads too) belong in consolidate/workflows/:\n" + "\n".join(wrong)


def test_the_check_sees_a_direct_read(tmp_path):
    """The checks above catch each way a page could read the ledger itself."""
    for source in ("from ..ledger import Ledger\n", "from ...ledger import change_stamp\n",
                   "from consolidate.ledger import Ledger\n", "import consolidate.ledger\n", "from .. import ledger\n",
                   "def f(ws):\n    return sqlite3.connect(ws.ledger_path)\n",
                   "def f(ws, m):\n    with m.Ledger(ws.root) as led:\n        return led.files()\n"):
        path = tmp_path / "page.py"
        path.write_text(source, encoding="utf-8")
        with pytest.raises(AssertionError):
            test_the_web_never_opens_the_ledger(path)
    path.write_text("def f(ws):\n    from ..review import slots_from_ledger\n", encoding="utf-8")
    with pytest.raises(AssertionError):
        test_the_web_takes_no_operation_from_the_library(path)
