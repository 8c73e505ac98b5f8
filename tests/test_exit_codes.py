"""One exit-code contract for every command (docs/architecture.md): 2 — could not run.

Every command is run against a folder that is not a workspace; each must say so in Ukrainian and exit
with 2 (``ExitCode.FAILED``), never 1 and never a traceback.  A new command is covered automatically;
one with required arguments needs its arguments in ARGS (the test says so when they are missing).
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.workflows import ExitCode

EXISTING = "<an existing file>"
# Required arguments of commands that have some (just enough for click to accept the call).
ARGS = {
    "history": ["UA-07"],
    "findings": ["UA-07"],
    "users add": ["petrenko", "--role", "clerk", "--password", "0123456789"],
    "users remove": ["petrenko"],
    "quarantine assign": ["0123abcd", "UA-07"],
    "explain": ["T2.6.1"],
    "adjust": ["T3.5.1", "30", "--reason", "перевірка"],
    "review accept": ["UA-07"],
    "review return": ["UA-07", "--comment", "виправте"],
    "review confirm": ["UA-07"],
    "catalogue export": ["catalogue.xlsx"],
    "catalogue import": [EXISTING],
    "catalogue new-year": ["2025"],
}
# Commands that take no --workspace: each has its own "could not run" case, checked below.
NO_WORKSPACE = {"init", "demo"}


def leaf_commands(group: click.Group, prefix: str = ""):
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from leaf_commands(cmd, f"{full} ")
        else:
            yield full, cmd


COMMANDS = dict(leaf_commands(main))


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_WORKSPACE))
def test_every_command_against_a_missing_workspace_exits_2(name, tmp_path):
    cmd = COMMANDS[name]
    assert any(p.name == "workspace_dir" for p in cmd.params), f"«{name}» has no --workspace: add it to NO_WORKSPACE"
    existing = tmp_path / "file.xlsx"
    existing.write_bytes(b"PK")
    args = [str(existing) if a == EXISTING else a for a in ARGS.get(name, [])]
    res = CliRunner().invoke(main, [*name.split(), *args, "-w", str(tmp_path / "nowhere")])
    assert res.exit_code == ExitCode.FAILED, (name, res.output)
    assert "не є робочою текою" in res.output, f"«{name}»: missing arguments in ARGS? {res.output}"
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))


def test_commands_without_a_workspace_exit_2_when_they_cannot_run(tmp_path):
    assert NO_WORKSPACE <= set(COMMANDS)
    run = CliRunner().invoke
    assert run(main, ["init", str(tmp_path / "w")]).exit_code == ExitCode.CLEAN
    again = run(main, ["init", str(tmp_path / "w")])
    assert again.exit_code == ExitCode.FAILED and "вже є робоча тека" in again.output
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    busy = run(main, ["demo", "-w", str(tmp_path / "busy")])
    assert busy.exit_code == ExitCode.FAILED and "не порожня" in busy.output


def test_a_broken_catalogue_exits_2_from_every_command_that_reads_it(templates_copy):
    (templates_copy / "catalogue.yaml").write_text("programme: {}\ntasks: []\n", encoding="utf-8")
    for name in ("catalogue check", "status", "reconcile", "report", "templates"):
        res = CliRunner().invoke(main, [*name.split(), "-w", str(templates_copy.parent)])
        assert res.exit_code == ExitCode.FAILED, (name, res.output)
        assert "Каталог програми містить помилки" in res.output, (name, res.output)
