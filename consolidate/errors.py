"""Errors shown to the user: always Ukrainian, always naming where the problem is.

The library raises these; a front turns them into its own message (the CLI: a click exception with the
error's exit code, see ``cli.UserError``; the web console: a page).  No library code prints or exits.
"""

from __future__ import annotations

from .workflows.base import ExitCode


class ConsolidateError(Exception):
    """An expected failure: the command could not run (exit code 2, ``ExitCode.FAILED``)."""

    exit_code: ExitCode = ExitCode.FAILED


class CatalogueError(ConsolidateError):
    """The programme catalogue or the executor registry is invalid."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
