"""Start-up: ``consolidate --help`` imports neither numpy nor pandas (docs/performance.md, «Start-up»).

Not a timed test: what it checks is which modules the command loads, the cause of a slow start-up (numpy
alone was ~0.12 s of ~0.36 s).  The time itself is measured with ``python -X importtime`` and stated in the
docs.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "pandas")

_PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from consolidate.cli import main
out = io.StringIO()
try:
    with redirect_stdout(out):
        main(["--help"], prog_name="consolidate")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _help_run() -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_neither_numpy_nor_pandas():
    run = _help_run()
    assert run["code"] == 0
    assert "Використання" in run["help"]
    loaded = {m.split(".")[0] for m in run["modules"]}
    assert "consolidate.cli" in run["modules"]
    assert not loaded & set(HEAVY), f"consolidate --help imports {sorted(loaded & set(HEAVY))}"


def test_near_duplicates_still_load_numpy_when_used():
    # the lazy import is not a way of losing numpy: the reconciliation's near-duplicate search uses it
    probe = ("import sys; from consolidate.neardup import first_similar; "
             "assert 'numpy' not in sys.modules; "
             "r = first_similar(['a' * 50, 'a' * 49 + 'b', 'z' * 50], 0.9, 20); "
             "print(r, 'numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[None,", "0,", "None]", "True"]
