from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from consolidate.workspace import init_workspace

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cat():
    """The bundled 496-р catalogue (read-only: tests never mutate it)."""
    from consolidate.catalogue import load_catalogue

    return load_catalogue(ROOT / "templates")


@pytest.fixture(scope="session")
def sim(cat):
    """Every executor's answers derived from the seed report."""
    from consolidate.simulate import simulate

    return simulate(cat)


@pytest.fixture
def workspace(tmp_path):
    """A fresh workspace with the bundled 496-р catalogue."""
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def templates_copy(tmp_path):
    """A writable copy of the bundled templates folder (for corrupting it)."""
    dst = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", dst)
    return dst


def need_binary(name: str) -> str:
    """Path of a system program a test needs: skipped locally when absent, a failure in CI."""
    import os

    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed (apt-get install it; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path
