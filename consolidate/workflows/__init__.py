"""Workflows: one function per thing a user does, each returning a typed ``Result`` (see base.py).

Modules by area; each front (cli.py, web/, the mailbox) imports from here and renders.
"""

from .base import ExitCode, Result, plain

__all__ = ["ExitCode", "Result", "plain"]
