"""kill -9 during `consolidate report`: the report file is the last good one or the new one, never half of one."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time

import openpyxl
import pytest
from docx import Document

from consolidate import fileutil
from consolidate.filler import fill_workbook, plausible_values
from consolidate.inbox import run_intake
from consolidate.report import SECTION1, atomic_write
from consolidate.template import write_templates

from .conftest import ROOT

KILLS = 10
FORMATS = ("xlsx", "docx")
STATUS_FILES = {"status.html", "status.xlsx", "status.csv"}


def report_cmd(ws, fmt: str) -> list[str]:
    return [sys.executable, "-m", "consolidate.cli", "report", "--include-unapproved", "--format", fmt,
            "-w", str(ws.root)]


def complete_report(path, fmt: str) -> bool:
    """The file opens as a whole report of its format."""
    data = path.read_bytes()
    if fmt == "xlsx":
        return SECTION1 in openpyxl.load_workbook(io.BytesIO(data), read_only=True).sheetnames
    return len(Document(io.BytesIO(data)).paragraphs) > 10


def visible(folder) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.mark.slow  # kill -9
def test_kill_9_during_report_never_leaves_a_partial_file(workspace, tmp_path):
    rng = random.Random(int(os.environ.get("CRASH_SEED", time.time_ns() % 10_000)))
    cat = workspace.catalogue
    for n, t in enumerate(write_templates(cat, tmp_path / "templates", "2024", "test")):
        fill_workbook(t.path, workspace.inbox / t.path.name, plausible_values(cat, t.executor, n))
    run_intake(workspace)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    targets = {fmt: workspace.out / f"report-2024.{fmt}" for fmt in FORMATS}

    spans = {}
    for fmt in FORMATS:  # a good report of each format first; how long a whole run takes here
        started = time.monotonic()
        subprocess.run(report_cmd(workspace, fmt), env=env, check=True, capture_output=True, timeout=120)
        spans[fmt] = time.monotonic() - started
        assert complete_report(targets[fmt], fmt)

    for i in range(KILLS):
        fmt = FORMATS[i % 2]
        proc = subprocess.Popen(report_cmd(workspace, fmt), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.0) * spans[fmt])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for f, target in targets.items():
            assert target.exists() and complete_report(target, f), (i, f)
        shown = visible(workspace.out) - STATUS_FILES  # the report command also refreshes the status files
        assert shown == {"report-2024.xlsx", "report-2024.docx"}, visible(workspace.out)

    for fmt in FORMATS:  # a run to the end clears what the killed writers left
        subprocess.run(report_cmd(workspace, fmt), env=env, check=True, capture_output=True, timeout=120)
        assert complete_report(targets[fmt], fmt)
    assert [p.name for p in workspace.out.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "report-2024.xlsx"
    atomic_write(target, b"old complete report")

    def fail(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileutil.os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write(target, b"new report")
    assert target.read_bytes() == b"old complete report"
    assert [p.name for p in tmp_path.iterdir()] == ["report-2024.xlsx"]


def test_temps_of_killed_writers_are_removed_and_a_live_writers_kept(tmp_path):
    target = tmp_path / "report-2024.xlsx"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".report-2024.xlsx.{dead.pid}.tmp").write_bytes(b"half")
    (tmp_path / f".report-2024.xlsx.{os.getppid()}.tmp").write_bytes(b"being written")
    (tmp_path / ".other.xlsx.1.tmp").write_bytes(b"not ours")
    atomic_write(target, b"report")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.xlsx.1.tmp", f".report-2024.xlsx.{os.getppid()}.tmp", "report-2024.xlsx"])
