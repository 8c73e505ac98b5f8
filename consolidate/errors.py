"""Errors shown to the user: always Ukrainian, always naming where the problem is."""

from __future__ import annotations


class ConsolidateError(Exception):
    """An error the CLI prints as a clear message (no traceback)."""


class CatalogueError(ConsolidateError):
    """The programme catalogue or the executor registry is invalid."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
