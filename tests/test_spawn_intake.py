"""The intake tests again with reader processes started by spawn, as on Windows (no fork there).

Linux forks the readers (they inherit the catalogue); Windows spawns them (the catalogue is pickled, the
modules imported afresh).  CONSOLIDATE_START_METHOD=spawn makes this machine run the Windows way: the
intake, hostile-file and crash tests run in a child pytest with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("tests/test_inbox.py", "tests/test_hostile.py", "tests/test_intake_crash.py")


@pytest.mark.slow  # the intake suites a second time
def test_intake_suites_pass_with_spawned_readers():
    env = {**os.environ, "CONSOLIDATE_START_METHOD": "spawn"}
    done = subprocess.run([sys.executable, "-m", "pytest", *SUITES, "-q", "-m", "not slow", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_the_start_method_can_be_chosen():
    probe = "import consolidate.inbox as i; print(i.START_METHOD)"
    env = {**os.environ, "CONSOLIDATE_START_METHOD": "spawn"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "spawn"
