"""cli.py only parses options, calls one workflow and renders its result (issue 15 item 1).

The structural check: cli.py imports nothing from the modules that hold the operations (ledger,
reconciliation, report, intake, review, mail delivery …) — those are the workflows' business — and
never opens the ledger.  Renderers and option parsers it may use are named in ALLOWED.
"""

from __future__ import annotations

import ast

from .conftest import ROOT

CLI = ROOT / "consolidate" / "cli.py"
DEMO = ROOT / "consolidate" / "demo.py"
OPERATIONS = {"ledger", "reconcile", "report", "report_docx", "inbox", "preview", "review", "outliers", "template",
              "history", "mail", "status", "verify", "statusfiles", "catalogue_book", "mailbox", "quarantine",
              "workspace"}
# What cli.py may take from those modules: display helpers and option parsing, no operation.
ALLOWED = {("status", "format_time"), *(("mailbox", state) for state in ("PASSED", "NOTED", "FAILED", "SKIPPED")), ("verify", "report_lines"), ("mail", "PASSWORD_ENV"), ("mail", "smtp_settings"),
           ("statusfiles", "after_change"), ("workspace", "Workspace"), ("workspace", "open_workspace"),
           ("mailbox", "PASSWORD_ENV"), ("mailbox", "reply_label")}
# Commands that manage the web console itself (its server, its accounts), not a reporting operation.
FRONT_COMMANDS = {"serve_cmd", "users_add", "users_remove", "users_list"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def test_cli_takes_no_operation_from_the_library():
    wrong = [f"cli.py:{line}: from .{module} import {name}" for line, module, name in _imports(CLI)
             if module.split(".")[0] in OPERATIONS and (module, name) not in ALLOWED]
    assert not wrong, "operations belong in consolidate/workflows/:\n" + "\n".join(wrong)


def test_cli_never_opens_the_ledger():
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "Ledger" not in names and "run_intake" not in names and "reconcile_ledger" not in names


def test_every_command_calls_a_workflow():
    """Each leaf command's function imports from consolidate.workflows (or is a group, serve, users)."""
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    missing = []
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        decorators = [ast.unparse(d) for d in fn.decorator_list]
        if not any(".command(" in d for d in decorators) or fn.name in FRONT_COMMANDS:
            continue
        calls_workflow = any(isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("workflows")
                             for n in ast.walk(fn))
        delegated = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.startswith("_")
                        for n in ast.walk(fn))  # a rendering helper that calls the workflow (e.g. _intake_preview)
        if not calls_workflow and not delegated:
            missing.append(fn.name)
    assert not missing, f"commands that call no workflow: {missing}"


def test_demo_runs_the_clerks_workflows():
    modules = {module for _, module, _ in _imports(DEMO)}
    assert {"workflows.intake", "workflows.report", "workflows.letters", "workflows.status", "workflows.mail"} <= modules
    assert not {"reconcile", "report", "inbox", "mail"} & modules
