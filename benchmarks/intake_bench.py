"""Intake speed: `consolidate intake` of N returned workbooks vs python-calamine alone reading them.

Builds a fresh workspace, generates the real per-executor templates and fills N of them with
openpyxl (cycling through the executors, each copy with its own numbers, so every file is a
distinct return of 18–35 KB).  Then, in this one process, for each repetition: copy the files
into the inbox of a fresh workspace, flush the disk (``os.sync``), and

1. time python-calamine reading every sheet of every file (``from_path`` + ``to_python``);
2. time the intake of the same files (reading and archive copies in reader processes, the ledger's
   records grouped into transactions, durability barriers, inbox emptied — see docs/reliability.md).

The programme catalogue is loaded before the clock starts (it is the workspace, not the files).
Prints both times per repetition and the ratio of the best times, intake / calamine-only (the best
of several runs is the least disturbed by other load on the machine).  Not a test; the issue's
target is a ratio of at most 2 for 200 files.

    python3 benchmarks/intake_bench.py            # 200 files, 3 repetitions
    python3 benchmarks/intake_bench.py -n 20 -r 1 --workers 0
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import python_calamine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.filler import fill_workbook, plausible_values  # noqa: E402
from consolidate.inbox import run_intake  # noqa: E402
from consolidate.model import QUARANTINED  # noqa: E402
from consolidate.template import write_templates  # noqa: E402
from consolidate.workspace import init_workspace  # noqa: E402


def build(ws, count: int) -> list[Path]:
    catalogue = ws.catalogue
    templates = write_templates(catalogue, ws.out / "templates", catalogue.default_period(), "bench")
    files = []
    for n in range(count):
        t = templates[n % len(templates)]
        files.append(fill_workbook(t.path, ws.inbox / f"{n:04d} {t.path.name}", plausible_values(catalogue, t.executor, n)))
    return files


def calamine_only(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
    return time.perf_counter() - start


def one_run(root: Path, files: list[Path], workers: int | None) -> tuple[float, float]:
    ws = init_workspace(root, force=True)
    inbox = [Path(shutil.copy2(f, ws.inbox / f.name)) for f in files]
    ws.catalogue  # loaded before timing
    os.sync()
    calamine_only(inbox[:3])  # warm-up outside both timings
    t_cal = calamine_only(inbox)
    start = time.perf_counter()
    outcomes = run_intake(ws, workers=workers)
    t_intake = time.perf_counter() - start
    bad = [o for o in outcomes if o.state == QUARANTINED or not o.moved]
    if len(outcomes) != len(files) or bad or any(ws.inbox.iterdir()):
        raise SystemExit(f"intake did not receive every file: {len(outcomes)} outcomes, problems: {bad[:3]}")
    return t_cal, t_intake


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--files", type=int, default=200, help="number of returned workbooks (default 200)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="reader processes (default: CPU count; 0 = none)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        root = Path(tmp)
        source = init_workspace(root / "source")
        print(f"building {args.files} returned workbooks …", flush=True)
        files = build(source, args.files)
        size = sum(p.stat().st_size for p in files)
        print(f"files: {len(files)} ({size / len(files) / 1024:.0f} KB each on average)")
        cal, ink = [], []
        for rep in range(args.repeat):
            t_cal, t_intake = one_run(root / f"run{rep}", files, args.workers)
            cal.append(t_cal)
            ink.append(t_intake)
            print(f"run {rep + 1}: calamine only {t_cal:.3f} s ({t_cal / len(files) * 1000:.2f} ms per file), "
                  f"intake {t_intake:.3f} s ({t_intake / len(files) * 1000:.2f} ms per file), "
                  f"ratio {t_intake / t_cal:.2f}", flush=True)
        ratio = min(ink) / min(cal)
        print(f"ratio intake / calamine-only (best of {args.repeat}): {ratio:.2f}")
        return ratio


if __name__ == "__main__":
    main()
