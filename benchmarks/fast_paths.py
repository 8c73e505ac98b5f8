"""What the private fast paths save: templates, xlsx report and docx report for N executors, each written on
the fast path and through the public API only (CONSOLIDATE_PUBLIC_API=1).

Issue 15 item 5: a private fast path is kept only where, at 1,500 executors, it saves a user more than 2 seconds
a run.  Every variant runs in a process of its own (``--variant``: its peak RSS is its own); the reconciliation
the reports are built from is made once, outside every clock, from the synthetic programme of
benchmarks/national_scale.py with every executor's return in memory (as tests/test_reconcile_scale.py does).
Prints seconds, the saving against the public API and the ratio, and writes them as JSON.  Not a test.

    python3 benchmarks/fast_paths.py                        # 1,500 executors, ~4 minutes
    python3 benchmarks/fast_paths.py --executors 100 --only report
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHEETS = {"funding": "I. Фінансування", "execution": "II. Виконання", "proposals": "III. Пропозиції"}

# stage → variants; "public": CONSOLIDATE_PUBLIC_API=1, "fast": the adapters' fast paths.  The pieces measured
# one by one before some were removed: this script at commit e8dd571 (variants "-x": the fast path without x).
VARIANTS = {
    "templates": ("public", "fast"),
    "report": ("public", "fast"),
    "docx": ("public", "fast"),
}


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("national_scale", ROOT / "benchmarks" / "national_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_templates(variant: str, n: int, work: Path) -> dict:
    from consolidate import template

    catalogue = _bench().synthetic_catalogue(n)
    target = work / f"templates{variant}"
    start, cpu = time.perf_counter(), time.process_time()
    written = template.write_templates(catalogue, target, "2024", "bench")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    digest = __import__("hashlib").sha256(b"".join(t.sha256.encode() for t in written)).hexdigest()
    return {"seconds": seconds, "cpu": cpu, "files": len(written), "digest": digest}


def make_reconciliation(n: int, path: Path) -> None:
    from consolidate import reconcile as R
    from consolidate.model import CellValue, Submission

    bench = _bench()
    cat = bench.synthetic_catalogue(n)
    returns = []
    for i, code in enumerate(cat.expected_executors()):
        cells = [CellValue(key, fld, float(v) if isinstance(v, (int, float)) else None, str(v), SHEETS[kind], "E5")
                 for kind, rows in bench.executor_values(cat, code, i).items()
                 for key, cols in rows.items() for fld, v in cols.items()]
        returns.append((Submission(i + 1, code, "2024", f"{i:064x}", f"{i:04d}.xlsx", "2025-01-10T10:00:00+02:00",
                                   "accepted", "v"), cells))
    rec = R.reconcile(cat, "2024", returns)
    path.write_bytes(pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL))


def run_report(variant: str, n: int, work: Path, docx: bool = False) -> dict:
    from consolidate import report

    catalogue = _bench().synthetic_catalogue(n)
    rec = pickle.loads((work / "rec.pickle").read_bytes())
    if docx:
        from consolidate.report_docx import build_docx

        start, cpu = time.perf_counter(), time.process_time()
        data = build_docx(catalogue, rec)
    else:
        start, cpu = time.perf_counter(), time.process_time()
        data = report.build_report(catalogue, rec)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "kb": round(len(data) / 1024, 1)}


def _child(stage: str, variant: str, n: int, work: Path) -> dict:
    env = dict(os.environ)
    env.pop("CONSOLIDATE_PUBLIC_API", None)
    if variant == "public":
        env["CONSOLIDATE_PUBLIC_API"] = "1"
    out = work / f"{stage}{variant}.json"
    subprocess.run([sys.executable, __file__, "--stage", stage, f"--variant={variant}", "--executors", str(n),
                    "--work", str(work)], check=True, env=env)
    return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executors", "-n", type=int, default=1500)
    parser.add_argument("--only", choices=sorted(VARIANTS), action="append", help="only these stages")
    parser.add_argument("--rounds", "-r", type=int, default=3,
                        help="rounds of every variant, by turns; the least CPU time counts (default 3)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "fast_paths.json")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--stage", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = args.executors
    if args.stage:
        if args.stage == "templates":
            result = run_templates(args.variant, n, args.work)
        else:
            result = run_report(args.variant, n, args.work, docx=args.stage == "docx")
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        (args.work / f"{args.stage}{args.variant}.json").write_text(json.dumps(result), encoding="utf-8")
        return result

    stages = args.only or list(VARIANTS)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="fast-paths-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if any(s != "templates" for s in stages):
            print(f"[{time.strftime('%H:%M:%S')}] reconciliation of {n} executors (not timed) …", flush=True)
            make_reconciliation(n, work / "rec.pickle")
        for stage in stages:
            for k in range(args.rounds):  # every variant by turns: a machine slower for a while slows them all
                for variant in VARIANTS[stage]:
                    print(f"[{time.strftime('%H:%M:%S')}] {stage} {variant} ({k + 1}/{args.rounds}) …", flush=True)
                    out = _child(stage, variant, n, work)
                    best = results.setdefault(stage, {}).get(variant)
                    runs = (best or {}).get("runs_cpu", []) + [round(out["cpu"], 2)]
                    if best is None or out["cpu"] < best["cpu"]:
                        best = out
                    results[stage][variant] = {**best, "runs_cpu": runs}
    # CPU time of the writing process: the machine is shared, and wall time counts the other users' load
    print(f"\n{'stage':<10} {'variant':<11} {'CPU s':>7} {'wall s':>7} {'saves vs public':>16} "
          f"{'public / this':>14} {'peak RSS MB':>12}")
    for stage, runs in results.items():
        public = runs["public"]["cpu"]
        for variant, r in runs.items():
            r["saved_vs_public"] = round(public - r["cpu"], 2)
            r["ratio_public_to_this"] = round(public / r["cpu"], 2)
            print(f"{stage:<10} {variant:<11} {r['cpu']:>7.2f} {r['seconds']:>7.2f} {r['saved_vs_public']:>16.2f} "
                  f"{r['ratio_public_to_this']:>14.2f} {r['peak_rss_mb']:>12}")
        fast = runs.get("fast")
        for variant, r in runs.items():
            if variant.startswith("-") and fast:
                r["piece_saves"] = round(r["cpu"] - fast["cpu"], 2)
                print(f"{stage:<10} piece {variant[1:]:<9} saves {r['piece_saves']:.2f} s of the fast path's CPU")
    summary = {"executors": n, "xlsxwriter": __import__("xlsxwriter").__version__, "results": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")
    return summary


if __name__ == "__main__":
    main()
