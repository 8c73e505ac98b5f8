"""History at scale: status, reconciliation and report of one period with years of history in the ledger.

Builds the national-scale programme of ``national_scale.py`` (N executors, every hromada reporting) and two
ledgers: one holding only the measured period's returns (N), the other the same plus ``--years`` × 4
quarters of earlier and later periods (each executor's return of each period, with its own figures).  The
returns are recorded through ``Ledger.record`` as the intake records them (values as a reader extracts them
from a template: every funding line, measure and indicator of the executor, with sheet and cell), without
the workbooks themselves: what is measured is how the ledger's size affects the reading of one period.

Every return is accepted by a (simulated) clerk, so the reconciliation reads approved returns and compares
each with the executor's approved return a year earlier, as the report does (``--draft``: every latest
return, no such comparison).  Then, by turns (one run on each ledger at a time, ``--repeat`` rounds, so
that a busy machine slows both sides of a ratio alike): ``status_from_ledger``, ``reconcile_ledger`` and
``build_report`` of the measured period.  Prints the best and median seconds on each ledger, the
ratio history / single (the target: within 1.3×), and the size of each ledger on disk; writes JSON.  Not a
test: tests/test_history_bench.py runs it tiny so that it cannot rot.

    python3 benchmarks/history_bench.py                                   # 1 500 executors, 5 years × 4 quarters
    python3 benchmarks/history_bench.py --executors 300 --years 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from national_scale import executor_values, synthetic_catalogue  # noqa: E402

from consolidate import layout as L  # noqa: E402
from consolidate.ledger import Ledger  # noqa: E402
from consolidate.model import ACCEPTED, CellValue, Return  # noqa: E402

SHEETS = {"funding": L.SHEET_FUNDING, "execution": L.SHEET_EXECUTION, "proposals": L.SHEET_PROPOSALS}
COLUMNS = {"funding": L.FUNDING_COLUMNS, "execution": L.EXECUTION_COLUMNS, "proposals": L.PROPOSAL_COLUMNS}


def periods(last_year: int, years: int) -> list[str]:
    return [f"{y}-Q{q}" for y in range(last_year - years + 1, last_year + 1) for q in range(1, 5)]


def return_of(catalogue, code: str, n: int, period: str, version: str) -> Return:
    """What the intake records for executor number ``n``'s clean return of ``period``."""
    values = executor_values(catalogue, code, n)
    cells: list[CellValue] = []
    for kind, rows in values.items():
        col_of = {c: i for i, (c, _) in enumerate(COLUMNS[kind])}
        for r, (key, fields) in enumerate(rows.items(), start=L.FIRST_DATA_ROW):
            for field, value in fields.items():
                number = float(value) if isinstance(value, (int, float)) else None
                ref = f"{chr(65 + col_of.get(field, 0))}{r}"
                cells.append(CellValue(key, field, number, str(value), SHEETS[kind], ref))
    sha = hashlib.sha256(f"{period}/{code}/{n}".encode()).hexdigest()
    return Return(f"{code}.xlsx", sha, code, period, version, cells, [], "meta")


def fill(ledger: Ledger, catalogue, period_list: list[str], seed: int) -> int:
    codes = catalogue.expected_executors()
    version = catalogue.template_version
    count = 0
    accepted: list[tuple[str, str, int]] = []
    with ledger.group():
        for p_index, period in enumerate(period_list):
            for n, code in enumerate(codes):
                ret = return_of(catalogue, code, n + seed + p_index, period, version)
                receipt = ledger.record(ret, status=ACCEPTED, original_name=ret.file, size=50_000,
                                        received_at=f"{period[:4]}-12-01T10:00:00+02:00",
                                        archive_path=f"archive/{ret.sha256[:2]}/{ret.sha256}.xlsx", fmt="xlsx")
                accepted.append((code, period, receipt.file.submission_id))
                count += 1
            ledger.commit()
    # the clerk's acceptance: the report reads approved returns, and compares each with the executor's
    # approved return a year earlier (outliers.py) — which only the history ledger has
    for code, period, submission_id in accepted:
        ledger.record_review(executor=code, period=period, submission_id=submission_id, decision="accept",
                             comment="", operator="бенчмарк", decided_at=f"{period[:4]}-12-02T10:00:00+02:00")
    ledger.sync()
    return count


def size_on_disk(path: Path) -> int:
    with Ledger(path) as ledger:
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def measure(catalogue, path: Path, period: str, out: Path, draft: bool) -> dict[str, float]:
    from consolidate.reconcile import reconcile_ledger
    from consolidate.report import atomic_write, build_report
    from consolidate.status import status_from_ledger

    times = {}
    with Ledger(path) as ledger:
        start = time.perf_counter()
        rows, _ = status_from_ledger(catalogue, ledger, period, dt.date(int(period[:4]) + 1, 1, 31))
        times["status"] = time.perf_counter() - start
        start = time.perf_counter()
        rec = reconcile_ledger(catalogue, ledger, period, include_unapproved=draft)
        times["reconcile"] = time.perf_counter() - start
        start = time.perf_counter()
        atomic_write(out, build_report(catalogue, rec, rows, "бенчмарк" if draft else ""))
        times["report"] = time.perf_counter() - start
    if len(rec.reported) != len(catalogue.expected_executors()):
        raise SystemExit(f"у звірці {len(rec.reported)} звітів із {len(catalogue.expected_executors())}")
    return times


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executors", type=int, default=1500)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None, help="folder for the two ledgers (default: a temporary one)")
    ap.add_argument("--draft", action="store_true", help="reconcile every latest return (a draft) instead of the "
                                                         "approved ones (no comparison with a year earlier)")
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "history-bench.json")
    args = ap.parse_args(argv)

    catalogue = synthetic_catalogue(args.executors)
    year = catalogue.programme.report_year
    target = f"{year}-Q4"
    history = [p for p in periods(year, args.years) if p != target]
    work = args.work or Path(tempfile.mkdtemp(prefix="consolidate-history-"))
    work.mkdir(parents=True, exist_ok=True)
    single, full = work / "single" / "ledger.sqlite", work / "history" / "ledger.sqlite"
    for path in (single, full):
        for old in path.parent.glob(path.name + "*"):
            old.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    with Ledger(single) as ledger:
        n_single = fill(ledger, catalogue, [target], 0)
    with Ledger(full) as ledger:  # earlier periods first, the measured one among them as received in time
        before = [p for p in history if p < target]
        after = [p for p in history if p > target]
        n_full = fill(ledger, catalogue, before, 7) + fill(ledger, catalogue, [target], 0) \
            + fill(ledger, catalogue, after, 11)
    build_seconds = time.perf_counter() - start

    runs: dict[str, dict[str, list[float]]] = {"single": {}, "history": {}}
    for name, path in (("single", single), ("history", full)):  # untimed: imports, caches, the page cache
        measure(catalogue, path, target, work / f"report-{name}.xlsx", args.draft)
    for _ in range(args.repeat):
        for name, path in (("single", single), ("history", full)):
            for stage, seconds in measure(catalogue, path, target, work / f"report-{name}.xlsx", args.draft).items():
                runs[name].setdefault(stage, []).append(seconds)

    stages = {}
    for stage in ("status", "reconcile", "report"):
        s, h = runs["single"][stage], runs["history"][stage]
        stages[stage] = {"single_best": min(s), "history_best": min(h), "single_median": statistics.median(s),
                         "history_median": statistics.median(h), "ratio_best": min(h) / min(s),
                         "ratio_median": statistics.median(h) / statistics.median(s)}
    total_s = sum(min(runs["single"][k]) for k in stages)
    total_h = sum(min(runs["history"][k]) for k in stages)
    summary = {
        "executors": args.executors, "expected_executors": len(catalogue.expected_executors()),
        "periods_in_history": len(history) + 1, "returns_single": n_single, "returns_history": n_full,
        "period": target, "repeat": args.repeat, "draft": args.draft, "stages": stages,
        "total": {"single_best": total_s, "history_best": total_h, "ratio_best": total_h / total_s},
        "target_ratio": 1.3,
        "ledger_bytes": {"single": size_on_disk(single), "history": size_on_disk(full)},
        "build_seconds": build_seconds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(f"{n_single} returns of {target} alone; {n_full} returns in {len(history) + 1} periods "
          f"(built in {build_seconds:.0f} s)")
    print(f"{'stage':<10} {'single, s':>10} {'history, s':>11} {'ratio':>7} {'(median)':>9}")
    for stage, v in stages.items():
        print(f"{stage:<10} {v['single_best']:>10.2f} {v['history_best']:>11.2f} {v['ratio_best']:>7.2f} "
              f"{v['ratio_median']:>9.2f}")
    print(f"{'total':<10} {total_s:>10.2f} {total_h:>11.2f} {total_h / total_s:>7.2f}")
    mb = {k: v / 1024 / 1024 for k, v in summary["ledger_bytes"].items()}
    print(f"ledger on disk: {mb['single']:.1f} MB (one period), {mb['history']:.1f} MB (history)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
