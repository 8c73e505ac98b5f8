"""The web console's speed (issue 19): «Огляд» for N executors, and concurrent uploads.

Both measured against the real server (``consolidate serve`` in its own process on 127.0.0.1, a free
port), over HTTP from this process; nothing is timed inside the server.

1. **«Огляд»**: a workspace with the synthetic national catalogue of benchmarks/national_scale.py
   (N executors, default 1,500), a ledger in which most of them have a return recorded (accepted,
   with warnings or with errors, some reviewed, some quarantined files) — recorded through the Ledger
   API, as intake records them.  Then ``GET /`` (the whole page: status of every executor from the
   ledger, rendered) ``--requests`` times, one after another; latencies p50/p95.  Baseline measured in
   the same run: the status computation alone (``status_from_ledger`` in this process, what the page
   cannot avoid), and the server's floor (``GET /static/style.css`` through the same stack).  Also ten
   views at once right after a change (every open «Огляд» reloads itself when the ledger changes).
2. **Concurrent uploads**: ``--uploads`` (default 20) filled templates of the bundled catalogue, each
   uploaded by its own session at the same moment (a barrier); the time from sending the body to
   receiving the result page (findings included) per upload; p50/p95.  Baseline: the same files through
   ``run_intake`` in one call in this process (the CLI's intake), fresh workspace.

Prints the figures and the ratios; the issue's targets are «Огляд» p95 < 300 ms at 1,500 executors and
upload→result p95 < 2 s for 20 concurrent uploads on this 2-core machine (docs/performance.md).

    python3 benchmarks/web_bench.py
    python3 benchmarks/web_bench.py --executors 300 --requests 30 --uploads 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from consolidate.catalogue import catalogue_yaml  # noqa: E402
from consolidate.ledger import Ledger  # noqa: E402
from consolidate.model import (ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED,  # noqa: E402
                               WARNING, Finding, Return)
from consolidate.registry import write_registry  # noqa: E402
from consolidate.workspace import init_workspace, open_workspace  # noqa: E402
from tests.web_util import Server, csrf_of, request, token_session, upload  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def national_workspace(root: Path, n: int) -> Path:
    from national_scale import synthetic_catalogue

    cat = synthetic_catalogue(n)
    ws = init_workspace(root)
    (ws.templates_dir / "catalogue.yaml").write_text(catalogue_yaml(cat), encoding="utf-8")
    write_registry(cat.registry, ws.templates_dir / "executors.csv")
    ws = open_workspace(root)
    cat = ws.catalogue
    period = cat.default_period()
    codes = cat.expected_executors()
    version = cat.template_version          # a digest of the whole catalogue: computed once
    received = dt.datetime(2025, 1, 10, 9, 0).astimezone()
    with Ledger(ws.ledger_path) as ledger, ledger.group():
        for i, code in enumerate(codes):
            if i % 10 == 9:
                continue                                   # one in ten has sent nothing
            status = (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED, ACCEPTED_ERRORS)[i % 4]
            findings = []
            if status == ACCEPTED_WARNINGS:
                findings = [Finding(f"{code}.xlsx", WARNING, "empty-narrative", "Не заповнено текст", "II. Виконання",
                                    f"I{5 + k}", "") for k in range(3)]
            if status == ACCEPTED_ERRORS:
                findings = [Finding(f"{code}.xlsx", ERROR, "text-in-number", "Текст замість числа", "II. Виконання",
                                    "E7", "", "багато", "число")]
            sha = hashlib.sha256(f"{code}-{i}".encode()).hexdigest()
            when = (received + dt.timedelta(minutes=i)).isoformat(timespec="seconds")
            ledger.record(Return(f"{code}.xlsx", sha, code, period, version, [], findings, "meta"),
                          status=status, original_name=f"Звіт {code}.xlsx", size=30_000, received_at=when,
                          archive_path=f"archive/{sha[:2]}/{sha}.xlsx", fmt="xlsx")
            if i % 25 == 3:
                bad = hashlib.sha256(f"bad-{code}".encode()).hexdigest()
                ledger.record(Return(f"{code}.pdf", bad, None, None, None, [],
                                     [Finding(f"{code}.pdf", ERROR, "not-a-workbook", "Файл не є книгою")]),
                              status=QUARANTINED, original_name=f"{code}.pdf", size=1000, received_at=when,
                              archive_path=f"archive/{bad[:2]}/{bad}.pdf", fmt="")
        ledger.commit()
        for sub in ledger.submissions(period=period)[::3]:
            if sub.status != ACCEPTED_ERRORS:
                ledger.record_review(executor=sub.executor, period=period, submission_id=sub.id, decision="accept",
                                     comment="", operator="Оператор", decided_at=sub.received_at)
    return root


def bench_overview(work: Path, n: int, requests: int) -> dict:
    from consolidate.web import ops

    root = national_workspace(work / "national", n)
    ws = open_workspace(root)
    ws.catalogue
    base = []
    for _ in range(max(5, requests // 4)):
        start = time.perf_counter()
        rows, _, _ = ops.status(ws, ws.catalogue.default_period())
        base.append(time.perf_counter() - start)
    server = Server(root)
    try:
        cookie = token_session(server)
        status, _, body = request(server, "GET", "/", cookie=cookie)
        assert status == 200 and body.count(b"data-executor=") == len(rows), "«Огляд» does not list every executor"
        gzip = {"Accept-Encoding": "gzip"}   # as a browser asks
        floor, page, changed = [], [], []
        with Ledger(ws.ledger_path) as ledger:
            subs = ledger.submissions(period=ws.catalogue.default_period())
        for k in range(requests):            # by turns, so that a slower moment of the machine slows all three
            start = time.perf_counter()
            request(server, "GET", "/static/style.css", headers=gzip, cookie=cookie)
            floor.append(time.perf_counter() - start)
            start = time.perf_counter()
            status, headers, zipped = request(server, "GET", "/", headers=gzip, cookie=cookie)
            page.append(time.perf_counter() - start)
            assert status == 200
            # another clerk's decision: the next page computes the status again
            with Ledger(ws.ledger_path) as ledger:
                sub = subs[k % len(subs)]
                ledger.record_review(executor=sub.executor, period=sub.period, submission_id=sub.id,
                                     decision="accept", comment="", operator="Інший", decided_at=sub.received_at)
            start = time.perf_counter()
            status, _, _ = request(server, "GET", "/", headers=gzip, cookie=cookie)
            changed.append(time.perf_counter() - start)
            assert status == 200
        # ten clerks' «Огляд» reloading together after a change (as the open pages do): one computes, nine wait
        together: list[float] = []
        for k in range(max(3, requests // 10)):
            with Ledger(ws.ledger_path) as ledger:
                sub = subs[(requests + k) % len(subs)]
                ledger.record_review(executor=sub.executor, period=sub.period, submission_id=sub.id,
                                     decision="accept", comment="", operator="Інший", decided_at=sub.received_at)
            barrier = threading.Barrier(10)

            def view() -> None:
                barrier.wait()
                start = time.perf_counter()
                assert request(server, "GET", "/", headers=gzip, cookie=cookie)[0] == 200
                together.append(time.perf_counter() - start)

            threads = [threading.Thread(target=view) for _ in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
    finally:
        server.stop()
    return {"executors": len(rows), "page": page, "changed": changed, "together": together,
            "status_only": base, "floor": floor,
            "bytes": len(body), "gzip_bytes": len(zipped), "encoding": headers.get("content-encoding", "")}


def filled_returns(work: Path, count: int) -> list[Path]:
    from consolidate.filler import fill_workbook, plausible_values
    from consolidate.template import write_templates

    ws = init_workspace(work / "templates-ws")
    cat = ws.catalogue
    templates = write_templates(cat, ws.out / "templates", cat.default_period(), "bench")
    out = work / "returns"
    out.mkdir(exist_ok=True)
    return [fill_workbook(t.path, out / f"{k:02d} {t.path.name}", plausible_values(cat, t.executor, k))
            for k, t in zip(range(count), templates * (count // len(templates) + 1))]


def bench_uploads(work: Path, count: int) -> dict:
    from consolidate.inbox import run_intake

    files = filled_returns(work, count)
    # baseline: the CLI's intake of the same files in one call
    base_ws = init_workspace(work / "cli-ws")
    base_ws.catalogue
    start = time.perf_counter()
    outcomes = run_intake(base_ws, files)
    cli_seconds = time.perf_counter() - start
    assert len(outcomes) == count
    ws = init_workspace(work / "web-ws")
    server = Server(ws.root)
    try:
        sessions = [token_session(server) for _ in files]
        tokens = [csrf_of(server, c, "/intake") for c in sessions]
        barrier = threading.Barrier(count)
        results: list = [None] * count

        def one(k: int) -> None:
            data = files[k].read_bytes()
            barrier.wait()
            start = time.perf_counter()
            status, headers, _ = upload(server, sessions[k], tokens[k], [(files[k].name, data)])
            page_status, _, body = request(server, "GET", headers.get("location", "/"), cookie=sessions[k])
            results[k] = (time.perf_counter() - start, status, page_status, b'class="file"' in body)

        threads = [threading.Thread(target=one, args=(k,)) for k in range(count)]
        wall = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        wall = time.perf_counter() - wall
    finally:
        server.stop()
    bad = [r for r in results if r is None or r[1] != 303 or r[2] != 200 or not r[3]]
    assert not bad, f"uploads without a result: {bad}"
    with Ledger(ws.ledger_path) as ledger:
        assert len(ledger.files()) == count
    return {"uploads": [r[0] for r in results], "cli_intake": cli_seconds, "wall": wall}


def overview_figures(o: dict, ms) -> None:
    print(f"«Огляд», {o['executors']} виконавців ({o['bytes'] // 1024} КБ HTML, {o['gzip_bytes'] // 1024} КБ "
          f"{o['encoding'] or 'без стиснення'}), {len(o['page'])} запитів кожного виду:")
    print(f"  сторінка                  p50 {ms(statistics.median(o['page']))}, p95 {ms(percentile(o['page'], 95))}")
    print(f"  сторінка після зміни      p50 {ms(statistics.median(o['changed']))}, "
          f"p95 {ms(percentile(o['changed'], 95))}  (стан обчислено заново; ціль p95 < 300 ms)")
    print(f"  10 разом після зміни      p50 {ms(statistics.median(o['together']))}, "
          f"p95 {ms(percentile(o['together'], 95))}  (десять відкритих сторінок оновлюються одночасно)")
    print(f"  лише стан                 p50 {ms(statistics.median(o['status_only']))} (status_from_ledger + рішення розгляду в цьому процесі)")
    print(f"  дно сервера               p50 {ms(statistics.median(o['floor']))} (GET /static/style.css)")
    print(f"  після зміни / лише стан (медіани): "
          f"{statistics.median(o['changed']) / statistics.median(o['status_only']):.2f}")


def upload_figures(u: dict, count: int, ms) -> None:
    print(f"{count} одночасних завантажень (кожне — своя сесія):")
    print(f"  завантаження→результат p50 {ms(statistics.median(u['uploads']))}, p95 {ms(percentile(u['uploads'], 95))}, "
          f"найдовше {ms(max(u['uploads']))}  (ціль p95 < 2 s)")
    print(f"  усі разом {u['wall']:.2f} s; прийом тих самих файлів CLI одним викликом {u['cli_intake']:.2f} s "
          f"(відношення {u['wall'] / u['cli_intake']:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--executors", type=int, default=1500)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--only", choices=("overview", "uploads"), default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="consolidate-web-bench-"))
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    try:
        if args.only != "uploads":
            overview_figures(bench_overview(work, args.executors, args.requests), ms)
        if args.only != "overview":
            upload_figures(bench_uploads(work, args.uploads), args.uploads, ms)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
