"""The whole intake's peak memory stays under 300 MB for any single hostile input of up to 10 MB.

Each file is received by a real ``consolidate intake`` (its reader processes included) started from a
small wrapper process, which reports ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak RSS of
the largest process of the intake's tree (the intake and every reader process it waited for).  The
files are made here: huge claims in every format, zip bombs, a Rust panic, and the largest workbooks
the limits still accept.  The dry run over all of them together is measured the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consolidate.model import ACCEPTED, QUARANTINED
from consolidate.workspace import init_workspace

from .conftest import ROOT, need_binary
from .corpus_util import (_with_sheet_xml, ods_repeated, xls_claiming, xls_far_cell, xls_formula_overrun,
                          xlsx_cells_without_references, xlsx_many_wide_sheets, xlsx_shared_string_copies, zip_parts,
                          zipped)
from .hostile_util import GiB, bomb
from .intake_util import EXECUTION, filled, sheet_part

pytestmark = pytest.mark.slow

PEAK_BOUND_MB = 300
MAX_INPUT = 10 * 1024 * 1024
WRAPPER = """\
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
print("\\nPEAK_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.returncode)
"""


def run_measured(ws_root: Path, *extra: str) -> tuple[int, float, str, str]:
    """(exit code, peak RSS in MB of the intake's process tree, stdout, stderr) of one CLI intake run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "consolidate.cli", "intake", "-w", str(ws_root),
           "--json", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    out, _, tail = proc.stdout.rpartition("\nPEAK_KB ")
    peak_kb, code = tail.split()
    return int(code), int(peak_kb) / 1024, out, proc.stderr


def ods_numbers(ods: bytes, rows: int, cols: int) -> bytes:
    parts = zip_parts(ods)
    xml = parts["content.xml"]
    at = xml.index(b"</table:table-row>") + len(b"</table:table-row>")
    row = (b'<table:table-row table:number-rows-repeated="%d"><table:table-cell table:number-columns-repeated="%d" '
           b'office:value-type="float" office:value="1"/></table:table-row>' % (rows, cols))
    parts["content.xml"] = xml[:at] + row + xml[at:]
    return zipped(parts)


@pytest.fixture(scope="module")
def cases(cat, tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    """name → (bytes, expected state)."""
    need_binary("soffice")
    from consolidate.office import convert

    folder = tmp_path_factory.mktemp("memory")
    src = filled(cat, folder, "return.xlsx")
    xlsx = src.read_bytes()
    ods, xls = (convert(src, fmt, folder / fmt).read_bytes() for fmt in ("ods", "xls"))
    part = sheet_part(xlsx, EXECUTION)
    far_rows = b"".join(b'<row r="%d"><c r="T%d"><v>%d</v></c></row>' % (r, r, r) for r in range(100, 99_000, 7))
    return {
        "xlsx: one cell at XFD1048576": (_with_sheet_xml(xlsx, part, b'<row r="1048576"><c r="XFD1048576"><v>1</v>'
                                                                     b'</c></row>'), QUARANTINED),
        "xlsx: 1,000,000 cells without references": (xlsx_cells_without_references(xlsx, part, 1_000_000),
                                                      QUARANTINED),
        "xlsx: 40 sheets of 999 × 702": (xlsx_many_wide_sheets(xlsx, 40), QUARANTINED),
        "xlsx: 20,000 copies of a 32,000-character shared string": (xlsx_shared_string_copies(xlsx, part, 20_000),
                                                                    QUARANTINED),
        "xlsx: 1,000 copies of a 32,000-character shared string (accepted)": (
            xlsx_shared_string_copies(xlsx, part, 1_000), ACCEPTED),
        "xlsx: zip bomb, 2 GiB declared honestly": (bomb(xlsx, part, 2 * GiB), QUARANTINED),
        "xlsx: zip bomb lying about its size": (bomb(xlsx, part, 2 * GiB, declared=40_000), QUARANTINED),
        "xlsx: 99,000 × 20 used area (accepted)": (_with_sheet_xml(xlsx, part, far_rows), ACCEPTED),
        "xls: one cell at IV65536": (xls_far_cell(xls), QUARANTINED),
        "xls: DIMENSIONS 65,536 × 256": (xls_claiming(xls, 65536, 256), QUARANTINED),
        "xls: a Rust panic in the reader": (xls_formula_overrun(xls), QUARANTINED),
        "xls: 7,701 × 256 used area (accepted)": (xls_far_cell(xls, 7700, 255), ACCEPTED),
        "ods: a cell repeated 1,000,000 × 16,000": (ods_repeated(ods, 1_000_000, 16_000), QUARANTINED),
        "ods: 30,000 characters repeated 200 × 10": (ods_repeated(ods, 10, 200, b"y" * 30_000), QUARANTINED),
        "ods: 900 × 990 numbers (accepted)": (ods_numbers(ods, 900, 990), ACCEPTED),
        "ods: 1,000 × 1,900 numbers": (ods_numbers(ods, 1000, 1900), QUARANTINED),
    }


def test_peak_rss_of_the_intake_stays_under_300_mb_for_each_hostile_input(cases, tmp_path):
    figures = []
    for i, (what, (data, state)) in enumerate(cases.items()):
        assert len(data) <= MAX_INPUT, what
        ws = init_workspace(tmp_path / f"ws{i}")
        suffix = what.split(":")[0]
        (ws.inbox / f"file.{suffix}").write_bytes(data)
        code, peak, out, err = run_measured(ws.root)
        (entry,) = json.loads(out)["files"]
        figures.append(f"{what}: {len(data) / 1024:.0f} KB, {entry['status']}, peak RSS {peak:.0f} MB")
        assert entry["status"] == state, (what, entry["findings"])
        assert "Traceback" not in err and "panicked" not in err, (what, err)
        assert peak < PEAK_BOUND_MB, figures[-1]
    print("\n" + "\n".join(figures))


def test_the_dry_run_over_every_hostile_input_stays_under_300_mb(cases, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    for i, (what, (data, _)) in enumerate(cases.items()):
        (ws.inbox / f"{i:02d}.{what.split(':')[0]}").write_bytes(data)
    code, peak, out, err = run_measured(ws.root, "--dry-run")
    states = [p["state"] for p in json.loads(out)]
    print(f"\ndry run over {len(states)} files: peak RSS {peak:.0f} MB")
    assert code == 1 and len(states) == len(cases)
    assert states == [state for _, state in cases.values()]
    assert "Traceback" not in err and "panicked" not in err
    assert peak < PEAK_BOUND_MB
