"""POSIX-only calls each have a working fallback; the parts that can run here are checked here."""

from __future__ import annotations

import os
import subprocess
import sys

from consolidate.report import _remove_stale_temps, process_alive


def test_process_alive_and_stale_temps(tmp_path):
    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    target = tmp_path / "report.xlsx"
    stale = tmp_path / f".report.xlsx.{child.pid}.tmp"
    live = tmp_path / f".report.xlsx.{os.getppid()}.tmp"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    _remove_stale_temps(target)
    assert not stale.exists() and live.exists()
