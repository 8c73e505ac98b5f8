"""docs/cli.md from every command's --help (the reference cannot drift from the code).

    python tools/cli_reference.py          # rewrite docs/cli.md
    python tools/cli_reference.py --check  # exit 1 if docs/cli.md is stale (tests/test_cli_reference.py)

Each command's help is taken exactly as ``consolidate … --help`` prints it, at a fixed width of 100
columns, in the order of the command tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.cli import main  # noqa: E402

TARGET = ROOT / "docs" / "cli.md"
WIDTH = "100"
HEAD = """# Command reference (`consolidate --help`)

Generated from every command's `--help` by `python tools/cli_reference.py`; `tests/test_cli_reference.py`
fails when this page is stale.  Exit codes of every command: 0 — done, the data is clean; 1 — done, the
data has problems; 2 — could not run (docs/architecture.md).
"""


def commands(group: click.Group, path: tuple[str, ...] = ()):
    yield path
    for name in group.list_commands(click.Context(group)):
        cmd = group.get_command(click.Context(group), name)
        if cmd is None or getattr(cmd, "hidden", False):
            continue
        if isinstance(cmd, click.Group):
            yield from commands(cmd, path + (name,))
        else:
            yield path + (name,)


def help_text(path: tuple[str, ...]) -> str:
    res = CliRunner().invoke(main, [*path, "--help"], prog_name="consolidate", env={"COLUMNS": WIDTH},
                             terminal_width=int(WIDTH))
    if res.exit_code != 0:
        raise SystemExit(f"consolidate {' '.join(path)} --help failed: {res.output}")
    return res.output.rstrip() + "\n"


def render() -> str:
    parts = [HEAD]
    for path in commands(main):
        title = " ".join(("consolidate",) + path)
        parts.append(f"\n## `{title}`\n\n```text\n{help_text(path)}```\n")
    return "".join(parts)


def main_(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python tools/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"written {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_(sys.argv[1:]))
